"""The choice of a model: the Pareto set on test, the policy's pick, its refit.

The policy picks among the sweep's models on validation (or out-of-fold) scores; the
Pareto set and its bootstrap frequency are reported on test. The chosen setting is then
refitted on train + validation.
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from fairmtl.exceptions import FairMTLWarning, InfeasibleError
from fairmtl.frontier._pareto import pareto_mask, robust_pareto_frequency, select
from fairmtl.frontier._prepare import Rows
from fairmtl.frontier._records import Fitted
from fairmtl.metrics import METRICS

__all__ = ["Choice", "MSG_REFIT_EPSILON", "REFIT_EPSILON_MARGIN", "choose", "refit_best"]

#: relative margin above the smallest feasible bound when a refit's bound is infeasible
REFIT_EPSILON_MARGIN = 1e-4
MSG_REFIT_EPSILON = (
    "The chosen epsilon={old:.6g} is infeasible on train + validation; best_estimator_ is "
    "refitted with the smallest feasible bound, epsilon={new:.6g}."
)


class Choice(NamedTuple):
    """What :func:`choose` found (``FrontierSearch``'s attributes of the same names)."""

    pareto_mask: np.ndarray
    pareto_frequency: np.ndarray
    best_index: int
    most_accurate_index: int
    best_params: dict[str, Any]


def choose(fitted: list[Fitted], primary: str, policy, *, bootstrap: bool) -> Choice:
    """The Pareto set on test and the policy's choice among the sweep's models.

    Parameters
    ----------
    fitted : list of Fitted
        Every model, evaluated (``val`` may be None: the test scores stand in).
    primary : str
        The primary metric.
    policy : str or callable
        As :func:`fairmtl.frontier.select` takes it.
    bootstrap : bool
        Whether the test evaluations hold bootstrap replicates (else the Pareto
        frequencies are NaN).
    """
    greater = METRICS[primary].greater_is_better
    x, yk = f"overall_{primary}", f"worst_group_{primary}"
    test = np.array([[f.test.scores[x], f.test.scores[yk]] for f in fitted], dtype=float)
    mask = pareto_mask(test, maximize=greater)
    if bootstrap:
        boot = np.stack([_replicate_criteria(f, primary, greater) for f in fitted], axis=1)
        frequency = robust_pareto_frequency(boot, greater)
    else:
        frequency = np.full(len(fitted), np.nan)
    source = [f.val or f.test for f in fitted]
    table = pd.DataFrame(
        {"overall": [s.scores[x] for s in source], "worst": [s.scores[yk] for s in source]}
    )
    ours = [i for i, f in enumerate(fitted) if f.source == "fairmtl"]
    pick = select(policy, table.iloc[ours].reset_index(drop=True), greater_is_better=greater)
    best = ours[pick]
    overall = table["overall"].to_numpy()
    most_accurate = int(np.nanargmax(overall) if greater else np.nanargmin(overall))
    return Choice(mask, frequency, best, most_accurate, dict(fitted[best].setting))


def _replicate_criteria(f: Fitted, primary: str, greater: bool) -> np.ndarray:
    """Overall and worst-group primary metric of ``f`` on each test resample."""
    rep, over = f.test.replicates, f.test.worst_over
    overall = rep[("overall", primary)].to_numpy()
    groups = [
        c
        for c in rep.columns
        if c[1] == primary and c[0] != "overall" and (over is None or c[0] in over)
    ]
    per_group = rep[groups].to_numpy()
    with np.errstate(all="ignore"):
        worst = np.nanmin(per_group, axis=1) if greater else np.nanmax(per_group, axis=1)
    return np.column_stack([overall, worst])


def refit_best(
    template, params: dict[str, Any], rows: Rows, at: np.ndarray, preprocessor
) -> tuple[Any, dict[str, Any]]:
    """The chosen setting fitted on the rows ``at`` (train + validation) of ``rows``.

    A loss bound feasible on train may not be on train + validation; it is then
    raised to the smallest feasible bound, with a warning.

    Returns
    -------
    estimator : estimator or Pipeline
        A Pipeline (a clone of ``preprocessor``, the model) when there is one.
    params : dict
        The knob values fitted (``FrontierSearch.best_refit_params_``).
    """
    X, y, labels = rows.X, rows.y[at], rows.labels[at]
    Xr = X.iloc[at] if isinstance(X, pd.DataFrame) else np.asarray(X)[at]
    wr = None if rows.weights is None else rows.weights[at]
    params = dict(params)
    for attempt in range(2):
        best = clone(template).set_params(**params)
        try:
            if preprocessor is not None:
                pipe = Pipeline([("prep", clone(preprocessor)), ("model", best)])
                fitted = pipe.fit(Xr, y, model__groups=labels, model__sample_weight=wr)
            else:
                Xn = np.asarray(Xr, dtype=float)
                fitted = best.fit(Xn, y, groups=labels, sample_weight=wr)
        except InfeasibleError as e:
            bound = getattr(e, "min_feasible", None)
            if attempt or "epsilon" not in params or bound is None:
                raise
            eps = float(bound) + REFIT_EPSILON_MARGIN * max(1.0, abs(float(bound)))
            warnings.warn(
                MSG_REFIT_EPSILON.format(old=params["epsilon"], new=eps),
                FairMTLWarning,
                stacklevel=4,
            )
            params["epsilon"] = eps
            continue
        return fitted, params
    raise AssertionError("unreachable")  # pragma: no cover
