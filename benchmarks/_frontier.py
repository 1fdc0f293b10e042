"""Frontier suite: a 20-fit fairmtl frontier on Adult (race x sex) against fairlearn.

One run, one split, one preprocessing, one evaluation for every method:

* fairmtl (the reference row): :class:`fairmtl.FrontierSearch` with
  ``objective="demographic_parity"`` (the convex form of the constraint fairlearn's
  reductions use here) sweeping 20 epsilons x 5 decision thresholds (0.5 to 0.95, no
  refit: 20 fits, 100 models); its time is the whole ``fit`` (the automatic epsilon
  range, the fits, evaluation and the refit of the chosen model on train + validation).
  Its default ``solver="auto"`` takes the dual path here (19,536 rows x 101 features x
  10 groups).
* fairmtl sweeping the 20 epsilons alone (threshold 0.5).
* fairmtl with per-group thresholds: the same search over 10 epsilons x
  ``rate_tolerance`` in (None, 0.0) — each model with and without thresholds that
  equalise its training selection rates (20 models).
* fairlearn GridSearch with DemographicParity, ``grid_size=20`` (20 models).
* fairlearn ExponentiatedGradient with DemographicParity, swept over
  ``difference_bound`` (3 bounds with ``quick``, 20 otherwise; minutes per fit).

``smoke`` runs the same code on 3,000 rows with 4 points, to check that it runs.

Every model is scored on the same test split by the search's own evaluation, over every
group (``min_rows=0``: the gaps and the worst group that fairlearn's constraints act on;
a FrontierSearch's own scores leave out groups of fewer than 30 test rows, so its models
are scored again here like the others'); each method's hypervolume is that of its points in (overall accuracy, worst-group accuracy)
with reference (0, 0) and in (overall accuracy, demographic parity difference) with
reference (0, 1): the worst value of each criterion, so no tuning of the reference.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
from sklearn.base import clone

from fairmtl import FairMTLClassifier, FrontierSearch
from fairmtl.datasets import load_adult
from fairmtl.frontier import hypervolume, pareto_mask
from fairmtl.frontier._baselines import fit_baselines
from fairmtl.frontier._evaluate import evaluate
from fairmtl.frontier._pareto import _as_minimisation, _dominated
from fairmtl.frontier._records import SplitData
from fairmtl.frontier._sweep import MAX_AUTO_THRESHOLDS
from fairmtl.metrics import bootstrap_indices

N_POINTS = 20
#: test resamples for the share of them in which fairmtl's DP hypervolume is at least theirs
N_BOOT = 200
ALPHA = 1e-4
OBJECTIVE = "demographic_parity"
#: hypervolume criteria: (x, y), directions and the reference point (their worst values)
CRITERION_KEYS = ("overall_accuracy", "worst_group_accuracy", "demographic_parity_difference")
HV_CRITERIA = {
    "accuracy_worst": (("overall_accuracy", "worst_group_accuracy"), (True, True), (0.0, 0.0)),
    "accuracy_dp": (
        ("overall_accuracy", "demographic_parity_difference"),
        (True, False),
        (0.0, 1.0),
    ),
}


def _hypervolumes(scores: list[dict[str, float]]) -> dict[str, float]:
    out = {}
    for name, (keys, maximize, reference) in HV_CRITERIA.items():
        points = np.array([[s[k] for k in keys] for s in scores], dtype=float)
        out[name] = hypervolume(points, reference, maximize=list(maximize))
    return out


def _dominated_front_points(ours: list[dict], theirs: list[dict]) -> int:
    """Points of fairmtl's Pareto front (in each criteria pair) that a point of ``theirs``
    dominates: 0 when no point of theirs lies beyond fairmtl's frontier."""
    count = 0
    for keys, maximize, _ in HV_CRITERIA.values():
        mine = np.array([[s[k] for k in keys] for s in ours], dtype=float)
        front = _as_minimisation(mine[pareto_mask(mine, maximize=list(maximize))], maximize)
        other = _as_minimisation([[s[k] for k in keys] for s in theirs], maximize)
        count += int(_dominated(front, other, np.ones(len(other), bool)).sum())
    return count


