"""The dual path's oracle: a weighted, penalised fit of the linear group models on all rows.

Given group weights ``lam``, :meth:`LinearOracle.solve` minimises
``f(theta) = sum_g lam_g L_g(theta) + R(theta)`` with scipy's L-BFGS-B (analytic gradients
from :meth:`fairmtl.losses.Loss.gradient`, warm-started), where ``R`` is the sharing
scheme's penalty exactly as in :mod:`fairmtl.models._sharing`. The weights enter as
per-row weights ``lam_g * w_i / W_g``. The data is held once, rows sorted by group.
Every answer carries a certified bound on its suboptimality
(:mod:`fairmtl.solvers._certificate`).

Precision. The rows are held in float32 when that loses nothing: the caller's matrix is
float32 already (scikit-learn's convention: the user's dtype is kept), or every value
is exactly a float32 (one-hot columns, small integers). L-BFGS's products then run in
float32 (the small coefficient vector is cast, never the matrix; sums over many rows
are accumulated in float64 a chunk at a time), at about half the memory traffic. The
reported numbers (outputs, group losses, the certificate) are exact float64 on the
stored data: rows are upcast ``_CHUNK`` at a time, never the whole matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize

from fairmtl.losses import Loss
from fairmtl.solvers._certificate import (
    CURVATURE_BOUND,
    Penalty,
    RowSums,
    shift_error,
    solve_shifts_from,
)
from fairmtl.solvers._precondition import Coordinates

__all__ = ["GroupedData", "LinearOracle", "OracleResult"]
#: dense inputs with fewer non-zeros than this share are held as CSR
SPARSE_SHARE = 0.25
#: per-group models with more groups of positive weight than this use gathers, not a loop
STACK_GROUPS = 16
_CHUNK = 65_536
#: dense float64 data of many groups up to this many entries is also held block-diagonal
BLOCK_ENTRIES = 1 << 20


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
    """

    def __init__(self, X, y, tasks, sample_weight, n_groups: int) -> None:
        tasks = np.asarray(tasks)
        sorted_already = bool(np.all(tasks[1:] >= tasks[:-1]))
        order = None if sorted_already else np.argsort(tasks, kind="stable")
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

    def pieces(self, start: int, stop: int) -> list[tuple[int, int]]:
        """``start:stop`` cut into ranges of at most ``_CHUNK`` rows (float32 data), or
        left whole (float64 data: nothing to upcast or to accumulate more precisely)."""
        step = _CHUNK if self.dtype == np.float32 else max(stop - start, 1)
        return [(a, min(a + step, stop)) for a in range(start, stop, step)]

    def exact_rows(self, start: int, stop: int):
        """Rows ``start:stop`` in float64: a view, or an upcast copy of these rows only."""
        Xs = self.rows(start, stop)
        return Xs if self.dtype == np.float64 else Xs.astype(np.float64)

    def exact_rows_t(self, start: int, stop: int):
        """The transpose of :meth:`exact_rows`."""
        if self.dtype == np.float64:
            return self.rows_t(start, stop)
        return _transpose(self.exact_rows(start, stop))

    def matvec(self, start: int, stop: int, v: np.ndarray) -> np.ndarray:
        """``X[start:stop] @ v`` exactly in float64 (float32 rows upcast chunk by chunk)."""
        z = np.empty(stop - start)
        for a, b in self.pieces(start, stop):
            z[a - start : b - start] = self.exact_rows(a, b) @ v
        return z

    def rmatvec(self, start: int, stop: int, r: np.ndarray) -> np.ndarray:
        """``X[start:stop].T @ r`` exactly in float64 (float32 rows upcast chunk by chunk)."""
        out = np.zeros(self.d)
        for a, b in self.pieces(start, stop):
            out += self.exact_rows_t(a, b) @ r[a - start : b - start]
        return out

    def stacks(self) -> bool:
        """Whether :meth:`group_matvec` and :meth:`group_rmatvec` serve this data (dense
        rows of many groups: one product for all instead of one per group)."""
        return not sp.issparse(self.X) and self.n_groups > STACK_GROUPS

    def group_matvec(self, coef: np.ndarray) -> np.ndarray:
        """``X_i @ coef[group of i]`` for every row, in float64 (dense rows)."""
        z = np.empty(self.n)
        for a, b in self.pieces(0, self.n):
            z[a:b] = np.einsum("nd,nd->n", self.exact_rows(a, b), coef[self.task[a:b]])
        return z

    def group_rmatvec(self, r: np.ndarray) -> np.ndarray:
        """``X_g.T @ r_g`` for every group g, in float64 (dense rows)."""
        out = np.zeros((self.n_groups, self.d))
        for a, b in self.pieces(0, self.n):
            g0, g1 = self.task[a], self.task[b - 1] + 1  # rows sorted, every group has rows
            first = np.maximum(self.starts[g0:g1], a) - a
            out[g0:g1] += np.add.reduceat(self.exact_rows(a, b) * r[a:b, None], first, axis=0)
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


