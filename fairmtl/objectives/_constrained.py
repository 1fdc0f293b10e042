"""Objectives with per-group loss constraints: bounded, no_harm."""

from __future__ import annotations

from typing import Any

import cvxpy as cp
import numpy as np

from fairmtl.objectives._base import Objective, ObjectiveContext, broadcast_groups

__all__ = ["Bounded", "NoHarm"]


class Bounded(Objective):
    """Minimise the average loss subject to ``L_g + c_g <= epsilon_g`` for every group.

    ``epsilon`` is a scalar or one bound per group; ``c`` the optional per-group
    ``adjustment`` (default 0, see :class:`~fairmtl.objectives.Minimax`), which tightens
    each bound by the group's expected generalisation gap.
    """

    name = "bounded"
    knobs = ("epsilon", "adjustment")
    constrains_losses = True

    def build(self, L, ctx: ObjectiveContext):
        self.bound = cp.Parameter(ctx.n_groups, name="epsilon")
        return ctx.shares @ L, [L <= self.bound]

    def optional_knobs(self) -> tuple[str, ...]:
        return ("adjustment",)

    def _set(self, n_groups: int, **values: Any) -> None:
        adjust = values.get("adjustment")
        adjust = broadcast_groups(0.0 if adjust is None else adjust, n_groups, "adjustment")
        self.bound.value = broadcast_groups(values["epsilon"], n_groups, "epsilon") - adjust

    def loss_bounds(self) -> np.ndarray:
        return np.asarray(self.bound.value)

    def weighted_terms(self, shares):
        return np.asarray(shares, dtype=float), self.loss_bounds().astype(float)


class NoHarm(Objective):
    """Minimise the average loss subject to ``L_g <= L_g(reference) + epsilon``.

    A Pareto improvement over a reference fit (the pooled or the independent model,
    fitted by fairmtl with the same loss and penalty). ``epsilon`` (default 0) allows a
    slack per group.
    """

    name = "no_harm"
    knobs = ("epsilon",)
    needs = frozenset({"reference"})
    constrains_losses = True

    def build(self, L, ctx: ObjectiveContext):
        self.bound = cp.Parameter(ctx.n_groups, name="reference_bound")
        return ctx.shares @ L, [L <= self.bound]

    def optional_knobs(self) -> tuple[str, ...]:
        return ("epsilon",)

    def _set(self, n_groups: int, **values: Any) -> None:
        eps = values.get("epsilon")
        slack = broadcast_groups(0.0 if eps is None else eps, n_groups, "epsilon")
        self.reference_losses = np.asarray(values["reference"], dtype=float)
        self.bound.value = self.reference_losses + slack

    def loss_bounds(self) -> np.ndarray:
        return np.asarray(self.bound.value)

    def weighted_terms(self, shares):
        return np.asarray(shares, dtype=float), self.loss_bounds().astype(float)
