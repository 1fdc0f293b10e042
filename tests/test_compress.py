"""The squared loss's exact compression of the rows (fairmtl.solvers._compress).

Group losses, gradients and Hessians are checked against numpy on the original rows;
fits on the compressed rows against the exact path's conic program (CLARABEL).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from fairmtl.datasets import make_hospitals
from fairmtl.losses import get_loss
from fairmtl.solvers import DualProblem, ExactProblem
from fairmtl.solvers._certificate import Penalty
from fairmtl.solvers._compress import compressible, grouped_rows
from fairmtl.solvers._refine import _Model


def regression_rows(seed, n=3000, d=5, G=4, dtype=np.float64):
    """Shifted, badly scaled groups of unequal sizes (one of a handful of rows), with a
    large target offset (where moments about zero would cancel) and sample weights."""
    rng = np.random.default_rng(seed)
    tasks = rng.choice(G - 1, size=n - 6, p=rng.dirichlet(np.full(G - 1, 2.0)))
    tasks = np.concatenate([tasks, np.full(6, G - 1)])  # a group too small to compress
    rng.shuffle(tasks)
    scale = np.logspace(-2, 3, d)
    X = (rng.normal(size=(n, d)) + rng.normal(size=(G, d))[tasks]) * scale + 10 * scale
    coef = rng.normal(size=(G, d)) / scale
    y = np.einsum("nd,nd->n", X, coef[tasks]) + 1e4 + rng.normal(size=n)
    w = rng.uniform(0.2, 3.0, n)
    return X.astype(dtype), y, tasks, w, G


def numpy_group_sums(X, y, tasks, w, G, coef, intercept):
    """Each group's weighted mean squared loss, its gradient in (w_g, b_g) and Hessian, on
    the original rows (per-group models ``coef[g]``, ``intercept[g]``)."""
    X = np.asarray(X.toarray() if sp.issparse(X) else X, dtype=np.float64)
    losses, grads, hessians = [], [], []
    for g in range(G):
        m = tasks == g
        Xa = np.column_stack([X[m], np.ones(m.sum())])
        rw = w[m] / w[m].sum()
        r = Xa @ np.append(coef[g], intercept[g]) - y[m]
        losses.append(rw @ r**2)
        grads.append(2 * (rw * r) @ Xa)
        hessians.append(2 * (Xa.T * rw) @ Xa)
    return np.array(losses), np.array(grads), np.array(hessians)


def assert_close(actual, expected, rtol=1e-12):
    scale = np.abs(expected).max()
    assert np.abs(actual - expected).max() <= rtol * scale, np.abs(actual - expected).max() / scale


@pytest.mark.parametrize(
    "dtype, sparse, layout",
    [
        (np.float64, False, "C"),
        (np.float32, False, "C"),
        (np.float64, True, "C"),
        (np.float64, False, "F"),  # column-major rows (a DataFrame's to_numpy)
        (np.float64, False, "blocks"),  # each group's moments merged from 100-row blocks
    ],
)
def test_group_losses_gradients_and_hessians_equal_the_rows(dtype, sparse, layout, monkeypatch):
    X, y, tasks, w, G = regression_rows(0, dtype=dtype)
    if layout == "F":
        X = np.asfortranarray(X)
    if layout == "blocks":
        monkeypatch.setattr("fairmtl.solvers._compress._BLOCK_ENTRIES", 100 * (X.shape[1] + 1))
    if sparse:
        X = X.copy()
        X[:, 1:] = 0.0  # mostly zeros: held as CSR
        X = sp.csr_matrix(X)
    args = dict(loss=get_loss("squared"), n_outputs=1, objective="minimax")
    data = grouped_rows(X, y, tasks, w, G, **args)
    d = X.shape[1]
    assert data.compressed and data.n == 2 * (d + 1) * (G - 1) + 6
    assert data.X.dtype == np.float64
    model = _Model(
        data, get_loss("squared"), Penalty("independent", 0.1, 0.0, data.shares), "independent"
    )
    shares = np.bincount(tasks, weights=w) / w.sum()
    assert_close(data.shares, shares)
    rng = np.random.default_rng(1)
    for _ in range(3):
        coef = rng.normal(size=(G, d)) / np.abs(X).max(axis=0).toarray().ravel().clip(1e-300) \
            if sparse else rng.normal(size=(G, d)) / np.abs(X).max(axis=0)  # fmt: skip
        intercept = rng.normal(size=G) * 1e4
        losses, grads, hessians = numpy_group_sums(X, y, tasks, w, G, coef, intercept)
        got_losses, jw, jb = model.evaluate(coef, intercept)[:3]
        assert_close(got_losses, losses)
        for g in range(G):
            assert_close(np.append(jw[g], jb[g]), grads[g])
        weights = rng.uniform(0.5, 2.0, G)
        H = model.hessian((coef, intercept), weights, G)
        for g in range(G):
            block = np.r_[g * d : (g + 1) * d, G * d + g]
            assert_close(H[np.ix_(block, block)], weights[g] * hessians[g])


def test_compression_only_where_it_applies():
    X, y, tasks, w, G = regression_rows(2)
    squared, logistic = get_loss("squared"), get_loss("logistic")
    assert compressible(squared, 1, "bounded")
    for loss, objective in [
        (logistic, "minimax"),
        (squared, "gap"),
        (squared, "demographic_parity"),
    ]:
        assert not compressible(loss, 1, objective)
        data = grouped_rows(X, y, tasks, w, G, loss=loss, n_outputs=1, objective=objective)
        assert not data.compressed and data.n == len(y)
    # too few rows a group to shrink the data: kept as they are
    few = grouped_rows(X[:60], y[:60], tasks[:60], w[:60], G, loss=squared, n_outputs=1,
                       objective="minimax")  # fmt: skip
    assert not few.compressed and few.n == 60


def solve_both(X, y, tasks, w, G, sharing, objective, solver, **knobs):
    args = dict(loss=get_loss("squared"), sharing=sharing, objective=objective, task="regression")
    solve = dict(alpha=1e-3, sharing_strength=0.5, **knobs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exact = ExactProblem(X, y, tasks, w, G, **args).solve(solver="CLARABEL", **solve)
        if solver == "dual":
            problem = DualProblem(X, y, tasks, w, G, **args)
        else:
            problem = ExactProblem(X, y, tasks, w, G, **args, fallback="dual")
        fit = problem.solve(solver="auto", **solve)
    data = problem._data if solver == "dual" else (problem._grouped or problem._dual._data)
    return exact, fit, data


def per_group(fit, G):
    """Each group's coefficients and intercept of a fit (shared: the one model G times)."""
    coef, intercept = fit.coef[:, :, 0], fit.intercept[:, 0]
    return np.broadcast_to(coef, (G, coef.shape[1])), np.broadcast_to(intercept, (G,))


