"""The engines of the exact path's smooth stages, and when they stop.

A smooth stage (:mod:`fairmtl.solvers._refine`) is handed to :func:`run_engines`, which
tries, where the caller gives its form of the program with exact Hessians: sequential
quadratic programming with those Hessians (:func:`~fairmtl.solvers._newton_sqp.newton_sqp`),
then, where the caller allows it, the primal-dual interior-point method
(:func:`~fairmtl.solvers._interior.primal_dual`); and last SQP with dense quasi-Newton
steps (scipy's SLSQP), which needs gradients only. Each stops at the first point that
passes the caller's check and whose bound on the duality gap reached ``KKT_AIM`` or
stopped falling (``STALL_ITERATIONS``); the answer is kept only if it passes the check.

BLAS runs on one thread here: a multi-threaded product sums in an order that depends on
the thread count, and an answer must not depend on the process it is computed in (a
frontier is bit-identical in one process or several).
"""

from __future__ import annotations

from scipy.optimize import minimize

from fairmtl.solvers._interior import primal_dual
from fairmtl.solvers._newton_sqp import newton_sqp
from fairmtl.solvers._threads import one_blas_thread

__all__ = ["INTERIOR", "KKT_AIM", "NEWTON_SQP", "SLSQP", "SMOOTH_SOLVERS", "run_engines"]

#: SQP goes on towards this bound on the duality gap, relative to ``1 + |F|``, while the
#: bound keeps falling (the accepted bound alone, ``KKT_TOL``, leaves the parameters
#: ~sqrt(1e-9 / alpha) from the optimum in flat directions; the extra iterations are cheap)
KKT_AIM = 1e-14
#: the bound counts as stalled when it fell less than 10x over this many iterations (of the
#: interior-point method and SLSQP; of SQP with exact Hessians, which converges
#: quadratically, over ``NEWTON_STALL``)
STALL_ITERATIONS, NEWTON_STALL = 4, 2
#: SLSQP's iteration limit and tolerance on the objective
MAX_ITER, FTOL = 500, 1e-15
#: the engines of the smooth stages, as solver_info names them, in the order tried
NEWTON_SQP, INTERIOR, SLSQP = "SQP (exact Hessians)", "primal-dual Newton", "SLSQP"
SMOOTH_SOLVERS = (NEWTON_SQP, INTERIOR, SLSQP)


def run_engines(objective, constraint, check, x0, program=None, interior=True, slsqp=True):
    """The first engine's answer that passes ``check``, or None.

    ``objective``: value and gradient at ``x``; ``check``: ``(result, passed)`` at ``x``,
    the result carrying ``value``, ``kkt``, ``iterations`` and ``method``.
    ``constraint``: ``(fun, jac)`` of the inequalities ``fun(x) >= 0``, or None (both for
    SLSQP). ``program``: ``(functions, hessian, start, to_x)`` of the same problem for the
    engines with exact Hessians (see the module docstring), or None (SLSQP alone);
    ``interior``: whether the interior-point method may be tried, ``slsqp`` whether SLSQP
    may. One BLAS thread (module docstring)."""
    with one_blas_thread():
        if program is not None:
            engines = [(newton_sqp, NEWTON_SQP, NEWTON_STALL)]
            if interior:
                engines.append((primal_dual, INTERIOR, STALL_ITERATIONS))
            for engine, name, stall in engines:
                result = _exact_run(engine, name, check, stall, *program)
                if result is not None:
                    return result
        return _sqp_run(objective, constraint, check, x0) if slsqp else None


def _stopper(check, stall: int = STALL_ITERATIONS):
    """Whether to stop at a point: it passes ``check`` and its KKT bound reached
    ``KKT_AIM`` or stopped falling (over ``stall`` iterations)."""
    gaps: list[float] = []

    def certified(x) -> bool:
        result, passed = check(x)
        gaps.append(result.kkt / (1.0 + abs(result.value)))
        stalled = len(gaps) > stall and gaps[-1] > 0.1 * gaps[-1 - stall]
        return passed and (gaps[-1] <= KKT_AIM or stalled)

    return certified


def _exact_run(engine, name, check, stall, functions, hessian, start, to_x):
    certified = _stopper(check, stall)
    found = engine(functions, hessian, start, lambda u: certified(to_x(u)))
    if found is None:
        return None
    result, passed = check(to_x(found[0]))
    result.iterations, result.method = found[1], name
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
