"""The interface every objective implements.

An objective combines the per-group mean losses ``L`` into one value to minimise, under
constraints. It has up to three forms, each asked for by the path that solves with it:
the exact path's cvxpy form (``L`` a cvxpy vector; knobs such as epsilon, tilt and
preference are ``cp.Parameter``s, created in :meth:`Objective.build` and set by
:meth:`Objective.set_values`, so a sweep re-solves without re-compiling: DPP), the plain
form of the dual path, the reduction and the neural path (:meth:`Objective.form`), and
the neural path's step directions (:attr:`Objective.directions`). Its knobs are checked
once, by :meth:`Objective.check_knobs`, whatever the path. Objectives never import
solvers; each solver asks for its form and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import cvxpy as cp
import numpy as np

from fairmtl.objectives._form import FormKind, ObjectiveForm

__all__ = [
    "MSG_KNOB_RANGE",
    "MSG_KNOB_REQUIRED",
    "MSG_KNOB_SHAPE",
    "Objective",
    "ObjectiveContext",
    "broadcast_groups",
]

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
    """Base class: one objective, every form it has, and the one check of its knobs.

    An objective owns its forms, and each solving path asks for the one it needs (the
    way each of fairlearn's ``Moment`` serves both of its reductions):

    - the exact path's cvxpy form: :meth:`build` (value and constraints, knobs as
      ``cp.Parameter``) and :meth:`set_values`;
    - the plain form of the dual path, the reduction and the neural path:
      :meth:`form` (an :class:`~fairmtl.objectives.ObjectiveForm` of kind
      :attr:`form_kind`; None: the objective has none);
    - the neural path's step directions: :attr:`directions`.

    Every path validates the knobs by :meth:`check_knobs`, so a bad knob gets the same
    message whichever path solves.

    Subclasses set ``name``, ``knobs`` (names of estimator parameters they read),
    ``refine`` (whether the solver should pick, among the optimal models, the one with
    the lowest average loss), ``needs`` (extra inputs the solver must compute:
    ``"ideal"`` per-group minima, ``"reference"`` per-group losses of a reference fit,
    ``"linearization"`` the convex-concave procedure's), the facts other layers ask
    about it (``weighted_fit``, ``takes_adjustment``, ``constrains_rates``,
    ``distributed``) rather than keep lists of names, implement :meth:`build` and
    :meth:`_set`, and, where they apply, :meth:`_checked` and :meth:`_form`.
    """

    name: ClassVar[str] = ""
    knobs: ClassVar[tuple[str, ...]] = ()
    refine: ClassVar[bool] = False
    needs: ClassVar[frozenset[str]] = frozenset()
    constrains_losses: ClassVar[bool] = False
    #: whether :meth:`build` reads the per-row outputs of ``ObjectiveContext`` (then the
    #: solver keeps one output per row; otherwise it may compress the rows)
    uses_outputs: ClassVar[bool] = False
    #: the kind of :meth:`form`, or None when the objective has no plain form
    form_kind: ClassVar[FormKind | None] = None
    #: the neural path's step directions for this objective, its default first (empty:
    #: not on the neural path); ``fairmtl.neural.make_direction`` builds them
    directions: ClassVar[tuple[str, ...]] = ()
    #: whether the neural path's gradient program keeps only directions along which no
    #: group's loss increases to first order (a common descent direction)
    common_descent: ClassVar[bool] = False
    #: whether its solve is one fit with fixed group weights (a "fixed" plain form), as
    #: cheap as the average loss's: cross-validation searches alpha and sharing_strength
    #: on it
    weighted_fit: ClassVar[bool] = False
    #: whether it takes Group DRO's generalisation adjustment ``C / sqrt(n_g)`` (its
    #: ``adjustment`` knob), which cross-validation chooses when ``adjustment="auto"``
    takes_adjustment: ClassVar[bool] = False
    #: whether its constraints bound the groups' rates (mean scores over their rows)
    #: rather than their losses
    constrains_rates: ClassVar[bool] = False
    #: whether a fit on rows held by a Dask cluster solves it: its plain form reads the
    #: rows only through the group losses and their gradients, sums the workers compute
    distributed: ClassVar[bool] = False

    # -- knobs -----------------------------------------------------------------------
    def check_knobs(self, n_groups: int, **knobs: Any) -> dict[str, Any]:
        """Check the knobs' values; the one check every solving path makes.

        Parameters
        ----------
        n_groups : int
        **knobs
            Knob values by name (``epsilon``, ``tilt``, ``preference``, ``adjustment``,
            ...); the ones this objective does not read are ignored, None means unset.

        Returns
        -------
        checked : dict
            This objective's knobs as its forms use them (per-group vectors, a float
            tilt, a normalised preference; unset optional knobs at their defaults).

        Raises
        ------
        ValueError
            A required knob is None (``MSG_KNOB_REQUIRED``), a per-group knob has the
            wrong length (``MSG_KNOB_SHAPE``) or a value is out of range
            (``MSG_KNOB_RANGE``).
        """
        for knob in self.knobs:
            if knobs.get(knob) is None and knob not in self.optional_knobs():
                raise ValueError(MSG_KNOB_REQUIRED.format(objective=self.name, knob=knob))
        return self._checked(n_groups, **knobs)

    def optional_knobs(self) -> tuple[str, ...]:
        """The knobs that may be None (a default applies)."""
        return ()

    def _checked(self, n_groups: int, **knobs: Any) -> dict[str, Any]:
        """Subclasses check and normalise their knobs here (required ones are set)."""
        return {}

    def check_task(self, task: str) -> None:
        """Raise a ValueError if this objective does not apply to a ``task`` problem."""

    # -- the plain form (dual path, reduction, neural path) -----------------------------
    def form(self, n_groups: int, shares: np.ndarray, **values: Any) -> ObjectiveForm:
        """The objective at these knob values as plain numbers.

        Parameters
        ----------
        n_groups : int
        shares : ndarray of shape (n_groups,)
            Each group's share of the total sample weight.
        **values
            Knob values (checked here by :meth:`check_knobs`) and the extra inputs
            named in ``needs`` (``ideal``, ``reference``).

        Returns
        -------
        form : ObjectiveForm
            Of kind :attr:`form_kind`.
        """
        if self.form_kind is None:
            raise ValueError(f"The {self.name!r} objective has no plain form.")
        checked = {**values, **self.check_knobs(n_groups, **values)}
        return self._form(n_groups, np.asarray(shares, dtype=float), **checked)

    def _form(self, n_groups: int, shares: np.ndarray, **values: Any) -> ObjectiveForm:
        """Subclasses with a ``form_kind`` build their form here (knobs checked)."""
        raise NotImplementedError(f"{type(self).__name__} must implement _form()")

    # -- the exact path's cvxpy form -------------------------------------------------
    def build(self, L: cp.Expression, ctx: ObjectiveContext) -> tuple[cp.Expression, list]:
        """Return ``(value, constraints)`` for group losses ``L``."""
        raise NotImplementedError(f"{type(self).__name__} must implement build()")

    def set_values(self, n_groups: int, **values: Any) -> None:
        """Set the knobs' parameter values (and extra inputs such as ``ideal``)."""
        self._set(n_groups, **{**values, **self.check_knobs(n_groups, **values)})

    def _set(self, n_groups: int, **values: Any) -> None:
        """Subclasses set their parameters here (knobs checked by :meth:`check_knobs`)."""

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
