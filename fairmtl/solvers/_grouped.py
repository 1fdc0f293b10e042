"""The rows as the dual path holds them: sorted by group, once, in the dtype that loses
nothing (float32 when the values are exactly float32s), dense or CSR, with views of row
ranges, the products of every row with its own group's model, and the per-group moments
that condition L-BFGS (:mod:`fairmtl.solvers._oracle`).

The reported numbers are exact float64 on the stored data: float32 rows are upcast
``_CHUNK`` at a time, never the whole matrix.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from fairmtl.losses import Loss

__all__ = ["Float64Rows", "GroupedData", "dense_chunk_rows"]

#: dense inputs with fewer non-zeros than this share are held as CSR
SPARSE_SHARE = 0.25
#: per-group models with more groups of positive weight than this use gathers, not a loop
STACK_GROUPS = 16
_CHUNK = 65_536
#: float32 rows are upcast at most this many bytes of float64 at a time, into one buffer
#: per product: a fresh block per chunk (26 MiB of 50 features; over glibc's 32 MiB
#: mapping threshold from 64 features) faulted its pages in again on every chunk,
#: measured 1.7x a product's time, 2.5x in a Dask worker (which returns freed blocks to
#: the system at once)
CHUNK_BYTES = 4 << 20
#: average rows a group from which :meth:`GroupedData.group_rmatvec` multiplies group by group
LARGE_GROUP_ROWS = 2048
#: dense float64 data of many groups up to this many entries is also held block-diagonal
BLOCK_ENTRIES = 1 << 20


class Float64Rows:
    """Dense rows a chunk at a time in float64: float32 chunks copied into one buffer that
    the next chunk overwrites (float64 rows pass as they are).

    A fresh float64 copy per chunk would be a new allocation each time, and a process that
    returns freed blocks to the system at once (a Dask worker: Dask sets glibc's
    ``MALLOC_TRIM_THRESHOLD_``; any block over glibc's 32 MiB threshold) faults every
    chunk's pages in again: measured 7x the time of a pass over 250,000 rows of 50 float32
    features in a worker, 1.7x over 1M rows in one process.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The rows the chunks come from (their dtype and width).
    rows : int
        The most rows of one chunk.
    """

    def __init__(self, X: np.ndarray, rows: int) -> None:
        dense32 = X.dtype != np.float64 and not sp.issparse(X)
        self.buffer = np.empty((min(rows, X.shape[0]), X.shape[1])) if dense32 else None

    def of(self, Xs):
        """The chunk ``Xs`` (at most ``rows`` rows) in float64."""
        if Xs.dtype == np.float64:
            return Xs
        if self.buffer is None or sp.issparse(Xs):
            return Xs.astype(np.float64)
        out = self.buffer[: Xs.shape[0]]
        np.copyto(out, Xs)
        return out


def dense_chunk_rows(d: int, most: int | None = None) -> int:
    """Rows of a chunk of ``d`` dense features: at most ``most`` (default ``_CHUNK``), and
    a float64 copy of the chunk within ``CHUNK_BYTES`` (at least 1,024 rows)."""
    most = _CHUNK if most is None else most
    return max(1024, min(most, CHUNK_BYTES // (8 * max(d, 1))))


def _loss_and_gradient(loss: Loss, z: np.ndarray, y: np.ndarray):
    """Per-row loss and derivative; the logistic case shares one exponential (same values
    as :meth:`Loss.numpy` and :meth:`Loss.gradient`, about 3x faster)."""
    if loss.name != "logistic":
        return loss.numpy(z, y), loss.gradient(z, y)
    m = -y * z
    e = np.exp(-np.abs(m))
    ell = np.maximum(m, 0.0) + np.log1p(e)
    sigma = np.where(m > 0, 1.0, e) / (1.0 + e)  # sigmoid(m)
    return ell, -y * sigma


class GroupedData:
    """Training rows sorted by group, held once (dense, or CSR when mostly zeros).

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    tasks : ndarray of shape (n_samples,)
    sample_weight : ndarray of shape (n_samples,)
    n_groups : int

    Attributes
    ----------
    X : ndarray or csr_matrix of shape (n_samples, n_features)
        The rows sorted by group, in ``dtype``.
    dtype : numpy.dtype
        float32 when ``X`` is float32 or all its values are exactly float32s, else
        float64.
    compressed : bool
        Whether the rows stand for others with the same group losses
        (:mod:`fairmtl.solvers._compress`) rather than being the training rows.
    """

    #: set by :func:`fairmtl.solvers._compress.grouped_rows`
    compressed = False

    def __init__(self, X, y, tasks, sample_weight, n_groups: int) -> None:
        tasks = np.asarray(tasks)
        sorted_already = bool(np.all(tasks[1:] >= tasks[:-1]))
        order = None if sorted_already else _group_order(tasks, n_groups)
        take = (lambda a: np.asarray(a)) if order is None else (lambda a: np.asarray(a)[order])
        self.X = X = _stored(X, order)
        self.dtype = X.dtype
        self.y = take(y).astype(float)
        self.task = take(tasks).astype(np.int64)
        w = take(sample_weight).astype(float)
        self.n_groups = n_groups
        counts = np.bincount(self.task, minlength=n_groups)
        self.starts = np.concatenate([[0], np.cumsum(counts)])
        group_weight = np.bincount(self.task, weights=w, minlength=n_groups)
        self.shares = group_weight / group_weight.sum()
        self.rw = w / group_weight[self.task]  # sums to 1 within each group
        self.n, self.d = X.shape
        # sparse views of row ranges, kept: the solvers read the same ranges (groups,
        # chunks) hundreds of times, and building a scipy matrix costs ~10 us each
        self._views: dict[tuple[int, int], tuple] = {}
        self._blocks: tuple | None = None  # see block_rows
        self.group_mean, self.group_sq = self._moments()
        self.colmax = _column_max(X)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_views": {}, "_blocks": None}  # made again where needed

    def rows(self, start: int, stop: int):
        """Rows ``start:stop`` as a view (CSR views share the data arrays)."""
        if not sp.issparse(self.X):
            return self.X[start:stop]
        return self._sparse_rows(start, stop)[0]

    def rows_t(self, start: int, stop: int):
        """The transpose of :meth:`rows` (a view too)."""
        if not sp.issparse(self.X):
            return self.X[start:stop].T
        return self._sparse_rows(start, stop)[1]

    def _sparse_rows(self, start: int, stop: int) -> tuple:
        key = (int(start), int(stop))
        if key not in self._views:
            a, b = self.X.indptr[start], self.X.indptr[stop]
            indptr = self.X.indptr[start : stop + 1] - a
            parts = (self.X.data[a:b], self.X.indices[a:b], indptr)
            view = _sparse_view(sp.csr_matrix, parts, (stop - start, self.d))
            self._views[key] = (view, _transpose(view))
        return self._views[key]

    def group_rows(self, g: int):
        return self.rows(self.starts[g], self.starts[g + 1])

    def group_subset(self, g: int) -> GroupedData:
        """Group ``g``'s rows alone, as data of the same ``n_groups`` (the others empty):
        its loss ``L_g`` is the same function of the model, at the cost of its rows only."""
        a, e = self.starts[g], self.starts[g + 1]
        return GroupedData(self.rows(a, e), self.y[a:e], self.task[a:e], self.rw[a:e],
                           self.n_groups)  # fmt: skip

    def pieces(self, start: int, stop: int) -> list[tuple[int, int]]:
        """``start:stop`` cut into ranges of at most ``_CHUNK`` rows (float32 data; dense
        rows also at most ``CHUNK_BYTES`` as float64), or left whole (float64 data: nothing to upcast or to
        accumulate more precisely)."""
        if self.dtype == np.float32 and sp.issparse(self.X):
            step = _CHUNK
        elif self.dtype == np.float32:
            step = self._dense_chunk()
        else:
            step = max(stop - start, 1)
        return [(a, min(a + step, stop)) for a in range(start, stop, step)]

    def upcast_buffer(self) -> Float64Rows | None:
        """The float64 buffer of :meth:`exact_rows` for the chunks of :meth:`pieces` (dense
        float32 rows; None otherwise). One per product: each chunk overwrites the last."""
        if self.dtype == np.float64 or sp.issparse(self.X):
            return None
        return Float64Rows(self.X, self._dense_chunk())

    def _dense_chunk(self) -> int:
        return dense_chunk_rows(self.d)

    def exact_rows(self, start: int, stop: int, buffer: Float64Rows | None = None):
        """Rows ``start:stop`` in float64: a view, or an upcast copy of these rows only
        (into ``buffer``, from :meth:`upcast_buffer`, where one is given)."""
        Xs = self.rows(start, stop)
        if self.dtype == np.float64:
            return Xs
        return Xs.astype(np.float64) if buffer is None else buffer.of(Xs)

    def exact_rows_t(self, start: int, stop: int, buffer: Float64Rows | None = None):
        """The transpose of :meth:`exact_rows`."""
        if self.dtype == np.float64:
            return self.rows_t(start, stop)
        return _transpose(self.exact_rows(start, stop, buffer))

    def matvec(self, start: int, stop: int, v: np.ndarray) -> np.ndarray:
        """``X[start:stop] @ v`` exactly in float64 (float32 rows upcast chunk by chunk)."""
        z = np.empty(stop - start)
        buffer = self.upcast_buffer()
        for a, b in self.pieces(start, stop):
            z[a - start : b - start] = self.exact_rows(a, b, buffer) @ v
        return z

    def rmatvec(self, start: int, stop: int, r: np.ndarray) -> np.ndarray:
        """``X[start:stop].T @ r`` exactly in float64 (float32 rows upcast chunk by chunk)."""
        out = np.zeros(self.d)
        buffer = self.upcast_buffer()
        for a, b in self.pieces(start, stop):
            out += self.exact_rows_t(a, b, buffer) @ r[a - start : b - start]
        return out

    def stacks(self) -> bool:
        """Whether :meth:`group_matvec` and :meth:`group_rmatvec` serve this data (dense
        rows of many groups: one product for all instead of one per group)."""
        return not sp.issparse(self.X) and self.n_groups > STACK_GROUPS

    def group_matvec(self, coef: np.ndarray) -> np.ndarray:
        """``X_i @ coef[group of i]`` for every row, in float64 (dense rows)."""
        z = np.empty(self.n)
        buffer = self.upcast_buffer()
        for a, b in self.pieces(0, self.n):
            z[a:b] = np.einsum("nd,nd->n", self.exact_rows(a, b, buffer), coef[self.task[a:b]])
        return z

    def group_rmatvec(self, r: np.ndarray) -> np.ndarray:
        """``X_g.T @ r_g`` for every group g, in float64, shape ``(n_groups, d)``.

        Large groups (or sparse rows, or a group without rows) take one product each;
        many small dense groups one pass of ``reduceat`` over the rows (measured: the
        per-group products' overhead dominates below a few thousand rows a group, and a
        dense ``(n, n_groups)`` spread of ``r`` cost twice the whole product)."""
        out = np.zeros((self.n_groups, self.d))
        starts = self.starts
        per_group = (
            sp.issparse(self.X)
            or self.n >= LARGE_GROUP_ROWS * self.n_groups
            or not np.all(starts[1:] > starts[:-1])
        )
        if per_group:
            for g in range(self.n_groups):
                a, b = starts[g], starts[g + 1]
                if b > a:
                    out[g] = self.rmatvec(a, b, r[a:b])
            return out
        buffer = self.upcast_buffer()
        for a, b in self.pieces(0, self.n):
            g0, g1 = self.task[a], self.task[b - 1] + 1  # rows sorted, every group has rows
            first = np.maximum(self.starts[g0:g1], a) - a
            Xr = self.exact_rows(a, b, buffer)
            if buffer is None:  # float64 rows: a view of X, not to be written
                Xr = Xr * r[a:b, None]
            else:
                Xr *= r[a:b, None]
            out[g0:g1] += np.add.reduceat(Xr, first, axis=0)
        return out

    def block_rows(self):
        """The rows as a block-diagonal CSR matrix ``(n, n_groups * d)`` and its
        transpose, made once: group g's rows in columns ``g*d:(g+1)*d``, so that one
        sparse product gives every row's output under its own group's model. For small
        dense float64 data of many groups only (None otherwise): it holds X twice more,
        and saves the gathers that dominate a product's time there."""
        if not (self.stacks() and self.dtype == np.float64 and self.X.size <= BLOCK_ENTRIES):
            return None
        if self._blocks is None:
            cols = self.task[:, None] * self.d + np.arange(self.d)
            indptr = np.arange(0, self.X.size + 1, self.d)
            B = sp.csr_matrix(
                (self.X.ravel(), cols.ravel(), indptr), shape=(self.n, self.n_groups * self.d)
            )
            self._blocks = (B, B.T.tocsr())
        return self._blocks

    def _moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Weighted mean and second moment of each group's features (for conditioning)."""
        mean = np.zeros((self.n_groups, self.d))
        sq = np.zeros((self.n_groups, self.d))
        for g in range(self.n_groups):
            for a in range(self.starts[g], self.starts[g + 1], _CHUNK):
                b = min(a + _CHUNK, self.starts[g + 1])
                Xs, rw = self.exact_rows(a, b), self.rw[a:b]
                mean[g] += _transpose(Xs) @ rw
                sq[g] += (Xs.multiply(Xs) if sp.issparse(Xs) else Xs * Xs).T @ rw
        return mean, sq


def _sparse_view(kind, parts: tuple, shape: tuple[int, int]):
    """A CSR or CSC matrix on ``(data, indices, indptr)`` without copying them (scipy's
    constructor copies index and data slices shorter than half their base array)."""
    view = kind(shape, dtype=parts[0].dtype)
    view.data, view.indices, view.indptr = parts
    return view


def _transpose(X):
    """``X.T`` sharing X's arrays (a CSR view's ``.T`` would copy them; dense: a view)."""
    if not sp.issparse(X):
        return X.T
    return _sparse_view(sp.csc_matrix, (X.data, X.indices, X.indptr), X.shape[::-1])


def _group_order(tasks: np.ndarray, n_groups: int) -> np.ndarray:
    """The stable order of the rows by group: numpy sorts 16-bit integers by radix, in
    linear time (measured: 10x faster than 64-bit labels' merge sort on 1M rows)."""
    small = n_groups <= np.iinfo(np.int16).max
    return np.argsort(tasks.astype(np.int16 if small else np.int64), kind="stable")


def _stored(X, order: np.ndarray | None):
    """``X`` as held: CSR when mostly zeros, in :func:`_storage_dtype`, rows in ``order``.

    Dense rows are gathered and cast ``_CHUNK`` at a time into the one copy kept; without
    reordering or casting the caller's array itself is kept (never written to).
    """
    if not sp.issparse(X):
        X = np.asarray(X)
        if X.size and np.count_nonzero(X) < SPARSE_SHARE * X.size:
            X = sp.csr_matrix(X)  # before reordering: no dense copy is made
    if sp.issparse(X):
        X = sp.csr_matrix(X)
        X = X.astype(_storage_dtype(X.data), copy=False)
        return X if order is None else X[order]
    dtype = _storage_dtype(X)
    if order is None:
        return X.astype(dtype, copy=False)
    out = np.empty(X.shape, dtype)
    for a in range(0, len(order), _CHUNK):
        out[a : a + _CHUNK] = X[order[a : a + _CHUNK]]
    return out


def _storage_dtype(values: np.ndarray) -> np.dtype:
    """float32 when ``values`` are float32, or all exactly representable as float32
    (checked ``_CHUNK`` rows at a time); float64 otherwise."""
    if values.dtype == np.float32:
        return np.dtype(np.float32)
    for a in range(0, len(values), _CHUNK):
        v = values[a : a + _CHUNK]
        if not np.array_equal(v.astype(np.float32), v):
            return np.dtype(np.float64)
    return np.dtype(np.float32)


def _column_max(X) -> np.ndarray:
    """Largest absolute value of each column (exact: no rounding), as float64."""
    out = np.zeros(X.shape[1])
    for a in range(0, X.shape[0], _CHUNK):
        block = abs(X[a : a + _CHUNK])
        top = block.max(axis=0).toarray().ravel() if sp.issparse(block) else block.max(axis=0)
        out = np.maximum(out, top)
    return out
