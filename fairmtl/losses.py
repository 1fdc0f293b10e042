"""Per-sample losses in numpy and cvxpy forms.

A loss maps model outputs ``z`` and targets to a non-negative loss per row. The group
loss ``L_g`` of DESIGN.md is the weighted mean of these over the rows of group g.

Conventions (the same in every form):

- ``logistic`` (binary): targets in {-1, +1}, ``log(1 + exp(-y z))``.
- ``multinomial``: targets are class indices 0..K-1, ``logsumexp(z) - z[y]`` with ``z`` of
  shape (n, K).
- ``squared``: ``(z - y)**2`` (no factor 1/2: the group loss is the group's MSE).
- ``huber``: ``r**2`` for ``|r| <= delta`` else ``2 delta |r| - delta**2`` with ``r = z - y``
  (cvxpy's ``huber``; equals ``squared`` near zero), ``delta = 1``.
- ``hinge`` (binary): targets in {-1, +1}, ``max(0, 1 - y z)``.
- ``multiclass_hinge`` (Crammer & Singer): class indices,
  ``max_k (z_k + [k != y]) - z_y``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import logsumexp

if TYPE_CHECKING:
    import cvxpy as cp

__all__ = ["Loss", "LOSSES", "get_loss", "HUBER_DELTA"]

HUBER_DELTA = 1.0

MSG_UNKNOWN_LOSS = "Unknown loss {name!r}. Choose one of: {choices}."


@dataclass(frozen=True)
class Loss:
    """One loss function in its numpy and cvxpy forms.

    Attributes
    ----------
    name : str
        The loss's name.
    task : {"classification", "regression"}
        Which estimator uses it.
    multi_output : bool
        Whether outputs have one column per class (multinomial).
    """

    name: str
    task: str
    multi_output: bool = False

    def numpy(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Loss per row.

        Parameters
        ----------
        z : ndarray of shape (n,) or (n, K)
            Model outputs.
        y : ndarray of shape (n,)
            Encoded targets (see the module docstring).

        Returns
        -------
        loss : ndarray of shape (n,)
        """
        if self.name == "logistic":
            return np.logaddexp(0.0, -y * z)
        if self.name == "multinomial":
            return logsumexp(z, axis=1) - z[np.arange(len(y)), y.astype(int)]
        if self.name == "squared":
            return (z - y) ** 2
        if self.name == "huber":
            r = np.abs(z - y)
            return np.where(r <= HUBER_DELTA, r**2, 2 * HUBER_DELTA * r - HUBER_DELTA**2)
        if self.name == "hinge":
            return np.maximum(0.0, 1.0 - y * z)
        if self.name == "multiclass_hinge":
            rows = np.arange(len(y))
            margin = z + 1.0
            margin[rows, y.astype(int)] -= 1.0
            return margin.max(axis=1) - z[rows, y.astype(int)]
        raise ValueError(MSG_UNKNOWN_LOSS.format(name=self.name, choices=sorted(LOSSES)))

    def cvxpy(self, z: cp.Expression, y: np.ndarray) -> cp.Expression:
        """Loss per row as a convex cvxpy expression of the outputs ``z``."""
        import cvxpy as cp  # here: the numpy forms, used on Dask workers, need no cvxpy

        if self.name == "logistic":
            return cp.logistic(-cp.multiply(y, z))
        if self.name == "multinomial":
            onehot = np.zeros((len(y), z.shape[1]))
            onehot[np.arange(len(y)), y.astype(int)] = 1.0
            return cp.log_sum_exp(z, axis=1) - cp.sum(cp.multiply(onehot, z), axis=1)
        if self.name == "squared":
            return cp.square(z - y)
        if self.name == "huber":
            return cp.huber(z - y, HUBER_DELTA)
        if self.name == "hinge":
            return cp.pos(1.0 - cp.multiply(y, z))
        if self.name == "multiclass_hinge":
            onehot = np.zeros((len(y), z.shape[1]))
            onehot[np.arange(len(y)), y.astype(int)] = 1.0
            return cp.max(z + (1.0 - onehot), axis=1) - cp.sum(cp.multiply(onehot, z), axis=1)
        raise ValueError(MSG_UNKNOWN_LOSS.format(name=self.name, choices=sorted(LOSSES)))

    def gradient(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Derivative of the per-row loss with respect to ``z`` (a subgradient for hinge)."""
        if self.name == "logistic":
            return -y / (1.0 + np.exp(np.clip(y * z, -700, 700)))
        if self.name == "multinomial":
            p = np.exp(z - logsumexp(z, axis=1, keepdims=True))
            p[np.arange(len(y)), y.astype(int)] -= 1.0
            return p
        if self.name == "squared":
            return 2.0 * (z - y)
        if self.name == "huber":
            r = z - y
            return np.where(np.abs(r) <= HUBER_DELTA, 2 * r, 2 * HUBER_DELTA * np.sign(r))
        if self.name == "hinge":
            return np.where(y * z < 1.0, -y, 0.0)
        if self.name == "multiclass_hinge":
            rows, yi = np.arange(len(y)), y.astype(int)
            margin = z + 1.0
            margin[rows, yi] -= 1.0
            grad = np.zeros_like(z)
            grad[rows, margin.argmax(axis=1)] += 1.0
            grad[rows, yi] -= 1.0
            return grad
        raise ValueError(MSG_UNKNOWN_LOSS.format(name=self.name, choices=sorted(LOSSES)))


LOSSES: dict[str, Loss] = {
    "logistic": Loss("logistic", "classification"),
    "multinomial": Loss("multinomial", "classification", multi_output=True),
    "hinge": Loss("hinge", "classification"),
    "multiclass_hinge": Loss("multiclass_hinge", "classification", multi_output=True),
    "squared": Loss("squared", "regression"),
    "huber": Loss("huber", "regression"),
}


def get_loss(name: str, **_: Any) -> Loss:
    """Return the :class:`Loss` called ``name``."""
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(MSG_UNKNOWN_LOSS.format(name=name, choices=sorted(LOSSES))) from None
