"""The plain, JSON-able results of a search: the report's only input (schema version 1)."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
from typing import Any

import numpy as np
import pandas as pd

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


def _intervals(f, metric_names) -> dict[tuple[str, str], tuple[float | None, float | None]]:
    rep = f.test.replicates
    if rep is None:
        return {}
    with np.errstate(all="ignore"):
        lo = rep.quantile(0.025)
        hi = rep.quantile(0.975)
    return {key: (_num(lo[key]), _num(hi[key])) for key in rep.columns}


def _harm(f, reference, primary: str, greater: bool) -> list[str]:
    """Groups whose primary metric is worse than ``reference``'s on (nearly) every resample.

    Paired bootstrap on the same test resamples: harmed when the 97.5% bound of the
    difference (model - reference, oriented so that positive is better) is below 0.
    """
    if reference is None or f is reference or f.test.replicates is None:
        return []
    a, b = f.test.replicates, reference.test.replicates
    harmed = []
    for group, metric in a.columns:
        if metric != primary or group == "overall":
            continue
        diff = (a[(group, metric)] - b[(group, metric)]).to_numpy()
        diff = diff if greater else -diff
        diff = diff[np.isfinite(diff)]
        if diff.size and np.quantile(diff, 0.975) < 0:
            harmed.append(str(group))
    return harmed


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
    models, per_group = [], []
    for i, f in enumerate(fitted):
        models.append(
            {
                "id": ids[i],
                "label": f.label,
                "source": f.source,
                "method": f.method,
                "params": {k: v for k, v in f.params.items()},
                "solver_info": _solver_summary(f.solver_info),
                "scores": {k: _num(v) for k, v in f.test.scores.items()},
                "val_scores": {k: _num(v) for k, v in (f.val.scores if f.val else {}).items()},
                "pareto": bool(search.pareto_mask_[i]),
                "pareto_frequency": _num(search.pareto_frequency_[i]),
                "chosen": i == search.best_index_,
                "harm": {
                    "worse_than_pooled": _harm(f, pooled, primary, greater),
                    "worse_than_own": _harm(f, independent, primary, greater),
                },
            }
        )
        bounds = _intervals(f, metrics)
        for row in f.test.per_group.itertuples(index=False):
            if row.group == OVERALL:
                continue  # overall figures are the model's scores, not a group
            lo, hi = bounds.get((row.group, row.metric), (None, None))
            per_group.append(
                {
                    "model": ids[i],
                    "group": str(row.group),
                    "metric": row.metric,
                    "value": _num(row.value),
                    "lo": lo,
                    "hi": hi,
                    "n": int(row.n),
                }
            )
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
        "groups": _groups_summary(search, data),
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
                f"Intervals: {search.n_boot} stratified bootstrap resamples of the test set.",
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


def _solver_summary(info: dict[str, Any] | None) -> dict[str, Any] | None:
    if not info:
        return None
    return {
        "status": str(info.get("status")),
        "solver": str(info.get("solver")),
        "time": _num(info.get("time")),
        "gap": _num(info.get("gap")),
        "fallback_from": list(info.get("fallback_from") or []),
    }


def _groups_summary(search, data) -> list[dict[str, Any]]:
    names = sorted(set(data["train"][2]) | set(data["val"][2]) | set(data["test"][2]))
    out = []
    for name in names:
        counts = {k: int(np.sum(data[k][2] == name)) for k in ("train", "val", "test")}
        ytr = data["train"][1][data["train"][2] == name]
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
        "split": {k: int(len(data[k][1])) for k in ("train", "val", "test")},
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
