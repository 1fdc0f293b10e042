"""Objectives over per-group losses: how group losses combine into one convex problem.

Each objective is a small class with one interface (:class:`Objective`): its cvxpy form
(value and constraints, knobs as ``cp.Parameter``) for the exact solver.
"""

from __future__ import annotations

from fairmtl.objectives._base import Objective, ObjectiveContext
from fairmtl.objectives._constrained import Bounded, NoHarm
from fairmtl.objectives._gap import Gap
from fairmtl.objectives._rates import DemographicParity, EqualizedOdds, EqualOpportunity
from fairmtl.objectives._scalar import Average, Balanced, Chebyshev, Minimax, Tilted, Weighted

__all__ = [
    "OBJECTIVES",
    "Objective",
    "ObjectiveContext",
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
    "Weighted",
]

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

MSG_UNKNOWN_OBJECTIVE = "Unknown objective {name!r}. Choose one of: {choices}."


def make_objective(name: str) -> Objective:
    """A fresh objective instance by name."""
    if name == "weighted":
        return Weighted()
    try:
        return OBJECTIVES[name]()
    except KeyError:
        raise ValueError(
            MSG_UNKNOWN_OBJECTIVE.format(name=name, choices=sorted(OBJECTIVES))
        ) from None
