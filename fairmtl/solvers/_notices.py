"""The solver layer's warnings, errors and scale notes: every result that is not certified
optimal says so.

Each path (exact, dual, and the reduction around any estimator) reports its status in
``solver_info_``; a status other than ``"optimal"`` (and a second, Pareto stage that
failed or ended inaccurate) also raises a
:class:`~fairmtl.exceptions.SolverInaccurateWarning` naming what happened and what to try.
A chain of cvxpy solves that found no solution at all raises a
:class:`~fairmtl.exceptions.SolverFailedError` (:func:`raise_if_unsolved`).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from fairmtl.exceptions import DataValidationError, SolverFailedError, SolverInaccurateWarning
from fairmtl.solvers._status import OPTIMAL, SOLUTION_PRESENT, UNBOUNDED

__all__ = [
    "MSG_DUAL_INACCURATE",
    "MSG_NOT_OPTIMAL",
    "MSG_REFINE_FAILED",
    "MSG_REFINE_INACCURATE",
    "MSG_SOLVER_FAILED",
    "MSG_SOLVER_FAILED_SCALE",
    "MSG_UNBOUNDED",
    "MSG_TARGET_OVERFLOW",
    "MSG_TARGET_SCALE",
    "check_target_scale",
    "target_scale_note",
    "DUAL_STOP_REASONS",
    "attempts_summary",
    "raise_if_unsolved",
    "warn_dual_inaccurate",
    "warn_not_optimal",
    "warn_refine",
]

MSG_NOT_OPTIMAL = (
    "The solver returned status {status!r} ({solver}), not 'optimal'{limit}: the model is "
    "kept but may be off the optimum. solver_info_ records each attempt."
)
MSG_SOLVER_FAILED = (
    "Every solver failed on this problem ({attempts}). Try scaling the features, a larger "
    "alpha (now {alpha}), or fewer groups; solver_info records each attempt."
)
MSG_SOLVER_FAILED_SCALE = "Every solver failed on this problem ({attempts}). {note}"
MSG_UNBOUNDED = (
    "The problem is unbounded (the data may be separable and alpha={alpha} gives no "
    "penalty). Use alpha > 0."
)
MSG_REFINE_FAILED = (
    "The second stage of objective={objective!r} (the lowest average loss + penalty among "
    "the models that keep every group's stage-1 guarantee) did not solve ({reason}): the "
    "stage-1 model is returned; it is optimal for the objective but may not be "
    "Pareto-efficient. solver_info_['refined'] is False."
)
MSG_REFINE_INACCURATE = (
    "The second stage of objective={objective!r} ended with status 'inaccurate' ({solver}): "
    "the returned model keeps every group's stage-1 guarantee, but its average loss + "
    "penalty is not certified to be the lowest. solver_info_['refine_status'] records it."
)
MSG_DUAL_INACCURATE = (
    "The dual solver stopped before certifying the optimum: {reason}. The returned model is "
    "within {gap:.3g} of the optimum (certified relative gap {relative:.3g}, tolerance "
    "{tol:g}); its status is 'inaccurate' and solver_info_ records both bounds. {hint}"
)
MSG_TARGET_SCALE = (
    "The regression target reaches {value:.3g} (row {row}); at that scale the solvers' "
    "arithmetic breaks down. Divide the target by a constant (for example its standard "
    "deviation) and multiply the predictions back."
)
MSG_TARGET_OVERFLOW = (
    "The regression target reaches {value:.3g} (row {row}): its squared loss overflows "
    "float64. Divide the target by a constant (for example its standard deviation) and "
    "multiply the predictions back."
)
#: above this magnitude a failed solve points at the target's scale
TARGET_NOTE_LIMIT = 1e4
#: above this magnitude squared losses overflow float64: refused before solving
TARGET_OVERFLOW_LIMIT = 1e150

#: why the dual path stopped -> (reason, what to try)
DUAL_STOP_REASONS = {
    "rounds": (
        "it used all its {max_rounds} rounds",
        "Use solver='CLARABEL' (the exact path) for this problem.",
    ),
    "time": (
        "it reached max_time={max_time}",
        "Raise max_time, or use solver='CLARABEL' (the exact path).",
    ),
    "master": (
        "its master problem (a small cvxpy program over group weights) failed to solve",
        "Use solver='CLARABEL' (the exact path) for this problem.",
    ),
    "oracle": (
        "the weighted fit did not reach the accuracy its certificate needs",
        "Standardise the features, or use solver='CLARABEL' (the exact path).",
    ),
}


def warn_not_optimal(result: Any, max_time: float | None, *, stacklevel: int = 4) -> None:
    """Warn when a chain of cvxpy solves (``ChainResult``) kept a non-optimal point."""
    if result.status == OPTIMAL:
        return
    limit = any(a.get("limit") for a in result.attempts)
    note = f"; a solver stopped at its time or iteration limit (max_time={max_time})"
    warnings.warn(
        MSG_NOT_OPTIMAL.format(
            status=result.status, solver=result.solver, limit=note if limit else ""
        ),
        SolverInaccurateWarning,
        stacklevel=stacklevel,
    )


def attempts_summary(attempts: list[dict[str, Any]]) -> str:
    """Each attempt of a chain as ``solver: error`` (or its raw status), joined by "; "."""
    return "; ".join(f"{a['solver']}: {a['error'] or a['raw_status']}" for a in attempts)


def raise_if_unsolved(result: Any, *, alpha: float, y, task: str) -> None:
    """Raise :class:`~fairmtl.exceptions.SolverFailedError` when a chain of cvxpy solves
    (``ChainResult``) found no solution: unbounded, or every solver failed (each attempt
    named, with what to try: a time limit, the target's scale, or the features)."""
    if result.status in SOLUTION_PRESENT:
        return
    if result.status == UNBOUNDED:
        raise SolverFailedError(MSG_UNBOUNDED.format(alpha=alpha))
    summary = attempts_summary(result.attempts)
    if any(a.get("limit") for a in result.attempts):
        summary += "; 'user_limit' is a time or iteration limit: raise max_time"
    note = target_scale_note(y, task)
    if note:
        raise SolverFailedError(MSG_SOLVER_FAILED_SCALE.format(attempts=summary, note=note))
    raise SolverFailedError(MSG_SOLVER_FAILED.format(attempts=summary, alpha=alpha))


def warn_refine(objective: str, *, failed: str | None = None, solver: str | None = None) -> None:
    """Warn that the Pareto stage failed (``failed``: why) or ended inaccurate."""
    if failed is not None:
        message = MSG_REFINE_FAILED.format(objective=objective, reason=failed)
    else:
        message = MSG_REFINE_INACCURATE.format(objective=objective, solver=solver)
    warnings.warn(message, SolverInaccurateWarning, stacklevel=4)


def warn_dual_inaccurate(
    stopped: str,
    *,
    gap: float,
    relative: float,
    tol: float,
    max_rounds: int,
    max_time: float | None,
) -> None:
    """Warn that the dual path returned a model whose gap is above its tolerance."""
    reason, hint = DUAL_STOP_REASONS.get(stopped, DUAL_STOP_REASONS["rounds"])
    warnings.warn(
        MSG_DUAL_INACCURATE.format(
            reason=reason.format(max_rounds=max_rounds, max_time=max_time),
            gap=gap,
            relative=relative,
            tol=tol,
            hint=hint,
        ),
        SolverInaccurateWarning,
        stacklevel=4,
    )


def _largest(y) -> tuple[float, int]:
    magnitude = np.abs(np.asarray(y, dtype=float))
    row = int(np.argmax(magnitude))
    return float(magnitude[row]), row


def check_target_scale(y, task: str) -> None:
    """Refuse a regression target whose squared loss overflows (names the first row)."""
    if task != "regression" or len(y) == 0:
        return
    value, row = _largest(y)
    if value > TARGET_OVERFLOW_LIMIT:
        raise DataValidationError(MSG_TARGET_OVERFLOW.format(value=value, row=row))


def target_scale_note(y, task: str) -> str:
    """What to say about the target when a solve failed: its scale, if that is large."""
    if task != "regression" or len(y) == 0:
        return ""
    value, row = _largest(y)
    return MSG_TARGET_SCALE.format(value=value, row=row) if value > TARGET_NOTE_LIMIT else ""
