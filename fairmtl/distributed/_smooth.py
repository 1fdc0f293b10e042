"""The smooth stages' model of rows held on a Dask cluster.

:class:`ClusterModel` is the exact path's group-loss model (``_Model`` of
:mod:`fairmtl.solvers._refine`) with its two sums over rows computed where the rows are:
the group losses and their gradients (one round, a ``(d + 1)``-vector per group of each
partition) and the Hessian of a weighted sum of them (one round, a ``(d + 1) x (d + 1)``
block per group of each partition). Nothing row-level leaves a worker.
"""

from __future__ import annotations

import numpy as np

from fairmtl.distributed import _parts
from fairmtl.distributed._data import ClusterRows
from fairmtl.solvers._refine import _Model

__all__ = ["ClusterModel"]


class ClusterModel(_Model):
    """Group losses, their Jacobian, Hessian and the penalty, summed on the workers."""

    def __init__(self, rows: ClusterRows, loss, penalty, sharing: str) -> None:
        self.data, self.loss, self.penalty = rows, loss, penalty
        self.per_group = sharing != "shared"
        self._cache = None

    def outputs(self, w: np.ndarray, b: np.ndarray) -> np.ndarray:
        raise NotImplementedError("A distributed fit keeps the rows' outputs on the workers.")

    def _sums(self, w: np.ndarray, b: np.ndarray):
        """Group losses and their gradients: one round."""
        rows = self.data
        losses, jw, jb = (
            np.zeros(rows.n_groups),
            np.zeros((rows.n_groups, rows.d)),
            np.zeros(rows.n_groups),
        )
        found = rows.rounds.run("smooth", _parts.group_gradients, w, b, self.loss.name)
        for tasks, part_losses, part_jw, part_jb in found:
            losses[tasks] += part_losses
            jw[tasks] += part_jw
            jb[tasks] += part_jb
        return losses, jw, jb

    def hessian(self, point, weights: np.ndarray, P: int) -> np.ndarray:
        """``sum_g weights_g * Hessian of L_g`` in the flat original-space parameters."""
        d = self.data.d
        H = np.zeros((P * (d + 1), P * (d + 1)))
        for tasks, blocks in self._hessian_round(point, weights):
            for g, block in zip(tasks, blocks, strict=True):
                p = 0 if P == 1 else int(g)
                idx = np.r_[p * d : (p + 1) * d, P * d + p]
                H[np.ix_(idx, idx)] += block
        return H

    def group_blocks(self, point, weights: np.ndarray) -> np.ndarray:
        """``weights_g * Hessian of L_g`` in ``(w_g, b_g)`` per group: one round."""
        d = self.data.d
        total = np.zeros((self.data.n_groups, d + 1, d + 1))
        for tasks, blocks in self._hessian_round(point, weights):
            np.add.at(total, np.asarray(tasks), blocks)
        return total

    def _hessian_round(self, point, weights: np.ndarray):
        weights = np.asarray(weights, float)
        return self.data.rounds.run(
            "smooth", _parts.group_hessians, *point, self.loss.name, weights
        )
