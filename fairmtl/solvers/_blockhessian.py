"""The smooth stages' Hessian for ``offset`` sharing with many groups: blocks and a coupling.

With one model per group, each group's loss depends on its own ``(w_g, b_g)`` only, so
the Hessian of a weighted sum of group losses is block diagonal: one ``(d + 1) x (d + 1)``
block per group. The ``offset`` penalty ``a sum_g rho_g ||w_g||^2 + s sum_g ||theta_g -
mean theta||^2`` adds ``2 a rho_g`` to each block's coefficients, and ``2 s (I - 11'/G)``
kron ``I_(d+1)``: ``2 s`` on each block's diagonal minus a term of rank ``d + 1``. So

    H = B - c U U',   B = blockdiag(B_g),   U = 1_G kron I_(d+1),   c = 2 s / G,

and Woodbury's identity gives ``H^-1 = B^-1 + B^-1 U S^-1 U' B^-1`` with
``S = I / c - sum_g B_g^-1``: ``G`` factorisations of ``(d + 1)``-blocks and one more,
never a dense ``(G (d + 1))^2`` matrix (at 500 groups of 9 parameters, 160 MB and 30
GFlop per Cholesky factorisation). ``S`` is formed as ``sum_g B_g^-1 E_g / (2 s)`` with
``E_g = B_g - 2 s I`` (the loss's curvature and the ridge): the same matrix without
the cancellation of ``G / (2 s) - sum_g B_g^-1`` where the loss's curvature is small
beside ``2 s``.

The parameters are flat as everywhere in the smooth stages, ``[coef (G, d) row by row,
intercept (G,)]`` (:func:`~fairmtl.solvers._interior.penalty_hessian_original`),
optionally followed by an epigraph level without curvature.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.linalg import LinAlgError, cholesky, solve_triangular
from scipy.optimize import nnls

from fairmtl.solvers._interior import GRAM_CHUNK, gram_block, group_gram_sums, weighted_gram
from fairmtl.solvers._newton_sqp import _clarabel
from fairmtl.solvers._rowpass import passes_in_blocks

__all__ = ["GroupBlockHessian", "group_grams", "group_jacobian", "offset_hessian"]


#: a guessed multiplier counts as on the support above this share of the largest (an
#: interior-point answer holds the others at ~1e-12, not at zero)
GUESS_SHARE = 1e-7
#: supports tried from the guess before Clarabel (:func:`_support_optimum`)
SUPPORT_TRIES = 6


class GroupBlockHessian:
    """``blockdiag(B_g) - coupling * (1 1') kron I_(d+1)`` in the flat parameters.

    Parameters
    ----------
    blocks : ndarray of shape (G, d + 1, d + 1)
        Each group's block ``B_g`` in its own order ``[w_g, b_g]``; symmetric positive
        definite.
    coupling : float
        ``c >= 0``; with ``c > 0``, ``ridge`` must be given.
    ridge : float
        ``2 s``: the part of every block's diagonal that the coupling removes again in
        the common direction (``c = ridge / G``).
    level : bool
        Whether an epigraph level without curvature follows the parameters.
    """

    def __init__(self, blocks: np.ndarray, coupling: float, ridge: float = 0.0, level=False):
        self.blocks, self.coupling, self.ridge, self.level = blocks, float(coupling), ridge, level
        G, k, _ = blocks.shape
        self.n_groups, self.k = G, k
        self.n_curved = G * k
        self.n = self.n_curved + int(level)
        d = k - 1
        order = np.empty((G, k), dtype=np.int64)
        order[:, :d] = np.arange(G * d).reshape(G, d)
        order[:, d] = G * d + np.arange(G)
        #: flat index of each group's parameters, in block order
        self.order = order
        self._inverse: np.ndarray | None = None
        self._core: tuple[np.ndarray, np.ndarray] | None = None

    # -- products ---------------------------------------------------------------------
    def _gather(self, r: np.ndarray) -> np.ndarray:
        """``(G, k)`` or ``(G, k, m)`` blocks of the curved part of ``r``."""
        return r[: self.n_curved][self.order]

    def _scatter(self, blocks: np.ndarray, like: np.ndarray) -> np.ndarray:
        out = np.zeros(like.shape)
        out[self.order] = blocks
        return out

    def matvec(self, x: np.ndarray) -> np.ndarray:
        """``H @ x`` for ``x`` of shape (n,) or (n, m) (the level's row is zero)."""
        X = _columns(self._gather(x))
        Y = self.blocks @ X
        if self.coupling:
            Y -= self.coupling * X.sum(axis=0)
        return self._scatter(Y.reshape(self._gather(x).shape), x)

    def dense(self) -> np.ndarray:
        """The dense matrix (for checks on small problems)."""
        return self.matvec(np.eye(self.n))

    # -- solves -----------------------------------------------------------------------
    def curved(self) -> GroupBlockHessian:
        """Itself, factored: :meth:`solve` solves with the curved part of ``H`` (raises
        scipy's LinAlgError where it is not positive definite)."""
        if self._inverse is None:
            self._factor()
        return self

    def _factor(self) -> None:
        B = self.blocks
        if not np.all(np.isfinite(B)):
            raise LinAlgError("non-finite Hessian block")
        scale, _ = _scaled_cholesky(B)  # positive definite, or LinAlgError
        scaled = B * scale[:, :, None] * scale[:, None, :]
        inverse = np.linalg.inv(scaled) * scale[:, :, None] * scale[:, None, :]
        self._inverse = 0.5 * (inverse + inverse.transpose(0, 2, 1))
        if self.coupling:
            # S = sum_g B_g^-1 (B_g - 2 s I) / (2 s): see the module docstring
            E = B - self.ridge * np.eye(self.k)
            S = np.tensordot(self._inverse, E, axes=([0, 2], [0, 1])) / self.ridge
            self._core = _scaled_cholesky(0.5 * (S + S.T))

    def _sparse_inverse(self) -> sp.csr_matrix:
        """``B^-1`` as a sparse matrix in the flat order."""
        inverse = self.curved()._inverse
        rows = np.repeat(self.order, self.k, axis=1).ravel()
        cols = np.tile(self.order, (1, self.k)).ravel()
        n = self.n_curved
        return sp.csr_matrix((inverse.ravel(), (rows, cols)), shape=(n, n))

    def _core_solve(self, b: np.ndarray) -> np.ndarray:
        """``S^-1 b``."""
        scale, L = self._core
        s = scale[:, None] if b.ndim == 2 else scale
        inner = solve_triangular(L, s * b, lower=True)
        return s * solve_triangular(L, inner, lower=True, trans="T")

    def solve(self, r: np.ndarray) -> np.ndarray:
        """``H^-1 r`` over the curved parameters, ``r`` of shape (n_curved,) or
        (n_curved, m)."""
        inverse = self.curved()._inverse
        R = self._gather(r)
        Y = inverse @ _columns(R)  # batched products: BLAS, not einsum's loops
        if self._core is not None:
            Y += inverse @ self._core_solve(Y.sum(axis=0))
        return self._scatter(Y.reshape(R.shape), r[: self.n_curved])

    def dual_qp(self, D, p: np.ndarray, simplex: bool, guess=None) -> np.ndarray | None:
        """``argmin mu @ Q @ mu / 2 + p @ mu`` over ``mu >= 0`` (and ``sum(mu) = 1``
        where ``simplex``) for ``Q = D H^-1 D'``, ``D`` of shape (m, n_curved): the SQP's
        dual program (:func:`~fairmtl.solvers._newton_sqp._dual_qp`), in the sparse form
        ``Q = Q0 + W'W``, ``Q0 = D B^-1 D'`` (diagonal where each row of ``D`` touches one
        group's block), ``W = L^-1 U' B^-1 D'`` (``d + 1`` rows, ``S = L L'``), with
        ``z = W mu`` as extra variables: Clarabel's factorisations then cost ``O(m)``,
        not ``O(m^3)`` (measured on 500 groups: 0.2 s a program dense). None where it
        fails.

        ``guess``: multipliers of a nearby program (the SQP's last), whose support is
        tried first by :func:`_support_optimum`: near the optimum the active groups no
        longer change, and one dense solve on them replaces Clarabel (measured on 500
        groups: 5 ms a program, 25 ms where Clarabel stalled and non-negative least
        squares took over, against ~1 ms)."""
        m = len(p)
        Ds = sp.csr_matrix(D)
        Y = self._sparse_inverse() @ Ds.T  # B^-1 D', sparse as D
        Q0 = Ds @ Y
        if self._core is None:
            W = np.zeros((0, m))
        else:
            scale, L = self._core  # S = diag(1 / scale) L L' diag(1 / scale)
            ones = np.ones(self.n_curved)
            sums = np.tile(np.arange(self.k), self.n_groups)
            Ut = sp.csr_matrix((ones, (sums, self.order.ravel())), shape=(self.k, self.n_curved))
            W = solve_triangular(L, scale[:, None] * (Ut @ Y).toarray(), lower=True)
        if guess is not None and len(guess) == m and guess.max(initial=0.0) > 0:
            on = guess > GUESS_SHARE * guess.max()
            exact = _support_optimum(Q0.toarray() + W.T @ W, p, on, simplex, SUPPORT_TRIES)
            if exact is not None:
                return exact
        r = W.shape[0]
        half = (0.5 * (Q0 + Q0.T)).tocoo()
        diag = np.arange(m, m + r)
        P = _coo((half.data, np.ones(r)), (half.row, diag), (half.col, diag), m + r, m + r)
        # rows: sum(mu) = 1 (simplex), W mu - z = 0, mu >= 0
        top = int(simplex)
        Wr, Wc = np.divmod(np.arange(r * m), m)
        A = _coo(
            (np.ones(top * m), W.ravel(), -np.ones(r), -np.ones(m)),
            (
                np.zeros(top * m, dtype=np.int64),
                top + Wr,
                top + np.arange(r),
                top + r + np.arange(m),
            ),
            (np.arange(top * m), Wc, diag, np.arange(m)),
            top + r + m,
            m + r,
        )
        b = np.concatenate([np.ones(top), np.zeros(r + m)])
        cones = [("zero", 1)] if simplex else []
        cones += [("zero", r), ("nonnegative", m)]
        cones = [c for c in cones if c[1]]
        found = _clarabel(P, np.append(p, np.zeros(r)), A, b, cones)
        if found is None:
            return _dual_nnls(Q0.toarray() + W.T @ W, p, simplex)
        return np.maximum(found[0][:m], 0.0)


def _coo(values: tuple, rows: tuple, cols: tuple, n_rows: int, n_cols: int) -> sp.csc_matrix:
    """A CSC matrix from pieces of coordinates (one constructor, not scipy's stacking)."""
    data = np.concatenate(values)
    coords = (np.concatenate(rows), np.concatenate(cols))
    return sp.csc_matrix((data, coords), shape=(n_rows, n_cols))


def _dual_nnls(Q: np.ndarray, p: np.ndarray, simplex: bool) -> np.ndarray | None:
    """The dual program of :meth:`GroupBlockHessian.dual_qp` by non-negative least
    squares on ``Q = L L'``: ``min ||L' mu + L^-1 p||``, with ``sum(mu) = 1`` as a
    heavily weighted row where ``simplex``. Where Clarabel stalls (measured on 200 groups,
    the dense form: "InsufficientProgress" at its tolerance of 1e-11 on a program with
    ``Q``'s eigenvalues in [0.04, 105]); None where ``Q`` is not positive definite."""
    try:
        L = cholesky(0.5 * (Q + Q.T), lower=True)
    except (LinAlgError, ValueError):
        return None
    A, b = L.T, -solve_triangular(L, p, lower=True)
    if simplex:
        weight = 1e3 * (1.0 + np.abs(A).max())
        A, b = np.vstack([A, np.full(len(p), weight)]), np.append(b, weight)
    mu = nnls(A, b)[0]
    if not simplex:
        return mu
    return _on_simplex(Q, p, mu) if mu.sum() > 0 else None


def _on_simplex(Q: np.ndarray, p: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """The exact minimiser over the simplex on the support of ``mu`` where it is the
    optimum (:func:`_support_optimum`); else ``mu`` rescaled to sum to 1 (the weighted
    row holds the sum only approximately)."""
    exact = _support_optimum(Q, p, mu > 0, True)
    return mu / mu.sum() if exact is None else exact


def _support_optimum(Q: np.ndarray, p: np.ndarray, on: np.ndarray, simplex: bool, tries=1):
    """The minimiser of the dual program (:meth:`GroupBlockHessian.dual_qp`) with the
    multipliers off ``on`` at zero (the equality-constrained program's KKT system) where
    it is the optimum of the whole program: non-negative, and no multiplier off ``on``
    would lower the objective (to 1e-9 relative). Otherwise, up to ``tries`` supports in
    all, the next is ``on`` without the negative multipliers and with those that would
    lower the objective (a primal-dual active-set step); None where none was the
    optimum."""
    tol = 1e-9 * (1.0 + np.abs(p).max())
    for _ in range(tries):
        k, s = int(on.sum()), int(simplex)
        K = np.zeros((k + s, k + s))
        K[:k, :k] = Q[np.ix_(on, on)]
        if simplex:
            K[:k, k] = K[k, :k] = 1.0
        try:
            solved = np.linalg.solve(K, np.append(-p[on], np.ones(s)))
        except np.linalg.LinAlgError:
            return None
        exact = np.zeros(len(p))
        exact[on] = solved[:k]
        reduced = Q @ exact + p + (solved[k] if simplex else 0.0)  # >= 0 off the support
        if not np.all(np.isfinite(reduced)):
            return None
        low, enter = exact < 0, ~on & (reduced < -tol)
        if not (low.any() or enter.any()):
            return exact
        on = (on & ~low) | enter
    return None


def _scaled_cholesky(M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(scale, L)`` with ``scale * M * scale' = L L'`` (``scale = diag(M)^-1/2``), for
    one matrix or a stack; raises scipy's LinAlgError where it is not positive definite."""
    scale = 1.0 / np.sqrt(np.maximum(np.einsum("...ii->...i", M), 1e-300))
    try:
        return scale, np.linalg.cholesky(M * scale[..., :, None] * scale[..., None, :])
    except np.linalg.LinAlgError as exc:
        raise LinAlgError(str(exc)) from exc


def _columns(blocks: np.ndarray) -> np.ndarray:
    """``(G, k)`` blocks as ``(G, k, 1)``; ``(G, k, m)`` as they are."""
    return blocks[:, :, None] if blocks.ndim == 2 else blocks


def group_jacobian(
    jw: np.ndarray, jb: np.ndarray, groups: np.ndarray, scale: np.ndarray, level: bool
) -> sp.csr_matrix:
    """Rows ``scale_k * grad L_g`` for ``g = groups[k]`` of per-group models in the flat
    parameters ``[coef (G, d) row by row, intercept (G,)]``, then ``-1`` in a last column
    (an epigraph level) where ``level``: a CSR matrix with ``d + 1`` (``d + 2``) entries a
    row, never the dense ``len(groups) x G (d + 1)`` one (at 500 groups, 18 MB written and
    scanned again for each SQP iteration)."""
    groups = np.asarray(groups, dtype=np.int64)
    G, d = jw.shape
    m, k = len(groups), d + 1 + int(level)
    cols = np.empty((m, k), dtype=np.int64)
    vals = np.empty((m, k))
    cols[:, :d] = groups[:, None] * d + np.arange(d)
    cols[:, d] = G * d + groups
    vals[:, :d] = jw[groups] * scale[:, None]
    vals[:, d] = jb[groups] * scale
    if level:
        cols[:, d + 1], vals[:, d + 1] = G * (d + 1), -1.0
    shape = (m, G * (d + 1) + int(level))
    return sp.csr_matrix((vals.ravel(), cols.ravel(), np.arange(0, m * k + 1, k)), shape=shape)


def group_grams(data, loss_curvature, z: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``weights_g * Hessian of L_g`` in ``(w_g, b_g)`` for every group, shape
    ``(G, d + 1, d + 1)``, for rows sorted by group
    (:class:`~fairmtl.solvers._grouped.GroupedData`); groups of weight 0 are skipped."""
    if passes_in_blocks(data):  # few large groups: blocks of rows on threads
        return group_gram_sums(data, loss_curvature, z, weights)
    G, d = data.n_groups, data.d
    blocks = np.zeros((G, d + 1, d + 1))
    c = weights[data.task] * data.rw * loss_curvature(z, data.y)
    used = np.flatnonzero(weights)
    used = used[data.starts[used + 1] > data.starts[used]]
    if not sp.issparse(data.X):
        return _dense_grams(data, c, used, blocks)
    for g in used:
        a, e = data.starts[g], data.starts[g + 1]
        blocks[g] = gram_block(*weighted_gram(data.rows(a, e), c[a:e]))
    return blocks


def _dense_grams(data, c: np.ndarray, used: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    """:func:`group_grams` of dense rows: the groups of ``used`` that fit together in
    ``GRAM_CHUNK`` rows as one run, whose rows ``sqrt(c) [x, 1]`` are written once (in the
    rows' dtype, as :func:`~fairmtl.solvers._interior.weighted_gram` takes them), then one
    product per group (at 500 groups of 200 rows, 4 ms a Hessian against 9 ms by
    ``weighted_gram`` per group); a larger group by ``weighted_gram``."""
    X, starts, d = data.X, data.starts, data.d
    root = np.sqrt(np.maximum(c, 0.0))
    ends = starts[used + 1]
    buffer = np.empty((min(GRAM_CHUNK, data.n), d + 1), dtype=X.dtype)
    k = 0
    while k < len(used):
        a = starts[used[k]]
        j = max(int(np.searchsorted(ends, a + GRAM_CHUNK, side="right")), k + 1)
        e = ends[j - 1]
        if e - a > GRAM_CHUNK:  # one group larger than a run
            blocks[used[k]] = gram_block(*weighted_gram(data.rows(a, e), c[a:e]))
        else:
            rows = buffer[: e - a]
            np.multiply(X[a:e], root[a:e, None], out=rows[:, :d])
            rows[:, d] = root[a:e]
            for g in used[k:j]:
                part = rows[starts[g] - a : starts[g + 1] - a]
                blocks[g] = part.T @ part
        k = j
    return blocks


def offset_hessian(blocks: np.ndarray, penalty, level: bool = False) -> GroupBlockHessian:
    """The Lagrangian's Hessian from the loss blocks of :func:`group_grams` and the
    penalty (:class:`~fairmtl.solvers._certificate.Penalty` of per-group models)."""
    G, k, _ = blocks.shape
    B = blocks.copy()
    ridge = 2 * penalty.strength if penalty.coupled else 0.0
    diag = np.full((G, k), ridge)
    diag[:, : k - 1] += (2 * penalty.alpha * penalty.rho)[:, None]
    B[:, np.arange(k), np.arange(k)] += diag
    return GroupBlockHessian(B, ridge / G, ridge, level)
