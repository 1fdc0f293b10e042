"""Tests of fairmtl.transfer: alignment scores against their definitions, and the
diagnostics and alignment-aware training on make_hospitals with a planted structure.

The planted structure (``PLANTED``): 16 hospitals, two clusters whose true coefficient
vectors are ``2 * ||coef_shared||`` apart, hospitals within 0.2 of their cluster's
vector, two outlier hospitals with an unrelated random vector, classification. Every
check trains on a quarter of each hospital's rows (about 125) and scores on the rest, so
that sharing matters and held-out losses are precise. The default run uses a few
seeds; ``-m slow`` runs more.
"""

from __future__ import annotations

import functools
import json

import numpy as np
import pandas as pd
import pytest
from scipy.linalg import subspace_angles
from sklearn.base import clone, is_classifier
from sklearn.metrics import adjusted_rand_score

from fairmtl import FairMTLClassifier, FairMTLRegressor
from fairmtl.data import train_val_test_split
from fairmtl.datasets import make_hospitals
from fairmtl.exceptions import DataValidationError
from fairmtl.metrics import bootstrap_indices
from fairmtl.transfer import (
    ClusteredMTL,
    cluster_groups,
    covariance_alignment,
    gain_from_sharing,
    group_alignment,
    group_gradients,
    leaf_order,
    reading,
    subspace_affinity,
    svd_task_weights,
    task_affinity,
    top_eigenpairs,
    transfer_summary,
    transfer_test,
)
from fairmtl.transfer._alignment import (
    pairwise_covariance_alignment,
    pairwise_subspace_affinity,
)
from fairmtl.transfer._common import Data, check_data, fit_variant, row_losses
from fairmtl.transfer._gain import paired_gain_intervals
from fairmtl.transfer._leave_one_in import MSG_METHOD

PLANTED = dict(
    n_hospitals=16,
    n_samples=8000,
    n_clusters=2,
    n_outliers=2,
    cluster_separation=2.0,
    deviation=0.2,
    base_rate_spread=0.5,
    size_skew=0.5,
)
TEST_SIZE = 0.75


@functools.lru_cache(maxsize=16)
def planted(seed: int):
    """Train and held-out parts of the planted simulation, and its truth."""
    bunch = make_hospitals(**PLANTED, random_state=seed)
    data = check_data(bunch.data, bunch.target, bunch.groups)
    split = train_val_test_split(
        data.X, data.y, data.groups, val_size=0.0, test_size=TEST_SIZE, random_state=0
    )
    return data.take(split.train), data.take(split.test), bunch


def _outliers(bunch) -> set[str]:
    return set(np.asarray(bunch.hospitals)[bunch.cluster < 0])


def _group_losses(model, held: Data) -> np.ndarray:
    codes = held.codes()
    return np.bincount(codes, weights=row_losses(model, held)) / np.bincount(codes)


# -- alignment scores: their definitions on hand-built cases ------------------------------


def _rotation(d: int, seed: int) -> np.ndarray:
    return np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))[0]


def test_subspace_affinity_identical_orthogonal_and_partial():
    e = np.eye(4)
    assert subspace_affinity(e[:, :2], e[:, :2]) == pytest.approx(1.0)
    assert subspace_affinity(e[:, :2], e[:, 2:]) == pytest.approx(0.0)
    # span(e0, e1) vs span(e0, e2): principal angles 0 and 90 degrees -> mean cos^2 = 1/2
    assert subspace_affinity(e[:, :2], e[:, [0, 2]]) == pytest.approx(0.5)
    # the score depends on the subspaces, not on the bases chosen for them
    Q = _rotation(2, 0)
    assert subspace_affinity(e[:, :2] @ Q, e[:, :2]) == pytest.approx(1.0)


def test_subspace_affinity_is_mean_squared_cosine_of_principal_angles():
    rng = np.random.default_rng(1)
    for _ in range(5):
        A = np.linalg.qr(rng.standard_normal((6, 3)))[0]
        B = np.linalg.qr(rng.standard_normal((6, 3)))[0]
        expected = np.mean(np.cos(subspace_angles(A, B)) ** 2)
        assert subspace_affinity(A, B) == pytest.approx(expected, abs=1e-12)


