"""Per-group metrics and disparities, checked against scikit-learn and fairlearn."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    demographic_parity_difference,
    equal_opportunity_difference,
    equalized_odds_difference,
    false_positive_rate,
    true_positive_rate,
)
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    brier_score_loss,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)

from fairmtl.exceptions import DataValidationError
from fairmtl.metrics import (
    METRIC_NAMES_CLASSIFICATION,
    METRIC_NAMES_REGRESSION,
    METRICS,
    OVERALL,
    disparities,
    expected_calibration_error,
    fairness_disparities,
    group_metrics,
)
from fairmtl.metrics._disparity import MSG_DIRECTION_UNKNOWN, MSG_NOT_BINARY
from fairmtl.metrics._fast_paths import DIRECT_METRICS, direct_ok
from fairmtl.metrics._group import _tidy, metric_table
from fairmtl.metrics._inputs import (
    MSG_GROUP_NAMED_OVERALL,
    MSG_NEEDS_SCORE,
    MSG_ONE_CLASS,
    MSG_SCORE_SHAPE,
    MSG_UNKNOWN_METRIC,
    prepare_inputs,
)


def _value(table: pd.DataFrame, group, metric: str) -> float:
    row = table[(table["group"] == group) & (table["metric"] == metric)]
    assert len(row) == 1
    return float(row["value"].iloc[0])


def _binary_data(seed: int, n: int = 300, labels=(0, 1)):
    rng = np.random.default_rng(seed)
    groups = rng.choice(["north", "south", "east"], size=n, p=[0.5, 0.3, 0.2])
    p = rng.random(n)
    y = np.asarray(labels)[(rng.random(n) < 0.3 + 0.4 * p).astype(int)]
    w = rng.uniform(0.5, 2.0, n)
    return y, p, groups, w


def _slices(groups):
    return [(g, groups == g) for g in np.unique(groups)] + [(OVERALL, np.ones(len(groups), bool))]


def _ece_oracle(y_pos: np.ndarray, p: np.ndarray) -> float:
    """ECE from scikit-learn's calibration_curve, with bin counts by np.histogram."""
    prob_true, prob_pred = calibration_curve(y_pos, p, n_bins=10, strategy="uniform")
    counts = np.histogram(p, bins=np.linspace(0, 1, 11))[0]
    counts = counts[counts > 0]
    return float(np.sum(counts / len(p) * np.abs(prob_true - prob_pred)))


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("labels", [(0, 1), ("no", "yes")])
def test_binary_metrics_match_sklearn_per_group(weighted, labels):
    y, p, groups, w = _binary_data(0, labels=labels)
    w = w if weighted else None
    pos = labels[1]
    y_pred = np.where(p > 0.5, labels[1], labels[0])
    table = group_metrics(y, groups=groups, y_score=p, y_pred=y_pred, sample_weight=w)
    assert set(table["metric"]) == set(METRIC_NAMES_CLASSIFICATION)
    for g, m in _slices(groups):
        yt, yp, pg = y[m], y_pred[m], p[m]
        wg = None if w is None else w[m]
        acc = accuracy_score(yt, yp, sample_weight=wg)
        expected = {
            "accuracy": acc,
            "error_rate": 1 - acc,
            "balanced_accuracy": balanced_accuracy_score(yt, yp, sample_weight=wg),
            "log_loss": log_loss(yt == pos, pg, sample_weight=wg),
            "brier": brier_score_loss(yt == pos, pg, sample_weight=wg),
            "roc_auc": roc_auc_score(yt == pos, pg, sample_weight=wg),
            "tpr": true_positive_rate(yt == pos, yp == pos, sample_weight=wg),
            "fpr": false_positive_rate(yt == pos, yp == pos, sample_weight=wg),
            "selection_rate": np.average(yp == pos, weights=wg),
        }
        if not weighted:
            expected["calibration_error"] = _ece_oracle(yt == pos, pg)
        for name, value in expected.items():
            assert _value(table, g, name) == pytest.approx(value, rel=1e-10, abs=1e-12), (g, name)
        assert table[table["group"] == g]["n"].unique().tolist() == [int(m.sum())]


