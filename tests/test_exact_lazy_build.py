"""The exact path builds its conic program only when a stage solves it.

- A fit whose every stage SQP answers (stage 1, the Pareto stage, the ideal point of
  ``chebyshev``, the reference fit of ``no_harm``) constructs no ``cvxpy.Problem``, and
  reports the objective of the model it returns (recomputed here in numpy).
- A stage that needs the conic program builds it then, with the knobs already set, and
  gets the answer of the same problem written directly in cvxpy and solved by CLARABEL.
- Each group's ideal point (``chebyshev``) from its own rows equals the all-rows fit.
- The per-row outputs of the group losses (one product where every group holds the same
  model) equal each row's own product.
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest

from fairmtl import FairMTLClassifier
from fairmtl.losses import get_loss
from fairmtl.solvers import DualProblem, ExactProblem, _cvxpy, _pareto_stage, group_outputs
from fairmtl.solvers._sqp import NEWTON_SQP, SMOOTH_SOLVERS
from tests.test_exact_stages import (
    assert_textbook_minimax_stages,
    grouped_binary,
    shared_logistic_losses,
    textbook,
)

ALPHA = 1e-2


@pytest.fixture
def problems_built(monkeypatch) -> list[cp.Problem]:
    """Every ``cvxpy.Problem`` constructed while the test runs."""
    built: list[cp.Problem] = []
    original = cp.Problem.__init__

    def counting(self, *args, **kwargs):
        built.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(cp.Problem, "__init__", counting)
    return built


@pytest.fixture
def builds(monkeypatch) -> list[object]:
    """The exact problems whose conic program was built while the test runs."""
    built: list[object] = []
    original = _cvxpy.ExactProblem._build

    def counting(self):
        built.append(self)
        original(self)

    monkeypatch.setattr(_cvxpy.ExactProblem, "_build", counting)
    return built


def fit(X, y, g, **params) -> FairMTLClassifier:
    params = {"sharing": "shared", "alpha": ALPHA, "sharing_strength": 0.0, **params}
    return FairMTLClassifier(solver="auto", **params).fit(X, y, groups=g)


@pytest.mark.parametrize(
    "params",
    [
        {"objective": "bounded", "epsilon": 0.62},
        {"objective": "minimax"},
        {"objective": "chebyshev", "preference": [1.0, 2.0, 1.0]},
        {"objective": "no_harm", "epsilon": 0.0},
        {"objective": "minimax", "sharing": "offset", "sharing_strength": 1.0},
    ],
    ids=["bounded", "minimax", "chebyshev", "no_harm", "offset-minimax"],
)
def test_a_fit_sqp_answers_constructs_no_cvxpy_problem(params, problems_built):
    X, y, g = grouped_binary(0)
    info = fit(X, y, g, **params).solver_info_
    assert info["path"] == "exact" and info["status"] == "optimal"
    assert info["solver"] == NEWTON_SQP
    if "refine_attempts" in info:
        assert [a["solver"] for a in info["refine_attempts"]] == [NEWTON_SQP]
    assert problems_built == []


def test_the_reported_objective_is_the_returned_models_own(problems_built):
    X, y, g = grouped_binary(1)
    model = fit(X, y, g, objective="minimax")
    assert problems_built == [] and model.solver_info_["refined"] is True
    losses = shared_logistic_losses(model, X, y, g)
    own = losses.max() + ALPHA * float(model.coef_[0] @ model.coef_[0])
    assert model.solver_info_["objective"] == pytest.approx(own, rel=1e-12)


@pytest.mark.parametrize("sharing", ["shared", "independent", "offset"])
@pytest.mark.parametrize("objective", ["minimax", "chebyshev"])
def test_the_reported_objective_equals_the_programs_value(sharing, objective):
    """Computed in numpy without the program, it is the program's own expression (per-row
    cvxpy losses and the cvxpy penalty) evaluated at the returned model."""
    X, y, g = grouped_binary(5)
    y = np.where(y == 1, 1.0, -1.0)
    args = (X, y, g, np.ones(len(y)), 3)
    problem = ExactProblem(*args, loss=get_loss("logistic"), sharing=sharing, objective=objective)
    info = problem.solve(alpha=ALPHA, sharing_strength=0.5, solver="auto").solver_info
    assert info["solver"] in SMOOTH_SOLVERS and info["refined"] is True
    assert problem._problem is None
    program = problem.problem  # built now, at the returned model
    assert program.objective.expr.value == pytest.approx(info["objective"], rel=1e-12)


def test_a_conic_stage_one_builds_the_program_with_the_knobs_set(monkeypatch, builds):
    X, y, g = grouped_binary(2)
    monkeypatch.setattr(_cvxpy, "smooth_stage1", lambda *args, **kwargs: None)
    shares = np.bincount(g) / len(g)
    bounds = np.array([0.66, 0.6, 0.64])
    model = fit(X, y, g, objective="bounded", epsilon=bounds)
    info = model.solver_info_
    assert info["solver"] == "CLARABEL" and info["status"] == "optimal"
    assert len(builds) == 1  # built once, on the conic stage's demand
    expected, expected_losses, _ = textbook(X, y, g, ALPHA, "bounded", bounds)
    losses = shared_logistic_losses(model, X, y, g)
    assert info["objective"] == pytest.approx(expected, rel=1e-6)
    np.testing.assert_allclose(losses, expected_losses, atol=1e-6)
    assert float(shares @ losses) + ALPHA * float(model.coef_[0] @ model.coef_[0]) == (
        pytest.approx(expected, rel=1e-6)
    )


def test_a_conic_pareto_stage_after_sqp_gets_the_textbook_answer(monkeypatch, builds):
    X, y, g = grouped_binary(3)
    monkeypatch.setattr(_pareto_stage, "smooth_stage2", lambda *args, **kwargs: None)
    model = fit(X, y, g, objective="minimax")
    info = model.solver_info_
    assert info["solver"] == NEWTON_SQP and info["refined"] is True
    assert info["refine_attempts"][-1]["solver"] == "CLARABEL"
    assert len(builds) == 1  # built by the Pareto stage, after SQP's stage 1
    losses = assert_textbook_minimax_stages(model, X, y, g, ALPHA)
    own = losses.max() + ALPHA * float(model.coef_[0] @ model.coef_[0])
    assert info["objective"] == pytest.approx(own, rel=1e-9)


def all_rows_ideal_point(problem: ExactProblem, alpha, strength, solver) -> np.ndarray:
    """Each group's minimum loss by a weighted fit over every row (the definition)."""
    args = (problem.X, problem.y, problem.tasks, problem.w, problem.n_groups)
    kwargs = {"loss": problem.loss, "sharing": problem.sharing_name, "task": problem.task}
    full = ExactProblem(*args, objective="weighted", **kwargs)
    ideal = np.empty(problem.n_groups)
    for g in range(problem.n_groups):
        weights = np.eye(problem.n_groups)[g]
        fit = full.solve(
            alpha=alpha, sharing_strength=strength, solver=solver, group_weights=weights
        )
        ideal[g] = fit.group_losses[g]
    return ideal


