"""The exact path's answers to smooth, unconstrained objectives are exact to rounding.

The gradient of the objective is recomputed here in numpy from the returned coefficients
(the losses' derivatives written out again, with scipy's softmax), on the original
features: it must vanish to 1e-9. Integer sample weights and repeated rows, two different
formulations of one problem, must give the same model to 1e-9.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, softmax

from fairmtl import FairMTLClassifier, FairMTLRegressor
from fairmtl.losses import get_loss
from fairmtl.solvers import ExactProblem

GRAD_TOL = 1e-9


def grouped_data(seed: int, task: str, G: int = 3, n: int = 240, d: int = 4):
    """Groups with shifted, badly scaled features (the solver's scaling must be undone)."""
    rng = np.random.default_rng(seed)
    g = rng.integers(0, G, size=n)
    g[:G] = np.arange(G)
    X = rng.normal(size=(n, d)) + rng.normal(size=(G, d))[g]
    score = np.einsum("nd,nd->n", X, rng.normal(size=(G, d))[g])
    X = X * np.array([1.0, 3.0, 0.5, 2.0])[:d] + np.array([0.0, 4.0, -2.0, 1.0])[:d]
    noisy = score + rng.logistic(size=n)
    cuts = {"binary": [0.0], "multiclass": [-1.0, 1.0]}
    y = np.digitize(noisy, cuts[task]) if task in cuts else noisy
    return X, y, g


def loss_derivative(task: str, z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """d loss / d z per row, written out here (not fairmtl's)."""
    if task == "binary":
        s = np.where(y == 1, 1.0, -1.0)[:, None]
        return -s * expit(-s * z)
    if task == "multiclass":
        p = softmax(z, axis=1)
        p[np.arange(len(y)), y] -= 1.0
        return p
    return 2.0 * (z - y[:, None])  # squared


def objective_gradient(model, X, y, g, w, task, alpha, strength):
    """Gradient of ``sum_g rho_g L_g + alpha sum_g rho_g ||w_g||^2 + (s/G) sum_g
    ||theta_g - theta_bar||^2`` (the average objective, offset sharing) in each group's
    ``(coef, intercept)``, stacked as (G, d + 1, K)."""
    G = model.n_groups_
    coef = model.group_coef_  # (G, d, K)
    intercept = model.group_intercept_  # (G, K)
    position = {label: k for k, label in enumerate(model.groups_)}
    tasks = np.array([position[str(label)] for label in g])
    rho = np.bincount(tasks, weights=w, minlength=G) / w.sum()
    grads = np.zeros((G, X.shape[1] + 1, coef.shape[2]))
    for k in range(G):
        rows = tasks == k
        z = X[rows] @ coef[k] + intercept[k]
        r = (w[rows] / w.sum())[:, None] * loss_derivative(task, z, y[rows])
        grads[k, :-1] = X[rows].T @ r + 2 * alpha * rho[k] * coef[k]
        grads[k, -1] = r.sum(axis=0)
    theta = np.concatenate([coef, intercept[:, None, :]], axis=1)
    return grads + 2 * (strength / G) * (theta - theta.mean(axis=0))


@pytest.mark.parametrize(
    ("task", "solver"),
    [("multiclass", "auto"), ("binary", "auto"), ("binary", "CLARABEL"), ("regression", "auto")],
)
def test_average_fit_meets_its_optimality_conditions(task, solver):
    X, y, g = grouped_data(0, task)
    w = np.random.default_rng(1).uniform(0.2, 3.0, size=len(y))
    alpha, strength = 1e-4, 0.5
    est = FairMTLRegressor if task == "regression" else FairMTLClassifier
    model = est(
        sharing="offset", objective="average", alpha=alpha, sharing_strength=strength,
        solver=solver,
    ).fit(X, y, groups=g, sample_weight=w)  # fmt: skip
    assert model.solver_info_["path"] == "exact"
    grad = objective_gradient(model, X, y, g, w, task, alpha, strength)
    assert np.abs(grad).max() <= GRAD_TOL, np.abs(grad).max()


@pytest.mark.parametrize("task", ["multiclass", "binary"])
@pytest.mark.parametrize("sharing", ["shared", "offset"])
def test_integer_weights_equal_repeated_rows_to_rounding(task, sharing):
    X, y, g = grouped_data(2, task, n=90)
    reps = np.random.default_rng(3).integers(0, 4, size=len(y))
    reps[:3] = 1  # every group keeps a row
    params = dict(sharing=sharing, objective="average", alpha=1e-4, sharing_strength=1.0)
    weighted = FairMTLClassifier(**params).fit(X, y, groups=g, sample_weight=reps)
    idx = np.repeat(np.arange(len(y)), reps)
    repeated = FairMTLClassifier(**params).fit(X[idx], y[idx], groups=g[idx])
    for method in ("decision_function", "predict_proba"):
        np.testing.assert_allclose(
            getattr(weighted, method)(X, groups=g),
            getattr(repeated, method)(X, groups=g),
            rtol=1e-9,
            atol=1e-12,
        )


def test_polish_is_recorded_and_reaches_the_rounding_floor():
    X, y, g = grouped_data(4, "multiclass")
    problem = ExactProblem(
        X, y, g, np.ones(len(y)), 3, loss=get_loss("multinomial"), sharing="independent",
        objective="average", n_outputs=3, task="multiclass",
    )  # fmt: skip
    info = problem.solve(alpha=1e-3, solver="CLARABEL").solver_info
    newton = info["attempts"][-1]["newton"]
    assert newton["decrement"] <= 1e-20 < newton["start_decrement"]
    assert 1 <= newton["iterations"] <= 10


@pytest.mark.parametrize("task", ["multiclass", "binary"])
@pytest.mark.parametrize("sharing", ["shared", "offset"])
def test_hinge_weights_equal_repeated_rows_to_rounding(task, sharing):
    """The hinge loss's active-set polish: its answer is exact, so two formulations of one
    problem agree to rounding (the interior-point answers alone differ at ~1e-7)."""
    X, y, g = grouped_data(6, task, n=80)
    reps = np.random.default_rng(7).integers(0, 4, size=len(y))
    reps[:3] = 1
    params = dict(
        loss="hinge", sharing=sharing, objective="average", alpha=1e-2, sharing_strength=1.0
    )
    weighted = FairMTLClassifier(**params).fit(X, y, groups=g, sample_weight=reps)
    idx = np.repeat(np.arange(len(y)), reps)
    repeated = FairMTLClassifier(**params).fit(X[idx], y[idx], groups=g[idx])
    for model in (weighted, repeated):
        assert model.solver_info_["attempts"][-1]["newton"]["method"] == "active set"
    np.testing.assert_allclose(
        weighted.decision_function(X, groups=g),
        repeated.decision_function(X, groups=g),
        rtol=1e-9,
        atol=1e-11,
    )


def test_hinge_polish_lands_on_one_point_from_nearby_answers():
    """From answers 1e-8 off the polished one in random directions (as two solver runs
    differ), the active-set polish lands on the same optimum to rounding."""
    from fairmtl.solvers._activeset import hinge_polish
    from fairmtl.solvers._newton import _basis, penalty_hessian

    X, y, g = grouped_data(8, "multiclass", n=400)
    problem = ExactProblem(
        X, y, g, np.ones(len(y)), 3, loss=get_loss("multiclass_hinge"), sharing="offset",
        objective="average", n_outputs=3, task="multiclass",
    )  # fmt: skip
    problem.solve(alpha=1e-2, sharing_strength=0.5, solver="CLARABEL")
    d, P = X.shape[1], 3
    W = np.asarray(problem.sharing.coef_var.value).reshape(P, d, 3)
    b = np.asarray(problem.sharing.intercept_var.value).reshape(P, 1, 3)
    exact = np.concatenate([W, b], axis=1)
    H = penalty_hessian("offset", 1e-2, 0.5, problem.shares, problem.sharing.scaling, 3)
    lam = problem.shares
    for seed in range(5):
        start = exact + 1e-8 * np.random.default_rng(seed).normal(size=exact.shape)
        start[:, -1, :] -= start[:, -1, :].mean(axis=1, keepdims=True)
        found = hinge_polish(problem._newton_rows, lam, H, start, _basis(P, d, 3))
        assert found is not None
        np.testing.assert_allclose(found[0], exact, rtol=0, atol=1e-11)


def test_polished_hinge_fit_is_the_textbook_optimum():
    """The polished multiclass hinge fit's objective, recomputed here, is at least as low
    as the optimum of the same program written directly in cvxpy (CLARABEL, ~1e-8)."""
    import cvxpy as cp

    X, y, g = grouped_data(9, "multiclass", n=300)
    alpha, strength, G, K = 1e-2, 1.5, 3, 3
    model = FairMTLClassifier(
        loss="hinge", sharing="offset", objective="average", alpha=alpha,
        sharing_strength=strength,
    ).fit(X, y, groups=g)  # fmt: skip
    assert model.solver_info_["attempts"][-1]["newton"]["method"] == "active set"
    position = {label: k for k, label in enumerate(model.groups_)}
    tasks = np.array([position[str(label)] for label in g])
    rho = np.bincount(tasks, minlength=G) / len(y)
    onehot = np.eye(K)[y]

    def objective(coefs, intercepts, numpy=True):
        total, thetas = 0.0, []
        for k in range(G):
            rows = tasks == k
            z = X[rows] @ coefs[k] + intercepts[k][None, :]
            if numpy:
                loss = np.max(z + 1 - onehot[rows], axis=1) - np.sum(onehot[rows] * z, axis=1)
                total += rho[k] * loss.mean() + alpha * rho[k] * np.sum(coefs[k] ** 2)
                thetas.append(np.concatenate([coefs[k].ravel(), intercepts[k]]))
            else:
                loss = cp.max(z + 1 - onehot[rows], axis=1) - cp.sum(
                    cp.multiply(onehot[rows], z), axis=1
                )
                total += rho[k] * cp.sum(loss) / rows.sum() + alpha * rho[k] * cp.sum_squares(
                    coefs[k]
                )
                thetas.append(cp.hstack([cp.vec(coefs[k], order="C"), intercepts[k]]))
        if numpy:
            T = np.array(thetas)
            return total + (strength / G) * np.sum((T - T.mean(axis=0)) ** 2)
        T = cp.vstack(thetas)
        return total + (strength / G) * cp.sum_squares(T - cp.sum(T, axis=0, keepdims=True) / G)

    W = [cp.Variable((X.shape[1], K)) for _ in range(G)]
    b = [cp.Variable(K) for _ in range(G)]
    problem = cp.Problem(cp.Minimize(objective(W, b, numpy=False)))
    problem.solve(solver="CLARABEL")
    ours = objective(model.group_coef_, model.group_intercept_)
    assert ours <= problem.value + 1e-9
    assert ours == pytest.approx(problem.value, rel=1e-7)