def test_weighted_calibration_error_is_brute_force():
    y, p, groups, w = _binary_data(1)
    table = group_metrics(y, groups=groups, y_score=p, sample_weight=w, metrics="calibration_error")
    for g, m in _slices(groups):
        total = 0.0
        for b in range(10):  # bins (b/10, (b+1)/10], the first one closed
            lo, hi = b / 10, (b + 1) / 10
            inb = m & (p <= hi) & ((p > lo) if b else True)
            if inb.any():
                gap = np.average(y[inb], weights=w[inb]) - np.average(p[inb], weights=w[inb])
                total += w[inb].sum() * abs(gap)
        assert _value(table, g, "calibration_error") == pytest.approx(total / w[m].sum())


def test_multiclass_metrics_match_sklearn():
    rng = np.random.default_rng(2)
    n, labels = 400, np.array(["a", "b", "c"])
    groups = rng.choice(["g1", "g2"], n)
    proba = rng.dirichlet([1.0, 1.0, 1.0], n)
    y = labels[[rng.choice(3, p=row) for row in proba]]
    table = group_metrics(y, groups=groups, y_score=proba)
    y_pred = labels[proba.argmax(axis=1)]
    for g, m in _slices(groups):
        onehot = (y[m][:, None] == labels[None, :]).astype(float)
        conf, correct = proba[m].max(axis=1), (y_pred[m] == y[m]).astype(float)
        bins = np.minimum(np.ceil(conf * 10) - 1, 9).clip(0)
        ece = (
            sum(abs(correct[bins == b].sum() - conf[bins == b].sum()) for b in range(10)) / m.sum()
        )
        expected = {
            "accuracy": accuracy_score(y[m], y_pred[m]),
            "balanced_accuracy": balanced_accuracy_score(y[m], y_pred[m]),
            "log_loss": log_loss(y[m], proba[m], labels=labels),
            "roc_auc": roc_auc_score(y[m], proba[m], multi_class="ovr", labels=labels),
            "brier": np.mean(((onehot - proba[m]) ** 2).sum(axis=1)),
            "calibration_error": ece,
        }
        for name, value in expected.items():
            assert _value(table, g, name) == pytest.approx(value, rel=1e-10), (g, name)
        for name in ("tpr", "fpr", "selection_rate"):  # binary notions
            assert np.isnan(_value(table, g, name))


def test_regression_metrics_match_sklearn():
    rng = np.random.default_rng(3)
    n = 200
    groups = rng.integers(0, 4, n)
    y, y_pred, w = rng.normal(size=n), rng.normal(size=n), rng.random(n)
    table = group_metrics(y, groups=groups, y_pred=y_pred, task="regression", sample_weight=w)
    assert table["metric"].unique().tolist() == list(METRIC_NAMES_REGRESSION)
    for g, m in _slices(groups):
        for name, fn in (
            ("mse", mean_squared_error),
            ("mae", mean_absolute_error),
            ("r2", r2_score),
        ):
            assert _value(table, g, name) == pytest.approx(fn(y[m], y_pred[m], sample_weight=w[m]))


def test_undefined_metrics_are_nan_without_warnings():
    y = np.array([1, 1, 1, 0, 0, 0, 1, 0])
    groups = np.array(["pos"] * 3 + ["neg"] * 3 + ["mix"] * 2)
    p = np.array([0.9, 0.2, 0.7, 0.1, 0.6, 0.3, 0.8, 0.4])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = group_metrics(y, groups=groups, y_score=p)
    for g in ("pos", "neg"):
        assert np.isnan(_value(table, g, "roc_auc"))
    assert np.isnan(_value(table, "neg", "tpr")) and np.isnan(_value(table, "pos", "fpr"))
    assert _value(table, "pos", "tpr") == pytest.approx(2 / 3)
    assert _value(table, "mix", "roc_auc") == 1.0
    # log_loss and brier stay defined on one class: the labels are the problem's.
    assert _value(table, "pos", "log_loss") == pytest.approx(
        log_loss([1, 1, 1], p[:3], labels=[0, 1])
    )


