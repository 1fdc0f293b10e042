"""The exact path's fast stages, each checked against an independent formulation.

- The second, lexicographic stage of ``minimax`` (SQP for smooth losses) against the
  same problem written directly in cvxpy on the raw features and solved by CLARABEL.
- The squared loss's compressed rows (one QR factor per group) against scikit-learn's
  Ridge and against the textbook minimax program on every row.
- Ordinary data (``make_hospitals``) fits without a solver fallback or warning.
"""

from __future__ import annotations

import warnings

import cvxpy as cp
import numpy as np
import pytest
from scipy.special import expit
from sklearn.linear_model import Ridge

from fairmtl import FairMTLClassifier, FairMTLRegressor
from fairmtl.datasets import make_hospitals
from fairmtl.solvers import _sqp
from fairmtl.solvers._newton_sqp import _qp
from fairmtl.solvers._sqp import INTERIOR, NEWTON_SQP, SMOOTH_SOLVERS


def grouped_binary(seed: int, G: int = 3, d: int = 4, n: int = 450):
    rng = np.random.default_rng(seed)
    sizes = rng.multinomial(n - 40 * G, np.full(G, 1.0 / G)) + 40
    X = rng.normal(size=(n, d)) + np.repeat(rng.normal(scale=0.7, size=(G, d)), sizes, axis=0)
    g = np.repeat(np.arange(G), sizes)
    w = rng.normal(size=d) + rng.normal(scale=0.7, size=(G, d))[g]
    y = (rng.uniform(size=n) < expit(np.einsum("nd,nd->n", X, w))).astype(int)
    return X, y, g


def textbook(X, y, g, alpha, kind, bounds=None, regression=False):
    """One shared linear model, written as a cvxpy user would (one term per group)."""
    w, b, t = cp.Variable(X.shape[1]), cp.Variable(), cp.Variable()
    s = y.astype(float) if regression else np.where(y == 1, 1.0, -1.0)
    losses, shares = [], []
    for label in np.unique(g):
        rows = g == label
        z = X[rows] @ w + b
        if regression:
            losses.append(cp.sum_squares(s[rows] - z) / rows.sum())
        else:
            losses.append(cp.sum(cp.logistic(-cp.multiply(s[rows], z))) / rows.sum())
        shares.append(rows.mean())
    L, R = cp.hstack(losses), alpha * cp.sum_squares(w)
    if kind == "minimax":
        problem = cp.Problem(cp.Minimize(t + R), [L <= t])
    else:  # the second stage: best average + penalty with every group under its bound
        problem = cp.Problem(cp.Minimize(np.array(shares) @ L + R), [L <= bounds])
    problem.solve(solver="CLARABEL")
    assert problem.status == "optimal", problem.status
    return problem.value, L.value, w.value


def shared_logistic_losses(model, X, y, g):
    s = np.where(y == 1, 1.0, -1.0)
    per_row = np.logaddexp(0.0, -s * model.decision_function(X, groups=g))
    return np.array([per_row[g == k].mean() for k in np.unique(g)])


@pytest.mark.parametrize(
    ("seed", "alpha", "engine"),
    [(0, 0.1, NEWTON_SQP), (1, 0.01, NEWTON_SQP), (2, 1e-3, NEWTON_SQP), (1, 0.01, INTERIOR)],
)
def test_minimax_second_stage_equals_the_textbook_bounded_program(seed, alpha, engine, monkeypatch):
    X, y, g = grouped_binary(seed)
    if engine == INTERIOR:  # the next engine, where SQP with exact Hessians fails
        monkeypatch.setattr(_sqp, "newton_sqp", lambda *args: None)
    model = FairMTLClassifier(
        sharing="shared", objective="minimax", alpha=alpha, sharing_strength=0.0,
        solver="CLARABEL",
    ).fit(X, y, groups=g)  # fmt: skip
    info = model.solver_info_
    assert info["refined"] is True and info["refine_attempts"][-1]["solver"] == engine
    assert_textbook_minimax_stages(model, X, y, g, alpha)


