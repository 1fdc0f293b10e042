"""FrontierSearch's cross-validated choice (cv=), its settling of "auto" knobs and the
default sweep of offset sharing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score

from fairmtl import FairMTLClassifier, FrontierSearch
from fairmtl.data import group_label_folds
from fairmtl.datasets import make_hospitals


@pytest.fixture(scope="module")
def data():
    d = make_hospitals(4, n_samples=700, random_state=4)
    return d.data.to_numpy(), d.target.to_numpy(), d.groups.to_numpy()


def test_cv_chooses_on_out_of_fold_scores_of_train_and_validation(data):
    """The policy's table equals out-of-fold accuracies recomputed with scikit-learn."""
    X, y, g = data
    seen = []

    def most_accurate(table):
        seen.append(table.copy())
        return int(np.argmax(table["overall"].to_numpy()))

    est = FairMTLClassifier("shared", objective="average")
    alphas = [1e-4, 1e-1, 10.0]
    search = FrontierSearch(
        est, sweep={"alpha": alphas}, policy=most_accurate, baselines=(), n_boot=0, cv=3
    ).fit(X, y, groups=g)
    rows = np.concatenate([search.split_.train, search.split_.val])
    Xv, yv, gv = X[rows], y[rows], g[rows]
    folds = group_label_folds(pd.factorize(gv)[0], yv, 3, 0)
    overall, worst = [], []
    for alpha in alphas:
        pred = np.empty(len(yv), dtype=yv.dtype)
        for train, test in folds:
            model = FairMTLClassifier("shared", objective="average", alpha=alpha)
            pred[test] = model.fit(Xv[train], yv[train], groups=gv[train]).predict(
                Xv[test], groups=gv[test]
            )
        overall.append(accuracy_score(yv, pred))
        worst.append(min(accuracy_score(yv[gv == k], pred[gv == k]) for k in np.unique(gv)))
    np.testing.assert_allclose(seen[0]["overall"], overall)
    np.testing.assert_allclose(seen[0]["worst"], worst)
    assert search.best_index_ == int(np.argmax(overall))


def test_auto_knobs_are_settled_once_and_offset_sweeps_strength(data):
    X, y, g = data
    search = FrontierSearch(
        FairMTLClassifier(objective="bounded"), n_points=6, baselines=(), n_boot=0
    ).fit(X, y, groups=g)
    tuned = search.tuned_params_
    # the same values as the estimator's own cross-validation on the training split
    ref = FairMTLClassifier().fit(
        X[search.split_.train], y[search.split_.train], groups=g[search.split_.train]
    )
    assert tuned == {"alpha": ref.alpha_, "sharing_strength": ref.sharing_strength_}
    s = tuned["sharing_strength"]
    assert search.sweep_["sharing_strength"] == pytest.approx([s / 10, s, 10 * s])
    strengths = sorted({setting["sharing_strength"] for setting in search.settings_})
    assert strengths == pytest.approx([s / 10, s, 10 * s])
    assert len(search.settings_) == 6  # about n_points fits in all: 2 epsilons x 3
    assert all(e.alpha == tuned["alpha"] for e in search.estimators_)


class _Fixed:
    """A model whose predictions are given: right on 80 of group A's 100 rows, wrong on
    group B's 2 rows."""

    def __init__(self, y):
        self.pred = y.copy()
        self.pred[:20] = 1 - self.pred[:20]
        self.pred[100:] = 1 - self.pred[100:]

    def predict(self, X, groups=None):
        return self.pred


def test_worst_group_criteria_skip_groups_too_small_to_say():
    from fairmtl.frontier._baselines import Fitted
    from fairmtl.frontier._evaluate import evaluate

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=102)
    g = np.array(["A"] * 100 + ["B"] * 2)
    fitted = Fitted("fixed", "baseline", "fixed", _Fixed(y))
    kw = dict(task="classification", metrics=["accuracy"], primary="accuracy")
    every = evaluate(fitted, None, y, g, classes=np.array([0, 1]), **kw)
    enough = evaluate(fitted, None, y, g, classes=np.array([0, 1]), min_rows=30, **kw)
    assert every.scores["worst_group_accuracy"] == 0.0
    assert enough.scores["worst_group_accuracy"] == pytest.approx(0.8)
    assert enough.worst_over == ("A",)
