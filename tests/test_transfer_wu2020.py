"""The methods of Wu, Zhang & Re (ICLR 2020) in fairmtl.transfer, against hand computations.

- the covariance similarity score (Eq. 5), on covariances whose eigenpairs are known;
- Algorithm 2 (SVD task reweighting), on vectors whose SVD is known in closed form, and
  on the paper's setting (tasks sharing one X, one with random labels);
- Algorithm 1 (covariance alignment), on groups whose features are rotations of one
  another: the learned R_g undoes the rotation, and it leaves aligned groups alone.
"""

from __future__ import annotations

import numpy as np
import pytest

from fairmtl import FairMTLClassifier, FairMTLMLPRegressor, FairMTLRegressor
from fairmtl.datasets import make_hospitals
from fairmtl.exceptions import DataValidationError
from fairmtl.transfer import (
    ClusteredMTL,
    covariance_similarity,
    svd_task_weights,
    task_affinity,
)
from fairmtl.transfer._reweight import MSG_RANK

# -- Eq. 5: the covariance similarity score ------------------------------------------------


def test_covariance_similarity_by_hand():
    # X1.T X1 = diag(4, 1), X2.T X2 = diag(1, 4): both keep both eigenpairs (99% rule).
    X1, X2 = np.diag([2.0, 1.0]), np.diag([1.0, 2.0])
    # (U1 D1^1/2).T U2 D2^1/2 = diag(2*1, 1*2) -> ||.||_F = sqrt(8); norms sqrt(5) each
    assert covariance_similarity(X1, X2) == pytest.approx(np.sqrt(8.0) / 5.0, abs=1e-12)
    # identical data: ||D||_F / tr D = sqrt(17) / 5 (not 1: the paper's normalisation)
    assert covariance_similarity(X1, X1) == pytest.approx(np.sqrt(17.0) / 5.0, abs=1e-12)
    # orthogonal ranges
    assert covariance_similarity(np.eye(3)[:1], np.eye(3)[1:]) == 0.0


def test_covariance_similarity_truncates_at_99_percent_and_is_rotation_invariant():
    # eigenvalues 100 and 2: 100 / 102 < 0.99 keeps both; 100 and 0.5 (0.995) keeps one
    X1 = np.diag([10.0, np.sqrt(2.0)])
    X2 = np.diag([np.sqrt(2.0), 10.0])
    F1 = np.diag([10.0, np.sqrt(2.0)])  # U D^1/2 with U = I
    F2 = np.diag([np.sqrt(2.0), 10.0])
    expected = np.linalg.norm(F1.T @ F2) / (np.linalg.norm(F1) * np.linalg.norm(F2))
    assert covariance_similarity(X1, X2) == pytest.approx(expected, abs=1e-12)
    Y1, Y2 = np.diag([10.0, np.sqrt(0.5)]), np.diag([np.sqrt(0.5), 10.0])
    assert covariance_similarity(Y1, Y2) == 0.0  # top directions e0 and e1 only
    # the same rotation of both tasks' columns leaves the score unchanged
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((2, 50, 4))
    Q = np.linalg.qr(rng.standard_normal((4, 4)))[0]
    assert covariance_similarity(A @ Q, B @ Q) == pytest.approx(covariance_similarity(A, B))
    with pytest.raises(DataValidationError, match="n_rows, n_features"):
        covariance_similarity(A, B[:, :3])


def test_covariance_similarity_affinity_measure():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((600, 3)) * [3.0, 1.0, 0.2]
    groups = np.repeat(["a", "b", "c"], 200)
    A = task_affinity(X, groups=groups, measure="covariance_similarity")
    Z = (X - X.mean(0)) / X.std(0)  # the measure works on pooled-standardised features
    for g, h in (("a", "b"), ("a", "c")):
        expected = covariance_similarity(Z[groups == g], Z[groups == h])
        assert A.loc[g, h] == pytest.approx(expected, abs=1e-12)
    assert np.allclose(np.diag(A), 1.0)


# -- Algorithm 2: SVD task reweighting -------------------------------------------------------


