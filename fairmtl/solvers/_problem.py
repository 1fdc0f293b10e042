"""The problem: a group-as-task fit compiled once and solved for many knob values.

fairmtl's central idea is "compile once, solve many": the data, the loss, the sharing
scheme and the objective are fixed when a problem is built; the knobs (``alpha``,
``sharing_strength``, ``epsilon``, ``tilt``, ``preference``, the Group DRO adjustment)
change from solve to solve, without re-compiling. Two paths implement the one protocol,
:class:`Problem`:

- :class:`~fairmtl.solvers.ExactProblem`: the whole problem as one convex program in
  cvxpy, its knobs ``cp.Parameter`` values (DPP);
- :class:`~fairmtl.solvers.DualProblem`: the Lagrangian dual over one weight per group,
  for data too large for one conic program, with a certified gap.

:func:`make_problem` builds either. The estimators prepare their data into one
(``FairMTLClassifier.fit``), the cross-validation of the "auto" knobs re-solves one per
fold along its paths, and :func:`fairmtl.estimators.fit_path` turns one into fitted
estimators for a list of settings (what :class:`~fairmtl.frontier.FrontierSearch`
sweeps).
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from fairmtl.solvers._cvxpy import ExactProblem
from fairmtl.solvers._dual import DualProblem
from fairmtl.solvers._fit import FitResult

__all__ = ["PROBLEM_PATHS", "Problem", "make_problem"]

#: the problem class of each solver path
PROBLEM_PATHS: dict[str, type] = {"exact": ExactProblem, "dual": DualProblem}


@runtime_checkable
class Problem(Protocol):
    """A group-as-task problem, compiled once and solved for many knob values.

    Every implementation is built with the same arguments::

        Problem(X, y, tasks, sample_weight, n_groups, *, loss, sharing, objective,
                n_outputs=1, task="binary", group_names=None, **options)

    ``X`` of shape (n_samples, n_features); ``y`` the encoded targets ({-1, +1} for two
    classes, 0..K-1 for K classes, floats for regression); ``tasks`` each row's group id
    0..n_groups-1 (every group has rows); ``sample_weight`` per-row weights; ``loss`` a
    :class:`~fairmtl.losses.Loss`; ``sharing`` and ``objective`` their names;
    ``n_outputs`` 1, or the number of classes of a multinomial fit; ``task`` "binary",
    "multiclass" or "regression"; ``group_names`` for messages. ``options`` are a path's
    own (the dual path's ``tol`` and ``max_rounds``, the exact path's ``fallback``).

    Attributes
    ----------
    n_groups : int
    shares : ndarray of shape (n_groups,)
        Each group's share of the total sample weight.
    group_names : list
    """

    n_groups: int
    shares: np.ndarray
    group_names: list

    def solve(self, *, alpha: float, **knobs: Any) -> FitResult:
        """Solve for these knob values and return the fit record (coefficients,
        intercepts, group losses and the solver record,
        :class:`~fairmtl.solvers.SolverInfo`).

        Every path takes ``alpha``, ``sharing_strength`` (default 0), ``solver`` (a
        cvxpy solver's name, default "CLARABEL"), ``max_time`` (seconds, default None),
        ``reference`` ("pooled" or "independent", for ``no_harm``) and the objective's
        knobs (``epsilon``, ``tilt``, ``preference``, ``adjustment``, ...).
        """
        ...

    def reference_losses(
        self, reference: str, alpha: float, strength: float, solver: str
    ) -> np.ndarray:
        """Per-group training losses of the pooled or independent reference fit."""
        ...

    def ideal_point(self, alpha: float, strength: float, solver: str) -> np.ndarray:
        """Each group's own minimum loss under this model and penalty."""
        ...


def make_problem(path: Literal["exact", "dual"], X, *args: Any, **kwargs: Any) -> Problem:
    """Build the :class:`Problem` of a solver path.

    Parameters
    ----------
    path : {"exact", "dual"}
        The exact path solves in float64 (``X`` is converted if needed); the dual path
        keeps float32 rows as given (half the memory).
    X, *args, **kwargs
        The arguments every :class:`Problem` takes (``X, y, tasks, sample_weight,
        n_groups, *, loss, sharing, objective, ...``), and the path's own options.

    Returns
    -------
    problem : ExactProblem or DualProblem
    """
    if path not in PROBLEM_PATHS:
        raise ValueError(f"Unknown solver path {path!r}: choose 'exact' or 'dual'.")
    if path == "exact":
        X = X.astype(np.float64, copy=False)
    return PROBLEM_PATHS[path](X, *args, **kwargs)
