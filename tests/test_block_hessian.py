"""Offset sharing with many groups: the smooth stages' Hessian as blocks and a coupling.

The structured Hessian is checked against the dense matrix that the smooth stages build
for small problems (the penalty's and the loss's parts assembled separately), solved by
numpy. Fits of more parameters than the dense route takes are checked against the exact
path's conic programs (CLARABEL) on the same problem, with the smooth stages kept off
there.
"""

from __future__ import annotations

import warnings

import cvxpy as cp
import numpy as np
import pytest
from scipy.linalg import LinAlgError
from scipy.optimize import nnls
from scipy.special import expit

from fairmtl import FairMTLClassifier
from fairmtl.datasets import make_hospitals
from fairmtl.estimators._cv_search import solver_strength
from fairmtl.losses import get_loss
from fairmtl.solvers import ExactProblem, _blockhessian, _smooth_stages
from fairmtl.solvers._blockhessian import GroupBlockHessian, _dual_nnls
from fairmtl.solvers._certificate import Penalty
from fairmtl.solvers._dual_smooth import SMOOTH_SOLVER
from fairmtl.solvers._grouped import GroupedData
from fairmtl.solvers._interior import penalty_hessian_original
from fairmtl.solvers._multipliers import check_multipliers, separable_nnls
from fairmtl.solvers._newton_sqp import _dual_qp, _qp
from fairmtl.solvers._refine import MAX_PARAMS, _Model
from fairmtl.solvers._sqp import NEWTON_SQP

G_MANY = 60  # x (8 features + 1) = 540 parameters, above MAX_PARAMS


def small_model(seed: int, sharing: str, strength: float):
    rng = np.random.default_rng(seed)
    G, d, n = 7, 3, 400
    X = rng.normal(size=(n, d)) * np.array([1.0, 5.0, 0.1]) + np.array([0.0, 2.0, -1.0])
    t = rng.integers(0, G, n)
    t[:G] = np.arange(G)
    y = np.where(rng.random(n) < 0.4, 1.0, -1.0)
    data = GroupedData(X, y, t, rng.uniform(0.5, 2.0, n), G)
    penalty = Penalty(sharing, 1e-3, strength, data.shares)
    model = _Model(data, get_loss("logistic"), penalty, sharing)
    point = (rng.normal(size=(G, d)), rng.normal(size=G))
    weights = rng.random(G)
    weights[2] = 0.0  # a group without weight: its block is the penalty's alone
    return model, penalty, point, weights


