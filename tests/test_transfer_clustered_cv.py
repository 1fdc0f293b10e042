"""ClusteredMTL chooses its count by K-fold cross-validation: checked against a plain loop."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import adjusted_rand_score

from fairmtl import FairMTLClassifier, FairMTLRegressor
from fairmtl.data import group_label_folds
from fairmtl.datasets import make_hospitals
from fairmtl.exceptions import DataWarning
from fairmtl.transfer import ClusteredMTL, cluster_groups, task_affinity


def _loop_table(X, y, g, template, counts, cv):
    """The pooled held-out criteria of each count, the clustering redone on each fold."""
    names = np.unique(g)
    folds = group_label_folds(np.searchsorted(names, g), None, cv, random_state=0)
    held = {k: np.full(len(y), np.nan) for k in counts}
    for train, test in folds:
        A = task_affinity(X[train], y[train], groups=g[train], estimator=template)
        for k in counts:
            labels = cluster_groups(A, k)
            for c in np.unique(labels):
                members = labels.index[labels.to_numpy() == c]
                rows_in = train[np.isin(g[train], members)]
                rows_out = test[np.isin(g[test], members)]
                # the strength of a cluster's final model: its share of the groups
                strength = template.sharing_strength * len(members) / len(names)
                model = clone(template).set_params(sharing_strength=strength)
                model.fit(X[rows_in], y[rows_in], groups=g[rows_in])
                held[k][rows_out] = (
                    model.predict(X[rows_out], groups=g[rows_out]) - y[rows_out]
                ) ** 2
    records = []
    for k in counts:
        per_group = pd.Series(held[k]).groupby(g).mean()
        records.append((k, held[k].mean(), per_group.mean(), per_group.max()))
    return pd.DataFrame(records, columns=["n_clusters", "average", "balanced", "worst"])


def test_the_count_is_chosen_by_cross_validation_with_the_clustering_redone_per_fold():
    bunch = make_hospitals(6, n_samples=720, n_clusters=2, task="regression", random_state=3)
    X, y, g = bunch.data.to_numpy(), bunch.target.to_numpy(), bunch.groups.to_numpy().astype(str)
    template = FairMTLRegressor(objective="average", alpha=1e-3, sharing_strength=0.3)
    model = ClusteredMTL(
        template, max_clusters=4, alphas=None, strengths=None, cv=3, random_state=0
    )
    model.fit(X, y, groups=g)
    expected = _loop_table(X, y, g, template, [1, 2, 3, 4], cv=3)
    table = model.validation_
    for column in ("average", "balanced", "worst"):
        np.testing.assert_allclose(table[column], expected[column], rtol=1e-5)
    k = int(expected["n_clusters"][expected["balanced"].idxmin()])
    assert model.n_clusters_ == k and table["chosen"].sum() == 1
    # the clusters kept are those of the chosen count on all the rows
    on_all = cluster_groups(task_affinity(X, y, groups=g, estimator=template), k)
    assert adjusted_rand_score(on_all, model.clusters_.reindex(on_all.index)) == 1.0
    for c, est in enumerate(model.estimators_):
        share = (model.clusters_ == c).sum() / 6
        assert est.sharing_strength == pytest.approx(0.3 * share)


def test_a_count_whose_cluster_holds_one_class_is_not_chosen():
    bunch = make_hospitals(4, n_samples=800, random_state=0)
    y = bunch.target.to_numpy().copy()
    y[bunch.groups.to_numpy() == "hospital_00"] = 0  # no positive row in this hospital
    template = FairMTLClassifier(objective="average", alpha=1e-3, sharing_strength=0.1)
    model = ClusteredMTL(template, max_clusters=4, alphas=None, cv=3, random_state=0)
    with pytest.warns(DataWarning, match="hospital_00"):  # told of the one-class hospital
        model.fit(bunch.data, y, groups=bunch.groups)
    table = model.validation_.set_index("n_clusters")
    assert np.isinf(table.loc[4, "balanced"])  # one cluster per hospital: no fit
    assert model.n_clusters_ < 4
    assert (model.clusters_ == model.clusters_["hospital_00"]).sum() > 1


def test_one_validation_split_remains_available():
    bunch = make_hospitals(6, n_samples=720, n_clusters=2, task="regression", random_state=3)
    template = FairMTLRegressor(objective="average", alpha=1e-3, sharing_strength=0.3)
    model = ClusteredMTL(template, max_clusters=3, cv=None, random_state=0)
    model.fit(bunch.data, bunch.target, groups=bunch.groups)
    assert np.isfinite(model.validation_["balanced"]).all()
    assert model.validation_["chosen"].sum() == 1
    with pytest.raises(ValueError, match="'cv' parameter"):
        ClusteredMTL(cv=1).fit(bunch.data, bunch.target, groups=bunch.groups)


def test_each_cluster_model_chooses_its_own_sharing_strength():
    bunch = make_hospitals(6, n_samples=720, n_clusters=2, task="regression", random_state=3)
    X, y, g = bunch.data.to_numpy(), bunch.target.to_numpy(), bunch.groups.to_numpy().astype(str)
    template = FairMTLRegressor(objective="average", alpha=1e-3, sharing_strength=0.3)
    model = ClusteredMTL(template, n_clusters=2, random_state=0).fit(X, y, groups=g)
    for c in range(model.n_clusters_):
        members = model.clusters_.index[model.clusters_.to_numpy() == c]
        rows = np.isin(g, members)
        # the estimator's own cross-validated strength, fitted on the cluster alone
        alone = clone(template).set_params(sharing_strength="auto")
        alone.fit(X[rows], y[rows], groups=g[rows])
        assert model.cluster_strength_[c] == pytest.approx(alone.sharing_strength_)
        np.testing.assert_allclose(
            model.predict(X[rows], groups=g[rows]), alone.predict(X[rows], groups=g[rows])
        )


def test_the_shrunk_worst_criterion_matches_its_formula():
    from fairmtl.transfer._clustered_select import criteria_table

    rng = np.random.default_rng(0)
    codes = np.repeat([0, 1, 2], [30, 8, 50])
    candidates = [rng.exponential(scale, len(codes)) for scale in (1.0, 1.3)]
    table = criteria_table(candidates, codes)
    means = np.array([[c[codes == g].mean() for g in range(3)] for c in candidates])
    se2 = np.array(
        [[c[codes == g].var(ddof=1) / (codes == g).sum() for g in range(3)] for c in candidates]
    )
    tau2 = np.mean(np.maximum(0.0, means.var(axis=1, ddof=1) - se2.mean(axis=1)))
    keep = tau2 / (tau2 + se2.mean(axis=0))
    for i, c in enumerate(candidates):
        expected = np.max(c.mean() + keep * (means[i] - c.mean()))
        assert table["shrunk_worst"][i] == pytest.approx(expected)
        assert table["balanced"][i] == pytest.approx(means[i].mean())
        assert table["worst"][i] == pytest.approx(means[i].max())


def test_the_benchmark_says_whether_an_outlier_worst_group_was_alone():
    from benchmarks._transfer import _why_not

    row = {"seed": 0, "worst_group": "h6", "worst_is_outlier": True, "pure": True}
    alone = _why_not([{**row, "worst_alone": True, "ratio": 1.0}])
    merged = _why_not([{**row, "worst_alone": False, "ratio": 1.04}])
    assert "cluster of its own" in alone and "ties (by construction)" in alone
    assert "with other hospitals" in merged and "1.040 of the better baseline" in merged
