"""The decision threshold (``threshold``) and its sweep in FrontierSearch.

Checked against scikit-learn's ``FixedThresholdClassifier`` around the same logistic
regression, and against the model's own probabilities.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import FixedThresholdClassifier
from sklearn.utils._param_validation import InvalidParameterError

from fairmtl import FairMTLClassifier, FairMTLRegressor, FrontierSearch
from fairmtl.datasets import make_hospitals
from fairmtl.exceptions import DataValidationError
from fairmtl.frontier._sweep import distinct_fits, threshold_grid

ALPHA = 1e-3


def _hospitals(n_groups=4, n_samples=800):
    data = make_hospitals(n_groups, n_samples=n_samples, random_state=0)
    return data.data.to_numpy(dtype=float), data.target.to_numpy(), data.groups.to_numpy()


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.72])
def test_threshold_matches_scikit_learn_fixed_threshold(threshold):
    """One shared model, average loss: scikit-learn's LogisticRegression, thresholded."""
    X, y, g = _hospitals()
    ours = FairMTLClassifier("shared", objective="average", alpha=ALPHA, threshold=threshold).fit(
        X, y, groups=g
    )
    theirs = FixedThresholdClassifier(
        LogisticRegression(C=1.0 / (2.0 * ALPHA * len(y)), tol=1e-10, max_iter=10_000),
        threshold=threshold,
        response_method="predict_proba",
    ).fit(X, y)
    p = theirs.predict_proba(X)[:, 1]
    np.testing.assert_allclose(ours.predict_proba(X, groups=g)[:, 1], p, atol=1e-4)
    clear = np.abs(p - threshold) > 1e-3  # rows the two solvers' tolerances cannot flip
    assert clear.mean() > 0.98
    np.testing.assert_array_equal(ours.predict(X, groups=g)[clear], theirs.predict(X)[clear])


def test_threshold_changes_predict_only():
    X, y, g = _hospitals()
    plain = FairMTLClassifier(objective="minimax", alpha=ALPHA).fit(X, y, groups=g)
    cut = FairMTLClassifier(objective="minimax", alpha=ALPHA, threshold=0.8).fit(X, y, groups=g)
    np.testing.assert_array_equal(cut.predict_proba(X, groups=g), plain.predict_proba(X, groups=g))
    np.testing.assert_array_equal(
        cut.decision_function(X, groups=g), plain.decision_function(X, groups=g)
    )
    proba = cut.predict_proba(X, groups=g)[:, 1]
    np.testing.assert_array_equal(cut.predict(X, groups=g), cut.classes_[(proba > 0.8).astype(int)])
    assert (cut.predict(X, groups=g) == cut.classes_[1]).sum() < (
        plain.predict(X, groups=g) == plain.classes_[1]
    ).sum()
    assert cut.score(X, y, groups=g) == np.mean(cut.predict(X, groups=g) == y)
    # a model saved before the parameter existed has no attribute: it predicts at 0.5
    legacy = copy.copy(plain)
    del legacy.threshold
    np.testing.assert_array_equal(legacy.predict(X, groups=g), plain.predict(X, groups=g))


def test_threshold_errors_say_what_to_do():
    X, y, g = _hospitals()
    with pytest.raises(ValueError, match="loss='logistic'"):
        FairMTLClassifier("shared", objective="average", loss="hinge", threshold=0.6).fit(
            X, y, groups=g
        )
    y3 = np.where(X[:, 0] > 0.5, "c", np.where(y == 1, "a", "b"))
    with pytest.raises(DataValidationError, match=r"3 classes \('a', 'b', 'c'\).*threshold=None"):
        FairMTLClassifier("shared", objective="average", threshold=0.6).fit(X, y3, groups=g)
    with pytest.raises(InvalidParameterError, match="threshold"):
        FairMTLClassifier(threshold=1.0).fit(X, y, groups=g)


def test_threshold_grid_moves_towards_the_majority_class():
    assert threshold_grid(5, positive_is_minority=True) == [0.5, 0.6125, 0.725, 0.8375, 0.95]
    assert threshold_grid(3, positive_is_minority=False) == [0.5, 0.275, 0.05]
    assert len(threshold_grid(20, positive_is_minority=True)) == 5
    assert threshold_grid(1, positive_is_minority=True) == [0.5]


def test_distinct_fits_leave_out_the_threshold():
    settings = [{"epsilon": e, "threshold": t} for e in (0.1, 0.2) for t in (0.5, 0.7, 0.9)] + [
        {"epsilon": 0.1}
    ]
    fits, position = distinct_fits(settings)
    assert fits == [{"epsilon": 0.1}, {"epsilon": 0.2}]
    assert position == [0, 0, 0, 1, 1, 1, 0]


def _search(sweep, estimator=None, n_points=3):
    return FrontierSearch(
        estimator or FairMTLClassifier("shared", objective="demographic_parity", alpha=ALPHA),
        sweep=sweep,
        n_points=n_points,
        metrics=("accuracy",),
        baselines=(),
        n_boot=0,
    )


def test_frontier_sweeps_the_threshold_on_shared_fits():
    X, y, g = _hospitals()
    search = _search({"epsilon": "auto", "threshold": "auto"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(X, y, groups=g)
    # the positive class is the minority here: the cut-offs rise from 0.5
    assert np.mean(y == search.classes_[1]) < 0.5
    assert [s["threshold"] for s in search.settings_] == [0.5, 0.725, 0.95] * 3
    models = search.estimators_
    assert len(models) == 9 and [m.threshold for m in models] == [0.5, 0.725, 0.95] * 3
    for first in range(0, 9, 3):  # one fit per epsilon, shared by its three thresholds
        assert all(models[first + k].coef_ is models[first].coef_ for k in range(3))
    assert models[0].coef_ is not models[3].coef_
    # each model is scored with its own cut-off
    rates = [m["scores"]["overall_accuracy"] for m in search.results_["models"][:3]]
    assert len(set(rates)) > 1
    # the chosen setting is refitted with its threshold
    assert search.best_estimator_.threshold == search.best_params_["threshold"]


def test_frontier_threshold_sweep_needs_a_binary_logistic_classifier():
    X, y, g = _hospitals()
    with pytest.raises(DataValidationError, match="a regressor"):
        _search({"threshold": [0.5, 0.7]}, FairMTLRegressor(objective="average")).fit(
            X, X[:, 0], groups=g
        )
    with pytest.raises(DataValidationError, match="loss='hinge'"):
        _search(
            {"threshold": [0.5, 0.7]}, FairMTLClassifier(objective="average", loss="hinge")
        ).fit(X, y, groups=g)


def test_rate_objectives_sweep_the_threshold_by_default():
    X, y, g = _hospitals()
    search = _search(None, n_points=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(X, y, groups=g)
    assert search.sweep_ == {"epsilon": "auto", "threshold": "auto"}
    assert search.results_["method"]["sweep"] == {"epsilon": "auto", "threshold": "auto"}
    assert [s["threshold"] for s in search.settings_] == [0.5, 0.95] * 2
    hinge = _search(
        None,
        FairMTLClassifier("shared", objective="demographic_parity", loss="hinge", alpha=ALPHA),
        n_points=2,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hinge.fit(X, y, groups=g)
    assert hinge.sweep_ == {"epsilon": "auto"}
