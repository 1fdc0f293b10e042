"""The exact convex core against independent oracles.

Every expected value here comes from a different implementation of the same problem
(scikit-learn's LogisticRegression / Ridge, scipy's HiGHS linear programs, scipy.optimize
on a hand-written numpy objective), never from numbers fairmtl printed.

Penalty conventions checked (see ``fairmtl/models/_sharing.py``): with ``W`` the total
sample weight, the average objective ``(1/W) sum_i w_i loss_i + alpha ||w||^2`` equals
scikit-learn's ``LogisticRegression(C=1/(2 alpha W))`` and ``Ridge(alpha=alpha W)``; with
``sharing_strength = 0`` the offset model is each group's own fit with ``C_g = 1/(2 alpha
W_g)``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.optimize import linprog, minimize
from scipy.special import expit
from sklearn.linear_model import LogisticRegression, Ridge

from fairmtl import FairMTLClassifier, FairMTLRegressor
from fairmtl.datasets import make_hospitals
from fairmtl.exceptions import SolverFallbackWarning

TOL = 1e-4
ALPHA = 1e-2


def make_data(seed=0, sizes=(200, 130, 70), n_features=4, task="binary"):
    """Three groups with shifted features, different true models and unequal sizes.

    Features have very different scales and means so that the solver's internal
    scaling must be undone correctly.
    """
    rng = np.random.default_rng(seed)
    G = len(sizes)
    g = np.repeat(np.array(["north", "east", "south", "west"][:G], dtype=object), sizes)
    n = len(g)
    shift = rng.normal(size=(G, n_features))
    coef = rng.normal(size=(G, n_features)) + np.linspace(1.0, -1.0, n_features)
    task_id = np.repeat(np.arange(G), sizes)
    X = rng.normal(size=(n, n_features)) + shift[task_id]
    score = np.einsum("nd,nd->n", X, coef[task_id]) - 0.3
    X = X * np.array([1.0, 3.0, 0.5, 2.0, 1.5][:n_features]) + np.array(
        [0.0, 1.0, -2.0, 5.0, 0.5][:n_features]
    )
    if task == "binary":
        y = (score + rng.logistic(size=n) > 0).astype(int)
    elif task == "multiclass":
        y = np.digitize(score + rng.logistic(size=n), [-1.0, 1.0])
    else:
        y = score + rng.normal(size=n)
    perm = rng.permutation(n)
    w = rng.uniform(0.2, 3.0, size=n)
    return X[perm], y[perm], g[perm], w[perm]


def sk_logistic(X, y, C, sample_weight=None):
    return LogisticRegression(C=C, tol=1e-10, max_iter=10000).fit(X, y, sample_weight=sample_weight)


def total_weight(w, n):
    return float(n if w is None else np.sum(w))


# -- pooled model = scikit-learn ------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_shared_average_logistic_equals_sklearn(weighted):
    X, y, g, w = make_data(0)
    sw = w if weighted else None
    model = FairMTLClassifier(sharing="shared", objective="average", alpha=ALPHA)
    model.fit(X, y, groups=g, sample_weight=sw)
    ref = sk_logistic(X, y, C=1 / (2 * ALPHA * total_weight(sw, len(y))), sample_weight=sw)
    assert model.solver_info_["status"] == "optimal"
    for k in range(model.n_groups_):  # shared: every group has the same model
        np.testing.assert_allclose(model.coef_[k], ref.coef_[0], atol=TOL, rtol=0)
        np.testing.assert_allclose(model.intercept_[k], ref.intercept_[0], atol=TOL, rtol=0)
    np.testing.assert_allclose(
        model.predict_proba(X, groups=g), ref.predict_proba(X), atol=TOL, rtol=0
    )


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_shared_average_squared_equals_ridge(weighted):
    X, y, g, w = make_data(1, task="regression")
    sw = w if weighted else None
    model = FairMTLRegressor(sharing="shared", objective="average", loss="squared", alpha=ALPHA)
    model.fit(X, y, groups=g, sample_weight=sw)
    ref = Ridge(alpha=ALPHA * total_weight(sw, len(y))).fit(X, y, sample_weight=sw)
    for k in range(model.n_groups_):
        np.testing.assert_allclose(model.coef_[k], ref.coef_, atol=TOL, rtol=0)
        np.testing.assert_allclose(model.intercept_[k], ref.intercept_, atol=TOL, rtol=0)
    np.testing.assert_allclose(model.predict(X, groups=g), ref.predict(X), atol=TOL, rtol=0)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_shared_average_multinomial_equals_sklearn(weighted):
    X, y, g, w = make_data(2, task="multiclass")
    assert np.bincount(y).min() >= 20  # three real classes
    sw = w if weighted else None
    model = FairMTLClassifier(sharing="shared", objective="average", alpha=ALPHA)
    model.fit(X, y, groups=g, sample_weight=sw)
    ref = sk_logistic(X, y, C=1 / (2 * ALPHA * total_weight(sw, len(y))), sample_weight=sw)
    np.testing.assert_array_equal(model.classes_, [0, 1, 2])
    np.testing.assert_allclose(
        model.predict_proba(X, groups=g), ref.predict_proba(X), atol=TOL, rtol=0
    )
    # softmax is shift-invariant: compare coefficients centred over classes
    coef = model.coef_[0] - model.coef_[0].mean(axis=0)
    np.testing.assert_allclose(coef, ref.coef_ - ref.coef_.mean(axis=0), atol=TOL, rtol=0)


# -- offset sharing: strength 0 = per-group fits, large strength = pooled fit -----------


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_offset_strength_zero_equals_per_group_logistic(weighted):
    X, y, g, w = make_data(3)
    sw = w if weighted else np.ones(len(y))
    model = FairMTLClassifier(
        sharing="offset", objective="average", alpha=ALPHA, sharing_strength=0.0
    )
    model.fit(X, y, groups=g, sample_weight=sw if weighted else None)
    for k, label in enumerate(model.groups_):
        rows = g == label
        ref = sk_logistic(
            X[rows], y[rows], C=1 / (2 * ALPHA * sw[rows].sum()), sample_weight=sw[rows]
        )
        np.testing.assert_allclose(model.coef_[k], ref.coef_[0], atol=TOL, rtol=0)
        np.testing.assert_allclose(model.intercept_[k], ref.intercept_[0], atol=TOL, rtol=0)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_offset_large_strength_equals_pooled_logistic(weighted):
    X, y, g, w = make_data(4)
    sw = w if weighted else None
    model = FairMTLClassifier(
        sharing="offset", objective="average", alpha=ALPHA, sharing_strength=1e5
    )
    model.fit(X, y, groups=g, sample_weight=sw)
    ref = sk_logistic(X, y, C=1 / (2 * ALPHA * total_weight(sw, len(y))), sample_weight=sw)
    for k in range(model.n_groups_):
        np.testing.assert_allclose(model.coef_[k], ref.coef_[0], atol=TOL, rtol=0)
        np.testing.assert_allclose(model.intercept_[k], ref.intercept_[0], atol=TOL, rtol=0)


def test_independent_average_squared_equals_per_group_ridge():
    X, y, g, w = make_data(5, task="regression")
    model = FairMTLRegressor(sharing="independent", objective="average", alpha=ALPHA)
    model.fit(X, y, groups=g, sample_weight=w)
    for k, label in enumerate(model.groups_):
        rows = g == label
        ref = Ridge(alpha=ALPHA * w[rows].sum()).fit(X[rows], y[rows], sample_weight=w[rows])
        np.testing.assert_allclose(model.coef_[k], ref.coef_, atol=TOL, rtol=0)
        np.testing.assert_allclose(model.intercept_[k], ref.intercept_, atol=TOL, rtol=0)


# -- minimax = a linear program (hinge loss) -------------------------------------------


def hinge_minimax_lp(X, y, groups, shared):
    """``min t`` s.t. each group's mean hinge loss <= t, as an LP solved by HiGHS.

    Variables: coefficients and intercepts (one block, or one per group), slacks
    ``xi_i >= max(0, 1 - y_i (x_i w + b))`` and ``t``.
    """
    labels = np.unique(groups)
    n, d = X.shape
    G = len(labels)
    blocks = 1 if shared else G
    block = np.zeros(n, dtype=int) if shared else np.searchsorted(labels, groups)
    n_params = blocks * (d + 1)
    n_vars = n_params + n + 1
    s = np.where(y == 1, 1.0, -1.0)
    A = np.zeros((n + G, n_vars))
    rows = np.arange(n)
    # -y_i (x_i w_k + b_k) - xi_i <= -1
    for j in range(d):
        A[rows, block * d + j] = -s * X[:, j]
    A[rows, blocks * d + block] = -s
    A[rows, n_params + rows] = -1.0
    b = np.r_[-np.ones(n), np.zeros(G)]
    for k, label in enumerate(labels):
        members = np.flatnonzero(groups == label)
        A[n + k, n_params + members] = 1.0 / len(members)
        A[n + k, -1] = -1.0
    c = np.zeros(n_vars)
    c[-1] = 1.0
    bounds = [(None, None)] * n_params + [(0, None)] * n + [(None, None)]
    result = linprog(c, A_ub=A, b_ub=b, bounds=bounds, method="highs")
    assert result.status == 0, result.message
    return result.fun


@pytest.mark.parametrize("sharing", ["shared", "independent"])
def test_hinge_minimax_equals_linear_program(sharing):
    X, y, g, _ = make_data(6, n_features=3)
    model = FairMTLClassifier(sharing=sharing, objective="minimax", loss="hinge", alpha=0.0)
    model.fit(X, y, groups=g)
    expected = hinge_minimax_lp(X, y, g, shared=sharing == "shared")
    assert expected > 0.1  # not separable: the LP optimum is a real loss
    worst = model.group_losses_.max()
    assert worst == pytest.approx(expected, rel=1e-5)
    # the group losses recomputed from the predictions, not from group_losses_
    s = np.where(y == model.classes_[1], 1.0, -1.0)
    hinge = np.maximum(0.0, 1.0 - s * model.decision_function(X, groups=g))
    worst_numpy = max(hinge[g == label].mean() for label in np.unique(g))
    assert worst_numpy == pytest.approx(expected, rel=1e-5)


# -- logistic minimax = an independent SLSQP solve ---------------------------------------


def slsqp_minimax(X, y, groups, alpha):
    """``min t + alpha ||w||^2`` s.t. each group's mean logistic loss <= t, by SLSQP.

    The shared-model minimax problem (stage 1) with analytic gradients, written in numpy.
    Returns the worst group's loss at the optimum.
    """
    labels, task = np.unique(groups, return_inverse=True)
    n, d = X.shape
    G = len(labels)
    s = np.where(y == 1, 1.0, -1.0)
    M = np.zeros((G, n))
    M[task, np.arange(n)] = 1.0
    M /= M.sum(axis=1, keepdims=True)
    # standardised features for SLSQP's sake; the penalty stays on the original ones
    sd = X.std(axis=0)
    Xa = np.c_[(X - X.mean(axis=0)) / sd, np.ones(n)]

    def losses(p):
        return M @ np.logaddexp(0.0, -s * (Xa @ p[: d + 1]))

    def constraint_jac(p):  # of t - L_g(w, b)
        r = -s * expit(-s * (Xa @ p[: d + 1]))
        return np.c_[-((M * r) @ Xa), np.ones(G)]

    def objective(p):
        grad = np.zeros(d + 2)
        grad[:d], grad[-1] = 2 * alpha * p[:d] / sd**2, 1.0
        return p[-1] + alpha * np.sum((p[:d] / sd) ** 2), grad

    constraint = {"type": "ineq", "fun": lambda p: p[-1] - losses(p), "jac": constraint_jac}
    p0 = np.zeros(d + 2)
    p0[-1] = losses(p0).max()
    result = minimize(
        objective,
        p0,
        jac=True,
        constraints=[constraint],
        method="SLSQP",
        options={"ftol": 1e-13, "maxiter": 5000},
    )
    assert result.success, result.message
    return losses(result.x).max()


def worst_logistic_loss(model, X, y, groups):
    s = np.where(y == model.classes_[1], 1.0, -1.0)
    per_row = np.logaddexp(0.0, -s * model.decision_function(X, groups=groups))
    return max(per_row[groups == label].mean() for label in np.unique(groups))


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5, 6, 7])
def test_logistic_minimax_equals_slsqp(seed):
    """The Pareto-efficient minimax keeps the minimax worst-group loss (1e-5 relative)
    and a clean status (seed 0 ended 'inaccurate' in the refine stage with the centred
    solver scaling of commit f401bf2)."""
    X, y, g, _ = make_data(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SolverFallbackWarning)
        model = FairMTLClassifier(sharing="shared", objective="minimax", alpha=1e-3)
        model.fit(X, y, groups=g)
    expected = slsqp_minimax(X, y, g, 1e-3)
    assert worst_logistic_loss(model, X, y, g) == pytest.approx(expected, rel=1e-5)
    assert model.solver_info_["status"] == "optimal", model.solver_info_.get("refine_attempts")


@pytest.mark.parametrize(
    "seed", [0, pytest.param(1, marks=pytest.mark.slow), pytest.param(2, marks=pytest.mark.slow)]
)
def test_logistic_minimax_30_hospitals_equals_slsqp(seed):
    """On 30 hospitals the logistic minimax fit reaches SLSQP's minimax optimum (relative
    1e-5, against the refine stage's documented slack REFINE_TOL = 1e-6) and certifies it:
    its refine stage must not end 'optimal_inaccurate' (then 2e-5..7e-5 above the optimum)."""
    data = make_hospitals(30, n_samples=2000, deviation=0.5, random_state=seed)
    X, y, g = data.data.to_numpy(), data.target.to_numpy(), data.groups.to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SolverFallbackWarning)
        model = FairMTLClassifier(sharing="shared", objective="minimax", alpha=1e-3)
        model.fit(X, y, groups=g)
    expected = slsqp_minimax(X, y, g, 1e-3)
    assert worst_logistic_loss(model, X, y, g) == pytest.approx(expected, rel=1e-5)
    assert model.solver_info_["status"] == "optimal", model.solver_info_.get("refine_attempts")


# -- bounded = an independent constrained solve ---------------------------------------


def test_bounded_matches_slsqp():
    X, y, g, _ = make_data(7, n_features=3)
    alpha = 1e-3
    avg = FairMTLClassifier(sharing="shared", objective="average", alpha=alpha).fit(X, y, groups=g)
    mm = FairMTLClassifier(sharing="shared", objective="minimax", alpha=alpha).fit(X, y, groups=g)
    # between the minimax loss and the average fit's worst group: the bound binds
    eps = 0.5 * (avg.group_losses_.max() + mm.group_losses_.max())
    assert avg.group_losses_.max() > eps + 0.01
    model = FairMTLClassifier(sharing="shared", objective="bounded", epsilon=eps, alpha=alpha)
    model.fit(X, y, groups=g)

    s = np.where(y == 1, 1.0, -1.0)
    d = X.shape[1]
    masks = [g == label for label in model.groups_]

    def group_losses(p):
        per_row = np.logaddexp(0.0, -s * (X @ p[:d] + p[d]))
        return np.array([per_row[m].mean() for m in masks])

    def objective(p):
        return np.logaddexp(0.0, -s * (X @ p[:d] + p[d])).mean() + alpha * p[:d] @ p[:d]

    constraints = [
        {"type": "ineq", "fun": lambda p, k=k: eps - group_losses(p)[k]} for k in (0, 1, 2)
    ]
    ref = minimize(
        objective,
        np.zeros(d + 1),
        method="SLSQP",
        constraints=constraints,
        options={"ftol": 1e-14, "maxiter": 2000},
    )
    assert ref.success, ref.message

    ours = np.r_[model.coef_[0], model.intercept_[0]]
    assert np.all(model.group_losses_.to_numpy() <= eps + 1e-6)
    assert np.all(group_losses(ours) <= eps + 1e-6)  # recomputed independently
    assert group_losses(ref.x).max() == pytest.approx(eps, abs=1e-6)  # the bound binds
    avg_loss = np.logaddexp(0.0, -s * model.decision_function(X, groups=g)).mean()
    ref_avg = np.logaddexp(0.0, -s * (X @ ref.x[:d] + ref.x[d])).mean()
    assert avg_loss == pytest.approx(ref_avg, abs=TOL)
    assert objective(ours) == pytest.approx(ref.fun, abs=1e-6)
    np.testing.assert_allclose(ours, ref.x, atol=TOL, rtol=0)


# -- huber = scipy.optimize on the hand-written objective ------------------------------


def test_huber_shared_average_matches_scipy():
    X, y, g, w = make_data(8, task="regression")
    y = y + np.where(np.arange(len(y)) % 17 == 0, 8.0, 0.0)  # outliers: both Huber pieces
    alpha = 1e-2
    model = FairMTLRegressor(sharing="shared", objective="average", loss="huber", alpha=alpha)
    model.fit(X, y, groups=g, sample_weight=w)
    d = X.shape[1]
    wn = w / w.sum()

    def fun(p):
        r = X @ p[:d] + p[d] - y
        a = np.abs(r)
        huber = np.where(a <= 1.0, r**2, 2.0 * a - 1.0)
        dh = np.where(a <= 1.0, 2.0 * r, 2.0 * np.sign(r))
        value = wn @ huber + alpha * p[:d] @ p[:d]
        grad = np.r_[X.T @ (wn * dh) + 2 * alpha * p[:d], wn @ dh]
        return value, grad

    ref = minimize(
        fun,
        np.zeros(d + 1),
        jac=True,
        method="L-BFGS-B",
        options={"ftol": 1e-15, "gtol": 1e-11, "maxiter": 10000},
    )
    r = model.predict(X, groups=g) - y
    assert ((np.abs(r) > 1.0).sum() > 10) and ((np.abs(r) <= 1.0).sum() > 10)
    np.testing.assert_allclose(model.coef_[0], ref.x[:d], atol=TOL, rtol=0)
    assert model.intercept_[0] == pytest.approx(ref.x[d], abs=TOL)


# -- sample weights are honoured -------------------------------------------------------


@pytest.mark.parametrize(
    "sharing,objective",
    [("shared", "average"), ("offset", "minimax")],
    ids=["pooled", "offset-minimax"],
)
def test_integer_weights_equal_duplicated_rows(sharing, objective):
    X, y, g, _ = make_data(9, sizes=(90, 60, 50), n_features=3)
    reps = np.random.default_rng(9).integers(0, 4, size=len(y))
    reps[:3] = [1, 2, 3]
    # fixed knobs: weights and duplicated rows are dealt into different folds
    params = dict(sharing=sharing, objective=objective, alpha=ALPHA, sharing_strength=1.0)
    weighted = FairMTLClassifier(**params).fit(X, y, groups=g, sample_weight=reps.astype(float))
    idx = np.repeat(np.arange(len(y)), reps)
    duplicated = FairMTLClassifier(**params).fit(X[idx], y[idx], groups=g[idx])
    np.testing.assert_allclose(weighted.coef_, duplicated.coef_, atol=1e-5, rtol=0)
    np.testing.assert_allclose(weighted.intercept_, duplicated.intercept_, atol=1e-5, rtol=0)
    np.testing.assert_allclose(
        weighted.group_losses_.to_numpy(), duplicated.group_losses_.to_numpy(), atol=1e-5
    )


def test_zero_weights_equal_dropped_rows():
    X, y, g, w = make_data(10, task="regression")
    w = w.copy()
    w[::3] = 0.0
    keep = w > 0
    params = dict(sharing="offset", objective="minimax", alpha=ALPHA, sharing_strength=0.5)
    zeroed = FairMTLRegressor(**params).fit(X, y, groups=g, sample_weight=w)
    dropped = FairMTLRegressor(**params).fit(
        X[keep], y[keep], groups=g[keep], sample_weight=w[keep]
    )
    np.testing.assert_allclose(zeroed.coef_, dropped.coef_, atol=1e-5, rtol=0)
    np.testing.assert_allclose(zeroed.intercept_, dropped.intercept_, atol=1e-5, rtol=0)


def test_weights_change_the_fit():
    """A fit that accepted weights and ignored them (a past fairlearn bug) fails here."""
    X, y, g, w = make_data(11)
    params = dict(sharing="offset", objective="minimax", alpha=ALPHA)
    plain = FairMTLClassifier(**params).fit(X, y, groups=g)
    weighted = FairMTLClassifier(**params).fit(X, y, groups=g, sample_weight=w)
    assert np.abs(plain.coef_ - weighted.coef_).max() > 1e-2
    # and the weighted fit's group losses are the weighted means of the per-row losses
    s = np.where(y == 1, 1.0, -1.0)
    per_row = np.logaddexp(0.0, -s * weighted.decision_function(X, groups=g))
    for label, value in weighted.group_losses_.items():
        rows = g == label
        assert value == pytest.approx(np.average(per_row[rows], weights=w[rows]), abs=1e-8)


@pytest.mark.parametrize("path", ["blocks", "gathers", "loop"])
def test_many_group_products_equal_plain_numpy(monkeypatch, path):
    """Dense rows of many groups are read three ways (a block-diagonal sparse matrix,
    gathered coefficients, one product per group): each gives the outputs, the loss and
    its gradient that plain numpy computes group by group."""
    from fairmtl.losses import get_loss
    from fairmtl.solvers import _grouped, _oracle
    from fairmtl.solvers._certificate import CURVATURE_BOUND
    from fairmtl.solvers._precondition import Coordinates

    if path != "blocks":
        monkeypatch.setattr(_grouped, "BLOCK_ENTRIES", 0)
    if path == "loop":
        monkeypatch.setattr(_grouped, "STACK_GROUPS", 10**6)
    rng = np.random.default_rng(4)
    G, d = 24, 5
    tasks = np.concatenate([np.arange(G), rng.integers(0, G, 500)])
    X = rng.normal(size=(len(tasks), d))
    y = np.where(rng.random(len(tasks)) < 0.4, 1.0, -1.0)
    w = rng.uniform(0.5, 2.0, len(tasks))
    data = _grouped.GroupedData(X, y, tasks, w, G)
    assert (data.block_rows() is not None) == (path == "blocks")
    oracle = _oracle.LinearOracle(data, get_loss("logistic"), "offset")
    oracle.set_penalty(1e-2, 0.5)
    coef, intercept = rng.normal(size=(G, d)), rng.normal(size=G)
    # plain numpy, group by group, on the caller's rows
    z = np.empty(len(tasks))
    for g in range(G):
        rows = tasks == g
        z[rows] = X[rows] @ coef[g] + intercept[g]
    lam = rng.uniform(0.0, 1.0, G)
    group_weight = np.bincount(tasks, weights=w, minlength=G)
    c = lam[tasks] * w / group_weight[tasks]
    margin = y * z
    value = float(c @ np.logaddexp(0.0, -margin))
    r = c * (-y * expit(-margin))
    gw = np.stack([X[tasks == g].T @ r[tasks == g] for g in range(G)])
    gb = np.bincount(tasks, weights=r, minlength=G)
    order = np.argsort(tasks, kind="stable")
    np.testing.assert_allclose(oracle.outputs(coef, intercept), z[order], rtol=1e-12)
    # the loss's part of L-BFGS's objective and gradient (the penalty's added on top)
    coords = Coordinates(
        data.group_mean, data.group_sq, lam, oracle.penalty, CURVATURE_BOUND["logistic"]
    )
    x = coords.to_x(coef, intercept)
    got_value, got_grad = oracle._value_grad(x, oracle._segments_for(lam), coords)
    pen_value, pen_gw, pen_gb = oracle.penalty.value_grad(*coords.from_x(x))
    assert got_value == pytest.approx(value + pen_value, rel=1e-12)
    np.testing.assert_allclose(
        got_grad, coords.gradient(gw + pen_gw, gb + pen_gb), rtol=1e-10, atol=1e-13
    )
    if path != "loop":
        sorted_r = r[order]
        np.testing.assert_allclose(data.group_rmatvec(sorted_r), gw, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    "storage", ["small groups", "large groups", "sparse", "float32", "empty group"]
)
def test_group_rmatvec_matches_numpy_group_by_group(storage, monkeypatch):
    """Each way of forming the group gradients ``X_g.T r_g`` (one reduceat pass, one
    product per group, sparse rows, float32 rows, a group without rows) gives what plain
    numpy computes group by group in float64."""
    import scipy.sparse as sp

    from fairmtl.solvers import _grouped

    if storage == "large groups":
        monkeypatch.setattr(_grouped, "LARGE_GROUP_ROWS", 1)
    rng = np.random.default_rng(7)
    G, d = 6, 4
    tasks = np.concatenate([np.arange(G), rng.integers(0, G, 300)])
    if storage == "empty group":
        tasks = tasks[tasks != 2]
    X = rng.normal(size=(len(tasks), d))
    if storage == "float32":
        X = X.astype(np.float32)
    if storage == "sparse":
        X[rng.random(X.shape) < 0.7] = 0.0
    y = np.where(rng.random(len(tasks)) < 0.5, 1.0, -1.0)
    data = _grouped.GroupedData(sp.csr_matrix(X) if storage == "sparse" else X, y, tasks,
                                np.ones(len(tasks)), G)  # fmt: skip
    order = np.argsort(tasks, kind="stable")
    r = rng.normal(size=len(tasks))
    X64 = np.asarray(X, dtype=np.float64)
    expected = np.stack([X64[tasks == g].T @ r[tasks == g] for g in range(G)])
    np.testing.assert_allclose(data.group_rmatvec(r[order]), expected, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_products_over_many_chunks_match_numpy_and_leave_rows_unchanged(dtype, monkeypatch):
    """The exact products of stored rows (float32 rows upcast chunk by chunk into one
    reused buffer) equal plain float64 numpy over several chunks, and no product writes
    into the stored rows."""
    from fairmtl.solvers import _grouped

    monkeypatch.setattr(_grouped, "CHUNK_BYTES", 1)  # the smallest chunks: 1,024 rows
    rng = np.random.default_rng(11)
    G, d = 20, 7
    tasks = np.concatenate([np.arange(G), rng.integers(0, G, 5000)])
    X = rng.normal(size=(len(tasks), d)).astype(dtype)
    y = np.where(rng.random(len(tasks)) < 0.5, 1.0, -1.0)
    data = _grouped.GroupedData(X, y, tasks, np.ones(len(tasks)), G)
    assert len(data.pieces(0, data.n)) == (5 if dtype == np.float32 else 1)
    stored = data.X.copy()
    order = np.argsort(tasks, kind="stable")
    X64, t = X.astype(np.float64)[order], tasks[order]
    v, r = rng.normal(size=d), rng.normal(size=len(tasks))
    coef = rng.normal(size=(G, d))
    np.testing.assert_allclose(data.matvec(100, 4100, v), X64[100:4100] @ v, rtol=1e-13)
    np.testing.assert_allclose(data.rmatvec(0, data.n, r), X64.T @ r, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        data.group_matvec(coef), np.einsum("nd,nd->n", X64, coef[t]), rtol=1e-12, atol=1e-13
    )
    expected = np.stack([X64[t == g].T @ r[t == g] for g in range(G)])
    np.testing.assert_allclose(data.group_rmatvec(r), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(data.X, stored)
