"""Objectives without constraints: average, balanced, minimax, tilted, chebyshev; and
pareto, a training rule of the neural path alone."""

from __future__ import annotations

from typing import Any

import cvxpy as cp
import numpy as np

from fairmtl.objectives._base import (
    MSG_KNOB_RANGE,
    Objective,
    ObjectiveContext,
    broadcast_groups,
)
from fairmtl.objectives._form import ObjectiveForm, max_refine_bounds

__all__ = ["Average", "Balanced", "Minimax", "Tilted", "Chebyshev", "Pareto", "Weighted"]


class Average(Objective):
    """Empirical risk: the sample-weighted mean loss over all rows, ``sum_g p_g L_g``."""

    name = "average"
    form_kind = "fixed"
    directions = ("weights",)
    weighted_fit = True
    distributed = True

    def build(self, L, ctx: ObjectiveContext):
        return ctx.shares @ L, []

    def _form(self, n_groups: int, shares: np.ndarray, **values: Any) -> ObjectiveForm:
        return ObjectiveForm.fixed(shares)

    def weighted_terms(self, shares):
        return np.asarray(shares, dtype=float), np.full(len(shares), np.inf)


class Balanced(Objective):
    """Equal weight per group: ``mean_g L_g``."""

    name = "balanced"
    form_kind = "fixed"
    directions = ("weights",)
    weighted_fit = True
    distributed = True

    def build(self, L, ctx: ObjectiveContext):
        return cp.sum(L) / ctx.n_groups, []

    def _form(self, n_groups: int, shares: np.ndarray, **values: Any) -> ObjectiveForm:
        return ObjectiveForm.fixed(np.full(n_groups, 1.0 / n_groups))

    def weighted_terms(self, shares):
        return np.full(len(shares), 1.0 / len(shares)), np.full(len(shares), np.inf)


class Weighted(Objective):
    """``sum_g lambda_g L_g`` with non-negative weights (used for ideal points)."""

    name = "weighted"
    knobs = ("group_weights",)
    form_kind = "fixed"
    weighted_fit = True

    def build(self, L, ctx: ObjectiveContext):
        self.weights = cp.Parameter(ctx.n_groups, nonneg=True, name="group_weights")
        return self.weights @ L, []

    def _checked(self, n_groups: int, **knobs: Any) -> dict[str, Any]:
        return {
            "group_weights": broadcast_groups(knobs["group_weights"], n_groups, "group_weights")
        }

    def _set(self, n_groups: int, **values: Any) -> None:
        self.weights.value = values["group_weights"]

    def _form(self, n_groups: int, shares: np.ndarray, **values: Any) -> ObjectiveForm:
        return ObjectiveForm.fixed(values["group_weights"])

    def weighted_terms(self, shares):
        return np.asarray(self.weights.value, dtype=float), np.full(len(shares), np.inf)


class Minimax(Objective):
    """Best worst group: ``max_g (L_g + c_g)`` (plus the penalty); refined to a
    Pareto-efficient model.

    ``c`` is the optional per-group ``adjustment`` (default 0): Group DRO's
    generalisation adjustment ``C / sqrt(n_g)`` (Sagawa et al. 2020), which scores each
    group by an estimate of its loss on new rows rather than its training loss. Below,
    ``L_g`` stands for ``L_g + c_g``.

    Two stages (after Martinez et al. 2020, "Minimax Pareto Fairness"). Stage 1
    minimises ``max_g L_g + penalty``; let ``t*`` be the worst group loss of that optimum.
    Stage 2 returns, among the models whose every group loss is at most ``t*`` (up to a
    relative 1e-6, or the certified gap on the dual path), the one with the lowest
    **average loss + penalty**. So "the best average among minimax-optimal models" means
    the best ``average loss + penalty`` among models no worse than ``t*`` for any group.

    The returned model's ``max_g L_g + penalty`` can be above the stage-1 optimum: stage 2
    may spend penalty to lower the losses of groups that do not bind (with
    ``sharing="independent"`` those groups get their own penalised fits rather than the
    zero coefficients the stage-1 optimum gives them). ``solver_info_["objective"]`` is
    the returned model's own value; ``solver_info_["stage1_objective"]`` the optimum.

    On the neural path: Group DRO's online weights (``direction="group_dro"``, the
    default) or the minimax direction program (``"cvxpy"``); no adjustment.
    """

    name = "minimax"
    knobs = ("adjustment",)
    refine = True
    form_kind = "max"
    directions = ("group_dro", "cvxpy")
    takes_adjustment = True
    distributed = True

    def build(self, L, ctx: ObjectiveContext):
        self.adjust = cp.Parameter(ctx.n_groups, name="adjustment")
        return cp.max(L + self.adjust), []

    def optional_knobs(self) -> tuple[str, ...]:
        return ("adjustment",)

    def _checked(self, n_groups: int, **knobs: Any) -> dict[str, Any]:
        adjust = knobs.get("adjustment")
        return {"adjustment": broadcast_groups(0.0 if adjust is None else adjust, n_groups,
                                               "adjustment")}  # fmt: skip

    def _set(self, n_groups: int, **values: Any) -> None:
        self.adjust.value = values["adjustment"]

    def _form(self, n_groups: int, shares: np.ndarray, **values: Any) -> ObjectiveForm:
        adjust = values["adjustment"]
        return ObjectiveForm.maximum(np.ones(n_groups), -adjust, shares, refine=self.refine)

    def epigraph_terms(self):
        adjust = np.asarray(self.adjust.value, dtype=float)
        return np.ones_like(adjust), -adjust

    def refine_bounds(self, losses: np.ndarray) -> np.ndarray:
        return max_refine_bounds(*self.epigraph_terms(), losses)


