"""An active-set polish of the exact path's answer for the hinge losses.

With the hinge loss (binary, or Crammer and Singer's multiclass form) an unconstrained
weighted objective ``sum_i c_i max_j v_ij(theta) + 1/2 theta' H theta`` is a quadratic
program: each row's loss is the largest of a few affine pieces ``v_ij`` (``0`` and
``1 - y z`` for two classes; ``z_k + [k != y] - z_y`` for each class ``k``). The
interior-point solver's answer is accurate to ~1e-7 in the outputs. Its active set
(which pieces attain each row's maximum) decides the exact answer: rows where one piece
is largest contribute a fixed gradient ``c_i a_ij``; rows on a kink (two or more pieces
tied) split their weight ``c_i`` among the tied pieces with multipliers
``lambda_ij >= 0``, and keep those pieces equal. The optimality conditions on that
active set are one linear system. Its solution is accepted only if it is verified: the
same pieces are still largest (and tied), every multiplier is non-negative, and the
objective is no higher. Then the KKT conditions of the convex program hold to rounding.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.optimize import nnls

__all__ = ["HINGE_LOSSES", "hinge_polish"]

HINGE_LOSSES = frozenset({"hinge", "multiclass_hinge"})
#: pieces within this (times the scale of the outputs) of a row's maximum count as tied
TIED = 1e-6
#: largest linear system (parameters + tied pieces) solved
MAX_SYSTEM = 1500
#: slack of the verification (relative)
VERIFY = 1e-10
#: most active-set corrections (pieces dropped from a row's tied set)
MAX_ROUNDS = 10


def _pieces(A, y: np.ndarray, theta_p: np.ndarray, K: int):
    """Values ``(n, J)`` of each row's affine pieces and their gradients in the block's
    flat parameters, as a function ``grad(rows, j) -> (len(rows), m * K)``."""
    z = np.asarray(A @ theta_p)
    n = z.shape[0]
    if K == 1:
        s = np.where(y > 0, 1.0, -1.0)
        values = np.column_stack([np.zeros(n), 1.0 - s * z[:, 0]])
    else:
        yi = y.astype(int)
        values = z + 1.0 - z[np.arange(n), yi][:, None]
        values[np.arange(n), yi] = 0.0
    return values


def _piece_gradient(A, y: np.ndarray, rows: np.ndarray, j: np.ndarray, K: int) -> np.ndarray:
    """Gradients ``(len(rows), m * K)`` of piece ``j[r]`` of row ``rows[r]`` in the block's
    flat parameters ``(m, K)`` row by row."""
    Ar = A[rows]
    Ar = Ar.toarray() if sp.issparse(Ar) else np.asarray(Ar)
    m = Ar.shape[1]
    out = np.zeros((len(rows), m, K))
    if K == 1:
        s = np.where(y[rows] > 0, 1.0, -1.0)
        out[:, :, 0] = np.where(j[:, None] == 1, -s[:, None] * Ar, 0.0)
    else:
        yi = y[rows].astype(int)
        idx = np.arange(len(rows))
        out[idx, :, j] += Ar
        out[idx, :, yi] -= Ar  # the piece of the true class (k = y) is 0: both cancel
    return out.reshape(len(rows), m * K)


def _value(rows, lam, H: np.ndarray, theta: np.ndarray, K: int) -> tuple[float, list]:
    """The objective and each block's piece values."""
    total = 0.5 * float(theta.ravel() @ H @ theta.ravel())
    values = []
    for (A, y, tasks, rw), th in zip(rows.blocks, theta, strict=True):
        v = _pieces(A, y, th, K)
        total += float((lam[tasks] * rw) @ v.max(axis=1))
        values.append(v)
    return total, values


def hinge_polish(rows, lam: np.ndarray, H: np.ndarray, theta: np.ndarray, basis):
    """The exact optimum on the active set of ``theta`` (shape ``(P, m, K)``, the solver's
    coordinates), verified; None when the system is too large or the verification fails.
    ``rows``: :class:`~fairmtl.solvers._newton.PolishRows`; ``H``: the penalty's Hessian
    in the flat parameters; ``basis``: their columns with multinomial-style zero-sum
    intercepts, or None."""
    P, m, K = theta.shape
    N = P * m * K
    E = sp.identity(N, format="csr") if basis is None else basis
    before, values = _value(rows, lam, H, theta, K)
    scale = 1.0 + max(float(np.max(np.abs(v))) if v.size else 0.0 for v in values)
    masks = [v >= v.max(axis=1, keepdims=True) - TIED * scale for v in values]
    for _ in range(MAX_ROUNDS):
        M, rhs, kinks = _system(rows, lam, H, masks, E, (P, m, K))
        n_phi = E.shape[1]
        if M.shape[0] > MAX_SYSTEM:
            return None
        solution = np.linalg.lstsq(M, rhs, rcond=None)[0]
        if np.linalg.norm(M @ solution - rhs) > VERIFY * scale * (1.0 + np.linalg.norm(rhs)):
            return None  # the active set admits no solution: it was misread
        lam_tied = _nonnegative_multipliers(M, rhs, solution, n_phi)
        if lam_tied is not None:
            break
        # a piece whose multiplier must be negative is not tied at the optimum: drop it
        # from its row's tied set and solve again (a step of an active-set method)
        dropped, at = False, n_phi
        for p, i, js in kinks:
            wrong = solution[at : at + len(js)] < -VERIFY * scale
            if wrong.any() and not wrong.all():
                masks[p][i, js[wrong]] = False
                dropped = True
            at += len(js)
        if not dropped:
            return None
    else:
        return None
    theta_new = np.asarray(E @ solution[:n_phi]).reshape(P, m, K)
    after, values_new = _value(rows, lam, H, theta_new, K)
    if not _verified(masks, values_new, lam_tied, before, after, scale):
        return None
    return theta_new, after


