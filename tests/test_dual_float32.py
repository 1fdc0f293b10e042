"""The dual path on float32 storage: same fit, a gap that is still a true bound, half the bytes.

The rows are held in float32 when the caller's X is float32 or every value is exactly a
float32 (:mod:`fairmtl.solvers._oracle`); L-BFGS then multiplies in float32 while the
reported numbers and the certificate stay exact float64 on the stored data. Expected
values come from the exact path (CLARABEL) on the same float32-rounded data.
"""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from fairmtl import FairMTLClassifier, FairMTLRegressor
from fairmtl.datasets import make_hospitals
from fairmtl.losses import get_loss
from fairmtl.solvers import _grouped
from fairmtl.solvers._grouped import GroupedData
from fairmtl.solvers._oracle import LinearOracle

#: accuracy of the exact path's reported objective (interior point, relative)
EXACT_TOL = 1e-6
ALPHA = 1e-2


def hospitals(task: str, seed: int = 0):
    """Features (float64 ndarray), target and groups of a small health system."""
    data = make_hospitals(4, n_samples=2000, task=task, random_state=seed)
    return data.data.to_numpy(np.float64), data.target.to_numpy(), data.groups.to_numpy()


def fit(estimator, X, y, groups, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exact path's accuracy notes
        return estimator(alpha=ALPHA, **params).fit(X, y, groups=groups)


def optimum(info: dict) -> float:
    """The optimum of the stated objective: stage 1's when a Pareto stage followed."""
    return info.get("stage1_objective", info["objective"])


def assert_certified(opt: float, info: dict) -> None:
    """The exact optimum lies in [lower, upper] (as in tests/test_dual.py)."""
    slack = EXACT_TOL * max(1.0, abs(opt))
    assert info["path"] == "dual" and info["status"] == "optimal"
    assert info["lower_bound"] <= opt + slack, (info["lower_bound"], opt)
    assert info["upper_bound"] >= opt - slack, (info["upper_bound"], opt)
    assert info["upper_bound"] - opt <= info["gap"] + slack


# -- the fit and its certificate ---------------------------------------------------------


@pytest.mark.parametrize("sharing", ["shared", "offset"])
@pytest.mark.parametrize(
    ("estimator", "task", "objective"),
    [
        (FairMTLClassifier, "classification", "minimax"),
        (FairMTLClassifier, "classification", "bounded"),
        (FairMTLRegressor, "regression", "minimax"),
        (FairMTLRegressor, "regression", "bounded"),
    ],
)
def test_float32_fit_matches_float64_and_its_gap_is_a_true_bound(
    estimator, task, objective, sharing
):
    X64, y, groups = hospitals(task)
    X32 = X64.astype(np.float32)
    params = dict(sharing=sharing, objective=objective, sharing_strength=0.5)
    if objective == "bounded":
        average = fit(estimator, X64, y, groups, sharing=sharing, objective="average",
                      solver="dual", sharing_strength=0.5)  # fmt: skip
        params["epsilon"] = 0.98 * float(average.group_losses_.max())
    wide = fit(estimator, X64, y, groups, solver="dual", **params)
    narrow = fit(estimator, X32, y, groups, solver="dual", **params)
    # the exact path upcasts the float32 values exactly: the same problem as stored
    exact = fit(estimator, X32, y, groups, solver="CLARABEL", **params)
    info, wide_info = narrow.solver_info_, wide.solver_info_
    assert_certified(optimum(exact.solver_info_), info)
    assert_certified(optimum(fit(estimator, X64, y, groups, solver="CLARABEL", **params)
                     .solver_info_), wide_info)  # fmt: skip
    # the two data sets differ by float32 rounding only (relative 6e-8)
    gaps = info["gap"] + wide_info["gap"]
    assert abs(info["objective"] - wide_info["objective"]) <= gaps + 1e-6
    # the objective is ALPHA-strongly convex in the coefficients: |w - w*|^2 <= gap / ALPHA,
    # and the refined minimax model is within two gaps of the minimax optimum
    radius = 2 * np.sqrt(2 * gaps / ALPHA) + 1e-4
    assert np.max(np.abs(narrow.group_coef_ - wide.group_coef_)) <= radius
    if objective == "bounded":
        assert narrow.group_losses_.max() <= params["epsilon"] + 1e-12
    # predictions take float32 input too
    assert narrow.score(X32, y, groups=groups) == pytest.approx(
        wide.score(X64, y, groups=groups), abs=0.02
    )


def test_oracle_error_bound_on_float32_covers_the_true_suboptimality():
    X64, y, groups = hospitals("classification", seed=1)
    tasks = np.unique(groups, return_inverse=True)[1]
    data = GroupedData(X64.astype(np.float32), np.where(y > 0, 1.0, -1.0), tasks,
                       np.ones(len(y)), 4)  # fmt: skip
    oracle = LinearOracle(data, get_loss("logistic"), "offset")
    oracle.set_penalty(1e-3, 0.7)
    lam = np.array([0.4, 0.0, 0.3, 0.3])
    rough = oracle.solve(lam, target=1e-2)
    best = oracle.solve(lam, (rough.coef, rough.intercept), target=1e-13)
    assert rough.error >= rough.value - (best.value - best.error) - 1e-12
    assert best.error <= 1e-11  # polished with exact products past float32's noise


# -- what is stored ------------------------------------------------------------------------


def three_tasks(n: int) -> np.ndarray:
    """Unsorted tasks of 3 groups: the rows are gathered into the stored copy."""
    tasks = np.random.default_rng(0).integers(0, 3, n)
    tasks[:3] = [0, 1, 2]
    return tasks


def grouped(X) -> GroupedData:
    n = X.shape[0]
    y = np.where(np.arange(n) % 3 == 0, 1.0, -1.0)
    return GroupedData(X, y, three_tasks(n), np.ones(n), 3)


def test_stored_dtype_follows_the_input_and_exactness():
    rng = np.random.default_rng(0)
    generic = rng.normal(size=(300, 5))
    one_hot = np.eye(6)[rng.integers(0, 6, 300)]  # mostly zeros: held as CSR
    counts = rng.integers(1, 50, size=(300, 4)).astype(np.float64)
    cases = [
        (generic.astype(np.float32), np.float32),
        (sp.csr_matrix(one_hot.astype(np.float32)), np.float32),
        (one_hot, np.float32),
        (counts, np.float32),
        (generic, np.float64),
        (sp.csr_matrix(one_hot + generic[:, :1] * (one_hot > 0)), np.float64),
        (counts + 1e-9, np.float64),
    ]
    for X, dtype in cases:
        data = grouped(X)
        assert data.dtype == dtype and data.X.dtype == dtype, (type(X), X.dtype)
        dense = data.X.toarray() if sp.issparse(data.X) else data.X
        original = X.toarray() if sp.issparse(X) else X
        order = np.argsort(three_tasks(X.shape[0]), kind="stable")
        np.testing.assert_array_equal(dense, original[order].astype(dtype))
    assert sp.issparse(grouped(one_hot).X)


def test_estimator_keeps_float32_for_the_dual_path_only():
    X64, y, groups = hospitals("classification")
    X32 = X64.astype(np.float32)
    dual = FairMTLClassifier(solver="dual", alpha=ALPHA)
    assert dual._prepare(X32, y, groups, None).X.dtype == np.float32
    exact = FairMTLClassifier(solver="CLARABEL", alpha=ALPHA)
    assert exact._prepare(X32, y, groups, None).X.dtype == np.float64
    auto = FairMTLClassifier(alpha=ALPHA)  # small: the exact path, in float64
    assert auto._prepare(X32, y, groups, None).X.dtype == np.float64


# -- memory --------------------------------------------------------------------------------


def test_float32_storage_holds_half_the_bytes():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(2000, 20))
    assert grouped(X.astype(np.float32)).X.nbytes == pytest.approx(grouped(X).X.nbytes / 2)
    S = sp.random(2000, 40, density=0.05, random_state=2, format="csr")
    wide, narrow = grouped(S).X, grouped(S.astype(np.float32)).X
    assert narrow.data.nbytes == pytest.approx(wide.data.nbytes / 2)


