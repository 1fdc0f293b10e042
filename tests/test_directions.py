"""Per-step direction programs against brute force and closed forms (no torch needed)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from fairmtl.neural import DIRECTION_OBJECTIVES, PreferenceProgram, make_direction
from fairmtl.neural._gradient_programs import gram_factor, min_norm_weights


def simplex_grid(k: int, steps: int) -> np.ndarray:
    """Every point of the simplex with coordinates in multiples of 1/steps."""
    points = [
        np.array(c + (steps - sum(c),)) / steps
        for c in itertools.product(range(steps + 1), repeat=k - 1)
        if sum(c) <= steps
    ]
    return np.array(points)


def random_gradients(rng, k, d=5, conflict=True):
    J = rng.normal(size=(k, d))
    return J if conflict else J + 3.0 * rng.normal(size=d)


# -- min-norm point (MGDA) -------------------------------------------------------------


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("seed", range(6))
def test_min_norm_matches_exhaustive_search(k, seed):
    rng = np.random.default_rng(seed)
    J = random_gradients(rng, k, conflict=seed % 2 == 0)
    G = J @ J.T
    lam = min_norm_weights(G)
    assert lam.min() >= 0 and lam.sum() == pytest.approx(1.0)
    grid = simplex_grid(k, 300 if k == 2 else 120)
    brute = np.einsum("ij,jk,ik->i", grid, G, grid).min()
    assert lam @ G @ lam <= brute + 1e-9
    assert lam @ G @ lam == pytest.approx(brute, rel=1e-3, abs=1e-6)


def test_min_norm_closed_form_two_vectors():
    # for two vectors the min-norm weight is the clipped projection (Sener & Koltun, Alg. 1)
    rng = np.random.default_rng(1)
    for _ in range(20):
        a, b = rng.normal(size=(2, 4))
        alpha = np.clip((b - a) @ b / np.sum((a - b) ** 2), 0.0, 1.0)
        lam = min_norm_weights(np.array([[a @ a, a @ b], [a @ b, b @ b]]))
        np.testing.assert_allclose(lam, [alpha, 1.0 - alpha], atol=1e-8)


def test_min_norm_singular_and_degenerate_gram():
    g = np.array([1.0, 2.0])
    G = np.outer([g @ g] * 3, [1, 1, 1]) / (g @ g) * (g @ g)  # three equal vectors: rank 1
    lam = min_norm_weights(G)
    assert lam.sum() == pytest.approx(1.0) and lam.min() >= 0
    assert min_norm_weights(np.zeros((3, 3))) == pytest.approx(np.full(3, 1 / 3))
    assert min_norm_weights(np.array([[2.0]])) == pytest.approx([1.0])
    # opposite vectors: the hull contains 0
    lam = min_norm_weights(np.array([[1.0, -1.0], [-1.0, 1.0]]))
    np.testing.assert_allclose(lam, [0.5, 0.5], atol=1e-9)


def test_gram_factor_reproduces_gram():
    rng = np.random.default_rng(0)
    J = rng.normal(size=(4, 2))  # rank 2 < 4: the Cholesky fails, the eigen-factor is used
    R = gram_factor(J @ J.T)
    np.testing.assert_allclose(R.T @ R, J @ J.T, atol=1e-10)


def test_mgda_steps_never_increase_a_group_loss_on_a_convex_toy():
    """Quadratic group losses; every small MGDA step lowers every group's loss."""
    rng = np.random.default_rng(0)
    k, d = 3, 4
    A = rng.normal(size=(k, 6, d))
    b = rng.normal(size=(k, 6))

    def losses(theta):
        return np.array([0.5 * np.sum((A[g] @ theta - b[g]) ** 2) for g in range(k)])

    def grads(theta):
        return np.stack([A[g].T @ (A[g] @ theta - b[g]) for g in range(k)])

    theta = 3.0 * rng.normal(size=d)
    for _ in range(200):
        J = grads(theta)
        lam = min_norm_weights(J @ J.T)
        step = -(lam @ J)
        before = losses(theta)
        for t in (1e-4, 1e-3):
            assert np.all(losses(theta + t * step) <= before + 1e-12)
        theta = theta + 1e-2 * step
    # a Pareto-stationary point: the min-norm direction has (almost) vanished
    J = grads(theta)
    lam = min_norm_weights(J @ J.T)
    assert np.linalg.norm(lam @ J) < 0.05 * np.linalg.norm(J, axis=1).max()


# -- the cvxpy preference / minimax program ----------------------------------------------


def dual_value(lam, G, f, r, eta):
    c = r * lam
    return f @ c - 0.5 * eta * c @ G @ c


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("seed", range(3))
def test_minimax_program_matches_exhaustive_search(k, seed):
    rng = np.random.default_rng(seed)
    J = random_gradients(rng, k)
    G, f, r, eta = J @ J.T, rng.uniform(0.3, 1.0, size=k), np.ones(k), 0.3
    weights, status = PreferenceProgram(k, descent=False).solve(G, f, r, eta)
    assert status == "optimal"
    grid = simplex_grid(k, 300 if k == 2 else 120)
    brute = max(dual_value(lam, G, f, r, eta) for lam in grid)
    assert dual_value(weights, G, f, r, eta) >= brute - 1e-4


