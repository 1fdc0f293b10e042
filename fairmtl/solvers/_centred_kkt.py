"""The smooth stages' KKT check in centred coefficients, for features far from centred.

The check (:func:`~fairmtl.solvers._refine._kkt_gap`) bounds the duality gap by half the
Lagrangian's gradient in the penalty's dual norm over the coefficients, the intercepts'
free directions entering squared. In the original variables a coefficient's gradient
is ``sum_i r_i x_i = sum_i r_i (x_i - m) + m sum_i r_i``: where the features' mean ``m``
is far from zero against their spread, the intercept's residual ``sum_i r_i`` (at the
rounding floor near the optimum) comes back ``m`` times, squared, over the penalty's
curvature. Measured: features shifted by +1000, 10 groups, alpha 1e-3, the bound stayed
near its tolerance while SQP's iterates had converged in value to 12 digits, and the fit
went to the conic program (5-14 s against 0.1 s unshifted).

Here the coefficients are measured centred and scaled, ``u = (w_p * s, b_p + w_p . m_p)``
per model (``m_p`` its weighted feature means, ``s`` the features' standard deviations):
``theta = M u`` is a change of variables, the penalty's Hessian in ``u`` is
``M' H M`` and the gradient ``M' g``; the dual norm is taken over that Hessian's range
(its null space, the intercepts' free directions, is the same in both variables and is
counted as before). Only where some feature's mean lies :data:`CENTRE_RATIO` of its
standard deviations from zero, so that fits of centred data are checked as before.
"""

from __future__ import annotations

import numpy as np

from fairmtl.solvers._interior import penalty_hessian_original

__all__ = ["CENTRE_RATIO", "CentredNorm"]

#: features whose mean is this many standard deviations from zero are checked centred
CENTRE_RATIO = 10.0


class CentredNorm:
    """``||g||^2`` in the dual norm of the penalty's Hessian, in centred coefficients.

    Parameters
    ----------
    M : ndarray of shape (n, n)
        ``theta = M @ u`` (flat parameters ``[coef (P, d) row by row, intercept (P,)]``).
    H : ndarray of shape (n, n)
        The penalty's Hessian in ``theta``.
    """

    def __init__(self, M: np.ndarray, H: np.ndarray) -> None:
        self.Mt = M.T
        Hu = M.T @ H @ M
        values, vectors = np.linalg.eigh((Hu + Hu.T) / 2)
        keep = values > 1e-12 * max(float(values.max()), 1e-300)
        self.inverse = (vectors[:, keep] / values[keep]) @ vectors[:, keep].T

    @classmethod
    def of(cls, data, penalty, P: int) -> CentredNorm | None:
        """The norm for the models of ``data`` (``P`` of them), or None where the features
        are near centred (see the module docstring)."""
        d = data.d
        overall = data.shares @ data.group_mean
        spread = np.sqrt(np.maximum(data.shares @ data.group_sq - overall**2, 0.0))
        scale = np.where(spread > 1e-12 * (1.0 + np.abs(overall)), spread, 1.0)
        means = overall[None] if P == 1 else data.group_mean
        if np.max(np.abs(means) / scale) <= CENTRE_RATIO:
            return None
        M = np.zeros((P * (d + 1), P * (d + 1)))
        for p in range(P):
            w = slice(p * d, (p + 1) * d)
            M[w, w] = np.diag(1.0 / scale)
            M[P * d + p, w] = -means[p] / scale
            M[P * d + p, P * d + p] = 1.0
        return cls(M, penalty_hessian_original(penalty, P, d))

    def dual_norm_sq(self, gw: np.ndarray, gb: np.ndarray) -> float:
        """As :meth:`~fairmtl.solvers._certificate.Penalty.dual_norm_sq`, of the gradient
        ``(gw, gb)`` in ``theta``, measured in the centred coefficients."""
        g = self.Mt @ np.concatenate([gw.ravel(), gb])
        return float(g @ self.inverse @ g)
