"""The plain, JSON-able results of a search: the report's only input (schema version 1)."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
from typing import Any

import numpy as np
import pandas as pd

from fairmtl._solver_info import summarize

__all__ = ["build_results", "build_frontier_table"]

_VERSIONS = ("numpy", "scipy", "pandas", "scikit-learn", "cvxpy", "clarabel", "fairlearn")


def _num(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if not np.isfinite(value) else value


def _versions() -> dict[str, str]:
    out = {}
    for name in _VERSIONS:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


#: Metrics that are a share of a group's rows: their intervals are exact binomial ones.
ROW_PROPORTIONS = ("accuracy", "error_rate", "selection_rate")
#: Coverage of every interval and of the rule that calls a change better or worse.
CONFIDENCE = 0.95
#: The verdicts on a change against a reference model (one rule for every table and text).
VERDICTS = ("better", "worse", "within noise", "too few rows")


def exact_interval(value: float | None, n: int, confidence: float = CONFIDENCE):
    """Clopper-Pearson interval of a proportion ``value`` observed on ``n`` rows.

    Honest for any count, one row included (0 of 1 correct gives 0% to 97.5%), where a
    percentile bootstrap of one row gives a zero-width interval.

    Examples
    --------
    >>> [round(v, 3) for v in exact_interval(0.0, 1)]
    [0.0, 0.975]
    """
    from scipy.stats import binomtest

    value = _num(value)
    if value is None or n <= 0:
        return None, None
    k = min(n, max(0, int(round(value * n))))
    ci = binomtest(k, n).proportion_ci(confidence_level=confidence, method="exact")
    return float(ci.low), float(ci.high)


def _boot_bounds(f) -> dict[tuple[str, str], tuple[float | None, float | None]]:
    rep = f.test.replicates
    if rep is None:
        return {}
    tail = (1 - CONFIDENCE) / 2
    with np.errstate(all="ignore"):
        lo = rep.quantile(tail)
        hi = rep.quantile(1 - tail)
    return {key: (_num(lo[key]), _num(hi[key])) for key in rep.columns}


def group_interval(
    metric: str, value: Any, n: int, boot: tuple, small: bool, confidence: float = CONFIDENCE
) -> tuple:
    """``(lo, hi, method)`` of one group's metric: exact, bootstrap or too few rows.

    A share of the group's rows (accuracy, error rate, selection rate) gets the exact
    Clopper-Pearson interval; any other metric of a group with fewer test rows than the
    small-group threshold gets none (``"too few rows"``): a percentile bootstrap of a
    handful of rows is far narrower than the truth.
    """
    if metric in ROW_PROPORTIONS and _num(value) is not None and n > 0:
        return (*exact_interval(value, n, confidence), "exact")
    if small:
        return None, None, "too few rows"
    lo, hi = boot
    return lo, hi, ("bootstrap" if lo is not None else "none")


def change_verdict(lo: Any, hi: Any, greater: bool | None, small: bool = False) -> str:
    """The one rule for calling a change better or worse.

    ``lo`` and ``hi`` bound the paired bootstrap difference (model minus reference, at
    :data:`CONFIDENCE`). A change is *worse* (*better*) when the whole interval is on the
    bad (good) side of 0, *within noise* when it holds 0, and *too few rows* for a group
    with fewer test rows than the small-group threshold, which is never judged. ``""``
    when there is no interval or the metric has no direction.
    """
    if small:
        return "too few rows"
    lo, hi = _num(lo), _num(hi)
    if lo is None or hi is None or greater is None:
        return ""
    if hi < 0:
        return "worse" if greater else "better"
    if lo > 0:
        return "better" if greater else "worse"
    return "within noise"


def _paired(a: pd.Series, b: pd.Series) -> tuple[float | None, float | None]:
    """Bounds of the paired bootstrap difference ``a - b`` at :data:`CONFIDENCE`."""
    diff = (a - b).to_numpy(dtype=float)
    diff = diff[np.isfinite(diff)]
    if not diff.size:
        return None, None
    tail = (1 - CONFIDENCE) / 2
    return float(np.quantile(diff, tail)), float(np.quantile(diff, 1 - tail))


def _changes(f, reference, small: set[str], metric: str | None = None) -> list[dict[str, Any]]:
    """Each group's change of each metric (or of ``metric``), ``f`` minus ``reference``."""
    from fairmtl._metric_facts import METRIC_FACTS
    from fairmtl.metrics import OVERALL

    if reference is None or f.test.replicates is None or reference.test.replicates is None:
        return []
    a, b = f.test.replicates, reference.test.replicates
    mine = f.test.per_group.set_index(["group", "metric"])["value"]
    theirs = reference.test.per_group.set_index(["group", "metric"])["value"]
    out = []
    for group, name in a.columns:
        if group == OVERALL or (group, name) not in b.columns or metric not in (None, name):
            continue
        lo, hi = _paired(a[(group, name)], b[(group, name)])
        greater = METRIC_FACTS[name].maximize  # None: no better direction
        d = _num(mine.get((group, name), np.nan) - theirs.get((group, name), np.nan))
        out.append(
            {
                "group": str(group),
                "metric": name,
                "diff": d,
                "lo": lo,
                "hi": hi,
                "verdict": change_verdict(lo, hi, greater, str(group) in small),
            }
        )
    return out


