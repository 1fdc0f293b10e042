"""The dual path's minimax and chebyshev by the smooth stages.

The level method's weighted fits cost hundreds of passes over the rows for a minimax fit
(on a Dask cluster each pass is a round of messages: measured on 1,000,000 rows of 50
hospitals, 4 workers, 995 rounds, 28x the average-loss fit). Where the model is small
(:data:`~fairmtl.solvers._refine.MAX_PARAMS` parameters; for ``offset`` sharing, up to
:data:`~fairmtl.solvers._refine.MAX_BLOCK_GROUPS` groups), the exact path's smooth stages
(:mod:`fairmtl.solvers._refine`) solve the same two stages in tens of passes, by SQP with
exact Hessians (:mod:`fairmtl.solvers._newton_sqp`; SLSQP where it fails): stage 1 in
epigraph form from zero, the Pareto stage from the stage-1 point, each answer
KKT-checked. The rows' sums come from the holder of
the rows (``data.smooth_model``: :class:`fairmtl.distributed._smooth.ClusterModel` on a
cluster).

The certificate stays the dual path's own: one oracle fit at the group weights ``y`` that
stage 1's KKT check recovered, warm-started at its answer, proves the lower bound
``q(y) - error``; the upper bound is the stage-1 model's objective. Where a stage fails its
checks (or stage 1's certified gap is above the tolerance), the level method (stage 1)
or the bounded solve (stage 2) takes over.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fairmtl.solvers._dualrun import DualRun
from fairmtl.solvers._master import DualForm, LevelResult, _bounds_met
from fairmtl.solvers._refine import (
    RefineResult,
    minimax_smooth,
    refine_smooth,
    smooth_refinable,
)
from fairmtl.solvers._status import OPTIMAL

__all__ = ["SMOOTH_SOLVER", "smooth_applies", "smooth_refine", "smooth_stage1"]

#: the solver record's name of a fit by the smooth stages
SMOOTH_SOLVER = "dual[smooth stages: SQP, KKT-checked; lower bound by one L-BFGS oracle fit]"


def smooth_applies(problem, form, alpha: float) -> bool:
    """Whether :func:`smooth_stage1` may solve ``form`` (a "max" form of a small model
    with a smooth loss and a ridge penalty)."""
    P = 1 if problem.sharing_name == "shared" else problem.n_groups
    params = P * (problem._data.d + 1)
    return (
        form.kind == "max"
        and problem.n_groups > 1
        and smooth_refinable(
            problem.loss, problem.sharing_name, problem.n_outputs, alpha, params, P
        )
    )


def smooth_stage1(problem, run: DualRun, form) -> LevelResult | None:
    """Stage 1 of ``form`` by :func:`~fairmtl.solvers._refine.minimax_smooth`, certified
    by one oracle fit; None when the answer fails its checks or its certified gap is above
    the tolerance."""
    oracle = run.oracle
    data, penalty = oracle.data, oracle.penalty
    found = minimax_smooth(data, problem.loss, penalty, problem.sharing_name, form.scale,
                           form.shift, oracle.zero(), interior=False)  # fmt: skip
    if found is None or found.multipliers is None:
        return None
    run.rounds += found.iterations
    dual = DualForm.of(form)
    y = dual.clean(found.multipliers)
    point = (found.coef, found.intercept)
    penalty_value = float(penalty.value_grad(*point)[0])
    upper = float(form.primal(found.losses, penalty_value))
    run.warm = point
    answer = run.ask(dual.weights(y), max(0.05 * run.tol * abs(upper), 1e-13))
    lower = dual.dual_value(answer.value, y) - answer.error
    if not _bounds_met(upper, lower, run.tol):
        return None  # not certified within the tolerance: the level method's turn
    return LevelResult(
        lower=lower,
        upper=upper,
        point=point,
        losses=found.losses,
        penalty=penalty_value,
        weights=y,
        rounds=found.iterations,
        converged=True,
        model_gap=0.0,
    )


def smooth_refine(problem, run: DualRun, stage1: LevelResult, bounds) -> dict[str, Any] | None:
    """The Pareto stage by :func:`~fairmtl.solvers._refine.refine_smooth` from the
    stage-1 point: the fields it sets on the fit, or None when it fails its checks."""
    oracle = run.oracle
    found: RefineResult | None = refine_smooth(oracle.data, problem.loss, oracle.penalty,
                                               problem.sharing_name, problem.shares,
                                               np.asarray(bounds, dtype=float),
                                               stage1.point)  # fmt: skip
    if found is None:
        return None
    run.rounds += found.iterations
    return {
        "point": (found.coef, found.intercept),
        "losses": found.losses,
        "refined": True,
        "refine_gap": found.kkt,
        "refine_status": OPTIMAL,
    }
