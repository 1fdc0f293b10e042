"""The dual path against the exact path: same optimum, and a gap that is a true bound.

Every expected value comes from :class:`~fairmtl.solvers.ExactProblem` (CLARABEL, about
1e-8 accurate) on the same problem, never from numbers the dual path printed.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from solver_statuses import gap_within_tolerance

from fairmtl import FairMTLClassifier, FairMTLRegressor
from fairmtl.datasets import make_hospitals
from fairmtl.estimators import _linear
from fairmtl.exceptions import InfeasibleError
from fairmtl.losses import get_loss
from fairmtl.solvers import DualProblem, ExactProblem
from fairmtl.solvers._grouped import GroupedData
from fairmtl.solvers._oracle import LinearOracle

#: accuracy of the exact path's reported objective (interior point, relative)
EXACT_TOL = 1e-6


def make_problem(seed, n=400, d=3, G=3, task="binary", skew=True):
    """Groups with shifted features, different true models, unequal sizes and weights."""
    rng = np.random.default_rng(seed)
    sizes = rng.dirichlet(np.full(G, 2.0 if skew else 50.0)) * (n - 20 * G) + 20
    tasks = np.repeat(np.arange(G), np.round(sizes).astype(int))
    rng.shuffle(tasks)
    n = len(tasks)
    shift, coef = rng.normal(size=(G, d)), rng.normal(size=(G, d))
    X = rng.normal(size=(n, d)) + shift[tasks]
    score = np.einsum("nd,nd->n", X, coef[tasks])
    X = X * rng.uniform(0.5, 3.0, d) + rng.normal(0, 2, d)
    if task == "binary":
        y = np.where(score + rng.logistic(size=n) > 0, 1.0, -1.0)
    else:
        y = score + rng.normal(size=n)
    w = rng.uniform(0.3, 2.0, n)
    return X, y, tasks, w, G


def both(X, y, t, w, G, *, loss, sharing, objective, **solve):
    args = dict(loss=get_loss(loss), sharing=sharing, objective=objective)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exact = ExactProblem(X, y, t, w, G, **args).solve(**solve)
    dual = DualProblem(X, y, t, w, G, **args).solve(**solve)
    return exact, dual


def assert_certified(exact, dual):
    """The exact optimum lies in [lower, upper] and upper - optimum <= gap."""
    info = dual.solver_info
    opt = optimum(exact.solver_info)
    slack = EXACT_TOL * max(1.0, abs(opt))
    assert info["path"] == "dual"
    assert info["lower_bound"] <= opt + slack, (info["lower_bound"], opt)
    assert info["upper_bound"] >= opt - slack, (info["upper_bound"], opt)
    assert info["upper_bound"] - opt <= info["gap"] + slack
    assert info["gap"] == pytest.approx(info["upper_bound"] - info["lower_bound"])
    if info["status"] == "optimal":
        # minimax and chebyshev: stage 1 is certified; the Pareto stage may then spend
        # penalty to lower other groups' losses (upper_bound is the returned model's own)
        assert gap_within_tolerance(info, dual.group_losses)


def optimum(info: dict) -> float:
    """The optimum of the stated objective: stage 1's when a Pareto stage followed."""
    return info.get("stage1_objective", info["objective"])


# -- the certificate across random problems --------------------------------------------


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 10_000),
    sharing=st.sampled_from(["shared", "independent", "offset"]),
    objective=st.sampled_from(["minimax", "tilted", "chebyshev", "bounded", "no_harm", "balanced"]),
    loss=st.sampled_from(["logistic", "squared", "huber"]),
    G=st.integers(2, 4),
    alpha=st.sampled_from([1e-3, 1e-2, 1e-1]),
)
def test_gap_is_a_true_bound_on_random_problems(seed, sharing, objective, loss, G, alpha):
    X, y, t, w, G = make_problem(seed, G=G, task="binary" if loss == "logistic" else "reg")
    solve = dict(alpha=alpha, sharing_strength=0.5, tilt=3.0, epsilon=0.0)
    if objective == "bounded":
        # 3% under the worst group of the average fit: feasible or not, both paths agree
        avg = DualProblem(
            X, y, t, w, G, loss=get_loss(loss), sharing=sharing, objective="average"
        ).solve(alpha=alpha, sharing_strength=0.5)
        solve["epsilon"] = 0.97 * float(avg.group_losses.max())
        try:
            exact, dual = both(
                X, y, t, w, G, loss=loss, sharing=sharing, objective=objective, **solve
            )
        except InfeasibleError:
            with pytest.raises(InfeasibleError):
                both(X, y, t, w, G, loss=loss, sharing=sharing, objective=objective, **solve)
            return
        assert np.all(dual.group_losses <= solve["epsilon"] + 1e-12)
    else:
        exact, dual = both(X, y, t, w, G, loss=loss, sharing=sharing, objective=objective, **solve)
    assert dual.solver_info["status"] == "optimal"
    assert_certified(exact, dual)