def _baseline(
    name: str, n_points: int, n_expgrad: int, data: dict[str, Any], classes
) -> tuple[float, float, list]:
    tr = data["train"]
    t0, c0 = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # GridSearch's advice on grids for 10 groups
        fitted = fit_baselines(
            (name,),
            tr.X,
            tr.y,
            tr.groups,
            task="classification",
            objective=OBJECTIVE,
            alpha=ALPHA,
            n_points=n_points,
            classes=classes,
            n_expgrad=n_expgrad,
        )
    return time.perf_counter() - t0, time.process_time() - c0, fitted


def _test_scores(fitted: list, data: dict[str, Any], classes) -> list[dict[str, float]]:
    te = data["test"]
    kw = dict(task="classification", metrics=["accuracy"], primary="accuracy", classes=classes)
    return [evaluate(f, te.X, te.y, te.groups, **kw).scores for f in fitted]


class _Predictor:
    """A fitted fairmtl estimator behind the evaluation's interface (groups positional)."""

    def __init__(self, estimator) -> None:
        self.estimator = estimator

    def predict(self, X, groups):
        return self.estimator.predict(X, groups=groups)

    def predict_proba(self, X, groups):
        return self.estimator.predict_proba(X, groups=groups)


def _fairmtl(search: FrontierSearch, label: str, X, y, groups) -> tuple:
    """Fit ``search``; the method tuple (label, seconds, CPU seconds, test scores, status,
    test predictions of each model)."""
    t0, c0 = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(X, y, groups=groups)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    pairs = zip(search.results_["models"], search.estimators_, strict=True)
    ours = [(m, est) for m, est in pairs if m["source"] == "fairmtl"]
    statuses = sorted({m["solver_info"]["status"] for m, _ in ours})
    data = _split_arrays(search, X, y, groups)
    te = data["test"]
    preds = [est.predict(te.X, groups=te.groups) for _, est in ours]
    scores = _test_scores([_Predictor(est) for _, est in ours], data, search.classes_)
    return label, seconds, cpu, scores, "solver: " + ", ".join(statuses), preds


def _resampled_scores(
    preds: list, data: dict[str, Any], positive, idx: np.ndarray
) -> dict[str, np.ndarray]:
    """Each model's criteria on each resample of the test rows (``idx``: one row of
    indices per resample, stratified by group): arrays of shape (resamples, models)."""
    yte, gte = data["test"].y, data["test"].groups
    P = np.stack([np.asarray(p) == positive for p in preds])  # (models, rows)
    correct = np.stack([np.asarray(p) == yte for p in preds])
    masks = [gte == g for g in np.unique(gte)]  # stratified: column j keeps row j's group
    out = {k: np.empty((len(idx), len(preds))) for k in CRITERION_KEYS}
    for b, rows in enumerate(idx):
        out["overall_accuracy"][b] = correct[:, rows].mean(axis=1)
        per_group = np.stack([correct[:, rows[m]].mean(axis=1) for m in masks], axis=1)
        out["worst_group_accuracy"][b] = per_group.min(axis=1)
        rates = np.stack([P[:, rows[m]].mean(axis=1) for m in masks], axis=1)
        out["demographic_parity_difference"][b] = rates.max(axis=1) - rates.min(axis=1)
    return out


def _bootstrap_hv_dp(resampled: dict[str, np.ndarray]) -> np.ndarray:
    """Accuracy x demographic parity hypervolume of a method's models on each resample."""
    keys, maximize, reference = HV_CRITERIA["accuracy_dp"]
    points = np.stack([resampled[k] for k in keys], axis=2)  # (resamples, models, 2)
    return np.array([hypervolume(p, reference, maximize=list(maximize)) for p in points])