def ideal_point_rows(task: str, seed: int, noise_seed: int):
    """Four groups' rows ``(X, y, g, w, 4)`` of a binary or regression task, and the loss."""
    X, y, g = grouped_binary(seed, G=4, n=600)
    if task == "regression":
        y = X @ np.arange(1.0, 5.0) + g + np.random.default_rng(noise_seed).normal(size=len(y))
        loss = get_loss("squared")
    else:
        y, loss = np.where(y == 1, 1.0, -1.0), get_loss("logistic")
    return (X, y, g, np.ones(len(y)), 4), loss


@pytest.mark.parametrize("solver", ["auto", "CLARABEL"])
@pytest.mark.parametrize("sharing", ["shared", "independent", "offset"])
@pytest.mark.parametrize("task", ["binary", "regression"])
def test_each_ideal_loss_from_its_groups_rows_equals_the_all_rows_fit(task, sharing, solver):
    args, loss = ideal_point_rows(task, 4, 0)
    problem = ExactProblem(*args, loss=loss, sharing=sharing, objective="chebyshev", task=task)
    alpha, strength = 1e-2, 0.5
    ideal = problem.ideal_point(alpha, strength, solver)
    assert all(len(h.X) < len(args[0]) for h in problem._helpers.values())  # each on its rows
    expected = all_rows_ideal_point(problem, alpha, strength, solver)
    np.testing.assert_allclose(ideal, expected, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("same", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_group_outputs_equal_each_rows_own_product(same, dtype):
    rng = np.random.default_rng(6)
    X, tasks = rng.normal(size=(500, 4)).astype(dtype), rng.integers(0, 5, size=500)
    coef, intercept = rng.normal(size=(5, 4, 2)), rng.normal(size=(5, 2))
    if same:  # shared sharing: every group holds the one model
        coef, intercept = np.repeat(coef[:1], 5, axis=0), np.repeat(intercept[:1], 5, axis=0)
    expected = np.array([X[i] @ coef[t] + intercept[t] for i, t in enumerate(tasks)])
    z = group_outputs(X, tasks, coef, intercept)
    np.testing.assert_allclose(z, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("sharing", ["shared", "independent", "offset"])
@pytest.mark.parametrize("task", ["binary", "regression"])
def test_dual_ideal_loss_from_its_groups_rows_equals_the_exact_all_rows_fit(task, sharing):
    """The dual path's ideal point (one oracle fit per group on that group's rows) against
    the definition solved by the exact path's conic program over every row."""
    args, loss = ideal_point_rows(task, 5, 1)
    dual = DualProblem(*args, loss=loss, sharing=sharing, objective="chebyshev", task=task)
    exact = ExactProblem(*args, loss=loss, sharing=sharing, objective="chebyshev", task=task)
    alpha, strength = 1e-2, 0.5
    ideal = dual.ideal_point(alpha, strength)
    expected = all_rows_ideal_point(exact, alpha, strength, "CLARABEL")
    np.testing.assert_allclose(ideal, expected, rtol=1e-6, atol=1e-8)
