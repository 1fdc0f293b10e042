"""The path API: fit one estimator for many settings, preparing the data once.

"Compile once, solve many": :func:`fit_path` validates the data and builds the
:class:`~fairmtl.solvers.Problem` once, then solves it for each setting (a dict of
parameter values: ``{"epsilon": 0.4}``, ``{"tilt": 2.0}``, ...) and returns one fitted
estimator per setting, each the same as ``clone(estimator).set_params(**setting).fit(...)``
up to the solver's tolerance (a re-solve starts from the previous solver state). This is
how :class:`~fairmtl.frontier.FrontierSearch` fits its sweeps.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any, Literal

from sklearn.base import clone

from fairmtl.exceptions import InfeasibleError
from fairmtl.solvers import PROBLEM_PATHS

__all__ = ["PREDICT_ONLY_PARAMS", "fit_path"]

#: parameters that change predictions but not the fit: settings that differ only in
#: these share one solve (the returned estimators share its fitted arrays)
PREDICT_ONLY_PARAMS = frozenset({"threshold"})
#: parameters that decide the prepared data and the problem's structure: settings that
#: change one of them are prepared again
STRUCTURAL_PARAMS = ("sharing", "objective", "loss", "solver", "model", "group_column")
#: fitted attributes that preparing the data sets (validate_data, the class encoder)
_INPUT_ATTRS = ("classes_", "n_features_in_", "feature_names_in_")


def fit_path(
    estimator,
    settings: Sequence[dict[str, Any]],
    X,
    y,
    *,
    groups=None,
    sample_weight=None,
    errors: Literal["raise", "return"] = "raise",
    on_fit: Callable[[int], None] | None = None,
) -> list[Any]:
    """Fit ``estimator`` once per setting, preparing the data and the problem once.

    Parameters
    ----------
    estimator : FairMTLClassifier or FairMTLRegressor
        The template; it is not changed (each setting fits a clone).
    settings : sequence of dict
        Parameter values of each fit, e.g. ``[{"epsilon": 0.5}, {"epsilon": 0.6}]``.
        Knobs of the objective and the penalty (epsilon, tilt, preference, alpha,
        sharing_strength, adjustment, rate_tolerance) re-solve the one compiled
        problem; settings that change ``sharing``, ``objective``, ``loss``, ``solver``
        or ``model`` are prepared again. Settings that differ only in ``threshold``
        share one solve. An "auto" knob is settled by each fit's own cross-validation,
        as in ``fit``.
    X, y, groups, sample_weight
        As in the estimator's ``fit``.
    errors : {"raise", "return"}, default="raise"
        What an infeasible setting gives: its :class:`~fairmtl.exceptions.InfeasibleError`
        raised, or returned in its place in the list.
    on_fit : callable, default=None
        Called with 1 after each solve (a progress bar's ``advance``).

    Returns
    -------
    fitted : list
        One fitted estimator per setting, in order (or the InfeasibleError of an
        infeasible setting, with ``errors="return"``).

    Examples
    --------
    >>> from fairmtl import FairMTLClassifier
    >>> from fairmtl.datasets import make_hospitals
    >>> from fairmtl.estimators import fit_path
    >>> data = make_hospitals(3, n_samples=300, random_state=0)
    >>> clf = FairMTLClassifier(objective="bounded", alpha=1e-2, sharing_strength=1.0)
    >>> fits = fit_path(clf, [{"epsilon": 0.7}, {"epsilon": 0.8}],
    ...                 data.data, data.target, groups=data.groups)
    >>> [f.epsilon for f in fits]
    [0.7, 0.8]
    """
    if errors not in ("raise", "return"):
        raise ValueError(f"errors must be 'raise' or 'return'; got {errors!r}.")
    prepared: dict[tuple, tuple[Any, Any]] = {}
    solved: dict[str, Any] = {}
    out: list[Any] = []
    for setting in settings:
        fit_setting = {k: v for k, v in setting.items() if k not in PREDICT_ONLY_PARAMS}
        key = repr(sorted(fit_setting.items()))
        if key not in solved:
            est = clone(estimator).set_params(**fit_setting)
            est._validate_params()
            solved[key] = _solve_one(est, prepared, X, y, groups, sample_weight)
            if errors == "raise" and isinstance(solved[key], InfeasibleError):
                raise solved[key]
            if on_fit is not None:
                on_fit(1)
        out.append(_with_predict_params(solved[key], setting))
    return out


def _solve_one(est, prepared: dict, X, y, groups, sample_weight):
    """``est`` fitted on the prepared data of its structure (prepared on first use)."""
    structure = tuple(repr(est.get_params().get(name)) for name in STRUCTURAL_PARAMS)
    if structure not in prepared:
        base = clone(est)
        prepared[structure] = (base, base._prepare(X, y, groups, sample_weight))
    base, data = prepared[structure]
    path = None  # the neural path builds no problem
    if data.problem is not None:
        path = est._solver_path(data.X.shape, data.encoder.n_groups_, data.loss, data.n_outputs)
    if path and not isinstance(data.problem, PROBLEM_PATHS[path]):  # e.g. alpha=0, dual path
        if (structure, path) not in prepared:
            base = clone(est)
            prepared[structure, path] = (base, base._prepare(X, y, groups, sample_weight))
        base, data = prepared[structure, path]
    for attr in _INPUT_ATTRS:
        if hasattr(base, attr):
            setattr(est, attr, getattr(base, attr))
    try:
        return est._fit_prepared(data)
    except InfeasibleError as e:
        return e


def _with_predict_params(fit, setting: dict[str, Any]):
    """``fit``, or a shallow copy of it with the setting's predict-only parameters set.

    The copy shares the fitted arrays (read-only after fit); only its parameters differ.
    """
    if isinstance(fit, InfeasibleError):
        return fit
    params = {k: v for k, v in setting.items() if k in PREDICT_ONLY_PARAMS}
    if not params:
        return fit
    out = copy.copy(fit).set_params(**params)
    out._validate_params()
    return out
