"""Solver faults: fallbacks are loud, statuses honest, time limits obeyed.

cvxpy's ``Problem.solve`` is patched to fail, to stop at a limit, or to record what it
was asked; no test asserts a wall-clock duration.
"""

from __future__ import annotations

import re
import warnings

import cvxpy as cp
import numpy as np
import pytest
from solver_statuses import STATUSES

from fairmtl import FairMTLClassifier, FairMTLRegressor
from fairmtl.exceptions import (
    InfeasibleError,
    SolverFailedError,
    SolverFallbackWarning,
    SolverInaccurateWarning,
)
from fairmtl.solvers import (
    ERROR,
    INACCURATE,
    OPTIMAL,
    SolverStep,
    _cvxpy,
    default_chain,
    solve_chain,
    status_group,
)
from fairmtl.solvers._chain import _RESET, MSG_FALLBACK
from fairmtl.solvers._notices import MSG_NOT_OPTIMAL, MSG_SOLVER_FAILED

ORIGINAL_SOLVE = cp.Problem.solve
SHORT = "CLARABEL[max_step_fraction=0.9]"
SCS = "SCS[eps_abs=1e-07,eps_rel=1e-07,max_iters=50000]"


def exact(message: str) -> str:
    return "^" + re.escape(message) + "$"


