"""The exact path's second, Pareto stage of ``minimax`` and ``chebyshev``.

After Martinez et al. 2020, "Minimax Pareto Fairness": stage 1 minimised the objective
``F(L) + R`` (for ``minimax`` the worst group loss plus the penalty). Its guarantee to
each group is kept: for ``minimax`` every group's loss stays at most the stage-1 model's
worst loss ``t*``; for ``chebyshev`` each group's weighted excess over the ideal point
stays at most the stage-1 level (both up to a relative slack of :data:`REFINE_TOL`, the
slack the dual path's own second stage gives too). Among the models that keep it, the
one with the lowest **average loss + penalty** is returned: by SQP where it applies
(:func:`~fairmtl.solvers._smooth_stages.smooth_stage2`), else by a second conic program
over the same variables, compiled once per problem (or, on a problem that hands failed
smooth stages to the dual path, by the dual path: :mod:`fairmtl.solvers._handover`).
"""

from __future__ import annotations

import time
from typing import Any

import cvxpy as cp
import numpy as np

from fairmtl.solvers._chain import SolverStep, solve_chain
from fairmtl.solvers._notices import attempts_summary, warn_refine
from fairmtl.solvers._smooth_stages import hand_over, smooth_stage2
from fairmtl.solvers._status import OPTIMAL, SOLUTION_PRESENT

__all__ = ["REFINE_TOL", "pareto_stage"]

#: relative slack of the lexicographic (second) stage
REFINE_TOL = 1e-6


def _second_problem(problem) -> tuple[cp.Problem, cp.Parameter]:
    """Second stage: the best average among models no worse than stage 1 for any group."""
    if problem._refine_problem is None:
        problem.problem  # noqa: B018 - builds the conic program of stage 1 on first use
        problem._refine_level = cp.Parameter(problem.n_groups, name="refine_level")
        problem._refine_problem = cp.Problem(
            cp.Minimize(problem.shares @ problem.L + problem.penalty),
            problem.constraints + [problem.L <= problem._refine_level],
        )
    return problem._refine_problem, problem._refine_level


def pareto_stage(
    problem, chain: list[SolverStep], max_time: float | None, info: dict[str, Any]
) -> dict[str, Any]:
    """Second, lexicographic stage of an :class:`~fairmtl.solvers.ExactProblem` whose
    variables hold the stage-1 optimum (see the module docstring).

    That model's own ``F(L) + R`` can exceed the stage-1 optimum: the second stage may
    spend penalty to lower the losses of groups that do not bind. ``info["objective"]``
    is therefore the returned model's own value and ``info["stage1_objective"]`` the
    optimum of stage 1. If the second solve fails, the stage-1 optimum is kept,
    ``info["refined"]`` is False, ``info["refine_status"]`` says why, and a warning
    is raised.
    """
    coef, intercept = problem.sharing.unpack()
    stage1 = problem._group_losses(coef, intercept)
    level = problem.objective.refine_bounds(stage1)
    bounds = level + REFINE_TOL * np.maximum(1.0, np.abs(level))
    info["stage1_objective"] = info["objective"]
    t0 = time.perf_counter()
    smooth = smooth_stage2(problem, bounds, coef, intercept)
    if smooth is not None:
        info.update(refine_attempts=[smooth], refined=True, refine_status=OPTIMAL)
        info["time"] += smooth["time"]
        info["objective"] = problem.model_objective()
        return info
    hand_over(problem, "refine", t0, done=info.get("attempts", []))
    second_problem, param = _second_problem(problem)
    param.value = bounds
    saved = {v.id: v.value for v in problem.problem.variables()}
    second = solve_chain(
        second_problem,
        chain[:2],
        max_time=max_time,
        stop_on_infeasible=False,
        ignore_dpp=problem._no_dpp,
    )
    info["refine_attempts"] = second.attempts
    accepted = second.status in SOLUTION_PRESENT
    if accepted and second.status != OPTIMAL:
        # an inaccurate second stage is kept only if it provably keeps the guarantee
        coef, intercept = problem.sharing.unpack()
        losses = problem._group_losses(coef, intercept)
        accepted = bool(np.all(losses <= param.value + 1e-9))
    if not accepted:
        for v in problem.problem.variables():
            v.value = saved[v.id]
        info["refined"] = False
        info["refine_status"] = second.status
        why = f"status {second.status!r}" if second.status in SOLUTION_PRESENT else None
        reason = why or attempts_summary(second.attempts)
        if second.status in SOLUTION_PRESENT:
            reason += ", and its point breaks a group's guarantee"
        warn_refine(problem.objective_name, failed=reason)
        return info
    if second.status != OPTIMAL:
        warn_refine(problem.objective_name, solver=second.solver)
    info["refined"] = True
    info["refine_status"] = second.status
    info["time"] += second.time
    # the returned model's own objective (worst loss + penalty for minimax)
    info["objective"] = problem.model_objective()
    return info
