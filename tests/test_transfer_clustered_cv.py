"""ClusteredMTL chooses its count by K-fold cross-validation: checked against a plain loop."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
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
    table = pd.DataFrame(records, columns=["n_clusters", "average", "balanced", "worst"])
    return table, held


def _tied_by_loop(held: dict, g: np.ndarray, best: int, z: float = 1.0) -> set[int]:
    """Counts whose mean group loss is within z standard errors of the best's: the paired
    per-row differences, each group's mean difference and its standard error (scipy)."""
    tied = set()
    for k, losses in held.items():
        diff = pd.Series(losses - held[best])
        per_group = diff.groupby(g)
        gap = per_group.mean().mean()
        se = np.sqrt(sum(stats.sem(d) ** 2 for _, d in per_group)) / per_group.ngroups
        if gap <= z * se:
            tied.add(k)
    return tied


def test_the_count_is_chosen_by_cross_validation_with_the_clustering_redone_per_fold():
    bunch = make_hospitals(6, n_samples=720, n_clusters=2, task="regression", random_state=3)
    X, y, g = bunch.data.to_numpy(), bunch.target.to_numpy(), bunch.groups.to_numpy().astype(str)
    template = FairMTLRegressor(objective="average", alpha=1e-3, sharing_strength=0.3)
    model = ClusteredMTL(
        template, max_clusters=4, alphas=None, strengths=None, cv=3, random_state=0
    )
    model.fit(X, y, groups=g)
    expected, held = _loop_table(X, y, g, template, [1, 2, 3, 4], cv=3)
    table = model.validation_
    for column in ("average", "balanced", "worst"):
        np.testing.assert_allclose(table[column], expected[column], rtol=1e-5)
    best = int(expected["n_clusters"][expected["balanced"].idxmin()])
    tied = _tied_by_loop(held, g, best)
    assert set(table["n_clusters"][table["tied"]]) == tied
    # of the tied counts, the best shrunk worst group (its formula: the test below)
    scores = table.set_index("n_clusters")["shrunk_worst"]
    k = min(tied, key=lambda c: (scores[c], c))
    assert model.n_clusters_ == k and table["chosen"].sum() == 1
    alone = clone(model).set_params(tie_se=0.0).fit(X, y, groups=g)
    assert alone.n_clusters_ == best and alone.validation_["tied"].sum() == 1
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


def test_near_best_ties_counts_within_the_paired_standard_error():
    """Built so that one candidate is inside the band and one outside, for both mean
    criteria; the band is checked against scipy's standard errors."""
    from fairmtl.transfer._clustered_select import near_best

    rng = np.random.default_rng(1)
    codes = np.repeat([0, 1, 2], [20, 35, 15])
    base = rng.exponential(1.0, len(codes))
    noise = rng.standard_normal(len(codes))
    noise -= (np.bincount(codes, weights=noise) / np.bincount(codes))[codes]  # group means 0
    close = base + 0.5 * noise + 0.01  # a gap of 0.01, far below its noise
    far = base + 0.05 * noise + 0.5  # a gap far above it
    candidates = [base, close, far, None]
    for criterion in ("balanced", "average"):
        mask = near_best(candidates, codes, criterion, 0, 1.0)
        assert mask.tolist() == [True, True, False, False]
    # the balanced band itself: gap <= z * sqrt(sum_g sem_g^2) / G
    diff = close - base
    gap = np.mean([diff[codes == c].mean() for c in range(3)])
    se = np.sqrt(sum(stats.sem(diff[codes == c]) ** 2 for c in range(3))) / 3
    z = gap / se
    assert near_best(candidates, codes, "balanced", 0, z * 1.001)[1]
    assert not near_best(candidates, codes, "balanced", 0, z * 0.999)[1]
    # the worst-group criteria and z = 0: the best alone
    assert near_best(candidates, codes, "worst", 0, 1.0).tolist() == [True, False, False, False]
    assert near_best(candidates, codes, "balanced", 0, 0.0).sum() == 1


def test_a_planted_outlier_merged_by_a_noise_margin_gets_its_own_cluster():
    """The planted regression of the transfer benchmark (seed 0): the worst group of the
    independent fit is a planted outlier (its true label). Its mean group loss barely
    separates two clusters from three (the outlier alone): by the best mean alone it is
    merged with regular hospitals; with the tie going to the worst group it is alone,
    and no cluster mixes the planted ones."""
    from benchmarks._transfer import SHARING_STRENGTH, _split

    train, held, bunch = _split("regression", 0)
    truth = pd.Series(bunch.cluster, index=np.asarray(bunch.hospitals).astype(str))
    template = FairMTLRegressor(
        sharing="offset", objective="average", alpha=1e-4, sharing_strength=SHARING_STRENGTH
    )
    independent = clone(template).set_params(sharing="independent")
    independent.fit(train.X, train.y, groups=train.groups)
    codes = held.codes()
    losses = np.bincount(codes, weights=(independent.predict(held.X, groups=held.groups)
                                         - held.y) ** 2) / np.bincount(codes)  # fmt: skip
    outlier = held.names[losses.argmax()]
    assert truth[outlier] == -1  # a planted outlier
    fits = {}
    for tie_se in (0.0, 1.0):
        model = ClusteredMTL(template, max_clusters=4, tie_se=tie_se, random_state=0)
        fits[tie_se] = model.fit(train.X, train.y, groups=train.groups)
    size = {t: int((m.clusters_ == m.clusters_[outlier]).sum()) for t, m in fits.items()}
    assert size[0.0] > 1 and size[1.0] == 1
    regular = truth[truth >= 0]
    found = fits[1.0].clusters_.reindex(regular.index)
    assert all(regular[found == c].nunique() == 1 for c in found.unique())
