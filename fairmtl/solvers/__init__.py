"""Solvers: status names, the fallback chain, the problem compiled once and solved for
many knob values (:class:`Problem`: the exact cvxpy path and the dual path),
and the record every fit reports (:class:`SolverInfo`, an estimator's ``solver_info_``).

The neural path's training loop lives in :mod:`fairmtl.neural`."""

from fairmtl._solver_info import SolverInfo, solver_record
from fairmtl.solvers._chain import SOLVER_NAMES, SolverStep, default_chain, solve_chain
from fairmtl.solvers._cvxpy import ExactProblem
from fairmtl.solvers._dual import DualProblem, dual_unsupported
from fairmtl.solvers._fit import FitResult, group_mean_losses, group_means, group_outputs
from fairmtl.solvers._problem import PROBLEM_PATHS, Problem, make_problem
from fairmtl.solvers._status import (
    ERROR,
    INACCURATE,
    INFEASIBLE,
    OPTIMAL,
    SOLUTION_PRESENT,
    UNBOUNDED,
    status_group,
)
from fairmtl.solvers._threads import one_blas_thread

__all__ = [
    "DualProblem",
    "ERROR",
    "ExactProblem",
    "FitResult",
    "INACCURATE",
    "INFEASIBLE",
    "OPTIMAL",
    "PROBLEM_PATHS",
    "Problem",
    "SOLUTION_PRESENT",
    "SOLVER_NAMES",
    "SolverInfo",
    "SolverStep",
    "UNBOUNDED",
    "default_chain",
    "dual_unsupported",
    "group_mean_losses",
    "group_means",
    "group_outputs",
    "make_problem",
    "one_blas_thread",
    "solve_chain",
    "solver_record",
    "status_group",
]

# The neural path's names moved to fairmtl.neural; the old names still resolve, with a
# DeprecationWarning (and torch still loads only on first use).
_MOVED_TO_NEURAL = frozenset(
    {
        "DIRECTION_OBJECTIVES",
        "Direction",
        "PreferenceProgram",
        "make_direction",
        "min_norm_weights",
        "TrainConfig",
        "NeuralFit",
        "fit_network",
        "network_outputs",
    }
)


def __getattr__(name: str):
    if name in _MOVED_TO_NEURAL:
        import warnings

        import fairmtl.neural

        warnings.warn(
            f"fairmtl.solvers.{name} moved to fairmtl.neural.{name}; the old name will be "
            "removed in a future release.",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(fairmtl.neural, name)
    raise AttributeError(f"module 'fairmtl.solvers' has no attribute {name!r}")