def test_covariance_alignment_matches_its_definition():
    rng = np.random.default_rng(2)
    R = _rotation(5, 3)
    C = R @ np.diag([4.0, 2.0, 1.0, 0.0, 0.0]) @ R.T
    assert covariance_alignment(C, 3.0 * C) == pytest.approx(1.0)
    # orthogonal ranges score 0
    C1, C2 = np.diag([1.0, 2.0, 0.0, 0.0]), np.diag([0.0, 0.0, 5.0, 1.0])
    assert covariance_alignment(C1, C2) == pytest.approx(0.0)
    # full rank (energy=1): the cosine of the two matrices
    for _ in range(3):
        A, B = rng.standard_normal((2, 5, 5))
        S1, S2 = A @ A.T, B @ B.T
        expected = np.sum(S1 * S2) / (np.linalg.norm(S1) * np.linalg.norm(S2))
        assert covariance_alignment(S1, S2) == pytest.approx(expected, abs=1e-12)
    # truncation: the top eigenvectors of diag(3, 1) and diag(1, 3) are orthogonal
    assert covariance_alignment(np.diag([3.0, 1.0]), np.diag([1.0, 3.0]), rank=1) == 0.0
    # the (U D^1/2) form of the module docstring gives the same number
    d1, U1 = top_eigenpairs(S1, rank=3)
    d2, U2 = top_eigenpairs(S2, rank=3)
    inner = np.linalg.norm((U1 * np.sqrt(d1)).T @ (U2 * np.sqrt(d2))) ** 2
    score = inner / (np.linalg.norm(d1) * np.linalg.norm(d2))
    assert covariance_alignment(S1, S2, rank=3) == pytest.approx(score, abs=1e-12)


def test_top_eigenpairs_energy_rank():
    values, vectors = top_eigenpairs(np.diag([1.0, 6.0, 3.0]), energy=0.9)
    np.testing.assert_allclose(values, [6.0, 3.0])  # 9 / 10 of the trace
    np.testing.assert_allclose(np.abs(vectors), np.eye(3)[:, [1, 2]])
    with pytest.raises(DataValidationError, match="energy"):
        top_eigenpairs(np.eye(2), energy=1.5)


def test_pairwise_scores_equal_the_scalar_scores():
    rng = np.random.default_rng(4)
    covs = np.stack([(lambda A: A @ A.T)(rng.standard_normal((4, 2))) for _ in range(4)])
    S = pairwise_subspace_affinity(covs, energy=0.9)
    C = pairwise_covariance_alignment(covs)
    for i in range(4):
        for j in range(4):
            Ui, Uj = top_eigenpairs(covs[i])[1], top_eigenpairs(covs[j])[1]
            assert S[i, j] == pytest.approx(subspace_affinity(Ui, Uj), abs=1e-12)
            assert C[i, j] == pytest.approx(covariance_alignment(covs[i], covs[j]), abs=1e-12)


def test_feature_affinities_on_hand_built_groups():
    """Groups whose features live in the same / orthogonal coordinate planes."""
    rng = np.random.default_rng(5)
    n = 200
    plane_a = np.column_stack([rng.standard_normal((n, 2)), np.zeros((n, 2))])
    copy_a = np.column_stack([rng.standard_normal((n, 2)), np.zeros((n, 2))])
    plane_b = np.column_stack([np.zeros((n, 2)), rng.standard_normal((n, 2))])
    X = np.vstack([plane_a, copy_a, plane_b])
    groups = np.repeat(["a", "a2", "b"], n)
    S = task_affinity(X, groups=groups, measure="subspace", center="group", energy=1.0)
    assert S.loc["a", "a2"] == pytest.approx(1.0, abs=1e-9)
    assert S.loc["a", "b"] == pytest.approx(0.0, abs=1e-9)
    C = task_affinity(X, groups=groups, measure="covariance", center="group")
    assert C.loc["a", "b"] == pytest.approx(0.0, abs=1e-9)
    assert C.loc["a", "a2"] > 0.95  # same plane, sampled covariances nearly equal
    assert C.attrs == {"measure": "covariance", "range": (0.0, 1.0)}