@pytest.mark.parametrize("level", [False, True])
@pytest.mark.parametrize(("sharing", "strength"), [("offset", 0.7), ("offset", 40.0)])
def test_structured_solve_equals_the_dense_solve(level, sharing, strength):
    model, penalty, point, weights = small_model(3, sharing, strength)
    G, d = model.data.n_groups, model.data.d
    dense = penalty_hessian_original(penalty, G, d) + model.hessian(point, weights, G)
    H = model.block_hessian(point, weights, level)
    assert isinstance(H, GroupBlockHessian)
    n = G * (d + 1)
    assert H.n == n + int(level)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(H.n, 4))
    expected = np.zeros((H.n, 4))
    expected[:n] = dense @ x[:n]
    np.testing.assert_allclose(H.matvec(x), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(H.matvec(x[:, 0]), expected[:, 0], rtol=1e-12, atol=1e-12)
    r = rng.normal(size=(n, 5))
    truth = np.linalg.solve(dense, r)
    scale = np.abs(truth).max()
    assert np.abs(H.curved().solve(r) - truth).max() <= 1e-10 * scale
    assert np.abs(H.solve(r[:, 1]) - truth[:, 1]).max() <= 1e-10 * scale


@pytest.mark.parametrize("guess", [None, "near", "all", "none"])
@pytest.mark.parametrize("simplex", [False, True])
@pytest.mark.parametrize("one_block", [True, False])
def test_sparse_dual_program_equals_the_dense_one(simplex, one_block, guess, monkeypatch):
    """The SQP's dual program with ``Q = D H^-1 D'`` formed densely (numpy's solve) and by
    the blocks' sparse form, for constraints on one group's block each and on all; with
    the multipliers of a nearby program as a guess (the true support with one multiplier
    too many and one missing), every one, or none positive (the active-set steps from
    there, or Clarabel)."""
    model, penalty, point, weights = small_model(5, "offset", 0.7)
    G, d = model.data.n_groups, model.data.d
    dense = penalty_hessian_original(penalty, G, d) + model.hessian(point, weights, G)
    H = model.block_hessian(point, weights, level=False)
    rng = np.random.default_rng(1)
    D = np.zeros((G, G * (d + 1)))
    for g in range(G):  # group g's coefficients, then its intercept
        D[g, np.r_[g * d : (g + 1) * d, G * d + g]] = rng.normal(size=d + 1)
    if not one_block:
        D += 0.3 * rng.normal(size=D.shape)
    p = rng.normal(size=G)
    expected = _dual_qp(D @ np.linalg.solve(dense, D.T), p, simplex)
    on = expected > 1e-8
    assert 0 < on.sum() < G  # some constraints active, not all
    near = np.where(on, 0.5, 0.0)
    near[np.flatnonzero(on)[0]], near[np.flatnonzero(~on)[0]] = 0.0, 1.0
    given = {None: None, "near": near, "all": np.ones(G), "none": np.zeros(G)}[guess]
    if guess == "near":  # found from the guess alone, without Clarabel
        monkeypatch.setattr(_blockhessian, "_clarabel", None)
    found = H.dual_qp(D, p, simplex, given)
    np.testing.assert_allclose(found, expected, atol=1e-9)


@pytest.mark.parametrize("simplex", [False, True])
def test_least_squares_dual_program_equals_clarabels(simplex):
    """The fallback where Clarabel stalls (non-negative least squares, then the exact
    solve on its support) reaches Clarabel's answer on a program Clarabel solves."""
    rng = np.random.default_rng(7)
    m = 40
    V = rng.normal(size=(m, 6))
    Q = np.diag(rng.uniform(0.05, 2.0, m)) + V @ V.T
    p = rng.normal(size=m) - (0.0 if simplex else 1.0)
    expected = _dual_qp(Q, p, simplex)
    found = _dual_nnls(Q, p, simplex)
    assert 0 < (expected > 1e-8).sum() < m
    np.testing.assert_allclose(found, expected, atol=1e-9)  # Clarabel: about 1e-10
    if simplex:
        assert found.sum() == pytest.approx(1.0, abs=1e-14)


def test_a_singular_block_is_refused():
    model, penalty, point, weights = small_model(4, "independent", 0.0)
    H = model.block_hessian(point, weights, level=False)  # group 2: no curvature in b
    with pytest.raises(LinAlgError):
        H.curved()


@pytest.fixture(scope="module")
def many_groups():
    data = make_hospitals(G_MANY, n_samples=2000, random_state=0, min_size=20)
    X, labels = data.data.to_numpy(float), data.target.to_numpy()
    assert G_MANY * (X.shape[1] + 1) > MAX_PARAMS
    return X, labels, data.groups.to_numpy()


ALPHA, STRENGTH = 1e-3, 1.0  # the estimator's sharing_strength: STRENGTH / G to the solvers
KNOBS = dict(alpha=ALPHA, sharing_strength=solver_strength("offset", STRENGTH, G_MANY))
KINDS = dict(loss=get_loss("logistic"), sharing="offset", objective="minimax")


def exact_problem(many_groups) -> ExactProblem:
    X, labels, g = many_groups
    names, tasks = np.unique(g, return_inverse=True)  # the estimator's order of the groups
    y = np.where(labels == 1, 1.0, -1.0)
    return ExactProblem(X, y, tasks, np.ones(len(y)), len(names), **KINDS)


@pytest.fixture(scope="module")
def conic(many_groups):
    """The exact path's conic programs (CLARABEL), with the smooth stages kept off."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_smooth_stages, "_eligible", lambda problem, limit: False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = exact_problem(many_groups).solve(solver="CLARABEL", **KNOBS)
    info = result.solver_info
    assert info["status"] == "optimal" and info["refined"]
    assert NEWTON_SQP not in [a["solver"] for a in info["attempts"] + info["refine_attempts"]]
    return result


def assert_same_fit(info, losses, coef, conic):
    assert info["stage1_objective"] == pytest.approx(
        conic.solver_info["stage1_objective"], abs=1e-6
    )
    np.testing.assert_allclose(losses, conic.group_losses, atol=1e-6)
    np.testing.assert_allclose(coef, conic.coef[:, :, 0], atol=1e-3)


def test_many_groups_offset_minimax_by_the_dual_paths_smooth_stages(many_groups, conic):
    X, labels, g = many_groups
    est = FairMTLClassifier(sharing="offset", objective="minimax", alpha=ALPHA,
                            sharing_strength=STRENGTH, solver="dual")  # fmt: skip
    info = est.fit(X, labels, groups=g).solver_info_
    assert info["solver"] == SMOOTH_SOLVER and info["status"] == "optimal"
    assert info["refined"] and info["oracle_calls"] == 1  # no level method, no bounded solve
    assert list(est.groups_) == list(np.unique(g))
    assert_same_fit(info, est.group_losses_.to_numpy(), est.group_coef_[:, :, 0], conic)
    assert info["lower_bound"] <= conic.solver_info["stage1_objective"] + 1e-6


def test_many_groups_offset_minimax_by_the_exact_paths_sqp(many_groups, conic):
    sqp = exact_problem(many_groups).solve(solver="auto", **KNOBS)
    info = sqp.solver_info
    assert [a["solver"] for a in info["attempts"] + info["refine_attempts"]] == [NEWTON_SQP] * 2
    assert_same_fit(info, sqp.group_losses, sqp.coef[:, :, 0], conic)


@pytest.mark.parametrize("sharing", ["shared", "offset"])
def test_constraint_rows_equal_each_groups_own_gradient_blocks(sharing):
    """All groups' loss gradients as flat rows at once equal each group's own gradient
    blocks laid out as ``[coef row by row, intercept]``."""
    model, _, point, _ = small_model(5, sharing, 0.7)
    if sharing == "shared":
        point = (point[0][:1], point[1][:1])
    _, jw, jb, *_ = model.evaluate(*point)
    groups = np.array([4, 0, 6, 2])
    rows = model.constraint_rows(jw, jb, groups)
    for k, g in enumerate(groups):
        gw, gb = model.constraint_blocks(jw, jb, g)
        np.testing.assert_array_equal(rows[k], np.concatenate([gw.ravel(), gb]))


@pytest.mark.parametrize("level", [False, True])
def test_sparse_jacobian_equals_each_groups_own_gradient_blocks(level):
    """The structured programs' sparse Jacobian (scaled rows, then the epigraph level's
    -1) against each group's own gradient blocks laid out flat."""
    model, _, point, _ = small_model(6, "offset", 0.7)
    _, jw, jb, *_ = model.evaluate(*point)
    groups, scale = np.array([5, 1, 3]), np.array([2.0, 0.5, -1.0])
    J = model.jacobian(jw, jb, groups, scale, level=level)
    assert J.format == "csr"
    for k, g in enumerate(groups):
        gw, gb = model.constraint_blocks(jw, jb, g)
        row = scale[k] * np.concatenate([gw.ravel(), gb])
        expected = np.append(row, -1.0) if level else row
        np.testing.assert_array_equal(J[k].toarray().ravel(), expected)