def _system(rows, lam, H, masks, E, shape):
    """The optimality conditions on the active set ``masks`` (each row's tied pieces) as
    ``M [phi, lambda] = rhs``: stationarity, the tied pieces of each kink row equal, and
    their multipliers summing to the row's weight. Also the kink rows ``(block, row,
    pieces)``, in the order of the multipliers."""
    P, m, K = shape
    size, n_phi = m * K, E.shape[1]
    fixed = np.zeros(P * size)  # the gradient of the rows off the kinks
    kinks, grads, weights = [], [], []
    for p, ((A, y, tasks, rw), mask) in enumerate(zip(rows.blocks, masks, strict=True)):
        if not len(y):
            continue
        c = lam[tasks] * rw
        single = mask.sum(axis=1) == 1
        part = slice(p * size, (p + 1) * size)
        r1 = np.flatnonzero(single & (c > 0))
        if r1.size:
            fixed[part] += c[r1] @ _piece_gradient(A, y, r1, mask[r1].argmax(axis=1), K)
        for i in np.flatnonzero(~single & (c > 0)):
            js = np.flatnonzero(mask[i])
            G = np.zeros((len(js), P * size))
            G[:, part] = _piece_gradient(A, y, np.full(len(js), i), js, K)
            kinks.append((p, i, js))
            grads.append(np.asarray((E.T @ G.T).T))  # the tied pieces' gradients in phi
            weights.append(c[i])
    n = n_phi + sum(len(js) for _, _, js in kinks)
    M, rhs = np.zeros((n, n)), np.zeros(n)
    M[:n_phi, :n_phi] = np.asarray(E.T @ (E.T @ H).T)
    rhs[:n_phi] = -np.asarray(E.T @ fixed)
    at = eq = n_phi
    for GE, (p, i, js), c in zip(grads, kinks, weights, strict=True):
        k = len(js)
        M[:n_phi, at : at + k] = GE.T  # stationarity: their multipliers' share
        A, y = rows.blocks[p][0], rows.blocks[p][1]
        v0 = _pieces(A[[i]], y[[i]], np.zeros((m, K)), K)[0, js]  # the constant terms
        for r in range(1, k):  # the tied pieces stay equal
            M[eq, :n_phi] = GE[r] - GE[0]
            rhs[eq] = v0[0] - v0[r]
            eq += 1
        M[eq, at : at + k] = 1.0  # their multipliers sum to the row's weight
        rhs[eq] = c
        eq += 1
        at += k
    return M, rhs, kinks


def _nonnegative_multipliers(M, rhs, solution, n_phi: int) -> np.ndarray | None:
    """Multipliers ``>= 0`` that meet stationarity and the weight sums at the solved
    point: repeated rows tie the same pieces, so the system's own multipliers are not
    unique (least squares may give negative ones where non-negative ones exist)."""
    top = M[:n_phi, n_phi:]
    target = rhs[:n_phi] - M[:n_phi, :n_phi] @ solution[:n_phi]
    sums = M[n_phi:, n_phi:]
    has_sum = np.any(sums != 0, axis=1) & np.all(M[n_phi:, :n_phi] == 0, axis=1)
    weight = 1e3 * (1.0 + np.abs(top).max(initial=0.0))
    B = np.vstack([top, weight * sums[has_sum]])
    b = np.concatenate([target, weight * rhs[n_phi:][has_sum]])
    if not (np.all(np.isfinite(B)) and np.all(np.isfinite(b))):
        return None
    if B.shape[1] == 0:  # no kink: stationarity alone (scipy's nnls aborts on no column)
        lam, residual = np.zeros(0), float(np.linalg.norm(b))
    else:
        lam, residual = nnls(B, b, maxiter=50 * B.shape[1])
    if residual > VERIFY * (1.0 + np.linalg.norm(b)):
        return None
    return lam


def _verified(masks, values_new, lam_tied, before: float, after: float, scale: float) -> bool:
    """The new point keeps the active set (each row's tied pieces equal and largest), its
    multipliers are non-negative, and its objective is no higher."""
    tol = VERIFY * scale
    if np.any(lam_tied < -tol) or after > before + VERIFY * (1.0 + abs(before)):
        return False
    for mask, vn in zip(masks, values_new, strict=True):
        if not vn.size:
            continue
        top = vn.max(axis=1, keepdims=True)
        if np.any(np.abs(np.where(mask, vn - top, 0.0)) > tol):
            return False
    return True
