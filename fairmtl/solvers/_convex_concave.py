"""The exact path's convex-concave procedure, for the ``gap`` objective.

``gap`` bounds each group's loss by the average loss plus ``epsilon``: ``L_g - L_avg <=
epsilon`` is a difference of convex functions, not a convex constraint. The procedure
(see :mod:`fairmtl.objectives._gap`) starts from the minimax fit, replaces the average
loss by its linearisation at the current model, solves the convex program that results,
with a slack whose price ``rho`` grows tenfold per round while the slack is positive (up
to 1e6), and stops when the slack is zero and the objective no longer moves (``CCP_TOL``),
or after ``CCP_MAX_ITER`` rounds. It is a local method: a slack left at the end raises
:class:`~fairmtl.exceptions.InfeasibleError` with the largest gap it reached.
"""

from __future__ import annotations

import numpy as np

from fairmtl.exceptions import InfeasibleError
from fairmtl.solvers._chain import SolverStep, chain_record, solve_chain
from fairmtl.solvers._fit import FitResult
from fairmtl.solvers._notices import warn_not_optimal

__all__ = ["CCP_MAX_ITER", "CCP_TOL", "MSG_GAP_INFEASIBLE", "solve_convex_concave"]

#: convex-concave procedure (gap objective): iterations and relative stopping tolerance
CCP_MAX_ITER, CCP_TOL = 30, 1e-7
MSG_GAP_INFEASIBLE = (
    "No model was found with every group's loss within epsilon of the average loss "
    "(the convex-concave procedure, a local method, ended with a largest gap of {gap:.6g}). "
    "Pass epsilon >= that gap."
)


def _outputs_by_group(problem, coef: np.ndarray, intercept: np.ndarray) -> list[np.ndarray]:
    """Numpy model outputs on each group's rows, in the order of the cvxpy blocks."""
    out = []
    for g in range(problem.n_groups):
        rows = np.flatnonzero(problem.tasks == g)
        z = problem.X[rows] @ coef[g] + intercept[g]
        out.append(z[:, 0] if problem.n_outputs == 1 else z)
    return out


def solve_convex_concave(
    problem, alpha: float, strength: float, solver: str, chain: list[SolverStep], max_time
) -> FitResult:
    """Solve an :class:`~fairmtl.solvers.ExactProblem` with the ``gap`` objective by the
    convex-concave procedure (module docstring), from a minimax fit of a helper problem."""
    start = problem._helper("gap-start", problem.sharing_name, "minimax")
    fit = start.solve(alpha=alpha, sharing_strength=strength, solver=solver)
    coef, intercept = fit.coef, fit.intercept
    objective = problem.objective
    targets = [problem.y[problem.tasks == g] for g in range(problem.n_groups)]
    previous, attempts, total_time, n_iter = np.inf, [], 0.0, 0
    rho = 1.0
    while n_iter < CCP_MAX_ITER:
        n_iter += 1
        objective.rho.value = rho
        objective.linearize(_outputs_by_group(problem, coef, intercept), targets, problem.loss)
        result = solve_chain(problem.problem, chain, max_time=max_time, ignore_dpp=problem._no_dpp)
        attempts += result.attempts
        total_time += result.time
        problem._check(result)
        coef, intercept = problem.sharing.unpack()
        value = float(problem.problem.value)
        slack = float(objective.slack.value)
        if slack <= 1e-9 and abs(previous - value) <= CCP_TOL * max(1.0, abs(value)):
            break
        previous = value
        if slack > 1e-9:
            # the price grows only while the iterate is infeasible: once the slack is 0 the
            # price exceeds the constraints' multipliers, and pricing it higher only makes
            # the subproblem badly scaled (CLARABEL stalls there at rho = 1e6)
            rho = min(rho * 10.0, 1e6)
    losses = problem._group_losses(coef, intercept)
    if float(objective.slack.value) > 1e-7:
        gap_now = float(np.max(losses - problem.shares @ losses))
        raise InfeasibleError(MSG_GAP_INFEASIBLE.format(gap=gap_now), min_feasible=gap_now)
    warn_not_optimal(result, max_time)
    info = chain_record(result, stage="main")
    info.update(
        method="convex-concave",
        ccp_iterations=n_iter,
        attempts=attempts,
        time=total_time + fit.solver_info["time"],
        objective=value,
    )
    return FitResult(coef, intercept, losses, info)