def test_group_gradients_match_their_definition():
    bunch = make_hospitals(4, n_samples=600, task="regression", random_state=0)
    data = check_data(bunch.data, bunch.target, bunch.groups)
    model = fit_variant(
        FairMTLRegressor(objective="average", alpha=1e-4, sharing_strength=0.1),
        data,
        sharing="shared",
    )
    grads = group_gradients(model, data, data.names)
    Z = (data.X - data.X.mean(0)) / data.X.std(0)
    residual = 2.0 * (model.predict(data.X, groups=data.groups) - data.y)
    for g, name in enumerate(data.names):
        rows = data.groups == name
        Zc = Z[rows] - Z[rows].mean(0)
        np.testing.assert_allclose(grads[g], Zc.T @ residual[rows] / rows.sum(), atol=1e-10)
    A = task_affinity(bunch.data, bunch.target, groups=bunch.groups, measure="gradient")
    unit = grads / np.linalg.norm(grads, axis=1, keepdims=True)
    np.testing.assert_allclose(A.to_numpy(), np.clip(unit @ unit.T, -1, 1), atol=1e-6)


# -- clustering -------------------------------------------------------------------------


def _blocks(sizes, within=0.9, between=-0.2) -> pd.DataFrame:
    labels = np.repeat(np.arange(len(sizes)), sizes)
    A = np.where(labels[:, None] == labels[None, :], within, between)
    np.fill_diagonal(A, 1.0)
    names = [f"g{i:02d}" for i in range(len(labels))]
    return pd.DataFrame(A, index=names, columns=names)


@pytest.mark.parametrize("method", ["average", "complete", "spectral"])
def test_cluster_groups_recovers_blocks(method):
    A = _blocks([3, 4, 2])
    labels = cluster_groups(A, 3, method=method, random_state=0)
    assert labels.tolist() == [0, 0, 0, 1, 1, 1, 1, 2, 2]
    assert labels.attrs["n_clusters"] == 3


def test_cluster_groups_chooses_the_count_by_silhouette():
    labels = cluster_groups(_blocks([3, 4, 3]))
    assert labels.attrs["n_clusters"] == 3
    assert max(labels.attrs["silhouette"], key=labels.attrs["silhouette"].get) == 3
    order = leaf_order(_blocks([3, 4, 3]))
    assert sorted(order) == list(_blocks([3, 4, 3]).index)


def test_cluster_groups_rejects_bad_input():
    with pytest.raises(DataValidationError, match="n_clusters"):
        cluster_groups(_blocks([2, 2]), 9)
    with pytest.raises(DataValidationError, match="method"):
        cluster_groups(_blocks([2, 2]), 2, method="ward!")
    with pytest.raises(DataValidationError, match="square"):
        cluster_groups(pd.DataFrame(np.eye(3)[:2]), 2)


# -- planted structure: clusters, outliers, clustered sharing -------------------------------


def _ari(seed: int, measure: str = "coefficient") -> float:
    train, _, bunch = planted(seed)
    A = task_affinity(train.X, train.y, groups=train.groups, measure=measure)
    labels = cluster_groups(A, 2).reindex(bunch.hospitals).to_numpy()
    regular = bunch.cluster >= 0  # outliers belong to no cluster
    return adjusted_rand_score(bunch.cluster[regular], labels[regular])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_affinity_recovers_planted_clusters(seed):
    assert _ari(seed) >= 0.9


@pytest.mark.slow
def test_affinity_recovers_planted_clusters_over_many_seeds():
    scores = [_ari(seed) for seed in range(10)]
    assert min(scores) >= 0.9, scores


def _gain_ranks(seed: int):
    train, held, bunch = planted(seed)
    table = gain_from_sharing(
        train.X,
        train.y,
        groups=train.groups,
        schemes=["clustered"],
        X_test=held.X,
        y_test=held.y,
        groups_test=held.groups,
        random_state=0,
    )
    outliers = _outliers(bunch)
    lowest = set(table.sort_values("gain")["group"].iloc[: len(outliers)])
    mine = table[table["group"].isin(outliers)]
    return lowest == outliers, mine


