"""Each objective has one home: a bad knob gets the same message from the exact path, the
dual path, the reduction and the neural path, and its plain form (dual path, reduction,
neural directions) has the value of its cvxpy form (exact path)."""

from __future__ import annotations

import importlib.util

import cvxpy as cp
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from fairmtl import FairMTLClassifier, FairMTLReduction
from fairmtl.datasets import make_hospitals
from fairmtl.estimators import _linear
from fairmtl.losses import get_loss
from fairmtl.objectives import (
    ALL_OBJECTIVES,
    OBJECTIVES,
    ObjectiveContext,
    make_objective,
    objective_class,
    objectives_with,
)
from fairmtl.solvers import DualProblem, ExactProblem

N_GROUPS = 4
LINEAR = dict(sharing="shared", alpha=1e-2, sharing_strength=1.0, adjustment=0.0)
MLP = dict(model="mlp", hidden_layer_sizes=(4,), max_epochs=1, alpha=1e-2,
           sharing_strength=1.0, adjustment=0.0, random_state=0)  # fmt: skip
HAS_TORCH = importlib.util.find_spec("torch") is not None
pytestmark = [
    # the neural path through the deprecated model="mlp" spelling, which still works
    pytest.mark.filterwarnings("ignore:.*FairMTLMLPClassifier:FutureWarning"),
]


@pytest.fixture(scope="module")
def data():
    bunch = make_hospitals(N_GROUPS, n_samples=400, min_size=60, random_state=0)
    return bunch.data, bunch.target.to_numpy(), bunch.groups.to_numpy()


def _estimator(path: str, objective: str, knobs: dict):
    if path == "exact":
        return FairMTLClassifier(objective=objective, solver="CLARABEL", **LINEAR, **knobs)
    if path == "dual":
        return FairMTLClassifier(objective=objective, solver="dual", **LINEAR, **knobs)
    if path == "reduction":
        return FairMTLReduction(LogisticRegression(), objective=objective, max_rounds=2, **knobs)
    return FairMTLClassifier(objective=objective, **MLP, **knobs)


def _message(path: str, objective: str, knobs: dict, data) -> str:
    X, y, g = data
    with pytest.raises(ValueError) as err:
        _estimator(path, objective, knobs).fit(X, y, groups=g)
    return str(err.value)


# (objective, a bad knob, the paths on which the objective exists)
CASES = [
    ("tilted", {}, ("exact", "dual", "reduction", "neural")),
    ("bounded", {}, ("exact", "dual", "reduction", "neural")),
    ("bounded", {"epsilon": [0.5] * (N_GROUPS + 1)}, ("exact", "dual", "reduction", "neural")),
    ("chebyshev", {"preference": [0.0] * N_GROUPS}, ("exact", "dual", "neural")),
    ("chebyshev", {"preference": [1.0, -1.0, 1.0, 1.0]}, ("exact", "dual", "neural")),
    ("chebyshev", {"preference": [1.0, 2.0]}, ("exact", "dual", "neural")),
    ("no_harm", {"epsilon": [0.1] * (N_GROUPS - 1)}, ("exact", "dual")),
    ("demographic_parity", {}, ("exact", "dual")),
]


@pytest.mark.parametrize("objective, knobs, paths", CASES)
def test_a_bad_knob_gets_one_message_on_every_path(objective, knobs, paths, data):
    paths = [p for p in paths if p != "neural" or HAS_TORCH]
    messages = {path: _message(path, objective, knobs, data) for path in paths}
    assert len(set(messages.values())) == 1, messages
    message = next(iter(messages.values()))
    knob = next(iter(knobs), "tilt" if objective == "tilted" else "epsilon")
    assert repr(knob) in message  # it names the knob at fault


