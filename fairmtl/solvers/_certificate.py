"""The certificate of the dual path's oracle: how far a weighted fit is from its optimum.

For group weights ``lam`` the oracle minimises ``f(theta) = sum_g lam_g L_g(theta) + R(theta)``
with ``R`` the sharing penalty of :mod:`fairmtl.models._sharing`. A bound on
``f(theta) - min f`` is proven in two parts:

- the intercepts are the only directions that ``R`` does not penalise (for ``offset``
  with ``sharing_strength > 0``: their common shift). They are set by an exact,
  bracketed 1-D minimisation per free direction ``j`` (:func:`solve_shifts`); with the
  minimiser bracketed in an interval of width ``delta_j``, convexity gives
  ``phi_j(t) - min phi_j <= |phi_j'(t)| delta_j``. When the infimum is at infinity
  (logistic loss, one class only) the loss itself bounds it, as losses are non-negative;
- in the other coordinates ``u`` the penalty makes ``f`` strongly convex with the
  penalty's own Hessian ``H`` (``2 alpha`` on a shared model, ``2 alpha rho_g`` per group,
  ``2 (alpha diag(rho) + s C)`` for ``offset``; :class:`Penalty`), so the partial minimum
  over the free directions ``g(u)`` obeys ``g(u) - min g <= 1/2 ||grad g(u)||^2_{H^-1}``,
  where the gradient is exact up to a term bounded from ``delta_j`` and the loss's
  curvature bound (:func:`shift_error`).

The sum is rigorous up to floating-point rounding. It needs ``alpha > 0`` and a smooth
loss with one output (logistic, squared, huber).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from fairmtl.losses import Loss

__all__ = [
    "CURVATURE_BOUND",
    "Penalty",
    "RowSums",
    "shift_error",
    "solve_shifts",
    "solve_shifts_from",
]

#: upper bound of the second derivative of each supported loss in its output
CURVATURE_BOUND = {"logistic": 0.25, "squared": 2.0, "huber": 2.0}


def _curvature(loss: Loss, z: np.ndarray, y: np.ndarray) -> np.ndarray:
    if loss.name == "logistic":
        p = expit(y * z)
        return p * (1.0 - p)
    if loss.name == "squared":
        return np.full_like(z, 2.0)
    return np.where(np.abs(z - y) <= 1.0, 2.0, 0.0)  # huber with delta = 1


class Penalty:
    """The sharing scheme's penalty on original-space parameters, and its curvature.

    Parameters are ``w`` of shape (P, d) and ``b`` of shape (P,), with P = 1 for
    ``shared`` and P = n_groups otherwise.
    """

    def __init__(self, sharing: str, alpha: float, strength: float, shares: np.ndarray):
        self.sharing, self.alpha, self.strength = sharing, float(alpha), float(strength)
        self.rho = np.asarray(shares, dtype=float)
        self._rho_col = self.rho[:, None]
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
        gw = (2 * a) * self._rho_col * w
        value = 0.5 * float(np.vdot(gw, w))  # a * sum_g rho_g ||w_g||^2
        if not (self.sharing == "offset" and self.strength > 0):
            return value, gw, np.zeros_like(b)
        s = self.strength
        dw = w - np.add.reduce(w, axis=0) / len(w)
        db = b - np.add.reduce(b) / len(b)
        value += s * (float(np.vdot(dw, dw)) + float(db @ db))
        gw += (2 * s) * dw
        return value, gw, (2 * s) * db

    def dual_norm_sq(self, gw: np.ndarray, gb: np.ndarray) -> float:
        """``||g_u||^2_{H^-1}`` over the strongly convex coordinates ``u``."""
        if self.sharing == "shared":
            return float(gw[0] @ gw[0]) / (2 * self.alpha)
        if not self.coupled:
            return float(np.einsum("gd,gd->g", gw, gw) @ (1.0 / (2 * self.alpha * self.rho)))
        gdev = gb - gb.mean()
        # one matrix product (einsum's three-operand loop: 3 ms a call at 500 groups)
        return float(np.vdot(gw, self.M_inv @ gw)) + float(gdev @ gdev) / (2 * self.strength)


def shift_error(loss: Loss, width, d1, weight, phi) -> tuple[float, float]:
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


class RowSums:
    """The sums over rows that :func:`solve_shifts_from` needs, from arrays in memory.

    Rows ``i`` have outputs ``z_i``, targets ``y_i``, weights ``c_i`` and belong to the free
    direction ``pid_i`` (one of ``n_prob``). Another holder of the rows (a cluster's
    workers) provides the same four methods, each returning ``n_prob`` numbers.
    """

    def __init__(self, loss: Loss, z, y, c, pid, n_prob: int) -> None:
        self.loss, self.z, self.y, self.c, self.pid, self.n_prob = loss, z, y, c, pid, n_prob

    def weight(self) -> np.ndarray:
        """Total row weight of each direction."""
        return np.bincount(self.pid, weights=self.c, minlength=self.n_prob)

    def class_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """Rows of positive weight with ``y > 0`` and with ``y < 0``, per direction."""
        used = self.c > 0
        pos = np.bincount(self.pid, weights=used & (self.y > 0), minlength=self.n_prob)
        neg = np.bincount(self.pid, weights=used & (self.y < 0), minlength=self.n_prob)
        return pos, neg

    def min_margin(self, sign: np.ndarray, which: np.ndarray) -> np.ndarray:
        """Smallest ``sign * z`` over the rows of positive weight of the directions
        ``which`` (inf elsewhere)."""
        margin = np.full(self.n_prob, np.inf)
        rows = (self.c > 0) & which[self.pid]
        np.minimum.at(margin, self.pid[rows], (sign[self.pid] * self.z)[rows])
        return margin

    def derivatives(self, t: np.ndarray):
        """``phi_j'(t_j)``, and a function giving ``phi_j''(t_j)`` when it is needed."""
        zz = self.z + t[self.pid]
        c, pid, n, loss = self.c, self.pid, self.n_prob, self.loss
        d1 = np.bincount(pid, weights=c * loss.gradient(zz, self.y), minlength=n)
        return d1, lambda: np.bincount(pid, weights=c * _curvature(loss, zz, self.y), minlength=n)