@pytest.mark.parametrize("solver", ["dual", "auto"])
@pytest.mark.parametrize("sharing", ["shared", "offset"])
@pytest.mark.parametrize("objective", ["minimax", "bounded", "average"])
def test_fits_on_compressed_rows_equal_the_conic_program(solver, sharing, objective):
    data = make_hospitals(5, n_samples=4000, task="regression", random_state=3)
    X, y = data.data.to_numpy(np.float32), data.target.to_numpy(float)
    tasks, G = np.unique(data.groups.to_numpy(), return_inverse=True)[1], 5
    w = np.random.default_rng(3).uniform(0.3, 2.0, len(y))
    knobs = {}
    if objective == "bounded":
        args = (X, y, tasks, w, G, sharing)
        worst = [solve_both(*args, o, "dual")[0].group_losses.max() for o in ("minimax", "average")]
        knobs["epsilon"] = float(np.mean(worst))
    exact, fit, rows = solve_both(X, y, tasks, w, G, sharing, objective, solver, **knobs)
    assert rows.compressed and rows.n < len(y) / 10
    assert fit.solver_info["status"] == "optimal"
    objective_value = lambda r: r.solver_info["objective"]  # noqa: E731
    assert abs(objective_value(fit) - objective_value(exact)) <= 1e-6 * abs(objective_value(exact))
    # the dual path certifies the objective to 1e-6; a group loss off the optimum's
    # binding set moves with the square root of that (on the rows themselves as well)
    np.testing.assert_allclose(
        fit.group_losses, exact.group_losses, rtol=1e-3 if solver == "dual" else 1e-6
    )
    # the group losses reported from the compressed rows are the original rows' own
    own = numpy_group_sums(X, y, tasks, w, G, *per_group(fit, G))[0]
    np.testing.assert_allclose(fit.group_losses, own, rtol=1e-10)
    if objective == "bounded":
        assert fit.group_losses.max() <= knobs["epsilon"] * (1 + 1e-6)  # the bounds' slack
