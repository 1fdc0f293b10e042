"""Scoring fitted models per group on held-out data, with shared bootstrap resamples."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fairmtl.metrics import (
    METRICS,
    OVERALL,
    VECTORISED_METRICS,
    bootstrap_indices,
    bootstrap_replicates,
    group_metrics,
)

__all__ = ["Evaluation", "evaluate", "evaluate_all", "criteria_for", "fairness_gaps"]


@dataclass
class Evaluation:
    """One model on one split: per-group table, criteria, bootstrap replicates."""

    per_group: pd.DataFrame
    scores: dict[str, float | None]
    replicates: pd.DataFrame | None = None
    worst_over: tuple | None = None
    """The groups the worst-group scores range over (None: all)."""


def criteria_for(task: str, primary: str, binary: bool) -> list[dict[str, Any]]:
    """The criteria reported for every model, with their direction."""
    greater = METRICS[primary].greater_is_better
    out = [
        {"name": f"overall_{primary}", "label": f"Overall {primary}", "maximize": greater},
        {"name": f"worst_group_{primary}", "label": f"Worst-group {primary}", "maximize": greater},
    ]
    if task != "regression":
        out.append(
            {"name": "worst_group_log_loss", "label": "Worst-group log-loss", "maximize": False}
        )
    if binary:
        out += [
            {
                "name": "demographic_parity_difference",
                "label": "Demographic parity difference",
                "maximize": False,
            },
            {
                "name": "equalized_odds_difference",
                "label": "Equalised odds difference",
                "maximize": False,
            },
        ]
    return out


def fairness_gaps(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    groups: np.ndarray,
    pos_label: Any,
    sample_weight: np.ndarray | None = None,
) -> dict[str, float]:
    """Demographic parity and equalised odds differences between groups, in numpy.

    The values of :func:`fairlearn.metrics.demographic_parity_difference` and
    :func:`fairlearn.metrics.equalized_odds_difference` (between groups, worst case, no
    sample weights), including fairlearn's rule that a group without positives
    (negatives) has a true (false) positive rate of 0. One :func:`numpy.bincount` pass
    instead of three MetricFrames: fairlearn's functions cost about 0.5 s per call with
    30 groups, which dominated a search's evaluation. Tested against fairlearn's.
    """
    codes = np.unique(np.asarray(groups), return_inverse=True)[1].ravel()
    t = (np.asarray(y_true) == pos_label).astype(float)
    p = (np.asarray(y_pred) == pos_label).astype(float)
    k = int(codes.max()) + 1 if codes.size else 0
    w = np.ones(len(t)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    n = np.bincount(codes, weights=w, minlength=k).astype(float)
    pos = np.bincount(codes, weights=w * t, minlength=k)
    neg = n - pos
    selection = np.bincount(codes, weights=w * p, minlength=k) / n
    tp = np.bincount(codes, weights=w * t * p, minlength=k)
    fp = np.bincount(codes, weights=w * (1.0 - t) * p, minlength=k)
    tpr = np.divide(tp, pos, out=np.zeros(k), where=pos > 0)
    fpr = np.divide(fp, neg, out=np.zeros(k), where=neg > 0)

    def spread(v: np.ndarray) -> float:
        return float(v.max() - v.min()) if v.size else float("nan")

    return {
        "demographic_parity_difference": spread(selection),
        "equalized_odds_difference": max(spread(tpr), spread(fpr)),
    }


def _worst(values: pd.Series, greater: bool) -> float | None:
    values = values.dropna()
    if values.empty:
        return None
    return float(values.min() if greater else values.max())


def evaluate(
    fitted,
    X: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    *,
    task: str,
    metrics: list[str],
    primary: str,
    classes: np.ndarray | None,
    boot_indices: np.ndarray | None = None,
    sample_weight: np.ndarray | None = None,
    min_rows: int = 0,
) -> Evaluation:
    """Per-group metrics and criteria of one fitted model on one split (weighted by
    ``sample_weight`` when given, like the fits).

    The worst-group scores and the gaps between groups (demographic parity, equalised
    odds) range over the groups with at least ``min_rows`` rows in the split (all groups
    when none has that many): a group of three rows has an accuracy of 0, 1/3, 2/3 or 1
    by chance, and a group without positives a true positive rate of 0, and either would
    decide every comparison.
    """
    y_pred = fitted.predict(X, groups)
    proba = fitted.predict_proba(X, groups) if task != "regression" else None
    binary = classes is not None and len(classes) == 2
    y_score = None
    if proba is not None:
        y_score = proba[:, 1] if binary else proba
    usable = [m for m in metrics if METRICS[m].needs != "y_score" or y_score is not None]
    kw = dict(
        groups=groups,
        y_pred=y_pred,
        y_score=y_score,
        metrics=usable,
        task="regression" if task == "regression" else "classification",
        labels=classes,
        sample_weight=sample_weight,
    )
    table = group_metrics(y, **kw)
    scores: dict[str, float | None] = {}
    values = table.set_index(["group", "metric"])["value"]
    greater = METRICS[primary].greater_is_better
    by_group = values.xs(primary, level="metric")
    worst_over = _groups_with_rows(groups, min_rows)
    scores[f"overall_{primary}"] = float(by_group[OVERALL])
    scores[f"worst_group_{primary}"] = _worst(_among(by_group, worst_over), greater)
    if task != "regression":
        if "log_loss" in usable:
            ll = values.xs("log_loss", level="metric")
            scores["worst_group_log_loss"] = _worst(_among(ll, worst_over), False)
        else:
            scores["worst_group_log_loss"] = None
    if binary:
        rows = slice(None) if worst_over is None else np.isin(groups, worst_over)
        weight = None if sample_weight is None else np.asarray(sample_weight)[rows]
        scores.update(
            fairness_gaps(
                np.asarray(y)[rows], np.asarray(y_pred)[rows], np.asarray(groups)[rows],
                classes[1], weight,
            )
        )  # fmt: skip
    replicates = None
    if boot_indices is not None:
        # intervals for the metrics computed on all resamples at once (roc_auc and r2
        # would need a Python loop per resample and model: they are reported without one)
        fast = [m for m in usable if m in VECTORISED_METRICS]
        replicates = bootstrap_replicates(y, indices=boot_indices, **{**kw, "metrics": fast})
    return Evaluation(table, scores, replicates, worst_over)


def evaluate_all(
    fitted: list,
    val,
    test,
    *,
    task: str,
    metrics: list[str],
    classes: np.ndarray | None,
    min_rows: int,
    n_boot: int,
    random_state,
) -> np.ndarray | None:
    """Score every model on the validation and test splits (``SplitData``), in place.

    Sets each model's ``val`` (None without validation rows) and ``test``
    :class:`Evaluation`; the test scores come with ``n_boot`` bootstrap resamples,
    stratified by group and the same for every model.

    Returns
    -------
    boot_indices : ndarray of shape (n_boot, n_test) or None
        The test rows of each resample (None when ``n_boot=0``).
    """
    rng = np.random.default_rng(random_state)
    boot = bootstrap_indices(test.groups, n_boot, rng) if n_boot else None
    common = dict(
        task=task, metrics=metrics, primary=metrics[0], classes=classes, min_rows=min_rows
    )
    for f in fitted:
        f.val = (
            evaluate(f, val.X, val.y, val.groups, sample_weight=val.weights, **common)
            if len(val.y)
            else None
        )
        f.test = evaluate(
            f,
            test.X,
            test.y,
            test.groups,
            boot_indices=boot,
            sample_weight=test.weights,
            **common,
        )
    return boot


def _groups_with_rows(groups: np.ndarray, min_rows: int) -> tuple | None:
    """The groups with at least ``min_rows`` rows, or None (all) if none or all have."""
    counts = pd.Series(np.asarray(groups)).value_counts()
    keep = counts.index[counts >= min_rows]
    if len(keep) == 0 or len(keep) == len(counts):
        return None
    return tuple(keep)


def _among(by_group: pd.Series, worst_over: tuple | None) -> pd.Series:
    """The groups' values (no overall row), restricted to ``worst_over`` when given."""
    values = by_group.drop(OVERALL)
    return values if worst_over is None else values[values.index.isin(worst_over)]
