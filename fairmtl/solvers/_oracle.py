"""The dual path's oracle: a weighted, penalised fit of the linear group models on all rows.

Given group weights ``lam``, :meth:`LinearOracle.solve` minimises
``f(theta) = sum_g lam_g L_g(theta) + R(theta)`` with scipy's L-BFGS-B (analytic gradients
from :meth:`fairmtl.losses.Loss.gradient`, warm-started), where ``R`` is the sharing
scheme's penalty exactly as in :mod:`fairmtl.models._sharing`. The weights enter as
per-row weights ``lam_g * w_i / W_g``. The data is held once, rows sorted by group.
Every answer carries a certified bound on its suboptimality
(:mod:`fairmtl.solvers._certificate`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize

from fairmtl.losses import Loss
from fairmtl.solvers._certificate import CURVATURE_BOUND, Penalty, shift_error, solve_shifts
from fairmtl.solvers._precondition import Coordinates

__all__ = ["GroupedData", "LinearOracle", "OracleResult"]
#: dense inputs with fewer non-zeros than this share are held as CSR
SPARSE_SHARE = 0.25
#: per-group models with more groups of positive weight than this use gathers, not a loop
STACK_GROUPS = 16
_CHUNK = 65_536


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
    """

    def __init__(self, X, y, tasks, sample_weight, n_groups: int) -> None:
        tasks = np.asarray(tasks)
        sorted_already = bool(np.all(tasks[1:] >= tasks[:-1]))
        order = None if sorted_already else np.argsort(tasks, kind="stable")
        if not sp.issparse(X):
            X = np.asarray(X)
            if X.size and np.count_nonzero(X) < SPARSE_SHARE * X.size:
                X = sp.csr_matrix(X)  # before reordering: no dense copy is made
        if sp.issparse(X):
            X = sp.csr_matrix(X if order is None else sp.csr_matrix(X)[order])
        elif order is not None:
            X = X[order]  # a copy only when the rows must be reordered
        take = (lambda a: np.asarray(a)) if order is None else (lambda a: np.asarray(a)[order])
        self.X, self.y = X, take(y).astype(float)
        self.task = take(tasks).astype(np.int64)
        w = take(sample_weight).astype(float)
        self.n_groups = n_groups
        counts = np.bincount(self.task, minlength=n_groups)
        self.starts = np.concatenate([[0], np.cumsum(counts)])
        group_weight = np.bincount(self.task, weights=w, minlength=n_groups)
        self.shares = group_weight / group_weight.sum()
        self.rw = w / group_weight[self.task]  # sums to 1 within each group
        self.n, self.d = X.shape
        self.group_mean, self.group_sq = self._moments()
        self.colmax = _column_max(X)

    def rows(self, start: int, stop: int):
        """Rows ``start:stop`` as a view (CSR views share the data arrays)."""
        if not sp.issparse(self.X):
            return self.X[start:stop]
        a, b = self.X.indptr[start], self.X.indptr[stop]
        indptr = self.X.indptr[start : stop + 1] - a
        return sp.csr_matrix(
            (self.X.data[a:b], self.X.indices[a:b], indptr), shape=(stop - start, self.d)
        )

    def group_rows(self, g: int):
        return self.rows(self.starts[g], self.starts[g + 1])

    def _moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Weighted mean and second moment of each group's features (for conditioning)."""
        mean = np.zeros((self.n_groups, self.d))
        sq = np.zeros((self.n_groups, self.d))
        for g in range(self.n_groups):
            for a in range(self.starts[g], self.starts[g + 1], _CHUNK):
                b = min(a + _CHUNK, self.starts[g + 1])
                Xs, rw = self.rows(a, b), self.rw[a:b]
                mean[g] += Xs.T @ rw
                sq[g] += (Xs.multiply(Xs) if sp.issparse(Xs) else Xs * Xs).T @ rw
        return mean, sq


