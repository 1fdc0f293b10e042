"""FairMTLReduction: the dual path's master around any estimator that takes sample_weight.

The estimator itself: its parameters, :meth:`~FairMTLReduction.fit` as the level method's
rounds (master in cvxpy, oracle fits of the wrapped estimator) and the fitted ensemble's
predictions. What its settings resolve to lives in
:mod:`fairmtl.estimators._reduction_settings`; the oracle, which fits the members and
gives the group losses of them and their mixtures, in
:mod:`fairmtl.estimators._reduction_oracle`.
"""

from __future__ import annotations

import numbers
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, MetaEstimatorMixin, is_classifier
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils import check_random_state, get_tags
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import _check_sample_weight, check_consistent_length, check_is_fitted

from fairmtl._solver_info import solver_record
from fairmtl.data import GroupEncoder
from fairmtl.estimators._input import split_group_columns
from fairmtl.estimators._reduction_oracle import ReductionOracle, mixture
from fairmtl.estimators._reduction_settings import (
    check_takes_sample_weight,
    master_form,
    resolve_loss,
    resolve_warm_start,
)
from fairmtl.exceptions import SolverInaccurateWarning
from fairmtl.solvers._master import DualForm, LevelMaster, run_level
from fairmtl.solvers._status import INACCURATE

__all__ = ["FairMTLReduction"]

MSG_NOT_CONVERGED = (
    "FairMTLReduction stopped {why} with the master's (uncertified) gap at {gap:.3g} "
    "({relative:.2g} relative, tol={tol:g}): the ensemble may be off the optimum. "
    "Raise max_rounds, or tol."
)
_STOP_WHY = {
    "rounds": "after max_rounds={max_rounds} oracle fits",
    "master": "because its master problem (cvxpy) failed to solve",
    "time": "at its time limit",
}


