"""The smooth stages' engine: a primal-dual interior-point method with exact Hessians.

The exact path's smooth stages (:mod:`fairmtl.solvers._refine`) are small convex programs
``min f0(u) s.t. c_g(u) <= 0`` over the ``(d + 1)`` parameters of each group model (and
the epigraph variable of ``minimax``), with one constraint per group. SLSQP solves them
with dense quasi-Newton steps, whose cost grows as the cube of the parameters, in a few
dozen iterations. Here the Hessians are exact and cheap (the loss's curvature per row:
one ``(d + 1) x (d + 1)`` product per group model; the penalty's is constant), so the
primal-dual Newton steps of Boyd and Vandenberghe (*Convex Optimization*, 11.7) reach
the rounding floor in about twenty iterations, each one pass over the rows and one
Cholesky factorisation.

Every answer is still checked by the caller's KKT test; on any failure the caller falls
back to SLSQP.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve

from fairmtl.solvers._rowpass import (
    add_in_order,
    block_rows,
    blocked,
    group_spans,
    passes_in_blocks,
    thread_gram_buffer,
)

__all__ = [
    "ScaledCholesky",
    "epigraph_program",
    "lagrangian_hessian",
    "penalty_hessian_original",
    "primal_dual",
    "weighted_gram",
    "weighted_program",
]

MAX_ITER = 100
#: the barrier parameter grows so that the surrogate gap falls ``MU_FACTOR`` times a step
MU_FACTOR = 10.0
#: a step must lower the residual norm by this share of its length (backtracking)
DECREASE = 0.01
#: this many steps in a row shorter than ``CRAWL_STEP`` end the method (None: the caller's
#: SLSQP takes over). Measured: from stage 1's answer of a two-group problem, whose stage-2
#: feasible set is a thin sliver around it, the steps crawled at ~1e-3 of their length for
#: all 100 iterations (1,110 passes over the rows, 3.2 s on 100,000 rows; SLSQP: 0.6 s)
CRAWL_STEP, CRAWL_ITERATIONS = 1.0 / 64, 5
#: rows per product of :func:`weighted_gram` (bounds its temporary)
GRAM_CHUNK = 16_384


class ScaledCholesky:
    """``Q^-1 b`` for a symmetric positive definite ``Q``, factored once after diagonal
    scaling (raises scipy's LinAlgError where ``Q`` is not positive definite)."""

    def __init__(self, Q: np.ndarray) -> None:
        self.scale = 1.0 / np.sqrt(np.maximum(np.diag(Q), 1e-300))
        self.factor = cho_factor(Q * self.scale[:, None] * self.scale[None, :])

    def solve(self, b: np.ndarray) -> np.ndarray:
        s = self.scale if b.ndim == 1 else self.scale[:, None]
        return s * cho_solve(self.factor, s * b)


def primal_dual(
    functions: Callable[[np.ndarray], tuple],
    hessian: Callable[[np.ndarray, np.ndarray], np.ndarray],
    x0: np.ndarray,
    done: Callable[[np.ndarray], bool],
) -> tuple[np.ndarray, int] | None:
    """Minimise ``f0`` subject to ``c <= 0`` from the strictly feasible ``x0``.

    ``functions(x)`` gives ``(f0, grad f0, c, Jacobian of c)``; ``hessian(x, mu)`` the
    Hessian of the Lagrangian ``f0 + mu @ c``; ``done(x)`` whether a point is good enough
    (the caller's check). Returns the last point and the iterations, or None (``x0`` not
    strictly feasible, a singular system, or a line search that failed).
    """
    x = np.asarray(x0, dtype=float).copy()
    _, g, c, D = functions(x)
    if not np.all(c < 0):
        return None
    m = len(c)
    mu = np.full(m, 1.0 / max(m, 1))
    short = 0  # consecutive short steps
    for it in range(1, MAX_ITER + 1):
        eta = float(-c @ mu)
        t = MU_FACTOR * m / max(eta, 1e-300) if m else 1.0  # no constraint: plain Newton
        r_d = g + D.T @ mu
        r_c = -mu * c - 1.0 / t
        try:
            Q = hessian(x, mu) + D.T @ ((mu / -c)[:, None] * D)
            dx = ScaledCholesky(Q).solve(-r_d - D.T @ (r_c / c))
        except (LinAlgError, ValueError):
            return None
        dmu = (r_c - mu * (D @ dx)) / c
        falling = dmu < 0
        s = min(1.0, 0.99 * float(np.min(-mu[falling] / dmu[falling]))) if falling.any() else 1.0
        norm = np.sqrt(float(r_d @ r_d) + float(r_c @ r_c))
        while True:
            xn, mun = x + s * dx, mu + s * dmu
            fn, gn, cn, Dn = functions(xn)
            if np.all(cn < 0) and np.isfinite(fn):
                rd, rc = gn + Dn.T @ mun, -mun * cn - 1.0 / t
                if np.sqrt(float(rd @ rd) + float(rc @ rc)) <= (1 - DECREASE * s) * norm:
                    break
            s *= 0.5
            if s < 1e-10:  # no progress: at the rounding floor, or a failure
                return (x, it) if done(x) else None
        x, mu, g, c, D = xn, mun, gn, cn, Dn
        if done(x):
            return x, it
        short = short + 1 if s < CRAWL_STEP else 0
        if short >= CRAWL_ITERATIONS:  # crawling along the boundary: let SLSQP finish
            return None
    return x, MAX_ITER


def penalty_hessian_original(penalty, P: int, d: int) -> np.ndarray:
    """The Hessian of a :class:`~fairmtl.solvers._certificate.Penalty` in the flat
    original-space parameters ``[coef (P, d) row by row, intercept (P,)]``."""
    if penalty.sharing == "shared":
        ridge = np.ones(1)
    else:
        ridge = penalty.rho
    H = np.zeros((P * (d + 1), P * (d + 1)))
    H[: P * d, : P * d] = np.kron(np.diag(2 * penalty.alpha * ridge), np.eye(d))
    if penalty.sharing == "offset" and penalty.strength > 0 and P > 1:
        centre = 2 * penalty.strength * (np.eye(P) - 1.0 / P)
        H[: P * d, : P * d] += np.kron(centre, np.eye(d))
        H[P * d :, P * d :] += centre
    return H


def lagrangian_hessian(data, loss_curvature, z: np.ndarray, weights: np.ndarray, P: int):
    """``sum_g weights_g * Hessian of L_g`` in the flat original-space parameters, for
    rows sorted by group (:class:`~fairmtl.solvers._oracle.GroupedData`); P = 1 for one
    shared model, else one model per group. ``loss_curvature(z, y)`` is the loss's second
    derivative per row; ``weights`` are non-negative."""
    d = data.d
    H = np.zeros((P * (d + 1), P * (d + 1)))
    if passes_in_blocks(data):
        blocks = group_gram_sums(data, loss_curvature, z, weights)
        if P == 1:
            blocks = blocks.sum(axis=0)[None]
        for p in range(P):
            _place(H, P, d, p, (blocks[p, :d, :d], blocks[p, :d, d], blocks[p, d, d]))
        return H
    c = weights[data.task] * data.rw * loss_curvature(z, data.y)
    buffer = gram_buffer(data.rows(0, data.n))
    for p in range(P):
        a, e = (0, data.n) if P == 1 else (data.starts[p], data.starts[p + 1])
        if e <= a:
            continue
        _place(H, P, d, p, weighted_gram(data.rows(a, e), c[a:e], buffer))
    return H


def _place(H: np.ndarray, P: int, d: int, p: int, gram: tuple) -> None:
    """Add model ``p``'s ``(X' C X, X' c, sum c)`` to its block of the flat Hessian."""
    ww, wb, cs = gram
    H[p * d : (p + 1) * d, p * d : (p + 1) * d] += ww
    H[p * d : (p + 1) * d, P * d + p] += wb
    H[P * d + p, p * d : (p + 1) * d] += wb
    H[P * d + p, P * d + p] += cs


def group_gram_sums(data, loss_curvature, z: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``weights_g * Hessian of L_g`` in ``(w_g, b_g)`` for every group, shape
    ``(G, d + 1, d + 1)`` (``[X' C X, X' c; c' X, sum c]``), over blocks of rows on several
    threads (:mod:`fairmtl.solvers._rowpass`); groups of weight 0 are zero."""
    G, d = data.n_groups, data.d

    def part(a: int, e: int):
        blocks = np.zeros((G, d + 1, d + 1))
        buffer = thread_gram_buffer(data, GRAM_CHUNK)
        for g, s, t in group_spans(data, a, e):
            if weights[g] != 0:
                c = weights[g] * data.rw[s:t] * loss_curvature(z[s:t], data.y[s:t])
                blocks[g] = gram_block(*weighted_gram(data.rows(s, t), c, buffer))
        return (blocks,)

    return add_in_order(blocked(data.n, block_rows(d), part))[0]


def gram_block(ww: np.ndarray, wb: np.ndarray, cs: float) -> np.ndarray:
    """:func:`weighted_gram`'s ``(X' C X, X' c, sum c)`` as one ``(d + 1, d + 1)`` block in
    ``(w, b)``."""
    return np.block([[ww, wb[:, None]], [wb[None, :], np.array([[cs]])]])


def gram_buffer(X) -> np.ndarray | None:
    """A buffer for :func:`weighted_gram`'s chunks of ``X``'s rows (None: sparse rows)."""
    if hasattr(X, "multiply"):
        return None
    return np.empty((min(GRAM_CHUNK, X.shape[0]), X.shape[1]), dtype=X.dtype)


def weighted_gram(X, c: np.ndarray, buffer=None) -> tuple[np.ndarray, np.ndarray, float]:
    """``X' diag(c) X``, ``X' c`` and ``sum(c)`` for ``c >= 0``, in float64.

    Dense rows are taken ``GRAM_CHUNK`` at a time in their stored dtype (float32 rows are
    not upcast: a Hessian only steers Newton's steps, whose answers are checked on exact
    gradients), each as the Gram matrix of ``sqrt(c) * X`` (one symmetric product),
    written into ``buffer`` (:func:`gram_buffer`) where one is given: callers that take
    many Gram matrices keep one buffer, rather than a fresh block per chunk, which a
    process that returns freed blocks to the system at once (a Dask worker) faults in
    again every time.
    """
    d = X.shape[1]
    if hasattr(X, "multiply"):  # sparse rows
        Xc = X.multiply(c[:, None])
        ww = X.T @ Xc
        ww = ww.toarray() if hasattr(ww, "toarray") else np.asarray(ww)
        return ww, np.asarray(Xc.sum(axis=0), dtype=float).ravel(), float(c.sum())
    ww, wb = np.zeros((d, d)), np.zeros(d)
    root = np.sqrt(np.maximum(c, 0.0))
    for s in range(0, X.shape[0], GRAM_CHUNK):
        r = root[s : s + GRAM_CHUNK].astype(X.dtype, copy=False)
        if buffer is None:
            Xs = X[s : s + GRAM_CHUNK] * r[:, None]
        else:
            Xs = np.multiply(X[s : s + GRAM_CHUNK], r[:, None], out=buffer[: len(r)])
        ww += Xs.T @ Xs
        wb += r @ Xs
    return ww, wb, float(c.sum())


# -- the smooth stages' programs (fairmtl.solvers._refine) ---------------------------------
def _flat(w: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.concatenate([w.ravel(), b])


def weighted_program(model, penalty, shares, bounds, start, coords, structured=False):
    """``min shares @ L + R  s.t.  L_g <= bounds_g`` (inf: no bound) for :func:`primal_dual`,
    in flat original-space parameters, on the group models of ``model`` (the smooth
    stages' ``_Model``); ``start`` is ``(coef (P, d), intercept (P,))``. Returns
    ``(functions, hessian, start, to_x)``, ``to_x`` mapping a point to ``coords``.
    ``structured``: the Hessians are ``model.block_hessian``'s blocks and coupling
    (:mod:`fairmtl.solvers._blockhessian`), not dense matrices."""
    P, d = len(start[1]), model.data.d
    split = lambda u: (u[: P * d].reshape(P, d), u[P * d :])  # noqa: E731
    Hpen = None if structured else penalty_hessian_original(penalty, P, d)
    idx = np.flatnonzero(np.isfinite(bounds))

    def functions(u):
        losses, jw, jb, pv, pw, pb = model.evaluate(*split(u))
        gw, gb = model.blocks(jw, jb, shares)
        if structured:  # sparse: one model's parameters a row
            D = model.jacobian(jw, jb, idx, np.ones(len(idx)))
        else:
            D = model.constraint_rows(jw, jb, idx).reshape(len(idx), u.size)
        grad = _flat(gw + pw, gb + pb)
        return float(shares @ losses) + pv, grad, (losses - bounds)[idx], D

    def hessian(u, mu):
        v = np.array(shares, dtype=float)
        v[idx] += mu
        if structured:
            return model.block_hessian(split(u), v, level=False)
        return Hpen + _loss_hessian(model, split(u), v, P)

    return functions, hessian, _flat(*start), lambda u: coords.to_x(*split(u))


def epigraph_program(model, penalty, scale, shift, start, t0: float, coords, structured=False):
    """``min t + R  s.t.  scale_g L_g - shift_g <= t`` as :func:`weighted_program`, the
    variables followed by ``t`` (starting strictly above ``t0``, the start's level)."""
    P, d = len(start[1]), model.data.d
    split = lambda x: (x[: P * d].reshape(P, d), x[P * d : -1])  # noqa: E731
    Hpen = None if structured else penalty_hessian_original(penalty, P, d)
    ones = np.ones(len(scale))

    def functions(x):
        losses, jw, jb, pv, pw, pb = model.evaluate(*split(x))
        if structured:  # sparse: one model's parameters and the level a row
            D = model.jacobian(jw, jb, np.arange(len(scale)), scale, level=True)
        else:
            rows = model.constraint_rows(jw, jb, np.arange(len(scale))) * scale[:, None]
            D = np.column_stack([rows, -ones])
        levels = scale * losses - shift - x[-1]
        return x[-1] + pv, np.append(_flat(pw, pb), 1.0), levels, D

    def hessian(x, mu):
        if structured:
            return model.block_hessian(split(x), mu * scale, level=True)
        H = np.zeros((x.size, x.size))
        H[:-1, :-1] = Hpen + _loss_hessian(model, split(x), mu * scale, P)
        return H

    t_start = t0 + 1e-2 * (1.0 + abs(t0))  # strictly feasible
    to_x = lambda x: np.append(coords.to_x(*split(x)), x[-1])  # noqa: E731
    return functions, hessian, np.append(_flat(*start), t_start), to_x


def _loss_hessian(model, point, weights: np.ndarray, P: int) -> np.ndarray:
    return model.hessian(point, weights, P)