def _column_max(X) -> np.ndarray:
    if X.shape[0] == 0:
        return np.zeros(X.shape[1])
    if sp.issparse(X):
        return np.asarray(abs(X).max(axis=0).todense()).ravel()
    out = np.zeros(X.shape[1])
    for a in range(0, X.shape[0], _CHUNK):
        out = np.maximum(out, np.abs(X[a : a + _CHUNK]).max(axis=0))
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
    (the loop's overhead dominated with 100 groups). Temporary arrays of X's size."""

    def __init__(self, data: GroupedData, lam: np.ndarray) -> None:
        self.data, self.c = data, lam[data.task] * data.rw
        if sp.issparse(data.X):
            self.XT = data.X.T.tocsr()

    def add_loss(self, loss: Loss, w, b, gw, gb) -> float:
        data = self.data
        task, G = data.task, data.n_groups
        if sp.issparse(data.X):
            z = np.asarray(data.X.multiply(w[task]).sum(axis=1)).ravel()
        else:
            z = np.einsum("nd,nd->n", data.X, w[task])
        z += b[task]
        ell, dz = _loss_and_gradient(loss, z, data.y)
        r = self.c * dz
        gb += np.bincount(task, weights=r, minlength=G)
        if sp.issparse(data.X):
            spread = sp.csr_matrix((r, (np.arange(data.n), task)), shape=(data.n, G))
            gw += (self.XT @ spread).T.toarray()
        else:  # rows are sorted by group and every group has rows
            gw += np.add.reduceat(data.X * r[:, None], data.starts[:-1], axis=0)
        return float(self.c @ ell)


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
        """``(block, X rows, y, row weights)`` of the groups with positive weight."""
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
                segs.append((0, data.rows(a, b), a, b))
                g = h + 1
        else:
            for g in np.flatnonzero(keep):
                a, b = data.starts[g], data.starts[g + 1]
                segs.append((int(g), data.rows(a, b), a, b))
        return segs

    def zero(self) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros((self.n_blocks, self.data.d)), np.zeros(self.n_blocks)

    # -- evaluation ------------------------------------------------------------------
    def outputs(self, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
        """Decision values of every row (sorted order)."""
        z = np.empty(self.data.n)
        for p, Xs, a, b in self._segments(np.ones(self.data.n_groups), active_only=False):
            z[a:b] = Xs @ coef[p] + intercept[p]
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
        if self.sharing != "shared" and np.count_nonzero(lam) > STACK_GROUPS:
            segs = _Stacked(data, lam)
        else:
            segs = [  # transposes made once: each .T of a sparse matrix builds an object
                (p, Xs, Xs.T, data.y[a:b], lam[data.task[a:b]] * data.rw[a:b])
                for p, Xs, a, b in self._segments(lam)
            ]
        total = float(lam.sum()) + 1.0
        curvature = CURVATURE_BOUND[self.loss.name]
        coords = Coordinates(data.group_mean, data.group_sq, lam, pen, curvature)
        if self._error_per_gtol2 is None:
            gtol = np.sqrt(pen.mu_min * target / max(1, coef.size))
        else:  # learnt from earlier calls: the error bound grows like gtol ** 2
            gtol = 0.7 * np.sqrt(target / self._error_per_gtol2)
        gtol = float(np.clip(gtol, 1e-12, 1e-2))
        ftol = max(0.01 * target / total, 1e-16)
        evaluations, result = 0, None
        for _ in range(4):
            x0 = coords.to_x(coef, intercept)
            opt = minimize(
                self._value_grad,
                x0,
                args=(segs, coords),
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
        return result

    def _value_grad(self, x: np.ndarray, segs, coords: Coordinates):
        loss = self.loss
        w, b = coords.from_x(x)
        value, gw, gb = self.penalty.value_grad(w, b)
        gw, gb = gw.copy(), gb.copy()
        if isinstance(segs, _Stacked):
            value += segs.add_loss(loss, w, b, gw, gb)
            return value, coords.gradient(gw, gb)
        for p, Xs, XsT, ys, cs in segs:
            z = Xs @ w[p]
            z += b[p]
            ell, dz = _loss_and_gradient(loss, z, ys)
            value += float(cs @ ell)
            r = cs * dz
            gw[p] += XsT @ r
            gb[p] += r.sum()
        return value, coords.gradient(gw, gb)

    def _certify(self, lam, coef, intercept, evaluations: int, certify: bool) -> OracleResult:
        """Exact intercepts, group losses, value and the certified error bound."""
        data, loss, pen = self.data, self.loss, self.penalty
        G = data.n_groups
        z = self.outputs(coef, intercept)
        c = lam[data.task] * data.rw
        if pen.single_free:
            pid, n_prob = np.zeros(data.n, np.int64), 1
        else:
            pid, n_prob = data.task, G
        shift, width, d1 = solve_shifts(loss, z, data.y, c, pid, n_prob)
        z += shift[pid]
        intercept = intercept + (shift[0] if pen.single_free else shift)
        ell = loss.numpy(z, data.y)
        losses = np.bincount(data.task, weights=data.rw * ell, minlength=G)
        pvalue, pgw, pgb = pen.value_grad(coef, intercept)
        value = float(lam @ losses) + pvalue
        error = np.inf
        if certify:
            r = c * loss.gradient(z, data.y)
            gw, gb = pgw.copy(), pgb.copy()
            for p, Xs, a, b in self._segments(lam):
                gw[p] += Xs.T @ r[a:b]
            if self.sharing != "shared":
                gb = gb + np.bincount(data.task, weights=r, minlength=G)
            weight = np.bincount(pid, weights=c, minlength=n_prob)
            phi = np.bincount(pid, weights=c * ell, minlength=n_prob)
            shift_err, spread = shift_error(loss, width, d1, weight, phi)
            xnorm = np.sqrt(float(data.colmax @ data.colmax) + 1.0)
            e_norm = spread * xnorm / np.sqrt(pen.mu_min)
            dual = np.sqrt(max(pen.dual_norm_sq(gw, gb), 0.0))
            error = shift_err + 0.5 * (dual + e_norm) ** 2
        return OracleResult(coef, intercept, losses, pvalue, value, float(error), evaluations)