def test_algorithm_2_by_hand():
    """theta_a = (3, 0), theta_b = (0, 1): U_1 = e0, alpha = (3, 0); U_2 = I, alpha = (3, 1)."""
    # one row per group; X_g.T y_g / n_g = theta_g (a continuous target: regression)
    X = np.array([[2.0, 0.0], [0.0, 2.0 / 3.0]])
    y = np.array([1.5, 1.5])
    groups = np.array(["a", "b"])
    w1 = svd_task_weights(X, y, groups=groups, rank=1)
    np.testing.assert_allclose(w1.to_numpy(), [1.0, 0.0], atol=1e-12)
    w2 = svd_task_weights(X, y, groups=groups, rank=2)
    np.testing.assert_allclose(w2.to_numpy(), [1.0, 1.0 / 3.0], atol=1e-12)  # (3, 1) / 3
    # theta_a = (2.5, 2.5), theta_b = (1, -1): orthogonal, U_1 = theta_a's direction
    X = np.array([[1.0, 1.0], [1.0, -1.0]])
    w = svd_task_weights(X, np.array([2.5, 1.0]), groups=groups, rank=1)
    np.testing.assert_allclose(w.to_numpy(), [1.0, 0.0], atol=1e-12)
    assert w.attrs == {
        "rank": 1,
        "singular_values": pytest.approx([2.5 * np.sqrt(2.0), np.sqrt(2.0)]),
        "basis": "data",
        "method": "wu2020",
    }


def test_algorithm_2_matches_a_direct_svd_on_the_papers_setting():
    """Six regression tasks on one X, the last with permuted labels."""
    rng = np.random.default_rng(0)
    m, k, d = 400, 6, 10
    X = rng.normal(size=(m, d)) + 0.5
    theta = rng.normal(size=d)
    Y = [X @ (theta + 0.1 * rng.normal(size=d)) + 0.5 * rng.normal(size=m) for _ in range(k)]
    Y[-1] = rng.permutation(Y[-1])
    Xs, ys = np.vstack([X] * k), np.concatenate(Y)
    groups = np.repeat([f"task{i}" for i in range(k)], m)
    Theta = np.column_stack([X.T @ yi for yi in Y])  # the paper's theta_i = X.T y_i
    U = np.linalg.svd(Theta, full_matrices=False)[0]
    for r in (1, 2):
        alpha = np.linalg.norm(Theta.T @ U[:, :r], axis=1)
        w = svd_task_weights(Xs, ys, groups=groups, rank=r)
        np.testing.assert_allclose(w.to_numpy(), alpha / alpha.max(), rtol=1e-10)
        assert w.iloc[-1] < 0.6 * w.iloc[:-1].min()  # the noisy task is down-weighted
    # centred, and from fitted slopes: the noisy task weighs far less still
    for kwargs in ({"center": True}, {"basis": "model"}):
        w = svd_task_weights(
            Xs,
            ys,
            groups=groups,
            rank=1,
            estimator=FairMTLRegressor(objective="average", alpha=1e-4, sharing_strength=1.0),
            **kwargs,
        )
        assert w.iloc[-1] < 0.1 and w.iloc[:-1].min() > 0.8
    # the earlier unit-length rows keep the noisy task at about the top weight
    U, S, _ = np.linalg.svd(Theta.T / np.linalg.norm(Theta, axis=0)[:, None])
    assert np.sum((U[-1, :2] * S[:2]) ** 2) > 0.9


def test_algorithm_2_input_errors():
    X, y, g = np.eye(2), np.ones(2), np.array(["a", "b"])
    with pytest.raises(DataValidationError, match="method must be one of"):
        svd_task_weights(X, y, groups=g, method="nope")
    with pytest.raises(DataValidationError, match="rank must be a positive integer"):
        svd_task_weights(X, y, groups=g, rank=0)
    with pytest.raises(DataValidationError, match="rank must be"):
        svd_task_weights(X, y, groups=g, rank=None)  # the paper's r is the user's
    assert "{rank!r}" in MSG_RANK
    # a rank above the number of groups is capped
    assert svd_task_weights(X, y, groups=g, rank=5).attrs["rank"] == 2


# -- ClusteredMTL: per-cluster alpha -----------------------------------------------------------


def test_clustered_mtl_chooses_alpha_per_cluster_from_the_grid():
    bunch = make_hospitals(6, n_samples=900, n_clusters=2, n_outliers=1, random_state=0)
    template = FairMTLClassifier(objective="average", alpha=1e-4, sharing_strength=0.16)
    model = ClusteredMTL(template, max_clusters=3, alphas=(1e-4, 1e-2), random_state=0)
    model.fit(bunch.data, bunch.target, groups=bunch.groups)
    assert len(model.cluster_alpha_) == model.n_clusters_
    assert set(model.cluster_alpha_) <= {1e-4, 1e-2}
    for est, alpha in zip(model.estimators_, model.cluster_alpha_, strict=True):
        assert est.alpha == alpha
    fixed = ClusteredMTL(template, max_clusters=3, alphas=None, random_state=0)
    fixed.fit(bunch.data, bunch.target, groups=bunch.groups)
    assert fixed.cluster_alpha_ == [1e-4] * fixed.n_clusters_