def assert_textbook_minimax_stages(model, X, y, g, alpha) -> np.ndarray:
    """A shared minimax model's two stages equal the textbook programs'; its group losses."""
    # the bound of the second stage: the stage-1 model's worst loss, plus the 1e-6 slack
    t_star, stage1_losses, _ = textbook(X, y, g, alpha, "minimax")
    level = float(stage1_losses.max())
    bounds = np.full(len(np.unique(g)), level + 1e-6 * max(1.0, level))
    expected, _, _ = textbook(X, y, g, alpha, "bounded", bounds)
    losses = shared_logistic_losses(model, X, y, g)
    shares = np.bincount(g) / len(g)
    got = float(shares @ losses) + alpha * float(model.coef_[0] @ model.coef_[0])
    assert got == pytest.approx(expected, rel=1e-6, abs=1e-8)
    assert np.all(losses <= bounds + 1e-7)
    assert model.solver_info_["stage1_objective"] == pytest.approx(t_star, rel=1e-6)
    return losses


def test_squared_loss_compression_equals_ridge_on_every_row():
    rng = np.random.default_rng(3)
    n, d, G = 3000, 5, 4
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3.0, size=d) + 2.0
    g = rng.integers(0, G, size=n)
    y = X @ rng.normal(size=d) + rng.normal(size=n) + g
    alpha = 0.05
    model = FairMTLRegressor(
        sharing="shared", objective="average", alpha=alpha, sharing_strength=0.0,
        solver="CLARABEL",
    ).fit(X, y, groups=g)  # fmt: skip
    # the average of group mean losses weighted by group share = the mean over all rows
    ref = Ridge(alpha=alpha * n).fit(X, y)
    np.testing.assert_allclose(model.coef_[0], ref.coef_, rtol=1e-6, atol=1e-7)
    assert model.intercept_[0] == pytest.approx(ref.intercept_, rel=1e-6, abs=1e-7)


def test_squared_loss_compression_equals_the_textbook_minimax_program():
    data = make_hospitals(6, n_samples=2000, n_features=5, task="regression", random_state=1)
    X, y, g = data.data.to_numpy(float), data.target.to_numpy(float), data.groups.to_numpy()
    alpha = 1e-3
    model = FairMTLRegressor(
        sharing="shared", objective="minimax", alpha=alpha, sharing_strength=0.0,
        solver="CLARABEL",
    ).fit(X, y, groups=g)  # fmt: skip
    expected, _, _ = textbook(X, y, g, alpha, "minimax", regression=True)
    assert model.solver_info_["stage1_objective"] == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("sharing", ["shared", "offset"])
def test_ordinary_minimax_fits_never_fall_back_or_warn(task, sharing):
    data = make_hospitals(10, n_samples=2000, n_features=6, task=task, random_state=0)
    X, y, g = data.data.to_numpy(float), data.target.to_numpy(), data.groups.to_numpy()
    cls = FairMTLRegressor if task == "regression" else FairMTLClassifier
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = cls(
            sharing=sharing, objective="minimax", alpha=1e-4, sharing_strength=0.01,
            solver="CLARABEL",
        ).fit(X, y, groups=g)  # fmt: skip
    info = model.solver_info_
    assert info["status"] == "optimal" and info["refined"] is True
    assert [a["solver"] in SMOOTH_SOLVERS for a in info["refine_attempts"]] == [True]


@pytest.mark.parametrize(("seed", "alpha"), [(4, 0.1), (5, 1e-3)])
def test_auto_first_stage_equals_the_textbook_minimax_program(seed, alpha):
    X, y, g = grouped_binary(seed, G=4)
    model = FairMTLClassifier(
        sharing="shared", objective="minimax", alpha=alpha, sharing_strength=0.0,
        solver="auto",
    ).fit(X, y, groups=g)  # fmt: skip
    info = model.solver_info_
    assert info["path"] == "exact" and info["solver"] in SMOOTH_SOLVERS
    expected, _, _ = textbook(X, y, g, alpha, "minimax")
    assert info["stage1_objective"] == pytest.approx(expected, rel=1e-7, abs=1e-9)
    losses = shared_logistic_losses(model, X, y, g)
    assert losses.max() <= expected * (1 + 1e-6) + 1e-9  # the stage-1 guarantee is kept


