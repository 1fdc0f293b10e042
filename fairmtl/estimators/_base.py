"""What the classifier and the regressor share: fit = prepare -> solve -> store."""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from fairmtl.data import UNSEEN, GroupEncoder, check_groups_length, group_labels
from fairmtl.distributed._detect import is_cluster_input
from fairmtl.estimators._input import (
    MSG_GROUPS_REQUIRED,
    check_feature_frame,
    split_group_columns,
    warn_huge_features,
    warn_one_class_groups,
)
from fairmtl.estimators._tuning import (
    START_ALPHA,
    Tuned,
    adjustment_vector,
    solver_strength,
    tune,
)
from fairmtl.exceptions import DataValidationError, UnseenGroupError
from fairmtl.losses import Loss
from fairmtl.models import SHARING_SCHEMES
from fairmtl.objectives import ALL_OBJECTIVES, make_objective, objective_class
from fairmtl.solvers import (
    SOLVER_NAMES,
    ExactProblem,
    FitResult,
    Problem,
    dual_unsupported,
    group_outputs,
    make_problem,
    one_blas_thread,
)
from fairmtl.solvers._refine import MAX_PARAMS_STAGE1, smooth_refinable

__all__ = ["FairMTLBase", "Prepared"]

MSG_ZERO_WEIGHT_GROUP = (
    "Group {group!r} has a total sample weight of 0: its loss is undefined. Give its rows "
    "positive weights or drop the group."
)
MSG_NEGATIVE_WEIGHT = (
    "sample_weight has {count} negative value(s) (first at row {row}: {value!r}); every "
    "group loss is a weighted mean, so weights must be >= 0. Pass non-negative weights."
)
MSG_PARETO_LINEAR = (
    "objective='pareto' (MGDA's min-norm direction) is a training rule of the neural path; "
    "use model='mlp', or 'minimax'/'chebyshev' for the exact linear path."
)
MSG_UNSEEN_INDEPENDENT = (
    "Group(s) {names} were not seen in fit and sharing='independent' has no shared part "
    "to predict them with. Refit with sharing='offset' or 'shared', or drop those rows."
)
MSG_AUTO_UNRESOLVED = (
    "{name}='auto' is settled by cross-validation in fit; this estimator was not fitted. "
    "Call fit first, or pass {name} as a number."
)
#: sharing_strength of the neural path's offset heads when "auto" (not tuned there)
MLP_AUTO_STRENGTH = 1.0
#: solver="auto" uses the dual path from this many rows x features x groups (when it can)
DUAL_AUTO_SIZE = 5_000_000
#: objectives the exact path solves by SQP (fairmtl.solvers._refine) on small problems
SQP_OBJECTIVES = frozenset({"average", "balanced", "minimax", "chebyshev", "bounded", "no_harm"})
#: on large data too, solver="auto" takes the exact path's SQP for these objectives where
#: the model is small (``MAX_PARAMS_STAGE1``) and the rows are few features wide
#: (``SQP_LARGE_FEATURES``; its Hessians cost rows x features squared a pass) and hold at
#: most ``SQP_LARGE_ENTRIES`` values (it keeps about three copies of the rows): the dual
#: path's level method needs tens to hundreds of weighted fits for them, the SQP tens of
#: passes over the rows. Measured on simulated hospitals, minimax: 100,000 rows x 30
#: hospitals 0.9 s against 7.5 s (shared), 0.8 s against 11.8 s (offset); 1,000,000 rows
#: 7.1 s against 86 s (shared); chebyshev and bounded 1.7x-7x faster. The weighted
#: objectives stay on the dual path (one certified fit: 0.17 s against 0.64 s), and so do
#: wide rows (Adult's 101 features: 0.59 s against 1.14 s)
SQP_LARGE_OBJECTIVES = frozenset({"minimax", "chebyshev", "bounded"})
SQP_LARGE_FEATURES = 32
SQP_LARGE_ENTRIES = 50_000_000