# -- a bad knob is refused before any fit --------------------------------------------------
#: bad knobs of objectives that fit more first (an ideal point, a reference model)
BEFORE_FITS = [
    ("chebyshev", {"preference": [1.0, -1.0, 1.0, 1.0]}),  # ideal point
    ("chebyshev", {"preference": [1.0, 2.0]}),
    ("no_harm", {"epsilon": [0.1] * (N_GROUPS - 1)}),  # reference fit
    ("tilted", {}),
    ("bounded", {"epsilon": [0.5] * (N_GROUPS + 1), "adjustment": "auto"}),  # tunes C
]


def _no_fit(*args, **kwargs):
    raise AssertionError("a fit ran before the objective's knobs were checked")


@pytest.fixture
def no_fits(monkeypatch):
    """Every fit an estimator may run before its objective's solve fails if it runs."""
    monkeypatch.setattr(_linear, "tune", _no_fit)  # cross-validation
    for problem in (ExactProblem, DualProblem):
        monkeypatch.setattr(problem, "ideal_point", _no_fit)
        monkeypatch.setattr(problem, "reference_losses", _no_fit)
    monkeypatch.setattr(DualProblem, "_reference", _no_fit)
    monkeypatch.setattr(ExactProblem, "_build", _no_fit)  # the conic program's compile


@pytest.mark.parametrize("objective, knobs", BEFORE_FITS)
@pytest.mark.parametrize("solver", ["CLARABEL", "dual"])
@pytest.mark.parametrize("alpha", [1e-2, "auto"])
def test_a_bad_knob_is_refused_before_any_fit(objective, knobs, solver, alpha, data, no_fits):
    X, y, g = data
    params = {**LINEAR, "alpha": alpha, **knobs}
    est = FairMTLClassifier(objective=objective, solver=solver, **params)
    knob = next((k for k in knobs if k != "adjustment"), "tilt")
    with pytest.raises(ValueError, match=repr(knob)):
        est.fit(X, y, groups=g)


@pytest.mark.parametrize("objective, knobs", BEFORE_FITS[:3])
@pytest.mark.parametrize("problem", [ExactProblem, DualProblem])
def test_a_problem_checks_its_knobs_before_its_extra_fits(objective, knobs, problem, data, no_fits):
    X, y, g = data
    tasks = np.unique(g, return_inverse=True)[1]
    logistic = get_loss("logistic")
    built = problem(X.to_numpy(float), np.where(y == 1, 1.0, -1.0), tasks, np.ones(len(y)),
                    N_GROUPS, loss=logistic, sharing="shared", objective=objective)  # fmt: skip
    with pytest.raises(ValueError, match=repr(next(iter(knobs)))):
        built.solve(alpha=1e-2, **knobs)


# -- the plain form agrees with the cvxpy form ---------------------------------------------
SHARES = np.array([0.2, 0.3, 0.5])
INPUTS = {"ideal": np.array([0.1, 0.2, 0.05]), "reference": np.array([0.4, 0.5, 0.5])}


@pytest.mark.parametrize(
    "name, knobs, losses",
    [
        ("average", {}, [0.3, 0.6, 0.45]),
        ("balanced", {}, [0.3, 0.6, 0.45]),
        ("minimax", {"adjustment": [0.1, 0.0, 0.2]}, [0.3, 0.6, 0.45]),
        ("tilted", {"tilt": 3.0}, [0.3, 0.6, 0.45]),
        ("chebyshev", {"preference": [1.0, 2.0, 1.0]}, [0.3, 0.6, 0.45]),
        ("bounded", {"epsilon": 0.7, "adjustment": [0.0, 0.1, 0.0]}, [0.3, 0.6, 0.45]),
        ("bounded", {"epsilon": 0.5}, [0.3, 0.6, 0.45]),  # breaks a bound
        ("no_harm", {"epsilon": 0.05}, [0.3, 0.5, 0.45]),
        ("no_harm", {"epsilon": 0.05}, [0.3, 0.6, 0.45]),  # breaks a bound
    ],
)
def test_the_plain_form_has_the_cvxpy_forms_value(name, knobs, losses):
    G, L = len(SHARES), np.array(losses)
    objective = make_objective(name)
    extra = {k: v for k, v in INPUTS.items() if k in objective.needs}
    form = objective.form(G, SHARES, **knobs, **extra)
    # the exact path's form, minimised with the group losses fixed at L
    var = cp.Variable(G)
    value, constraints = objective.build(var, ObjectiveContext(G, SHARES))
    objective.set_values(G, **knobs, **extra)
    problem = cp.Problem(cp.Minimize(value), [var == L, *constraints])
    problem.solve(solver="CLARABEL")
    if problem.status == cp.INFEASIBLE:
        assert form.primal(L, 0.25) == np.inf
    else:
        assert problem.status == cp.OPTIMAL
        assert form.primal(L, 0.25) == pytest.approx(problem.value + 0.25, abs=1e-7)
    if objective.refine:
        np.testing.assert_allclose(form.refine_bounds(L), objective.refine_bounds(L))
    if objective.constrains_losses:
        np.testing.assert_allclose(form.bounds, objective.loss_bounds())