# -- Algorithm 1: covariance alignment ---------------------------------------------------------

torch = pytest.importorskip("torch")


def _rotated_groups(seed: int, rotate: bool, n: int = 300):
    """Two groups with y = x0 - x1 in group a, and group b's features rotated by Q."""
    rng = np.random.default_rng(seed)
    Q = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]) if rotate else np.eye(3)
    Z = rng.standard_normal((2 * n, 3))
    y = np.maximum(Z[:, 0] - Z[:, 1], 0.0) + 0.05 * rng.standard_normal(2 * n)
    X = Z.copy()
    X[n:] = Z[n:] @ Q.T
    return X, y, np.repeat(["a", "b"], n)


def _template() -> FairMTLMLPRegressor:
    return FairMTLMLPRegressor(
        (16,), heads="per_group", objective="average", max_epochs=50, random_state=0
    )


def _held_out_mse(model, X, y, g) -> float:
    return float(np.mean((model.predict(X, groups=g) - y) ** 2))


@pytest.mark.torch
def test_covariance_alignment_undoes_a_rotation_and_keeps_the_trunk():
    from fairmtl.transfer import CovarianceAlignedMTL

    X, y, g = _rotated_groups(0, rotate=True)
    X_test, y_test, g_test = _rotated_groups(1, rotate=True)
    model = CovarianceAlignedMTL(
        _template(), max_epochs=200, alignment_penalty=0.0, random_state=0
    ).fit(X, y, groups=g)  # the paper's Algorithm 1, unpenalised
    # with the shared module fixed: the trunk's weights are the template's
    for key, value in model.estimator_.network_state_.items():
        if key.startswith("trunk"):
            np.testing.assert_array_equal(model.state_["base." + key], value)
    # control: the same second stage with R_g pinned at the identity (heads only)
    heads_only = CovarianceAlignedMTL(
        model.estimator_, prefit=True, max_epochs=200, alignment_penalty=1e6, random_state=0
    ).fit(X, y, groups=g)
    assert heads_only.estimator_ is model.estimator_
    np.testing.assert_allclose(heads_only.alignment_, np.stack([np.eye(3)] * 2), atol=1e-3)
    aligned = _held_out_mse(model, X_test, y_test, g_test)
    assert aligned < 0.8 * _held_out_mse(heads_only, X_test, y_test, g_test)
    assert model.alignment_.shape == (2, 3, 3)
    for template in (FairMTLRegressor(objective="average"), FairMTLMLPRegressor(heads="offset")):
        with pytest.raises(DataValidationError, match="FairMTLMLPRegressor with heads='per_group'"):
            CovarianceAlignedMTL(template).fit(X, y, groups=g)


@pytest.mark.torch
def test_covariance_alignment_does_not_hurt_aligned_groups():
    from fairmtl.transfer import CovarianceAlignedMTL

    X, y, g = _rotated_groups(0, rotate=False)
    X_test, y_test, g_test = _rotated_groups(1, rotate=False)
    model = CovarianceAlignedMTL(_template(), max_epochs=200, random_state=0).fit(X, y, groups=g)
    before = _held_out_mse(model.estimator_, X_test, y_test, g_test)
    assert _held_out_mse(model, X_test, y_test, g_test) < 1.1 * before


def test_linear_alignment_reduces_to_an_offset_penalty():
    """The claim of the alignment module's docstring: min ||R - I||_F^2 subject to
    R w = v is ||v - w||^2 / ||w||^2 (so a linear R_g adds nothing to offset sharing),
    checked by the minimum-norm least-squares solution of the linear constraints."""
    rng = np.random.default_rng(3)
    d = 4
    for _ in range(3):
        w, v = rng.standard_normal((2, d))
        # R w = v is linear in vec(R): (I kron w.T) vec(R) = v; write R = I + E
        A = np.kron(np.eye(d), w[None, :])
        E = np.linalg.lstsq(A, v - w, rcond=None)[0]  # minimum-norm E
        assert np.sum(E**2) == pytest.approx(np.sum((v - w) ** 2) / np.sum(w**2))


