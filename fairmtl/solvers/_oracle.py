"""The dual path's oracle: a weighted, penalised fit of the linear group models on all rows.

Given group weights ``lam``, :meth:`LinearOracle.solve` minimises
``f(theta) = sum_g lam_g L_g(theta) + R(theta)`` with scipy's L-BFGS-B (analytic gradients
from :meth:`fairmtl.losses.Loss.gradient`, warm-started), where ``R`` is the sharing
scheme's penalty exactly as in :mod:`fairmtl.models._sharing`. The weights enter as
per-row weights ``lam_g * w_i / W_g``. The data is held once, rows sorted by group.

Every answer carries a **certified bound** on its suboptimality ``f(theta) - min f``:

- the intercepts are the only directions that ``R`` does not penalise (for ``offset``
  with ``sharing_strength > 0``: their common shift). They are set by an exact,
  bracketed 1-D minimisation per free direction ``j``; with ``t*`` bracketed in an
  interval of width ``delta_j``, convexity gives ``phi_j(t) - min phi_j <= |phi_j'(t)| delta_j``;
- in the other coordinates ``u`` the penalty makes ``f`` strongly convex with the
  penalty's own Hessian ``H`` (``2 alpha`` on a shared model, ``2 alpha rho_g`` per group,
  ``2 (alpha diag(rho) + s C)`` for ``offset``), so the partial minimum over the free
  directions ``g(u)`` obeys ``g(u) - min g <= 1/2 ||grad g(u)||^2_{H^-1}``, where the
  gradient is exact up to a term bounded from ``delta_j`` and the loss's curvature bound.

The sum is rigorous up to floating-point rounding. It needs ``alpha > 0``, a smooth loss
with one output (logistic, squared, huber) and a scheme among shared, independent, offset.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize
from scipy.special import expit

from fairmtl.losses import Loss

__all__ = ["GroupedData", "LinearOracle", "OracleResult", "Penalty", "CURVATURE_BOUND"]

#: upper bound of the second derivative of each supported loss in its output
CURVATURE_BOUND = {"logistic": 0.25, "squared": 2.0, "huber": 2.0}
#: dense inputs with fewer non-zeros than this share are held as CSR
SPARSE_SHARE = 0.25
_CHUNK = 65_536


def _curvature(loss: Loss, z: np.ndarray, y: np.ndarray) -> np.ndarray:
    if loss.name == "logistic":
        p = expit(y * z)
        return p * (1.0 - p)
    if loss.name == "squared":
        return np.full_like(z, 2.0)
    return np.where(np.abs(z - y) <= 1.0, 2.0, 0.0)  # huber with delta = 1


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
        if sp.issparse(X):
            X = sp.csr_matrix(X if order is None else X[order])
        else:
            # a copy only when the rows must be reordered; the caller's X is never changed
            X = np.asarray(X) if order is None else np.asarray(X)[order]
            if X.size and np.count_nonzero(X) < SPARSE_SHARE * X.size:
                X = sp.csr_matrix(X)
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
        self.mean, self.scale = _conditioning(X)
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


def _conditioning(X) -> tuple[np.ndarray, np.ndarray]:
    """Column means (dense columns only) and spreads, for the oracle's reparametrisation."""
    n, d = X.shape
    if n == 0:
        return np.zeros(d), np.ones(d)
    if sp.issparse(X):
        nnz = np.diff(X.tocsc().indptr)
        mean = np.asarray(X.mean(axis=0)).ravel()
        sq = np.asarray(X.multiply(X).mean(axis=0)).ravel()
    else:
        nnz, s1, s2 = np.zeros(d), np.zeros(d), np.zeros(d)
        for a in range(0, n, _CHUNK):
            block = X[a : a + _CHUNK]
            nnz += np.count_nonzero(block, axis=0)
            s1 += block.sum(axis=0)
            s2 += np.einsum("ij,ij->j", block, block)
        mean, sq = s1 / n, s2 / n
    dense = nnz > 0.5 * n
    centre = np.where(dense, mean, 0.0)
    var = np.maximum(sq - 2 * centre * mean + centre**2, 0.0)
    spread = np.sqrt(var)
    scale = np.where(spread > 1e-12 * np.maximum(1.0, np.abs(centre)), spread, 1.0)
    return centre, scale


def _column_max(X) -> np.ndarray:
    if X.shape[0] == 0:
        return np.zeros(X.shape[1])
    if sp.issparse(X):
        return np.asarray(abs(X).max(axis=0).todense()).ravel()
    out = np.zeros(X.shape[1])
    for a in range(0, X.shape[0], _CHUNK):
        out = np.maximum(out, np.abs(X[a : a + _CHUNK]).max(axis=0))
    return out