def test_y_pred_is_derived_from_scores_and_defaults_follow_inputs():
    y, p, groups, _ = _binary_data(4)
    derived = group_metrics(y, groups=groups, y_score=p, metrics=["accuracy"])
    explicit = group_metrics(y, groups=groups, y_pred=(p > 0.5).astype(int), metrics="accuracy")
    pd.testing.assert_frame_equal(derived, explicit)
    two_columns = group_metrics(y, groups=groups, y_score=np.column_stack([1 - p, p]))
    pd.testing.assert_frame_equal(two_columns, group_metrics(y, groups=groups, y_score=p))
    only_labels = group_metrics(y, groups=groups, y_pred=(p > 0.5).astype(int))
    assert set(only_labels["metric"]) == {
        m for m in METRIC_NAMES_CLASSIFICATION if METRICS[m].needs == "y_pred"
    }
    assert only_labels["group"].tolist()[-1] == OVERALL


def test_registry_directions():
    for name in METRIC_NAMES_CLASSIFICATION + METRIC_NAMES_REGRESSION:
        fn, greater, needs = METRICS[name]
        assert callable(fn) and needs in ("y_pred", "y_score")
    assert METRICS["accuracy"].greater_is_better and METRICS["roc_auc"].greater_is_better
    assert not METRICS["log_loss"].greater_is_better and not METRICS["mse"].greater_is_better
    assert expected_calibration_error([0, 1], [0.0, 1.0], labels=[0, 1]) == 0.0


def test_input_errors():
    y, p, groups, _ = _binary_data(5, n=50)
    with pytest.raises(DataValidationError, match="Unknown metric"):
        group_metrics(y, groups=groups, y_pred=y, metrics=["mse"])
    assert "Unknown metric" in MSG_UNKNOWN_METRIC
    with pytest.raises(DataValidationError) as e:
        group_metrics(y, groups=groups, y_pred=y, metrics=["roc_auc"])
    assert str(e.value) == MSG_NEEDS_SCORE.format(name="roc_auc")
    with pytest.raises(DataValidationError) as e:
        group_metrics(np.ones(50, int), groups=groups, y_pred=np.ones(50, int))
    assert str(e.value) == MSG_ONE_CLASS.format(labels=[1])
    with pytest.raises(DataValidationError) as e:
        group_metrics(y, groups=groups, y_score=np.full((50, 3), 1 / 3))
    assert str(e.value) == MSG_SCORE_SHAPE.format(n_cols=3, n_labels=2, labels=[0, 1])
    with pytest.raises(DataValidationError) as e:
        group_metrics(y, groups=np.where(groups == "east", OVERALL, groups), y_pred=y)
    assert str(e.value) == MSG_GROUP_NAMED_OVERALL.format(overall=OVERALL)
    with pytest.raises(ValueError):
        group_metrics(y, groups=groups[:-1], y_pred=y)
    # A class absent from the data is accepted when the labels are given.
    table = group_metrics(np.ones(50, int), groups=groups, y_pred=np.ones(50, int), labels=[0, 1])
    assert _value(table, OVERALL, "accuracy") == 1.0


def test_disparities_follow_the_metric_direction():
    y, p, groups, _ = _binary_data(6)
    table = group_metrics(y, groups=groups, y_score=p)
    by_group = table[table["group"] != OVERALL].pivot(
        index="group", columns="metric", values="value"
    )
    acc = disparities(table, "accuracy")
    assert acc["worst_group"] == by_group["accuracy"].idxmin()
    assert acc["best_group"] == by_group["accuracy"].idxmax()
    assert acc["gap"] == pytest.approx(by_group["accuracy"].max() - by_group["accuracy"].min())
    assert acc["ratio"] == pytest.approx(by_group["accuracy"].min() / by_group["accuracy"].max())
    loss = disparities(table, "log_loss")
    assert loss["worst_group"] == by_group["log_loss"].idxmax()
    assert loss["best_value"] == pytest.approx(by_group["log_loss"].min())
    assert loss["ratio"] == pytest.approx(by_group["log_loss"].min() / by_group["log_loss"].max())
    assert loss["ratio"] <= 1


