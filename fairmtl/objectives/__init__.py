"""Objectives over per-group losses: how group losses combine into one problem.

Each objective is a small class with one interface (:class:`Objective`) that owns every
form it has: its cvxpy form (value and constraints, knobs as ``cp.Parameter``) for the
exact solver, its plain form (:class:`ObjectiveForm`) for the dual path, the reduction
and the neural path, the neural path's step directions, the one check of its knobs
(:meth:`Objective.check_knobs`) that every path makes, and the facts other layers ask
about it by name (:func:`objective_class`: ``weighted_fit``, ``takes_adjustment``,
``constrains_rates``, ``distributed``) instead of keeping lists of names.
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
    "objective_class",
    "objectives_with",
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


def objective_class(name: str) -> type[Objective]:
    """The objective class of a name: the one lookup by name of an objective's facts.

    Parameters
    ----------
    name : str
        A key of :data:`ALL_OBJECTIVES`, or ``"weighted"`` (fixed group weights: the
        solvers' ideal points).

    Returns
    -------
    cls : type of Objective
        Its class attributes say what other layers need to know (``weighted_fit``,
        ``takes_adjustment``, ``constrains_rates``, ``distributed``, ``knobs``, ...).

    Raises
    ------
    ValueError
        ``name`` is no objective (``MSG_UNKNOWN_OBJECTIVE``).

    Examples
    --------
    >>> from fairmtl.objectives import objective_class
    >>> objective_class("minimax").takes_adjustment
    True
    """
    if name == Weighted.name:
        return Weighted
    try:
        return ALL_OBJECTIVES[name]
    except KeyError:
        raise ValueError(
            MSG_UNKNOWN_OBJECTIVE.format(name=name, choices=sorted(OBJECTIVES))
        ) from None


def objectives_with(fact: str) -> tuple[str, ...]:
    """The names of the objectives with a convex form that have a fact, in the order of
    :data:`OBJECTIVES`.

    Parameters
    ----------
    fact : str
        A boolean class attribute of :class:`Objective`, such as ``"weighted_fit"``.

    Returns
    -------
    names : tuple of str

    Examples
    --------
    >>> from fairmtl.objectives import objectives_with
    >>> objectives_with("weighted_fit")
    ('average', 'balanced')
    """
    return tuple(name for name, cls in OBJECTIVES.items() if getattr(cls, fact))


def make_objective(name: str) -> Objective:
    """A fresh instance of the objective named ``name`` (see :func:`objective_class`).

    Parameters
    ----------
    name : str

    Returns
    -------
    objective : Objective
    """
    return objective_class(name)()