@pytest.mark.parametrize("seed", [0, 1, 3])
def test_gain_from_sharing_flags_the_outliers(seed):
    """Pooled with its own cluster, an outlier loses; the aligned hospitals do not."""
    lowest_are_outliers, mine = _gain_ranks(seed)
    assert lowest_are_outliers
    assert (mine["verdict"] == "hurt").all()


@pytest.mark.slow
def test_gain_from_sharing_flags_the_outliers_over_many_seeds():
    results = [_gain_ranks(seed) for seed in range(8)]
    assert sum(ok for ok, _ in results) >= 6  # measured: 7 of these 8 seeds
    assert all((mine["gain"] < 0).all() for _, mine in results)


def _worst_losses(seed: int) -> dict[str, float]:
    train, held, _ = planted(seed)
    template = FairMTLClassifier(objective="average", alpha=1e-4, sharing_strength=0.16)
    out = {
        s: _group_losses(fit_variant(template, train, sharing=s), held).max()
        for s in ("independent", "shared", "offset")
    }
    model = ClusteredMTL(max_clusters=5, random_state=0)
    model.fit(train.X, train.y, groups=train.groups)
    out["clustered"] = _group_losses(model, held).max()
    return out


def test_clustered_sharing_beats_global_and_independent_on_worst_group():
    worst = _worst_losses(0)
    assert worst["clustered"] < worst["shared"]
    assert worst["clustered"] < worst["independent"]


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(1, 10))
def test_clustered_sharing_beats_global_and_independent_many_seeds(seed):
    worst = _worst_losses(seed)
    assert worst["clustered"] < min(worst["shared"], worst["independent"])


def test_an_isolated_worst_off_outlier_tied_the_independent_fit_until_its_alpha_was_chosen():
    """Seed 7: the worst group under independent models is an outlier, which ClusteredMTL
    rightly puts alone in its cluster. With the template's alpha its model is exactly its
    independent fit (a tie on the worst-group loss); its own alpha breaks the tie."""
    train, held, bunch = planted(7)
    template = FairMTLClassifier(objective="average", alpha=1e-4, sharing_strength=0.16)
    independent = _group_losses(fit_variant(template, train, sharing="independent"), held)
    worst = held.names[independent.argmax()]
    assert worst in _outliers(bunch)
    losses = {}
    for alphas in (None, "auto"):
        model = ClusteredMTL(template, max_clusters=6, alphas=alphas, random_state=0)
        model.fit(train.X, train.y, groups=train.groups)
        cluster = model.clusters_[worst]
        assert (model.clusters_ == cluster).sum() == 1  # a singleton cluster
        losses[alphas] = _group_losses(model, held)
    assert losses[None].max() == pytest.approx(independent.max(), rel=1e-6)  # the tie
    assert losses["auto"].max() < independent.max()


# -- gain from sharing: the numbers ----------------------------------------------------------


def test_paired_gain_intervals_match_a_loop():
    rng = np.random.default_rng(6)
    codes = np.repeat([0, 1, 2], [5, 7, 4])
    diff = rng.standard_normal(len(codes))
    idx = bootstrap_indices(codes, 50, 0)
    est, lo, hi = paired_gain_intervals(diff, codes, 3, idx, 0.9)
    for g in range(3):
        rows = codes == g
        assert est[g] == pytest.approx(diff[rows].mean())
        reps = [diff[i][codes[i] == g].mean() for i in idx]
        assert lo[g] == pytest.approx(np.quantile(reps, 0.05))
        assert hi[g] == pytest.approx(np.quantile(reps, 0.95))


def test_gain_table_is_consistent():
    bunch = make_hospitals(5, n_samples=1500, task="regression", random_state=1)
    table = gain_from_sharing(
        bunch.data, bunch.target, groups=bunch.groups, n_boot=100, random_state=0
    )
    assert table.attrs["loss"] == "squared_error"
    assert len(table) == 10 and set(table["scheme"]) == {"offset", "shared"}
    np.testing.assert_allclose(table["gain"], table["independent"] - table["pooled"])
    assert ((table["lo"] <= table["gain"]) & (table["gain"] <= table["hi"])).all()
    verdict = np.where(table["lo"] > 0, "gains", np.where(table["hi"] < 0, "hurt", "unclear"))
    assert (table["verdict"] == verdict).all()


