"""Solving a cvxpy problem with a chain of solvers, never silently.

The default chain is CLARABEL with a step of 0.95 of the way to the cone's boundary
(Clarabel's default is 0.99), then CLARABEL with a shorter step still, then SCS, then ECOS
when it is installed. The shorter steps are measured: over 353 conic programs of the exact
path (every objective, sharing and penalty of a small three-group problem, hospitals of 8
groups, alpha 0 included), CLARABEL at fairmtl's tolerances failed ("insufficient
progress") on 17 with a step of 0.99 and on 2 with 0.95, in 8% more iterations and no
more time; a step of 0.9 solved those 2. A solver that raises, stops at a limit, or
returns an inaccurate status hands over to the next with a
:class:`~fairmtl.exceptions.SolverFallbackWarning` naming both and the reason (raised
when the chain ends, unless it ends in an infeasible verdict, whose error says what to
do). What the chain gave (:class:`ChainResult`) becomes the exact path's solver record by
:func:`chain_record`.
"""

from __future__ import annotations

import functools
import re
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import cvxpy as cp

from fairmtl._solver_info import SolverInfo, solver_record
from fairmtl.exceptions import SolverFallbackWarning
from fairmtl.solvers._quiet import solver_output_captured
from fairmtl.solvers._status import ERROR, INACCURATE, INFEASIBLE, OPTIMAL, status_group

__all__ = [
    "CLARABEL_LOOSE",
    "SolverStep",
    "default_chain",
    "solve_chain",
    "ChainResult",
    "SOLVER_NAMES",
    "chain_record",
]

MSG_FALLBACK = (
    "Solver {failed} did not solve the problem ({reason}); falling back to {next}. "
    "The result records both in solver_info_."
)
MSG_UNKNOWN_SOLVER = "Unknown solver {name!r}. Choose one of: {choices}."
# cvxpy's own advice in its errors names options of cvxpy's solve(), not fairmtl's.
_CVXPY_ADVICE = re.compile(r"\s*Try another solver,? or solve with verbose=True[^.]*\.?")


def _reason(error: str | None, raw: Any) -> str:
    """Why a solver failed, without cvxpy's advice about its own options."""
    return _CVXPY_ADVICE.sub("", error).strip() if error else f"status {raw!r}"


@dataclass(frozen=True)
class SolverStep:
    """One solver with its options."""

    name: str
    options: tuple[tuple[str, Any], ...] = ()
    #: an "inaccurate" status still meets this step's stated accuracy (see _CLARABEL)
    inaccurate_is_optimal: bool = False
    short_label: str | None = None

    @property
    def label(self) -> str:
        if self.short_label:
            return self.short_label
        if not self.options:
            return self.name
        opts = ",".join(f"{k}={v}" for k, v in self.options)
        return f"{self.name}[{opts}]"

    def kwargs(self, max_time: float | None) -> dict[str, Any]:
        kw = {**_RESET.get(self.name, {}), **dict(self.options)}
        if max_time is not None:
            key = {"CLARABEL": "time_limit", "SCS": "time_limit_secs"}.get(self.name)
            if key:
                kw[key] = float(max_time)
        return kw


#: Clarabel's defaults, always passed: on a warm start cvxpy updates its cached Clarabel
#: solver, which keeps the options of the previous call (a fallback step's) unless given
_RESET = {
    "CLARABEL": {
        "max_iter": 200,
        "max_step_fraction": 0.99,
        "time_limit": float("inf"),
        "tol_gap_abs": 1e-8,
        "tol_gap_rel": 1e-8,
        "tol_feas": 1e-8,
        "tol_ktratio": 1e-6,
        "reduced_tol_gap_abs": 5e-5,
        "reduced_tol_gap_rel": 5e-5,
        "reduced_tol_feas": 1e-4,
        "reduced_tol_ktratio": 1e-4,
    }
}