@pytest.mark.parametrize("sharing", ["shared", "independent", "offset"])
def test_minimax_reaches_the_exact_optimum_and_refines(sharing):
    X, y, t, w, G = make_problem(1, n=600, G=4)
    exact, dual = both(
        X, y, t, w, G, loss="logistic", sharing=sharing, objective="minimax",
        alpha=1e-2, sharing_strength=1.0,
    )  # fmt: skip
    assert_certified(exact, dual)
    info = dual.solver_info
    assert info["refined"] and info["refine_status"] == "optimal"
    # the refined model keeps every group within the stage-1 guarantee
    worst = optimum(exact.solver_info) + info["stage1_gap"]
    shares = np.bincount(t, weights=w) / w.sum()
    assert dual.group_losses.max() <= worst + 1e-4
    # and its average loss is no worse than the exact path's answer (up to the guarantee)
    assert shares @ dual.group_losses <= shares @ exact.group_losses + 1e-4


def test_average_equals_exact_to_the_oracle_accuracy():
    X, y, t, w, G = make_problem(2)
    exact, dual = both(X, y, t, w, G, loss="logistic", sharing="offset", objective="average",
                       alpha=1e-2, sharing_strength=0.3)  # fmt: skip
    assert_certified(exact, dual)
    assert dual.solver_info["gap"] < 1e-7
    np.testing.assert_allclose(dual.coef, exact.coef, atol=1e-3)


def test_no_harm_improves_on_the_reference_for_every_group():
    X, y, t, w, G = make_problem(3, n=500, G=3)
    exact, dual = both(X, y, t, w, G, loss="logistic", sharing="offset", objective="no_harm",
                       alpha=1e-2, sharing_strength=1.0, epsilon=0.0)  # fmt: skip
    reference = np.asarray(dual.solver_info["extra"]["reference"])
    assert np.all(dual.group_losses <= reference + 1e-12)
    assert_certified(exact, dual)


# -- the oracle's certificate alone ----------------------------------------------------


@pytest.mark.parametrize("sharing", ["shared", "independent", "offset"])
@pytest.mark.parametrize("loss", ["logistic", "squared", "huber"])
def test_oracle_error_bound_covers_the_true_suboptimality(sharing, loss):
    X, y, t, w, G = make_problem(4, n=500, G=3, task="binary" if loss == "logistic" else "r")
    oracle = LinearOracle(GroupedData(X, y, t, w, G), get_loss(loss), sharing)
    oracle.set_penalty(1e-3, 0.7)
    lam = np.array([0.5, 0.0, 0.5])
    rough = oracle.solve(lam, target=1e-2)
    best = oracle.solve(lam, (rough.coef, rough.intercept), target=1e-13)
    true_error = rough.value - (best.value - best.error)
    assert rough.error >= true_error - 1e-12
    assert best.error <= 1e-11


def test_one_class_group_keeps_a_finite_certificate():
    X, y, t, w, G = make_problem(5, n=300, G=3)
    y = np.where(t == 2, 1.0, y)  # group 2 has positives only
    oracle = LinearOracle(GroupedData(X, y, t, w, G), get_loss("logistic"), "independent")
    oracle.set_penalty(1e-2, 0.0)
    answer = oracle.solve(np.full(3, 1 / 3), target=1e-9)
    assert answer.error <= 1e-8
    assert answer.losses[2] < 1e-12


# -- infeasible bounds and unsupported problems ------------------------------------------