def test_gain_input_errors():
    bunch = make_hospitals(3, n_samples=300, random_state=0)
    X, y, g = bunch.data, bunch.target, bunch.groups
    with pytest.raises(DataValidationError, match="schemes"):
        gain_from_sharing(X, y, groups=g, schemes=["independent"])
    with pytest.raises(DataValidationError, match="together"):
        gain_from_sharing(X, y, groups=g, X_test=X)
    with pytest.raises(DataValidationError, match="at least 2 groups"):
        gain_from_sharing(X, y, groups=np.zeros(len(y)))
    with pytest.raises(DataValidationError, match="FairMTLClassifier"):
        gain_from_sharing(X, y, groups=g, estimator=object())


# -- leave-one-in transfer test ----------------------------------------------------------


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_transfer_test_newton_matches_exact(task):
    bunch = make_hospitals(5, n_samples=1000, task=task, n_clusters=2, random_state=0)
    args = (bunch.data, bunch.target)
    kw = dict(groups=bunch.groups, target="hospital_01", random_state=0, n_boot=50)
    fast = transfer_test(*args, method="newton", **kw)
    exact = transfer_test(*args, method="exact", **kw)
    assert fast.attrs["method"] == "newton" and exact.attrs["method"] == "exact"
    merged = fast.merge(exact, on="group")
    np.testing.assert_allclose(merged["with_group_x"], merged["with_group_y"], atol=1e-5)
    np.testing.assert_allclose(fast["alone"], exact["alone"], atol=1e-5)
    assert list(fast["change"]) == sorted(fast["change"], reverse=True)
    assert "hospital_01" not in set(fast["group"])


def test_transfer_test_finds_the_helpful_groups():
    """In the planted data a hospital's own cluster ranks first; the rest harm it."""
    train, held, bunch = planted(0)
    members = np.flatnonzero(bunch.cluster == 0)
    target = bunch.hospitals[members[np.argmax(bunch.size[members])]]  # precise held-out
    table = transfer_test(
        train.X,
        train.y,
        groups=train.groups,
        target=target,
        X_test=held.X,
        y_test=held.y,
        groups_test=held.groups,
        random_state=0,
    )
    cluster = pd.Series(bunch.cluster, index=bunch.hospitals).reindex(table["group"]).to_numpy()
    n_same = len(members) - 1
    assert (cluster[:n_same] == 0).all()  # best helpers first: the own cluster
    assert (table["verdict"].to_numpy()[n_same:] == "harms").all()


def test_transfer_test_errors():
    bunch = make_hospitals(3, n_samples=300, random_state=0)
    with pytest.raises(DataValidationError, match="not one of the groups"):
        transfer_test(bunch.data, bunch.target, groups=bunch.groups, target="nope")
    hinge = FairMTLClassifier(loss="hinge", objective="average")
    with pytest.raises(DataValidationError, match="newton"):
        transfer_test(
            bunch.data,
            bunch.target,
            groups=bunch.groups,
            target="hospital_00",
            estimator=hinge,
            method="newton",
        )
    assert "squared" in MSG_METHOD


# -- SVD-based task reweighting --------------------------------------------------------------


def test_svd_weights_down_weight_the_outliers_and_fit():
    train, _, bunch = planted(0)
    w = svd_task_weights(train.X, train.y, groups=train.groups, basis="model", rank=2)
    outliers = sorted(_outliers(bunch))
    regular = w.drop(outliers)
    assert w[outliers].max() < regular.median()
    clf = FairMTLClassifier("shared", objective="average", alpha=1e-4, sharing_strength=1.0)
    clf.fit(train.X, train.y, groups=train.groups, sample_weight=w.reindex(train.groups))
    assert clf.solver_info_["status"] in ("optimal", "optimal_inaccurate")
    with pytest.raises(DataValidationError, match="basis"):
        svd_task_weights(train.X, train.y, groups=train.groups, basis="nope")


