"""Tests of make_hospitals: the knobs do what they say, measured on the generated data.

Checks use statistics computed directly from the rows (per-hospital OLS fits, ANOVA,
chi-square tests, residual variances), not numbers printed by the simulator earlier.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from fairmtl.datasets import make_hospitals
from fairmtl.datasets._checks import MSG_INVALID_PARAM
from fairmtl.datasets._hospitals import MSG_TOO_FEW_SAMPLES, MSG_TOO_MANY_SPECIAL
from fairmtl.exceptions import DataValidationError


def _ols_by_hospital(data) -> tuple[np.ndarray, np.ndarray]:
    """Per-hospital least-squares (intercept, coefficients) and residual variances."""
    coefs, resid_var = [], []
    for name in data.hospitals:
        rows = (data.groups == name).to_numpy()
        X = np.column_stack([np.ones(rows.sum()), data.data.to_numpy()[rows]])
        y = data.target.to_numpy()[rows]
        beta = np.linalg.lstsq(X, y, rcond=None)[0]
        coefs.append(beta)
        resid_var.append(np.sum((y - X @ beta) ** 2) / (rows.sum() - X.shape[1]))
    return np.array(coefs), np.array(resid_var)


def test_same_seed_same_data_and_other_seed_differs():
    a = make_hospitals(n_hospitals=8, n_samples=2000, random_state=7)
    b = make_hospitals(n_hospitals=8, n_samples=2000, random_state=7)
    c = make_hospitals(n_hospitals=8, n_samples=2000, random_state=8)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    np.testing.assert_array_equal(a.coef_hospital, b.coef_hospital)
    assert not a.frame.equals(c.frame)


def test_shapes_names_and_labels():
    data = make_hospitals(n_hospitals=30, n_samples=3000, n_features=5, random_state=0)
    assert list(data.data.columns) == ["x0", "x1", "x2", "x3", "x4"]
    assert data.groups.name == "hospital"
    assert data.hospitals[0] == "hospital_00" and data.hospitals[-1] == "hospital_29"
    assert set(data.groups) == set(data.hospitals)
    assert set(data.target.unique()) <= {0, 1}
    assert data.coef_hospital.shape == (30, 5) and data.intercept_hospital.shape == (30,)
    assert list(data.frame.columns) == [*data.feature_names, "hospital", "y"]
    wide = make_hospitals(n_hospitals=101, n_samples=101 * 20, random_state=0)
    assert wide.hospitals[0] == "hospital_000"
    X, y, groups = make_hospitals(n_hospitals=3, n_samples=100, random_state=0, return_X_y=True)
    assert X.shape == (100, 8) and len(y) == len(groups) == 100


def test_sizes_sum_to_n_samples_and_respect_min_size():
    data = make_hospitals(n_hospitals=40, n_samples=5003, min_size=50, random_state=1)
    counted = data.groups.value_counts()
    assert len(data.data) == 5003 == int(data.size.sum())
    assert counted.min() >= 50
    assert counted[data.hospitals].tolist() == data.size.tolist()


def test_size_skew_controls_the_size_ratio():
    equal = make_hospitals(n_hospitals=30, n_samples=20_000, size_skew=0.0, random_state=0)
    assert equal.size.max() - equal.size.min() <= 1

    def median_ratio(skew: float) -> float:
        ratios = []
        for seed in range(10):
            size = make_hospitals(size_skew=skew, random_state=seed).size
            ratios.append(size.max() / size.min())
        return float(np.median(ratios))

    r_half, r_one, r_two = median_ratio(0.5), median_ratio(1.0), median_ratio(2.0)
    assert 1.0 < r_half < r_one < r_two
    assert r_one > 5  # "a few large, many small"


def test_shift_zero_gives_equal_feature_means_and_shift_makes_them_differ():
    same = make_hospitals(n_hospitals=20, n_samples=10_000, shift=0.0, random_state=2)
    moved = make_hospitals(n_hospitals=20, n_samples=10_000, shift=1.0, random_state=2)
    for data, expect_equal in [(same, True), (moved, False)]:
        pvalues = [
            stats.f_oneway(*[data.data.loc[data.groups == h, c] for h in data.hospitals]).pvalue
            for c in data.feature_names
        ]
        if expect_equal:
            assert min(pvalues) > 0.001 / len(pvalues)  # Bonferroni
        else:
            assert max(pvalues) < 1e-10
    # the spread of hospital means is the sampling error alone (sd 1/sqrt(n_h)) at shift=0
    means = same.data.groupby(same.groups).mean().loc[same.hospitals]
    z = means.to_numpy() * np.sqrt(same.size)[:, None]
    assert 0.8 < z.std() < 1.2
    moved_means = moved.data.groupby(moved.groups).mean().loc[moved.hospitals]
    assert 0.6 < moved_means.to_numpy().std() < 1.4  # shift=1


@pytest.mark.parametrize("deviation", [0.0, 0.25, 1.0])
def test_deviation_is_the_relative_norm_of_hospital_coefficients(deviation):
    data = make_hospitals(
        n_hospitals=5,
        n_samples=20_000,
        n_features=6,
        task="regression",
        size_skew=0.0,
        shift=0.5,
        deviation=deviation,
        noise=0.1,
        random_state=3,
    )
    fitted, _ = _ols_by_hospital(data)
    relative = np.linalg.norm(fitted[:, 1:] - data.coef_shared, axis=1) / np.linalg.norm(
        data.coef_shared
    )
    np.testing.assert_allclose(relative, deviation, atol=0.02)
    np.testing.assert_allclose(fitted[:, 0], data.intercept_hospital, atol=0.02)
    if deviation == 0.0:
        np.testing.assert_array_equal(data.coef_hospital, np.tile(data.coef_shared, (5, 1)))


def test_base_rates_differ_only_with_base_rate_spread():
    common = dict(n_hospitals=10, n_samples=20_000, size_skew=0.0, shift=0.0, deviation=0.0)
    flat = make_hospitals(base_rate_spread=0.0, random_state=4, **common)
    spread = make_hospitals(base_rate_spread=1.0, random_state=4, **common)
    for data, expect_equal in [(flat, True), (spread, False)]:
        table = pd.crosstab(data.groups, data.target)
        pvalue = stats.chi2_contingency(table).pvalue
        assert (pvalue > 0.001) if expect_equal else (pvalue < 1e-20)
    rates = spread.frame.groupby("hospital")["y"].mean()
    assert rates.max() - rates.min() > 0.2


def test_clusters_appear_in_the_truth():
    data = make_hospitals(
        n_hospitals=12, n_clusters=3, cluster_separation=2.0, deviation=0.1, random_state=5
    )
    assert sorted(set(data.cluster)) == [0, 1, 2]
    assert np.bincount(data.cluster).tolist() == [4, 4, 4]
    norm = np.linalg.norm(data.coef_shared)
    distances = [
        np.linalg.norm(data.coef_cluster[i] - data.coef_cluster[j])
        for i in range(3)
        for j in range(i + 1, 3)
    ]
    np.testing.assert_allclose(distances, 2.0 * norm)
    np.testing.assert_allclose(data.coef_cluster.mean(axis=0), data.coef_shared, atol=1e-12)
    # each hospital is nearest to its own cluster's vector
    nearest = np.argmin(
        np.linalg.norm(data.coef_hospital[:, None, :] - data.coef_cluster[None], axis=2), axis=1
    )
    np.testing.assert_array_equal(nearest, data.cluster)


def test_outliers_get_unrelated_coefficients():
    data = make_hospitals(n_hospitals=10, n_outliers=2, deviation=0.2, random_state=6)
    outliers = np.flatnonzero(data.cluster == -1)
    assert outliers.size == 2
    relative = np.linalg.norm(data.coef_hospital - data.coef_shared, axis=1) / np.linalg.norm(
        data.coef_shared
    )
    regular = np.setdiff1d(np.arange(10), outliers)
    np.testing.assert_allclose(relative[regular], 0.2)
    assert np.all(np.abs(relative[outliers] - 0.2) > 0.05)


def test_regression_noise_variance_matches_noise():
    data = make_hospitals(
        n_hospitals=4, n_samples=40_000, task="regression", noise=1.5, size_skew=0.0, random_state=8
    )
    _, resid_var = _ols_by_hospital(data)
    np.testing.assert_allclose(resid_var, 1.5**2, rtol=0.05)
    residual = data.target.to_numpy() - data.true_score
    assert residual.var() == pytest.approx(1.5**2, rel=0.03)


def test_nonlinear_truth_makes_a_linear_model_underfit():
    common = dict(
        n_hospitals=4, n_samples=20_000, task="regression", noise=0.5, size_skew=0.0,
        random_state=9,
    )  # fmt: skip
    _, linear_var = _ols_by_hospital(make_hospitals(nonlinear=False, **common))
    _, curved_var = _ols_by_hospital(make_hospitals(nonlinear=True, **common))
    np.testing.assert_allclose(linear_var, 0.25, rtol=0.1)
    assert curved_var.min() > 4 * 0.25


def test_classification_labels_follow_the_true_probabilities():
    data = make_hospitals(n_samples=40_000, random_state=10)
    p = 1.0 / (1.0 + np.exp(-data.true_score))
    assert abs(data.target.mean() - p.mean()) < 4 * np.sqrt(np.sum(p * (1 - p))) / len(p)


def test_too_few_samples_names_both_numbers():
    with pytest.raises(DataValidationError) as err:
        make_hospitals(n_hospitals=30, n_samples=500, min_size=20)
    message = str(err.value)
    assert message == MSG_TOO_FEW_SAMPLES.format(
        n_samples=500, n_hospitals=30, min_size=20, needed=600
    )
    assert "n_samples=500" in message and "n_hospitals=30" in message


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n_hospitals": 0}, "n_hospitals"),
        ({"task": "survival"}, "task"),
        ({"shift": -1.0}, "shift"),
        ({"deviation": float("nan")}, "deviation"),
        ({"nonlinear": "yes"}, "nonlinear"),
        ({"n_features": 2.5}, "n_features"),
    ],
)
def test_invalid_arguments_are_named(kwargs, name):
    prefix = MSG_INVALID_PARAM.split("{func}")[0].format(name=name)
    with pytest.raises(DataValidationError, match=f"^{prefix}make_hospitals"):
        make_hospitals(**kwargs)


def test_too_many_clusters_and_outliers():
    with pytest.raises(DataValidationError) as err:
        make_hospitals(n_hospitals=5, n_samples=500, n_clusters=4, n_outliers=2)
    assert str(err.value) == MSG_TOO_MANY_SPECIAL.format(n_clusters=4, n_outliers=2, n_hospitals=5)