def make_data(n: int = 60, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    g = np.array(["a", "b", "c"], dtype=object)[np.arange(n) % 3]
    y = (X[:, 0] + rng.normal(size=n) > 0).astype(int)
    y[:6] = [0, 0, 0, 1, 1, 1]
    return X, y, g


class Recorder:
    """A stand-in for ``cvxpy.Problem.solve`` that records calls and can misbehave.

    ``plan`` maps a call number (0-based) to what to do on that call: "raise", a dict of
    extra solver options, or "inaccurate" (solve, then report ``optimal_inaccurate``).
    """

    def __init__(self, plan=None):
        self.plan = plan or {}
        self.calls: list[dict] = []

    def __call__(self, problem, *args, **kwargs):
        action = self.plan.get(len(self.calls))
        self.calls.append(dict(kwargs))
        if action == "raise":
            raise cp.error.SolverError("boom")
        if isinstance(action, dict):
            kwargs = {**kwargs, **action}
        value = ORIGINAL_SOLVE(problem, *args, **kwargs)
        if action == "inaccurate":
            problem._status = cp.OPTIMAL_INACCURATE
        return value


@pytest.fixture
def patch_solve(monkeypatch):
    def install(plan=None) -> Recorder:
        recorder = Recorder(plan)
        monkeypatch.setattr(cp.Problem, "solve", lambda self, *a, **k: recorder(self, *a, **k))
        return recorder

    return install


# -- fallback ------------------------------------------------------------------------------
def test_failing_solver_falls_back_with_a_warning_naming_both(patch_solve):
    patch_solve({0: "raise"})
    X, y, g = make_data()
    message = MSG_FALLBACK.format(failed="CLARABEL", reason="SolverError: boom", next=SHORT)
    with pytest.warns(SolverFallbackWarning, match=exact(message)):
        clf = FairMTLClassifier(
            objective="average", alpha=1e-4, sharing_strength=1.0, solver="CLARABEL"
        ).fit(X, y, groups=g)
    info = clf.solver_info_
    assert info["status"] == OPTIMAL
    assert info["solver"] == SHORT
    assert info["fallback_from"] == ["CLARABEL"]
    assert info["attempts"][0]["status"] == ERROR
    assert info["attempts"][0]["error"] == "SolverError: boom"


def test_iteration_limit_falls_back_with_a_warning_naming_both(patch_solve):
    patch_solve({0: {"max_iter": 1}})
    X, y, g = make_data()
    message = MSG_FALLBACK.format(failed="CLARABEL", reason="status 'user_limit'", next=SHORT)
    with pytest.warns(SolverFallbackWarning, match=exact(message)):
        clf = FairMTLClassifier(
            objective="average", alpha=1e-4, sharing_strength=1.0, solver="CLARABEL"
        ).fit(X, y, groups=g)
    first, last = clf.solver_info_["attempts"]
    assert first["raw_status"] == "user_limit" and first["limit"] is True
    assert first["status"] == ERROR
    assert last["solver"] == SHORT and last["status"] == OPTIMAL and last["limit"] is False
    assert clf.solver_info_["status"] == OPTIMAL


def test_every_solver_failing_raises_naming_each_attempt(patch_solve):
    patch_solve({i: "raise" for i in range(10)})
    X, y, g = make_data()
    attempts = "; ".join(f"{s}: SolverError: boom" for s in ("CLARABEL", SHORT, SCS))
    message = MSG_SOLVER_FAILED.format(attempts=attempts, alpha=0.0001)
    with (
        pytest.warns(SolverFallbackWarning),
        pytest.raises(SolverFailedError, match=exact(message)),
    ):
        FairMTLClassifier(
            objective="average", alpha=1e-4, sharing_strength=1.0, solver="CLARABEL"
        ).fit(X, y, groups=g)


def test_a_fallback_that_proves_infeasibility_raises_the_error_alone(patch_solve):
    """The first solver fails, the next proves the loss bounds infeasible: the error says
    which bound is feasible; no fallback warning beside it (nothing to act on)."""
    X, y, g = make_data()
    # the smallest feasible bound: the unpenalised minimax worst loss (bounds that hold
    # for some model do not depend on the penalty)
    minimax = FairMTLClassifier("shared", objective="minimax", alpha=0.0, solver="CLARABEL")
    worst = float(np.max(minimax.fit(X, y, groups=g).group_losses_))
    recorder = patch_solve({0: "raise"})
    bounded = FairMTLClassifier(
        "shared", objective="bounded", epsilon=worst - 0.05, alpha=1e-4, solver="CLARABEL"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", SolverFallbackWarning)
        with pytest.raises(InfeasibleError) as caught:
            bounded.fit(X, y, groups=g)
    assert caught.value.min_feasible == pytest.approx(worst, rel=1e-4)
    assert recorder.calls[1]["max_step_fraction"] < recorder.calls[0]["max_step_fraction"]


# -- statuses --------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", STATUSES)
def test_only_optimal_maps_to_optimal(raw):
    assert (status_group(raw) == OPTIMAL) == (raw == cp.OPTIMAL)
    if raw in (cp.USER_LIMIT, cp.SOLVER_ERROR, None, "a status from a future cvxpy"):
        assert status_group(raw) == ERROR


def test_tight_clarabel_almost_solved_counts_as_optimal(patch_solve):
    """The first step aims beyond CLARABEL's default tolerances and accepts them as
    'almost solved': that status meets the default optimality test, so it is optimal."""
    patch_solve({0: "inaccurate"})
    X, y, g = make_data()
    clf = FairMTLClassifier(
        objective="average", alpha=1e-4, sharing_strength=1.0, solver="CLARABEL"
    ).fit(X, y, groups=g)
    info = clf.solver_info_
    assert info["status"] == OPTIMAL
    assert info["attempts"][0]["raw_status"] == cp.OPTIMAL_INACCURATE


def test_inaccurate_solution_is_reported_and_warned(patch_solve):
    """The tight step fails, the short-step CLARABEL says 'optimal_inaccurate' (SCS is
    not tried after it): the point is kept but never called 'optimal'."""
    patch_solve({0: "raise", 1: "inaccurate"})
    X, y, g = make_data()
    message = MSG_NOT_OPTIMAL.format(status=INACCURATE, solver=SHORT, limit="")
    with (
        pytest.warns(SolverFallbackWarning),
        pytest.warns(SolverInaccurateWarning, match=exact(message)),
    ):
        clf = FairMTLClassifier(
            objective="average", alpha=1e-4, sharing_strength=1.0, solver="CLARABEL"
        ).fit(X, y, groups=g)
    info = clf.solver_info_
    assert info["status"] == INACCURATE
    assert [a["status"] for a in info["attempts"]] == [ERROR, INACCURATE]
    assert clf.summary().attrs["solver"]["status"] == INACCURATE


def test_scs_stopped_at_its_iteration_limit_is_not_optimal():
    x = cp.Variable(3)
    A = np.random.default_rng(0).normal(size=(20, 3))
    problem = cp.Problem(cp.Minimize(cp.sum(cp.logistic(A @ x)) + cp.sum_squares(x)))
    result = solve_chain(problem, [SolverStep("SCS", (("max_iters", 2),))])
    assert result.status == INACCURATE
    assert result.attempts[0]["raw_status"] == cp.OPTIMAL_INACCURATE
    assert result.attempts[0]["limit"] is True


# -- time limits -----------------------------------------------------------------------------
def test_max_time_reaches_every_solver(patch_solve):
    recorder = patch_solve()
    X, y, g = make_data()
    FairMTLClassifier(objective="minimax", max_time=2.5).fit(X, y, groups=g)
    assert recorder.calls, "the solver was never called"
    for call in recorder.calls:  # main and lexicographic stages
        assert call["solver"] == "CLARABEL" and call["time_limit"] == 2.5
    assert dict(default_chain()[2].kwargs(2.5))["time_limit_secs"] == 2.5  # SCS's name


def test_max_time_stop_is_reported():
    """A tiny limit stops CLARABEL (user_limit) and SCS (at 0 iterations): the result is
    kept as 'inaccurate' and the warning says that a solver hit its time limit."""
    X, y, g = make_data()
    clf = FairMTLClassifier(objective="average", max_time=1e-7)
    note = "; a solver stopped at its time or iteration limit (max_time=1e-07)"
    message = MSG_NOT_OPTIMAL.format(status=INACCURATE, solver=SCS, limit=note)
    with (
        pytest.warns(SolverFallbackWarning),
        pytest.warns(SolverInaccurateWarning, match=exact(message)),
    ):
        clf.fit(X, y, groups=g)
    attempts = clf.solver_info_["attempts"]
    assert [a["raw_status"] for a in attempts] == ["user_limit", "user_limit", "optimal_inaccurate"]
    assert all(a["limit"] for a in attempts)
    assert clf.solver_info_["status"] == INACCURATE


def test_max_time_failure_says_to_raise_max_time(patch_solve):
    """When no solver returns a point before the limit, the error says what to change."""
    patch_solve({0: {"max_iter": 1}, 1: {"max_iter": 1}, 2: "raise"})
    X, y, g = make_data()
    attempts = (
        f"CLARABEL: user_limit; {SHORT}: user_limit; {SCS}: SolverError: boom; "
        "'user_limit' is a time or iteration limit: raise max_time"
    )
    message = MSG_SOLVER_FAILED.format(attempts=attempts, alpha=0.0001)
    with (
        pytest.warns(SolverFallbackWarning),
        pytest.raises(SolverFailedError, match=exact(message)),
    ):
        FairMTLClassifier(
            objective="average", alpha=1e-4, sharing_strength=1.0, solver="CLARABEL"
        ).fit(X, y, groups=g)


# -- many groups: compiled without DPP ---------------------------------------------------------
@pytest.mark.parametrize(("limit", "expected"), [(2, True), (100, False)])
def test_many_groups_compile_without_dpp(patch_solve, monkeypatch, limit, expected):
    monkeypatch.setattr(_cvxpy, "DPP_MAX_GROUPS", limit)
    recorder = patch_solve()
    X, y, g = make_data()
    reg = FairMTLRegressor(
        objective="bounded", epsilon=10.0, alpha=1e-4, sharing_strength=1.0, solver="CLARABEL"
    ).fit(X, X[:, 0], groups=g)
    assert reg.solver_info_["status"] == OPTIMAL
    assert [call["ignore_dpp"] for call in recorder.calls] == [expected]


@pytest.mark.filterwarnings("ignore:Solution may be inaccurate")
def test_fallback_options_do_not_leak_into_the_next_solve():
    """cvxpy keeps a cached Clarabel solver with its last options on warm starts: each
    step passes Clarabel's defaults explicitly, so a step runs with its own options."""
    x = cp.Variable(3)
    A = np.random.default_rng(0).normal(size=(20, 3))
    problem = cp.Problem(cp.Minimize(cp.sum(cp.logistic(A @ x)) + cp.sum_squares(x)))
    problem.solve(solver="CLARABEL", warm_start=True, max_iter=1)  # leaves max_iter=1 cached
    assert problem.status == cp.USER_LIMIT
    result = solve_chain(problem, default_chain()[:1])
    assert result.status == OPTIMAL
    assert SolverStep("CLARABEL").kwargs(None) == _RESET["CLARABEL"]
    assert _RESET["CLARABEL"]["max_step_fraction"] == 0.99
    assert _RESET["CLARABEL"]["tol_gap_abs"] == 1e-8  # Clarabel's own default
