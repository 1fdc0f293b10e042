"""Every status a cvxpy solve may report, and two it never should: shared by the tests
that check each one warns or raises."""

import cvxpy as cp

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
