"""One set of status names for every backend, grouped by meaning.

Decisions test these groups, never a backend's raw strings.
"""

from __future__ import annotations

import cvxpy as cp

__all__ = [
    "OPTIMAL",
    "INACCURATE",
    "INFEASIBLE",
    "UNBOUNDED",
    "ERROR",
    "SOLUTION_PRESENT",
    "status_group",
]

OPTIMAL = "optimal"
INACCURATE = "inaccurate"
INFEASIBLE = "infeasible"
UNBOUNDED = "unbounded"
ERROR = "error"

#: groups under which a solution (possibly inaccurate) is present
SOLUTION_PRESENT = frozenset({OPTIMAL, INACCURATE})

_CVXPY_MAP = {
    cp.OPTIMAL: OPTIMAL,
    cp.OPTIMAL_INACCURATE: INACCURATE,
    cp.INFEASIBLE: INFEASIBLE,
    cp.INFEASIBLE_INACCURATE: INFEASIBLE,
    cp.UNBOUNDED: UNBOUNDED,
    cp.UNBOUNDED_INACCURATE: UNBOUNDED,
}


def status_group(raw: str | None) -> str:
    """Map a cvxpy status string onto fairmtl's status groups (unknown -> ``ERROR``)."""
    return _CVXPY_MAP.get(raw, ERROR)
