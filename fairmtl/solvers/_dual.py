"""The dual path: certified group-as-task fits on data too large for one conic program.

:class:`DualProblem` takes the same arguments as :class:`~fairmtl.solvers.ExactProblem`
and returns the same :class:`~fairmtl.solvers.FitResult`, for the objectives
``average``, ``balanced``, ``minimax``, ``tilted``, ``chebyshev``, ``bounded`` and
``no_harm``, the sharing schemes ``shared``, ``independent`` and ``offset``, and smooth
single-output losses (logistic, squared, huber) with ``alpha > 0``; and for one shared
model, the rate objectives ``demographic_parity``, ``equal_opportunity`` and
``equalized_odds`` (linear constraints on mean scores: :mod:`fairmtl.solvers._parity`).

How it solves them. Each objective is ``min_theta F(L(theta)) + R(theta)`` with group
losses ``L`` and the sharing penalty ``R``; its Lagrangian dual is a concave function of
one weight per group (:mod:`fairmtl.solvers._master`). An **oracle** on all rows
(:mod:`fairmtl.solvers._oracle`: L-BFGS, warm-started) evaluates it; a **master** in
cvxpy (a level method, compiled once) chooses the next weights.

What is certified. ``solver_info["lower_bound"]`` is a value of the dual function
minus the oracle's proven error (weak duality: no model does better);
``solver_info["upper_bound"]`` (= ``"objective"``) is the objective of the returned
model (for constrained objectives, a model checked to meet every bound exactly).
``solver_info["gap"]`` is their difference and ``"relative_gap"`` that over the upper
bound; the status is ``"optimal"`` only when the relative gap is at most ``tol`` (default
``DUAL_TOL`` = 1e-6), or the gap is negligible for the size of the group losses (an
objective shifted near 0, chebyshev's; see :func:`fairmtl.solvers._dualrun.gap_closed`);
``"inaccurate"`` otherwise, with the bounds still valid. Each stage's fit and this
record are made in :mod:`fairmtl.solvers._dual_record`.

``minimax`` and ``chebyshev`` return, like the exact path, the Pareto-efficient
refinement: the model with the lowest ``average loss + penalty`` among those whose group
losses stay within the stage-1 guarantee. Because the stage-1 model is only known to
within its gap, the guarantee here is ``L_g <= level_g + max(1e-6 * max(1, |level_g|), gap)``
where ``level`` comes from the certified stage-1 model. The refinement may spend penalty
to lower the losses of groups that do not bind, so the certificate is reported for the
**returned** model: ``"objective"`` and ``"upper_bound"`` are its own objective (worst
loss + penalty for minimax), ``"lower_bound"`` is stage 1's certified bound on the
optimum, and ``"gap"`` their difference (it includes what the refinement spent).
``"stage1_objective"``, ``"stage1_gap"`` and ``"stage1_relative_gap"`` describe stage 1,
whose relative gap is what ``tol`` and the status refer to; ``"refine_gap"`` and
``"refine_status"`` certify the second stage (a failed or uncertified second stage warns).
A result that is not certified within ``tol`` has status ``"inaccurate"`` and raises a
:class:`~fairmtl.exceptions.SolverInaccurateWarning` saying why the solve stopped.
Infeasible loss bounds raise
:class:`~fairmtl.exceptions.InfeasibleError` with the blocking groups and the smallest
feasible epsilon, found by the same shifted-minimax diagnosis as the exact path.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from fairmtl.losses import Loss
from fairmtl.objectives import OBJECTIVES, make_objective
from fairmtl.solvers._bounds import solve_bounded
from fairmtl.solvers._certificate import CURVATURE_BOUND
from fairmtl.solvers._compress import grouped_rows
from fairmtl.solvers._dual_record import dual_result, level_fit, oracle_fit
from fairmtl.solvers._dual_smooth import SMOOTH_SOLVER, smooth_applies, smooth_refine, smooth_stage1
from fairmtl.solvers._dualrun import DualRun, closed, fixed_fit
from fairmtl.solvers._fit import FitResult
from fairmtl.solvers._grouped import GroupedData
from fairmtl.solvers._master import DualForm, LevelResult
from fairmtl.solvers._notices import check_target_scale, warn_refine
from fairmtl.solvers._oracle import LinearOracle
from fairmtl.solvers._pareto_stage import REFINE_TOL
from fairmtl.solvers._parity import PARITY_OBJECTIVES, parity_rows, solve_parity
from fairmtl.solvers._status import ERROR, INACCURATE, OPTIMAL
from fairmtl.solvers._threads import one_blas_thread

__all__ = ["DualProblem", "dual_unsupported", "DUAL_OBJECTIVES", "DUAL_SHARING", "DUAL_TOL"]

#: the objectives with a plain form (:meth:`fairmtl.objectives.Objective.form`)
DUAL_OBJECTIVES = frozenset(name for name, cls in OBJECTIVES.items() if cls.form_kind)
DUAL_SHARING = frozenset({"shared", "independent", "offset"})
#: the relative gap at which a solve is certified "optimal", unless the caller asks for
#: another (cross-validation's fold solves ask for a looser one)
DUAL_TOL = 1e-6

MSG_DUAL_UNSUPPORTED = (
    "The dual solver does not handle {what}. Use solver='CLARABEL' (the exact path){hint}."
)


def dual_unsupported(
    loss: Loss, sharing: str, objective: str, n_outputs: int, alpha: float
) -> str | None:
    """Why the dual path cannot solve a problem (a message), or None when it can."""
    if objective not in DUAL_OBJECTIVES:
        what, hint = f"objective={objective!r}", ""
    elif sharing not in DUAL_SHARING:
        what, hint = f"sharing={sharing!r}", " or sharing='offset'"
    elif objective in PARITY_OBJECTIVES and sharing != "shared":
        what = f"objective={objective!r} with sharing={sharing!r}"
        hint = " or sharing='shared'"
    elif loss.name not in CURVATURE_BOUND or n_outputs != 1:
        what = f"loss={loss.name!r} (it needs a smooth loss with one output)"
        hint = " or a logistic, squared or huber loss"
    elif not alpha > 0:
        what, hint = "alpha=0 (its certificate needs the ridge penalty)", " or alpha > 0"
    else:
        return None
    return MSG_DUAL_UNSUPPORTED.format(what=what, hint=hint)


class DualProblem:
    """A group-as-task problem solved through its dual, with a certified gap.

    The dual path's :class:`~fairmtl.solvers.Problem` (the protocol it shares with
    :class:`~fairmtl.solvers.ExactProblem`).

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        Encoded targets: {-1, +1} (binary) or floats.
    tasks : ndarray of shape (n_samples,)
    sample_weight : ndarray of shape (n_samples,)
    n_groups : int
    loss : Loss
    sharing : {"shared", "independent", "offset"}
    objective : str
    n_outputs : int
        Must be 1.
    task : str
    group_names : sequence of str, optional
    tol : float, default=DUAL_TOL (1e-6)
        Relative gap at which the solve stops with status "optimal".
    max_rounds : int, default=300
        Most oracle calls per stage.

    Notes
    -----
    Memory: the rows once, sorted by group (a copy only if they are not sorted; CSR when
    mostly zeros; float32 when the input is float32 or every value is exact in float32),
    plus O(n_samples) work vectors and the bundle's parameter vectors.
    """

    #: solve minimax and chebyshev of small models by the smooth stages (SQP with exact
    #: Hessians, certified by one oracle fit; :mod:`fairmtl.solvers._dual_smooth`) rather
    #: than the level method: tens of passes over the rows instead of hundreds (measured
    #: in memory on 1,000,000 rows x 50 features x 50 groups, shared minimax: 8-12 s
    #: against 596 s); the level method where they fail
    smooth_stages = True

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
        tol: float = DUAL_TOL,
        max_rounds: int = 300,
    ) -> None:
        check_target_scale(y, task)
        self._inputs = (X, y, tasks, sample_weight)
        self.n_groups, self.loss, self.sharing_name = n_groups, loss, sharing
        self.objective_name, self.n_outputs, self.task = objective, n_outputs, task
        self.group_names = (
            list(map(str, group_names)) if group_names is not None else list(range(n_groups))
        )
        self.tol, self.max_rounds = tol, max_rounds
        group_weight = np.bincount(tasks, weights=sample_weight, minlength=n_groups)
        self.shares = group_weight / group_weight.sum()
        self._data: GroupedData | None = None
        self._oracles: dict[str, LinearOracle] = {}
        self._cache: dict[tuple, Any] = {}

    def _oracle(self, sharing: str) -> LinearOracle:
        if self._data is None:
            self._data = grouped_rows(*self._inputs, self.n_groups, loss=self.loss,
                                      n_outputs=self.n_outputs, objective=self.objective_name)  # fmt: skip
            self._inputs = None  # the sorted copy (or the caller's array) is the one kept
        if sharing not in self._oracles:
            self._oracles[sharing] = LinearOracle(self._data, self.loss, sharing)
        return self._oracles[sharing]

    # -- public ----------------------------------------------------------------------
    @property
    def warm_start(self):
        """The point the next average or balanced solve starts from: the last answer, or
        one set from a similar problem (the same groups and features; cross-validation
        folds). None: from zero."""
        return self._cache.get("warm")

    @warm_start.setter
    def warm_start(self, point) -> None:
        self._cache["warm"] = point

    def solve(
        self,
        *,
        alpha: float,
        sharing_strength: float = 0.0,
        solver: str = "CLARABEL",
        max_time: float | None = None,
        reference: str = "pooled",
        tol: float | None = None,
        max_rounds: int | None = None,
        **knobs: Any,
    ) -> FitResult:
        """Solve for the given knob values; ``solver`` is the master's cvxpy solver."""
        why = dual_unsupported(
            self.loss, self.sharing_name, self.objective_name, self.n_outputs, alpha
        )
        if why:
            raise ValueError(why)
        start = time.perf_counter()
        oracle = self._oracle(self.sharing_name)
        oracle.set_penalty(alpha, sharing_strength)
        run = DualRun(
            oracle,
            tol=self.tol if tol is None else tol,
            max_rounds=self.max_rounds if max_rounds is None else max_rounds,
            deadline=start + max_time if max_time else np.inf,
            solver="CLARABEL" if solver.lower() in ("auto", "dual") else solver.upper(),
        )
        # one BLAS thread: L-BFGS-B's tiny BLAS calls stall behind spinning threads of
        # the matrix products (measured: 10 ms instead of 7 us per L-BFGS step)
        with one_blas_thread():
            fit, info = self._dispatch(run, alpha, sharing_strength, reference, knobs)
            return dual_result(run, fit, info, self.n_groups, start, max_time)

    def reference_losses(
        self, reference: str, alpha: float, strength: float, solver: str | None = None
    ) -> np.ndarray:
        """Per-group training losses of the pooled or independent reference fit."""
        return self._reference(reference, alpha, strength)[0]

    def ideal_point(self, alpha: float, strength: float, solver: str | None = None) -> np.ndarray:
        """Each group's own minimum loss under this model and penalty: one oracle fit of
        ``L_g + R`` per group on that group's rows alone (no other group's rows enter
        ``L_g``; the penalty keeps the whole problem's shares)."""
        key = ("ideal", alpha, strength)
        if key not in self._cache:
            oracle = self._oracle(self.sharing_name)
            oracle.set_penalty(alpha, strength)
            start = fixed_fit(oracle, self.shares, None, self.tol)[0]
            ideal = np.empty(self.n_groups)
            for g in range(self.n_groups):
                own = LinearOracle(oracle.data.group_subset(g), self.loss, self.sharing_name)
                own.penalty = oracle.penalty
                e = np.zeros(self.n_groups)
                e[g] = 1.0
                ideal[g] = fixed_fit(own, e, start, self.tol, target=1e-12)[1].losses[g]
            self._cache[key] = ideal
        return self._cache[key]

    # -- objectives ------------------------------------------------------------------
    def _dispatch(self, run: DualRun, alpha, strength, reference, knobs):
        """Solve the objective's plain form (:meth:`fairmtl.objectives.Objective.form`)
        by the algorithm of its kind; returns the fit and the extra inputs it used."""
        objective = make_objective(self.objective_name)
        objective.check_task(self.task)
        objective.check_knobs(self.n_groups, **knobs)  # before the extra inputs' fits
        extra: dict[str, Any] = {}
        seeds: list = []
        if "ideal" in objective.needs:
            extra["ideal"] = self.ideal_point(alpha, strength)
            run.oracle.set_penalty(alpha, strength)
        if "reference" in objective.needs:
            ref_losses, ref_point, ref_sharing = self._reference(reference, alpha, strength)
            run.oracle.set_penalty(alpha, strength)
            extra["reference"] = ref_losses
            if ref_sharing == "shared" or self.sharing_name != "shared":
                point = _as_sharing(ref_point, self.sharing_name, self.n_groups)
                seeds.append((point, *run.evaluate(point)))
        form = objective.form(self.n_groups, self.shares, **knobs, **extra)
        if form.kind == "fixed":
            # a path of penalties (cross-validation, a sweep) starts from the last answer
            point, answer = fixed_fit(run.oracle, form.weights, self.warm_start, run.tol, run=run)
            self.warm_start = point
            return oracle_fit(point, answer, answer.value - answer.error, self.tol), extra
        if form.kind == "rates":
            return self._parity(run, form.epsilon, alpha), extra
        if form.kind == "bounded":
            result = solve_bounded(
                run, self.shares, form.bounds, seeds, self.group_names, reference=form.reference
            )
            return level_fit(result, self.tol), extra
        # "max" and "tilted": the level method, or where passes are dear the smooth stages
        smooth = self.smooth_stages and smooth_applies(self, form, alpha)
        stage1 = smooth_stage1(self, run, form) if smooth else None
        if stage1 is None:
            smooth, stage1 = False, run.level(DualForm.of(form), form.start)
        if not form.refine:
            return level_fit(stage1, self.tol), extra
        level = form.refine_bounds(stage1.losses)
        return self._refine(run, stage1, level, form.primal, smooth), extra

    def _parity(self, run: DualRun, eps: float, alpha: float) -> dict[str, Any]:
        """Average loss with each group's mean score within ``eps`` (shared model)."""
        name = self.objective_name
        rows_key, warm_key = ("parity_rows", name), ("parity_warm", name, alpha)
        if rows_key not in self._cache:
            self._cache[rows_key] = parity_rows(run.oracle.data, name)
        # a sweep re-solves the same problem for other epsilons: start from the last one
        result = solve_parity(
            run.oracle,
            self.shares,
            self._cache[rows_key],
            float(eps),
            tol=run.tol,
            max_calls=run.max_rounds,
            deadline=run.deadline,
            warm=self._cache.get(warm_key),
        )
        self._cache[warm_key] = result.state
        run.calls += result.calls
        run.rounds += result.calls
        run.evaluations += result.evaluations
        return {
            "point": result.point,
            "losses": result.losses,
            "upper": result.upper,
            "lower": result.lower,
            "converged": result.converged,
            "weights": result.multipliers,
            "refined": False,
            "solver": "dual[L-BFGS oracle, L-BFGS-B multiplier ascent]",
        }

    def _reference(self, reference: str, alpha: float, strength: float):
        key = ("reference", reference, alpha, strength)
        if key not in self._cache:
            sharing = {"pooled": "shared", "independent": "independent"}.get(reference)
            if sharing is None:
                raise ValueError(
                    f"Unknown reference {reference!r}. Choose 'pooled' or 'independent'."
                )
            oracle = self._oracle(sharing)
            oracle.set_penalty(alpha, strength)
            point, answer = fixed_fit(oracle, self.shares, None, self.tol)
            self._cache[key] = (answer.losses, point, sharing)
        return self._cache[key]

    def _refine(
        self, run: DualRun, stage1: LevelResult, level: np.ndarray, primal, smooth: bool = False
    ):
        """Second stage: the lowest ``average loss + penalty`` among the models that keep
        every group's stage-1 guarantee ``L_g <= level_g + slack`` (module docstring).
        ``primal`` is the objective of stage 1, to report the returned model's own value;
        ``smooth``: try the smooth stages' solve first (:mod:`fairmtl.solvers._dual_smooth`)."""
        fit = level_fit(stage1, self.tol)
        if smooth:
            fit["solver"] = SMOOTH_SOLVER
        if self.n_groups == 1 or stage1.point is None:
            return fit
        slack = np.maximum(REFINE_TOL * np.maximum(1.0, np.abs(level)), max(stage1.gap, 0.0))
        bounds = level + slack
        found = smooth_refine(self, run, stage1, bounds) if smooth else None
        if found is not None:
            return {**fit, **found, "primal": primal}
        seed = (stage1.point, stage1.losses, stage1.penalty)
        second = solve_bounded(
            run, self.shares, bounds, [seed], self.group_names, direction=stage1.weights
        )
        fit["primal"] = primal
        fit["refined"] = second.point is not None
        if not fit["refined"]:
            fit["refine_status"] = ERROR
            warn_refine(self.objective_name, failed="no point met every group's guarantee")
            return fit
        fit["point"], fit["losses"] = second.point, second.losses
        fit["refine_gap"] = second.gap
        fit["refine_status"] = OPTIMAL if closed(second, run.tol) else INACCURATE
        if fit["refine_status"] != OPTIMAL:
            warn_refine(self.objective_name, solver=f"dual, stopped: {second.stopped}")
        return fit


# -- small helpers -------------------------------------------------------------------------
def _as_sharing(point, sharing: str, n_groups: int):
    """A reference point in the parameter layout of ``sharing`` (pooled -> every group)."""
    coef, intercept = point
    blocks = 1 if sharing == "shared" else n_groups
    if coef.shape[0] == blocks:
        return coef.copy(), intercept.copy()
    return np.repeat(coef, blocks, axis=0), np.repeat(intercept, blocks)