def _dominated_in_most_resamples(
    ours: list[dict], mine: dict[str, np.ndarray], theirs: dict[str, np.ndarray]
) -> int:
    """fairmtl front points (on the test rows, in each criteria pair) that some point of
    theirs dominates in more than half of the resamples: domination beyond test noise."""
    count = 0
    for keys, maximize, _ in HV_CRITERIA.values():
        sign = np.where(maximize, -1.0, 1.0)  # minimising, as _dominated compares
        test = np.array([[s[k] for k in keys] for s in ours], dtype=float)
        front = np.flatnonzero(pareto_mask(test, maximize=list(maximize)))
        a = np.stack([mine[k][:, front] for k in keys], axis=2) * sign  # (B, front, 2)
        b = np.stack([theirs[k] for k in keys], axis=2) * sign  # (B, models, 2)
        dominated = _dominated(a, b, np.ones(b.shape[:2], bool))  # (B, front)
        count += int((dominated.mean(axis=0) > 0.5).sum())
    return count


def _split_arrays(search: FrontierSearch, X, y, groups) -> dict[str, SplitData]:
    """The search's own train and test arrays (same rows, same fitted preprocessing)."""
    y, groups = np.asarray(y), np.asarray(groups, dtype=object)
    out = {}
    for part in ("train", "test"):
        rows = getattr(search.split_, part)
        Xp = np.asarray(search.preprocessor_.transform(X.iloc[rows]), dtype=float)
        out[part] = SplitData(Xp, y[rows], groups[rows], None)
    return out