# -- the facts other layers ask of an objective ---------------------------------------------
#: each fact as the estimators, the tuning and the distributed fit used it, written out
FACTS = {
    "weighted_fit": {"average", "balanced"},
    "takes_adjustment": {"minimax", "bounded"},
    "constrains_rates": {"demographic_parity", "equal_opportunity", "equalized_odds"},
    "distributed": {"average", "balanced", "minimax", "tilted", "chebyshev", "bounded", "no_harm"},
}
KNOBS = {"epsilon": 0.5, "tilt": 2.0, "preference": [1.0, 2.0, 1.0]}


@pytest.mark.parametrize("fact, names", FACTS.items())
def test_each_fact_names_the_objectives_it_did(fact, names):
    assert set(objectives_with(fact)) == names
    assert {n for n in ALL_OBJECTIVES if getattr(objective_class(n), fact)} == names


@pytest.mark.parametrize("name", sorted(OBJECTIVES))
def test_the_facts_agree_with_the_forms(name):
    G, objective = len(SHARES), make_objective(name)
    extra = {k: v for k, v in INPUTS.items() if k in objective.needs}
    form = objective.form(G, SHARES, **KNOBS, **extra) if objective.form_kind else None
    # one weighted fit: the plain form is fixed group weights
    assert objective.weighted_fit == (form is not None and form.kind == "fixed")
    # the adjustment moves the form exactly when the objective takes it
    if form is not None:
        moved = objective.form(G, SHARES, **KNOBS, **extra, adjustment=[0.3, 0.0, 0.1])
        changed = not np.array_equal(form.shift, moved.shift) or not np.array_equal(
            form.bounds, moved.bounds
        )
        assert changed == objective.takes_adjustment
    else:
        assert not objective.takes_adjustment
    # rate constraints need a binary target; loss constraints take any task
    refused = False
    try:
        objective.check_task("regression")
    except ValueError:
        refused = True
    assert refused == objective.constrains_rates
    # a distributed fit solves a plain form of group losses only
    if objective.distributed:
        assert form is not None and form.kind != "rates"


@pytest.mark.parametrize("name", sorted(ALL_OBJECTIVES))
def test_the_distributed_fit_asks_the_objective(name):
    from fairmtl.distributed._estimator import MSG_AUTO_DISTRIBUTED, _check_settings

    est = FairMTLClassifier(objective=name, alpha=1e-2, sharing_strength=1.0, adjustment=0.0)
    if name in FACTS["distributed"]:
        _check_settings(est)
    else:
        with pytest.raises(ValueError, match=f"does not handle objective='{name}'"):
            _check_settings(est)
    # the adjustment must be a number where the objective takes it
    auto = FairMTLClassifier(objective=name, alpha=1e-2, sharing_strength=1.0, adjustment="auto")
    if name in FACTS["takes_adjustment"]:
        message = MSG_AUTO_DISTRIBUTED.format(name="adjustment", example="adjustment=0.0")
        with pytest.raises(ValueError, match=message[:40]):
            _check_settings(auto)
    elif name in FACTS["distributed"]:
        _check_settings(auto)
