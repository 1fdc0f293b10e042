"""The solver record: what a fit says about how it was found (``solver_info_``).

Every path that fits a model — the exact cvxpy path, the dual path, the neural path and
:class:`~fairmtl.estimators.FairMTLReduction` — reports one record, built by
:func:`solver_record` and declared by :class:`SolverInfo`; an estimator's
``solver_info_`` is that record, a plain ``dict``. The report keeps a short summary of
it (:class:`SolverSummary`, made by :func:`summarize`).

Keys of every record
--------------------
``status``
    One of the status names of :mod:`fairmtl.solvers` (``"optimal"``, ``"inaccurate"``,
    ...). A trained network and a reduction carry no certificate: ``"inaccurate"``.
``solver``
    What solved it: a cvxpy solver's name (``"CLARABEL"``), ``"dual[...]"``,
    ``"torch"`` or ``"reduction[...]"``.
``path``
    ``"exact"``, ``"dual"``, ``"neural"`` or ``"reduction"``.
``time``
    Seconds spent solving.
``gap``
    Certified bound on the distance to the optimum, in units of the objective; None
    where nothing is certified (the exact path's interior-point solvers certify by
    status instead).

Further keys, by path
---------------------
Each is declared, with what it means, in :class:`SolverInfo`.
"""

# No `from __future__ import annotations`: TypedDict reads Required / NotRequired from
# the evaluated annotations (the report's validator walks them at run time).
from typing import Any, NotRequired, Required, TypedDict

__all__ = ["SolverInfo", "SolverSummary", "solver_record", "summarize"]

MSG_UNKNOWN_KEY = (
    "solver_record got undeclared key(s) {keys}: declare them in fairmtl._solver_info."
    "SolverInfo with what they mean."
)


class SolverInfo(TypedDict, total=False):
    """How one fit was found: the record of ``solver_info_`` (see the module docstring)."""

    status: Required[str]
    solver: Required[str]
    path: Required[str]
    time: Required[float]
    gap: Required[float | None]
    # -- exact and dual paths -----------------------------------------------------------
    iterations: int | None
    """Solver iterations (dual path: master rounds, or the smooth stages' SQP iterations;
    neural path: training steps)."""
    fallback_from: list[str]
    """Solvers of the fallback chain that failed before ``solver`` (exact path); on the
    dual path, the exact path's SQP stages tried before a large problem went to it."""
    attempts: list[dict[str, Any]]
    """Each try of the fallback chain: solver, status, error, ``limit``, output (on the
    dual path, the SQP stages tried before it, each with its ``stage``)."""
    stage: str
    """``"main"`` (the fit), or ``"diagnose"`` (an infeasibility diagnosis)."""
    objective: float
    """The returned model's own objective value (penalty included)."""
    extra: dict[str, Any]
    """Inputs the objective needed: ``ideal`` point, ``reference`` losses."""
    refined: bool
    """Whether the Pareto (second) stage of minimax / chebyshev was kept."""
    refine_status: str
    refine_attempts: list[dict[str, Any]]
    refine_gap: float
    stage1_objective: float
    """The optimum of the first stage (the objective may exceed it after refinement)."""
    stage1_gap: float
    stage1_relative_gap: float
    method: str
    """``"convex-concave"`` for the ``gap`` objective (a local answer)."""
    ccp_iterations: int
    # -- certificates (dual path, reduction) --------------------------------------------
    certified: bool
    relative_gap: float | None
    lower_bound: float | None
    """A proven lower bound on the optimum (weak duality)."""
    upper_bound: float | None
    dual_weights: list[float]
    """The master's final weights (or multipliers), one per group."""
    oracle_calls: int
    oracle_evaluations: int
    master_solves: int
    master_time: float
    # -- reduction (FairMTLReduction) ---------------------------------------------------
    model_gap: float
    """The master's own gap over its ensemble of oracle models (not a certificate)."""
    converged: bool
    stopped: str
    """Why the run stopped (reduction: ``"converged"``, ``"rounds"``, ...; neural:
    ``"max_epochs"``, ``"early_stopping"``)."""
    rounds: int
    fits: int
    warm_start: bool
    max_violation: float
    """Largest excess of a group loss over its bound (bounded objectives)."""
    # -- neural path ----------------------------------------------------------------------
    n_epochs: int
    best_epoch: int
    best_score: float | None
    device: str
    group_gradients: str | None
    step_seconds: float
    direction: str
    direction_seconds: float
    direction_calls: int
    direction_failures: int
    group_weights: list[float]
    """The final group weights of a Group DRO (minimax, tilted) direction."""
    multipliers: list[float]
    """The final multipliers of a bounded objective's direction."""
    # -- rate objectives with per-group thresholds (classifier) ---------------------------
    rate_tolerance: float
    group_thresholds: list[float]


class SolverSummary(TypedDict):
    """What the report keeps of a :class:`SolverInfo`; further keys are allowed."""

    status: str
    solver: str
    time: float
    """Seconds."""
    gap: float | None
    """Certified optimality gap (duality gap bound), None when there is none."""
    fallback_from: NotRequired[list[str]]


def solver_record(
    *, status: str, solver: str, path: str, time: float, gap: float | None = None, **details: Any
) -> SolverInfo:
    """A solver record with the keys every path reports, and the path's own ``details``.

    Raises
    ------
    TypeError
        A key of ``details`` that :class:`SolverInfo` does not declare.
    """
    unknown = sorted(set(details) - set(SolverInfo.__annotations__))
    if unknown:
        raise TypeError(MSG_UNKNOWN_KEY.format(keys=", ".join(map(repr, unknown))))
    record: dict[str, Any] = {
        "status": status,
        "solver": solver,
        "path": path,
        "time": time,
        "gap": gap,
        **details,
    }
    return record  # type: ignore[return-value]


def summarize(info: SolverInfo | dict[str, Any] | None) -> SolverSummary | None:
    """The report's summary of a record (None for a model without one: a baseline)."""
    if not info:
        return None
    return {
        "status": str(info.get("status")),
        "solver": str(info.get("solver")),
        "time": _number(info.get("time")),
        "gap": _number(info.get("gap")),
        "fallback_from": list(info.get("fallback_from") or []),
    }


def _number(value: Any) -> float | None:
    """A finite float, or None (JSON has no NaN)."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if out == out and abs(out) != float("inf") else None
