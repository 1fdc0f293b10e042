"""The settings a search fits: the estimator's "auto" knobs settled once, then the sweep.

The sweep is the user's, or the objective's natural knobs (:data:`DEFAULT_SWEEP`); each
"auto" knob gets its values here, epsilon from fits (:mod:`._epsilon_range`), one range
per sharing strength when several are swept.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import clone

from fairmtl.exceptions import DataValidationError
from fairmtl.frontier._epsilon_range import auto_epsilon
from fairmtl.frontier._records import SplitData
from fairmtl.frontier._sweep import expand_sweep, log_grid, preference_points, threshold_grid

__all__ = ["DEFAULT_SWEEP", "MSG_THRESHOLD_SWEEP", "settle_auto", "sweep_settings"]

#: the knobs swept by default for each objective (others: sharing_strength). The rate
#: objectives also sweep the decision threshold (logistic loss only): with small groups
#: their rate gaps on new data shrink far more with it than with epsilon alone.
DEFAULT_SWEEP: dict[str, tuple[str, ...]] = {
    "bounded": ("epsilon",),
    "demographic_parity": ("epsilon", "threshold"),
    "equal_opportunity": ("epsilon", "threshold"),
    "equalized_odds": ("epsilon", "threshold"),
    "tilted": ("tilt",),
    "chebyshev": ("preference",),
}
MSG_THRESHOLD_SWEEP = (
    "Cannot sweep 'threshold': it is a cut-off on the positive class's probability, for "
    "a classifier with two classes and loss='logistic'; this search has {what}. Sweep "
    "another knob, e.g. epsilon."
)


def settle_auto(template, train: SplitData) -> tuple[Any, dict[str, Any]]:
    """The template with numbers for its "auto" knobs, chosen by cross-validation.

    ``alpha`` and ``sharing_strength`` are settled once, on the training split, by the
    estimator's own cross-validation on the average loss; every fit of the sweep uses
    them unless the sweep varies them. An "auto" adjustment is 0 (the sweep's own knob
    bounds the training losses; sweep "adjustment" to vary it).

    Returns
    -------
    template : estimator
        ``template`` itself, its knobs set.
    tuned : dict
        The values settled by cross-validation (``FrontierSearch.tuned_params_``).
    """
    params = template.get_params()
    if params.get("adjustment") == "auto":
        template.set_params(adjustment=0.0)
    if "auto" not in (params.get("alpha"), params.get("sharing_strength")):
        return template, {}
    if params.get("model") == "mlp":  # deprecated neural spelling: not tuned there
        from fairmtl.estimators._linear import MLP_AUTO_STRENGTH
        from fairmtl.estimators._tuning import START_ALPHA

        numbers = {"alpha": START_ALPHA, "sharing_strength": MLP_AUTO_STRENGTH}
        template.set_params(**{k: v for k, v in numbers.items() if params[k] == "auto"})
        return template, {}
    plain = {"objective": "average", "epsilon": None}
    if "rate_tolerance" in params:
        plain["rate_tolerance"] = None
    tuned = (
        clone(template)
        .set_params(**plain)
        .fit(train.X, train.y, groups=train.groups, sample_weight=train.weights)
    )
    values = {
        k: getattr(tuned, k + "_") for k in ("alpha", "sharing_strength") if params[k] == "auto"
    }
    return template.set_params(**values), values


def _default_sweep(template) -> dict[str, Any]:
    """The objective's natural knobs, all "auto" (offset sharing: at three strengths)."""
    knobs = DEFAULT_SWEEP.get(template.objective, ("sharing_strength",))
    if template.loss != "logistic":
        knobs = tuple(k for k in knobs if k != "threshold")
    sweep: dict[str, Any] = {knob: "auto" for knob in knobs}
    if getattr(template, "sharing", None) == "offset" and "sharing_strength" not in sweep:
        # the fairness knob at three couplings around the cross-validated one
        s = float(template.sharing_strength)
        sweep["sharing_strength"] = [s / 10, s, s * 10] if s > 0 else [0.0, 0.01, 0.1]
    return sweep


def sweep_settings(
    template,
    sweep: dict[str, Any] | None,
    train: SplitData,
    *,
    n_points: int,
    task: str,
    classes: np.ndarray | None,
    random_state,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The sweep run and its settings, each "auto" knob resolved on the training rows.

    Parameters
    ----------
    template : FairMTLClassifier or FairMTLRegressor
        The estimator, its own "auto" knobs settled (:func:`settle_auto`).
    sweep : dict or None
        ``FrontierSearch.sweep`` (None: the objective's default knobs).
    train : SplitData
        The training rows.
    n_points, random_state
        As in :class:`~fairmtl.frontier.FrontierSearch`.
    task : {"classification", "regression"}
    classes : ndarray or None
        The training split's class labels.

    Returns
    -------
    sweep : dict
        The sweep run (``FrontierSearch.sweep_``).
    settings : list of dict
        The knob values of every setting, in order.
    """
    run = dict(_default_sweep(template) if sweep is None else sweep)
    n_fair = n_points
    if sweep is None and isinstance(run.get("sharing_strength"), list):
        n_fair = max(2, -(-n_points // 3))  # about n_points fits in all

    def auto(knob: str, n: int) -> list[Any]:
        if knob == "epsilon":
            return auto_epsilon(template, train.X, train.y, train.groups, train.weights, n)
        if knob == "tilt":
            return log_grid(0.1, 100.0, n)
        if knob == "preference":
            n_groups = len(np.unique(train.groups))
            return [p.tolist() for p in preference_points(n_groups, n, random_state)]
        if knob == "alpha":
            return log_grid(1e-5, 1e-1, n)
        if knob == "adjustment":
            return [float(v) for v in np.linspace(0.0, 4.0, n)]
        if knob == "rate_tolerance":
            return [None, 0.0]
        if knob == "threshold":
            positive = train.y == classes[1]
            share = np.average(positive, weights=train.weights)
            return threshold_grid(n, positive_is_minority=bool(share < 0.5))
        return log_grid(1e-3, 1e2, n)

    if "threshold" in run:
        _check_threshold_sweep(template, task, classes)
    strengths = run.get("sharing_strength")
    if run.get("epsilon") == "auto" and isinstance(strengths, list) and len(strengths) > 1:
        # each coupling gets its own epsilon range, minimax to average at that coupling:
        # a flexible model's worst group is already below a stiffer one's minimax loss,
        # where one range for all binds nothing
        rest = {k: v for k, v in run.items() if k not in ("epsilon", "sharing_strength")}
        others = expand_sweep(rest, n_fair, auto)  # the other knobs: the same at each
        settings = []
        for strength in strengths:
            at = clone(template).set_params(sharing_strength=strength)
            epsilons = auto_epsilon(
                at, train.X, train.y, train.groups, train.weights, n_fair, pooled=False
            )
            settings += [
                {"epsilon": e, "sharing_strength": strength, **other}
                for other in others
                for e in epsilons
            ]
        return run, settings
    return run, expand_sweep(run, n_fair, auto)


def _check_threshold_sweep(template, task: str, classes: np.ndarray | None) -> None:
    if task == "regression":
        what = "a regressor"
    elif len(classes) != 2:
        what = f"{len(classes)} classes"
    elif template.loss != "logistic":
        what = f"loss={template.loss!r}"
    else:
        return
    raise DataValidationError(MSG_THRESHOLD_SWEEP.format(what=what))
