"""Coordinates in which the oracle's L-BFGS runs: centred, scaled, and for ``offset`` split.

A change of variables does not change the minimiser, only how fast L-BFGS finds it. For
each block of parameters (the shared model, or one model per group) the coordinates are

- **centred** on the block's weighted feature means, so that the intercept and the
  coefficients decouple (nothing is subtracted from the data: only the parameters move);
- **scaled** by the square root of a diagonal estimate of the Hessian: the loss's
  curvature bound times the weighted feature variances, plus the penalty's curvature.

For ``offset`` with ``sharing_strength > 0`` the coefficients are written
``w_g = u + v_g`` (a shared core and per-group deviations, Evgeniou and Pontil's form):
the coupling ``s ||w_g - mean w||^2`` is stiff in ``w_g`` but separable in ``(u, v)``.
The split is over-parametrised (``u + c``, ``v_g - c`` is the same model); L-BFGS does
not mind the flat direction, and every result is read back as ``(w_g, b_g)``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Coordinates"]

_FLOOR = 1e-12


class Coordinates:
    """The L-BFGS variables of one oracle call.

    Parameters
    ----------
    group_mean, group_sq : ndarray of shape (n_groups, n_features)
        Weighted mean and second moment of each group's features (row weights sum to 1
        within a group).
    lam : ndarray of shape (n_groups,)
        Group weights of this call.
    penalty : Penalty
    curvature : float
        Upper bound of the loss's second derivative.
    """

    def __init__(self, group_mean, group_sq, lam, penalty, curvature: float) -> None:
        G, d = group_mean.shape
        self.d = d
        alpha, s, rho = penalty.alpha, penalty.strength, penalty.rho
        self.split = penalty.coupled
        total = float(lam.sum())
        if penalty.sharing == "shared" or self.split:
            mean = lam @ group_mean / total if total > 0 else group_mean.mean(axis=0)
            var = np.maximum(lam @ group_sq / max(total, _FLOOR) - mean**2, 0.0)
            core = (mean, curvature * total * var + 2 * alpha, curvature * total)
        if penalty.sharing == "shared":
            self.mean, hw, hb = core[0][None], core[1][None], np.array([core[2]])
        else:
            var = np.maximum(group_sq - group_mean**2, 0.0)
            extra = 2 * s * (1 - 1 / G) if self.split else 0.0
            self.mean = group_mean
            hw = curvature * lam[:, None] * var + (2 * alpha * rho + extra)[:, None]
            hb = curvature * lam + extra
        self.sw = np.sqrt(np.maximum(hw, _FLOOR))
        self.sb = np.sqrt(np.maximum(hb, _FLOOR))
        if self.split:
            self.core_mean = core[0]
            self.core_sw = np.sqrt(np.maximum(core[1], _FLOOR))
            self.core_sb = float(np.sqrt(max(core[2], _FLOOR)))

    def to_x(self, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
        if not self.split:
            W = coef * self.sw
            B = (intercept + np.einsum("pd,pd->p", coef, self.mean)) * self.sb
            return np.concatenate([W, B[:, None]], axis=1).ravel()
        u, ub = coef.mean(axis=0), float(intercept.mean())
        v, vb = coef - u, intercept - ub
        U = np.concatenate([u * self.core_sw, [(ub + u @ self.core_mean) * self.core_sb]])
        V = v * self.sw
        VB = (vb + np.einsum("gd,gd->g", v, self.mean)) * self.sb
        return np.concatenate([U, np.concatenate([V, VB[:, None]], axis=1).ravel()])

    def from_x(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d = self.d
        if not self.split:
            th = x.reshape(-1, d + 1)
            w = th[:, :d] / self.sw
            return w, th[:, d] / self.sb - np.einsum("pd,pd->p", w, self.mean)
        u = x[:d] / self.core_sw
        ub = x[d] / self.core_sb - u @ self.core_mean
        th = x[d + 1 :].reshape(-1, d + 1)
        v = th[:, :d] / self.sw
        vb = th[:, d] / self.sb - np.einsum("gd,gd->g", v, self.mean)
        return u + v, ub + vb

    def gradient(self, gw: np.ndarray, gb: np.ndarray) -> np.ndarray:
        """Gradient in ``x`` from the gradient in ``(w, b)`` (chain rule)."""
        gV = (gw - gb[:, None] * self.mean) / self.sw
        blocks = np.concatenate([gV, (gb / self.sb)[:, None]], axis=1).ravel()
        if not self.split:
            return blocks
        gw_core, gb_core = gw.sum(axis=0), float(gb.sum())
        gU = (gw_core - gb_core * self.core_mean) / self.core_sw
        return np.concatenate([gU, [gb_core / self.core_sb], blocks])