@dataclass
class OracleResult:
    """A weighted fit and its certificate.

    Attributes
    ----------
    coef : ndarray of shape (P, n_features)
        Original-space coefficients (P = 1 for shared, n_groups otherwise).
    intercept : ndarray of shape (P,)
    losses : ndarray of shape (n_groups,)
        Every group's mean loss at this point (also groups of weight 0).
    penalty : float
    value : float
        ``lam @ losses + penalty``.
    error : float
        Certified bound on ``value - min f`` (inf when none could be proven).
    evaluations : int
    """

    coef: np.ndarray
    intercept: np.ndarray
    losses: np.ndarray
    penalty: float
    value: float
    error: float
    evaluations: int


class _Stacked:
    """Every row at once for per-group models: gathers instead of one loop step per group
    (the loop's overhead dominated with 100 groups). Temporary arrays of X's size (of a
    chunk's for float32 data, whose chunk sums are accumulated in float64)."""

    def __init__(self, data: GroupedData, lam: np.ndarray) -> None:
        self.data, self.c = data, lam[data.task] * data.rw
        self.pieces = data.pieces(0, data.n)
        if sp.issparse(data.X):  # transposes made once
            self.XT = [_transpose(data.rows(a, b)).tocsr() for a, b in self.pieces]
        self.blocks = data.block_rows()

    def _add_loss_blocks(self, loss: Loss, w, b, gw, gb) -> float:
        """:meth:`add_loss` by two sparse products with the block-diagonal rows."""
        data, (B, BT) = self.data, self.blocks
        z = B @ w.ravel()
        z += b[data.task]
        ell, dz = _loss_and_gradient(loss, z, data.y)
        r = self.c * dz
        gb += np.bincount(data.task, weights=r, minlength=data.n_groups)
        gw += (BT @ r).reshape(gw.shape)
        return float(self.c @ ell)

    def add_loss(self, loss: Loss, w, b, gw, gb, exact: bool = False) -> float:
        """Add the loss's gradient to ``gw``, ``gb``; return its value. ``exact``: products
        in float64 (float32 rows upcast a chunk at a time)."""
        if self.blocks is not None:  # float64 rows: products are exact already
            return self._add_loss_blocks(loss, w, b, gw, gb)
        data, value = self.data, 0.0
        exact = exact and data.dtype != np.float64
        dtype = np.float64 if exact else data.dtype
        wx = w.astype(dtype, copy=False)  # the coefficients take X's dtype, never X
        for k, (a, e) in enumerate(self.pieces):
            Xc, task = data.exact_rows(a, e) if exact else data.rows(a, e), data.task[a:e]
            g0, g1 = task[0], task[-1] + 1  # the groups of these rows
            if sp.issparse(Xc):
                z = np.asarray(Xc.multiply(wx[task]).sum(axis=1), dtype=float).ravel()
            else:
                z = np.einsum("nd,nd->n", Xc, wx[task]).astype(float, copy=False)
            z += b[task]
            ell, dz = _loss_and_gradient(loss, z, data.y[a:e])
            r = self.c[a:e] * dz
            value += float(self.c[a:e] @ ell)
            gb[g0:g1] += np.bincount(task - g0, weights=r, minlength=g1 - g0)
            rx = r.astype(dtype, copy=False)
            if sp.issparse(Xc):
                XT = Xc.T.tocsr() if exact else self.XT[k]
                spread = (rx, (np.arange(e - a), task - g0))
                gw[g0:g1] += (XT @ sp.csr_matrix(spread, shape=(e - a, g1 - g0))).T.toarray()
            else:  # rows are sorted by group and every group has rows
                first = np.maximum(data.starts[g0:g1], a) - a
                gw[g0:g1] += np.add.reduceat(Xc * rx[:, None], first, axis=0)
        return value