# -- ClusteredMTL as an estimator ------------------------------------------------------------


def test_clustered_mtl_estimator_contract():
    bunch = make_hospitals(6, n_samples=900, n_clusters=2, random_state=0)
    model = ClusteredMTL(max_clusters=3, random_state=0)
    assert clone(model).get_params() == model.get_params()
    model.fit(bunch.data, bunch.target, groups=bunch.groups)
    assert is_classifier(model)
    assert 1 <= model.n_clusters_ <= 3
    assert model.validation_["chosen"].sum() == 1
    assert sorted(model.groups_) == sorted(bunch.hospitals)
    assert set(model.group_losses_.index) == set(bunch.hospitals)
    proba = model.predict_proba(bunch.data, groups=bunch.groups)
    assert proba.shape == (900, 2) and np.allclose(proba.sum(axis=1), 1.0)
    assert 0.5 < model.score(bunch.data, bunch.target, groups=bunch.groups) <= 1.0
    with pytest.warns(UserWarning, match="not seen in fit"):
        model.predict(bunch.data[:3], groups=["new", "new", "new"])


def test_clustered_mtl_fixed_count_regression_and_weights():
    bunch = make_hospitals(6, n_samples=900, task="regression", n_clusters=2, random_state=0)
    weights = np.ones(900)
    model = ClusteredMTL(FairMTLRegressor(objective="average"), n_clusters=2, random_state=0)
    model.fit(bunch.data, bunch.target, groups=bunch.groups, sample_weight=weights)
    assert model.n_clusters_ == 2 and len(model.estimators_) == 2
    assert not is_classifier(model) and not hasattr(model, "predict_proba")
    assert model.predict(bunch.data, groups=bunch.groups).shape == (900,)
    with pytest.raises(ValueError, match="n_clusters"):
        ClusteredMTL(n_clusters=0).fit(bunch.data, bunch.target, groups=bunch.groups)


# -- the summary ----------------------------------------------------------------------------


def test_reading_phrases():
    assert (
        reading([], [], scheme="offset", n_groups=5) == "No group of 5 loses from offset pooling."
    )
    line = reading(["a", "b"], ["b"], scheme="offset", n_groups=5, n_clusters=2, rule="cluster")
    assert line == (
        "a and b lose from offset pooling; b is misaligned with the rest (hurt even by "
        "pooling only within the 2 clusters of aligned groups)."
    )
    line = reading([], [], scheme="shared", n_groups=4, n_clusters=2, rule="cluster")
    assert line.endswith("pooling within the 2 clusters of aligned groups hurts none.")


def test_group_alignment():
    alignment = group_alignment(_blocks([3, 3], within=0.8, between=0.1), n_neighbors=2)
    assert alignment.to_numpy() == pytest.approx(0.8)


def test_transfer_summary_on_the_planted_structure():
    train, held, bunch = planted(0)
    summary = transfer_summary(
        train.X,
        train.y,
        groups=train.groups,
        X_test=held.X,
        y_test=held.y,
        groups_test=held.groups,
        random_state=0,
    )
    assert json.loads(json.dumps(summary))["reading"] == summary["reading"]
    assert summary["task"] == "classification" and summary["loss"] == "log_loss"
    assert summary["schemes"] == ["offset", "shared", "clustered"]
    assert len(summary["groups"]) == 16
    first = summary["groups"][0]
    assert set(first) == {
        "group", "n_train", "n_test", "cluster", "alignment", "misaligned", "gain"
    }  # fmt: skip
    assert set(first["gain"]["offset"]) == {"independent", "pooled", "gain", "lo", "hi", "verdict"}
    affinity = summary["affinity"]
    assert len(affinity["matrix"]) == 16 and sorted(affinity["labels"]) == bunch.hospitals
    outliers = _outliers(bunch)
    assert outliers <= set(summary["misaligned"])
    assert summary["misaligned_rule"] == "cluster"
    assert all(name in summary["reading"] for name in outliers)
    assert "misaligned with the rest" in summary["reading"]
