"""The exact path: the whole group-as-task problem as one convex program in cvxpy.

:class:`ExactProblem` builds the program once, with every knob (``alpha``,
``sharing_strength``, ``epsilon``, ``tilt``, ``preference``) a ``cp.Parameter`` (DPP), and
re-solves it for new knob values without re-compiling, by the chain of solvers of
:mod:`fairmtl.solvers._chain`. With a smooth loss and few parameters the same problem is
solved by SQP instead (:mod:`fairmtl.solvers._smooth_stages`; see
:meth:`ExactProblem.solve`); the conic program is then built only when a stage needs it
(:attr:`ExactProblem.problem`), so a fit that SQP answers never builds it. Objectives that
need the Pareto-efficient answer (``minimax``, ``chebyshev``) get a second, lexicographic solve
(:mod:`fairmtl.solvers._pareto_stage`), after which ``solver_info["objective"]`` is the
returned model's own objective and ``"stage1_objective"`` the optimum; ``gap`` is solved
by the convex-concave procedure (:mod:`fairmtl.solvers._convex_concave`). Infeasible loss
bounds are diagnosed by a minimax solve that names the groups and the smallest feasible
bound (:func:`fairmtl.solvers._infeasible.raise_infeasible`). A status other than
optimal, in either stage, raises a :class:`~fairmtl.exceptions.SolverInaccurateWarning`.
Built with ``fallback="dual"`` (large data), a problem hands a smooth stage without a
checked answer to the dual path instead of a conic program on all its rows
(:mod:`fairmtl.solvers._handover`).
"""

from __future__ import annotations

import time
from typing import Any, Literal

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from fairmtl.losses import Loss
from fairmtl.models import Scaling, make_sharing
from fairmtl.objectives import ObjectiveContext, make_objective
from fairmtl.solvers._certificate import Penalty
from fairmtl.solvers._chain import CLARABEL_LOOSE, chain_record, default_chain, solve_chain
from fairmtl.solvers._convex_concave import solve_convex_concave
from fairmtl.solvers._dual import dual_unsupported
from fairmtl.solvers._fit import FitResult, group_mean_losses
from fairmtl.solvers._handover import solve_or_dual
from fairmtl.solvers._infeasible import raise_infeasible
from fairmtl.solvers._newton import SHARINGS as QUADRATIC_SHARINGS
from fairmtl.solvers._newton import newton_stage
from fairmtl.solvers._notices import check_target_scale, raise_if_unsolved, warn_not_optimal
from fairmtl.solvers._pareto_stage import pareto_stage
from fairmtl.solvers._smooth_stages import (
    MSG_CHECK_FAILED,
    MSG_NO_TIME_LIMIT,
    hand_over,
    polishable,
    smooth_stage1,
)
from fairmtl.solvers._status import INFEASIBLE, OPTIMAL

__all__ = ["DPP_MAX_GROUPS", "ExactProblem"]

#: above this many groups, problems are compiled without DPP: with one cvxpy expression
#: per group, DPP's parameter tensors grow as groups^2 (measured: 300 groups of 5 rows,
#: bounded, 6.6 GB and 48 s with DPP; 0.3 GB and ~3 s without)
DPP_MAX_GROUPS = 100


