"""Objectives over per-group losses: how group losses combine into one problem.

Each objective is a small class with one interface (:class:`Objective`) that owns every
form it has: its cvxpy form (value and constraints, knobs as ``cp.Parameter``) for the
exact solver, its plain form (:class:`ObjectiveForm`) for the dual path, the reduction
and the neural path, the neural path's step directions, and the one check of its knobs
(:meth:`Objective.check_knobs`) that every path makes.
"""

from __future__ import annotations

from fairmtl.objectives._base import (
    MSG_KNOB_RANGE,
    MSG_KNOB_REQUIRED,
    MSG_KNOB_SHAPE,
    Objective,
    ObjectiveContext,
)
from fairmtl.objectives._constrained import Bounded, NoHarm
from fairmtl.objectives._form import FormKind, ObjectiveForm
from fairmtl.objectives._gap import Gap
from fairmtl.objectives._rates import DemographicParity, EqualizedOdds, EqualOpportunity
from fairmtl.objectives._scalar import (
    Average,
    Balanced,
    Chebyshev,
    Minimax,
    Pareto,
    Tilted,
    Weighted,
)

__all__ = [
    "ALL_OBJECTIVES",
    "MSG_KNOB_RANGE",
    "MSG_KNOB_REQUIRED",
    "MSG_KNOB_SHAPE",
    "OBJECTIVES",
    "FormKind",
    "Objective",
    "ObjectiveContext",
    "ObjectiveForm",
    "make_objective",
    "Average",
    "Balanced",
    "Minimax",
    "Tilted",
    "Bounded",
    "Gap",
    "NoHarm",
    "Chebyshev",
    "DemographicParity",
    "EqualOpportunity",
    "EqualizedOdds",
    "Pareto",
    "Weighted",
]

#: the objectives with a convex form, by name
OBJECTIVES: dict[str, type[Objective]] = {
    cls.name: cls
    for cls in (
        Average,
        Balanced,
        Minimax,
        Tilted,
        Bounded,
        Gap,
        NoHarm,
        Chebyshev,
        DemographicParity,
        EqualOpportunity,
        EqualizedOdds,
    )
}
#: every objective an estimator accepts: :data:`OBJECTIVES` and the neural path's "pareto"
ALL_OBJECTIVES: dict[str, type[Objective]] = {**OBJECTIVES, Pareto.name: Pareto}

MSG_UNKNOWN_OBJECTIVE = "Unknown objective {name!r}. Choose one of: {choices}."


def make_objective(name: str) -> Objective:
    """A fresh objective instance by name.

    Parameters
    ----------
    name : str
        A key of :data:`ALL_OBJECTIVES`, or ``"weighted"`` (fixed group weights: the
        solvers' ideal points).

    Returns
    -------
    objective : Objective
    """
    if name == "weighted":
        return Weighted()
    try:
        return ALL_OBJECTIVES[name]()
    except KeyError:
        raise ValueError(
            MSG_UNKNOWN_OBJECTIVE.format(name=name, choices=sorted(OBJECTIVES))
        ) from None