@pytest.mark.parametrize("level", [False, True])
def test_sqp_step_with_blocks_and_a_sparse_jacobian_equals_cvxpys(level):
    """The SQP's step with the structured Hessian and the sparse Jacobian (as the programs
    of many groups give them), against the program written densely in cvxpy; one
    constraint has no gradient (a one-class group's saturated loss) where there is no
    level."""
    model, _, point, weights = small_model(8, "offset", 0.7)
    G = model.data.n_groups
    _, jw, jb, *_ = model.evaluate(*point)
    rng = np.random.default_rng(2)
    H = model.block_hessian(point, weights, level)
    if not level:
        jw[4], jb[4] = 0.0, 0.0
    D = model.jacobian(jw, jb, np.arange(G), rng.uniform(0.5, 2.0, G), level=level)
    g = rng.normal(size=H.n)
    if level:
        g[-1] = 1.0
    c = rng.normal(scale=0.05, size=G) - (0.0 if level else 0.02)
    c[4] = -0.1
    d_step, mu = _qp(H, g, c, D)
    x = cp.Variable(H.n)
    objective = g @ x + 0.5 * cp.quad_form(x, cp.psd_wrap(H.dense()))
    problem = cp.Problem(cp.Minimize(objective), [c + D.toarray() @ x <= 0])
    problem.solve(solver="CLARABEL")
    assert problem.status == "optimal"
    dual = problem.constraints[0].dual_value
    assert 0 < (dual > 1e-6).sum() < G  # some constraints active, not all
    np.testing.assert_allclose(d_step, x.value, atol=1e-6)
    np.testing.assert_allclose(mu, dual, atol=1e-6)


