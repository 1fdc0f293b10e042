"""What a dual-path solve reports: each stage's fit with its certified bounds, and the
:class:`~fairmtl.solvers.FitResult` and solver record made from it.

A stage of :class:`~fairmtl.solvers.DualProblem` ends in a *fit*: a dict holding the
point (``coef``, ``intercept`` of the oracle's blocks), the group losses, the upper bound
(the objective of that point) and the lower bound (a dual value minus the oracle's proven
error), whether the gap closed, the dual weights and why the stage stopped.
:func:`level_fit` makes one from the level method's result, :func:`oracle_fit` from one
oracle answer (a fixed-weight objective). :func:`dual_result` turns the final fit into
the record the dual module docstring describes (``lower_bound``, ``upper_bound``,
``gap``, ``relative_gap``, the stage-1 fields of a Pareto stage, the counters of the run)
and warns when the gap is not certified within the tolerance.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from fairmtl._solver_info import solver_record
from fairmtl.solvers._dualrun import DualRun, closed
from fairmtl.solvers._fit import FitResult
from fairmtl.solvers._master import LevelResult
from fairmtl.solvers._notices import warn_dual_inaccurate
from fairmtl.solvers._status import INACCURATE, OPTIMAL

__all__ = ["dual_result", "level_fit", "oracle_fit"]


def level_fit(result: LevelResult, tol: float) -> dict[str, Any]:
    """The fit of a level-method stage (converged, or its gap closed within ``tol``)."""
    return {
        "point": result.point,
        "losses": result.losses,
        "upper": result.upper,
        "lower": result.lower,
        "converged": result.converged or closed(result, tol),
        "weights": result.weights,
        "refined": False,
        "stopped": result.stopped,
    }


def oracle_fit(point, answer, lower: float, tol: float) -> dict[str, Any]:
    """The fit of one oracle answer at ``point``, certified by the bound ``lower``."""
    gap = answer.value - lower
    return {
        "point": point,
        "losses": answer.losses,
        "penalty": answer.penalty,
        "upper": answer.value,
        "lower": lower,
        "converged": gap <= tol * abs(answer.value) or gap <= 1e-10,
        "weights": None,
        "refined": False,
        "stopped": "oracle",
    }


def dual_result(
    run: DualRun,
    fit: dict,
    extra: dict,
    n_groups: int,
    start: float,
    max_time: float | None,
) -> FitResult:
    """The :class:`~fairmtl.solvers.FitResult` of the final ``fit`` of ``run`` (started at
    ``start``, a ``time.perf_counter()`` value), with the dual path's solver record;
    ``extra`` are the objective's extra inputs (ideal point, reference losses)."""
    coef, intercept = fit["point"]
    G = n_groups
    if coef.shape[0] == 1 and G > 1:
        coef, intercept = np.repeat(coef, G, axis=0), np.repeat(intercept, G)
    if "penalty" in fit:  # the oracle's answer at this very point
        losses, penalty = fit["losses"], fit["penalty"]
    else:
        losses, penalty = run.oracle.evaluate(*fit["point"])
    upper, lower = float(fit["upper"]), float(fit["lower"])
    stage1 = {}
    if fit.get("primal") is not None:
        # the Pareto stage may raise the objective: report the returned model's own
        stage1 = {
            "stage1_objective": upper,
            "stage1_gap": upper - lower,
            "stage1_relative_gap": (upper - lower) / max(abs(upper), 1e-300),
        }
        upper = float(fit["primal"](losses, penalty))
    gap = upper - lower
    info = solver_record(
        status=OPTIMAL if fit["converged"] else INACCURATE,
        solver=fit.get("solver", f"dual[L-BFGS oracle, {run.solver} level master]"),
        path="dual",
        time=time.perf_counter() - start,
        gap=gap,
        fallback_from=[],
        iterations=run.rounds,
        attempts=[],
        relative_gap=gap / max(abs(upper), 1e-300),
        lower_bound=lower,
        upper_bound=upper,
        objective=upper,
        certified=bool(np.isfinite(lower)),
        stage="main",
        refined=fit["refined"],
        oracle_calls=run.calls,
        oracle_evaluations=run.evaluations,
        master_solves=run.master_solves,
        master_time=run.master_time,
        extra={k: np.asarray(v).tolist() for k, v in extra.items()},
    )
    if fit.get("weights") is not None:
        info["dual_weights"] = np.asarray(fit["weights"]).tolist()
    for key in ("refine_gap", "refine_status"):
        if key in fit:
            info[key] = fit[key]
    info.update(stage1)
    if not fit["converged"]:
        stopped = fit.get("stopped", "rounds")
        if time.perf_counter() > run.deadline:
            stopped = "time"
        relative = stage1.get("stage1_relative_gap", info["relative_gap"])
        warn_dual_inaccurate(
            stopped,
            gap=stage1.get("stage1_gap", gap),
            relative=relative,
            tol=run.tol,
            max_rounds=run.max_rounds,
            max_time=max_time,
        )
    return FitResult(coef[:, :, None], intercept[:, None], losses, info)
