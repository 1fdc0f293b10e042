"""The exact path: the whole group-as-task problem as one convex program in cvxpy.

:class:`ExactProblem` builds the program once, with every knob (``alpha``,
``sharing_strength``, ``epsilon``, ``tilt``, ``preference``) a ``cp.Parameter`` (DPP), and
re-solves it for new knob values without re-compiling. With a smooth loss and few
parameters the same problem is solved by SQP instead (:mod:`fairmtl.solvers._refine`;
see :meth:`ExactProblem.solve`). Objectives that need the Pareto-efficient answer
(``minimax``, ``chebyshev``) get a second, lexicographic solve
(:meth:`ExactProblem._refine`), after which ``solver_info["objective"]`` is the returned
model's own objective and ``"stage1_objective"`` the optimum; infeasible loss bounds are
diagnosed by a minimax solve that names the groups and the smallest feasible bound. A
status other than optimal, in either stage, raises a
:class:`~fairmtl.exceptions.SolverInaccurateWarning`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from fairmtl._solver_info import SolverInfo, solver_record
from fairmtl.exceptions import InfeasibleError, SolverFailedError
from fairmtl.losses import Loss
from fairmtl.models import Scaling, make_sharing
from fairmtl.objectives import ObjectiveContext, make_objective
from fairmtl.solvers._chain import CLARABEL_LOOSE, ChainResult, default_chain, solve_chain
from fairmtl.solvers._infeasible import infeasible_bounds_error
from fairmtl.solvers._newton import newton_stage
from fairmtl.solvers._notices import (
    MSG_NOT_OPTIMAL,
    check_target_scale,
    target_scale_note,
    warn_not_optimal,
    warn_refine,
)
from fairmtl.solvers._refine import polishable, smooth_stage1, smooth_stage2
from fairmtl.solvers._status import INFEASIBLE, OPTIMAL, SOLUTION_PRESENT, UNBOUNDED

__all__ = [
    "ExactProblem",
    "FitResult",
    "MSG_NOT_OPTIMAL",
    "group_mean_losses",
    "group_means",
    "group_outputs",
]

MSG_SOLVER_FAILED = (
    "Every solver failed on this problem ({attempts}). Try scaling the features, a larger "
    "alpha (now {alpha}), or fewer groups; solver_info records each attempt."
)
MSG_SOLVER_FAILED_SCALE = "Every solver failed on this problem ({attempts}). {note}"
MSG_NUMERICAL_INFEASIBLE = (
    "The solver called the {objective!r} problem infeasible, but it has no constraint that "
    "can fail: a numerical breakdown ({attempts}). {note}"
)
MSG_UNBOUNDED = (
    "The problem is unbounded (the data may be separable and alpha={alpha} gives no "
    "penalty). Use alpha > 0."
)

#: convex-concave procedure (gap objective): iterations and relative stopping tolerance
CCP_MAX_ITER, CCP_TOL = 30, 1e-7
MSG_GAP_INFEASIBLE = (
    "No model was found with every group's loss within epsilon of the average loss "
    "(the convex-concave procedure, a local method, ended with a largest gap of {gap:.6g}). "
    "Pass epsilon >= that gap."
)

#: relative slack of the lexicographic (second) stage
REFINE_TOL = 1e-6

#: above this many groups, problems are compiled without DPP: with one cvxpy expression
#: per group, DPP's parameter tensors grow as groups^2 (measured: 300 groups of 5 rows,
#: bounded, 6.6 GB and 48 s with DPP; 0.3 GB and ~3 s without)
DPP_MAX_GROUPS = 100


@dataclass
class FitResult:
    """Fitted parameters of a group-as-task linear model and how they were found.

    Attributes
    ----------
    coef : ndarray of shape (n_groups, n_features, n_outputs)
    intercept : ndarray of shape (n_groups, n_outputs)
    group_losses : ndarray of shape (n_groups,)
        The training loss per group, recomputed in numpy from the parameters.
    solver_info : dict
        The solver record (:class:`fairmtl._solver_info.SolverInfo`).
    """

    coef: np.ndarray
    intercept: np.ndarray
    group_losses: np.ndarray
    solver_info: SolverInfo = field(default_factory=dict)  # type: ignore[assignment]


def group_mean_losses(
    loss: Loss,
    X: np.ndarray,
    y: np.ndarray,
    tasks: np.ndarray,
    weights: np.ndarray,
    coef: np.ndarray,
    intercept: np.ndarray,
    n_groups: int,
) -> np.ndarray:
    """Weighted mean loss of each group under per-group parameters (numpy)."""
    z = group_outputs(X, tasks, coef, intercept)
    z = z[:, 0] if coef.shape[2] == 1 and not loss.multi_output else z
    return group_means(loss.numpy(z, y), tasks, weights, n_groups)


def group_outputs(X, tasks: np.ndarray, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """Outputs of shape (n_samples, n_outputs): each row under its group's parameters
    (``coef`` of shape (n_groups, n_features, n_outputs)), one group at a time, so that no
    (n_samples, n_features) array of gathered coefficients is made."""
    order = np.argsort(tasks, kind="stable")
    bounds = np.searchsorted(tasks[order], np.arange(coef.shape[0] + 1))
    out = np.empty((X.shape[0], coef.shape[2]))
    for g in range(coef.shape[0]):
        rows = order[bounds[g] : bounds[g + 1]]
        if rows.size:
            out[rows] = X[rows] @ coef[g] + intercept[g]
    return out


def group_means(values: np.ndarray, tasks: np.ndarray, weights: np.ndarray, n_groups: int):
    """Weighted mean of ``values`` within each group (0 for a group of zero weight)."""
    num = np.bincount(tasks, weights=values * weights, minlength=n_groups)
    den = np.bincount(tasks, weights=weights, minlength=n_groups)
    return num / np.where(den > 0, den, 1.0)


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
    ) -> None:
        check_target_scale(y, task)
        self.X, self.y, self.tasks, self.w = X, y, tasks, sample_weight
        self.n_groups, self.loss, self.sharing_name = n_groups, loss, sharing
        self.objective_name, self.n_outputs, self.task = objective, n_outputs, task
        self.group_names = (
            list(map(str, group_names)) if group_names is not None else list(range(n_groups))
        )
        group_weight = np.bincount(tasks, weights=sample_weight, minlength=n_groups)
        self.shares = group_weight / group_weight.sum()
        self._built = False
        self._no_dpp = n_groups > DPP_MAX_GROUPS
        self._helpers: dict[str, ExactProblem] = {}
        self._cache: dict[tuple, np.ndarray] = {}
        self._grouped = None  # the rows for the smooth stages, made on first use

    # -- building --------------------------------------------------------------------
    def _build(self) -> None:
        scaling = Scaling.fit(self.X)
        Xs = scaling.transform(self.X)
        d = self.X.shape[1]
        self.sharing = make_sharing(self.sharing_name, d, self.n_groups, self.n_outputs, scaling)
        self.objective = make_objective(self.objective_name)
        self.alpha = cp.Parameter(nonneg=True, name="alpha")
        self.strength = cp.Parameter(nonneg=True, name="sharing_strength")
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
        self.penalty = self.sharing.penalty(self.alpha, self.strength, self.shares)
        self.constraints = cons + self.sharing.constraints()
        self.value = value
        self.problem = cp.Problem(cp.Minimize(value + self.penalty), self.constraints)
        self._refine_problem: cp.Problem | None = None
        self._built = True

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

    def _refiner(self) -> tuple[cp.Problem, cp.Parameter]:
        """Second stage: the best average among models no worse than stage 1 for any group."""
        if self._refine_problem is None:
            self._refine_level = cp.Parameter(self.n_groups, name="refine_level")
            self._refine_problem = cp.Problem(
                cp.Minimize(self.shares @ self.L + self.penalty),
                self.constraints + [self.L <= self._refine_level],
            )
        return self._refine_problem, self._refine_level

    def _helper(self, key: str, sharing: str, objective: str) -> ExactProblem:
        if key not in self._helpers:
            self._helpers[key] = ExactProblem(
                self.X,
                self.y,
                self.tasks,
                self.w,
                self.n_groups,
                loss=self.loss,
                sharing=sharing,
                objective=objective,
                n_outputs=self.n_outputs,
                task=self.task,
                group_names=self.group_names,
            )
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
            helper = self._helper("ideal", self.sharing_name, "weighted")
            ideal = np.empty(self.n_groups)
            for g in range(self.n_groups):
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
        when ``max_time`` is given: SQP keeps no time limit). With ``"CLARABEL"``,
        ``minimax`` and ``chebyshev`` run CLARABEL to a 1e-6 gap and polish its answer by
        the same SQP (:meth:`_polish`). The second stage of ``minimax`` and
        ``chebyshev`` is solved by SQP wherever it applies.
        """
        # SQP keeps no time limit: with max_time the chain (which obeys it) solves
        smooth_first = solver.lower() == "auto" and max_time is None
        make_objective(self.objective_name).check_knobs(self.n_groups, **knobs)  # before any fit
        if not self._built:
            self._build()
        self.alpha.value, self.strength.value = float(alpha), float(sharing_strength)
        extra: dict[str, Any] = {}
        if "ideal" in self.objective.needs:
            extra["ideal"] = self.ideal_point(alpha, sharing_strength, solver)
        if "reference" in self.objective.needs:
            extra["reference"] = self.reference_losses(reference, alpha, sharing_strength, solver)
        solver = "CLARABEL" if solver.lower() == "auto" else solver
        self.objective.set_values(self.n_groups, **knobs, **extra)
        chain = default_chain(solver)
        if "linearization" in self.objective.needs:
            return self._solve_convex_concave(alpha, sharing_strength, solver, chain, max_time)
        smooth = smooth_stage1(self) if smooth_first else None
        if smooth is not None:
            info = {**_info(smooth, stage="main"), "objective": smooth["objective"]}
        else:
            polish = chain[0].name == "CLARABEL" and polishable(self)
            steps = [CLARABEL_LOOSE, *chain[1:]] if polish else chain
            first = solve_chain(self.problem, steps, max_time=max_time, ignore_dpp=self._no_dpp)
            if first.status == INFEASIBLE:
                self._raise_infeasible(solver, first.attempts)
            self._check(first)
            value = None
            if polish and len(first.attempts) == 1:  # the loose step answered: polish it
                first, value = self._polish(first, chain[0], max_time)
            warn_not_optimal(first, max_time)
            info = _info(first, stage="main")
            info["objective"] = float(self.problem.value) if value is None else value
        newton_stage(self, info)  # unconstrained smooth objectives: to the rounding floor
        if self.objective.refine and self.n_groups > 1:
            info = self._refine(chain, max_time, info)
        coef, intercept = self.sharing.unpack()
        losses = group_mean_losses(
            self.loss, self.X, self.y, self.tasks, self.w, coef, intercept, self.n_groups
        )
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

    def _group_outputs(self, coef: np.ndarray, intercept: np.ndarray) -> list[np.ndarray]:
        """Numpy model outputs on each group's rows, in the order of the cvxpy blocks."""
        out = []
        for g in range(self.n_groups):
            rows = np.flatnonzero(self.tasks == g)
            z = self.X[rows] @ coef[g] + intercept[g]
            out.append(z[:, 0] if self.n_outputs == 1 else z)
        return out

    def _solve_convex_concave(self, alpha, strength, solver, chain, max_time) -> FitResult:
        """Convex-concave procedure for ``gap`` (see fairmtl.objectives._gap)."""
        start = self._helper("gap-start", self.sharing_name, "minimax")
        fit = start.solve(alpha=alpha, sharing_strength=strength, solver=solver)
        coef, intercept = fit.coef, fit.intercept
        targets = [self.y[self.tasks == g] for g in range(self.n_groups)]
        previous, attempts, total_time, n_iter = np.inf, [], 0.0, 0
        rho = 1.0
        while n_iter < CCP_MAX_ITER:
            n_iter += 1
            self.objective.rho.value = rho
            self.objective.linearize(self._group_outputs(coef, intercept), targets, self.loss)
            result = solve_chain(self.problem, chain, max_time=max_time, ignore_dpp=self._no_dpp)
            attempts += result.attempts
            total_time += result.time
            self._check(result)
            coef, intercept = self.sharing.unpack()
            value = float(self.problem.value)
            slack = float(self.objective.slack.value)
            if slack <= 1e-9 and abs(previous - value) <= CCP_TOL * max(1.0, abs(value)):
                break
            previous = value
            rho = min(rho * 10.0, 1e6)
        if float(self.objective.slack.value) > 1e-7:
            losses = group_mean_losses(
                self.loss, self.X, self.y, self.tasks, self.w, coef, intercept, self.n_groups
            )
            gap_now = float(np.max(losses - self.shares @ losses))
            raise InfeasibleError(MSG_GAP_INFEASIBLE.format(gap=gap_now), min_feasible=gap_now)
        losses = group_mean_losses(
            self.loss, self.X, self.y, self.tasks, self.w, coef, intercept, self.n_groups
        )
        warn_not_optimal(result, max_time)
        info = _info(result, stage="main")
        info.update(
            method="convex-concave",
            ccp_iterations=n_iter,
            attempts=attempts,
            time=total_time + fit.solver_info["time"],
            objective=value,
        )
        return FitResult(coef, intercept, losses, info)

    def _refine(self, chain, max_time, info: dict) -> dict:
        """Second, lexicographic stage (after Martinez et al. 2020, "Minimax Pareto Fairness").

        Stage 1 minimised the objective ``F(L) + R`` (for ``minimax`` the worst group loss
        plus the penalty). Its guarantee to each group is kept: for ``minimax`` every
        group's loss stays at most the stage-1 model's worst loss ``t*``; for
        ``chebyshev`` each group's weighted excess over the ideal point stays at most the
        stage-1 level (both up to a relative slack of ``REFINE_TOL``). Among the models
        that keep it, the one with the lowest **average loss + penalty** is returned.

        That model's own ``F(L) + R`` can exceed the stage-1 optimum: the second stage may
        spend penalty to lower the losses of groups that do not bind. ``info["objective"]``
        is therefore the returned model's own value and ``info["stage1_objective"]`` the
        optimum of stage 1. If the second solve fails, the stage-1 optimum is kept,
        ``info["refined"]`` is False, ``info["refine_status"]`` says why, and a warning
        is raised.
        """
        coef, intercept = self.sharing.unpack()
        stage1 = group_mean_losses(
            self.loss, self.X, self.y, self.tasks, self.w, coef, intercept, self.n_groups
        )
        level = self.objective.refine_bounds(stage1)
        bounds = level + REFINE_TOL * np.maximum(1.0, np.abs(level))
        info["stage1_objective"] = info["objective"]
        smooth = smooth_stage2(self, bounds, coef, intercept)
        if smooth is not None:
            info.update(refine_attempts=[smooth], refined=True, refine_status=OPTIMAL)
            info["time"] += smooth["time"]
            info["objective"] = float(self.value.value) + float(self.penalty.value)
            return info
        problem, param = self._refiner()
        param.value = bounds
        saved = {v.id: v.value for v in self.problem.variables()}
        second = solve_chain(
            problem, chain[:2], max_time=max_time, stop_on_infeasible=False, ignore_dpp=self._no_dpp
        )
        info["refine_attempts"] = second.attempts
        accepted = second.status in SOLUTION_PRESENT
        if accepted and second.status != OPTIMAL:
            # an inaccurate second stage is kept only if it provably keeps the guarantee
            coef, intercept = self.sharing.unpack()
            losses = group_mean_losses(
                self.loss, self.X, self.y, self.tasks, self.w, coef, intercept, self.n_groups
            )
            accepted = bool(np.all(losses <= param.value + 1e-9))
        if not accepted:
            for v in self.problem.variables():
                v.value = saved[v.id]
            info["refined"] = False
            info["refine_status"] = second.status
            why = f"status {second.status!r}" if second.status in SOLUTION_PRESENT else None
            reason = why or "; ".join(
                f"{a['solver']}: {a['error'] or a['raw_status']}" for a in second.attempts
            )
            if second.status in SOLUTION_PRESENT:
                reason += ", and its point breaks a group's guarantee"
            warn_refine(self.objective_name, failed=reason)
            return info
        if second.status != OPTIMAL:
            warn_refine(self.objective_name, solver=second.solver)
        info["refined"] = True
        info["refine_status"] = second.status
        info["time"] += second.time
        # the returned model's own objective (worst loss + penalty for minimax)
        info["objective"] = float(self.value.value) + float(self.penalty.value)
        return info

    def _check(self, result) -> None:
        if result.status in SOLUTION_PRESENT:
            return
        if result.status == UNBOUNDED:
            raise SolverFailedError(MSG_UNBOUNDED.format(alpha=self.alpha.value))
        summary = "; ".join(
            f"{a['solver']}: {a['error'] or a['raw_status']}" for a in result.attempts
        )
        if any(a.get("limit") for a in result.attempts):
            summary += "; 'user_limit' is a time or iteration limit: raise max_time"
        note = target_scale_note(self.y, self.task)
        if note:
            raise SolverFailedError(MSG_SOLVER_FAILED_SCALE.format(attempts=summary, note=note))
        raise SolverFailedError(MSG_SOLVER_FAILED.format(attempts=summary, alpha=self.alpha.value))

    def _raise_infeasible(self, solver: str, attempts: list) -> None:
        """Diagnose infeasible loss bounds: which groups, and the smallest feasible bound."""
        bounds = self.objective.loss_bounds()
        if bounds is None and "epsilon" not in self.objective.knobs:
            summary = "; ".join(f"{a['solver']}: {a['raw_status']}" for a in attempts)
            note = target_scale_note(self.y, self.task) or (
                "Try scaling the features, a larger alpha, or solver='dual'."
            )
            raise SolverFailedError(
                MSG_NUMERICAL_INFEASIBLE.format(
                    objective=self.objective_name, attempts=summary, note=note
                )
            )
        if bounds is None:
            raise InfeasibleError(
                f"The {self.objective_name!r} constraints cannot be met by any model; "
                "loosen epsilon."
            )
        helper = self._helper("diagnose", self.sharing_name, "chebyshev")
        # min over models of max_g (L_g - bound_g): the smallest uniform shift that is feasible
        helper_fit = helper._solve_shifted(bounds, solver)
        no_harm = self.objective_name == "no_harm"
        reference = self.objective.reference_losses if no_harm else None
        raise infeasible_bounds_error(
            helper_fit.group_losses, bounds, self.group_names, reference=reference
        )

    def _solve_shifted(self, shift: np.ndarray, solver: str) -> FitResult:
        """Minimise ``max_g (L_g - shift_g)`` with a negligible ridge (no refinement)."""
        if not self._built:
            self._build()
        self.alpha.value, self.strength.value = 1e-8, 0.0
        self.objective.set_values(self.n_groups, preference=1.0, ideal=shift)
        result = solve_chain(self.problem, default_chain(solver), ignore_dpp=self._no_dpp)
        self._check(result)
        coef, intercept = self.sharing.unpack()
        losses = group_mean_losses(
            self.loss, self.X, self.y, self.tasks, self.w, coef, intercept, self.n_groups
        )
        return FitResult(coef, intercept, losses, _info(result, stage="diagnose"))


def _info(result, *, stage: str) -> SolverInfo:
    if isinstance(result, dict):  # one attempt of a smooth stage (always optimal)
        result = ChainResult(
            OPTIMAL, result["solver"], result["iterations"], result["time"], [result]
        )
    return solver_record(
        status=result.status,
        solver=result.solver,
        path="exact",
        time=result.time,
        gap=None,
        fallback_from=result.fallback_from,
        iterations=result.iterations,
        attempts=list(result.attempts),
        stage=stage,
    )
