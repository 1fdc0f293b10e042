"""Objectives with per-group loss constraints: bounded, no_harm."""

from __future__ import annotations

from typing import Any

import cvxpy as cp
import numpy as np

from fairmtl.objectives._base import Objective, ObjectiveContext, broadcast_groups
from fairmtl.objectives._form import ObjectiveForm

__all__ = ["Bounded", "NoHarm"]


class Bounded(Objective):
    """Minimise the average loss subject to ``L_g + c_g <= epsilon_g`` for every group.

    ``epsilon`` is a scalar or one bound per group; ``c`` the optional per-group
    ``adjustment`` (default 0, see :class:`~fairmtl.objectives.Minimax`), which tightens
    each bound by the group's expected generalisation gap. On the neural path: the
    Lagrangian, its multipliers updated by projected dual ascent.
    """

    name = "bounded"
    knobs = ("epsilon", "adjustment")
    constrains_losses = True
    form_kind = "bounded"
    directions = ("weights",)
    takes_adjustment = True
    distributed = True

    def build(self, L, ctx: ObjectiveContext):
        self.bound = cp.Parameter(ctx.n_groups, name="epsilon")
        return ctx.shares @ L, [L <= self.bound]

    def optional_knobs(self) -> tuple[str, ...]:
        return ("adjustment",)

    def _checked(self, n_groups: int, **knobs: Any) -> dict[str, Any]:
        adjust = knobs.get("adjustment")
        return {
            "epsilon": broadcast_groups(knobs["epsilon"], n_groups, "epsilon"),
            "adjustment": broadcast_groups(0.0 if adjust is None else adjust, n_groups,
                                           "adjustment"),
        }  # fmt: skip

    def _set(self, n_groups: int, **values: Any) -> None:
        self.bound.value = values["epsilon"] - values["adjustment"]

    def _form(self, n_groups: int, shares: np.ndarray, **values: Any) -> ObjectiveForm:
        return ObjectiveForm.bounded(shares, values["epsilon"] - values["adjustment"])

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
    form_kind = "bounded"
    distributed = True

    def build(self, L, ctx: ObjectiveContext):
        self.bound = cp.Parameter(ctx.n_groups, name="reference_bound")
        return ctx.shares @ L, [L <= self.bound]

    def optional_knobs(self) -> tuple[str, ...]:
        return ("epsilon",)

    def _checked(self, n_groups: int, **knobs: Any) -> dict[str, Any]:
        eps = knobs.get("epsilon")
        return {"epsilon": broadcast_groups(0.0 if eps is None else eps, n_groups, "epsilon")}

    def _set(self, n_groups: int, **values: Any) -> None:
        self.reference_losses = np.asarray(values["reference"], dtype=float)
        self.bound.value = self.reference_losses + values["epsilon"]

    def _form(self, n_groups: int, shares: np.ndarray, **values: Any) -> ObjectiveForm:
        reference = np.asarray(values["reference"], dtype=float)
        return ObjectiveForm.bounded(shares, reference + values["epsilon"], reference)

    def loss_bounds(self) -> np.ndarray:
        return np.asarray(self.bound.value)

    def weighted_terms(self, shares):
        return np.asarray(shares, dtype=float), self.loss_bounds().astype(float)