def test_disparities_skip_nan_groups_and_unknown_directions():
    table = pd.DataFrame(
        {
            "group": ["a", "b", "c", OVERALL],
            "metric": ["roc_auc"] * 4,
            "value": [0.7, np.nan, 0.9, 0.8],
        }
    )
    d = disparities(table, "roc_auc")
    assert (d["worst_group"], d["best_group"]) == ("a", "c")
    equal = table.assign(value=[0.0, 0.0, 0.0, 0.0], metric="custom")
    with pytest.raises(DataValidationError) as e:
        disparities(equal, "custom")
    assert str(e.value) == MSG_DIRECTION_UNKNOWN.format(metric="custom")
    d = disparities(equal, "custom", greater_is_better=False)
    assert d["gap"] == 0.0 and d["ratio"] == 1.0


@pytest.mark.parametrize("weighted", [False, True])
def test_fairness_disparities_match_fairlearn_and_brute_force(weighted):
    y, p, groups, w = _binary_data(7, n=500, labels=("deny", "grant"))
    w = w if weighted else None
    y_pred = np.where(p > 0.4, "grant", "deny")
    d = fairness_disparities(y, y_pred, groups, w)
    yt, yp = (y == "grant").astype(int), (y_pred == "grant").astype(int)
    kw = {"sensitive_features": groups, "sample_weight": w}
    assert d["demographic_parity_difference"] == pytest.approx(
        demographic_parity_difference(yt, yp, **kw)
    )
    assert d["equalized_odds_difference"] == pytest.approx(equalized_odds_difference(yt, yp, **kw))
    assert d["equal_opportunity_difference"] == pytest.approx(
        equal_opportunity_difference(yt, yp, **kw)
    )
    # Brute force with pandas.
    frame = pd.DataFrame({"g": groups, "y": yt, "s": yp, "w": 1.0 if w is None else w})
    frame["ws"] = frame["w"] * frame["s"]

    def rate(df):
        return df.groupby("g")["ws"].sum() / df.groupby("g")["w"].sum()

    sel, tpr, fpr = rate(frame), rate(frame[frame.y == 1]), rate(frame[frame.y == 0])
    assert d["demographic_parity_difference"] == pytest.approx(sel.max() - sel.min())
    assert d["demographic_parity_ratio"] == pytest.approx(sel.min() / sel.max())
    assert d["equal_opportunity_difference"] == pytest.approx(tpr.max() - tpr.min())
    assert d["equalized_odds_difference"] == pytest.approx(
        max(tpr.max() - tpr.min(), fpr.max() - fpr.min())
    )


def test_fairness_disparities_reject_multiclass():
    with pytest.raises(DataValidationError) as e:
        fairness_disparities([0, 1, 2], [0, 1, 2], ["a", "b", "a"])
    assert str(e.value) == MSG_NOT_BINARY.format(n=3, labels=[0, 1, 2])


