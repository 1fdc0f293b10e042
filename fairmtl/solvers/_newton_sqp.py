"""The smooth stages' first engine: sequential quadratic programming with exact Hessians.

The smooth stages (:mod:`fairmtl.solvers._refine`) are small convex programs
``min f0(u) s.t. c(u) <= 0`` with one constraint per group, whose Hessians are exact and
cheap (:mod:`fairmtl.solvers._interior`). Each iteration here takes the Hessian of the
Lagrangian at the current multipliers and solves the quadratic program with the
constraints linearised (Nocedal and Wright, *Numerical Optimization*, 18.1): its answer
is a step and the next multipliers. A backtracking line search on the exact l1 penalty
function ``f0 + nu * sum(max(c, 0))`` makes the method converge from any start, and near
the optimum the full steps converge quadratically (with one second-order correction of
the constraints where the full step is refused: the Maratos effect).

Where this pays: the Pareto stage starts from stage 1's answer, where the bounds of the
tied groups sit 1e-6 above their losses. An interior-point method must stay inside that
sliver and crawls along it (measured on 200,000 rows of 50 groups: 32 iterations, 142
passes over the rows for values and gradients and 32 for Hessians); SQP treats the nearly
active bounds as the equalities they are (the same problem: 10 iterations, 31 and 10
passes). A pass over the rows is a round of messages on a Dask cluster, where the saving
is largest.

The quadratic programs (a few hundred variables, one constraint per group) are solved by
Clarabel, the interior-point solver fairmtl uses for its conic programs, called directly.
Every answer is still checked by the caller's KKT test; on any failure the caller tries
its next engine.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from scipy.linalg import LinAlgError

from fairmtl.solvers._interior import ScaledCholesky

__all__ = ["MAX_ITER", "newton_sqp"]

MAX_ITER = 60
#: Armijo's sufficient decrease of the penalty function, as a share of its model decrease
ARMIJO = 1e-4
#: the penalty weight ``nu`` is kept at least this factor above the largest multiplier
NU_MARGIN = 1.5
#: tolerances of the quadratic programs (Clarabel's gap and feasibility tolerances)
QP_TOL = 1e-11
QP_MAX_ITER = 200
#: a step this small relative to the point (each coordinate) is rounding: the method ends
#: there and the caller's check decides
STEP_FLOOR = 1e-13
#: changes of the penalty function this small relative to it are rounding (accepted)
ROUNDING = 4e-16
#: steps this small relative to the point are taken in full: there the method converges
#: quadratically, and the penalty function's changes are at the level of its rounding
LOCAL_STEP = 1e-9


def _qp(H: np.ndarray, g: np.ndarray, c: np.ndarray, D: np.ndarray, guess=None):
    """The step ``d`` minimising ``g @ d + d @ H @ d / 2`` s.t. ``c + D @ d <= 0``, and its
    multipliers; None when the program cannot be solved.

    With fewer constraints than curved variables (a few dozen groups, up to a few hundred
    parameters) it is solved through its dual, a program in the multipliers alone:
    ``min mu @ Q @ mu / 2 + p @ mu`` over ``mu >= 0``, ``Q = D H^-1 D'``,
    ``p = D H^-1 g - c``, then ``d = -H^-1 (g + D' mu)``. An epigraph level (the last
    variable, without curvature, with cost 1 and -1 in every constraint) adds
    ``sum(mu) = 1`` to the dual, and its step is the largest linearised constraint. With
    more constraints (hundreds of groups, one shared model) the program is solved as it
    is stated. ``guess``: the multipliers of a nearby program, whose support the
    structured Hessian's dual program tries first."""
    n, m = len(g), len(c)
    level = _is_level(H, g, D)
    k = n - 1 if level else n
    flat = _without_gradient(D) if not level and m else np.zeros(m, dtype=bool)
    if flat.any():  # constraints without gradient (a one-class group's saturated loss)
        return _without(flat, H, g, c, D)
    if m > k:
        return _primal_qp(H, g, c, D)
    structured = hasattr(H, "curved")  # blocks and a coupling (fairmtl.solvers._blockhessian)
    Dk = D[:, :k] if level else D
    try:
        factor = H.curved() if structured else ScaledCholesky(H[:k, :k])
        Hg = factor.solve(g[:k])
        if m == 0:
            return -Hg, np.zeros(0)
        # blocks: the dual program in a sparse form (fairmtl.solvers._blockhessian)
        HD = None if structured else factor.solve(Dk.T)
    except (LinAlgError, ValueError):
        return None
    p = Dk @ Hg - c
    mu = H.dual_qp(Dk, p, level, guess) if structured else _dual_qp(Dk @ HD, p, level)
    if mu is None:
        return None
    d = -factor.solve(g[:k] + Dk.T @ mu) if structured else -(Hg + HD @ mu)
    if level:
        d = np.append(d, float(np.max(c + Dk @ d)))
    return d, mu


