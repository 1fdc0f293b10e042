"""Bootstrap intervals: seeding, the vectorised path against a loop, and coverage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, brier_score_loss, log_loss, mean_absolute_error

from fairmtl.exceptions import DataValidationError
from fairmtl.metrics import (
    OVERALL,
    VECTORISED_METRICS,
    bootstrap_group_metrics,
    bootstrap_indices,
    bootstrap_replicates,
    group_metrics,
)
from fairmtl.metrics._bootstrap import MSG_CONFIDENCE, MSG_INDICES_SHAPE, MSG_N_BOOT


def _data(seed: int, n: int = 240, n_classes: int = 2):
    rng = np.random.default_rng(seed)
    groups = rng.choice(["a", "b", "c"], size=n, p=[0.5, 0.3, 0.2])
    if n_classes == 2:
        score = rng.random(n)
        y = (rng.random(n) < score).astype(int)
    else:
        score = rng.dirichlet(np.ones(n_classes), n)
        y = rng.integers(0, n_classes, n)
    return y, score, groups, rng.uniform(0.5, 2.0, n)


def test_indices_keep_group_sizes_and_are_seeded():
    groups = np.repeat(["x", "y", "z"], [5, 1, 30])
    idx = bootstrap_indices(groups, 50, np.random.default_rng(3))
    assert idx.shape == (50, 36)
    assert (groups[idx] == groups).all()  # stratified: each column stays in its group
    assert (idx[:, 5] == 5).all()  # a group of one row resamples itself
    np.testing.assert_array_equal(idx, bootstrap_indices(groups, 50, 3))
    assert not np.array_equal(idx, bootstrap_indices(groups, 50, 4))
    free = bootstrap_indices(groups, 50, 3, stratify_by_group=False)
    assert free.min() >= 0 and free.max() < 36 and (groups[free] != groups).any()
    with pytest.raises(DataValidationError) as e:
        bootstrap_indices(groups, 0, 3)
    assert str(e.value) == MSG_N_BOOT.format(n_boot=0)


def test_same_seed_same_table():
    y, score, groups, w = _data(0)
    kw = dict(groups=groups, y_score=score, sample_weight=w, n_boot=30)
    first = bootstrap_group_metrics(y, random_state=11, **kw)
    pd.testing.assert_frame_equal(first, bootstrap_group_metrics(y, random_state=11, **kw))
    other = bootstrap_group_metrics(y, random_state=12, **kw)
    assert not np.allclose(first["lo"], other["lo"], equal_nan=True)
    point = group_metrics(y, groups=groups, y_score=score, sample_weight=w)
    pd.testing.assert_frame_equal(first[point.columns], point)
    defined = first.dropna(subset=["lo"])
    assert (defined["lo"] <= defined["hi"]).all()


@pytest.mark.parametrize(("n_classes", "stratify"), [(2, True), (2, False), (3, True)])
def test_vectorised_equals_loop(n_classes, stratify):
    y, score, groups, w = _data(1, n_classes=n_classes)
    idx = bootstrap_indices(groups, 25, 5, stratify_by_group=stratify)
    metrics = sorted(VECTORISED_METRICS - {"mse", "mae"})
    kw = dict(groups=groups, y_score=score, sample_weight=w, indices=idx, metrics=metrics)
    fast = bootstrap_replicates(y, **kw)
    slow = bootstrap_replicates(y, vectorize=False, **kw)
    assert fast.shape == (25, 4 * len(metrics))
    np.testing.assert_allclose(fast.to_numpy(), slow.to_numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(fast.isna().to_numpy(), slow.isna().to_numpy())


def test_vectorised_equals_loop_regression():
    rng = np.random.default_rng(2)
    groups = rng.integers(0, 3, 150)
    y, y_pred = rng.normal(size=150), rng.normal(size=150)
    idx = bootstrap_indices(groups, 20, 0)
    kw = dict(groups=groups, y_pred=y_pred, indices=idx, task="regression")
    fast = bootstrap_replicates(y, **kw)
    np.testing.assert_allclose(fast.to_numpy(), bootstrap_replicates(y, vectorize=False, **kw))
    # One replicate against scikit-learn on the resampled rows directly.
    rows = idx[7]
    m = groups[rows] == 1
    assert fast.loc[7, (1, "mae")] == pytest.approx(
        mean_absolute_error(y[rows][m], y_pred[rows][m])
    )


@pytest.mark.parametrize("n_classes", [2, 3])
def test_identity_replicate_is_the_point_estimate(n_classes):
    y, score, groups, w = _data(5, n_classes=n_classes)
    kw = dict(groups=groups, y_score=score, sample_weight=w)
    rep = bootstrap_replicates(y, indices=np.arange(len(y))[None, :], **kw)
    point = group_metrics(y, **kw)
    expected = point.set_index(["group", "metric"])["value"].reindex(rep.columns)
    np.testing.assert_array_equal(rep.iloc[0].to_numpy(), expected.to_numpy())


def test_replicate_matches_sklearn_on_resampled_rows():
    y, score, groups, _ = _data(3)
    idx = bootstrap_indices(groups, 10, 1)
    reps = bootstrap_replicates(
        y, groups=groups, y_score=score, indices=idx, metrics=["accuracy", "brier", "log_loss"]
    )
    for b in (0, 9):
        rows = idx[b]
        yt, pb, gb = y[rows], score[rows], groups[rows]
        for g, m in [("a", gb == "a"), (OVERALL, np.ones(len(rows), bool))]:
            assert reps.loc[b, (g, "accuracy")] == pytest.approx(accuracy_score(yt[m], pb[m] > 0.5))
            assert reps.loc[b, (g, "brier")] == pytest.approx(brier_score_loss(yt[m], pb[m]))
            assert reps.loc[b, (g, "log_loss")] == pytest.approx(
                log_loss(yt[m], pb[m], labels=[0, 1])
            )


def test_looped_metrics_and_undefined_replicates():
    # Group "b" has one class: its roc_auc is nan on every replicate, so its interval is nan.
    y = np.array([0, 1] * 20 + [1] * 10)
    groups = np.array(["a"] * 40 + ["b"] * 10)
    score = np.linspace(0.05, 0.95, 50)
    table = bootstrap_group_metrics(
        y, groups=groups, y_score=score, metrics=["roc_auc"], n_boot=40, random_state=0
    )
    b = table[table["group"] == "b"].iloc[0]
    assert np.isnan(b["value"]) and np.isnan(b["lo"]) and np.isnan(b["hi"])
    a = table[table["group"] == "a"].iloc[0]
    assert 0 <= a["lo"] <= a["hi"] <= 1


def test_bad_arguments():
    y, score, groups, _ = _data(4, n=30)
    with pytest.raises(DataValidationError) as e:
        bootstrap_group_metrics(y, groups=groups, y_score=score, confidence=1.5)
    assert str(e.value) == MSG_CONFIDENCE.format(confidence=1.5)
    with pytest.raises(DataValidationError) as e:
        bootstrap_replicates(y, groups=groups, y_score=score, indices=np.zeros((3, 29), int))
    assert str(e.value) == MSG_INDICES_SHAPE.format(n=30, shape=(3, 29))


def test_interval_coverage_on_simulated_bernoulli_data():
    """95% percentile intervals of per-group accuracy cover the true accuracy ~95% of the time."""
    rng = np.random.default_rng(2024)
    sizes, true_acc = np.array([80, 150, 300]), np.array([0.6, 0.8, 0.9])
    groups = np.repeat(["g0", "g1", "g2"], sizes)
    covered, trials = 0, 0
    for _ in range(200):
        correct = rng.random(len(groups)) < np.repeat(true_acc, sizes)
        y_true = np.ones(len(groups), int)
        table = bootstrap_group_metrics(
            y_true,
            groups=groups,
            y_pred=correct.astype(int),
            metrics=["accuracy"],
            labels=[0, 1],
            n_boot=200,
            random_state=rng,
        )
        rows = table[table["group"] != OVERALL]
        covered += int(((rows["lo"] <= true_acc) & (true_acc <= rows["hi"])).sum())
        trials += len(rows)
    assert 0.88 <= covered / trials <= 0.99
