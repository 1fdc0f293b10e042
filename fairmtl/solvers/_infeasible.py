"""Infeasible loss bounds, diagnosed once for every path: which groups, and the smallest
bound that can be met.

Both the exact and the dual path decide feasibility the same way: they minimise
``max_g (L_g - bound_g)`` with a negligible ridge; a positive optimum means no model
meets every bound. :func:`infeasible_bounds_error` turns that solve's group losses into
the error users see.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fairmtl.exceptions import InfeasibleError

__all__ = ["MSG_INFEASIBLE", "infeasible_bounds_error"]

MSG_INFEASIBLE = (
    "The loss bounds cannot be met by any model: group(s) {groups} stay above their bound "
    "for every model. The smallest feasible epsilon is {min_eps:.6g}{shift_note}; "
    "pass epsilon >= that value."
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