def _without_gradient(D) -> np.ndarray:
    """Which rows of ``D`` (dense, or sparse as the structured programs give it) are zero."""
    if sp.issparse(D):
        return np.asarray(abs(D).sum(axis=1)).ravel() == 0
    return ~D.any(axis=1)


def _without(flat: np.ndarray, H, g: np.ndarray, c: np.ndarray, D: np.ndarray):
    """:func:`_qp` without the constraints ``flat``, whose linearisation is the constant
    ``c_j``: kept where ``c_j <= 0`` with multiplier 0 (they would make the dual program
    singular), infeasible (None) otherwise."""
    if np.any(c[flat] > 0):
        return None
    found = _qp(H, g, c[~flat], D[np.flatnonzero(~flat)])
    if found is None:
        return None
    mu = np.zeros(len(c))
    mu[~flat] = found[1]
    return found[0], mu


def _primal_qp(H: np.ndarray, g: np.ndarray, c: np.ndarray, D: np.ndarray):
    """:func:`_qp` by Clarabel on the program as stated."""
    m = len(c)
    A = _csc(D.reshape(m, len(g)))
    found = _clarabel(H, g, A, -c, [("nonnegative", m)])
    return None if found is None else (found[0], np.maximum(found[1], 0.0))


def _is_level(H: np.ndarray, g: np.ndarray, D: np.ndarray) -> bool:
    flat = H.level if hasattr(H, "level") else not H[-1].any()
    if not (len(g) > 1 and g[-1] == 1.0 and flat and D.shape[0]):
        return False
    last = D[:, [D.shape[1] - 1]].toarray().ravel() if sp.issparse(D) else D[:, -1]
    return bool(np.all(last == -1.0))


def _dual_qp(Q: np.ndarray, p: np.ndarray, simplex: bool) -> np.ndarray | None:
    """``argmin mu @ Q @ mu / 2 + p @ mu`` over ``mu >= 0`` (and ``sum(mu) = 1`` where
    ``simplex``), by Clarabel; None when it fails."""
    m = len(p)
    rows, rhs, cones = [-np.eye(m)], [np.zeros(m)], [("nonnegative", m)]
    if simplex:
        rows.insert(0, np.ones((1, m)))
        rhs.insert(0, np.ones(1))
        cones.insert(0, ("zero", 1))
    found = _clarabel(Q, p, _csc(np.vstack(rows)), np.concatenate(rhs), cones)
    return None if found is None else np.maximum(found[0], 0.0)


def _clarabel(P: np.ndarray, q: np.ndarray, A, b: np.ndarray, cones: list[tuple[str, int]]):
    """``min x @ P @ x / 2 + q @ x`` s.t. ``b - A @ x`` in ``cones`` by Clarabel: the
    primal and dual solutions, or None where it fails."""
    import clarabel

    settings = clarabel.DefaultSettings()
    settings.verbose = False
    settings.max_iter = QP_MAX_ITER
    settings.tol_gap_abs = settings.tol_gap_rel = settings.tol_feas = QP_TOL
    settings.tol_ktratio = 1e-8
    kinds = {"zero": clarabel.ZeroConeT, "nonnegative": clarabel.NonnegativeConeT}
    made = [kinds[kind](size) for kind, size in cones]
    if sp.issparse(P):  # symmetric already
        P = sp.triu(P, format="csc")
    else:
        P = _csc(np.triu((P + P.T) / 2))
    solution = clarabel.DefaultSolver(P, q, A, b, made, settings).solve()
    if str(solution.status) not in ("Solved", "AlmostSolved"):
        return None
    x, z = np.asarray(solution.x), np.asarray(solution.z)
    return (x, z) if np.all(np.isfinite(x)) and np.all(np.isfinite(z)) else None


def _csc(M: np.ndarray) -> sp.csc_matrix:
    """The dense ``M`` as ``sp.csc_matrix(M)`` holds it (its nonzeros, column by column,
    rows in order), in a third of the time: scipy converts a dense matrix through a
    coordinate one, the most of a program's cost at this size. A sparse ``M`` is
    converted by scipy."""
    if sp.issparse(M):
        return sp.csc_matrix(M)
    cols, rows = np.nonzero(M.T)
    indptr = np.zeros(M.shape[1] + 1, dtype=np.int32)
    np.cumsum(np.bincount(cols, minlength=M.shape[1]), out=indptr[1:])
    return sp.csc_matrix((M[rows, cols], rows.astype(np.int32), indptr), shape=M.shape)


