"""What the linear classifier and regressor share: fit = prepare -> solve -> store.

Also the deprecated neural spelling of these estimators (``model="mlp"`` and the network
parameters), which trains the network of :mod:`fairmtl.estimators._mlp` and warns.
"""

from __future__ import annotations

import inspect
import numbers
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from fairmtl.data import UNSEEN
from fairmtl.estimators._base import FairMTLBase, Prepared
from fairmtl.estimators._input import warn_one_class_groups
from fairmtl.estimators._mlp import (
    NETWORK_CONSTRAINTS,
    fit_network_into,
    network_raw_outputs,
)
from fairmtl.estimators._tuning import (
    START_ALPHA,
    Tuned,
    adjustment_vector,
    solver_strength,
    tune,
)
from fairmtl.losses import Loss
from fairmtl.models import SHARING_SCHEMES
from fairmtl.neural._config import HEADS_FROM_SHARING
from fairmtl.objectives import ALL_OBJECTIVES, make_objective, objective_class
from fairmtl.solvers import (
    SOLVER_NAMES,
    ExactProblem,
    FitResult,
    dual_unsupported,
    group_outputs,
    make_problem,
    one_blas_thread,
)
from fairmtl.solvers._refine import MAX_PARAMS_STAGE1, smooth_refinable

__all__ = ["LinearBase", "MLP_AUTO_STRENGTH", "MLP_ONLY_PARAMS"]

MSG_PARETO_LINEAR = (
    "objective='pareto' (MGDA's min-norm direction) is a training rule of the neural path; "
    "use FairMTLMLPClassifier / FairMTLMLPRegressor, or 'minimax'/'chebyshev' for the "
    "exact linear path."
)
MSG_AUTO_UNRESOLVED = (
    "{name}='auto' is settled by cross-validation in fit; this estimator was not fitted. "
    "Call fit first, or pass {name} as a number."
)
MSG_MLP_DEPRECATED = (
    "{name}(model='mlp') is deprecated and will be removed in a future version of "
    "fairmtl: use {replacement} instead (the same network, trained the same way)."
)
MSG_MLP_PARAMS_DEPRECATED = (
    "{name} ignores {params} (settings of a neural network): they are deprecated on the "
    "linear model and will be removed from {name} in a future version of fairmtl. For a "
    "neural network use {replacement}; else leave them at their defaults."
)
#: sharing_strength of the neural path's offset heads when "auto" (not tuned there)
MLP_AUTO_STRENGTH = 1.0
#: parameters that only the deprecated model="mlp" uses (the MLP estimators take them)
MLP_ONLY_PARAMS = ("heads", *NETWORK_CONSTRAINTS)
#: solver="auto" uses the dual path from this many rows x features x groups (when it can)
DUAL_AUTO_SIZE = 5_000_000
#: objectives the exact path solves by SQP (fairmtl.solvers._refine) on small problems
SQP_OBJECTIVES = frozenset({"average", "balanced", "minimax", "chebyshev", "bounded", "no_harm"})
#: on large data too, solver="auto" takes the exact path's SQP for these objectives where
#: the model is small (``MAX_PARAMS_STAGE1``) and the rows are few features wide
#: (``SQP_LARGE_FEATURES``) and hold at most ``SQP_LARGE_ENTRIES`` values (it keeps about
#: three copies of the rows): the dual path's bounded solve needs tens of weighted fits,
#: the SQP tens of passes over the rows. On large data a stage that fails its check goes
#: to the dual path (never to a conic program on all the rows). Minimax and chebyshev go
#: to the dual path, whose smooth stages run the same SQP without building the conic
#: program (measured, shared minimax of simulated hospitals: 1,000,000 rows x 30
#: hospitals 2.5 s against 4.3 s, offset 2.5 s against 4.0 s; 100,000 rows x 500
#: hospitals 0.16 s against 0.37 s; chebyshev on 300,000 rows 4.9 s against 8.3 s), with
#: its certificate and the level method where the SQP's answer fails its check
SQP_LARGE_OBJECTIVES = frozenset({"bounded"})
SQP_LARGE_FEATURES = 32
SQP_LARGE_ENTRIES = 50_000_000


