"""The exact path's use of the smooth programs: its stages solved by SQP where they apply.

An :class:`~fairmtl.solvers.ExactProblem` with a smooth single-output loss, a quadratic
penalty (``shared``, ``independent`` or ``offset`` sharing), ``alpha > 0`` and few
parameters (``MAX_PARAMS``; ``offset`` sharing of up to ``MAX_BLOCK_GROUPS`` groups, its
Hessian by blocks: :mod:`fairmtl.solvers._blockhessian`) solves its stages by the small
programs of :mod:`fairmtl.solvers._refine` instead of conic ones:

- stage 1 from zero (:func:`smooth_stage1`) for ``solver="auto"``, or from a conic
  answer to polish it (``polish=True``; :func:`polishable` says where);
- stage 2 of ``minimax`` and ``chebyshev`` (:func:`smooth_stage2`, see
  :mod:`fairmtl.solvers._pareto_stage`) from the stage-1 point.

Each returns the attempt record that ``solver_info["attempts"]`` keeps, and leaves the
answer in the problem's variables; or None (not eligible, or the answer failed its
checks), and the caller solves the conic program. A problem that must not solve a conic
program on all its rows (``ExactProblem(fallback="dual")``: large data) raises
:class:`SmoothStageFailed` there instead (:func:`hand_over`), and the dual path solves it
(:mod:`fairmtl.solvers._handover`).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from fairmtl.solvers._certificate import Penalty
from fairmtl.solvers._compress import grouped_rows
from fairmtl.solvers._refine import (
    MAX_PARAMS,
    MAX_PARAMS_STAGE1,
    RefineResult,
    minimax_smooth,
    refine_smooth,
    smooth_refinable,
)
from fairmtl.solvers._status import ERROR
from fairmtl.solvers._threads import with_one_blas_thread

__all__ = [
    "MSG_CHECK_FAILED",
    "MSG_NO_TIME_LIMIT",
    "SmoothStageFailed",
    "hand_over",
    "polishable",
    "smooth_stage1",
    "smooth_stage2",
]

#: why a stage handed over (the ``error`` of its attempt record)
MSG_CHECK_FAILED = "its answer failed the feasibility or KKT check"
MSG_NO_TIME_LIMIT = "not run: SQP keeps no time limit, and max_time was given"


class SmoothStageFailed(Exception):
    """A smooth stage gave no checked answer on a problem that hands it to the dual path
    rather than solving a conic program on all its rows (see :func:`hand_over`).

    Attributes
    ----------
    stage : {"main", "refine"}
        The stage: stage 1, or the Pareto stage of ``minimax`` and ``chebyshev``.
    attempts : list of dict
        The smooth stages' attempt records of this solve, the one that failed last.
    """

    def __init__(self, stage: str, attempts: list[dict[str, Any]]) -> None:
        super().__init__(f"the smooth stage {stage!r} gave no checked answer")
        self.stage, self.attempts = stage, attempts


def hand_over(problem, stage: str, t0: float, why: str = MSG_CHECK_FAILED, done=()) -> None:
    """Where ``problem.hands_over`` (see :class:`~fairmtl.solvers.ExactProblem`), raise
    :class:`SmoothStageFailed` for ``stage``, which gave no checked answer (``why``)
    after the attempts ``done``, the stage's own started at ``t0`` (a
    ``time.perf_counter()`` value); else return, and the caller solves the conic
    program."""
    if not getattr(problem, "hands_over", False):
        return
    attempt = {
        "solver": "SQP",
        "status": ERROR,
        "raw_status": "kkt_check_failed" if why == MSG_CHECK_FAILED else None,
        "iterations": None,
        "time": time.perf_counter() - t0,
        "error": why,
        "limit": False,
        "solver_output": "",
        "stage": stage,
    }
    done = [{**a, "stage": a.get("stage", "main")} for a in done]
    raise SmoothStageFailed(stage, [*done, attempt])


def _eligible(problem, limit: int) -> bool:
    P = 1 if problem.sharing_name == "shared" else problem.n_groups
    n_params = P * (problem.X.shape[1] + 1)
    alpha = float(problem.alpha.value)
    refinable = smooth_refinable(
        problem.loss, problem.sharing_name, problem.n_outputs, alpha, n_params, P
    )
    # offset sharing of many groups: its Hessians as blocks (fairmtl.solvers._blockhessian)
    return refinable and (n_params <= limit or problem.sharing_name == "offset")


def _inputs(problem):
    """The rows (made once per problem), the penalty, and the current point as (P, d), (P,)."""
    if problem._grouped is None:
        problem._grouped = grouped_rows(
            problem.X, problem.y, problem.tasks, problem.w, problem.n_groups,
            loss=problem.loss, n_outputs=problem.n_outputs, objective=problem.objective_name,
        )  # fmt: skip
    data = problem._grouped
    penalty = Penalty(
        problem.sharing_name,
        float(problem.alpha.value),
        float(problem.strength.value),
        problem.shares,  # the rows' own, or a parent's (a helper on some of its rows)
    )
    P = 1 if problem.sharing_name == "shared" else problem.n_groups
    return data, penalty, P


def _attempt(result: RefineResult, t0: float) -> dict[str, Any]:
    return {
        "solver": result.method,
        "status": "optimal",
        "raw_status": "kkt_checked",
        "iterations": result.iterations,
        "time": time.perf_counter() - t0,
        "error": None,
        "limit": False,
        "solver_output": "",
        "kkt_bound": result.kkt,
        "objective": result.value,
    }


def polishable(problem) -> bool:
    """Whether stage 1 can be polished by :func:`smooth_stage1` from a conic answer: the
    objectives in epigraph form (minimax, chebyshev), whose conic solve is the costly
    part of a two-stage fit; the others keep CLARABEL's chain as it is."""
    return problem.objective.epigraph_terms() is not None and _eligible(problem, MAX_PARAMS)


