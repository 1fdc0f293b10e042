"""The multipliers of the smooth stages' KKT check, by non-negative least squares.

The check (:func:`fairmtl.solvers._refine._kkt_gap`) recovers the multipliers ``mu >= 0``
of the nearly active constraints from ``min ||J' mu - t||``: ``J`` holds the rows
``scale_k * grad L_g`` of those groups, ``t`` the negative gradient of the objective;
in epigraph form a heavily weighted row ``weight * (sum(mu) - 1)`` is appended (the
epigraph variable's stationarity, ``sum(mu) = 1``).

With one model per group each row of ``J`` touches its own group's block of parameters
only, so ``J' = Q diag(n)`` with orthonormal ``Q`` and ``n_k = ||J_k||``, and the program
is ``min ||diag(n) mu - Q' t||`` (plus the weighted row) up to a constant: separable,
with one coupling through ``sum(mu)``, and solved exactly in closed form
(:func:`separable_nnls`). The dense program (``G (d + 1)`` rows) took 4-9 ms a check by
scipy's ``nnls`` at 500 groups.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import nnls

__all__ = ["check_multipliers", "separable_nnls"]


def check_multipliers(model, jw, jb, near, scale, target, simplex: bool) -> np.ndarray:
    """``argmin ||J' mu - target||`` (with the weighted row ``sum(mu) = 1`` where
    ``simplex``) over ``mu >= 0``, one per group of ``near``: see the module docstring.
    ``model`` is the smooth stages' ``_Model``; ``jw``, ``jb`` the group losses' gradients;
    ``scale`` the rows' factors (one per group of ``near``)."""
    if model.per_group:
        A, t, largest = _diagonal_form(jw, jb, near, scale, target)
        weight = 1e3 * (1.0 + largest) if simplex else None
        mu = separable_nnls(np.diag(A).copy(), t, weight)
        if mu is not None:
            return mu
    else:
        J = model.constraint_rows(jw, jb, near) * scale[:, None]
        A, t, largest = J.T, target, float(np.abs(J).max())
    if simplex:
        weight = 1e3 * (1.0 + largest)
        A = np.vstack([A, np.full(len(near), weight)])
        t = np.append(t, weight)
    return nnls(A, t)[0]


def _diagonal_form(jw, jb, near, scale, target):
    """``(diag(n), Q' target, largest entry of J)`` for per-group models' rows."""
    G, d = jw.shape
    rows = np.column_stack([jw[near], jb[near]]) * scale[:, None]
    own = np.column_stack([target[: G * d].reshape(G, d)[near], target[G * d + near]])
    norms = np.sqrt(np.einsum("kj,kj->k", rows, rows))
    inner = np.einsum("kj,kj->k", rows, own)
    projected = np.divide(inner, norms, out=np.zeros_like(inner), where=norms > 0)
    return np.diag(norms), projected, float(np.abs(rows).max())


def separable_nnls(n: np.ndarray, r: np.ndarray, weight: float | None) -> np.ndarray | None:
    """``argmin sum_k (n_k mu_k - r_k)^2 + weight^2 (sum(mu) - 1)^2`` over ``mu >= 0``
    (without the last term where ``weight`` is None), exactly; None where some ``n_k`` is
    0 and ``weight`` is given (the minimiser is then not unique).

    Its KKT conditions give ``mu_k = max(0, (n_k r_k - lam) / n_k^2)`` with ``lam =
    weight^2 (sum(mu) - 1)``; ``lam - weight^2 (sum(mu(lam)) - 1)`` increases strictly
    and is linear between the breakpoints ``n_k r_k``, so the root lies on one piece,
    found in closed form on each piece after sorting."""
    zero = n == 0
    if weight is None:
        return np.where(zero, 0.0, np.maximum(r, 0.0) / np.where(zero, 1.0, n))
    if zero.any():
        return None
    breaks = n * r
    order = np.argsort(-breaks)  # descending: pieces k = 0..m, the first k on the support
    b, inv = breaks[order], 1.0 / n[order] ** 2
    w2 = weight * weight
    a = np.concatenate([[0.0], np.cumsum(b * inv)])  # sum(mu) = a_k - lam * c_k on piece k
    c = np.concatenate([[0.0], np.cumsum(inv)])
    lam = w2 * (a - 1.0) / (1.0 + w2 * c)
    upper = np.concatenate([[np.inf], b])  # piece k: b_k <= lam <= b_(k-1)
    lower = np.append(b, -np.inf)
    inside = np.flatnonzero((lam <= upper) & (lam >= lower))
    # the root is on exactly one piece (two where it is a breakpoint, with one value)
    k = int(inside[0]) if inside.size else int(np.argmin(np.maximum(lam - upper, lower - lam)))
    return np.maximum((breaks - lam[k]) / n**2, 0.0)