def _judged(f, reference, primary: str, small: set[str], verdict: str) -> list[str]:
    """Groups whose primary-metric change against ``reference`` has ``verdict``.

    Groups with too few test rows are never judged, so never listed.
    """
    if reference is None or f is reference:
        return []
    return [c["group"] for c in _changes(f, reference, small, primary) if c["verdict"] == verdict]


def _worst_group(f, primary: str, greater: bool, eligible: list[str]) -> tuple[str, float] | None:
    """The worst group by ``primary`` among ``eligible`` (groups with enough test rows)."""
    table = f.test.per_group
    rows = table[(table["metric"] == primary) & table["group"].isin(eligible)]
    rows = rows[np.isfinite(rows["value"].astype(float))]
    if rows.empty:
        return None
    row = rows.loc[rows["value"].idxmin() if greater else rows["value"].idxmax()]
    return str(row["group"]), float(row["value"])


def _worst_replicates(f, primary: str, greater: bool, eligible: list[str]) -> pd.Series | None:
    rep = f.test.replicates
    cols = [(g, primary) for g in eligible if rep is not None and (g, primary) in rep.columns]
    if not cols:
        return None
    part = rep[cols]
    return part.min(axis=1) if greater else part.max(axis=1)


def _comparison(f, reference, primary: str, greater: bool, eligible: list[str]) -> dict:
    """The chosen model against ``reference``: overall and worst eligible group, paired."""
    from fairmtl.metrics import OVERALL

    def entry(d, lo_hi) -> dict[str, Any]:
        lo, hi = lo_hi
        return {"diff": _num(d), "lo": lo, "hi": hi, "verdict": change_verdict(lo, hi, greater)}

    none = (None, None)
    mine, theirs = f.test.replicates, reference.test.replicates
    both = mine is not None and theirs is not None
    key = (OVERALL, primary)
    overall = entry(
        f.test.scores.get(f"overall_{primary}", np.nan)
        - reference.test.scores.get(f"overall_{primary}", np.nan),
        _paired(mine[key], theirs[key]) if both and key in mine and key in theirs else none,
    )
    w_mine = _worst_group(f, primary, greater, eligible)
    w_theirs = _worst_group(reference, primary, greater, eligible)
    r_mine = _worst_replicates(f, primary, greater, eligible)
    r_theirs = _worst_replicates(reference, primary, greater, eligible)
    worst = entry(
        (w_mine[1] - w_theirs[1]) if w_mine and w_theirs else None,
        _paired(r_mine, r_theirs) if r_mine is not None and r_theirs is not None else none,
    )
    worst.update(
        group=w_mine[0] if w_mine else None, reference_group=w_theirs[0] if w_theirs else None
    )
    return {"reference": None, "overall": overall, "worst_group": worst}