@with_one_blas_thread  # see fairmtl.solvers._sqp: also the preconditioning
def smooth_stage1(problem, polish: bool = False) -> dict[str, Any] | None:
    """Stage 1 of an :class:`~fairmtl.solvers.ExactProblem` by :func:`minimax_smooth` or
    :func:`refine_smooth`; the attempt record, or None (not eligible, or the answer
    failed its checks). On success the problem's variables hold the answer.

    It starts from zero, so that an answer never depends on the fits before it (a
    frontier is the same in one process or several), or with ``polish`` from the
    variables' values (a conic answer; up to ``MAX_PARAMS`` parameters)."""
    limit = MAX_PARAMS if polish else MAX_PARAMS_STAGE1
    epigraph = problem.objective.epigraph_terms()
    weighted = problem.objective.weighted_terms(problem.shares)
    if (epigraph is None and weighted is None) or not _eligible(problem, limit):
        return None
    t0 = time.perf_counter()
    data, penalty, P = _inputs(problem)
    if not polish:
        start = (np.zeros((P, data.d)), np.zeros(P))
    else:
        coef, intercept = problem.sharing.unpack()
        start = (coef[:P, :, 0], intercept[:P, 0])
    args = (data, problem.loss, penalty, problem.sharing_name)
    if epigraph is not None:
        # SQP with exact Hessians, then SLSQP: from zero the interior-point steps crawl
        # along the epigraph's boundary
        result = minimax_smooth(*args, *epigraph, start, interior=False)
    else:  # no bound: plain damped Newton, fast from any point
        unbounded = not np.isfinite(weighted[1]).any()
        result = refine_smooth(*args, *weighted, start, interior=unbounded)
    if result is None:
        return None
    problem.sharing.warm_start(result.coef[:, :, None], result.intercept[:, None])
    return _attempt(result, t0)


@with_one_blas_thread
def smooth_stage2(problem, bounds, coef, intercept) -> dict[str, Any] | None:
    """Stage 2 (see :mod:`fairmtl.solvers._pareto_stage`) by :func:`refine_smooth`; the
    attempt record or None, as :func:`smooth_stage1`."""
    if not _eligible(problem, MAX_PARAMS):
        return None
    t0 = time.perf_counter()
    data, penalty, P = _inputs(problem)
    start = (coef[:P, :, 0], intercept[:P, 0])
    shares = problem.shares
    result = refine_smooth(data, problem.loss, penalty, problem.sharing_name, shares, bounds, start)
    if result is None:
        return None
    problem.sharing.warm_start(result.coef[:, :, None], result.intercept[:, None])
    return _attempt(result, t0)