# CLARABEL aims 100x beyond its default tolerances (parameters agree to ~1e-7 rather
# than ~1e-5 across equivalent formulations) and accepts its defaults as "almost
# solved": an almost-solved status here meets CLARABEL's default optimality test. Its
# step stops at 0.95 of the way to the boundary (module docstring).
_CLARABEL = SolverStep(
    "CLARABEL",
    (
        ("max_step_fraction", 0.95),
        ("tol_gap_abs", 1e-10),
        ("tol_gap_rel", 1e-10),
        ("tol_feas", 1e-10),
        ("tol_ktratio", 1e-8),
        ("reduced_tol_gap_abs", 1e-8),
        ("reduced_tol_gap_rel", 1e-8),
        ("reduced_tol_feas", 1e-8),
        ("reduced_tol_ktratio", 1e-6),
    ),
    inaccurate_is_optimal=True,
    short_label="CLARABEL",
)
_CLARABEL_SHORT = SolverStep("CLARABEL", (("max_step_fraction", 0.9),))
#: CLARABEL to a 1e-6 gap, 100x short of its defaults: its answer is then polished by SQP
#: to a checked 1e-9 (see ExactProblem), in fewer interior-point iterations
CLARABEL_LOOSE = SolverStep(
    "CLARABEL",
    (("tol_gap_abs", 1e-6), ("tol_gap_rel", 1e-6), ("tol_feas", 1e-6), ("tol_ktratio", 1e-4)),
    inaccurate_is_optimal=True,
    short_label="CLARABEL",
)
_SCS = SolverStep("SCS", (("eps_abs", 1e-7), ("eps_rel", 1e-7), ("max_iters", 50_000)))
_ECOS = SolverStep("ECOS", (("max_iters", 500),))
SOLVER_NAMES = ("CLARABEL", "SCS", "ECOS")


def default_chain(first: str = "CLARABEL") -> list[SolverStep]:
    """The fallback chain starting at ``first`` (a name from ``SOLVER_NAMES``)."""
    first = first.upper()
    if first not in SOLVER_NAMES:
        raise ValueError(MSG_UNKNOWN_SOLVER.format(name=first, choices=list(SOLVER_NAMES)))
    chain = [_CLARABEL, _CLARABEL_SHORT, _SCS]
    if _ecos_installed():
        chain.append(_ECOS)
    start = next(i for i, s in enumerate(chain) if s.name == first)
    return chain[start:]


@functools.cache
def _ecos_installed() -> bool:
    """Whether cvxpy has ECOS (asked once: cvxpy checks every solver each time)."""
    return "ECOS" in cp.installed_solvers()


@dataclass
class ChainResult:
    """What a chain of solves gave."""

    status: str
    solver: str | None
    iterations: int | None
    time: float
    attempts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def fallback_from(self) -> list[str]:
        return [a["solver"] for a in self.attempts[:-1]]


def chain_record(result: ChainResult | dict[str, Any], *, stage: str) -> SolverInfo:
    """The exact path's solver record of a chain's result, or of one attempt of a smooth
    stage (a dict: always optimal)."""
    if isinstance(result, dict):
        result = ChainResult(
            OPTIMAL, result["solver"], result["iterations"], result["time"], [result]
        )
    return solver_record(
        status=result.status,
        solver=result.solver,
        path="exact",
        time=result.time,
        gap=None,
        fallback_from=result.fallback_from,
        iterations=result.iterations,
        attempts=list(result.attempts),
        stage=stage,
    )


