"""Solvers: status names, the fallback chain, the exact cvxpy path and the dual path."""

from fairmtl.solvers._chain import SOLVER_NAMES, SolverStep, default_chain, solve_chain
from fairmtl.solvers._cvxpy import (
    ExactProblem,
    FitResult,
    group_mean_losses,
    group_means,
    group_outputs,
)
from fairmtl.solvers._directions import (
    DIRECTION_OBJECTIVES,
    Direction,
    PreferenceProgram,
    make_direction,
    min_norm_weights,
)
from fairmtl.solvers._dual import DualProblem, dual_unsupported
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
    "DualProblem",
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
    "dual_unsupported",
    "group_mean_losses",
    "group_means",
    "group_outputs",
    "solve_chain",
    "status_group",
    "DIRECTION_OBJECTIVES",
    "Direction",
    "PreferenceProgram",
    "make_direction",
    "min_norm_weights",
    "TrainConfig",
    "NeuralFit",
    "fit_network",
    "network_outputs",
]

# The torch path loads on first use: importing fairmtl must not import torch.
_TORCH_NAMES = frozenset({"TrainConfig", "NeuralFit", "fit_network", "network_outputs"})


def __getattr__(name: str):
    if name in _TORCH_NAMES:
        from fairmtl.solvers import _torch

        return getattr(_torch, name)
    raise AttributeError(f"module 'fairmtl.solvers' has no attribute {name!r}")
