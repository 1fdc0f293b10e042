"""The interface every objective implements.

An objective combines the per-group mean losses ``L`` (a cvxpy vector of length G) into
a convex value to minimise plus convex constraints. Its knobs (epsilon, tilt, preference)
are ``cp.Parameter``s, created in :meth:`Objective.build` and set by
:meth:`Objective.set_values`, so a sweep re-solves without re-compiling (DPP).
Objectives never import solvers; the solver asks for this form and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import cvxpy as cp
import numpy as np

__all__ = ["Objective", "ObjectiveContext", "broadcast_groups"]

MSG_KNOB_REQUIRED = (
    "The {objective!r} objective needs {knob!r}; pass {knob}=... to the estimator (got None)."
)
MSG_KNOB_SHAPE = (
    "{knob!r} must be a scalar or have one value per group ({n_groups} groups); got shape {shape}."
)
MSG_KNOB_RANGE = "{knob!r} must be {rule}; got {value!r}."


@dataclass
class ObjectiveContext:
    """What an objective may use besides the group losses.

    Attributes
    ----------
    n_groups : int
    shares : ndarray of shape (n_groups,)
        Each group's share of the total sample weight (sums to 1).
    outputs : list of cvxpy expressions
        Model outputs (decision values) on each group's rows.
    targets : list of ndarray
        Encoded targets of each group's rows ({-1, +1} for binary classification).
    row_weights : list of ndarray
        Per-row weights of each group, normalised to sum to 1 within the group.
    task : str
    """

    n_groups: int
    shares: np.ndarray
    outputs: list = field(default_factory=list)
    targets: list = field(default_factory=list)
    row_weights: list = field(default_factory=list)
    task: str = "classification"


def broadcast_groups(value: Any, n_groups: int, knob: str) -> np.ndarray:
    """A scalar or per-group value as a float vector of length ``n_groups``."""
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        return np.full(n_groups, float(arr))
    if arr.shape != (n_groups,):
        raise ValueError(MSG_KNOB_SHAPE.format(knob=knob, n_groups=n_groups, shape=arr.shape))
    return arr


class Objective:
    """Base class: one objective, its cvxpy form and its knobs.

    Subclasses set ``name``, ``knobs`` (names of estimator parameters they read),
    ``refine`` (whether the solver should pick, among the optimal models, the one with
    the lowest average loss), ``needs`` (extra inputs the solver must compute:
    ``"ideal"`` per-group minima, ``"reference"`` per-group losses of a reference fit,
    ``"minimax"`` the minimax loss) and implement :meth:`build` and :meth:`_set`.
    """

    name: ClassVar[str] = ""
    knobs: ClassVar[tuple[str, ...]] = ()
    refine: ClassVar[bool] = False
    needs: ClassVar[frozenset[str]] = frozenset()
    constrains_losses: ClassVar[bool] = False
    #: whether :meth:`build` reads the per-row outputs of ``ObjectiveContext`` (then the
    #: solver keeps one output per row; otherwise it may compress the rows)
    uses_outputs: ClassVar[bool] = False

    def build(self, L: cp.Expression, ctx: ObjectiveContext) -> tuple[cp.Expression, list]:
        """Return ``(value, constraints)`` for group losses ``L``."""
        raise NotImplementedError(f"{type(self).__name__} must implement build()")

    def set_values(self, n_groups: int, **values: Any) -> None:
        """Set the knobs' parameter values (and extra inputs such as ``ideal``)."""
        for knob in self.knobs:
            if values.get(knob) is None and knob not in self.optional_knobs():
                raise ValueError(MSG_KNOB_REQUIRED.format(objective=self.name, knob=knob))
        self._set(n_groups, **values)

    def optional_knobs(self) -> tuple[str, ...]:
        return ()

    def _set(self, n_groups: int, **values: Any) -> None:
        """Subclasses set their parameters here."""

    def refine_bounds(self, losses: np.ndarray) -> np.ndarray:
        """Per-group loss bounds that keep the stage-1 guarantee (objectives with ``refine``)."""
        raise NotImplementedError(f"{type(self).__name__} does not refine")

    def epigraph_terms(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(c, s)`` when the value is ``max_g (c_g L_g - s_g)`` at the current knobs
        (solvers may then use the epigraph form), else None."""
        return None

    def weighted_terms(self, shares: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """``(lam, b)`` when the problem is ``min lam @ L + R`` subject to ``L <= b``
        (``b`` may be inf) at the current knobs, else None."""
        return None

    def loss_bounds(self) -> np.ndarray | None:
        """The per-group bounds ``L_g <= bound_g`` this objective imposes, if any."""
        return None
