"""Exact compression of a squared-loss problem's rows for the smooth stages and the dual
path: each group's rows replaced by ``2 (d + 1)`` weighted rows with the same loss.

For the squared loss a group's loss is a quadratic in ``(w, b)`` that depends on its rows
only through the weighted mean ``mu`` and covariance ``C`` of ``v = (x, y)``: with
``theta = (w, -1)``, ``L_g(w, b) = (mu @ theta + b)^2 + theta @ C @ theta``. Let ``R``
be the triangular factor of a QR decomposition of ``sqrt(rw) (v - mu)`` (so ``R'R = C``,
computed without the cancellation of ``E[v v'] - mu mu'``) and ``m`` its number of rows.
The ``2m`` "sigma points" ``mu + sqrt(m) R_j`` and ``mu - sqrt(m) R_j``, each of weight
``1 / (2m)`` of the group's, have the same mean and covariance, hence the same loss for
every ``(w, b)``: ``sum_j (1/2m) [2 (mu @ theta + b)^2 + 2 m (R_j @ theta)^2]``. They
are ordinary rows (intercept coefficient 1), so every consumer of
:class:`~fairmtl.solvers._grouped.GroupedData` (the oracle and its certificate, the
smooth stages' sums and Hessians, the conditioning moments) sees the same group losses,
gradients and Hessians, from ``G * 2 (d + 1)`` rows instead of ``n``.

Only the training sums move to these rows: predictions, reported training losses of the
exact path, and objectives that read each row's output (rates, gap) keep the rows.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.linalg import lapack

from fairmtl.losses import Loss
from fairmtl.objectives import objective_class
from fairmtl.solvers._grouped import GroupedData
from fairmtl.solvers._threads import with_one_blas_thread

__all__ = ["compressible", "grouped_rows", "sigma_rows"]

#: compress only where the rows kept are at most this share of the entries held
SHRINK = 0.5
#: float64 entries gathered at a time from a group's rows
_BLOCK_ENTRIES = 1 << 20


def compressible(loss: Loss, n_outputs: int, objective: str) -> bool:
    """Whether the group losses are all the solver reads of the rows, and each a quadratic
    in ``(w, b)`` (the squared loss with one output)."""
    return loss.name == "squared" and n_outputs == 1 and not objective_class(objective).uses_outputs


def grouped_rows(
    X, y, tasks, sample_weight, n_groups: int, *, loss: Loss, n_outputs: int, objective: str
) -> GroupedData:
    """The rows for the smooth stages and the dual path: compressed by :func:`sigma_rows`
    where :func:`compressible` and where that shrinks the data, else as given."""
    if compressible(loss, n_outputs, objective):
        rows = sigma_rows(X, y, tasks, sample_weight, n_groups)
        if rows is not None:
            data = GroupedData(*rows, n_groups)
            data.compressed = True
            return data
    return GroupedData(X, y, tasks, sample_weight, n_groups)


# one BLAS thread: per group a QR of d + 1 columns, where threads only spin (measured:
# twice the CPU time at 100,000 rows, and more wall time where the cores are shared)
@with_one_blas_thread
def sigma_rows(X, y, tasks, sample_weight, n_groups: int):
    """Each group's rows replaced by its sigma points (module docstring).

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    y, tasks, sample_weight : ndarray of shape (n_samples,)
    n_groups : int

    Returns
    -------
    rows : tuple of (X, y, tasks, sample_weight) or None
        Dense float64 rows sorted by group, with the same total weight and the same
        weighted squared loss in every group for every ``(w, b)``; groups of at most
        ``2 (d + 1)`` rows (or no weight) keep their own rows. None where the result
        would not hold at most :data:`SHRINK` of the entries of ``X``.
    """
    tasks = np.asarray(tasks, dtype=np.int64)
    n, d = X.shape
    k = d + 1
    counts = np.bincount(tasks, minlength=n_groups)
    weight = np.bincount(tasks, weights=sample_weight, minlength=n_groups)
    packed = (counts > 2 * k) & (weight > 0)
    kept = 2 * k * int(packed.sum()) + int(counts[~packed].sum())
    held = X.nnz if sp.issparse(X) else n * d
    if not packed.any() or kept * max(d, 1) > SHRINK * held:
        return None
    X = sp.csr_matrix(X) if sp.issparse(X) else np.asarray(X)
    y, w = np.asarray(y, dtype=float), np.asarray(sample_weight, dtype=float)
    # the smallest unsigned type that holds the ids: numpy sorts 8- and 16-bit ints stably
    # by radix, in one pass (int64: a merge sort, ten times the time at 100,000 rows)
    order = np.argsort(tasks.astype(np.min_scalar_type(max(n_groups - 1, 0))), kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)])
    parts = []
    for g in range(n_groups):
        idx = order[starts[g] : starts[g + 1]]
        if not packed[g]:
            if len(idx):
                parts.append((_dense(X, idx), y[idx], w[idx]))
            continue
        total, mean, R = _moments(X, y, w, idx, k)
        m = R.shape[0]
        spread = np.sqrt(m / total) * R
        points = np.concatenate([mean + spread, mean - spread])
        parts.append((points[:, :d], points[:, d], np.full(2 * m, total / (2 * m))))
    Xc = np.concatenate([p[0] for p in parts]).reshape(-1, d)
    yc = np.concatenate([p[1] for p in parts])
    wc = np.concatenate([p[2] for p in parts])
    tc = np.repeat(np.flatnonzero(counts > 0), [len(p[1]) for p in parts])
    return Xc, yc, tc, wc


def _dense(X, idx: np.ndarray) -> np.ndarray:
    """Rows ``idx`` of ``X`` as dense float64."""
    rows = X[idx]
    return (rows.toarray() if sp.issparse(rows) else rows).astype(np.float64, copy=False)


def _gather_transposed(X, idx: np.ndarray, out: np.ndarray) -> None:
    """``out[:] = X[idx].T`` (``out`` float64), gathering along ``X``'s memory layout:
    ``np.take`` along the contiguous axis takes half the time of fancy indexing, and
    across it five times that time."""
    if sp.issparse(X) or X.dtype != np.float64:
        out[:] = _dense(X, idx).T
    elif X.flags.f_contiguous:  # X.T is row-major: each column gathered into its row
        np.take(X.T, idx, axis=1, out=out, mode="clip")  # idx is in range: no check
    else:
        out[:] = np.take(X, idx, axis=0).T


def _moments(X, y, w, idx: np.ndarray, k: int):
    """Total weight, weighted mean of ``v = (x, y)`` and the triangular factor ``R`` with
    ``R'R = sum_i w_i (v_i - mean)(v_i - mean)'`` of rows ``idx``, a block at a time:
    each block centred on its own mean (corrected once for rounding), blocks merged by
    the parallel-axis rule (Chan et al.) inside one QR.

    A block is held transposed, one row per coordinate of ``v``: centring and scaling then
    run along rows of the block's length (along ``d + 1`` columns they are a loop of
    ``d + 1`` numbers per row, three times the time), and its transpose is the
    column-major matrix LAPACK's QR factorises in place."""
    total, mean, R = 0.0, np.zeros(k), np.zeros((0, k))
    step = max(_BLOCK_ENTRIES // k, k)
    for a in range(0, len(idx), step):
        rows = idx[a : a + step]
        wb = w[rows]
        wsum = float(wb.sum())
        if wsum <= 0:
            continue
        joint = () if total == 0 else (len(R), 1)  # columns of R' and the merge's row
        VT = np.empty((k, len(rows) + sum(joint)))
        V = VT[:, len(R) : len(R) + len(rows)]
        _gather_transposed(X, rows, V[: k - 1])
        V[k - 1] = y[rows]
        mb = V @ wb / wsum
        V -= mb[:, None]
        fix = V @ wb / wsum  # the rounding of the mean, removed (second pass, in memory)
        V -= fix[:, None]
        mb += fix
        V *= np.sqrt(wb)
        if joint:
            VT[:, : len(R)] = R.T
            VT[:, -1] = np.sqrt(total * wsum / (total + wsum)) * (mean - mb)
        R = _triangular_factor(VT.T)
        mean = mean + (wsum / (total + wsum)) * (mb - mean)
        total += wsum
    return total, mean, R


def _triangular_factor(A: np.ndarray) -> np.ndarray:
    """The ``min(m, k) x k`` factor ``R`` of ``A = QR`` (as ``numpy.linalg.qr``'s mode
    "r"); ``A``, of shape ``(m, k)``, is overwritten where it is column-major."""
    factored, _, _, info = lapack.dgeqrf(A, overwrite_a=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"LAPACK dgeqrf failed (info={info})")
    return np.triu(factored[: A.shape[1]])