@pytest.mark.parametrize("sharing", ["shared", "independent"])
@pytest.mark.parametrize("sparse", [False, True])
def test_no_float64_copy_of_float32_rows(monkeypatch, sharing, sparse):
    """Building, solving, evaluating: never more than a few chunks beyond the stored rows."""
    monkeypatch.setattr(_grouped, "_CHUNK", 1000)
    monkeypatch.setattr(_grouped, "STACK_GROUPS", 1)  # independent: the stacked products
    rng = np.random.default_rng(3)
    X = rng.normal(size=(20_000, 400 if sparse else 100)).astype(np.float32)
    if sparse:
        X = sp.csr_matrix(X * (rng.random(X.shape) < 0.25))
    stored = X.data.nbytes + X.indices.nbytes if sparse else X.nbytes
    copy64 = 2 * (X.data.nbytes if sparse else X.nbytes)  # a float64 copy of the values
    tracemalloc.start()
    try:
        data = grouped(X)
        _, build_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        oracle = LinearOracle(data, get_loss("logistic"), sharing)
        oracle.set_penalty(1e-2, 0.0)
        answer = oracle.solve(np.full(3, 1 / 3), target=1e-6, max_iter=20)
        oracle.evaluate(answer.coef, answer.intercept)
        _, solve_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert data.dtype == np.float32
    # the stored copy (rows gathered by group), then chunks; the stacked sparse products
    # also hold the rows transposed once, in float32
    transposed = stored if sparse and sharing == "independent" else 0
    assert build_peak < stored + 0.5 * copy64
    assert solve_peak - before < transposed + 0.5 * copy64
