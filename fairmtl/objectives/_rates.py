"""Convex surrogates of rate constraints for binary classification.

The rates of fairness definitions (selection rate, true and false positive rates) are
not convex in the model. Their surrogate here is the weighted mean decision value
``s_g = mean_{i in g, rows} z_i`` (a logit for the logistic loss), which is affine in the
parameters: each constraint bounds ``|s_g - s| <= epsilon`` where ``s`` is the mean over
all groups' relevant rows. Relevant rows: all rows (demographic parity), positives
(equal opportunity), positives and, separately, negatives (equalised odds).
The objective minimised is the average loss.
"""

from __future__ import annotations

from typing import Any

import cvxpy as cp
import numpy as np

from fairmtl.objectives._base import Objective, ObjectiveContext
from fairmtl.objectives._form import ObjectiveForm

__all__ = ["DemographicParity", "EqualOpportunity", "EqualizedOdds"]

MSG_RATE_BINARY = (
    "The {objective!r} objective needs a binary classification target; "
    "it got a {task} problem. Use 'bounded' or 'minimax' instead."
)


class _RateParity(Objective):
    uses_outputs = True
    knobs = ("epsilon",)
    form_kind = "rates"
    constrains_rates = True
    label_subsets: tuple[int | None, ...] = (None,)

    def check_task(self, task: str) -> None:
        if task != "binary":
            raise ValueError(MSG_RATE_BINARY.format(objective=self.name, task=task))

    def _checked(self, n_groups: int, **knobs: Any) -> dict[str, Any]:
        return {"epsilon": float(knobs["epsilon"])}

    def _form(self, n_groups: int, shares: np.ndarray, **values: Any) -> ObjectiveForm:
        return ObjectiveForm.rates(shares, values["epsilon"])

    def build(self, L, ctx: ObjectiveContext):
        self.check_task(ctx.task)
        self.bound = cp.Parameter(nonneg=True, name="epsilon")
        cons = []
        for label in self.label_subsets:
            means, masses = [], []
            for z, y, w in zip(ctx.outputs, ctx.targets, ctx.row_weights, strict=True):
                keep = np.ones(len(y), bool) if label is None else (y == label)
                if not keep.any() or w[keep].sum() <= 0:
                    continue
                wk = w[keep] / w[keep].sum()
                means.append(wk @ z[np.flatnonzero(keep)])
                masses.append(float(w[keep].sum()) * 1.0)
            if len(means) < 2:
                continue
            scores = cp.hstack(means)
            overall = cp.sum(scores) / len(means)
            cons += [scores - overall <= self.bound, overall - scores <= self.bound]
        return ctx.shares @ L, cons

    def _set(self, n_groups: int, **values: Any) -> None:
        self.bound.value = values["epsilon"]


class DemographicParity(_RateParity):
    """Average loss s.t. each group's mean score is within ``epsilon`` of the mean."""

    name = "demographic_parity"
    label_subsets = (None,)


class EqualOpportunity(_RateParity):
    """Average loss s.t. mean scores on positives are within ``epsilon`` across groups."""

    name = "equal_opportunity"
    label_subsets = (1,)


class EqualizedOdds(_RateParity):
    """Average loss s.t. mean scores on positives and on negatives are within ``epsilon``."""

    name = "equalized_odds"
    label_subsets = (1, -1)