def solve_chain(
    problem: cp.Problem,
    chain: list[SolverStep],
    *,
    max_time: float | None = None,
    stop_on_infeasible: bool = True,
    ignore_dpp: bool = False,
) -> ChainResult:
    """Solve ``problem`` with each solver of ``chain`` until one returns ``OPTIMAL``.

    An infeasible verdict from an accurate interior-point solver stops the chain when
    ``stop_on_infeasible`` (the caller then diagnoses it). If only inaccurate solutions
    were found, the first one is kept and reported as ``INACCURATE``; SCS is then not
    tried (it is the fallback for when no interior-point solution exists at all).
    Each attempt records ``limit``: whether the solver stopped at its time or iteration
    limit. ``ignore_dpp`` compiles without DPP (see ``ExactProblem``: many groups).
    """
    start = time.perf_counter()
    attempts: list[dict[str, Any]] = []
    kept: dict[str, Any] | None = None
    # warned once the chain gives a model: an infeasible verdict raises an error that says
    # what to do (the attempts are in the caller's record), and a fallback note beside it
    # would be one the user cannot act on
    fallbacks: list[str] = []
    for i, step in enumerate(chain):
        t0 = time.perf_counter()
        printed: list[str] = []
        try:
            with warnings.catch_warnings(), solver_output_captured(printed):
                # cvxpy's own "may be inaccurate" warning: we report statuses ourselves
                warnings.filterwarnings("ignore", message="Solution may be inaccurate")
                problem.solve(
                    solver=step.name,
                    warm_start=True,
                    ignore_dpp=ignore_dpp,
                    **step.kwargs(max_time),
                )
            raw = problem.status
            group = status_group(raw)
            if group == INACCURATE and step.inaccurate_is_optimal:
                group = OPTIMAL
            error = None
        except (cp.error.SolverError, ValueError, ArithmeticError) as e:
            raw, group, error = None, ERROR, f"{type(e).__name__}: {e}"
        stats = getattr(problem, "solver_stats", None)
        iters = getattr(stats, "num_iters", None) if group != ERROR else None
        attempt = {
            "solver": step.label,
            "status": group,
            "raw_status": raw,
            "iterations": iters,
            "time": time.perf_counter() - t0,
            "error": error,
            "limit": error is None and _hit_limit(problem),
            "solver_output": "".join(printed),
        }
        attempts.append(attempt)
        if group == INFEASIBLE and stop_on_infeasible:
            return ChainResult(group, step.label, iters, time.perf_counter() - start, attempts)
        if group == OPTIMAL:
            _warn_fallbacks(fallbacks)
            return ChainResult(group, step.label, iters, time.perf_counter() - start, attempts)
        if group == INACCURATE and kept is None:
            kept = {"values": _snapshot(problem), "attempt": attempt}
        if kept is not None and i + 1 < len(chain) and chain[i + 1].name == "SCS":
            # a first-order solver will not sharpen an interior-point near-solution
            break
        if i + 1 < len(chain):
            reason = _reason(error, raw)
            fallbacks.append(
                MSG_FALLBACK.format(failed=step.label, reason=reason, next=chain[i + 1].label)
            )
    _warn_fallbacks(fallbacks)
    if kept is not None:
        _restore(problem, kept["values"])
        a = kept["attempt"]
        return ChainResult(
            INACCURATE, a["solver"], a["iterations"], time.perf_counter() - start, attempts
        )
    last = attempts[-1]["status"] if attempts else ERROR
    return ChainResult(last, None, None, time.perf_counter() - start, attempts)


def _warn_fallbacks(messages: list[str]) -> None:
    """One :class:`~fairmtl.exceptions.SolverFallbackWarning` per fallback, raised where
    :func:`solve_chain` was called."""
    for message in messages:
        warnings.warn(message, SolverFallbackWarning, stacklevel=4)


def _hit_limit(problem: cp.Problem) -> bool:
    """Whether the last solve stopped at a time or iteration limit.

    CLARABEL says so with cvxpy's ``user_limit``; SCS returns ``optimal_inaccurate`` and
    says "reached max_iters / time_limit_secs" only in its own status text.
    """
    if problem.status == cp.USER_LIMIT:
        return True
    extra = getattr(problem.solver_stats, "extra_stats", None)
    info = extra.get("info") if isinstance(extra, dict) else None
    return isinstance(info, dict) and "reached" in str(info.get("status", ""))


def _snapshot(problem: cp.Problem) -> dict[int, Any]:
    return {v.id: None if v.value is None else v.value.copy() for v in problem.variables()}


def _restore(problem: cp.Problem, values: dict[int, Any]) -> None:
    for v in problem.variables():
        v.value = values.get(v.id)