def test_infeasible_bounds_raise_with_groups_and_smallest_epsilon():
    X, y, t, w, G = make_problem(6, n=500, G=3)
    args = dict(loss=get_loss("logistic"), sharing="shared", objective="bounded")
    with pytest.raises(InfeasibleError) as exact_err, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ExactProblem(X, y, t, w, G, **args).solve(alpha=1e-2, epsilon=0.05)
    with pytest.raises(InfeasibleError, match="smallest feasible epsilon") as dual_err:
        DualProblem(X, y, t, w, G, **args).solve(alpha=1e-2, epsilon=0.05)
    assert dual_err.value.groups == exact_err.value.groups
    assert dual_err.value.min_feasible == pytest.approx(exact_err.value.min_feasible, rel=1e-3)


@pytest.mark.parametrize(
    ("loss", "sharing", "objective", "alpha", "match"),
    [
        ("logistic", "lowrank", "minimax", 1e-2, "sharing='lowrank'"),
        ("hinge", "shared", "minimax", 1e-2, "smooth loss"),
        ("logistic", "shared", "gap", 1e-2, "objective='gap'"),
        ("logistic", "offset", "demographic_parity", 1e-2, "sharing='offset'"),
        ("logistic", "shared", "minimax", 0.0, "alpha=0"),
    ],
)
def test_unsupported_problems_say_to_use_the_exact_path(loss, sharing, objective, alpha, match):
    X, y, t, w, G = make_problem(7, n=200)
    problem = DualProblem(X, y, t, w, G, loss=get_loss(loss), sharing=sharing, objective=objective)
    with pytest.raises(ValueError, match=match) as err:
        problem.solve(alpha=alpha, epsilon=0.1)
    assert "solver='CLARABEL'" in str(err.value)


def test_knob_checks_match_the_exact_path():
    X, y, t, w, G = make_problem(8, n=200)
    tilted = DualProblem(X, y, t, w, G, loss=get_loss("logistic"), sharing="shared",
                         objective="tilted")  # fmt: skip
    with pytest.raises(ValueError, match="needs 'tilt'"):
        tilted.solve(alpha=1e-2)
    with pytest.raises(ValueError, match="'tilt' must be > 0"):
        tilted.solve(alpha=1e-2, tilt=-1.0)


# -- through the estimators --------------------------------------------------------------


def test_estimator_solver_dual_and_auto(monkeypatch):
    data = make_hospitals(6, n_samples=3000, random_state=0)
    dual = FairMTLClassifier(objective="minimax", solver="dual").fit(
        data.data, data.target, groups=data.groups
    )
    assert dual.solver_info_["path"] == "dual" and dual.solver_info_["status"] == "optimal"
    exact = FairMTLClassifier(objective="minimax").fit(data.data, data.target, groups=data.groups)
    assert exact.solver_info_["path"] == "exact"
    assert dual.solver_info_["lower_bound"] <= optimum(exact.solver_info_) + 1e-6
    assert dual.score(data.data, data.target, groups=data.groups) == pytest.approx(
        exact.score(data.data, data.target, groups=data.groups), abs=0.01
    )
    monkeypatch.setattr(_linear, "DUAL_AUTO_SIZE", 1000)
    # large, 8 features and 9 parameters: bounded stays on the exact path's SQP, minimax
    # goes to the dual path's smooth stages, the average loss to the dual path, and so
    # does bounded on wider rows
    auto = FairMTLClassifier(objective="minimax").fit(data.data, data.target, groups=data.groups)
    assert auto.solver_info_["path"] == "dual" and "smooth stages" in auto.solver_info_["solver"]
    assert auto.solver_info_["lower_bound"] <= optimum(exact.solver_info_) + 1e-6
    bounded = FairMTLClassifier(objective="bounded", epsilon=0.7, alpha=1e-3)
    bounded.fit(data.data, data.target, groups=data.groups)
    assert bounded.solver_info_["path"] == "exact"
    average = FairMTLClassifier(objective="average", alpha=1e-3, sharing_strength=1.0)
    assert average.fit(data.data, data.target, groups=data.groups).solver_info_["path"] == "dual"
    monkeypatch.setattr(_linear, "SQP_LARGE_FEATURES", 4)
    bounded.fit(data.data, data.target, groups=data.groups)
    assert bounded.solver_info_["path"] == "dual"
    hinge = FairMTLClassifier(objective="minimax", loss="hinge")
    assert hinge.fit(data.data, data.target, groups=data.groups).solver_info_["path"] == "exact"
    with pytest.raises(ValueError, match="smooth loss"):
        FairMTLClassifier(loss="hinge", solver="dual").fit(
            data.data, data.target, groups=data.groups
        )


