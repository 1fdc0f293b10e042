"""Every status a cvxpy solve may report, and two it never should: shared by the tests
that check each one warns or raises; and what the dual path's status "optimal" promises."""

import cvxpy as cp
import numpy as np

from fairmtl.solvers._dual import DUAL_TOL
from fairmtl.solvers._master import TERM_NOISE

STATUSES = [
    cp.OPTIMAL,
    cp.OPTIMAL_INACCURATE,
    cp.INFEASIBLE,
    cp.INFEASIBLE_INACCURATE,
    cp.UNBOUNDED,
    cp.UNBOUNDED_INACCURATE,
    cp.USER_LIMIT,
    cp.SOLVER_ERROR,
    cp.settings.INFEASIBLE_OR_UNBOUNDED,
    None,
    "a status from a future cvxpy",
]


def gap_within_tolerance(info: dict, losses) -> bool:
    """What status "optimal" promises: the (stage-1) gap under DUAL_TOL relative, or
    negligible for the size of the group losses (a shifted objective, chebyshev's, can
    sit near 0: its relative gap says nothing there)."""
    relative = info.get("stage1_relative_gap", info["relative_gap"])
    gap = info.get("stage1_gap", info["gap"])
    noise = max(1e-10, 2 * TERM_NOISE * float(np.max(np.abs(losses))))
    return relative <= DUAL_TOL + 1e-12 or gap <= noise