@pytest.mark.parametrize("simplex", [False, True])
@pytest.mark.parametrize("seed", range(3))
def test_check_multipliers_equal_nnls_on_the_dense_rows(simplex, seed):
    """The KKT check's multipliers of per-group models (the separable closed form) against
    scipy's non-negative least squares on the flat rows, as written before."""
    model, _, point, _ = small_model(seed, "offset", 0.7)
    G, d = model.data.n_groups, model.data.d
    _, jw, jb, *_ = model.evaluate(*point)
    rng = np.random.default_rng(seed)
    near = np.sort(rng.choice(G, 5, replace=False))
    scale = rng.uniform(0.5, 2.0, near.size)
    J = model.constraint_rows(jw, jb, near) * scale[:, None]
    # a target near the rows' span with non-negative weights, plus noise: some
    # multipliers positive, some at zero
    target = J.T @ (rng.random(near.size) - 0.3) + 0.01 * rng.normal(size=G * (d + 1))
    A, t = J.T, target
    if simplex:
        weight = 1e3 * (1.0 + np.abs(J).max())
        A, t = np.vstack([A, np.full(near.size, weight)]), np.append(t, weight)
    expected = nnls(A, t)[0]
    found = check_multipliers(model, jw, jb, near, scale, target, simplex)
    np.testing.assert_allclose(found, expected, atol=1e-9)


@pytest.mark.parametrize("seed", range(8))
def test_separable_nnls_equals_scipys_nnls(seed):
    """The closed form against Lawson and Hanson's active-set method (scipy's nnls) on the
    same least-squares program written as one matrix."""
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 30))
    n, r = rng.uniform(0.1, 3.0, m), rng.normal(size=m)
    weight = float(rng.choice([0.5, 5.0, 3e3]))
    A = np.vstack([np.diag(n), np.full(m, weight)])
    expected = nnls(A, np.append(r, weight))[0]
    np.testing.assert_allclose(separable_nnls(n, r, weight), expected, atol=1e-10)
    np.testing.assert_allclose(separable_nnls(n, r, None), nnls(np.diag(n), r)[0], atol=1e-12)
    n[0] = 0.0
    assert separable_nnls(n, r, weight) is None  # not unique: the caller's nnls decides


@pytest.mark.parametrize("chunk", [40, 130, 16_384])
def test_group_grams_equal_the_dense_hessians_blocks(chunk, monkeypatch):
    """Each group's block of the loss's Hessian, taken in runs of groups that fit ``chunk``
    rows (and groups larger than a run alone), against the dense Hessian's blocks
    (one weighted Gram matrix per group model)."""
    monkeypatch.setattr(_blockhessian, "GRAM_CHUNK", chunk)
    model, _, point, weights = small_model(9, "offset", 0.7)
    G, d = model.data.n_groups, model.data.d
    dense = model.hessian(point, weights, G)
    blocks = model.group_blocks(point, weights)
    for g in range(G):
        idx = np.r_[g * d : (g + 1) * d, G * d + g]
        np.testing.assert_allclose(blocks[g], dense[np.ix_(idx, idx)], rtol=1e-12, atol=1e-14)
    assert not blocks[2].any()  # the group without weight


@pytest.mark.parametrize(("G", "dtype"), [(5, np.float64), (20, np.float64), (20, np.float32)])
def test_model_outputs_and_gradients_equal_each_groups_own_products(G, dtype):
    """The smooth stages' row outputs and group gradients (a loop of products, the
    block-diagonal rows' sparse products, or gathers for float32 rows) against each
    group's rows times its own model, in float64 numpy."""
    rng = np.random.default_rng(G)
    n, d = 30 * G, 4
    X = rng.normal(size=(n, d)).astype(dtype)
    t = rng.permutation(np.arange(n) % G)
    y = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    data = GroupedData(X, y, t, np.ones(n), G)
    penalty = Penalty("offset", 1e-3, 0.5, data.shares)
    model = _Model(data, get_loss("logistic"), penalty, "offset")
    w, b = rng.normal(size=(G, d)), rng.normal(size=G)
    Xs = data.X.astype(np.float64)
    expected = np.einsum("nd,nd->n", Xs, w[data.task]) + b[data.task]
    np.testing.assert_allclose(model.outputs(w, b), expected, rtol=1e-13, atol=1e-13)
    losses, jw, jb = model._sums(w, b)
    ys = data.y  # the rows as held: sorted by group
    r = data.rw * -ys * expit(-ys * expected)  # the logistic loss's derivative in the output
    for g in range(G):
        rows = data.task == g
        np.testing.assert_allclose(jw[g], Xs[rows].T @ r[rows], rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(jb[g], r[rows].sum(), rtol=1e-11, atol=1e-13)
        loss = np.logaddexp(0.0, -ys[rows] * expected[rows]) @ data.rw[rows]
        assert losses[g] == pytest.approx(loss, rel=1e-12)