@pytest.mark.torch
def test_auto_alignment_penalty_keeps_the_best_held_out_run():
    """ "auto" trains every penalty of the grid from the same template and keeps the run
    whose held-out loss is lowest: its score equals the best fixed-penalty run's."""
    from fairmtl.transfer import CovarianceAlignedMTL
    from fairmtl.transfer._alignment_train import PENALTY_GRID

    X, y, g = _rotated_groups(0, rotate=True, n=100)
    base = _template().fit(X, y, groups=g)

    def run(penalty):
        return CovarianceAlignedMTL(
            base, prefit=True, max_epochs=30, alignment_penalty=penalty, random_state=0
        ).fit(X, y, groups=g)

    auto = run("auto")
    assert auto.alignment_penalty_ in PENALTY_GRID
    same = run(auto.alignment_penalty_)  # the chosen run, trained on its own
    np.testing.assert_allclose(auto.alignment_, same.alignment_)
    for other in (PENALTY_GRID[0], PENALTY_GRID[-1]):  # no better held-out run was passed over
        assert min(run(other).history_) >= min(same.history_)
    with pytest.raises(ValueError, match="validation_fraction > 0"):
        CovarianceAlignedMTL(
            base, prefit=True, alignment_penalty="auto", validation_fraction=0.0
        ).fit(X, y, groups=g)


def _held_out_rows(groups: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """The rows CovarianceAlignedMTL holds out, drawn again here: ``fraction`` of each
    group's rows (groups in sorted order), the first of one permutation per group."""
    rng = np.random.RandomState(seed)
    held = []
    for name in np.unique(groups):
        rows = rng.permutation(np.flatnonzero(groups == name))
        held.append(rows[: int(round(fraction * len(rows)))])
    return np.sort(np.concatenate(held))


def _sum_of_group_mse(model, X, y, g) -> float:
    err = (model.predict(X, groups=g) - y) ** 2
    return float(sum(err[g == name].mean() for name in np.unique(g)))


@pytest.mark.torch
def test_alignment_penalty_is_chosen_on_held_out_training_rows_by_default():
    """The default penalty is "auto": of the grid, the one whose model has the lowest
    loss on the held-out rows of the training data (recomputed here from predictions on
    those rows, drawn again), and those rows' loss is the score the choice used."""
    from fairmtl.transfer import CovarianceAlignedMTL
    from fairmtl.transfer._alignment_train import PENALTY_GRID

    X, y, g = _rotated_groups(2, rotate=False, n=100)
    base = _template().fit(X, y, groups=g)
    held = _held_out_rows(g, 0.2, seed=0)

    def fit(**penalty):
        return CovarianceAlignedMTL(
            base, prefit=True, max_epochs=30, random_state=0, **penalty
        ).fit(X, y, groups=g)

    default = fit()
    assert CovarianceAlignedMTL(base).get_params()["alignment_penalty"] == "auto"
    score = _sum_of_group_mse(default, X[held], y[held], g[held])
    assert score == pytest.approx(min(default.history_), rel=1e-6)
    losses = {
        p: _sum_of_group_mse(fit(alignment_penalty=p), X[held], y[held], g[held])
        for p in PENALTY_GRID
    }
    assert default.alignment_penalty_ == min(losses, key=losses.get)
    assert losses[default.alignment_penalty_] == pytest.approx(score, rel=1e-6)
    # all rows but the held-out ones: another score, so the choice used those rows
    rest = np.setdiff1d(np.arange(len(y)), held)
    assert _sum_of_group_mse(default, X[rest], y[rest], g[rest]) != pytest.approx(score)


@pytest.mark.torch
def test_template_is_fitted_without_the_held_out_rows():
    """The rows that choose the epoch and the penalty are unseen by every stage: the
    template is fitted on the other rows (drawn again here), as a fit by hand on them."""
    from fairmtl.transfer import CovarianceAlignedMTL

    X, y, g = _rotated_groups(4, rotate=True, n=100)
    model = CovarianceAlignedMTL(_template(), max_epochs=5, random_state=0).fit(X, y, groups=g)
    rest = np.setdiff1d(np.arange(len(y)), _held_out_rows(g, 0.2, seed=0))
    by_hand = _template().fit(X[rest], y[rest], groups=g[rest])
    assert model.estimator_.network_state_.keys() == by_hand.network_state_.keys()
    for key, value in by_hand.network_state_.items():
        np.testing.assert_array_equal(model.estimator_.network_state_[key], value)
