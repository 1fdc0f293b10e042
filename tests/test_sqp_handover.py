"""Large problems on the exact path's SQP: a stage without a checked answer goes to the
dual path, never to a conic program on all the rows.

``DUAL_AUTO_SIZE`` is lowered so that small data counts as large for solver="auto". A
smooth stage is made to fail (its function returns None, as when its answer fails the
KKT check) and every conic solve raises, so that a fit that reached one fails the test.
The answer is checked against the dual path fitted directly and against CLARABEL's
optimum on the same rows, within the dual path's certified gap.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from fairmtl import FairMTLClassifier, FairMTLRegressor
from fairmtl.datasets import make_hospitals
from fairmtl.estimators import _linear
from fairmtl.exceptions import FairMTLWarning, InfeasibleError
from fairmtl.losses import get_loss
from fairmtl.solvers import DualProblem, ExactProblem, _cvxpy, _pareto_stage
from fairmtl.solvers._smooth_stages import MSG_CHECK_FAILED

KNOBS = {"alpha": 1e-3, "sharing_strength": 1.0}


@pytest.fixture(scope="module")
def hospitals():
    return make_hospitals(5, n_samples=2000, random_state=3)


@pytest.fixture
def large(monkeypatch):
    """Every problem counts as large for solver="auto", and minimax and chebyshev take
    the exact path's SQP there as bounded does (by default the dual path's smooth stages
    solve them: the hand-over is tested on every stage it can meet); a conic solve fails
    the test."""
    monkeypatch.setattr(_linear, "DUAL_AUTO_SIZE", 1000)
    everything = frozenset({"minimax", "chebyshev", "bounded"})
    monkeypatch.setattr(_linear, "SQP_LARGE_OBJECTIVES", everything)

    def no_conic(*args, **kwargs):
        raise AssertionError("a conic program was solved on all the rows")

    monkeypatch.setattr(_cvxpy, "solve_chain", no_conic)
    monkeypatch.setattr(_pareto_stage, "solve_chain", no_conic)


def fit(est, data, **params):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.set_params(**params).fit(data.data, data.target, groups=data.groups)
    return est, [w for w in caught if issubclass(w.category, FairMTLWarning)]


def clarabel_optimum(data, **params) -> float:
    """Stage 1's optimum on the exact path's conic program (CLARABEL, ~1e-8)."""
    est = FairMTLClassifier(solver="CLARABEL", **params)
    info = est.fit(data.data, data.target, groups=data.groups).solver_info_
    return info.get("stage1_objective", info["objective"])


def assert_dual_answer(model, data, params, monkeypatch):
    """The model is the dual path's certified answer: the same as solver="dual", and
    its bounds hold CLARABEL's optimum (both solved without the injected failures). The
    hand-over's dual path runs the level method (its smooth stages would rerun the SQP
    that failed), and so does the direct fit here."""
    monkeypatch.undo()
    monkeypatch.setattr(DualProblem, "smooth_stages", False)
    direct = FairMTLClassifier(solver="dual", **params)
    direct.fit(data.data, data.target, groups=data.groups)
    np.testing.assert_allclose(model.coef_, direct.coef_, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(model.intercept_, direct.intercept_, rtol=1e-9, atol=1e-9)
    info = model.solver_info_
    optimum = clarabel_optimum(data, **params)
    stage1 = info.get("stage1_objective", info["objective"])
    gap = info.get("stage1_gap", info["gap"])
    assert info["lower_bound"] <= optimum + 1e-7
    assert stage1 - optimum <= gap + 1e-7


@pytest.mark.parametrize(
    "params",
    [
        {"objective": "minimax", **KNOBS},
        {"objective": "chebyshev", "preference": [1.0, 2.0, 1.0, 1.0, 3.0], **KNOBS},
        {"objective": "bounded", "epsilon": 0.5, **KNOBS},
    ],
    ids=["minimax", "chebyshev", "bounded"],
)
def test_failed_stage1_goes_to_the_dual_path(hospitals, large, monkeypatch, params):
    monkeypatch.setattr(_cvxpy, "smooth_stage1", lambda *args, **kwargs: None)
    model, warned = fit(FairMTLClassifier(), hospitals, **params)
    info = model.solver_info_
    assert info["path"] == "dual" and info["status"] == "optimal" and info["certified"]
    assert not warned  # certified: nothing for the user to do
    failed = info["attempts"][-1]
    assert failed["solver"] == "SQP" and failed["stage"] == "main"
    assert failed["status"] == "error" and failed["error"] == MSG_CHECK_FAILED
    assert info["fallback_from"] == ["SQP"]
    assert_dual_answer(model, hospitals, params, monkeypatch)


def test_failed_pareto_stage_goes_to_the_dual_path(hospitals, large, monkeypatch):
    params = {"objective": "minimax", **KNOBS}
    monkeypatch.setattr(_pareto_stage, "smooth_stage2", lambda *args, **kwargs: None)
    model, warned = fit(FairMTLClassifier(), hospitals, **params)
    info = model.solver_info_
    assert info["path"] == "dual" and info["status"] == "optimal" and not warned
    stage1, failed = info["attempts"]  # stage 1 by SQP, checked; then the failed stage 2
    assert stage1["stage"] == "main" and stage1["status"] == "optimal"
    assert failed["stage"] == "refine" and failed["error"] == MSG_CHECK_FAILED
    assert info["fallback_from"] == [stage1["solver"], "SQP"]
    assert info["refined"] is True  # the dual path's own Pareto stage
    assert_dual_answer(model, hospitals, params, monkeypatch)


def test_an_uncertified_dual_answer_still_warns(hospitals, large, monkeypatch):
    monkeypatch.setattr(_cvxpy, "smooth_stage1", lambda *args, **kwargs: None)
    original = DualProblem.solve

    def few_rounds(self, **kwargs):
        return original(self, **kwargs, max_rounds=2)

    monkeypatch.setattr(DualProblem, "solve", few_rounds)
    model, warned = fit(FairMTLClassifier(), hospitals, objective="minimax", **KNOBS)
    assert model.solver_info_["path"] == "dual"
    assert model.solver_info_["status"] == "inaccurate"
    assert any("dual solver stopped" in str(w.message) for w in warned)


def test_without_a_failure_the_route_is_unchanged(hospitals, large, monkeypatch):
    def no_dual(self, **kwargs):
        raise AssertionError("the dual path solved a problem the SQP had answered")

    monkeypatch.setattr(DualProblem, "solve", no_dual)
    for objective in ("minimax", "chebyshev"):
        model, warned = fit(FairMTLClassifier(), hospitals, objective=objective, **KNOBS)
        info = model.solver_info_
        assert info["path"] == "exact" and info["status"] == "optimal" and not warned
        assert "SQP" not in info["fallback_from"] and info["refined"] is True


def test_small_problems_still_fall_back_to_the_conic_program(hospitals, monkeypatch):
    monkeypatch.setattr(_cvxpy, "smooth_stage1", lambda *args, **kwargs: None)
    model, _ = fit(FairMTLClassifier(), hospitals, objective="minimax", **KNOBS)
    assert model.solver_info_["path"] == "exact"
    assert model.solver_info_["solver"] == "CLARABEL"
    assert model.solver_info_["status"] == "optimal"


def test_max_time_on_large_data_takes_the_dual_path(hospitals, large):
    model, _ = fit(FairMTLClassifier(max_time=60.0), hospitals, objective="minimax", **KNOBS)
    assert model.solver_info_["path"] == "dual"
    assert model.solver_info_["status"] == "optimal"


def test_what_the_dual_path_cannot_solve_keeps_the_conic_program(hospitals, monkeypatch):
    """alpha=0: neither the SQP nor the dual path applies; the conic program, as before."""
    monkeypatch.setattr(_linear, "DUAL_AUTO_SIZE", 1000)
    data = make_hospitals(3, n_samples=400, task="regression", random_state=0)
    model = FairMTLRegressor(objective="minimax", alpha=0.0, sharing_strength=1.0)
    model.fit(data.data, data.target, groups=data.groups)
    assert model.solver_info_["path"] == "exact"
    assert model.solver_info_["solver"] == "CLARABEL"


def test_infeasible_bounds_are_diagnosed_by_the_dual_path(hospitals, large, monkeypatch):
    """No model keeps every hospital's loss below 0.4: the exact path's SQP finds no
    feasible point, and the dual path names the blocking groups and the smallest
    feasible bound, as the exact path's conic diagnosis does, with no conic program
    on all the rows."""
    params = {"objective": "bounded", "epsilon": 0.4, **KNOBS}
    with pytest.raises(InfeasibleError) as caught:
        fit(FairMTLClassifier(), hospitals, **params)
    monkeypatch.undo()
    with pytest.raises(InfeasibleError) as exact:
        fit(FairMTLClassifier(solver="CLARABEL"), hospitals, **params)
    assert caught.value.min_feasible == pytest.approx(exact.value.min_feasible, rel=1e-4)
    assert set(caught.value.groups) == set(exact.value.groups)


def test_an_unknown_fallback_is_refused(hospitals):
    with pytest.raises(ValueError, match="Unknown fallback 'cvxpy'"):
        ExactProblem(
            np.zeros((4, 1)), np.array([1.0, -1.0, 1.0, -1.0]), np.zeros(4, dtype=int),
            np.ones(4), 1, loss=get_loss("logistic"), sharing="shared", objective="minimax",
            fallback="cvxpy",
        )  # fmt: skip
