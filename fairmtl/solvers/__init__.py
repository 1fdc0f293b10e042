"""Solvers: status names, the fallback chain, and the exact cvxpy path."""

from fairmtl.solvers._chain import SOLVER_NAMES, SolverStep, default_chain, solve_chain
from fairmtl.solvers._cvxpy import ExactProblem, FitResult, group_mean_losses
from fairmtl.solvers._status import (
    ERROR,
    INACCURATE,
    INFEASIBLE,
    OPTIMAL,
    SOLUTION_PRESENT,
    UNBOUNDED,
    status_group,
)

__all__ = [
    "ERROR",
    "ExactProblem",
    "FitResult",
    "INACCURATE",
    "INFEASIBLE",
    "OPTIMAL",
    "SOLUTION_PRESENT",
    "SOLVER_NAMES",
    "SolverStep",
    "UNBOUNDED",
    "default_chain",
    "group_mean_losses",
    "solve_chain",
    "status_group",
]
