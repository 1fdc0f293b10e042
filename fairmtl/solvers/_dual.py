"""The dual path: certified group-as-task fits on data too large for one conic program.

:class:`DualProblem` takes the same arguments as :class:`~fairmtl.solvers.ExactProblem`
and returns the same :class:`~fairmtl.solvers.FitResult`, for the objectives
``average``, ``balanced``, ``minimax``, ``tilted``, ``chebyshev``, ``bounded`` and
``no_harm``, the sharing schemes ``shared``, ``independent`` and ``offset``, and smooth
single-output losses (logistic, squared, huber) with ``alpha > 0``.

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
bound; the status is ``"optimal"`` only when the relative gap is at most ``tol``
(``"inaccurate"`` otherwise, with the bounds still valid).

``minimax`` and ``chebyshev`` return, like the exact path, the Pareto-efficient
refinement: the model with the lowest ``average loss + penalty`` among those whose group
losses stay within the stage-1 guarantee. Because the stage-1 model is only known to
within its gap, the guarantee here is ``L_g <= level_g + max(1e-6 * max(1, |level_g|), gap)``
where ``level`` comes from the certified stage-1 model. ``"gap"`` and ``"objective"``
are stage 1's (the minimax certificate, as ``"objective"`` is on the exact path);
``"refine_gap"`` certifies the second stage. Infeasible loss bounds raise
:class:`~fairmtl.exceptions.InfeasibleError` with the blocking groups and the smallest
feasible epsilon, found by the same shifted-minimax diagnosis as the exact path.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import logsumexp
from threadpoolctl import threadpool_limits

from fairmtl.exceptions import InfeasibleError
from fairmtl.losses import Loss
from fairmtl.objectives._base import MSG_KNOB_RANGE, MSG_KNOB_REQUIRED, broadcast_groups
from fairmtl.solvers._cvxpy import MSG_INFEASIBLE, REFINE_TOL, FitResult
from fairmtl.solvers._master import DualForm, LevelMaster, LevelResult, OraclePoint, run_level
from fairmtl.solvers._oracle import CURVATURE_BOUND, GroupedData, LinearOracle
from fairmtl.solvers._status import INACCURATE, OPTIMAL

__all__ = ["DualProblem", "dual_unsupported", "DUAL_OBJECTIVES", "DUAL_SHARING"]

DUAL_OBJECTIVES = frozenset(
    {"average", "balanced", "minimax", "tilted", "chebyshev", "bounded", "no_harm"}
)
DUAL_SHARING = frozenset({"shared", "independent", "offset"})
#: ridge of the infeasibility diagnosis, as on the exact path
DIAGNOSE_ALPHA = 1e-8

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
    elif loss.name not in CURVATURE_BOUND or n_outputs != 1:
        what = f"loss={loss.name!r} (it needs a smooth loss with one output)"
        hint = " or a logistic, squared or huber loss"
    elif not alpha > 0:
        what, hint = "alpha=0 (its certificate needs the ridge penalty)", " or alpha > 0"
    else:
        return None
    return MSG_DUAL_UNSUPPORTED.format(what=what, hint=hint)


def _linear_combine(points: list, weights: np.ndarray):
    coef = sum(w * p[0] for w, p in zip(weights, points, strict=True))
    intercept = sum(w * p[1] for w, p in zip(weights, points, strict=True))
    return coef, intercept


@dataclass
class _Run:
    """State of one solve: the oracle, its warm start, the collected cuts, counters."""

    oracle: LinearOracle
    tol: float
    max_rounds: int
    deadline: float
    solver: str
    warm: tuple[np.ndarray, np.ndarray] | None = None
    cuts: list[tuple[np.ndarray, float, Any]] = field(default_factory=list)
    calls: int = 0
    evaluations: int = 0
    rounds: int = 0
    master_solves: int = 0
    master_time: float = 0.0

    def ask(self, weights: np.ndarray, target: float, certify: bool = True) -> OraclePoint:
        answer = self.oracle.solve(weights, self.warm, target=target, certify=certify)
        self.warm = (answer.coef, answer.intercept)
        self.calls += 1
        self.evaluations += answer.evaluations
        point = (answer.coef, answer.intercept)
        self.cuts.append((answer.losses, answer.penalty, point))
        out = OraclePoint(answer.losses, answer.penalty, answer.value, answer.error, point)
        out.ev = answer.evaluations
        return out

    def evaluate(self, point) -> tuple[np.ndarray, float]:
        return self.oracle.evaluate(*point)

    def master(self, simplex: bool, entropy: bool = False) -> LevelMaster:
        G = self.oracle.data.n_groups
        capacity = int(np.clip(3 * G + 20, 40, 250))
        master = LevelMaster(G, simplex, entropy, capacity, _linear_combine, self.solver)
        for losses, penalty, point in self.cuts[-capacity // 2 :]:
            master.add(losses, penalty, point)
        return master

    def level(self, form: DualForm, y0: np.ndarray, master=None, **kw) -> LevelResult:
        master = master or self.master(form.simplex, form.inv_tilt > 0)
        certified = kw.pop("certified", True)
        result = run_level(
            master,
            form,
            lambda w, target: self.ask(w, target, certify=certified),
            self.evaluate,
            y0,
            tol=self.tol,
            max_rounds=kw.pop("max_rounds", self.max_rounds),
            deadline=self.deadline,
            certified=certified,
            **kw,
        )
        self.rounds += result.rounds
        self.master_solves += master.solves
        self.master_time += master.time
        return result


class DualProblem:
    """A group-as-task problem solved through its dual, with a certified gap.

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
    tol : float, default=1e-4
        Relative gap at which the solve stops with status "optimal".
    max_rounds : int, default=300
        Most oracle calls per stage.

    Notes
    -----
    Memory: the rows once, sorted by group (a copy only if they are not sorted; CSR when
    mostly zeros), plus O(n_samples) work vectors and the bundle's parameter vectors.
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
        tol: float = 1e-4,
        max_rounds: int = 300,
    ) -> None:
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
            self._data = GroupedData(*self._inputs, self.n_groups)
            self._inputs = None  # the sorted copy (or the caller's array) is the one kept
        if sharing not in self._oracles:
            self._oracles[sharing] = LinearOracle(self._data, self.loss, sharing)
        return self._oracles[sharing]

    # -- public ----------------------------------------------------------------------
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
        run = _Run(
            oracle,
            tol=self.tol if tol is None else tol,
            max_rounds=self.max_rounds if max_rounds is None else max_rounds,
            deadline=start + max_time if max_time else np.inf,
            solver="CLARABEL" if solver.lower() in ("auto", "dual") else solver.upper(),
        )
        # one BLAS thread: L-BFGS-B's tiny BLAS calls stall behind spinning threads of
        # the matrix products (measured: 10 ms instead of 7 us per L-BFGS step)
        with threadpool_limits(1, user_api="blas"):
            fit, info = self._dispatch(run, alpha, sharing_strength, reference, knobs)
            return self._result(run, fit, info, start)

    def reference_losses(
        self, reference: str, alpha: float, strength: float, solver: str | None = None
    ) -> np.ndarray:
        """Per-group training losses of the pooled or independent reference fit."""
        return self._reference(reference, alpha, strength)[0]

    def ideal_point(self, alpha: float, strength: float, solver: str | None = None) -> np.ndarray:
        """Each group's own minimum loss under this model and penalty (oracle fits)."""
        key = ("ideal", alpha, strength)
        if key not in self._cache:
            oracle = self._oracle(self.sharing_name)
            oracle.set_penalty(alpha, strength)
            start = self._fixed(oracle, self.shares, None)[0]
            ideal = np.empty(self.n_groups)
            for g in range(self.n_groups):
                e = np.zeros(self.n_groups)
                e[g] = 1.0
                ideal[g] = self._fixed(oracle, e, start, target=1e-12)[1].losses[g]
            self._cache[key] = ideal
        return self._cache[key]

    # -- objectives ------------------------------------------------------------------
    def _dispatch(self, run: _Run, alpha, strength, reference, knobs):
        name, G, rho = self.objective_name, self.n_groups, self.shares
        extra: dict[str, Any] = {}
        if name in ("average", "balanced"):
            lam = rho if name == "average" else np.full(G, 1.0 / G)
            point, answer = self._fixed(run.oracle, lam, None, run=run)
            return self._certified(point, answer, answer.value - answer.error), extra
        if name == "minimax":
            form = DualForm(np.zeros(G), np.ones(G), np.zeros(G), True, _max_primal)
            stage1 = run.level(form, rho.copy())
            return self._refine(run, stage1, np.full(G, stage1.losses.max())), extra
        if name == "tilted":
            tilt = _check_tilt(knobs.get("tilt"))
            form = DualForm(
                np.zeros(G), np.ones(G), np.zeros(G), True, _tilted_primal(tilt),
                inv_tilt=1.0 / tilt,
            )  # fmt: skip
            return self._as_fit(run.level(form, np.full(G, 1.0 / G))), extra
        if name == "chebyshev":
            pref = _check_preference(knobs.get("preference"), G)
            ideal = self.ideal_point(alpha, strength)
            run.oracle.set_penalty(alpha, strength)
            extra["ideal"] = ideal
            shift = pref * ideal
            form = DualForm(np.zeros(G), pref, -shift, True, _chebyshev_primal(pref, shift))
            stage1 = run.level(form, np.full(G, 1.0 / G))
            level = np.max(pref * stage1.losses - shift)
            loose = 1e6 * max(1.0, float(np.max(stage1.losses)))
            with np.errstate(divide="ignore", invalid="ignore"):
                bounds = np.where(pref > 0, (level + shift) / np.where(pref > 0, pref, 1), loose)
            return self._refine(run, stage1, bounds), extra
        eps = knobs.get("epsilon")
        if name == "bounded":
            if eps is None:
                raise ValueError(MSG_KNOB_REQUIRED.format(objective=name, knob="epsilon"))
            bounds = broadcast_groups(eps, G, "epsilon")
            return self._as_fit(self._bounded(run, bounds, [])), extra
        # no_harm
        ref_losses, ref_point, ref_sharing = self._reference(reference, alpha, strength)
        run.oracle.set_penalty(alpha, strength)
        extra["reference"] = ref_losses
        slack = broadcast_groups(0.0 if eps is None else eps, G, "epsilon")
        seeds = []
        if ref_sharing == "shared" or self.sharing_name != "shared":
            point = _as_sharing(ref_point, self.sharing_name, G)
            seeds.append((point, *run.evaluate(point)))
        result = self._bounded(run, ref_losses + slack, seeds, reference=ref_losses)
        return self._as_fit(result), extra

    def _fixed(self, oracle, lam, start, *, run: _Run | None = None, target=None):
        """One certified weighted fit (average, balanced, ideal point, reference)."""
        tol = self.tol if run is None else run.tol
        answer = oracle.solve(lam, start, target=target or 1e-3 * tol)
        if target is None and answer.error > 0.1 * tol * abs(answer.value):
            answer = oracle.solve(
                lam, (answer.coef, answer.intercept), target=0.05 * tol * abs(answer.value)
            )
        if run is not None:
            run.calls += 1
            run.rounds += 1
            run.evaluations += answer.evaluations
        return (answer.coef, answer.intercept), answer

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
            point, answer = self._fixed(oracle, self.shares, None)
            self._cache[key] = (answer.losses, point, sharing)
        return self._cache[key]

    def _refine(self, run: _Run, stage1: LevelResult, level: np.ndarray):
        """Second stage: the best average among models within the stage-1 guarantee."""
        fit = self._as_fit(stage1)
        if self.n_groups == 1 or stage1.point is None:
            return fit
        slack = np.maximum(REFINE_TOL * np.maximum(1.0, np.abs(level)), max(stage1.gap, 0.0))
        bounds = level + slack
        seed = (stage1.point, stage1.losses, stage1.penalty)
        second = self._bounded(run, bounds, [seed], refine=True)
        fit["refined"] = second.point is not None
        if fit["refined"]:
            fit["point"], fit["losses"] = second.point, second.losses
            fit["refine_gap"] = second.gap
            fit["refine_status"] = OPTIMAL if second.converged else INACCURATE
        return fit

    # -- loss bounds -----------------------------------------------------------------
    def _bounded(self, run: _Run, bounds, seeds, *, refine=False, reference=None):
        """``min rho.L + R`` s.t. ``L <= bounds``: phase 0 (unconstrained fit), phase 1
        (a strictly feasible point, needed for the multiplier cap and the primal repair),
        then the level method over multipliers ``y >= 0, sum y <= cap``."""
        G, rho = self.n_groups, self.shares

        def primal(losses, penalty):
            return float(rho @ losses) + penalty if np.all(losses <= bounds) else np.inf

        point0, answer0 = self._fixed(run.oracle, rho, run.warm, run=run)
        run.warm = point0
        lower0 = answer0.value - answer0.error
        if np.all(answer0.losses <= bounds):
            return LevelResult(
                lower0, answer0.value, point0, answer0.losses, answer0.penalty,
                np.zeros(G), 1, True, 0.0,
            )  # fmt: skip
        candidates = [*seeds, (point0, answer0.losses, answer0.penalty)]
        slater = _most_slack(candidates, bounds)
        if slater is None:
            slater = self._phase_one(run, bounds)
        if slater is None:
            slater = self._diagnose(run, bounds, reference)
        point_s, losses_s, penalty_s = slater
        slack = float(np.min(bounds - losses_s))
        cap = 1.1 * (primal(losses_s, penalty_s) - lower0) / slack + 1e-9
        form = DualForm(rho, np.ones(G), -bounds, False, primal, cap=cap, bounds=bounds)

        def repair(point, losses, penalty):
            return self._mix(run, (point, losses, penalty), slater, bounds)

        first = OraclePoint(answer0.losses, answer0.penalty, answer0.value, answer0.error, point0)
        result = run.level(form, np.zeros(G), repair=repair, incumbent=slater, first=first)
        result.lower = max(result.lower, lower0)
        result.converged = result.converged or _closed(result, run.tol)
        return result

    def _phase_one(self, run: _Run, bounds):
        """Look for a strictly feasible point: minimise ``max_g (L_g - bound_g) + R``."""
        G = self.n_groups
        best: list[Any] = [None, 0.0]

        def on_point(point, losses, penalty):
            slack = float(np.min(bounds - losses))
            if slack > best[1]:
                best[:] = [(point, losses, penalty), slack]

        def stop(lower, upper):
            return best[0] is not None and upper - lower <= best[1]

        form = DualForm(np.zeros(G), np.ones(G), -bounds, True, _shifted_primal(bounds))
        run.level(form, np.full(G, 1.0 / G), on_point=on_point, stop=stop)
        return best[0]

    def _diagnose(self, run: _Run, bounds, reference):
        """No strictly feasible point with the problem's penalty: decide as the exact
        path does, from ``min max_g (L_g - bound_g)`` with a negligible ridge."""
        G, oracle = self.n_groups, run.oracle
        alpha, strength = oracle.penalty.alpha, oracle.penalty.strength
        oracle.set_penalty(DIAGNOSE_ALPHA, 0.0)
        form = DualForm(np.zeros(G), np.ones(G), -bounds, True, _shifted_primal(bounds))
        master = run.master(True)
        master.cuts.clear()  # cuts of another penalty are not valid here
        result = run.level(
            form, np.full(G, 1.0 / G), master=master, certified=False,
            max_rounds=min(run.max_rounds, 150),
        )  # fmt: skip
        oracle.set_penalty(alpha, strength)
        excess = result.losses - bounds
        delta = float(excess.max())
        if delta < 0:
            return (result.point, *run.evaluate(result.point))
        near = max(1e-6, run.tol * max(1.0, float(np.max(np.abs(bounds)))))
        blocking = [self.group_names[g] for g in np.flatnonzero(excess >= delta - near)]
        if reference is not None:
            slack = float(np.max(bounds - reference))
            min_eps, note = slack + delta, ", as a slack over the reference losses"
        elif np.allclose(bounds, bounds[0]):
            min_eps, note = float(bounds[0] + delta), " (the minimax loss)"
        else:
            min_eps = float(result.losses.max())
            note = f" (the minimax loss); with per-group bounds, raise each by {delta:.6g}"
        raise InfeasibleError(
            MSG_INFEASIBLE.format(
                groups=", ".join(repr(g) for g in blocking), min_eps=min_eps, shift_note=note
            ),
            groups=blocking,
            min_feasible=min_eps,
        )

    def _mix(self, run: _Run, candidate, slater, bounds):
        """Move a point towards the strictly feasible one until every bound holds."""
        point, losses, _ = candidate
        point_s, losses_s, _ = slater
        over = losses - bounds
        if np.all(over <= 0):
            return candidate
        viol = over > 0
        tau = float(np.max(over[viol] / np.maximum(losses[viol] - losses_s[viol], 1e-300)))
        tau = min(1.0, tau * (1 + 1e-6) + 1e-12)
        while tau < 1.0:
            mixed = _linear_combine([point, point_s], np.array([1 - tau, tau]))
            new_losses, new_penalty = run.evaluate(mixed)
            if np.all(new_losses <= bounds):
                return mixed, new_losses, new_penalty
            tau = min(1.0, 2 * tau)
        return slater

    # -- results ---------------------------------------------------------------------
    def _as_fit(self, result: LevelResult) -> dict[str, Any]:
        return {
            "point": result.point,
            "losses": result.losses,
            "upper": result.upper,
            "lower": result.lower,
            "converged": result.converged or _closed(result, self.tol),
            "weights": result.weights,
            "refined": False,
        }

    def _certified(self, point, answer, lower) -> dict[str, Any]:
        gap = answer.value - lower
        return {
            "point": point,
            "losses": answer.losses,
            "upper": answer.value,
            "lower": lower,
            "converged": gap <= self.tol * abs(answer.value) or gap <= 1e-10,
            "weights": None,
            "refined": False,
        }

    def _result(self, run: _Run, fit: dict, extra: dict, start: float) -> FitResult:
        coef, intercept = fit["point"]
        G = self.n_groups
        if coef.shape[0] == 1 and G > 1:
            coef, intercept = np.repeat(coef, G, axis=0), np.repeat(intercept, G)
        losses = run.oracle.evaluate(*fit["point"])[0]
        upper, lower = float(fit["upper"]), float(fit["lower"])
        gap = upper - lower
        info = {
            "status": OPTIMAL if fit["converged"] else INACCURATE,
            "solver": f"dual[L-BFGS oracle, {run.solver} level master]",
            "fallback_from": [],
            "iterations": run.rounds,
            "time": time.perf_counter() - start,
            "attempts": [],
            "path": "dual",
            "gap": gap,
            "relative_gap": gap / max(abs(upper), 1e-300),
            "lower_bound": lower,
            "upper_bound": upper,
            "objective": upper,
            "certified": bool(np.isfinite(lower)),
            "stage": "main",
            "refined": fit["refined"],
            "oracle_calls": run.calls,
            "oracle_evaluations": run.evaluations,
            "master_solves": run.master_solves,
            "master_time": run.master_time,
            "extra": {k: np.asarray(v).tolist() for k, v in extra.items()},
        }
        if fit.get("weights") is not None:
            info["dual_weights"] = np.asarray(fit["weights"]).tolist()
        for key in ("refine_gap", "refine_status"):
            if key in fit:
                info[key] = fit[key]
        return FitResult(coef[:, :, None], intercept[:, None], losses, info)