class ExactProblem:
    """A group-as-task convex problem, compiled once and re-solved for new knobs.

    The exact path's :class:`~fairmtl.solvers.Problem` (the protocol it shares with
    :class:`~fairmtl.solvers.DualProblem`).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        Encoded targets: {-1, +1} (binary), 0..K-1 (multinomial) or floats.
    tasks : ndarray of shape (n_samples,)
        Task ids 0..n_groups-1; every group has at least one row.
    sample_weight : ndarray of shape (n_samples,)
    n_groups : int
    loss : Loss
    sharing : str
    objective : str
    n_outputs : int
        1, or the number of classes for multinomial.
    task : {"binary", "multiclass", "regression"}
    group_names : sequence of str, optional
        Used in error messages.
    fallback : {"conic", "dual"}, default="conic"
        What solves a stage of a ``solver="auto"`` solve that SQP gave no checked answer
        for: the conic program of all the rows, or (for large data, where that costs
        minutes) the dual path, with its own certificate, wherever it can solve the
        problem (:mod:`fairmtl.solvers._handover`).
    """

    def __init__(
        self,
        X,
        y,
        tasks,
        sample_weight,
        n_groups: int,
        *,
        loss: Loss,
        sharing: str,
        objective: str,
        n_outputs: int = 1,
        task: str = "binary",
        group_names=None,
        fallback: Literal["conic", "dual"] = "conic",
    ) -> None:
        if fallback not in ("conic", "dual"):
            raise ValueError(f"Unknown fallback {fallback!r}: choose 'conic' or 'dual'.")
        check_target_scale(y, task)
        self.X, self.y, self.tasks, self.w = X, y, tasks, sample_weight
        self.n_groups, self.loss, self.sharing_name = n_groups, loss, sharing
        self.objective_name, self.n_outputs, self.task = objective, n_outputs, task
        self.group_names = (
            list(map(str, group_names)) if group_names is not None else list(range(n_groups))
        )
        group_weight = np.bincount(tasks, weights=sample_weight, minlength=n_groups)
        self.shares = group_weight / group_weight.sum()
        self._set_up = False  # the variables and parameters, made on first solve
        self._problem: cp.Problem | None = None  # the conic program, built on first use
        self._refine_problem: cp.Problem | None = None  # its Pareto stage's
        self._knob_values: dict[str, Any] | None = None
        self._no_dpp = n_groups > DPP_MAX_GROUPS
        self._helpers: dict[str, ExactProblem] = {}
        self._cache: dict[tuple, np.ndarray] = {}
        self._grouped = None  # the rows for the smooth stages, made on first use
        self.fallback = fallback
        #: whether the current solve hands a failed smooth stage to the dual path
        self.hands_over = False
        self._parent: ExactProblem | None = None  # a helper's: it hands over its parent's solve
        self._dual = None  # the dual path's problem of the same rows, made on first use

    # -- building ----------------------------------------------------------------------
    def _setup(self) -> None:
        """The model's variables and the knobs' parameters: what every solve needs. The
        conic program of all the rows is built apart, on first use (:meth:`_build`): a
        solve that SQP answers never builds it. The objective's form is built here over
        a stand-in vector of group losses, for its knob parameters and for its value at
        group losses computed in numpy (:meth:`model_objective`); objectives that read
        the per-row outputs get the whole program at once."""
        scaling = Scaling.fit(self.X)
        d = self.X.shape[1]
        self.sharing = make_sharing(self.sharing_name, d, self.n_groups, self.n_outputs, scaling)
        self.objective = make_objective(self.objective_name)
        self.alpha = cp.Parameter(nonneg=True, name="alpha")
        self.strength = cp.Parameter(nonneg=True, name="sharing_strength")
        self._penalty: cp.Expression | None = None
        self._set_up = True
        if self.objective.uses_outputs:
            self._build()
            return
        self._stand_in = cp.Variable(self.n_groups, name="group_losses")
        ctx = ObjectiveContext(n_groups=self.n_groups, shares=self.shares, task=self.task)
        self._stand_in_value = self.objective.build(self._stand_in, ctx)[0]

    def _set_knobs(self, **values: Any) -> None:
        """Set the objective's knobs (kept: the program built later takes them too)."""
        self._knob_values = values
        self.objective.set_values(self.n_groups, **values)

    def _build(self) -> None:
        """The conic program of all the rows (:attr:`problem`), with the objective's form
        built again over its group losses and given the knob values last set."""
        Xs = self.sharing.scaling.transform(self.X)
        ctx = ObjectiveContext(n_groups=self.n_groups, shares=self.shares, task=self.task)
        # One expression over all rows, sorted by group: the group losses are a sparse
        # averaging matrix times the per-row losses. (One expression per group made the
        # compile grow with the number of groups: 6.6 GB at 300 groups.)
        order = np.argsort(self.tasks, kind="stable")
        tasks = self.tasks[order]
        w = self.w[order]
        group_weight = np.bincount(tasks, weights=w, minlength=self.n_groups)
        rw = w / group_weight[tasks]  # row weights, summing to 1 within each group
        compressed = self._compressed(Xs[order] if sp.issparse(Xs) else Xs[order], tasks, rw)
        if compressed is not None:  # squared loss: the same group losses from few rows
            X_rows, y_rows, tasks, ones, rw = compressed
        else:
            X_rows, y_rows, ones = Xs[order], self.y[order], None
        z = self.sharing.outputs_all(X_rows, tasks, ones)
        per_row = self.loss.cvxpy(z, y_rows)
        averaging = sp.csr_matrix(
            (rw, (tasks, np.arange(len(tasks)))), shape=(self.n_groups, len(tasks))
        )
        self.L = averaging @ per_row
        bounds = np.concatenate([[0], np.cumsum(np.bincount(tasks, minlength=self.n_groups))])
        for g in range(self.n_groups):
            a, b = bounds[g], bounds[g + 1]
            ctx.outputs.append(z[a:b])
            ctx.targets.append(y_rows[a:b])
            ctx.row_weights.append(rw[a:b] / rw[a:b].sum())
        value, cons = self.objective.build(self.L, ctx)
        self.constraints = cons + self.sharing.constraints()
        self.value = value
        self._problem = cp.Problem(cp.Minimize(value + self.penalty), self.constraints)
        if self._knob_values is not None:
            self.objective.set_values(self.n_groups, **self._knob_values)

    @property
    def penalty(self) -> cp.Expression:
        """The penalty in cvxpy, made on first use (by the program, or the objective that
        :meth:`model_objective` reports)."""
        if self._penalty is None:
            self._penalty = self.sharing.penalty(self.alpha, self.strength, self.shares)
        return self._penalty

    @property
    def problem(self) -> cp.Problem:
        """The conic program of all the rows, built on first use (:meth:`_build`); its
        group losses ``L``, objective ``value`` and ``constraints`` come with it."""
        if self._problem is None:
            self._build()
        return self._problem

    def model_objective(self) -> float:
        """The objective plus penalty of the model in the variables: the program's own
        value where it is built, else both computed in numpy from the parameters (the
        objective's form at the group losses; equal up to rounding)."""
        if self._problem is not None:
            return float(self.value.value) + float(self.penalty.value)
        coef, intercept = self.sharing.unpack()
        self._stand_in.value = self._group_losses(coef, intercept)
        value = float(self._stand_in_value.value)
        if self.n_outputs > 1 or self.sharing_name not in QUADRATIC_SHARINGS:
            return value + float(self.penalty.value)
        P = 1 if self.sharing_name == "shared" else self.n_groups
        penalty = Penalty(self.sharing_name, self.alpha.value, self.strength.value, self.shares)
        return value + penalty.value_grad(coef[:P, :, 0], intercept[:P, 0])[0]

    def _compressed(self, Xs, tasks: np.ndarray, rw: np.ndarray):
        """For the squared loss, each group's rows replaced by the ``R`` factor of a QR
        decomposition of ``sqrt(rw) [X, 1, y]``: ``L_g = ||R_g [w; b; -1]||^2`` exactly, with
        at most ``d + 2`` rows per group instead of ``n_g`` (measured: 10,000 rows of
        regression, stage 1 from 0.9 s to a few ms). None where it does not apply or
        does not shrink the problem. Returns rows, targets, tasks, intercept column and
        row weights (all 1) of the compressed problem."""
        n, d = Xs.shape
        if (
            self.loss.name != "squared"
            or self.n_outputs != 1
            or make_objective(self.objective_name).uses_outputs
            or self.n_groups * (d + 2) > n // 2
        ):
            return None
        starts = np.concatenate([[0], np.cumsum(np.bincount(tasks, minlength=self.n_groups))])
        y = self.y[np.argsort(self.tasks, kind="stable")]
        blocks, group_of = [], []
        for g in range(self.n_groups):
            a, b = starts[g], starts[g + 1]
            rows = Xs[a:b].toarray() if sp.issparse(Xs) else Xs[a:b]
            A = np.sqrt(rw[a:b])[:, None] * np.column_stack([rows, np.ones(b - a), y[a:b]])
            R = np.linalg.qr(A, mode="r")
            blocks.append(R)
            group_of.append(np.full(R.shape[0], g))
        R = np.vstack(blocks)
        tasks_c = np.concatenate(group_of)
        return R[:, :d], R[:, d + 1], tasks_c, R[:, d], np.ones(len(tasks_c))

    def _helper(self, key: str, sharing: str, objective: str, rows=None) -> ExactProblem:
        """A problem of these rows (or of ``rows`` alone, with this problem's shares and so
        its penalty) with another sharing or objective, made once under ``key``."""
        if key not in self._helpers:
            keep = (lambda a: a) if rows is None else (lambda a: a[rows])
            helper = ExactProblem(
                keep(self.X),
                keep(self.y),
                keep(self.tasks),
                keep(self.w),
                self.n_groups,
                loss=self.loss,
                sharing=sharing,
                objective=objective,
                n_outputs=self.n_outputs,
                task=self.task,
                group_names=self.group_names,
                fallback=self.fallback,
            )
            helper.shares = self.shares
            helper._parent = self
            self._helpers[key] = helper
        return self._helpers[key]

    # -- extra inputs some objectives need -------------------------------------------
    def reference_losses(self, reference: str, alpha: float, strength: float, solver: str):
        """Per-group training losses of a fairmtl reference fit (pooled or independent)."""
        key = ("reference", reference, alpha, strength, solver)
        if key not in self._cache:
            sharing = {"pooled": "shared", "independent": "independent"}.get(reference)
            if sharing is None:
                raise ValueError(
                    f"Unknown reference {reference!r}. Choose 'pooled' or 'independent'."
                )
            ref = self._helper(f"ref-{reference}", sharing, "average")
            fit = ref.solve(alpha=alpha, sharing_strength=strength, solver=solver)
            self._cache[key] = fit.group_losses
        return self._cache[key]

    def ideal_point(self, alpha: float, strength: float, solver: str) -> np.ndarray:
        """Each group's own minimum loss under this model and penalty."""
        key = ("ideal", alpha, strength, solver)
        if key not in self._cache:
            ideal = np.empty(self.n_groups)
            for g in range(self.n_groups):
                # L_g alone: no other group's rows enter its fit (only the penalty's shares)
                rows = np.flatnonzero(self.tasks == g)
                helper = self._helper(f"ideal-{g}", self.sharing_name, "weighted", rows)
                e = np.zeros(self.n_groups)
                e[g] = 1.0
                fit = helper.solve(
                    alpha=alpha, sharing_strength=strength, solver=solver, group_weights=e
                )
                ideal[g] = fit.group_losses[g]
            self._cache[key] = ideal
        return self._cache[key]

    # -- solving ---------------------------------------------------------------------
    def solve(
        self,
        *,
        alpha: float,
        sharing_strength: float = 0.0,
        solver: str = "CLARABEL",
        max_time: float | None = None,
        reference: str = "pooled",
        **knobs: Any,
    ) -> FitResult:
        """Solve for the given knob values; see the class docstring.

        ``solver="auto"`` solves the objectives with a smooth form (average, balanced,
        minimax, chebyshev, bounded, no_harm) by SQP where the loss is smooth and the
        parameters few (:mod:`fairmtl.solvers._refine`, checked against the duality
        gap), and everything else, or what fails its checks, with CLARABEL's chain (also
        when ``max_time`` is given: SQP keeps no time limit), or, built with
        ``fallback="dual"``, by the dual path wherever it can solve the problem. With
        ``"CLARABEL"``, ``minimax`` and ``chebyshev`` run CLARABEL to a 1e-6 gap and
        polish its answer by the same SQP (:meth:`_polish`). The second stage of
        ``minimax`` and ``chebyshev`` is solved by SQP wherever it applies.
        """
        kwargs = {"alpha": alpha, "sharing_strength": sharing_strength, "solver": solver}
        kwargs.update(max_time=max_time, reference=reference, **knobs)
        if self.fallback == "dual" and self._parent is None:
            return solve_or_dual(self, self._solve, **kwargs)
        return self._solve(**kwargs)

    def _solve(
        self,
        *,
        alpha: float,
        sharing_strength: float,
        solver: str,
        max_time: float | None,
        reference: str,
        **knobs: Any,
    ) -> FitResult:
        """:meth:`solve` on this path (a failed smooth stage may raise
        :class:`~fairmtl.solvers._smooth_stages.SmoothStageFailed`: see ``fallback``)."""
        # SQP keeps no time limit: with max_time the chain (which obeys it) solves
        smooth_first = solver.lower() == "auto" and max_time is None
        if self._parent is not None:  # a helper's failure hands its parent's solve over
            self.hands_over = self._parent.hands_over
        else:
            why = dual_unsupported(
                self.loss, self.sharing_name, self.objective_name, self.n_outputs, alpha
            )
            self.hands_over = self.fallback == "dual" and solver.lower() == "auto" and not why
        make_objective(self.objective_name).check_knobs(self.n_groups, **knobs)  # before any fit
        if not self._set_up:
            self._setup()
        self.alpha.value, self.strength.value = float(alpha), float(sharing_strength)
        extra: dict[str, Any] = {}
        if "ideal" in self.objective.needs:
            extra["ideal"] = self.ideal_point(alpha, sharing_strength, solver)
        if "reference" in self.objective.needs:
            extra["reference"] = self.reference_losses(reference, alpha, sharing_strength, solver)
        solver = "CLARABEL" if solver.lower() == "auto" else solver
        self._set_knobs(**knobs, **extra)
        chain = default_chain(solver)
        if "linearization" in self.objective.needs:
            return solve_convex_concave(self, alpha, sharing_strength, solver, chain, max_time)
        t0 = time.perf_counter()
        smooth = smooth_stage1(self) if smooth_first else None
        if smooth is not None:
            info = {**chain_record(smooth, stage="main"), "objective": smooth["objective"]}
        else:
            hand_over(self, "main", t0, MSG_CHECK_FAILED if smooth_first else MSG_NO_TIME_LIMIT)
            polish = chain[0].name == "CLARABEL" and polishable(self)
            steps = [CLARABEL_LOOSE, *chain[1:]] if polish else chain
            first = solve_chain(self.problem, steps, max_time=max_time, ignore_dpp=self._no_dpp)
            if first.status == INFEASIBLE:
                raise_infeasible(self, solver, first.attempts)
            self._check(first)
            value = None
            if polish and len(first.attempts) == 1:  # the loose step answered: polish it
                first, value = self._polish(first, chain[0], max_time)
            warn_not_optimal(first, max_time)
            info = chain_record(first, stage="main")
            info["objective"] = float(self.problem.value) if value is None else value
        newton_stage(self, info)  # unconstrained smooth objectives: to the rounding floor
        if self.objective.refine and self.n_groups > 1:
            info = pareto_stage(self, chain, max_time, info)
        coef, intercept = self.sharing.unpack()
        losses = self._group_losses(coef, intercept)
        info["extra"] = {k: np.asarray(v).tolist() for k, v in extra.items()}
        return FitResult(coef, intercept, losses, info)

    def _polish(self, first, strict, max_time) -> tuple[Any, float | None]:
        """Sharpen CLARABEL's 1e-6 answer by SQP to the KKT check (fewer interior-point
        iterations than the chain's 1e4x tighter tolerances); where the check fails,
        CLARABEL at those tolerances. Returns the result and the objective (None: the
        problem's own value)."""
        polish = smooth_stage1(self, polish=True)
        if polish is not None:
            first.attempts[-1]["polish"] = polish
            first.time += polish["time"]
            return first, polish["objective"]
        second = solve_chain(self.problem, [strict], max_time=max_time, ignore_dpp=self._no_dpp)
        if second.status != OPTIMAL:
            return first, None  # the 1e-6 answer stands, reported as it is
        second.attempts = first.attempts + second.attempts
        second.time += first.time
        return second, None

    def _check(self, result) -> None:
        """Raise when the chain found no solution (see
        :func:`~fairmtl.solvers._notices.raise_if_unsolved`)."""
        raise_if_unsolved(result, alpha=self.alpha.value, y=self.y, task=self.task)

    def _group_losses(self, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
        """Each group's training loss under these parameters, in numpy."""
        return group_mean_losses(
            self.loss, self.X, self.y, self.tasks, self.w, coef, intercept, self.n_groups
        )

    def _solve_shifted(self, shift: np.ndarray, solver: str) -> FitResult:
        """Minimise ``max_g (L_g - shift_g)`` with a negligible ridge (no refinement)."""
        if not self._set_up:
            self._setup()
        self.alpha.value, self.strength.value = 1e-8, 0.0
        self._set_knobs(preference=1.0, ideal=shift)
        result = solve_chain(self.problem, default_chain(solver), ignore_dpp=self._no_dpp)
        self._check(result)
        coef, intercept = self.sharing.unpack()
        losses = self._group_losses(coef, intercept)
        return FitResult(coef, intercept, losses, chain_record(result, stage="diagnose"))
