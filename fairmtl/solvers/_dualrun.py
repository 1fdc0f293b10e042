"""State of one dual-path solve, and the small pieces its stages share.

A :class:`DualRun` holds the oracle, its warm start (every oracle call starts from the
last answer), every cut met so far (valid for any later stage with the same penalty, so
a stage starts with the cuts of the ones before), and the counters reported in
``solver_info``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fairmtl.solvers._master import (
    DualForm,
    LevelMaster,
    LevelResult,
    OraclePoint,
    gap_closed,
    run_level,
)
from fairmtl.solvers._oracle import LinearOracle, OracleResult

__all__ = [
    "DualRun",
    "closed",
    "gap_closed",
    "fixed_fit",
    "linear_combine",
    "loss_scale",
    "shifted_primal",
]


def linear_combine(points: list, weights: np.ndarray):
    """The convex combination of linear-model points ``(coef, intercept)``."""
    coef = sum(w * p[0] for w, p in zip(weights, points, strict=True))
    intercept = sum(w * p[1] for w, p in zip(weights, points, strict=True))
    return coef, intercept


def closed(result: LevelResult, tol: float) -> bool:
    """Whether a result's gap is below ``tol`` relative (or negligible for the size of
    its terms); see :func:`gap_closed`."""
    return gap_closed(result.upper, result.lower, tol, loss_scale(result.losses))


def loss_scale(losses) -> float:
    """The largest group loss (0 when there are none yet)."""
    return 0.0 if losses is None else float(np.max(np.abs(losses)))


@dataclass
class DualRun:
    """One solve: the oracle, its warm start, the cuts met, and counters."""

    oracle: LinearOracle
    tol: float
    max_rounds: int
    deadline: float
    solver: str
    warm: tuple[np.ndarray, np.ndarray] | None = None
    cuts: list[tuple[np.ndarray, float, Any]] = field(default_factory=list)
    calls: int = 0
    evaluations: int = 0
    rounds: int = 0
    master_solves: int = 0
    master_time: float = 0.0

    def ask(self, weights: np.ndarray, target: float, certify: bool = True) -> OraclePoint:
        answer = self.oracle.solve(weights, self.warm, target=target, certify=certify)
        self.warm = (answer.coef, answer.intercept)
        self.count(answer)
        point = (answer.coef, answer.intercept)
        self.cuts.append((answer.losses, answer.penalty, point))
        return OraclePoint(answer.losses, answer.penalty, answer.value, answer.error, point)

    def count(self, answer: OracleResult) -> None:
        self.calls += 1
        self.evaluations += answer.evaluations

    def evaluate(self, point) -> tuple[np.ndarray, float]:
        return self.oracle.evaluate(*point)

    def master(self, simplex: bool, entropy: bool = False) -> LevelMaster:
        """A master seeded with the latest cuts (half its capacity)."""
        G = self.oracle.data.n_groups
        # the master's cost grows fast with cuts x groups (a dense block): measured with
        # CLARABEL, 250 cuts x 100 groups took 0.2 s a solve, 60 x 100 under 0.01 s
        capacity = int(np.clip(G + 20, 30, 60))
        master = LevelMaster(G, simplex, entropy, capacity, linear_combine, self.solver)
        for losses, penalty, point in self.cuts[-capacity // 2 :]:
            master.add(losses, penalty, point)
        return master

    def level(self, form: DualForm, y0, master=None, **kw) -> LevelResult:
        master = master or self.master(form.simplex, form.inv_tilt > 0)
        certified = kw.pop("certified", True)
        kw["stop"] = self._closed_rule(kw.get("stop"))
        result = run_level(
            master,
            form,
            lambda w, target: self.ask(w, target, certify=certified),
            self.evaluate,
            y0,
            tol=self.tol,
            max_rounds=kw.pop("max_rounds", self.max_rounds),
            deadline=self.deadline,
            certified=certified,
            **kw,
        )
        self.rounds += result.rounds
        self.master_solves += master.solves
        self.master_time += master.time
        return result

    def _closed_rule(self, stop):
        """The caller's stop rule, or the gap closed (:func:`gap_closed`, negligible for
        the size of the latest point's group losses); the level loop's own test knows
        only the bounds."""

        def rule(lower: float, upper: float) -> bool:
            if stop is not None and stop(lower, upper):
                return True
            if not (np.isfinite(lower) and np.isfinite(upper)) or not self.cuts:
                return False
            scale = loss_scale(self.cuts[-1][0])
            slack = self.tol * max(abs(upper), abs(lower)) + 1e-10  # as the level loop's
            return lower <= upper + slack and gap_closed(upper, lower, self.tol, scale)

        return rule


def fixed_fit(oracle: LinearOracle, lam, start, tol: float, *, run=None, target=None):
    """One certified weighted fit (average, balanced, ideal point, reference, phase 0).

    Without ``target`` the error bound is brought under ``0.1 * tol`` of the value.
    """
    answer = oracle.solve(lam, start, target=target or 1e-3 * tol)
    if target is None and answer.error > 0.1 * tol * abs(answer.value):
        answer = oracle.solve(
            lam, (answer.coef, answer.intercept), target=0.05 * tol * abs(answer.value)
        )
    if run is not None:
        run.count(answer)
        run.rounds += 1
    return (answer.coef, answer.intercept), answer


# -- primal objectives F(L) + R of the forms ------------------------------------------------
def shifted_primal(bounds):
    def primal(losses, penalty):
        return float(np.max(losses - bounds)) + penalty

    return primal