def test_program_limits_worst_group_and_min_norm():
    rng = np.random.default_rng(3)
    k = 4
    J = random_gradients(rng, k)
    G, f = J @ J.T, np.array([0.4, 0.9, 0.5, 0.6])
    program = PreferenceProgram(k, descent=False)
    tiny, _ = program.solve(G, f, np.ones(k), 1e-6)
    np.testing.assert_allclose(tiny, np.eye(k)[1], atol=1e-3)  # all weight on the worst group
    huge, _ = program.solve(G, f, np.ones(k), 1e6)
    np.testing.assert_allclose(
        huge @ G @ huge, min_norm_weights(G) @ G @ min_norm_weights(G), rtol=1e-3, atol=1e-6
    )


def test_preference_program_is_a_common_descent_direction():
    rng = np.random.default_rng(4)
    k = 5
    J = random_gradients(rng, k, conflict=True)
    G, f = J @ J.T, rng.uniform(0.2, 1.0, size=k)
    r = np.array([1.0, 0.5, 2.0, 1.0, 0.25])
    weights, status = PreferenceProgram(k, descent=True).solve(G, f, r, 0.5)
    assert status == "optimal" and weights.sum() == pytest.approx(1.0)
    # no group's loss increases to first order along -sum_g c_g grad_g
    assert np.all(G @ weights >= -1e-6 * np.abs(G).max())


def test_zero_preference_gets_no_weight():
    rng = np.random.default_rng(5)
    J = random_gradients(rng, 3)
    direction = make_direction("chebyshev", 3, np.full(3, 1 / 3), preference=[1.0, 0.0, 1.0])
    weights = direction.combine(np.array([0.5, 2.0, 0.4]), J @ J.T, step=0.1)
    assert weights[1] == pytest.approx(0.0, abs=1e-6)


# -- weightings ----------------------------------------------------------------------------


def test_weightings_closed_forms():
    shares = np.array([0.5, 0.3, 0.2])
    L = np.array([0.2, 0.6, 0.4])
    assert make_direction("average", 3, shares).combine(L) == pytest.approx(shares)
    assert make_direction("balanced", 3, shares).combine(L) == pytest.approx(np.full(3, 1 / 3))
    tilted = make_direction("tilted", 3, shares, tilt=2.0).combine(L)
    np.testing.assert_allclose(tilted, np.exp(2 * L) / np.exp(2 * L).sum())
    very = make_direction("tilted", 3, shares, tilt=1e4).combine(L)
    np.testing.assert_allclose(very, [0, 1, 0], atol=1e-12)


def test_group_dro_weights_follow_exponentiated_losses():
    direction = make_direction("minimax", 2, np.array([0.5, 0.5]), dual_step_size=0.5)
    L = np.array([1.0, 0.0])
    for t in range(1, 4):
        q = direction.combine(L)
        np.testing.assert_allclose(q, np.exp(0.5 * t * L) / np.exp(0.5 * t * L).sum())
    # long runs never underflow to a zero weight (weights are kept in logs)
    for _ in range(10_000):
        q = direction.combine(np.array([50.0, 0.0]))
    assert np.all(np.isfinite(q)) and q[0] == pytest.approx(1.0)


def test_bounded_multipliers_rise_only_when_violated():
    shares = np.array([0.5, 0.5])
    direction = make_direction("bounded", 2, shares, epsilon=0.5, dual_step_size=0.1)
    for _ in range(5):
        weights = direction.combine(np.array([0.7, 0.3]))
    np.testing.assert_allclose(weights, shares + [5 * 0.1 * 0.2, 0.0])
    for _ in range(100):
        weights = direction.combine(np.array([0.3, 0.3]))
    np.testing.assert_allclose(weights, shares)  # projected back to mu = 0


def test_direction_errors_and_bookkeeping():
    shares = np.full(2, 0.5)
    with pytest.raises(ValueError, match="not available on the neural path"):
        make_direction("no_harm", 2, shares)
    with pytest.raises(ValueError, match="does not apply"):
        make_direction("pareto", 2, shares, direction="group_dro")
    with pytest.raises(ValueError, match="tilt"):
        make_direction("tilted", 2, shares)
    with pytest.raises(ValueError, match="epsilon"):
        make_direction("bounded", 2, shares)
    with pytest.raises(ValueError, match="preference"):
        make_direction("chebyshev", 2, shares, preference=[0.0, 0.0])
    assert set(DIRECTION_OBJECTIVES) >= {"pareto", "minimax", "chebyshev", "average"}
    direction = make_direction("pareto", 2, shares)
    assert direction.needs_gradients
    direction.combine(np.ones(2), np.eye(2))
    info = direction.info()
    assert info["direction"] == "min_norm" and info["direction_calls"] == 1


def test_old_solvers_names_resolve_with_a_deprecation_warning():
    import fairmtl.neural
    import fairmtl.solvers

    with pytest.warns(DeprecationWarning, match="moved to fairmtl.neural.make_direction"):
        old = fairmtl.solvers.make_direction
    assert old is fairmtl.neural.make_direction
