"""Is fairmtl's frontier as good as the baselines'? Measured on test data, same split.

Two criteria pairs, each with its worst possible value as the hypervolume reference:
(overall accuracy, worst-group accuracy) from (0, 0), and (overall accuracy, demographic
parity difference) from (0, 1).

The frontier compared is a ``demographic_parity`` sweep of epsilon (the constraint that
fairlearn's baselines get here too) with weakly coupled group models
(``sharing_strength=0.01``), with ``alpha=1e-3`` for every model (fairmtl's and the
scikit-learn / fairlearn baselines', which take the same penalty). The default search (``bounded`` loss constraints, coupling 1)
does not reach the demographic parity hypervolume of fairlearn's GridSearch on the
hospitals: it never trades accuracy for parity. fairmtl's parity sweep beats GridSearch
but not ExponentiatedGradient on the parity hypervolume, on Adult and on the hospitals
(where ExponentiatedGradient's tightest bounds are near-constant classifiers). These
shortfalls are kept below as strict expected failures, run with the slow tests.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from fairmtl import FairMTLClassifier, FrontierSearch
from fairmtl.datasets import load_adult, make_hospitals
from fairmtl.frontier import hypervolume, pareto_mask

CRITERIA = {
    "accuracy_worst": (("overall_accuracy", "worst_group_accuracy"), [True, True], (0.0, 0.0)),
    "accuracy_dp": (
        ("overall_accuracy", "demographic_parity_difference"),
        [True, False],
        (0.0, 1.0),
    ),
}


def _points(models, keys):
    return np.array([[m["scores"][k] for k in keys] for m in models], dtype=float)


def _by_method(results):
    ours = [m for m in results["models"] if m["source"] == "fairmtl"]
    baselines = {}
    for m in results["models"]:
        if m["source"] == "baseline":
            baselines.setdefault(m["method"], []).append(m)
    return ours, baselines


def _search(estimator, baselines, n_points):
    return FrontierSearch(
        estimator,
        n_points=n_points,
        metrics=("accuracy",),
        baselines=baselines,
        n_boot=0,
        random_state=0,
    )


def _fit(search, X, y, groups):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # GridSearch's advice on grids for many groups
        return search.fit(X, y, groups=groups)


def _check_quality(results, against):
    """Not dominated by any baseline point; hypervolume >= that of each method in ``against``."""
    ours, baselines = _by_method(results)
    report = {}
    for name, (keys, maximize, reference) in CRITERIA.items():
        mine = _points(ours, keys)
        front = mine[pareto_mask(mine, maximize=maximize)]
        for method, models in baselines.items():
            theirs = _points(models, keys)
            for point, model in zip(theirs, models, strict=True):
                # no point of fairmtl's frontier is dominated by this baseline point
                mask = pareto_mask(np.vstack([point, front]), maximize=maximize)
                assert mask[1:].all(), f"{model['label']} dominates fairmtl's frontier on {name}"
            if method in against:
                hv_ours = hypervolume(mine, reference, maximize=maximize)
                hv_theirs = hypervolume(theirs, reference, maximize=maximize)
                report[(name, method)] = (hv_ours, hv_theirs)
                assert hv_ours >= hv_theirs, (
                    f"{name}: fairmtl {hv_ours:.4f} < {method} {hv_theirs:.4f}"
                )
    return report


def test_hospitals_frontier_beats_gridsearch_and_is_not_dominated():
    data = make_hospitals(30, n_samples=2000, random_state=0)
    search = _fit(
        _search(
            FairMTLClassifier(objective="demographic_parity", sharing_strength=0.01, alpha=1e-3),
            ("pooled", "independent", "fairlearn"),
            n_points=5,
        ),
        data.data,
        data.target,
        data.groups,
    )
    report = _check_quality(search.results_, against={"GridSearch", "pooled", "independent"})
    assert set(report) == {
        (c, m) for c in CRITERIA for m in ("GridSearch", "pooled", "independent")
    }


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="the default bounded-loss sweep (sharing_strength=1) does not trade accuracy "
    "for demographic parity: GridSearch(ErrorRateParity) reaches a larger DP hypervolume",
)
def test_hospitals_default_bounded_sweep_reaches_gridsearch_dp_hypervolume():
    data = make_hospitals(30, n_samples=2000, random_state=0)
    search = _fit(
        _search(
            FairMTLClassifier(objective="bounded", alpha=1e-3), ("pooled", "fairlearn"), n_points=5
        ),
        data.data,
        data.target,
        data.groups,
    )
    _check_quality(search.results_, against={"GridSearch"})


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="measured 2026-12-06: on make_hospitals(30) (about 13 test rows per hospital) "
    "ExponentiatedGradient's tightest bounds give near-constant classifiers (accuracy 0.63, "
    "DP difference 0.07) while fairmtl's parity sweep keeps accuracy 0.72-0.82 at DP 0.43 "
    "and more (even with per-group thresholds): accuracy x DP hypervolume 0.447 against "
    "0.620; accuracy x worst-group is not behind",
)
def test_hospitals_parity_sweep_reaches_expgrad_hypervolume():
    data = make_hospitals(30, n_samples=2000, random_state=0)
    search = _fit(
        _search(
            FairMTLClassifier(objective="demographic_parity", sharing_strength=0.01, alpha=1e-3),
            ("expgrad",),
            n_points=5,
        ),
        data.data,
        data.target,
        data.groups,
    )
    _check_quality(search.results_, against={"ExponentiatedGradient"})


def _adult_search(baselines):
    bunch = load_adult()
    return _fit(
        _search(
            FairMTLClassifier("shared", objective="demographic_parity"), baselines, n_points=10
        ),
        bunch.data,
        bunch.target,
        bunch.groups,
    )


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_adult_frontier_beats_gridsearch_and_is_not_dominated():
    """Adult race x sex (10 groups), against GridSearch(DemographicParity) and pooled."""
    search = _adult_search(("pooled", "fairlearn"))
    _check_quality(search.results_, against={"GridSearch", "pooled"})


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.xfail(
    strict=True,
    reason="measured (benchmarks._frontier, 2026-12-06): ExponentiatedGradient"
    "(DemographicParity) reaches a test demographic parity difference of 0.08 at fairmtl's "
    "accuracy, while fairmtl's convex parity constraint (equal mean scores) stops at 0.13: "
    "fairmtl's accuracy x DP hypervolume is 0.95x ExponentiatedGradient's (accuracy x "
    "worst-group: 1.00x). Per-group thresholds (rate_tolerance=0) equalise the training "
    "selection rates to 0.01 but not the test ones (0.734 vs 0.735): the smallest groups "
    "have 20-40 test rows, whose selection rates vary by about 0.08",
)
def test_adult_frontier_reaches_expgrad_hypervolume():
    """Adult race x sex: minutes per ExponentiatedGradient fit (5 bounds)."""
    search = _adult_search(("expgrad",))
    _check_quality(search.results_, against={"ExponentiatedGradient"})
