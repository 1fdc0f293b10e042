"""The ``gap`` objective: no group's loss more than ``epsilon`` above the average loss.

``L_g - sum_h p_h L_h <= epsilon`` is a difference of convex functions, not a convex
constraint. It is solved by the convex-concave procedure (Yuille & Rangarajan 2003;
Lipp & Boyd 2016): at the current model ``theta_k`` the average loss is replaced by its
linearisation, a global lower bound (the average is convex), so each convex subproblem's
feasible models are feasible for the original constraint. Iterating from the minimax
model gives a sequence of feasible models whose average loss decreases to a stationary
point — a local answer, which ``solver_info_["method"] = "convex-concave"`` records.
Infeasible starting points are handled by the penalty variant (a slack priced by a
growing ``rho``).
"""

from __future__ import annotations

from typing import Any

import cvxpy as cp
import numpy as np

from fairmtl.objectives._base import Objective, ObjectiveContext, broadcast_groups

__all__ = ["Gap"]


class Gap(Objective):
    """Minimise the average loss s.t. ``L_g - average <= epsilon`` for every group."""

    name = "gap"
    uses_outputs = True
    knobs = ("epsilon",)
    needs = frozenset({"linearization"})

    def build(self, L, ctx: ObjectiveContext):
        self.bound = cp.Parameter(ctx.n_groups, name="epsilon")
        self.offset = cp.Parameter(name="average_at_iterate")
        self.slopes = [cp.Parameter(z.shape, name=f"slope_{g}") for g, z in enumerate(ctx.outputs)]
        linear = self.offset + cp.sum(
            cp.hstack(
                [cp.sum(cp.multiply(s, z)) for s, z in zip(self.slopes, ctx.outputs, strict=True)]
            )
        )
        self._shares, self._weights = ctx.shares, ctx.row_weights
        # penalty CCP (Lipp & Boyd 2016): a slack, priced by a growing rho, lets the
        # first iterates be infeasible; the answer is feasible once the slack is 0
        self.slack = cp.Variable(nonneg=True, name="gap_slack")
        self.rho = cp.Parameter(nonneg=True, name="slack_price", value=1.0)
        value = ctx.shares @ L + self.rho * self.slack
        return value, [L - linear <= self.bound + self.slack]

    def _checked(self, n_groups: int, **knobs: Any) -> dict[str, Any]:
        return {"epsilon": broadcast_groups(knobs["epsilon"], n_groups, "epsilon")}

    def _set(self, n_groups: int, **values: Any) -> None:
        self.bound.value = values["epsilon"]

    def linearize(self, outputs: list[np.ndarray], targets: list[np.ndarray], loss) -> None:
        """Set the linearisation of the average loss at model outputs ``outputs``.

        ``average(z) ~ average(z_k) + sum_i c_i loss'(z_k,i) (z_i - z_k,i)`` with
        ``c_i = p_g w_i`` (share of the group times the row's weight within it).
        """
        total = 0.0
        for g, (z, y) in enumerate(zip(outputs, targets, strict=True)):
            c = self._shares[g] * self._weights[g]
            grad = loss.gradient(z, y)
            slope = c * grad if grad.ndim == 1 else c[:, None] * grad
            self.slopes[g].value = slope
            total += float(c @ loss.numpy(z, y)) - float(np.sum(slope * z))
        self.offset.value = total

    def loss_bounds(self) -> None:
        return None