class LinearOracle:
    """Weighted penalised fits of linear group models on :class:`GroupedData`."""

    def __init__(self, data: GroupedData, loss: Loss, sharing: str) -> None:
        self.data, self.loss, self.sharing = data, loss, sharing
        self.n_blocks = 1 if sharing == "shared" else data.n_groups
        self.penalty: Penalty | None = None
        self._error_per_gtol2: float | None = None

    def set_penalty(self, alpha: float, strength: float) -> None:
        self.penalty = Penalty(self.sharing, alpha, strength, self.data.shares)
        self._error_per_gtol2 = None

    # -- data access -----------------------------------------------------------------
    def _segments(self, lam: np.ndarray, active_only: bool = True):
        """``(block, first row, stop row)`` of the groups with positive weight."""
        data, segs = self.data, []
        keep = lam > 0 if active_only else np.ones(data.n_groups, bool)
        if self.sharing == "shared":
            g = 0
            while g < data.n_groups:  # runs of consecutive kept groups share one view
                if not keep[g]:
                    g += 1
                    continue
                h = g
                while h + 1 < data.n_groups and keep[h + 1]:
                    h += 1
                a, b = data.starts[g], data.starts[h + 1]
                segs.append((0, a, b))
                g = h + 1
        else:
            for g in np.flatnonzero(keep):
                segs.append((int(g), data.starts[g], data.starts[g + 1]))
        return segs

    def _pieces(self, lam: np.ndarray, start: int, stop: int) -> list:
        """``(rows, their transpose, y, row weights)`` of each chunk of a segment, made once
        per call (each ``.T`` of a sparse matrix builds an object)."""
        data, out = self.data, []
        for a, b in data.pieces(start, stop):
            weights = lam[data.task[a:b]] * data.rw[a:b]
            out.append((data.rows(a, b), data.rows_t(a, b), data.y[a:b], weights))
        return out

    def _segments_for(self, lam: np.ndarray):
        """What :meth:`_value_grad` reads the rows of one call through."""
        if self.sharing != "shared" and np.count_nonzero(lam) > STACK_GROUPS:
            return _Stacked(self.data, lam)
        return [(p, self._pieces(lam, a, b)) for p, a, b in self._segments(lam)]

    def zero(self) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros((self.n_blocks, self.data.d)), np.zeros(self.n_blocks)

    # -- evaluation ------------------------------------------------------------------
    def outputs(self, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
        """Decision values of every row (sorted order)."""
        data, z = self.data, np.empty(self.data.n)
        if self.sharing != "shared" and data.stacks():
            return data.group_matvec(coef) + intercept[data.task]
        for p, a, b in self._segments(np.ones(data.n_groups), active_only=False):
            z[a:b] = data.matvec(a, b, coef[p])
            z[a:b] += intercept[p]
        return z

    def evaluate(self, coef: np.ndarray, intercept: np.ndarray) -> tuple[np.ndarray, float]:
        """Group mean losses and penalty at a point."""
        data = self.data
        ell = self.loss.numpy(self.outputs(coef, intercept), data.y)
        losses = np.bincount(data.task, weights=data.rw * ell, minlength=data.n_groups)
        return losses, self.penalty.value_grad(coef, intercept)[0]

    # -- solving ---------------------------------------------------------------------
    def solve(
        self,
        lam: np.ndarray,
        start: tuple[np.ndarray, np.ndarray] | None = None,
        *,
        target: float = 1e-8,
        max_iter: int = 2000,
        certify: bool = True,
    ) -> OracleResult:
        """Minimise ``lam @ L + R`` from ``start``; the error bound aims at ``target``."""
        data, pen = self.data, self.penalty
        lam = np.asarray(lam, dtype=float)
        coef, intercept = self.zero() if start is None else (start[0].copy(), start[1].copy())
        segs = self._segments_for(lam)
        total = float(lam.sum()) + 1.0
        curvature = CURVATURE_BOUND[self.loss.name]
        coords = Coordinates(data.group_mean, data.group_sq, lam, pen, curvature)
        if self._error_per_gtol2 is None:
            gtol = np.sqrt(pen.mu_min * target / max(1, coef.size))
        else:  # learnt from earlier calls: the error bound grows like gtol ** 2
            gtol = 0.7 * np.sqrt(target / self._error_per_gtol2)
        gtol = float(np.clip(gtol, 1e-12, 1e-2))
        ftol = max(0.01 * target / total, 1e-16)
        evaluations, result, exact = 0, None, False
        for _ in range(4):
            x0 = coords.to_x(coef, intercept)
            opt = minimize(
                self._value_grad,
                x0,
                args=(segs, coords, exact),
                jac=True,
                method="L-BFGS-B",
                options={
                    "maxiter": max_iter,
                    "gtol": gtol,
                    "ftol": ftol,
                    "maxcor": 20,
                },
            )
            evaluations += int(opt.nfev)
            coef, intercept = coords.from_x(opt.x)
            result = self._certify(lam, coef, intercept, evaluations, certify)
            if 0 < result.error < np.inf:
                self._error_per_gtol2 = result.error / gtol**2
            if not certify or result.error <= target:
                break
            if 0 < result.error < np.inf:
                shrink = float(np.clip(0.5 * np.sqrt(target / result.error), 1e-3, 0.5))
            else:
                shrink = 0.01
            coef, intercept = result.coef, result.intercept
            gtol, ftol = gtol * shrink, max(ftol * shrink**2, 1e-16)
            exact = True  # float32 products have a noise floor: polish with exact ones
        return result

    def _value_grad(self, x: np.ndarray, segs, coords: Coordinates, exact: bool = False):
        """Objective and gradient in ``x``; products in X's dtype unless ``exact``."""
        loss, data = self.loss, self.data
        w, b = coords.from_x(x)
        value, gw, gb = self.penalty.value_grad(w, b)
        gw, gb = gw.copy(), gb.copy()
        if isinstance(segs, _Stacked):
            value += segs.add_loss(loss, w, b, gw, gb, exact)
            return value, coords.gradient(gw, gb)
        exact = exact and data.dtype != np.float64
        dtype = np.float64 if exact else data.dtype
        for p, pieces in segs:
            wp = w[p].astype(dtype, copy=False)  # the coefficients take X's dtype, never X
            for Xc, XcT, ys, cs in pieces:
                if exact:  # an upcast copy of this chunk only
                    Xc = Xc.astype(np.float64)
                    XcT = Xc.T
                z = np.asarray(Xc @ wp, dtype=float)
                z += b[p]
                ell, dz = _loss_and_gradient(loss, z, ys)
                value += float(cs @ ell)
                r = cs * dz
                gw[p] += XcT @ r.astype(dtype, copy=False)  # chunk sums added in float64
                gb[p] += r.sum()
        return value, coords.gradient(gw, gb)

    def _certify(self, lam, coef, intercept, evaluations: int, certify: bool) -> OracleResult:
        """Exact intercepts, group losses, value and the certified error bound."""
        data, loss, pen = self.data, self.loss, self.penalty
        n_prob = 1 if pen.single_free else data.n_groups
        sums = self._row_sums(lam, coef, intercept, pen.single_free)
        shift, width, d1 = solve_shifts_from(sums, loss, n_prob)
        intercept = intercept + (shift[0] if pen.single_free else shift)
        losses, lgw, lgb, phi = self._loss_sums(sums, shift, lam, coef, certify)
        pvalue, pgw, pgb = pen.value_grad(coef, intercept)
        value = float(lam @ losses) + pvalue
        error = np.inf
        if certify:
            gw, gb = pgw + lgw, pgb + lgb
            shift_err, spread = shift_error(loss, width, d1, sums.weight(), phi)
            xnorm = np.sqrt(float(data.colmax @ data.colmax) + 1.0)
            e_norm = spread * xnorm / np.sqrt(pen.mu_min)
            dual = np.sqrt(max(pen.dual_norm_sq(gw, gb), 0.0))
            error = shift_err + 0.5 * (dual + e_norm) ** 2
            # rounding of the sums over rows (sequential: at most n ulps of the total);
            # without it a far-off point (value and error ~1e27) cancels to a false bound
            error += max(data.n, 1000) * np.finfo(float).eps * (abs(value) + error)
        return OracleResult(coef, intercept, losses, pvalue, value, float(error), evaluations)

    def _row_sums(self, lam, coef, intercept, single_free: bool) -> RowSums:
        """The sums over rows that the intercepts' 1-D solves need (rows in memory)."""
        data = self.data
        z = self.outputs(coef, intercept)
        pid, n_prob = (np.zeros(data.n, np.int64), 1) if single_free else (data.task, data.n_groups)
        return RowSums(self.loss, z, data.y, lam[data.task] * data.rw, pid, n_prob)

    def _loss_sums(self, sums: RowSums, shift, lam, coef, certify: bool):
        """At the shifted point: group losses, the loss part of the gradient in ``(w, b)``
        (zeros unless ``certify``) and each free direction's weighted loss."""
        data, loss, G = self.data, self.loss, self.data.n_groups
        z = sums.z + shift[sums.pid]
        ell = loss.numpy(z, data.y)
        losses = np.bincount(data.task, weights=data.rw * ell, minlength=G)
        gw, gb = np.zeros_like(coef), np.zeros(coef.shape[0])
        phi = np.bincount(sums.pid, weights=sums.c * ell, minlength=sums.n_prob)
        if certify:
            r = sums.c * loss.gradient(z, data.y)
            if self.sharing != "shared" and data.stacks():
                gw = data.group_rmatvec(r)  # rows of groups of weight 0 have r = 0
            else:
                for p, a, b in self._segments(lam):
                    gw[p] += data.rmatvec(a, b, r[a:b])
            if self.sharing != "shared":
                gb = np.bincount(data.task, weights=r, minlength=G)
        return losses, gw, gb, phi