class FairMTLReduction(MetaEstimatorMixin, BaseEstimator):
    """Minimax, tilted or loss-bounded group fairness around any weighted estimator.

    The group objective is solved through its dual, as on fairmtl's dual path: a master
    problem in cvxpy (a level method over one weight per group, compiled once) proposes
    group weights; the oracle is ``estimator`` fitted with those weights as
    ``sample_weight``; each fit's per-group training losses become a cut of the master.
    This is fairlearn's reduction approach with a cutting-plane master instead of
    exponentiated gradient, so it needs far fewer fits.

    The result is an **ensemble over the rounds** with the weights ``weights_`` that the
    master's primal recovery gives. Which ensemble depends on the loss:

    - ``loss="log_loss"`` or ``"squared"``: the **averaged** ensemble (predicted
      probabilities or values averaged with ``weights_``). These losses are convex in the
      prediction, so each group's loss of the average is at most the weighted mean of the
      members' losses, the quantity the master optimises: the guarantee carries over to a
      deterministic model.
    - ``loss="zero_one"``: the **randomised** ensemble (each prediction drawn from one
      member with probability ``weights_``), as fairlearn's reductions do. Error rates are
      not convex in the prediction, so only the randomised classifier's *expected* group
      error equals the master's value.

    The oracle is not known to minimise the weighted loss (it may be non-convex, or a
    heuristic), so no lower bound is proven: ``solver_info_["gap"]`` is None and the
    status is ``"inaccurate"``; ``solver_info_["model_gap"]`` is the master's own
    (uncertified) estimate. When the rounds stop before that estimate is within ``tol``
    (at ``max_rounds``, or because the master's cvxpy program failed), a
    :class:`~fairmtl.exceptions.SolverInaccurateWarning` says so. For certified linear
    models use ``FairMTLClassifier`` or ``FairMTLRegressor`` with ``solver="dual"``.

    Parameters
    ----------
    estimator : estimator object
        A scikit-learn classifier or regressor whose ``fit`` accepts ``sample_weight``.
    objective : {"minimax", "tilted", "bounded", "balanced", "average"}, default="minimax"
        "bounded" minimises the average loss subject to ``L_g <= epsilon`` (as an exact
        penalty with multipliers capped at ``max(20, 1 / min(epsilon))``; the largest
        violation is reported in ``solver_info_``).
    epsilon : float or array-like of shape (n_groups,), default=None
        Loss bound of "bounded".
    tilt : float, default=None
        Temperature of "tilted" (> 0).
    loss : {"log_loss", "zero_one", "squared"}, default=None
        Group loss. None: "log_loss" for a classifier with ``predict_proba``, "zero_one"
        for one without, "squared" for a regressor.
    max_rounds : int, default=30
        Most oracle fits.
    tol : float, default=1e-3
        Relative (uncertified) gap at which the rounds stop.
    group_column : str or list of str, default=None
        Take the groups from these columns of a DataFrame X (they are then not features).
    random_state : int, RandomState instance or None, default=None
        Draws of the randomised ensemble's :meth:`predict`.
    warm_start : "auto" or bool, default="auto"
        Start each oracle fit from the previous member's solution (a copy of it, refitted
        with ``warm_start=True``; the members stay independent models) instead of from
        scratch. Successive group weights are close, so the fits take fewer iterations.
        "auto": on for scikit-learn's linear models and MLPs, whose ``warm_start`` means
        exactly that, off for every other estimator (in ensembles ``warm_start`` adds
        trees instead). True: also for another estimator with a ``warm_start``
        parameter of that meaning; an error for ensembles and estimators without one.

    Attributes
    ----------
    estimators_ : list of estimators
        The members with positive weight.
    weights_ : ndarray of shape (n_members,)
        Their weights (sum to 1).
    ensemble_ : {"averaged", "randomized"}
    loss_ : str
    groups_ : ndarray of shape (n_groups,)
    group_losses_ : Series
        Training loss per group of the ensemble (expected loss when randomised).
    solver_info_ : dict
        The solver record (:class:`fairmtl.solvers.SolverInfo`): status, rounds, fits,
        time, objective, gap (None), model_gap, converged, dual_weights, max_violation
        (bounded), warm_start (whether the fits were warm-started), stopped (why the
        rounds ended: "converged", "stop" (the master repeated itself), "rounds" or
        "master").
    classes_ : ndarray of shape (n_classes,)
        Classifiers only.

    See Also
    --------
    fairmtl.FairMTLClassifier : Certified linear models (``solver="dual"`` for large data).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from fairmtl.estimators import FairMTLReduction
    >>> from fairmtl.datasets import make_hospitals
    >>> data = make_hospitals(4, n_samples=800, random_state=0)
    >>> model = FairMTLReduction(LogisticRegression(), max_rounds=8, tol=1e-2).fit(
    ...     data.data, data.target, groups=data.groups)
    >>> model.ensemble_, model.solver_info_["gap"] is None
    ('averaged', True)
    """

    _parameter_constraints: dict[str, list[Any]] = {
        "estimator": [HasMethods(["fit", "predict"])],
        "objective": [StrOptions({"minimax", "tilted", "bounded", "balanced", "average"})],
        "epsilon": [Interval(numbers.Real, 0, None, closed="neither"), "array-like", None],
        "tilt": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "loss": [StrOptions({"log_loss", "zero_one", "squared"}), None],
        "max_rounds": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="neither")],
        "group_column": [str, list, None],
        "random_state": ["random_state"],
        "warm_start": [StrOptions({"auto"}), "boolean"],
    }

    def __init__(
        self,
        estimator,
        *,
        objective="minimax",
        epsilon=None,
        tilt=None,
        loss=None,
        max_rounds=30,
        tol=1e-3,
        group_column=None,
        random_state=None,
        warm_start="auto",
    ):
        self.estimator = estimator
        self.objective = objective
        self.epsilon = epsilon
        self.tilt = tilt
        self.loss = loss
        self.max_rounds = max_rounds
        self.tol = tol
        self.group_column = group_column
        self.random_state = random_state
        self.warm_start = warm_start

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.estimator_type = inner.estimator_type
        tags.classifier_tags, tags.regressor_tags = inner.classifier_tags, inner.regressor_tags
        return tags

    # -- fit -------------------------------------------------------------------------
    def fit(self, X, y, *, groups=None, sample_weight=None):
        """Fit the ensemble.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Passed to the estimator as given.
        y : array-like of shape (n_samples,)
        groups : array-like of shape (n_samples,) or (n_samples, n_columns), default=None
            Group of each row (several columns form intersections).
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        self._validate_params()
        start = time.perf_counter()
        X, groups = split_group_columns(X, groups, self.group_column)
        y = np.asarray(y)
        check_consistent_length(X, y)
        check_takes_sample_weight(self.estimator)
        weight = _check_sample_weight(sample_weight, np.empty((len(y), 0)), dtype=np.float64)
        self._setup(X, y, groups, weight)
        form, y0, fixed = master_form(
            self.objective, self.n_groups_, self._shares, epsilon=self.epsilon, tilt=self.tilt
        )
        oracle = ReductionOracle(
            self.estimator,
            X,
            y,
            loss=self.loss_,
            tasks=self._tasks,
            row_weights=self._rw,
            n_groups=self.n_groups_,
            y_index=self._y_index if is_classifier(self.estimator) else None,
            warm=self._warm,
        )
        master = LevelMaster(self.n_groups_, form.simplex, form.inv_tilt > 0, 60, mixture)
        result = run_level(
            master,
            form,
            lambda w, target: oracle.fit(w),
            oracle.evaluate,
            y0,
            tol=self.tol,
            max_rounds=1 if fixed else self.max_rounds,
            certified=False,
            stop=lambda lower, upper: oracle.repeated,
        )
        self._store(result, master, form, oracle, start)
        if not fixed and result.stopped in _STOP_WHY:
            gap = float(result.upper - result.lower)
            why = _STOP_WHY[result.stopped].format(max_rounds=self.max_rounds)
            relative = gap / max(abs(float(result.upper)), 1e-300)
            message = MSG_NOT_CONVERGED.format(why=why, gap=gap, relative=relative, tol=self.tol)
            warnings.warn(message, SolverInaccurateWarning, stacklevel=2)
        return self

    def _setup(self, X, y, groups, weight) -> None:
        self.loss_ = resolve_loss(self.estimator, self.loss)
        self._warm = resolve_warm_start(self.estimator, self.warm_start)
        self.ensemble_ = "randomized" if self.loss_ == "zero_one" else "averaged"
        encoder = GroupEncoder(unseen="shared")
        if groups is None:
            groups = np.full(len(y), "all", dtype=object)
        self._tasks = encoder.fit_transform(groups)
        check_consistent_length(self._tasks, y)
        self.groups_ = np.asarray(encoder.labels_, dtype=object)
        self.n_groups_ = encoder.n_groups_
        group_weight = np.bincount(self._tasks, weights=weight, minlength=self.n_groups_)
        self._rw = weight / np.where(group_weight > 0, group_weight, 1.0)[self._tasks]
        self._shares = group_weight / group_weight.sum()
        if is_classifier(self.estimator):
            self.classes_, self._y_index = np.unique(y, return_inverse=True)

    def _store(self, result, master, form: DualForm, oracle: ReductionOracle, start: float) -> None:
        point = result.point
        members = sorted(point)
        self.estimators_ = [oracle.members[k] for k in members]
        w = np.array([point[k] for k in members])
        self.weights_ = w / w.sum()
        self.group_losses_ = pd.Series(
            result.losses, index=pd.Index(self.groups_, name="group"), name="loss"
        )
        info = solver_record(
            status=INACCURATE,
            solver=f"reduction[{type(self.estimator).__name__} oracle, level master]",
            path="reduction",
            time=time.perf_counter() - start,
            gap=None,
            certified=False,
            relative_gap=None,
            lower_bound=None,
            upper_bound=result.upper,
            objective=result.upper,
            model_gap=float(result.upper - result.lower),
            converged=result.converged,
            stopped=result.stopped,
            rounds=result.rounds,
            iterations=result.rounds,
            fits=len(oracle.members),
            master_solves=master.solves,
            dual_weights=np.asarray(result.weights).tolist(),
            warm_start=self._warm,
        )
        if form.bounds is not None:
            info["max_violation"] = float(np.max(result.losses - form.bounds))
        self.solver_info_ = info

    # -- predict -----------------------------------------------------------------------
    def _has_proba(self) -> bool:
        return is_classifier(self.estimator) and (
            self._resolved_ensemble() == "randomized" or hasattr(self.estimator, "predict_proba")
        )

    def _resolved_ensemble(self) -> str:
        return getattr(self, "ensemble_", "randomized" if self.loss == "zero_one" else "averaged")

    @available_if(_has_proba)
    def predict_proba(self, X):
        """Class probabilities: the weighted mean of the members' (averaged), or the
        probability that the randomised ensemble predicts each class (randomised).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self, "estimators_")
        out = np.zeros((_n_rows(X), len(self.classes_)))
        for w, member in zip(self.weights_, self.estimators_, strict=True):
            if self.ensemble_ == "averaged":
                out += w * member.predict_proba(X)
            else:
                out[np.arange(len(out)), np.searchsorted(self.classes_, member.predict(X))] += w
        return out

    def predict(self, X):
        """Predictions of the ensemble (a random member per row when randomised).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "estimators_")
        if self.ensemble_ == "randomized":
            rng = check_random_state(self.random_state)
            pick = rng.choice(len(self.estimators_), size=_n_rows(X), p=self.weights_)
            preds = np.stack([m.predict(X) for m in self.estimators_])
            return preds[pick, np.arange(preds.shape[1])]
        if is_classifier(self.estimator):
            return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
        return sum(w * m.predict(X) for w, m in zip(self.weights_, self.estimators_, strict=True))

    def score(self, X, y, sample_weight=None):
        """Accuracy (classifier) or R^2 (regressor) of :meth:`predict`."""
        metric = accuracy_score if is_classifier(self.estimator) else r2_score
        return metric(y, self.predict(X), sample_weight=sample_weight)


def _n_rows(X) -> int:
    return X.shape[0] if hasattr(X, "shape") else len(X)
