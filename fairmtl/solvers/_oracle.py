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
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize

from fairmtl.losses import Loss
from fairmtl.solvers import _grouped
from fairmtl.solvers._certificate import (
    CURVATURE_BOUND,
    Penalty,
    RowSums,
    shift_error,
    solve_shifts_from,
)
from fairmtl.solvers._grouped import GroupedData, _loss_and_gradient, _transpose
from fairmtl.solvers._precondition import Coordinates

__all__ = ["LinearOracle", "OracleResult"]

#: per-group rows of at most this many rows in all take their loss in one call (a few
#: arrays of this many floats: 3 MiB at most)
BATCH_ROWS = 65_536


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
        buffer = data.upcast_buffer() if exact else None
        for k, (a, e) in enumerate(self.pieces):
            Xc = data.exact_rows(a, e, buffer) if exact else data.rows(a, e)
            task = data.task[a:e]
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


class _Looped:
    """The rows of the groups of positive weight as views, one loop step per chunk
    (``segments``: ``(block, chunks)``). Where they hold few rows in all, the loss of
    every row is taken in one call (``batched``): with a few hundred rows per group the
    loss's per-call overhead, once per group, cost as much as its arithmetic."""

    def __init__(self, data: GroupedData, segments: list) -> None:
        self.data, self.segments = data, segments
        chunks = [chunk for _, chunks in segments for chunk in chunks]
        sizes = [len(ys) for _, _, ys, _ in chunks]
        self.batched = len(chunks) > 1 and sum(sizes) <= BATCH_ROWS
        if self.batched:
            self.y = np.concatenate([ys for _, _, ys, _ in chunks])
            self.c = np.concatenate([cs for _, _, _, cs in chunks])
            self.bounds = np.concatenate([[0], np.cumsum(sizes)])

    def add_loss(self, loss: Loss, w, b, gw, gb, exact: bool = False) -> float:
        """Add the loss's gradient to ``gw``, ``gb``; return its value. ``exact``: products
        in float64 (float32 rows upcast a chunk at a time)."""
        exact = exact and self.data.dtype != np.float64
        dtype = np.float64 if exact else self.data.dtype
        if self.batched and not exact:
            return self._add_loss_batched(loss, w, b, gw, gb, dtype)
        value = 0.0
        for p, chunks in self.segments:
            wp = w[p].astype(dtype, copy=False)  # the coefficients take X's dtype, never X
            for Xc, XcT, ys, cs in chunks:
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
        return value

    def _add_loss_batched(self, loss: Loss, w, b, gw, gb, dtype) -> float:
        """:meth:`add_loss` with one loss call over every chunk's rows."""
        z = np.empty(len(self.y))
        k, steps = 0, []
        for p, chunks in self.segments:
            wp = w[p].astype(dtype, copy=False)
            for Xc, XcT, _, _ in chunks:
                a, e = self.bounds[k], self.bounds[k + 1]
                z[a:e] = Xc @ wp
                z[a:e] += b[p]
                steps.append((p, XcT, a, e))
                k += 1
        ell, dz = _loss_and_gradient(loss, z, self.y)
        r = self.c * dz
        for p, XcT, a, e in steps:
            gw[p] += XcT @ r[a:e].astype(dtype, copy=False)
            gb[p] += r[a:e].sum()
        return float(self.c @ ell)


class LinearOracle:
    """Weighted penalised fits of linear group models on :class:`GroupedData`."""

    def __init__(self, data: GroupedData, loss: Loss, sharing: str) -> None:
        self.data, self.loss, self.sharing = data, loss, sharing
        self.n_blocks = 1 if sharing == "shared" else data.n_groups
        self.penalty: Penalty | None = None
        self._error_per_gtol2: float | None = None
        # the last group weights' row views: a path of solves (cross-validation, a
        # sweep) asks for the same weights again and again
        self._segs: tuple[bytes, Any] | None = None

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
        """What :meth:`_value_grad` reads the rows of one call through (kept for the
        next call with the same ``lam``)."""
        key = lam.tobytes()
        if self._segs is not None and self._segs[0] == key:
            return self._segs[1]
        if self.sharing != "shared" and np.count_nonzero(lam) > _grouped.STACK_GROUPS:
            segs = _Stacked(self.data, lam)
        else:
            segs = _Looped(
                self.data, [(p, self._pieces(lam, a, b)) for p, a, b in self._segments(lam)]
            )
        self._segs = (key, segs)
        return segs

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
        w, b = coords.from_x(x)
        value, gw, gb = self.penalty.value_grad(w, b)
        gw, gb = gw.copy(), gb.copy()
        value += segs.add_loss(self.loss, w, b, gw, gb, exact)
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