def run(quick: bool, *, smoke: bool = False, log=None) -> list[dict[str, Any]]:
    """Time and hypervolume of each method; one row per method (fairmtl first).

    Parameters
    ----------
    quick : bool
        ExponentiatedGradient on 3 bounds instead of 20 (each fit takes minutes).
    smoke : bool, default=False
        A check that the suite runs: 3,000 rows, 4 points, 1 ExponentiatedGradient fit.
    log : callable, default=None
        Called with a line of progress text.

    Returns
    -------
    rows : list of dict
        ``suite``, ``dataset``, ``method``, ``models``, ``seconds``,
        ``seconds_per_model``, ``ratio`` (seconds / fairmtl's seconds), ``cpu_seconds``
        and ``cpu_ratio`` (process CPU time, which a busy machine disturbs less),
        ``hv_accuracy_worst``, ``hv_accuracy_dp`` and ``fairmtl_hv_ratio_accuracy_worst``,
        ``fairmtl_hv_ratio_accuracy_dp`` (fairmtl's hypervolume / this method's: >= 1
        when fairmtl's frontier is at least as good), ``best_worst_group_accuracy``,
        ``best_dp_difference`` and ``status``; the fairmtl row has a ``headline``.
    """
    say = log or (lambda line: None)
    n_points = 4 if smoke else N_POINTS
    n_expgrad = 1 if smoke else 3 if quick else N_POINTS
    bunch = load_adult()  # the train file: 32,561 rows; groups race x sex (10)
    X, y, groups = bunch.data, bunch.target, bunch.groups
    if smoke:
        X = X.sample(3000, random_state=0)
        y, groups = y.loc[X.index], groups.loc[X.index]
    dataset = f"adult race x sex ({len(y):,} rows, {groups.nunique()} groups; 60/20/20 split)"

    search = FrontierSearch(
        FairMTLClassifier("shared", objective=OBJECTIVE, alpha=ALPHA),
        sweep={"epsilon": "auto", "threshold": "auto"},
        n_points=n_points,
        metrics=("accuracy",),
        baselines=(),
        n_boot=0,
        n_jobs=1,
        random_state=0,
    )
    n_thresholds = min(n_points, MAX_AUTO_THRESHOLDS)
    label = (
        f"fairmtl FrontierSearch ({OBJECTIVE}, {n_points} epsilons x {n_thresholds} "
        f"decision thresholds: {n_points} fits)"
    )
    say(f"frontier: {label}")
    methods = [_fairmtl(search, label, X, y, groups)]
    fairmtl_seconds, fairmtl_cpu = methods[0][1], methods[0][2]
    alone = clone(search).set_params(sweep={"epsilon": "auto"})
    label = f"fairmtl FrontierSearch ({OBJECTIVE}, {n_points} epsilons)"
    say(f"frontier: {label}")
    methods.append(_fairmtl(alone, label, X, y, groups))
    half = max(2, n_points // 2)
    thresholds = clone(search).set_params(
        sweep={"epsilon": "auto", "rate_tolerance": [None, 0.0]}, n_points=half
    )
    say(f"frontier: fairmtl FrontierSearch with per-group thresholds, {half} x 2 settings")
    label = f"fairmtl FrontierSearch ({OBJECTIVE} + per-group thresholds, {half} x 2 settings)"
    methods.append(_fairmtl(thresholds, label, X, y, groups))
    data = _split_arrays(search, X, y, groups)
    classes = search.classes_
    for name, label in (
        ("fairlearn", f"fairlearn GridSearch (DemographicParity, grid_size={n_points})"),
        ("expgrad", f"fairlearn ExponentiatedGradient (DemographicParity, {n_expgrad} bounds)"),
    ):
        say(f"frontier: {label}")
        seconds, cpu, fitted = _baseline(name, n_points, n_expgrad, data, classes)
        preds = [f.predict(data["test"].X, data["test"].groups) for f in fitted]
        methods.append((label, seconds, cpu, _test_scores(fitted, data, classes), "ok", preds))

    # the same resamples of the test rows for every method: how often fairmtl's DP
    # hypervolume is at least each method's (the smallest groups have 20-40 test rows)
    idx = bootstrap_indices(data["test"].groups, 20 if smoke else N_BOOT, 0)
    resampled = [_resampled_scores(m[5], data, classes[1], idx) for m in methods]
    boot = [_bootstrap_hv_dp(r) for r in resampled]
    rows = []
    ref = _hypervolumes(methods[0][3])
    identity = np.arange(len(data["test"].y))[None]
    for i, ((label, seconds, cpu, scores, status, preds), hv_boot) in enumerate(
        zip(methods, boot, strict=True)
    ):
        hv = _hypervolumes(scores)
        # the resampling code on the test rows themselves gives the evaluation's figure
        same = _bootstrap_hv_dp(_resampled_scores(preds, data, classes[1], identity))[0]
        if not np.isclose(same, hv["accuracy_dp"], rtol=1e-9):
            raise RuntimeError(f"{label}: bootstrap code {same} != evaluation {hv}")
        rows.append(
            {
                "suite": "frontier",
                "dataset": dataset,
                "method": label,
                "models": len(scores),
                "seconds": seconds,
                "seconds_per_model": seconds / len(scores),
                "ratio": seconds / fairmtl_seconds,
                "cpu_seconds": cpu,
                "cpu_ratio": cpu / fairmtl_cpu,
                "hv_accuracy_worst": hv["accuracy_worst"],
                "hv_accuracy_dp": hv["accuracy_dp"],
                "fairmtl_hv_ratio_accuracy_worst": _ratio(
                    ref["accuracy_worst"], hv["accuracy_worst"]
                ),
                "fairmtl_hv_ratio_accuracy_dp": _ratio(ref["accuracy_dp"], hv["accuracy_dp"]),
                "best_worst_group_accuracy": max(s["worst_group_accuracy"] for s in scores),
                "best_dp_difference": min(s["demographic_parity_difference"] for s in scores),
                "fairmtl_dp_hv_at_least_share": float(np.mean(boot[0] >= hv_boot)),
                "fairmtl_front_points_it_dominates": _dominated_front_points(methods[0][3], scores),
                # against itself, resampling only says its own front is noisy: left out
                "fairmtl_front_points_it_dominates_in_most_resamples": (
                    _dominated_in_most_resamples(methods[0][3], resampled[0], resampled[i])
                    if i
                    else None
                ),
                "bootstrap_resamples": len(idx),
                "status": status,
            }
        )
    rows[0]["headline"] = _headline(rows)
    print(table(rows))
    return rows


def _headline(rows: list[dict[str, Any]]) -> str:
    ours, alone, tuned, grid, expgrad = rows
    dominated = (
        grid["fairmtl_front_points_it_dominates"] + expgrad["fairmtl_front_points_it_dominates"]
    )
    key = "fairmtl_front_points_it_dominates_in_most_resamples"
    robust = grid[key] + expgrad[key]
    return (
        f"On Adult (race x sex) a fairmtl frontier of {ours['models']} models "
        f"({alone['models']} fits, each at {ours['models'] // alone['models']} decision "
        f"thresholds) took {ours['seconds']:.1f} s, against {grid['seconds']:.1f} s for "
        f"fairlearn GridSearch's {grid['models']} models "
        f"({ours['seconds'] / grid['seconds']:.2f}x) and {expgrad['seconds_per_model']:.0f} s per "
        f"ExponentiatedGradient model. fairmtl's hypervolume is "
        f"{grid['fairmtl_hv_ratio_accuracy_worst']:.2f}x / "
        f"{expgrad['fairmtl_hv_ratio_accuracy_worst']:.2f}x theirs in accuracy x "
        f"worst-group accuracy and {grid['fairmtl_hv_ratio_accuracy_dp']:.2f}x / "
        f"{expgrad['fairmtl_hv_ratio_accuracy_dp']:.2f}x in accuracy x demographic parity "
        f"(GridSearch / ExponentiatedGradient); over {expgrad['bootstrap_resamples']} "
        "resamples of the test rows its accuracy x DP hypervolume is at least "
        f"ExponentiatedGradient's in {100 * expgrad['fairmtl_dp_hv_at_least_share']:.1f}% "
        f"of them. fairmtl frontier points dominated by a GridSearch or "
        f"ExponentiatedGradient point: {dominated} on the test rows, {robust} in most "
        f"resamples of them. Without the thresholds ({alone['models']} epsilons) the DP ratio is "
        f"{alone['hv_accuracy_dp'] / expgrad['hv_accuracy_dp']:.2f}x, with per-group "
        f"thresholds {tuned['hv_accuracy_dp'] / expgrad['hv_accuracy_dp']:.2f}x."
    )


def _ratio(a: float, b: float) -> float:
    return float("inf") if b == 0 else a / b


def table(rows: list[dict[str, Any]]) -> str:
    """A Markdown table of the rows of :func:`run`."""
    lines = [
        "| method | models | seconds | s / model | time vs fairmtl | CPU vs fairmtl "
        "| HV acc x worst-group "
        "| HV acc x DP | fairmtl HV ratio (worst-group, DP) | fairmtl front points it dominates |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['method']} | {r['models']} | {r['seconds']:.1f} | "
            f"{r['seconds_per_model']:.1f} | {r['ratio']:.2f}x | {r['cpu_ratio']:.2f}x | "
            f"{r['hv_accuracy_worst']:.4f} | {r['hv_accuracy_dp']:.4f} | "
            f"{r['fairmtl_hv_ratio_accuracy_worst']:.3f}, {r['fairmtl_hv_ratio_accuracy_dp']:.3f} "
            f"| {r.get('fairmtl_front_points_it_dominates', '')} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":  # python -m benchmarks._frontier [--full] [--json PATH]
    import json
    import sys

    from fairmtl.data import atomic_write_text

    found = run(quick="--full" not in sys.argv)
    if "--json" in sys.argv:
        path = sys.argv[sys.argv.index("--json") + 1]
        atomic_write_text(path, json.dumps(found, indent=2), force=True)