class Tilted(Objective):
    """Tilted risk over groups: ``(1/t) log(mean_g exp(t L_g))``.

    Balanced as ``t -> 0``, minimax as ``t -> inf``. Written in epigraph form
    ``log_sum_exp(t L) - log G <= t s`` so that ``t`` is a DPP parameter.
    """

    name = "tilted"
    knobs = ("tilt",)
    form_kind = "tilted"
    directions = ("weights",)
    distributed = True

    def build(self, L, ctx: ObjectiveContext):
        self.tilt = cp.Parameter(nonneg=True, name="tilt")
        s = cp.Variable(name="tilted_value")
        cons = [cp.log_sum_exp(self.tilt * L) - np.log(ctx.n_groups) <= self.tilt * s]
        return s, cons

    def _checked(self, n_groups: int, **knobs: Any) -> dict[str, Any]:
        tilt = float(knobs["tilt"])
        if not tilt > 0:
            raise ValueError(
                MSG_KNOB_RANGE.format(knob="tilt", rule="> 0 (use 'balanced' for 0)", value=tilt)
            )
        return {"tilt": tilt}

    def _set(self, n_groups: int, **values: Any) -> None:
        self.tilt.value = values["tilt"]

    def _form(self, n_groups: int, shares: np.ndarray, **values: Any) -> ObjectiveForm:
        return ObjectiveForm.tilted(values["tilt"], n_groups)


class Chebyshev(Objective):
    """Weighted Chebyshev scalarisation ``max_g lambda_g (L_g - z*_g)``.

    ``z*`` is the ideal point (each group's own minimum loss under the same model and
    penalty), ``lambda`` the ``preference`` (non-negative, one per group; a scalar means
    equal weights). Every Pareto-optimal model is the answer for some preference.
    Refined like :class:`Minimax` to a Pareto-efficient point: each group keeps its
    stage-1 weighted excess, and the lowest ``average loss + penalty`` among such models
    is returned (``solver_info_["objective"]`` is that model's own value).

    On the neural path: the preference-weighted direction program, restricted to common
    descent directions (no ideal point there: the preference alone weights the groups).
    """

    name = "chebyshev"
    knobs = ("preference",)
    refine = True
    needs = frozenset({"ideal"})
    form_kind = "max"
    directions = ("cvxpy",)
    common_descent = True
    distributed = True

    def build(self, L, ctx: ObjectiveContext):
        self.pref = cp.Parameter(ctx.n_groups, nonneg=True, name="preference")
        self.shift = cp.Parameter(ctx.n_groups, name="preference_times_ideal")
        return cp.max(cp.multiply(self.pref, L) - self.shift), []

    def epigraph_terms(self):
        return np.asarray(self.pref.value, dtype=float), np.asarray(self.shift.value, dtype=float)

    def refine_bounds(self, losses: np.ndarray) -> np.ndarray:
        return max_refine_bounds(self.pref.value, self.shift.value, losses)

    def optional_knobs(self) -> tuple[str, ...]:
        return ("preference",)

    def _checked(self, n_groups: int, **knobs: Any) -> dict[str, Any]:
        pref = knobs.get("preference")
        lam = broadcast_groups(1.0 if pref is None else pref, n_groups, "preference")
        if np.any(lam < 0) or not np.any(lam > 0):
            raise ValueError(
                MSG_KNOB_RANGE.format(
                    knob="preference", rule="non-negative with a positive entry", value=pref
                )
            )
        return {"preference": lam / lam.sum()}

    def _set(self, n_groups: int, **values: Any) -> None:
        lam = values["preference"]
        self.pref.value = lam
        self.shift.value = lam * np.asarray(values["ideal"], dtype=float)

    def _form(self, n_groups: int, shares: np.ndarray, **values: Any) -> ObjectiveForm:
        lam = values["preference"]
        shift = lam * np.asarray(values["ideal"], dtype=float)
        start = np.full(n_groups, 1.0 / n_groups)
        return ObjectiveForm.maximum(lam, shift, start, refine=self.refine)


class Pareto(Objective):
    """MGDA's min-norm direction (Sener & Koltun 2018): a training rule of the neural
    path, which steps along a direction that lowers every group's loss where one exists.

    It has no convex form: the exact and dual paths do not solve it.
    """

    name = "pareto"
    directions = ("min_norm",)

    def build(self, L, ctx: ObjectiveContext):
        raise ValueError(
            "objective='pareto' is a training rule of the neural path (FairMTLMLPClassifier); "
            "it has no convex form. Use 'minimax' or 'chebyshev' for the exact linear path."
        )