def build_results(search, fitted, data, metrics, X, info: dict[str, Any]) -> dict[str, Any]:
    """Assemble the results dict described in :mod:`fairmtl.report`'s schema."""
    from fairmtl import __version__
    from fairmtl.frontier._evaluate import criteria_for
    from fairmtl.metrics import METRICS, OVERALL

    primary = metrics[0]
    greater = METRICS[primary].greater_is_better
    binary = search.classes_ is not None and len(search.classes_) == 2
    criteria = criteria_for(search.task_, primary, binary)
    ids = [f"m{i:02d}" for i in range(len(fitted))]
    pooled = next((f for f in fitted if f.method == "pooled"), None)
    independent = next((f for f in fitted if f.method == "independent"), None)
    groups = _groups_summary(search, data)
    small = {g["name"] for g in groups if g["small"]}
    eligible = [g["name"] for g in groups if not g["small"]] or [g["name"] for g in groups]
    models, per_group = [], []
    for i, f in enumerate(fitted):
        models.append(
            {
                "id": ids[i],
                "label": f.label,
                "source": f.source,
                "method": f.method,
                "params": {k: v for k, v in f.params.items()},
                "solver_info": summarize(f.solver_info),
                "scores": {k: _num(v) for k, v in f.test.scores.items()},
                "val_scores": {k: _num(v) for k, v in (f.val.scores if f.val else {}).items()},
                "pareto": bool(search.pareto_mask_[i]),
                "pareto_frequency": _num(search.pareto_frequency_[i]),
                "chosen": i == search.best_index_,
                "harm": {
                    "worse_than_pooled": _judged(f, pooled, primary, small, "worse"),
                    "worse_than_own": _judged(f, independent, primary, small, "worse"),
                    "better_than_pooled": _judged(f, pooled, primary, small, "better"),
                },
            }
        )
        bounds = _boot_bounds(f)
        for row in f.test.per_group.itertuples(index=False):
            if row.group == OVERALL:
                continue  # overall figures are the model's scores, not a group
            lo, hi, method = group_interval(
                row.metric,
                row.value,
                int(row.n),
                bounds.get((row.group, row.metric), (None, None)),
                str(row.group) in small,
            )
            per_group.append(
                {
                    "model": ids[i],
                    "group": str(row.group),
                    "metric": row.metric,
                    "value": _num(row.value),
                    "lo": lo,
                    "hi": hi,
                    "n": int(row.n),
                    "interval": method,
                }
            )
    chosen = fitted[search.best_index_]
    reference = pooled if pooled is not None else fitted[search.most_accurate_index_]
    comparison = _comparison(chosen, reference, primary, greater, eligible)
    comparison["reference"] = ids[fitted.index(reference)]
    return {
        "schema_version": 1,
        "title": search.title or "fairmtl frontier report",
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "task": search.task_,
        "target": str(info.get("target", getattr(search, "target_name_", "target"))),
        "primary_metric": primary,
        "criteria": criteria,
        "x_criterion": criteria[0]["name"],
        "y_criterion": criteria[1]["name"],
        "models": models,
        "per_group": per_group,
        "groups": groups,
        "comparison": comparison,
        "changes": _changes(chosen, pooled, small) if pooled is not None else [],
        "confidence": CONFIDENCE,
        "chosen": ids[search.best_index_],
        "most_accurate": ids[search.most_accurate_index_],
        "pooled": ids[fitted.index(pooled)] if pooled is not None else None,
        "policy": str(search.policy),
        "small_group_threshold": int(search.small_group_threshold),
        "data": _data_summary(search, X, data, info),
        "method": {
            "objective": fitted[0].params.get("objective", ""),
            "sharing": fitted[0].params.get("sharing", ""),
            "loss": fitted[0].params.get("loss", ""),
            "sweep": {k: str(v) for k, v in search.sweep_.items()},
            "notes": [
                _choice_note(fitted),
                _interval_note(search),
            ],
        },
        "reproducibility": {
            "fairmtl_version": __version__,
            "versions": _versions(),
            "seed": search.random_state,
            "command": str(info.get("command", repr(search))),
            "experiment": info.get("experiment"),
        },
    }


def _interval_note(search) -> str:
    return (
        f"Intervals are {CONFIDENCE:.0%}: exact (Clopper-Pearson) binomial intervals for "
        "accuracy, error rate and selection rate; for other metrics, "
        f"{search.n_boot} stratified bootstrap resamples of the test set, and none for "
        f"groups with fewer than {search.small_group_threshold} test rows. A change "
        "against another model is better or worse only when its paired bootstrap "
        "interval excludes 0, and within noise otherwise; groups with fewer than "
        f"{search.small_group_threshold} test rows are not judged."
    )


def _choice_note(fitted) -> str:
    if all(f.val is not None for f in fitted):
        return (
            "Models are chosen on the validation split; every figure shown is on the "
            "test split, which was not used to fit or choose."
        )
    return (
        "There was no validation split (val_size=0): the model was chosen on the test "
        "split, so the chosen model's test figures are optimistic."
    )


def _groups_summary(search, data) -> list[dict[str, Any]]:
    names = sorted(set(data["train"].groups) | set(data["val"].groups) | set(data["test"].groups))
    out = []
    for name in names:
        counts = {k: int(np.sum(data[k].groups == name)) for k in ("train", "val", "test")}
        ytr = data["train"].y[data["train"].groups == name]
        base = None
        if len(ytr):
            if search.task_ == "regression":
                base = _num(np.mean(ytr))
            elif search.classes_ is not None and len(search.classes_) == 2:
                base = _num(np.mean(ytr == search.classes_[1]))
        out.append(
            {
                "name": str(name),
                "n_train": counts["train"],
                "n_val": counts["val"],
                "n_test": counts["test"],
                "base_rate": base,
                "small": counts["test"] < search.small_group_threshold,
            }
        )
    return out


def _data_summary(search, X, data, info) -> dict[str, Any]:
    frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X))
    missing = {str(c): int(n) for c, n in frame.isna().sum().items() if n}
    return {
        "source": str(info.get("source", "in-memory data")),
        "sha256": info.get("sha256"),
        "n_rows": int(len(frame)),
        "n_features": int(frame.shape[1]),
        "feature_names": [str(c) for c in frame.columns],
        "missing": missing,
        "rows_dropped": int(info.get("rows_dropped", 0)),
        "split": {k: int(len(data[k].y)) for k in ("train", "val", "test")},
    }


def build_frontier_table(results: dict[str, Any]) -> pd.DataFrame:
    """One row per model x group x metric (test), with the model's label and settings."""
    rows = pd.DataFrame(results["per_group"])
    models = pd.DataFrame(
        [
            {
                "model": m["id"],
                "label": m["label"],
                "source": m["source"],
                "method": m["method"],
                "pareto": m["pareto"],
                "chosen": m["chosen"],
            }
            for m in results["models"]
        ]
    )
    return rows.merge(models, on="model", how="left")
