"""Loss bounds on the dual path: ``min rho . L + R`` subject to ``L_g <= bound_g``.

Used by ``bounded``, ``no_harm`` and the refinement stage of ``minimax`` and
``chebyshev``. Three phases:

0. the unconstrained fit (multipliers 0); if it meets every bound it is the answer;
1. a **strictly feasible** point: from the points known, or by minimising
   ``max_g (L_g - bound_g) + R`` until one is found. Its slack ``s`` caps the multipliers
   (``sum y <= (F(theta_s) - lower) / s`` holds at the optimum, by Slater's argument), and
   it repairs infeasible primal recoveries by mixing (losses are convex);
2. the level method over multipliers in that capped set.

When no strictly feasible point exists with the problem's penalty, the bounds are
checked as on the exact path: ``min max_g (L_g - bound_g)`` with a ridge of 1e-8; a
positive value raises :class:`~fairmtl.exceptions.InfeasibleError` naming the groups at
the maximum and the smallest feasible epsilon.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fairmtl.solvers._dualrun import DualRun, closed, fixed_fit, linear_combine, shifted_primal
from fairmtl.solvers._infeasible import infeasible_bounds_error
from fairmtl.solvers._master import DualForm, LevelResult, OraclePoint

__all__ = ["solve_bounded", "DIAGNOSE_ALPHA"]

#: ridge of the infeasibility diagnosis, as on the exact path
DIAGNOSE_ALPHA = 1e-8


def solve_bounded(
    run: DualRun, shares, bounds, seeds, group_names, *, reference=None, direction=None
) -> LevelResult:
    """Phases 0 to 2 of the module docstring; ``seeds`` are known ``(point, L, R)``.

    ``direction`` (group weights, e.g. the minimax dual of stage 1) starts phase 2 with a
    doubling search along that ray: the multipliers of tight bounds are large, and the
    level method alone grows them slowly (measured: 30 of 50 rounds).
    """
    G, rho = len(shares), shares

    def primal(losses, penalty):
        return float(rho @ losses) + penalty if np.all(losses <= bounds) else np.inf

    point0, answer0 = fixed_fit(run.oracle, rho, run.warm, run.tol, run=run)
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
        slater, direction = _phase_one(run, bounds)
    if slater is None:
        slater = _diagnose(run, bounds, group_names, reference)
    slack = float(np.min(bounds - slater[1]))
    value_s = primal(slater[1], slater[2])

    def cap_rule(lower):
        # at the optimum sum(y) <= (F(theta_s) - optimum) / slack <= (F(theta_s) - lower) / slack
        return 1.1 * max(value_s - lower, 0.0) / slack + 1e-9

    form = DualForm(
        rho, np.ones(G), -bounds, False, primal, cap=cap_rule(lower0), bounds=bounds,
        cap_rule=cap_rule,
    )  # fmt: skip

    def repair(point, losses, penalty):
        return _mix(run, (point, losses, penalty), slater, bounds)

    first = OraclePoint(answer0.losses, answer0.penalty, answer0.value, answer0.error, point0)
    y0 = np.zeros(G)
    if direction is not None and np.any(direction > 0):
        y0, first = _ray_search(run, form, np.asarray(direction, float), first)
    result = run.level(form, y0, repair=repair, incumbent=slater, first=first)
    result.lower = max(result.lower, lower0)
    result.converged = result.converged or closed(result, run.tol)
    return result


def _ray_search(run: DualRun, form: DualForm, direction, first: OraclePoint):
    """Double the multipliers along ``direction`` while the dual value rises (it is
    concave along the ray); the best point and its oracle answer."""
    direction = direction / direction.sum()
    best_y, best = np.zeros(len(direction)), first
    best_q = form.dual_value(first.value, best_y) - first.error
    scale = 1.0
    while scale <= form.cap:
        y = scale * direction
        target = max(1e-3 * run.tol * abs(best_q), 1e-12)
        answer = run.ask(form.weights(y), target)
        q = form.dual_value(answer.value, y) - answer.error
        if q <= best_q:
            break
        best_y, best, best_q = y, answer, q
        scale *= 2.0
    return best_y, best


def _most_slack(candidates, bounds):
    best, best_slack = None, 0.0
    for point, losses, penalty in candidates:
        slack = float(np.min(bounds - losses))
        if slack > best_slack:
            best, best_slack = (point, losses, penalty), slack
    return best


def _phase_one(run: DualRun, bounds):
    """Look for a strictly feasible point: minimise ``max_g (L_g - bound_g) + R``."""
    G = len(bounds)
    best: list[Any] = [None, 0.0]

    def on_point(point, losses, penalty):
        slack = float(np.min(bounds - losses))
        if slack > best[1]:
            best[:] = [(point, losses, penalty), slack]

    def stop(lower, upper):
        # stop once the best slack is about as large as the phase can still improve it
        return best[0] is not None and upper - lower <= best[1]

    form = DualForm(np.zeros(G), np.ones(G), -bounds, True, shifted_primal(bounds))
    result = run.level(form, np.full(G, 1.0 / G), on_point=on_point, stop=stop)
    return best[0], result.weights


def _diagnose(run: DualRun, bounds, group_names, reference):
    """Decide feasibility as the exact path does; a strictly feasible point, or raise."""
    G, oracle = len(bounds), run.oracle
    alpha, strength = oracle.penalty.alpha, oracle.penalty.strength
    # the diagnosis's points (a ridge of 1e-8: huge coefficients) are no warm start for
    # the problem's own penalty (measured: L-BFGS from there ended at a penalty of 1e27)
    warm = run.warm
    oracle.set_penalty(DIAGNOSE_ALPHA, 0.0)
    form = DualForm(np.zeros(G), np.ones(G), -bounds, True, shifted_primal(bounds))
    master = run.master(True)
    master.cuts.clear()  # cuts of another penalty are not valid here
    held = len(run.cuts)
    result = run.level(
        form, np.full(G, 1.0 / G), master=master, certified=False,
        max_rounds=min(run.max_rounds, 150),
    )  # fmt: skip
    del run.cuts[held:]  # nor are these cuts valid for the problem's own penalty
    oracle.set_penalty(alpha, strength)
    run.warm = warm
    if float(np.max(result.losses - bounds)) < 0:
        return (result.point, *run.evaluate(result.point))
    near = max(1e-6, run.tol * max(1.0, float(np.max(np.abs(bounds)))))
    raise infeasible_bounds_error(
        result.losses, bounds, group_names, reference=reference, near=near
    )


def _mix(run: DualRun, candidate, slater, bounds):
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
        mixed = linear_combine([point, point_s], np.array([1 - tau, tau]))
        new_losses, new_penalty = run.evaluate(mixed)
        if np.all(new_losses <= bounds):
            return mixed, new_losses, new_penalty
        tau = min(1.0, 2 * tau)
    return slater