class Penalty:
    """The sharing scheme's penalty on original-space parameters, and its curvature.

    Parameters are ``w`` of shape (P, d) and ``b`` of shape (P,), with P = 1 for
    ``shared`` and P = n_groups otherwise.
    """

    def __init__(self, sharing: str, alpha: float, strength: float, shares: np.ndarray):
        self.sharing, self.alpha, self.strength = sharing, float(alpha), float(strength)
        self.rho = np.asarray(shares, dtype=float)
        G = len(self.rho)
        self.coupled = sharing == "offset" and self.strength > 0 and G > 1
        #: one free intercept direction in total, or one per group
        self.single_free = sharing == "shared" or self.coupled
        if sharing == "shared":
            self.mu_min = 2 * self.alpha
        elif not self.coupled:
            self.mu_min = 2 * self.alpha * float(self.rho.min())
        else:
            C = np.eye(G) - 1.0 / G
            M = 2 * (self.alpha * np.diag(self.rho) + self.strength * C)
            vals, vecs = np.linalg.eigh(M)
            self.M_inv = (vecs / vals) @ vecs.T
            self.mu_min = float(min(vals.min(), 2 * self.strength))

    def value_grad(self, w: np.ndarray, b: np.ndarray):
        """Penalty value and its gradients in ``w`` and ``b``."""
        a = self.alpha
        if self.sharing == "shared":
            return a * float(w[0] @ w[0]), 2 * a * w, np.zeros_like(b)
        sq = np.einsum("gd,gd->g", w, w)
        value = a * float(self.rho @ sq)
        gw = 2 * a * self.rho[:, None] * w
        gb = np.zeros_like(b)
        if self.sharing == "offset" and self.strength > 0:
            s = self.strength
            dw, db = w - w.mean(axis=0), b - b.mean()
            value += s * (float(np.sum(dw * dw)) + float(db @ db))
            gw = gw + 2 * s * dw
            gb = 2 * s * db
        return value, gw, gb

    def dual_norm_sq(self, gw: np.ndarray, gb: np.ndarray) -> float:
        """``||g_u||^2_{H^-1}`` over the strongly convex coordinates ``u``."""
        if self.sharing == "shared":
            return float(gw[0] @ gw[0]) / (2 * self.alpha)
        if not self.coupled:
            return float(np.einsum("gd,gd->g", gw, gw) @ (1.0 / (2 * self.alpha * self.rho)))
        gdev = gb - gb.mean()
        return float(np.einsum("gd,gh,hd->", gw, self.M_inv, gw)) + float(gdev @ gdev) / (
            2 * self.strength
        )


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
        segs = [
            (p, Xs, data.y[a:b], lam[data.task[a:b]] * data.rw[a:b])
            for p, Xs, a, b in self._segments(lam)
        ]
        total = float(lam.sum()) + 1.0
        if self._error_per_gtol2 is None:
            gtol = np.sqrt(pen.mu_min * target / max(1, coef.size))
        else:  # learnt from earlier calls: the error bound grows like gtol ** 2
            gtol = 0.7 * np.sqrt(target / self._error_per_gtol2)
        gtol = float(np.clip(gtol, 1e-12, 1e-2))
        ftol = max(0.01 * target / total, 1e-16)
        evaluations, result = 0, None
        for _ in range(4):
            x0 = self._to_scaled(coef, intercept)
            opt = minimize(
                self._value_grad,
                x0,
                args=(segs,),
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
            coef, intercept = self._from_scaled(opt.x)
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

    def _to_scaled(self, coef, intercept) -> np.ndarray:
        m, s = self.data.mean, self.data.scale
        W = coef * s
        bs = intercept + coef @ m
        return np.concatenate([W, bs[:, None]], axis=1).ravel()

    def _from_scaled(self, x: np.ndarray):
        d, m, s = self.data.d, self.data.mean, self.data.scale
        th = x.reshape(self.n_blocks, d + 1)
        w = th[:, :d] / s
        return w, th[:, d] - w @ m

    def _value_grad(self, x: np.ndarray, segs):
        loss = self.loss
        w, b = self._from_scaled(x)
        value, gw, gb = self.penalty.value_grad(w, b)
        gw, gb = gw.copy(), gb.copy()
        for p, Xs, ys, cs in segs:
            z = Xs @ w[p]
            z += b[p]
            ell, dz = _loss_and_gradient(loss, z, ys)
            value += float(cs @ ell)
            r = cs * dz
            gw[p] += Xs.T @ r
            gb[p] += r.sum()
        m, s = self.data.mean, self.data.scale
        gW = (gw - gb[:, None] * m) / s
        return value, np.concatenate([gW, gb[:, None]], axis=1).ravel()

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
            shift_err, spread = _shift_error(loss, width, d1, weight, phi)
            xnorm = np.sqrt(float(data.colmax @ data.colmax) + 1.0)
            e_norm = spread * xnorm / np.sqrt(pen.mu_min)
            dual = np.sqrt(max(pen.dual_norm_sq(gw, gb), 0.0))
            error = shift_err + 0.5 * (dual + e_norm) ** 2
        return OracleResult(coef, intercept, losses, pvalue, value, float(error), evaluations)


def _shift_error(loss: Loss, width, d1, weight, phi) -> tuple[float, float]:
    """Value error of the free directions, and a bound on the gradient error they cause.

    A bracketed direction contributes ``|phi'| * width`` (convexity) and a gradient error
    of at most ``curvature_bound * width * weight`` per row-weight unit. A direction whose
    minimum is at infinity (one class only, logistic loss) contributes ``phi`` itself
    (losses are non-negative) and a gradient error of at most ``|phi'|``.
    """
    used = weight > 0
    if np.any(used & np.isnan(width)):
        return np.inf, np.inf
    at_inf = np.isinf(width)
    finite_width = np.where(at_inf, 0.0, width)
    value = np.where(used, np.where(at_inf, phi, np.abs(d1) * finite_width), 0.0)
    curv = CURVATURE_BOUND[loss.name]
    grad = np.where(used, np.where(at_inf, np.abs(d1), curv * finite_width * weight), 0.0)
    return float(value.sum()), float(np.sqrt(np.sum(grad**2)))


def solve_shifts(loss: Loss, z, y, c, pid, n_prob: int, max_iter: int = 100):
    """Minimise ``phi_j(t) = sum_{pid_i = j} c_i loss(z_i + t, y_i)`` for every ``j``.

    Safeguarded Newton with a bracket. Returns the shifts, the width of an interval
    proven to hold each minimiser (``inf`` when the infimum is at infinity: logistic
    loss with one class only, where the shift is pushed until the loss is negligible)
    and ``phi_j'`` at the returned shift.
    """
    weight = np.bincount(pid, weights=c, minlength=n_prob)
    t = np.zeros(n_prob)
    width = np.zeros(n_prob)
    d1_out = np.zeros(n_prob)
    todo = weight > 0
    if loss.name == "logistic":
        pos = np.bincount(pid, weights=(c > 0) & (y > 0), minlength=n_prob)
        neg = np.bincount(pid, weights=(c > 0) & (y < 0), minlength=n_prob)
        one_class = todo & ((pos == 0) | (neg == 0))
        if one_class.any():
            # the infimum is at +-infinity: push every row's margin above 40
            sign = np.where(pos > 0, 1.0, -1.0)
            margin = np.full(n_prob, np.inf)
            rows = (c > 0) & one_class[pid]
            np.minimum.at(margin, pid[rows], (sign[pid] * z)[rows])
            t = np.where(one_class, sign * np.maximum(40.0 - margin, 0.0), t)
            width = np.where(one_class, np.inf, width)
            todo = todo & ~one_class
    lo = np.full(n_prob, -np.inf)
    hi = np.full(n_prob, np.inf)
    step_out = np.ones(n_prob)
    for it in range(max_iter):
        zz = z + t[pid]
        d1 = np.bincount(pid, weights=c * loss.gradient(zz, y), minlength=n_prob)
        d1_out = np.where(todo | ~np.isfinite(width), d1, d1_out)
        if not todo.any():
            break
        lo = np.where(todo & (d1 <= 0), np.maximum(lo, t), lo)
        hi = np.where(todo & (d1 >= 0), np.minimum(hi, t), hi)
        tiny = 1e-10 * (1.0 + np.abs(t))
        done = todo & ((hi - lo) <= 2 * tiny)
        width = np.where(done, hi - lo, width)
        todo = todo & ~done
        if not todo.any() or it == max_iter - 1:
            break
        d2 = np.bincount(pid, weights=c * _curvature(loss, zz, y), minlength=n_prob)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(d2 > 0, -d1 / d2, -np.sign(d1) * step_out)
        step = np.where(np.abs(step) < tiny, -np.sign(d1) * 1.5 * tiny, step)
        new = t + step
        bracketed = np.isfinite(lo) & np.isfinite(hi)
        outside = ~((new > lo) & (new < hi)) | ~np.isfinite(new)
        expand = np.where(d1 < 0, t + step_out, t - step_out)
        new = np.where(outside, np.where(bracketed, 0.5 * (lo + hi), expand), new)
        step_out = np.where(outside & ~bracketed, 2 * step_out, step_out)
        t = np.where(todo, new, t)
    # not bracketed in time: no bound (nan), unlike a proven infimum at infinity (inf)
    width = np.where(todo, np.where(np.isfinite(hi - lo), hi - lo, np.nan), width)
    return t, width, d1_out