def solve_shifts(loss: Loss, z, y, c, pid, n_prob: int, max_iter: int = 100):
    """Minimise ``phi_j(t) = sum_{pid_i = j} c_i loss(z_i + t, y_i)`` for every ``j``.

    Safeguarded Newton with a bracket. Returns the shifts, the width of an interval
    proven to hold each minimiser (``inf`` when the infimum is at infinity: logistic
    loss with one class only, where the shift is pushed until the loss is negligible)
    and ``phi_j'`` at the returned shift.
    """
    return solve_shifts_from(RowSums(loss, z, y, c, pid, n_prob), loss, n_prob, max_iter)


def solve_shifts_from(sums, loss: Loss, n_prob: int, max_iter: int = 100):
    """:func:`solve_shifts` on any holder of the rows' sums (see :class:`RowSums`)."""
    weight = sums.weight()
    t = np.zeros(n_prob)
    width = np.zeros(n_prob)
    d1_out = np.zeros(n_prob)
    todo = weight > 0
    if loss.name == "logistic":
        pos, neg = sums.class_counts()
        one_class = todo & ((pos == 0) | (neg == 0))
        if one_class.any():
            # the infimum is at +-infinity: push every row's margin above 40
            sign = np.where(pos > 0, 1.0, -1.0)
            margin = sums.min_margin(sign, one_class)
            t = np.where(one_class, sign * np.maximum(40.0 - margin, 0.0), t)
            width = np.where(one_class, np.inf, width)
            todo = todo & ~one_class
    lo = np.full(n_prob, -np.inf)
    hi = np.full(n_prob, np.inf)
    step_out = np.ones(n_prob)
    for it in range(max_iter):
        d1, second = sums.derivatives(t)
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
        d2 = second()
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(d2 > 0, -d1 / d2, -np.sign(d1) * step_out)
        step = np.where(np.abs(step) < tiny, -np.sign(d1) * 1.5 * tiny, step)
        new = t + step
        bracketed = np.isfinite(lo) & np.isfinite(hi)
        outside = ~((new > lo) & (new < hi)) | ~np.isfinite(new)
        expand = np.where(d1 < 0, t + step_out, t - step_out)
        with np.errstate(invalid="ignore"):
            middle = 0.5 * (lo + hi)
        new = np.where(outside, np.where(bracketed, middle, expand), new)
        step_out = np.where(outside & ~bracketed, 2 * step_out, step_out)
        t = np.where(todo, new, t)
    # not bracketed in time: no bound (nan), unlike a proven infimum at infinity (inf)
    width = np.where(todo, np.where(np.isfinite(hi - lo), hi - lo, np.nan), width)
    return t, width, d1_out