class LinearBase(FairMTLBase):
    """Shared machinery of :class:`FairMTLClassifier` and :class:`FairMTLRegressor`."""

    #: the MLP estimator that replaces ``model="mlp"`` (set by each subclass)
    _mlp_estimator: type

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
        # deprecated: the neural path (model="mlp"), now FairMTLMLPClassifier / Regressor
        "model": [StrOptions({"linear", "mlp"})],
        "heads": [StrOptions({"auto", "shared", "per_group", "offset"})],
        **NETWORK_CONSTRAINTS,
    }

    def _validate_params(self):
        super()._validate_params()
        if self.model == "linear" and self.objective == "pareto":
            raise ValueError(MSG_PARETO_LINEAR)
        self._warn_deprecated_mlp()

    # -- the deprecated neural spelling -----------------------------------------------
    def _warn_deprecated_mlp(self) -> None:
        """FutureWarning for model="mlp", or for network parameters set on a linear model."""
        name = type(self).__name__
        if self.model == "mlp":
            message = MSG_MLP_DEPRECATED.format(name=name, replacement=self._mlp_replacement())
            warnings.warn(message, FutureWarning, stacklevel=_user_level())
            return
        signature = inspect.signature(type(self).__init__).parameters
        changed = [
            p for p in MLP_ONLY_PARAMS if not _is_default(getattr(self, p), signature[p].default)
        ]
        if changed:
            message = MSG_MLP_PARAMS_DEPRECATED.format(
                params=", ".join(changed), name=name, replacement=self._mlp_replacement()
            )
            warnings.warn(message, FutureWarning, stacklevel=_user_level())

    def _mlp_params(self) -> dict[str, Any]:
        """The parameters of the MLP estimator that trains what ``model="mlp"`` trains."""
        params = self.get_params()
        names = self._mlp_estimator._get_param_names()
        out = {k: params[k] for k in names if k in params}
        if out["heads"] == "auto":
            out["heads"] = HEADS_FROM_SHARING[self.sharing]
        if out["sharing_strength"] == "auto":
            out["sharing_strength"] = MLP_AUTO_STRENGTH
        return out

    def _mlp_replacement(self) -> str:
        """The MLP estimator's call, with the parameters that differ from its defaults."""
        cls = self._mlp_estimator
        params = self._mlp_params()
        given = [  # in the constructor's order
            f"{k}={params[k]!r}"
            for k, p in inspect.signature(cls.__init__).parameters.items()
            if k in params and not _is_default(params[k], p.default)
        ]
        return f"{cls.__name__}({', '.join(given)})"

    # -- fit -----------------------------------------------------------------------------
    def _fit_cluster(self, X, y, groups, sample_weight):
        from fairmtl.distributed._estimator import fit_distributed

        return fit_distributed(self, X, y, groups, sample_weight)

    def _fit_prepared(self, prepared: Prepared):
        """Fit on prepared data (validated parameters): settle the "auto" knobs, solve
        ``prepared.problem`` and store the result (or the deprecated neural path)."""
        if self.model == "mlp":
            has_shared_part = self.sharing != "independent"
            return fit_network_into(
                self, prepared, self._mlp_params(), has_shared_part=has_shared_part
            )
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

    def _unseen_policy(self) -> str:
        return "error" if self.sharing == "independent" else "shared"

    def _problem_for(self, prepared: Prepared) -> Prepared:
        """The convex problem of the prepared rows (none for the deprecated neural path)."""
        if getattr(self, "model", "linear") != "linear":
            return prepared
        p = prepared
        if p.task != "regression":
            strength = 1.0 if self.sharing_strength == "auto" else self.sharing_strength
            classes = getattr(self, "classes_", None)
            warn_one_class_groups(p.y, p.tasks, p.encoder.labels_, self.sharing, strength, classes)
        path = self._solver_path(p.X.shape, p.encoder.n_groups_, p.loss, p.n_outputs)
        options = {}
        if path == "exact":
            p.X = p.X.astype(np.float64, copy=False)  # the exact path solves in float64
            if self.solver == "auto" and _large(p.X.shape, p.encoder.n_groups_):
                # SQP on large data: a stage without a checked answer goes to the dual
                # path, not to a conic program on all the rows (minutes at this size)
                options["fallback"] = "dual"
        p.problem = make_problem(
            path,
            p.X,
            p.y,
            p.tasks,
            p.sample_weight,
            p.encoder.n_groups_,
            loss=p.loss,
            sharing=self.sharing,
            objective=self.objective,
            n_outputs=p.n_outputs,
            task=p.task,
            group_names=p.encoder.labels_,
            **options,
        )
        return p

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
        if _large(shape, n_groups):
            narrow = shape[1] <= SQP_LARGE_FEATURES and shape[0] * shape[1] <= SQP_LARGE_ENTRIES
            # SQP keeps no time limit: with max_time the dual path (which obeys it) solves
            timed = self.max_time is not None
            sqp = sqp and narrow and self.objective in SQP_LARGE_OBJECTIVES and not timed
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
        self._store_groups(prepared.encoder, self.sharing != "independent")
        self.group_coef_ = result.coef
        self.group_intercept_ = result.intercept
        if self.sharing == "shared":
            self.shared_coef_, self.shared_intercept_ = result.coef[0], result.intercept[0]
        elif self.has_shared_part_:
            # the shared core: the unweighted mean of the group models (see models._sharing)
            self.shared_coef_ = result.coef.mean(axis=0)
            self.shared_intercept_ = result.intercept.mean(axis=0)
        else:
            self.shared_coef_ = self.shared_intercept_ = None
        self._store_group_losses(result.group_losses)
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
    def _raw_outputs(self, X, groups, method: str) -> np.ndarray:
        """Decision values, shape (n, K); unseen groups use the shared part."""
        if getattr(self, "model", "linear") == "mlp":
            return network_raw_outputs(self, X, groups, method)
        check_is_fitted(self, "group_coef_")
        X, tasks = self._tasks_for(X, groups, method)
        seen = tasks != UNSEEN
        K = self.group_coef_.shape[2]
        out = np.empty((X.shape[0], K))
        out[seen] = group_outputs(X[seen], tasks[seen], self.group_coef_, self.group_intercept_)
        if (~seen).any():
            out[~seen] = X[~seen] @ self.shared_coef_ + self.shared_intercept_
        return out