def _random_case(kind: str, weighted: bool, seed: int = 8, n: int = 500) -> dict:
    """Random inputs with a group lacking a class (binary: no negatives; multi-class: no
    "c"), an integer-labelled group and, for regression, a group of one row."""
    rng = np.random.default_rng(seed)
    groups = rng.choice(["w", "x", "y", "z"], size=n, p=[0.4, 0.3, 0.2, 0.1])
    lacking = groups == "z"
    kw: dict = {"groups": groups}
    if weighted:
        kw["sample_weight"] = rng.uniform(0.2, 3.0, n)
    if kind in ("binary", "binary_str"):
        labels = np.array([0, 1]) if kind == "binary" else np.array(["deny", "grant"])
        p = rng.random(n)
        y = labels[(rng.random(n) < p).astype(int)]
        y[lacking] = labels[1]
        kw.update(y_true=y, y_score=p)
        if kind == "binary_str":  # predictions of another threshold than 0.5
            kw["y_pred"] = labels[(p > 0.35).astype(int)]
    elif kind == "multiclass":
        labels = np.array(["a", "b", "c"])
        proba = rng.dirichlet([1.0, 2.0, 1.5], n)
        y = labels[rng.integers(0, 3, n)]
        y[lacking] = np.where(rng.random(lacking.sum()) < 0.5, "a", "b")
        kw.update(y_true=y, y_score=proba)
    else:
        kw.update(groups=rng.integers(0, 4, n), task="regression")
        kw["groups"][0] = 9  # a group of one row: r2 is nan
        kw.update(y_true=rng.normal(size=n), y_pred=rng.normal(size=n))
    return kw


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("kind", ["binary", "binary_str", "multiclass", "regression"])
def test_fast_paths_equal_metricframe(kind, weighted):
    kw = _random_case(kind, weighted)
    inputs = prepare_inputs(**kw)
    assert direct_ok(inputs)  # the fast paths are the ones under test
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fast = group_metrics(**kw)
        slow = _tidy(inputs, *metric_table(inputs, direct=False))
    # Same groups, metrics, sizes, dtypes and nan cells; values to rounding.
    pd.testing.assert_frame_equal(fast, slow, check_exact=False, rtol=0, atol=1e-12)
    direct = fast["metric"].isin(DIRECT_METRICS)
    assert direct.any()
    # roc_auc and r2: the same function on the same rows as MetricFrame, so identical.
    np.testing.assert_array_equal(fast.loc[~direct, "value"], slow.loc[~direct, "value"])
    if kind != "regression":
        assert np.isnan(_value(fast, "z", "roc_auc"))  # a class is missing in z
    if kind.startswith("binary"):
        assert np.isnan(_value(fast, "z", "fpr")) and not np.isnan(_value(fast, "z", "tpr"))
    if kind == "regression":
        assert np.isnan(_value(fast, 9, "r2")) and _value(fast, 9, "mae") >= 0


def test_unusual_inputs_fall_back_to_metricframe():
    y, p, groups, w = _binary_data(9)
    w[:5] = 0.0  # zero weights: scikit-learn's 0/0 conventions, not the direct path's
    inputs = prepare_inputs(y, groups=groups, y_score=p, sample_weight=w)
    assert not direct_ok(inputs)
    pd.testing.assert_frame_equal(
        group_metrics(y, groups=groups, y_score=p, sample_weight=w),
        _tidy(inputs, *metric_table(inputs, direct=False)),
    )
    # Probabilities that do not sum to one: scikit-learn's warning, as before.
    proba = np.random.default_rng(9).dirichlet([1.0, 1.0, 1.0], len(y)) * 0.9
    y3 = np.random.default_rng(10).integers(0, 3, len(y))
    with pytest.warns(UserWarning, match="do not sum to one"):
        group_metrics(y3, groups=groups, y_score=proba, metrics=["log_loss"])


@pytest.mark.parametrize("n", [2, 3, 10, 57, 400])
def test_rank_sum_roc_auc_equals_scikit_learn_with_ties(n):
    from sklearn.metrics import roc_auc_score

    from fairmtl.metrics._registry import binary_roc_auc

    rng = np.random.default_rng(n)
    for _ in range(20):
        positive = rng.random(n) < 0.4
        positive[:2] = [True, False]  # both classes present
        score = rng.integers(0, 5, n) / 4.0  # many ties
        if rng.random() < 0.5:
            score = rng.random(n)
        assert binary_roc_auc(positive, score) == pytest.approx(
            roc_auc_score(positive, score), abs=1e-12
        )


def test_metric_facts_are_stated_once_for_metrics_and_report():
    from fairmtl._metric_facts import METRIC_FACTS
    from fairmtl.report._metric_infos import metric_infos

    assert set(METRICS) <= set(METRIC_FACTS)
    for name, info in METRICS.items():
        maximize = METRIC_FACTS[name].maximize
        assert info.greater_is_better is (maximize is not False), name
    results = {
        "primary_metric": "accuracy",
        "per_group": [{"metric": "selection_rate"}, {"metric": "log_loss"}],
        "criteria": [],
    }
    infos = metric_infos(results)
    # selection_rate has no better direction, in the report as in the metrics
    assert infos["selection_rate"]["maximize"] is None
    assert METRIC_FACTS["selection_rate"].maximize is None
    assert infos["log_loss"]["maximize"] is False and infos["accuracy"]["percent"] is True
