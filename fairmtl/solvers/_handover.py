"""Large problems on the exact path: a smooth stage without a checked answer goes to the
dual path, never to a conic program on all the rows.

``solver="auto"`` solves some large problems by the exact path's SQP
(:mod:`fairmtl.solvers._smooth_stages`; the estimators' router says which), because it
answers them in tens of passes over the rows. Where one of its stages gives no checked
answer, the exact path's own fallback is a conic program on all the rows: minutes and
much memory at that size. An :class:`~fairmtl.solvers.ExactProblem` built with
``fallback="dual"`` raises :class:`~fairmtl.solvers._smooth_stages.SmoothStageFailed`
there instead, and :func:`solve_or_dual` solves the same problem, with the same knobs, on
the dual path (:class:`~fairmtl.solvers.DualProblem`, sharing the rows the smooth stages
sorted). The returned model is the dual path's, with its certificate and status (and its
warning when it is not certified); its record (``path`` "dual") keeps the SQP attempts of
the solve in ``attempts``, the one that failed last, and ``fallback_from`` names them;
``time`` covers both. A certified answer raises no warning: nothing is left for the user
to do.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fairmtl.solvers._dual import DualProblem
from fairmtl.solvers._fit import FitResult
from fairmtl.solvers._smooth_stages import SmoothStageFailed

__all__ = ["dual_of", "solve_or_dual"]


def solve_or_dual(problem, solve_exact: Callable[..., FitResult], **kwargs: Any) -> FitResult:
    """``solve_exact(**kwargs)`` (the exact path's solve of ``problem``), or, where one
    of its smooth stages gave no checked answer, the dual path's solve of the same
    problem with the same ``kwargs`` (see the module docstring)."""
    start = time.perf_counter()
    try:
        return solve_exact(**kwargs)
    except SmoothStageFailed as failed:
        attempts = failed.attempts
    result = dual_of(problem).solve(**kwargs)
    info = result.solver_info
    info["attempts"] = [*attempts, *info.get("attempts", [])]
    info["fallback_from"] = [a["solver"] for a in attempts]
    info["time"] = time.perf_counter() - start
    return result


def dual_of(problem) -> DualProblem:
    """The dual path's problem of the same rows, objective and sharing as the exact
    ``problem`` (made on first use and kept: a sweep reuses it and its warm starts)."""
    if getattr(problem, "_dual", None) is None:
        dual = DualProblem(
            problem.X,
            problem.y,
            problem.tasks,
            problem.w,
            problem.n_groups,
            loss=problem.loss,
            sharing=problem.sharing_name,
            objective=problem.objective_name,
            n_outputs=problem.n_outputs,
            task=problem.task,
            group_names=problem.group_names,
        )
        if problem._grouped is not None:  # the rows the smooth stages sorted: no new copy
            dual._data, dual._inputs = problem._grouped, None
        # its smooth stages run the SQP that just failed: the level method instead
        dual.smooth_stages = False
        problem._dual = dual
    return problem._dual
