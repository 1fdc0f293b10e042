"""The engines of the exact path's smooth stages, and when they stop.

A smooth stage (:mod:`fairmtl.solvers._refine`) is handed to :func:`run_engines`: the
primal-dual interior-point method with exact Hessians
(:func:`~fairmtl.solvers._interior.primal_dual`) first, where the caller gives its form of
the program, then sequential quadratic programming (scipy's SLSQP, dense quasi-Newton
steps) where it fails. Both stop at the first point that passes the caller's check and
whose bound on the duality gap reached ``KKT_AIM`` or stopped falling
(``STALL_ITERATIONS``); the answer is kept only if it passes the check.

BLAS runs on one thread here: a multi-threaded product sums in an order that depends on
the thread count, and an answer must not depend on the process it is computed in (a
frontier is bit-identical in one process or several).
"""

from __future__ import annotations

from scipy.optimize import minimize

from fairmtl.solvers._interior import primal_dual
from fairmtl.solvers._threads import one_blas_thread

__all__ = ["INTERIOR", "KKT_AIM", "SLSQP", "SMOOTH_SOLVERS", "run_engines"]

#: SQP goes on towards this bound on the duality gap, relative to ``1 + |F|``, while the
#: bound keeps falling (the accepted bound alone, ``KKT_TOL``, leaves the parameters
#: ~sqrt(1e-9 / alpha) from the optimum in flat directions; the extra iterations are cheap)
KKT_AIM = 1e-14
#: the bound counts as stalled when it fell less than 10x over this many iterations
STALL_ITERATIONS = 4
#: SLSQP's iteration limit and tolerance on the objective
MAX_ITER, FTOL = 500, 1e-15
#: the engines of the smooth stages, as solver_info names them: the interior-point
#: method first, SLSQP where it fails
INTERIOR, SLSQP = "primal-dual Newton", "SLSQP"
SMOOTH_SOLVERS = (INTERIOR, SLSQP)


def run_engines(objective, constraint, check, x0, interior=None):
    """SLSQP until ``check`` passes (or its iteration limit); the result or None.
    ``objective``: value and gradient at ``x``; ``check``: ``(result, passed)`` at ``x``,
    the result carrying ``value``, ``kkt``, ``iterations`` and ``method``.
    ``constraint``: ``(fun, jac)`` of the inequalities ``fun(x) >= 0``, or None.
    ``interior``: ``(functions, hessian, start, to_x)`` of the same problem for
    :func:`~fairmtl.solvers._interior.primal_dual`, tried first (SLSQP where it fails).
    One BLAS thread (module docstring)."""
    with one_blas_thread():
        if interior is not None:
            result = _interior_run(check, *interior)
            if result is not None:
                return result
        return _sqp_run(objective, constraint, check, x0)


def _stopper(check):
    """Whether to stop at a point: it passes ``check`` and its KKT bound reached
    ``KKT_AIM`` or stopped falling (see ``STALL_ITERATIONS``)."""
    gaps: list[float] = []

    def certified(x) -> bool:
        result, passed = check(x)
        gaps.append(result.kkt / (1.0 + abs(result.value)))
        stalled = len(gaps) > STALL_ITERATIONS and gaps[-1] > 0.1 * gaps[-1 - STALL_ITERATIONS]
        return passed and (gaps[-1] <= KKT_AIM or stalled)

    return certified


def _interior_run(check, functions, hessian, start, to_x):
    certified = _stopper(check)
    found = primal_dual(functions, hessian, start, lambda u: certified(to_x(u)))
    if found is None:
        return None
    result, passed = check(to_x(found[0]))
    result.iterations, result.method = found[1], INTERIOR
    return result if passed else None


def _sqp_run(objective, constraint, check, x0):
    certified = _stopper(check)

    def stop_when_certified(xk):
        if certified(xk):
            raise StopIteration

    opt = minimize(
        objective,
        x0,
        jac=True,
        method="SLSQP",
        constraints=[]
        if constraint is None
        else [{"type": "ineq", "fun": constraint[0], "jac": constraint[1]}],
        options={"maxiter": MAX_ITER, "ftol": FTOL},
        callback=stop_when_certified,
    )
    result, passed = check(opt.x)
    result.iterations = int(opt.nit)
    return result if passed else None
