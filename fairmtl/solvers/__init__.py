"""Solvers: status names, the fallback chain, the problem compiled once and solved for
many knob values (:class:`Problem`: the exact cvxpy path and the dual path),
and the record every fit reports (:class:`SolverInfo`, an estimator's ``solver_info_``).

The neural path's training loop lives in :mod:`fairmtl.neural`."""

from typing import TYPE_CHECKING

from fairmtl._optional import lazy_attributes

if TYPE_CHECKING:
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

# Names load on first use: a Dask worker that needs one small module of this package
# (group labels, the dual path's row sums) does not import all of them.
_WHERE = {
    "SolverInfo": "fairmtl._solver_info",
    "solver_record": "fairmtl._solver_info",
    "SOLVER_NAMES": "._chain",
    "SolverStep": "._chain",
    "default_chain": "._chain",
    "solve_chain": "._chain",
    "ExactProblem": "._cvxpy",
    "DualProblem": "._dual",
    "dual_unsupported": "._dual",
    "FitResult": "._fit",
    "group_mean_losses": "._fit",
    "group_means": "._fit",
    "group_outputs": "._fit",
    "PROBLEM_PATHS": "._problem",
    "Problem": "._problem",
    "make_problem": "._problem",
    "ERROR": "._status",
    "INACCURATE": "._status",
    "INFEASIBLE": "._status",
    "OPTIMAL": "._status",
    "SOLUTION_PRESENT": "._status",
    "UNBOUNDED": "._status",
    "status_group": "._status",
    "one_blas_thread": "._threads",
}
_lazy = lazy_attributes(__name__, _WHERE)

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
    if name in _WHERE:
        return _lazy(name)
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