def test_regressor_bounded_on_the_dual_path():
    data = make_hospitals(4, n_samples=2000, task="regression", random_state=2)
    avg = FairMTLRegressor("shared", objective="average", solver="dual").fit(
        data.data, data.target, groups=data.groups
    )
    eps = 0.98 * float(avg.group_losses_.max())
    est = FairMTLRegressor("shared", objective="bounded", epsilon=eps, solver="dual").fit(
        data.data, data.target, groups=data.groups
    )
    assert est.solver_info_["status"] == "optimal"
    assert est.group_losses_.max() <= eps + 1e-12


def test_default_certificate_is_one_in_a_million():
    """A default solve stops "optimal" only with a relative gap of at most 1e-6, and that
    gap holds against the exact path's optimum."""
    X, y, t, w, G = make_problem(5, n=500, G=4)
    exact, dual = both(X, y, t, w, G, loss="logistic", sharing="offset", objective="minimax",
                       alpha=1e-3, sharing_strength=0.5)  # fmt: skip
    info = dual.solver_info
    assert info["status"] == "optimal" and info["stage1_relative_gap"] <= 1e-6
    assert info["stage1_objective"] - optimum(exact.solver_info) <= info["stage1_gap"] + 1e-9


@pytest.mark.parametrize("sharing", ["independent", "offset", "shared"])
@pytest.mark.parametrize("storage", ["dense", "sparse"])
def test_batched_loss_equals_the_loop_over_groups(sharing, storage, monkeypatch):
    """Few rows in all: one loss call over every group's rows gives the value and the
    gradient of the loop that takes each group's rows in turn."""
    import scipy.sparse as sp

    from fairmtl.solvers import _oracle
    from fairmtl.solvers._precondition import Coordinates

    rng = np.random.default_rng(5)
    G, d = 4, 6
    tasks = np.repeat(np.arange(G), [50, 80, 30, 90])
    n = len(tasks)
    X = rng.normal(size=(n, d)) * (rng.uniform(size=(n, d)) < 0.5)
    y = np.where(rng.uniform(size=n) < 0.5, 1.0, -1.0)
    data = GroupedData(sp.csr_matrix(X) if storage == "sparse" else X, y, tasks, np.ones(n), G)
    lam = np.array([0.1, 0.4, 0.0, 0.5])  # a group of weight 0 is left out
    P = 1 if sharing == "shared" else G
    w, b = rng.normal(size=(P, d)), rng.normal(size=P)

    def value_grad(batch_rows):
        monkeypatch.setattr(_oracle, "BATCH_ROWS", batch_rows)
        oracle = LinearOracle(data, get_loss("logistic"), sharing)
        oracle.set_penalty(0.01, 0.3)
        segs = oracle._segments_for(lam)
        assert segs.batched == (batch_rows > 0)  # two or more chunks (shared: two runs)
        coords = Coordinates(data.group_mean, data.group_sq, lam, oracle.penalty, 0.25)
        return oracle._value_grad(coords.to_x(w, b), segs, coords)

    batched, looped = value_grad(_oracle.BATCH_ROWS), value_grad(0)
    assert batched[0] == pytest.approx(looped[0], rel=1e-13)
    np.testing.assert_allclose(batched[1], looped[1], rtol=1e-12, atol=1e-14)


def test_nested_blas_limits_hold_the_outer_one():
    """Inside one_blas_thread a nested one costs no new limit and leaves BLAS on one
    thread when it ends; after the outer one, BLAS is back to its own thread count."""
    from threadpoolctl import threadpool_info

    from fairmtl.solvers import one_blas_thread

    def blas_threads():
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    before = blas_threads()
    with one_blas_thread():
        assert all(t == 1 for t in blas_threads())
        with one_blas_thread():
            assert all(t == 1 for t in blas_threads())
        assert all(t == 1 for t in blas_threads())
    assert blas_threads() == before
