"""What FairMTLReduction's settings resolve to, checked against the wrapped estimator.

:class:`~fairmtl.estimators.FairMTLReduction` wraps any estimator whose ``fit`` takes
``sample_weight``. Before the rounds start, its parameters resolve here: whether the
estimator can be wrapped at all (:func:`check_takes_sample_weight`), the group loss
(:func:`resolve_loss`: ``log_loss``, ``zero_one`` or ``squared``, by the estimator's
kind), whether the oracle fits are warm-started (:func:`resolve_warm_start`), and the
level method's form of the group objective (:func:`master_form`, with ``bounded`` as an
exact penalty).
"""

from __future__ import annotations

import inspect

import numpy as np
from sklearn.base import is_classifier

from fairmtl.exceptions import DataValidationError
from fairmtl.objectives import make_objective
from fairmtl.solvers._master import DualForm

__all__ = [
    "MSG_LOSS_KIND",
    "MSG_NO_SAMPLE_WEIGHT",
    "MSG_WARM_START",
    "check_takes_sample_weight",
    "master_form",
    "resolve_loss",
    "resolve_warm_start",
]

MSG_NO_SAMPLE_WEIGHT = (
    "{name}.fit does not accept sample_weight; FairMTLReduction weights the groups through "
    "it. Wrap an estimator whose fit takes sample_weight (or use FairMTLClassifier)."
)
MSG_LOSS_KIND = "loss={loss!r} does not fit a {kind}: use {choices}."
MSG_WARM_START = (
    "warm_start=True needs an estimator whose warm_start parameter starts fit from the "
    "previous solution; {name} {why}. Use warm_start='auto' or False."
)
#: modules whose estimators' ``warm_start=True`` means "start from the previous solution"
#: (linear models, MLPs); in ensembles it means "add trees to the fitted ones" instead
_WARM_START_MODULES = ("sklearn.linear_model.", "sklearn.neural_network.")
_ENSEMBLE_MODULES = ("sklearn.ensemble.",)


def check_takes_sample_weight(estimator) -> None:
    """Raise a :class:`~fairmtl.exceptions.DataValidationError` unless ``estimator.fit``
    accepts ``sample_weight`` (the reduction weights the groups through it)."""
    if "sample_weight" not in inspect.signature(estimator.fit).parameters:
        raise DataValidationError(MSG_NO_SAMPLE_WEIGHT.format(name=type(estimator).__name__))


def resolve_warm_start(estimator, warm_start) -> bool:
    """Whether to warm-start the oracle fits.

    Parameters
    ----------
    estimator : estimator object
    warm_start : "auto" or bool
        FairMTLReduction's parameter.

    Returns
    -------
    warm : bool

    Raises
    ------
    ValueError
        ``warm_start=True`` for an estimator without a ``warm_start`` parameter, or for an
        ensemble (whose ``warm_start`` adds trees).
    """
    if warm_start is False:
        return False
    name = type(estimator).__name__
    module = type(estimator).__module__ + "."
    has_param = "warm_start" in estimator.get_params(deep=False)
    known = has_param and module.startswith(_WARM_START_MODULES)
    if warm_start == "auto":
        return known
    if not has_param:
        raise ValueError(MSG_WARM_START.format(name=name, why="has no warm_start"))
    if module.startswith(_ENSEMBLE_MODULES):
        why = "is an ensemble, whose warm_start adds trees"
        raise ValueError(MSG_WARM_START.format(name=name, why=why))
    return True


def resolve_loss(estimator, loss: str | None) -> str:
    """The group loss: ``loss``, checked against the estimator's kind, or its default.

    Parameters
    ----------
    estimator : estimator object
    loss : {"log_loss", "zero_one", "squared"} or None
        None: "log_loss" for a classifier with ``predict_proba``, "zero_one" for one
        without, "squared" for a regressor.

    Returns
    -------
    loss : str
    """
    classifier = is_classifier(estimator)
    if loss is None:
        if not classifier:
            return "squared"
        return "log_loss" if hasattr(estimator, "predict_proba") else "zero_one"
    ok = {"log_loss", "zero_one"} if classifier else {"squared"}
    if loss not in ok:
        kind = "classifier" if classifier else "regressor"
        raise ValueError(MSG_LOSS_KIND.format(loss=loss, kind=kind, choices=sorted(ok)))
    return loss


def master_form(
    objective: str, n_groups: int, shares: np.ndarray, *, epsilon, tilt
) -> tuple[DualForm, np.ndarray, bool]:
    """The level method's form of the objective, its starting weights, and whether the
    group weights are fixed (one oracle fit).

    Parameters
    ----------
    objective : str
    n_groups : int
    shares : ndarray of shape (n_groups,)
        Each group's share of the sample weight.
    epsilon : float or array-like or None
        Loss bounds of "bounded".
    tilt : float or None
        Temperature of "tilted".

    Returns
    -------
    form : DualForm
    start : ndarray of shape (n_groups,)
    fixed : bool
    """
    form = make_objective(objective).form(n_groups, shares, epsilon=epsilon, tilt=tilt)
    if form.kind != "bounded":
        return DualForm.of(form), form.start, form.kind == "fixed"
    # the bounds as an exact penalty: multipliers y >= 0 with sum(y) <= cap
    base, eps = form.weights, form.bounds
    cap = max(20.0, 1.0 / float(eps.min()))
    primal = lambda L, R: float(base @ L) + cap * max(0.0, float(np.max(L - eps)))  # noqa: E731
    ones = np.ones(n_groups)
    return DualForm(base, ones, -eps, False, primal, cap=cap, bounds=eps), form.start, False
