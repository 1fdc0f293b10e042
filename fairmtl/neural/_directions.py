"""Directions of the neural path: how one training step combines the groups' losses.

A step of the neural path has the group losses ``L_g`` of a group-stratified minibatch
and, for some objectives, the k x k Gram matrix ``G`` of the per-group gradients (each
with the penalty's gradient added, so that ``G`` describes the groups' whole objectives
``f_g = L_g + penalty``). A :class:`Direction` turns them into weights ``c`` (summing to
1, except for the Lagrangian of ``bounded``); the step then descends
``sum_g c_g grad L_g + grad penalty``. :func:`make_direction` builds the direction of an
objective. Everything here is numpy, scipy and cvxpy on k numbers or a k x k matrix: no
torch, so the directions are tested on their own.

Two kinds of directions:

- **weightings** need only the losses (one backward pass of ``sum_g c_g L_g``):
  ``average`` (sample shares), ``balanced`` (1/k), ``tilted`` (softmax of ``tilt * L``,
  the gradient of the tilted risk), ``bounded`` (shares plus Lagrange multipliers updated
  by projected dual ascent), ``group_dro`` (online minimax weights ``q <- q exp(eta L)``,
  Sagawa et al. 2020);
- **gradient programs** need ``G``: ``min_norm`` (MGDA's min-norm point,
  :func:`~fairmtl.neural._gradient_programs.min_norm_weights`) and ``cvxpy`` (the
  :class:`~fairmtl.neural._gradient_programs.PreferenceProgram` QP each step; with
  ``r = 1`` and no descent restriction it is the minimax direction). The programs
  themselves live in :mod:`fairmtl.neural._gradient_programs`.
"""

from __future__ import annotations

import time
from typing import ClassVar

import numpy as np
from scipy.special import logsumexp, softmax

from fairmtl.neural._gradient_programs import PreferenceProgram, min_norm_weights
from fairmtl.objectives import ALL_OBJECTIVES, make_objective
from fairmtl.solvers._status import OPTIMAL, SOLUTION_PRESENT

__all__ = ["DIRECTION_OBJECTIVES", "Direction", "make_direction"]

#: objectives of the neural path, and the directions each may use ("auto" first): what
#: each objective declares (:attr:`fairmtl.objectives.Objective.directions`)
DIRECTION_OBJECTIVES: dict[str, tuple[str, ...]] = {
    name: cls.directions for name, cls in ALL_OBJECTIVES.items() if cls.directions
}

MSG_NEURAL_OBJECTIVE = (
    "objective={objective!r} is not available on the neural path (FairMTLMLPClassifier, "
    "FairMTLMLPRegressor). Choose one of: {choices} (or FairMTLClassifier / "
    "FairMTLRegressor for the exact convex path)."
)
MSG_DIRECTION = (
    "direction={direction!r} does not apply to objective={objective!r}; use one of: {choices}."
)


class Direction:
    """Turns one step's group losses (and Gram matrix) into weights of the group losses.

    Subclasses set ``name`` and ``needs_gradients`` and implement :meth:`_combine`.
    ``seconds`` accumulates the time spent in :meth:`combine` (the direction program);
    ``calls`` and ``failures`` count its solves.
    """

    name: str = ""
    needs_gradients: ClassVar[bool] = False

    def __init__(self, n_groups: int, shares: np.ndarray) -> None:
        self.n_groups = n_groups
        self.shares = np.asarray(shares, dtype=float)
        self.seconds = 0.0
        self.calls = 0
        self.failures = 0

    def combine(
        self, losses: np.ndarray, gram: np.ndarray | None = None, step: float = 1.0
    ) -> np.ndarray:
        """Weights ``c`` of the group losses for this step.

        Parameters
        ----------
        losses : ndarray of shape (k,)
            The step's group losses (with the penalty, for gradient programs).
        gram : ndarray of shape (k, k), default=None
            Gram matrix of the groups' gradients; needed when ``needs_gradients``.
        step : float, default=1.0
            The optimizer's step size, in the units of a plain gradient step.

        Returns
        -------
        weights : ndarray of shape (k,)
        """
        start = time.perf_counter()
        out = self._combine(np.asarray(losses, dtype=float), gram, step)
        self.seconds += time.perf_counter() - start
        self.calls += 1
        return out

    def _combine(self, losses, gram, step) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must implement _combine()")

    def info(self) -> dict:
        """What to record in ``solver_info_``."""
        return {
            "direction": self.name,
            "direction_seconds": self.seconds,
            "direction_calls": self.calls,
            "direction_failures": self.failures,
        }


class FixedWeights(Direction):
    """Fixed group weights (``average``: the sample shares; ``balanced``: 1/k)."""

    def __init__(self, n_groups: int, shares: np.ndarray, weights: np.ndarray, name: str) -> None:
        super().__init__(n_groups, shares)
        self.weights = np.asarray(weights, dtype=float)
        self.name = name

    def _combine(self, losses, gram, step):
        return self.weights


class TiltedWeights(Direction):
    """Gradient weights of the tilted risk ``(1/t) log mean_g exp(t L_g)``: softmax(t L)."""

    name = "tilted"

    def __init__(self, n_groups: int, shares: np.ndarray, tilt: float) -> None:
        super().__init__(n_groups, shares)
        self.tilt = float(tilt)

    def _combine(self, losses, gram, step):
        return softmax(self.tilt * losses)