def newton_sqp(
    functions: Callable[[np.ndarray], tuple],
    hessian: Callable[[np.ndarray, np.ndarray], np.ndarray],
    x0: np.ndarray,
    done: Callable[[np.ndarray], bool],
) -> tuple[np.ndarray, int] | None:
    """Minimise ``f0`` subject to ``c <= 0`` from ``x0`` (feasible or not).

    ``functions``, ``hessian`` and ``done`` as for
    :func:`~fairmtl.solvers._interior.primal_dual` (the first Hessian weighs every
    constraint ``1 / m``). Returns the last point and the
    iterations, or None (a quadratic program that failed, or a line search that found no
    decrease at a point ``done`` refuses).
    """
    x = np.asarray(x0, dtype=float).copy()
    f, g, c, D = functions(x)
    m = len(c)
    mu = np.full(m, 1.0 / max(m, 1))
    nu = 0.0
    guess = None  # the last program's multipliers (the first Hessian's are no answer)
    for it in range(1, MAX_ITER + 1):
        H = hessian(x, mu)
        found = _qp(H, g, c, D, guess)
        if found is None:
            return None
        d, mu_qp = found
        if np.all(np.abs(d) <= STEP_FLOOR * (1.0 + np.abs(x))):
            return x, it
        nu = _penalty_weight(nu, mu_qp)
        program = (H, g, c, D, mu_qp)
        step = _line_search(functions, x, f, d, nu, program, backtrack=m == 0)
        if step is None and m:
            # the full step and its correction were refused: most often the Hessian's
            # multipliers (the last program's) were far from this program's, and with
            # them the constraints' curvature; solve again with this program's, then
            # backtrack along that step (measured: the first Pareto-stage step of a
            # regression, 9 passes over the rows to 4 and one Hessian)
            H = hessian(x, mu_qp)
            found = _qp(H, g, c, D, mu_qp)
            if found is None:
                return None
            d, mu_qp = found
            nu = _penalty_weight(nu, mu_qp)
            program = (H, g, c, D, mu_qp)
            step = _line_search(functions, x, f, d, nu, program)
        if step is None:
            return (x, it) if done(x) else None
        # the next Hessian weighs the constraints by the program's multipliers in full,
        # whatever the step's length (Han and Powell's choice): damped like the step,
        # they stay near the first guess while short steps are taken, the Hessian keeps
        # too little of the constraints' curvature, and the next steps are refused too
        x, (f, g, c, D) = step
        mu = guess = mu_qp
        if done(x):
            return x, it
    return None


def _penalty_weight(nu: float, mu: np.ndarray) -> float:
    """The merit function's weight ``nu`` of the constraints' violation: kept at least
    ``NU_MARGIN`` times above the largest multiplier (raised to twice that margin)."""
    if mu.size and NU_MARGIN * mu.max() > nu:
        return 2.0 * NU_MARGIN * float(mu.max())
    return nu


def _merit(values: tuple, nu: float) -> float:
    f, _, c, _ = values
    return float(f) + nu * float(np.maximum(c, 0.0).sum()) if np.isfinite(f) else np.inf


def _line_search(functions, x, f, d, nu, program, backtrack: bool = True):
    """The accepted point and its values ``(x, values)``, or None: from ``x`` (objective
    ``f``), the full step, its second-order correction, then (with ``backtrack``) halved
    steps along ``d``."""
    H, g, c, D, mu = program
    violation = float(np.maximum(c, 0.0).sum())
    merit = f + nu * violation
    slope = float(g @ d) - nu * violation  # the model's decrease (negative)
    merit += ROUNDING * (1.0 + abs(merit))
    full = functions(x + d)
    local = bool(np.all(np.abs(d) <= LOCAL_STEP * (1.0 + np.abs(x))))
    if local or _merit(full, nu) <= merit + ARMIJO * slope:
        return x + d, full
    # Maratos: the constraints' curvature makes the full step look worse than it is;
    # correct it by one more program with the constraints' values at x + d
    corrected = _qp(H, g, full[2] - D @ d, D, mu) if len(c) else None
    if corrected is not None:
        xc = x + corrected[0]
        values = functions(xc)
        if _merit(values, nu) <= merit + ARMIJO * slope:
            return xc, values
    s = 0.5 if backtrack else 0.0
    while s >= 1e-10:
        values = functions(x + s * d)
        if _merit(values, nu) <= merit + ARMIJO * s * slope:
            return x + s * d, values
        s *= 0.5
    return None
