"""Is fairmtl's frontier as good as the baselines'? Measured on test data, same split.

Two criteria pairs, each with its worst possible value as the hypervolume reference:
(overall accuracy, worst-group accuracy) from (0, 0), and (overall accuracy, demographic
parity difference) from (0, 1).

The frontier compared is a ``demographic_parity`` sweep (the constraint that fairlearn's
baselines get here too) of epsilon x the decision threshold (``{"epsilon": "auto",
"threshold": "auto"}``: each fit at cut-offs from 0.5 to 0.95), with ``alpha=1e-3`` on
the hospitals for every model (fairmtl's and the scikit-learn / fairlearn baselines',
which take the same penalty) and weakly coupled group models (``sharing_strength=0.01``).

Measured shortfalls are kept as strict expected failures, run with the slow tests: the
default search (``bounded`` loss constraints, coupling 1) never trades accuracy for
parity, and an epsilon-only parity sweep stops at a test demographic parity difference
of 0.43 on the hospitals (about 13 test rows each, whose selection rates are noisy unless
near 0), where ExponentiatedGradient's tightest bounds are near-constant classifiers.
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


#: epsilon x decision threshold, each fit evaluated at up to 5 cut-offs
PARITY_SWEEP = {"epsilon": "auto", "threshold": "auto"}


def _search(estimator, baselines, n_points, sweep=None):
    return FrontierSearch(
        estimator,
        sweep=sweep,
        n_points=n_points,
        metrics=("accuracy",),
        baselines=baselines,
        n_boot=0,
        # every group in the criteria, as fairlearn's constraints count them (the
        # default leaves groups of fewer than 30 test rows out of worst group and gaps)
        small_group_threshold=0,
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


def _hospitals_parity_search(baselines, sweep):
    data = make_hospitals(30, n_samples=2000, random_state=0)
    return _fit(
        _search(
            FairMTLClassifier(objective="demographic_parity", sharing_strength=0.01, alpha=1e-3),
            baselines,
            n_points=5,
            sweep=sweep,
        ),
        data.data,
        data.target,
        data.groups,
    )


def test_hospitals_frontier_beats_every_baseline_and_is_not_dominated():
    """make_hospitals(30): pooled, independent, GridSearch and ExponentiatedGradient."""
    search = _hospitals_parity_search(
        ("pooled", "independent", "fairlearn", "expgrad"), PARITY_SWEEP
    )
    methods = ("GridSearch", "ExponentiatedGradient", "pooled", "independent")
    report = _check_quality(search.results_, against=set(methods))
    assert set(report) == {(c, m) for c in CRITERIA for m in methods}
    # not won by the trivial classifier: the parity hypervolume is beaten without it
    ours, baselines = _by_method(search.results_)
    keys, maximize, reference = CRITERIA["accuracy_dp"]
    mine = _points(ours, keys)
    informative = mine[mine[:, 1] > 0]
    theirs = _points(baselines["ExponentiatedGradient"], keys)
    assert hypervolume(informative, reference, maximize=maximize) >= hypervolume(
        theirs, reference, maximize=maximize
    )


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
    "an epsilon-only parity sweep keeps accuracy 0.76-0.82 at test DP differences of 0.43 "
    "and more, while ExponentiatedGradient's tightest bounds give near-constant "
    "classifiers (accuracy 0.63, DP 0.07): accuracy x DP hypervolume 0.447 against 0.620. "
    "The decision threshold sweep closes it (test above)",
)
def test_hospitals_epsilon_only_sweep_reaches_expgrad_hypervolume():
    search = _hospitals_parity_search(("expgrad",), {"epsilon": "auto"})
    _check_quality(search.results_, against={"ExponentiatedGradient"})


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_adult_frontier_beats_every_baseline_and_is_not_dominated():
    """Adult race x sex (10 groups): minutes per ExponentiatedGradient fit (5 bounds)."""
    bunch = load_adult()
    search = _fit(
        _search(
            FairMTLClassifier("shared", objective="demographic_parity"),
            ("pooled", "fairlearn", "expgrad"),
            n_points=10,
            sweep=PARITY_SWEEP,
        ),
        bunch.data,
        bunch.target,
        bunch.groups,
    )
    _check_quality(search.results_, against={"GridSearch", "ExponentiatedGradient", "pooled"})