@dataclass
class Prepared:
    """Validated training data and the compiled problem, reusable across knob values
    (:func:`fairmtl.estimators.fit_path` solves it once per setting)."""

    X: np.ndarray
    y: np.ndarray
    tasks: np.ndarray
    sample_weight: np.ndarray
    encoder: GroupEncoder
    loss: Loss
    n_outputs: int
    task: str
    problem: Problem
    #: each group's total sample weight, when the rows are not here (a distributed fit)
    group_weight: np.ndarray | None = None


class FairMTLBase(BaseEstimator):
    """Shared machinery of :class:`FairMTLClassifier` and :class:`FairMTLRegressor`."""

    _parameter_constraints: dict[str, list[Any]] = {
        "sharing": [StrOptions(set(SHARING_SCHEMES))],
        "objective": [StrOptions(set(ALL_OBJECTIVES))],
        "loss": [str],
        "epsilon": [Interval(numbers.Real, 0, None, closed="left"), "array-like", None],
        "tilt": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "preference": ["array-like", Interval(numbers.Real, 0, None, closed="neither"), None],
        "sharing_strength": [Interval(numbers.Real, 0, None, closed="left"), StrOptions({"auto"})],
        "alpha": [Interval(numbers.Real, 0, None, closed="left"), StrOptions({"auto"})],
        "adjustment": [Interval(numbers.Real, 0, None, closed="left"), StrOptions({"auto"})],
        "cv": [Interval(numbers.Integral, 2, None, closed="left"), "cv_object"],
        "reference": [StrOptions({"pooled", "independent"})],
        "solver": [StrOptions({"auto", "dual", *SOLVER_NAMES})],
        "group_column": [str, list, None],
        "max_time": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "random_state": ["random_state"],
        # the neural path (model="mlp"); see fairmtl.neural
        "model": [StrOptions({"linear", "mlp"})],
        "hidden_layer_sizes": ["array-like", Interval(numbers.Integral, 1, None, closed="left")],
        "heads": [StrOptions({"auto", "shared", "per_group", "offset"})],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "early_stopping": [
            "boolean",
            StrOptions({"worst_group_loss", "balanced_loss", "average_loss"}),
            callable,
        ],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "direction": [StrOptions({"auto", "weights", "group_dro", "cvxpy", "min_norm"})],
        "categorical_features": ["array-like", None],
        "device": [str],
        "verbose": ["verbose"],
    }

    def _validate_params(self):
        super()._validate_params()
        if self.model == "linear" and self.objective == "pareto":
            raise ValueError(MSG_PARETO_LINEAR)

    # -- subclasses provide ------------------------------------------------------------
    def _encode_target(self, y: np.ndarray) -> tuple[np.ndarray, Loss, int, str]:
        raise NotImplementedError

    # -- fit -----------------------------------------------------------------------------
    def fit(self, X, y=None, *, groups=None, sample_weight=None):
        """Fit the group models under the chosen sharing and objective.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric features; with ``group_column`` a DataFrame that also holds the
            group column(s). A dask DataFrame or Array (with dask ``y`` and ``groups``),
            or a :class:`fairmtl.distributed.DaskGroupData`, fits on a Dask cluster
            (see :mod:`fairmtl.distributed`).
        y : array-like of shape (n_samples,)
            Target (None only with a ``DaskGroupData``, which holds it).
        groups : array-like of shape (n_samples,) or (n_samples, n_columns), default=None
            Group of each row (several columns form intersections). None: one group.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-row weights; every group loss is a weighted mean.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        self._validate_params()
        if is_cluster_input(X):  # rows on a Dask cluster: fairmtl.distributed
            from fairmtl.distributed._estimator import fit_distributed

            return fit_distributed(self, X, y, groups, sample_weight)
        prepared = self._prepare(X, y, groups, sample_weight)
        return self._fit_prepared(prepared)

    def _fit_prepared(self, prepared: Prepared):
        """Fit on prepared data (validated parameters): the neural path, or settle the
        "auto" knobs, solve ``prepared.problem`` and store the result."""
        if self.model == "mlp":
            return self._fit_neural(prepared)
        self._check_objective(prepared)
        # one BLAS thread for all the solves of the fit, set once: set and reset around
        # each of the cross-validation's small solves, it made a fit that follows another
        # library's multi-threaded work 30% slower (the pool's threads woken each time)
        with one_blas_thread():
            self._set_tuned(tune(self, prepared))
            result = self._solve(prepared)
        return self._store(prepared, result)

    def _check_objective(self, prepared: Prepared) -> None:
        """Check the objective's task and knobs before any fit (the cross-validation's,
        the ideal point's, the reference's): a bad knob is refused at once."""
        objective = make_objective(self.objective)
        objective.check_task(prepared.task)
        adjustment = 0.0 if self.adjustment == "auto" else float(self.adjustment)
        knobs = self._objective_knobs(_group_weight(prepared), adjustment)
        objective.check_knobs(prepared.encoder.n_groups_, **knobs)

    def _set_tuned(self, tuned: Tuned) -> None:
        """Store the values the fit uses for the "auto" knobs, and their scores."""
        self.alpha_ = tuned.alpha
        self.sharing_strength_ = tuned.sharing_strength
        self.adjustment_ = tuned.adjustment
        self.cv_results_ = tuned.cv_results or None
        self.best_index_ = tuned.best_index if tuned.cv_results else None

    def _fit_neural(self, prepared: Prepared):
        """Train the network (fairmtl.neural) and store it as plain arrays."""
        from fairmtl.neural._config import config_from_params
        from fairmtl.neural._training import fit_network

        params = self.get_params()
        if params["sharing_strength"] == "auto":
            params["sharing_strength"] = MLP_AUTO_STRENGTH
        config = config_from_params(
            params,
            feature_names=getattr(self, "feature_names_in_", None),
            group_names=prepared.encoder.labels_,
        )
        fit = fit_network(
            prepared.X,
            prepared.y,
            prepared.tasks,
            prepared.sample_weight,
            prepared.encoder.n_groups_,
            loss_name=prepared.loss.name,
            n_outputs=prepared.n_outputs,
            config=config,
        )
        enc = self._encoder = prepared.encoder
        self.groups_ = np.asarray(enc.labels_, dtype=object)
        self.group_sizes_, self.n_groups_ = enc.sizes_.copy(), enc.n_groups_
        self.has_shared_part_ = self.sharing != "independent"
        self.network_spec_, self.network_state_ = fit.spec, fit.state
        self.history_ = pd.DataFrame(fit.history)
        self.n_iter_ = fit.solver_info["n_epochs"]
        self.group_losses_ = pd.Series(
            fit.group_losses, index=pd.Index(self.groups_, name="group"), name="loss"
        )
        self.solver_info_ = fit.solver_info
        return self

    def _prepare(self, X, y, groups, sample_weight) -> Prepared:
        X, groups = split_group_columns(X, groups, self.group_column)
        check_feature_frame(X)
        X, y = validate_data(self, X, y, dtype=self._fit_dtype(), y_numeric=self._y_numeric)
        warn_huge_features(X, getattr(self, "feature_names_in_", None))
        sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
        negative = np.flatnonzero(sample_weight < 0)
        if negative.size:
            row = int(negative[0])
            raise DataValidationError(
                MSG_NEGATIVE_WEIGHT.format(
                    count=negative.size, row=row, value=float(sample_weight[row])
                )
            )
        encoder = GroupEncoder(unseen="error" if self.sharing == "independent" else "shared")
        if groups is None:
            groups = np.full(X.shape[0], "all", dtype=object)
        check_groups_length(groups, X.shape[0])
        tasks = encoder.fit_transform(groups)
        group_weight = np.bincount(tasks, weights=sample_weight, minlength=encoder.n_groups_)
        if np.any(group_weight <= 0):
            bad = encoder.labels_[np.flatnonzero(group_weight <= 0)[0]]
            raise DataValidationError(MSG_ZERO_WEIGHT_GROUP.format(group=bad))
        y_enc, loss, n_outputs, task = self._encode_target(y)
        if task != "regression" and getattr(self, "model", "linear") == "linear":
            strength = 1.0 if self.sharing_strength == "auto" else self.sharing_strength
            warn_one_class_groups(
                y_enc,
                tasks,
                encoder.labels_,
                self.sharing,
                strength,
                getattr(self, "classes_", None),
            )
        path = self._solver_path(X.shape, encoder.n_groups_, loss, n_outputs)
        if path == "exact":
            X = X.astype(np.float64, copy=False)  # the exact path solves in float64
        problem = make_problem(
            path,
            X,
            y_enc,
            tasks,
            sample_weight,
            encoder.n_groups_,
            loss=loss,
            sharing=self.sharing,
            objective=self.objective,
            n_outputs=n_outputs,
            task=task,
            group_names=encoder.labels_,
        )
        return Prepared(X, y_enc, tasks, sample_weight, encoder, loss, n_outputs, task, problem)

    def _fit_dtype(self):
        """float64, or float32 kept as given where the dual path may hold it (half the
        memory; see fairmtl.solvers._oracle): scikit-learn's convention of the user's dtype."""
        if getattr(self, "model", "linear") == "linear" and self.solver in ("auto", "dual"):
            return [np.float64, np.float32]
        return np.float64

    def _solver_path(self, shape, n_groups: int, loss: Loss, n_outputs: int) -> str:
        """ "exact", or "dual" (by name, or for large problems it can solve)."""
        alpha = START_ALPHA if self.alpha == "auto" else self.alpha
        why = dual_unsupported(loss, self.sharing, self.objective, n_outputs, alpha)
        if self.solver == "dual":
            if why:
                raise ValueError(why)
            return "dual"
        if self.solver != "auto" or why:
            return "exact"
        # the exact path where its SQP applies (fast, checked to 1e-9), else the dual path
        # (fast, certified) rather than a conic program
        blocks = 1 if self.sharing == "shared" else n_groups
        params = blocks * (shape[1] + 1) * n_outputs
        sqp = (
            self.objective in SQP_OBJECTIVES
            and smooth_refinable(loss, self.sharing, n_outputs, alpha, params)
            and params <= MAX_PARAMS_STAGE1
        )
        if shape[0] * shape[1] * n_groups >= DUAL_AUTO_SIZE:  # large
            narrow = shape[1] <= SQP_LARGE_FEATURES and shape[0] * shape[1] <= SQP_LARGE_ENTRIES
            sqp = sqp and narrow and self.objective in SQP_LARGE_OBJECTIVES
        return "exact" if sqp else "dual"

    def _objective_knobs(self, group_weight: np.ndarray, adjustment: float) -> dict[str, Any]:
        """The objective's knob values for groups of these total weights."""
        knobs = {"epsilon": self.epsilon, "tilt": self.tilt, "preference": self.preference}
        if objective_class(self.objective).takes_adjustment:
            knobs["adjustment"] = adjustment_vector(adjustment, group_weight)
        return knobs

    def _resolved(self, name: str) -> float:
        """A knob's number: as given, or as chosen by the last fit's cross-validation."""
        value = getattr(self, name)
        if value != "auto":
            return float(value)
        if not hasattr(self, name + "_"):
            raise ValueError(MSG_AUTO_UNRESOLVED.format(name=name))
        return getattr(self, name + "_")

    def _solve(self, prepared: Prepared, **overrides: Any) -> FitResult:
        knobs = {
            **self._objective_knobs(_group_weight(prepared), self._resolved("adjustment")),
            "alpha": self._resolved("alpha"),
            "sharing_strength": solver_strength(
                self.sharing, self._resolved("sharing_strength"), prepared.encoder.n_groups_
            ),
            **overrides,
        }
        solver = "CLARABEL" if self.solver in ("auto", "dual") else self.solver
        if self.solver == "auto" and isinstance(prepared.problem, ExactProblem):
            solver = "auto"  # the exact path's choice: SQP where it is fast and checked
        return prepared.problem.solve(
            solver=solver, max_time=self.max_time, reference=self.reference, **knobs
        )

    def _store(self, prepared: Prepared, result: FitResult):
        enc = prepared.encoder
        self._encoder = enc
        self.groups_ = np.asarray(enc.labels_, dtype=object)
        self.group_sizes_ = enc.sizes_.copy()
        self.n_groups_ = enc.n_groups_
        self.group_coef_ = result.coef
        self.group_intercept_ = result.intercept
        self.has_shared_part_ = self.sharing != "independent"
        if self.sharing == "shared":
            self.shared_coef_, self.shared_intercept_ = result.coef[0], result.intercept[0]
        elif self.has_shared_part_:
            # the shared core: the unweighted mean of the group models (see models._sharing)
            self.shared_coef_ = result.coef.mean(axis=0)
            self.shared_intercept_ = result.intercept.mean(axis=0)
        else:
            self.shared_coef_ = self.shared_intercept_ = None
        self.group_losses_ = pd.Series(
            result.group_losses, index=pd.Index(self.groups_, name="group"), name="loss"
        )
        self.solver_info_ = result.solver_info
        self._set_public_coef(result)
        return self

    def _set_public_coef(self, result: FitResult) -> None:
        K = result.coef.shape[2]
        if K == 1:
            self.coef_ = result.coef[:, :, 0]
            self.intercept_ = result.intercept[:, 0]
        else:
            self.coef_ = np.transpose(result.coef, (0, 2, 1))
            self.intercept_ = result.intercept

    # -- predict ---------------------------------------------------------------------
    def _tasks_for(self, X, groups, method: str):
        X, groups = split_group_columns(X, groups, self.group_column)
        check_feature_frame(X)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        if groups is None:
            if self.n_groups_ > 1:
                raise DataValidationError(
                    MSG_GROUPS_REQUIRED.format(n_groups=self.n_groups_, method=method)
                )
            return X, np.zeros(X.shape[0], dtype=np.int64)
        check_groups_length(groups, X.shape[0])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                tasks = self._encoder.transform(groups)
            except UnseenGroupError as e:
                unseen = sorted(set(group_labels(groups)) - set(self.groups_))
                names = ", ".join(repr(n) for n in unseen[:5])
                raise UnseenGroupError(MSG_UNSEEN_INDEPENDENT.format(names=names)) from e
        for w in caught:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return X, tasks

    def _raw_outputs(self, X, groups, method: str) -> np.ndarray:
        """Decision values, shape (n, K); unseen groups use the shared part."""
        if getattr(self, "model", "linear") == "mlp":
            from fairmtl.neural._outputs import network_outputs

            check_is_fitted(self, "network_state_")
            X, tasks = self._tasks_for(X, groups, method)
            return network_outputs(self.network_spec_, self.network_state_, X, tasks, self.device)
        check_is_fitted(self, "group_coef_")
        X, tasks = self._tasks_for(X, groups, method)
        seen = tasks != UNSEEN
        K = self.group_coef_.shape[2]
        out = np.empty((X.shape[0], K))
        out[seen] = group_outputs(X[seen], tasks[seen], self.group_coef_, self.group_intercept_)
        if (~seen).any():
            out[~seen] = X[~seen] @ self.shared_coef_ + self.shared_intercept_
        return out

    def summary(self) -> pd.DataFrame:
        """One row per group: rows, training loss, and the fit's solver status.

        Returns
        -------
        table : DataFrame
            Columns ``n``, ``loss``, ``worst`` (the group with the highest loss).
        """
        check_is_fitted(self, "group_losses_")
        table = pd.DataFrame({"n": self.group_sizes_, "loss": self.group_losses_})
        table["worst"] = table["loss"] == table["loss"].max()
        table.attrs["solver"] = {
            k: self.solver_info_.get(k) for k in ("status", "solver", "time", "objective")
        }
        return table


def _group_weight(prepared: Prepared) -> np.ndarray:
    """Each group's total sample weight."""
    if prepared.group_weight is not None:
        return prepared.group_weight
    return np.bincount(
        prepared.tasks, weights=prepared.sample_weight, minlength=prepared.encoder.n_groups_
    )
