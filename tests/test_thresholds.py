"""Per-group thresholds (``rate_tolerance``): brute force on tiny problems, fairlearn's rates."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from fairlearn.metrics import MetricFrame, selection_rate, true_positive_rate

from fairmtl import FairMTLClassifier, FrontierSearch
from fairmtl.datasets import make_hospitals
from fairmtl.estimators._thresholds import N_GRID, parity_thresholds

GRID_STEP = 1.0 / (N_GRID - 1)


def _brute_force(z, positive, tasks, weight, G, rate, tolerance):
    """Best weighted correct count over every combination of per-group cuts."""
    per_group = []
    for g in range(G):
        zg, pg, wg = z[tasks == g], positive[tasks == g], weight[tasks == g]
        options = []
        for t in np.concatenate([[np.inf], np.sort(zg)[::-1][:-1], [-np.inf]]):
            pred = zg > t if np.isfinite(t) else np.full(len(zg), t < 0)
            correct = float(wg @ (pred == pg))
            if rate == "selection":
                r = float(wg @ pred) / wg.sum()
            else:
                r = float(wg[pg] @ pred[pg]) / wg[pg].sum()
            options.append((r, correct))
        per_group.append(options)
    best = -np.inf
    for combo in itertools.product(*per_group):
        rates = [r for r, _ in combo]
        if max(rates) - min(rates) <= tolerance + 1e-12:
            best = max(best, sum(c for _, c in combo))
    return best


def _largest_step(positive, tasks, weight, G, rate):
    """One row's share of its group's rate, at the most (distinct scores: one row a cut)."""
    steps = []
    for g in range(G):
        m = tasks == g if rate == "selection" else (tasks == g) & positive
        steps.append(float(weight[m].max() / weight[m].sum()))
    return max(steps)


def _evaluate(thresholds, z, positive, tasks, weight, G, rate):
    pred = z > thresholds[tasks]
    rates = []
    for g in range(G):
        m = tasks == g if rate == "selection" else (tasks == g) & positive
        rates.append(float(weight[m] @ pred[m]) / weight[m].sum())
    return float(weight @ (pred == positive)), max(rates) - min(rates)


@pytest.mark.parametrize("rate", ["selection", "true_positive"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_thresholds_match_brute_force_on_tiny_groups(rate, seed):
    rng = np.random.default_rng(seed)
    G, n = 3, 12
    tasks = np.repeat(np.arange(G), n)
    z = rng.normal(size=G * n) + np.repeat(rng.normal(size=G), n)
    positive = rng.random(G * n) < 1 / (1 + np.exp(-2 * z))
    positive[::n] = True  # every group has a positive (true positive rates defined)
    weight = rng.uniform(0.5, 2.0, G * n)
    tolerance = 0.25
    thresholds = parity_thresholds(z, positive, tasks, weight, G, rate=rate, tolerance=tolerance)
    correct, spread = _evaluate(thresholds, z, positive, tasks, weight, G, rate)
    # within the tolerance, up to the coarsest group's rate step (where rates jump)
    assert spread <= tolerance + _largest_step(positive, tasks, weight, G, rate) + 1e-12
    # a combination within tolerance - one grid step always has a grid centre that fits
    assert correct >= _brute_force(z, positive, tasks, weight, G, rate, tolerance - GRID_STEP)


def _hospitals():
    data = make_hospitals(5, n_samples=3000, random_state=1)
    return data.data.to_numpy(), data.target.to_numpy(), data.groups.to_numpy()


@pytest.mark.parametrize(
    ("objective", "metric"),
    [("demographic_parity", selection_rate), ("equal_opportunity", true_positive_rate)],
)
def test_training_rates_are_within_tolerance_by_fairlearn(objective, metric):
    X, y, g = _hospitals()
    plain = FairMTLClassifier("shared", objective=objective, epsilon=0.1, alpha=1e-3)
    tuned = FairMTLClassifier(
        "shared", objective=objective, epsilon=0.1, alpha=1e-3, rate_tolerance=0.02
    )
    plain.fit(X, y, groups=g)
    tuned.fit(X, y, groups=g)
    spread = {}
    for name, model in (("plain", plain), ("tuned", tuned)):
        pred = model.predict(X, groups=g)
        frame = MetricFrame(metrics=metric, y_true=y, y_pred=pred, sensitive_features=g)
        spread[name] = float(frame.difference())
    smallest = min(np.unique(g, return_counts=True)[1])
    assert spread["tuned"] <= 0.02 + 1.0 / smallest
    assert spread["tuned"] < spread["plain"]
    # the shift is on the intercepts: probabilities agree with predictions
    proba = tuned.predict_proba(X, groups=g)[:, 1]
    np.testing.assert_array_equal(tuned.predict(X, groups=g) == tuned.classes_[1], proba > 0.5)
    np.testing.assert_allclose(
        tuned.group_intercept_[:, 0],
        plain.group_intercept_[:, 0] - tuned.group_thresholds_.to_numpy(),
        atol=1e-6,
    )
    # group losses describe the shifted model
    p_true = np.where(y == tuned.classes_[1], proba, 1 - proba)
    losses = [float(-np.log(p_true[g == k]).mean()) for k in tuned.groups_]
    np.testing.assert_allclose(tuned.group_losses_.to_numpy(), losses, rtol=1e-6)


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        (dict(objective="bounded", epsilon=0.7), "objective='bounded'"),
        (dict(objective="equalized_odds", epsilon=0.1), "ThresholdOptimizer"),
    ],
)
def test_rate_tolerance_needs_a_rate_objective(params, fragment):
    X, y, g = _hospitals()
    with pytest.raises(ValueError, match=fragment):
        FairMTLClassifier("shared", rate_tolerance=0.0, **params).fit(X, y, groups=g)


def test_frontier_sweeps_rate_tolerance_with_and_without_thresholds():
    X, y, g = _hospitals()
    search = FrontierSearch(
        FairMTLClassifier("shared", objective="demographic_parity", alpha=1e-3),
        sweep={"epsilon": "auto", "rate_tolerance": "auto"},
        n_points=3,
        metrics=("accuracy",),
        baselines=(),
        n_boot=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(X, y, groups=g)
    assert [s["rate_tolerance"] for s in search.settings_] == [None, 0.0] * 3
    tuned = [e for e in search.estimators_ if e.rate_tolerance == 0.0]
    assert len(tuned) == 3 and all(hasattr(e, "group_thresholds_") for e in tuned)