def test_auto_and_clarabel_agree_on_offset_chebyshev():
    X, y, g = grouped_binary(6, G=3)
    params = dict(
        sharing="offset", objective="chebyshev", alpha=0.01, sharing_strength=0.1,
        preference=[1.0, 2.0, 1.0],
    )  # fmt: skip
    fast = FairMTLClassifier(solver="auto", **params).fit(X, y, groups=g)
    conic = FairMTLClassifier(solver="CLARABEL", **params).fit(X, y, groups=g)
    assert fast.solver_info_["solver"] in SMOOTH_SOLVERS
    assert conic.solver_info_["solver"] == "CLARABEL"
    assert fast.solver_info_["objective"] == pytest.approx(
        conic.solver_info_["objective"], rel=1e-6
    )
    np.testing.assert_allclose(fast.group_losses_, conic.group_losses_, rtol=1e-5, atol=1e-7)


def test_squared_loss_compression_honours_sample_weights():
    rng = np.random.default_rng(8)
    n, d = 1200, 4
    X = rng.normal(size=(n, d))
    g = rng.integers(0, 3, size=n)
    y = X @ rng.normal(size=d) + rng.normal(size=n)
    w = rng.uniform(0.2, 3.0, size=n)
    alpha = 0.02
    model = FairMTLRegressor(
        sharing="shared", objective="average", alpha=alpha, sharing_strength=0.0,
        solver="CLARABEL",
    ).fit(X, y, groups=g, sample_weight=w)  # fmt: skip
    # average of group means weighted by group weight = the weighted mean over all rows
    ref = Ridge(alpha=alpha * w.sum()).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(model.coef_[0], ref.coef_, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("objective", ["average", "bounded", "minimax"])
def test_auto_takes_the_fast_path_and_agrees_with_clarabel(objective):
    data = make_hospitals(12, n_samples=3000, n_features=6, random_state=2)
    X, y, g = data.data.to_numpy(float), data.target.to_numpy(), data.groups.to_numpy()
    params = dict(objective=objective, alpha=1e-3, sharing_strength=0.01)
    if objective == "bounded":
        params["epsilon"] = 0.7
    shared = FairMTLClassifier(sharing="shared", solver="auto", **params).fit(X, y, groups=g)
    conic = FairMTLClassifier(sharing="shared", solver="CLARABEL", **params).fit(X, y, groups=g)
    assert (
        shared.solver_info_["path"] == "exact" and shared.solver_info_["solver"] in SMOOTH_SOLVERS
    )
    assert shared.solver_info_["objective"] == pytest.approx(
        conic.solver_info_["objective"], rel=1e-6
    )
    # offset sharing on 30 groups of 14 features (30 x 15 parameters) exceeds the SQP's
    # size: the dual path
    many = make_hospitals(30, n_samples=3000, n_features=14, random_state=2)
    Xm, ym, gm = many.data.to_numpy(float), many.target.to_numpy(), many.groups.to_numpy()
    offset = FairMTLClassifier(sharing="offset", solver="auto", **params).fit(Xm, ym, groups=gm)
    assert offset.solver_info_["path"] == "dual"


@pytest.mark.parametrize("level", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_sqp_step_equals_the_quadratic_program_solved_directly(seed, level):
    """The SQP's step, found through its dual, against the primal program in cvxpy; with an
    epigraph level (no curvature, cost 1, -1 in every constraint) and more constraints
    than curved variables too."""
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(3, 12)), int(rng.integers(1, 25))
    A = rng.normal(size=(n, n))
    H, g = A @ A.T + 0.1 * np.eye(n), rng.normal(size=n)
    D, c = rng.normal(size=(m, n)), -rng.uniform(0.0, 1.0, size=m)
    if level:
        H, g = np.pad(H, ((0, 1), (0, 1))), np.append(g, 1.0)
        D = np.column_stack([D, -np.ones(m)])
    d, mu = _qp(H, g, c, D)
    x = cp.Variable(len(g))
    objective = g @ x + 0.5 * cp.quad_form(x, cp.psd_wrap(H))
    problem = cp.Problem(cp.Minimize(objective), [c + D @ x <= 0])
    problem.solve(solver="CLARABEL")
    assert problem.status == "optimal"
    np.testing.assert_allclose(d, x.value, atol=1e-6)
    np.testing.assert_allclose(mu, problem.constraints[0].dual_value, atol=1e-6)