# -- small helpers -------------------------------------------------------------------------
def _closed(result: LevelResult, tol: float) -> bool:
    gap = result.upper - result.lower
    return bool(gap <= tol * max(abs(result.upper), abs(result.lower)) or gap <= 1e-10)


def _max_primal(losses, penalty):
    return float(np.max(losses)) + penalty


def _tilted_primal(tilt: float):
    def primal(losses, penalty):
        return float(logsumexp(tilt * losses) - np.log(len(losses))) / tilt + penalty

    return primal


def _chebyshev_primal(pref, shift):
    def primal(losses, penalty):
        return float(np.max(pref * losses - shift)) + penalty

    return primal


def _shifted_primal(bounds):
    def primal(losses, penalty):
        return float(np.max(losses - bounds)) + penalty

    return primal


def _most_slack(candidates, bounds):
    best, best_slack = None, 0.0
    for point, losses, penalty in candidates:
        slack = float(np.min(bounds - losses))
        if slack > best_slack:
            best, best_slack = (point, losses, penalty), slack
    return best


def _as_sharing(point, sharing: str, n_groups: int):
    """A reference point in the parameter layout of ``sharing`` (pooled -> every group)."""
    coef, intercept = point
    blocks = 1 if sharing == "shared" else n_groups
    if coef.shape[0] == blocks:
        return coef.copy(), intercept.copy()
    return np.repeat(coef, blocks, axis=0), np.repeat(intercept, blocks)


def _check_tilt(tilt) -> float:
    if tilt is None:
        raise ValueError(MSG_KNOB_REQUIRED.format(objective="tilted", knob="tilt"))
    tilt = float(tilt)
    if not tilt > 0:
        raise ValueError(
            MSG_KNOB_RANGE.format(knob="tilt", rule="> 0 (use 'balanced' for 0)", value=tilt)
        )
    return tilt


def _check_preference(pref, n_groups: int) -> np.ndarray:
    lam = broadcast_groups(1.0 if pref is None else pref, n_groups, "preference")
    if np.any(lam < 0) or not np.any(lam > 0):
        raise ValueError(
            MSG_KNOB_RANGE.format(
                knob="preference", rule="non-negative with a positive entry", value=pref
            )
        )
    return lam / lam.sum()