def _large(shape: tuple[int, int], n_groups: int) -> bool:
    """Whether solver="auto" counts a problem of these rows and groups as large."""
    return shape[0] * shape[1] * n_groups >= DUAL_AUTO_SIZE


def _group_weight(prepared: Prepared) -> np.ndarray:
    """Each group's total sample weight."""
    if prepared.group_weight is not None:
        return prepared.group_weight
    return np.bincount(
        prepared.tasks, weights=prepared.sample_weight, minlength=prepared.encoder.n_groups_
    )


def _user_level() -> int:
    """The ``stacklevel`` that points a warning at the first caller outside fairmtl."""
    root = str(Path(__file__).parents[1])
    frame, level = inspect.currentframe().f_back, 1  # the function that warns
    while frame is not None and frame.f_code.co_filename.startswith(root):
        frame, level = frame.f_back, level + 1
    return level


def _is_default(value: Any, default: Any) -> bool:
    """Whether a parameter's value is its default (a list equals a tuple default)."""
    if isinstance(default, tuple):
        return np.ndim(value) == 1 and tuple(np.asarray(value).tolist()) == default
    if isinstance(default, bool) or default is None:
        return value is default or (isinstance(value, np.bool_) and bool(value) is default)
    if isinstance(default, str):
        return isinstance(value, str) and value == default
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and value == default
