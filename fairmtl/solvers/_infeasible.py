"""Infeasible loss bounds, diagnosed once for every path: which groups, and the smallest
bound that can be met.

Both the exact and the dual path decide feasibility the same way: they minimise
``max_g (L_g - bound_g)`` with a negligible ridge; a positive optimum means no model
meets every bound. :func:`infeasible_bounds_error` turns that solve's group losses into
the error users see. The dual path runs that solve within its bounded fit
(:mod:`fairmtl.solvers._bounds`); the exact path, when its chain of solvers called the
problem infeasible, in :func:`raise_infeasible`, which also tells a numerical breakdown
(an infeasible verdict on a problem with no constraint that can fail) from real
infeasibility.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fairmtl.exceptions import InfeasibleError, SolverFailedError
from fairmtl.solvers._notices import target_scale_note

__all__ = [
    "MSG_CONSTRAINTS_INFEASIBLE",
    "MSG_INFEASIBLE",
    "MSG_NUMERICAL_INFEASIBLE",
    "infeasible_bounds_error",
    "raise_infeasible",
]

MSG_INFEASIBLE = (
    "The loss bounds cannot be met by any model: group(s) {groups} stay above their bound "
    "for every model. The smallest feasible epsilon is {min_eps:.6g}{shift_note}; "
    "pass epsilon >= that value."
)
MSG_CONSTRAINTS_INFEASIBLE = (
    "The {objective!r} constraints cannot be met by any model; loosen epsilon."
)
MSG_NUMERICAL_INFEASIBLE = (
    "The solver called the {objective!r} problem infeasible, but it has no constraint that "
    "can fail: a numerical breakdown ({attempts}). {note}"
)


def infeasible_bounds_error(
    losses: np.ndarray,
    bounds: np.ndarray,
    group_names: Sequence[object],
    *,
    reference: np.ndarray | None = None,
    near: float = 1e-6,
) -> InfeasibleError:
    """The error for bounds that no model meets, from the diagnosis solve's group losses.

    Parameters
    ----------
    losses : ndarray of shape (n_groups,)
        Group losses of the model minimising ``max_g (L_g - bound_g)``.
    bounds : ndarray of shape (n_groups,)
        The loss bounds.
    group_names : sequence
        The groups' labels, in task-id order.
    reference : ndarray of shape (n_groups,) or None, default=None
        ``no_harm``'s reference losses: epsilon is then a slack over them.
    near : float, default=1e-6
        Groups within this of the largest excess are named as blocking.

    Returns
    -------
    error : InfeasibleError
        Naming the blocking groups (``groups``) and the smallest feasible epsilon
        (``min_feasible``).
    """
    excess = losses - bounds
    delta = float(excess.max())
    blocking = [group_names[g] for g in np.flatnonzero(excess >= delta - near)]
    if reference is not None:
        # epsilon is a slack over the reference losses: the needed slack is the shift
        min_eps = float(np.max(bounds - reference)) + delta
        note = ", as a slack over the reference losses"
    elif np.allclose(bounds, bounds[0]):
        min_eps, note = float(bounds[0] + delta), " (the minimax loss)"
    else:
        min_eps = float(losses.max())
        note = f" (the minimax loss); with per-group bounds, raise each by {delta:.6g}"
    return InfeasibleError(
        MSG_INFEASIBLE.format(
            groups=", ".join(repr(g) for g in blocking), min_eps=min_eps, shift_note=note
        ),
        groups=blocking,
        min_feasible=min_eps,
    )


def raise_infeasible(problem: Any, solver: str, attempts: list[dict[str, Any]]) -> None:
    """Diagnose the exact path's infeasible verdict and raise what it means: which groups
    block the loss bounds and the smallest feasible bound (:func:`infeasible_bounds_error`,
    from a shifted minimax solve of an :class:`~fairmtl.solvers.ExactProblem` helper), or
    a numerical breakdown when the objective has no constraint that can fail."""
    objective = problem.objective
    bounds = objective.loss_bounds()
    if bounds is None and "epsilon" not in objective.knobs:
        summary = "; ".join(f"{a['solver']}: {a['raw_status']}" for a in attempts)
        note = target_scale_note(problem.y, problem.task) or (
            "Try scaling the features, a larger alpha, or solver='dual'."
        )
        raise SolverFailedError(
            MSG_NUMERICAL_INFEASIBLE.format(
                objective=problem.objective_name, attempts=summary, note=note
            )
        )
    if bounds is None:
        raise InfeasibleError(MSG_CONSTRAINTS_INFEASIBLE.format(objective=problem.objective_name))
    helper = problem._helper("diagnose", problem.sharing_name, "chebyshev")
    # min over models of max_g (L_g - bound_g): the smallest uniform shift that is feasible
    helper_fit = helper._solve_shifted(bounds, solver)
    no_harm = problem.objective_name == "no_harm"
    reference = objective.reference_losses if no_harm else None
    raise infeasible_bounds_error(
        helper_fit.group_losses, bounds, problem.group_names, reference=reference
    )