class GroupDROWeights(Direction):
    """Online minimax weights (Group DRO, Sagawa et al. 2020): ``q <- q exp(eta L); q /= sum``."""

    name = "group_dro"

    def __init__(self, n_groups: int, shares: np.ndarray, step_size: float) -> None:
        super().__init__(n_groups, shares)
        self.step_size = float(step_size)
        self.log_q = np.full(n_groups, -np.log(n_groups))

    @property
    def q(self) -> np.ndarray:
        return np.exp(self.log_q)

    def _combine(self, losses, gram, step):
        logits = self.log_q + self.step_size * losses
        self.log_q = logits - logsumexp(logits)  # in logs: no weight underflows to 0
        return self.q

    def info(self) -> dict:
        return {**super().info(), "group_weights": self.q.tolist()}


class LagrangianWeights(Direction):
    """``bounded``: the Lagrangian ``sum_g p_g L_g + sum_g mu_g (L_g - eps_g)``.

    The multipliers follow projected dual ascent ``mu <- max(0, mu + eta (L - eps))``;
    the weights ``p + mu`` do not sum to 1.
    """

    name = "bounded"

    def __init__(
        self, n_groups: int, shares: np.ndarray, epsilon: np.ndarray, step_size: float
    ) -> None:
        super().__init__(n_groups, shares)
        self.epsilon = np.broadcast_to(np.asarray(epsilon, dtype=float), (n_groups,)).copy()
        self.step_size = float(step_size)
        self.mu = np.zeros(n_groups)

    def _combine(self, losses, gram, step):
        self.mu = np.maximum(0.0, self.mu + self.step_size * (losses - self.epsilon))
        return self.shares + self.mu

    def info(self) -> dict:
        return {**super().info(), "multipliers": self.mu.tolist()}


class MinNormDirection(Direction):
    """``pareto``: MGDA's min-norm point of the gradients' convex hull (NNLS, exact)."""

    name = "min_norm"
    needs_gradients = True

    def _combine(self, losses, gram, step):
        return min_norm_weights(gram)


class ProgramDirection(Direction):
    """``minimax`` (cvxpy variant) or ``chebyshev``: :class:`PreferenceProgram` each step."""

    name = "cvxpy"
    needs_gradients = True

    def __init__(
        self, n_groups: int, shares: np.ndarray, preference: np.ndarray, *, descent: bool
    ) -> None:
        super().__init__(n_groups, shares)
        self.preference = np.asarray(preference, dtype=float)
        self.program = PreferenceProgram(n_groups, descent=descent)
        self._plain: PreferenceProgram | None = None

    def _combine(self, losses, gram, step):
        weights, status = self.program.solve(gram, losses, self.preference, step)
        if status != OPTIMAL and self.program.descent:
            # the descent constraint failed numerically: take the unconstrained step
            if self._plain is None:
                self._plain = PreferenceProgram(self.n_groups, descent=False)
            weights, status = self._plain.solve(gram, losses, self.preference, step)
        if status not in SOLUTION_PRESENT:
            self.failures += 1
        return weights


def make_direction(
    objective: str,
    n_groups: int,
    shares: np.ndarray,
    *,
    direction: str = "auto",
    epsilon=None,
    tilt: float | None = None,
    preference=None,
    dual_step_size: float = 0.01,
) -> Direction:
    """The direction of a neural-path objective.

    Built from what the objective declares (:attr:`fairmtl.objectives.Objective.directions`)
    and its plain form (:meth:`fairmtl.objectives.Objective.form`); its knobs are checked
    by :meth:`fairmtl.objectives.Objective.check_knobs`, as on every other path.

    Parameters
    ----------
    objective : str
        A key of :data:`DIRECTION_OBJECTIVES`.
    n_groups : int
    shares : ndarray of shape (n_groups,)
        Each group's share of the sample weight.
    direction : str, default="auto"
        For ``minimax``: ``"group_dro"`` (default) or ``"cvxpy"``.
    epsilon : float or ndarray, default=None
        Loss bounds of ``bounded``.
    tilt : float, default=None
        Temperature of ``tilted``.
    preference : array-like of shape (n_groups,), default=None
        Weights of ``chebyshev`` (None: equal).
    dual_step_size : float, default=0.01
        Step of the Group DRO weights and of the ``bounded`` multipliers.

    Returns
    -------
    direction : Direction
    """
    if objective not in DIRECTION_OBJECTIVES:
        raise ValueError(
            MSG_NEURAL_OBJECTIVE.format(
                objective=objective, choices=", ".join(DIRECTION_OBJECTIVES)
            )
        )
    allowed = DIRECTION_OBJECTIVES[objective]
    chosen = allowed[0] if direction == "auto" else direction
    if chosen not in allowed:
        raise ValueError(
            MSG_DIRECTION.format(
                direction=direction, objective=objective, choices=", ".join(("auto", *allowed))
            )
        )
    goal = make_objective(objective)
    knobs = {"epsilon": epsilon, "tilt": tilt, "preference": preference}
    goal.check_knobs(n_groups, **knobs)
    if chosen == "min_norm":
        return MinNormDirection(n_groups, shares)
    if chosen == "group_dro":
        return GroupDROWeights(n_groups, shares, dual_step_size)
    # no ideal point here: a preference alone weights the groups
    ideal = {"ideal": np.zeros(n_groups)} if "ideal" in goal.needs else {}
    form = goal.form(n_groups, shares, **knobs, **ideal)
    if chosen == "cvxpy":  # the program's largest weight is 1
        preference = form.scale / form.scale.max()
        return ProgramDirection(n_groups, shares, preference, descent=goal.common_descent)
    if form.kind == "tilted":
        return TiltedWeights(n_groups, shares, form.tilt)
    if form.kind == "bounded":
        return LagrangianWeights(n_groups, shares, form.bounds, dual_step_size)
    return FixedWeights(n_groups, shares, form.weights, goal.name)
