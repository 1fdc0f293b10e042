"""The dual path's oracle with the rows on a Dask cluster.

:class:`ClusterOracle` is :class:`~fairmtl.solvers._oracle.LinearOracle` (the same
L-BFGS, coordinates, warm starts and certificate) with every sum over rows computed by
one task per partition on the worker that holds it (:mod:`fairmtl.distributed._parts`).
Each L-BFGS evaluation is one round; the certificate's intercept solve is one round per
Newton step, and its final sums one more.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fairmtl.distributed import _parts
from fairmtl.distributed._data import ClusterRows
from fairmtl.solvers._dual import DUAL_TOL, DualProblem
from fairmtl.solvers._oracle import LinearOracle
from fairmtl.solvers._precondition import Coordinates

__all__ = ["ClusterOracle", "ClusterProblem"]


class ClusterSums:
    """The sums over rows of the certificate's intercept solve, each one round
    (the interface of :class:`~fairmtl.solvers._certificate.RowSums`)."""

    def __init__(self, oracle: ClusterOracle, lam, coef, intercept, single: bool) -> None:
        self.oracle, self.lam, self.coef, self.intercept = oracle, lam, coef, intercept
        self.single = single
        self.n_prob = 1 if single else len(lam)

    def _args(self) -> tuple:
        return self.lam, self.coef, self.intercept, self.single, self.oracle.loss.name

    def weight(self) -> np.ndarray:
        # each group's row weights sum to 1, so its total weight is its lam
        return np.array([self.lam.sum()]) if self.single else self.lam.astype(float)

    def class_counts(self):
        # they depend on which groups have weight only: one round per pattern
        key = (self.single, (self.lam > 0).tobytes())
        cache = self.oracle.class_cache
        if key not in cache:
            found = self.oracle.run("certificate", _parts.class_counts, self.lam, self.single)
            cache[key] = (sum(p for p, _ in found), sum(n for _, n in found))
        return cache[key]

    def min_margin(self, sign, which):
        found = self.oracle.run("certificate", _parts.min_margin, *self._args(), sign, which)
        return np.min(found, axis=0)

    def derivatives(self, t):
        found = self.oracle.run("certificate", _parts.derivatives, *self._args(), t)
        d2 = sum(s for _, s in found)
        return sum(d for d, _ in found), lambda: d2


class ClusterOracle(LinearOracle):
    """:class:`LinearOracle` whose sums over rows run on the workers."""

    def __init__(self, data: ClusterRows, loss, sharing: str) -> None:
        super().__init__(data, loss, sharing)
        self.class_cache: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}

    def run(self, kind: str, func, *args: Any) -> list:
        return self.data.rounds.run(kind, func, *args)

    def _segments_for(self, lam: np.ndarray):
        return np.asarray(lam, dtype=float)

    def _value_grad(self, x: np.ndarray, lam, coords: Coordinates, exact: bool = False):
        w, b = coords.from_x(x)
        value, gw, gb = self.penalty.value_grad(w, b)
        gw, gb = gw.copy(), gb.copy()
        found = self.run("gradient", _parts.value_grad, lam, w, b, self.loss.name, exact)
        for v, blocks, part_gw, part_gb in found:
            value += v
            gw[blocks] += part_gw
            gb[blocks] += part_gb
        return value, coords.gradient(gw, gb)

    def outputs(self, coef, intercept):
        raise NotImplementedError("A distributed fit keeps the rows' outputs on the workers.")

    def evaluate(self, coef: np.ndarray, intercept: np.ndarray) -> tuple[np.ndarray, float]:
        found = self.run(
            "losses", _parts.group_losses, coef, intercept, self.loss.name, self.data.n_groups
        )
        return sum(found), self.penalty.value_grad(coef, intercept)[0]

    def _row_sums(self, lam, coef, intercept, single_free: bool) -> ClusterSums:
        return ClusterSums(self, np.asarray(lam, dtype=float), coef, intercept, single_free)

    def _loss_sums(self, sums: ClusterSums, shift, lam, coef, certify: bool):
        intercept = sums.intercept + (shift[0] if sums.single else shift)
        found = self.run(
            "certificate", _parts.loss_sums, sums.lam, coef, intercept, sums.single,
            self.loss.name, certify,
        )  # fmt: skip
        return tuple(sum(f[k] for f in found) for k in range(4))


class ClusterProblem(DualProblem):
    """:class:`DualProblem` on rows held by a Dask cluster (no parity objectives)."""

    def __init__(self, rows: ClusterRows, *, loss, sharing: str, objective: str, task: str,
                 tol: float = DUAL_TOL, max_rounds: int = 300) -> None:  # fmt: skip
        # DualProblem's own __init__ reads the arrays; here the rows stay on the workers
        self._inputs = None
        self.n_groups, self.loss, self.sharing_name = rows.n_groups, loss, sharing
        self.objective_name, self.n_outputs, self.task = objective, 1, task
        self.group_names = [str(g) for g in rows.labels]
        self.tol, self.max_rounds = tol, max_rounds
        self.shares = rows.shares
        self._data = rows
        self._oracles: dict[str, LinearOracle] = {}
        self._cache: dict[tuple, Any] = {}

    def _oracle(self, sharing: str) -> LinearOracle:
        if sharing not in self._oracles:
            self._oracles[sharing] = ClusterOracle(self._data, self.loss, sharing)
        return self._oracles[sharing]
