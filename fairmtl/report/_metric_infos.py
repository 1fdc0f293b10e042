"""Labels, directions and units of the metrics and criteria, given or guessed from names.

The results' optional ``metrics`` key, and a criterion's optional ``percent`` key, say
how each is shown; where they are absent, the defaults come from the metric's name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fairmtl._metric_facts import METRIC_FACTS

__all__ = ["criterion_infos", "metric_infos"]

_RATE_WORDS = ("parity", "opportunity", "odds", "_rate")


def metric_infos(results: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Label, direction and unit of every per-group metric, given or guessed."""
    given = {m["name"]: dict(m) for m in results.get("metrics", [])}
    crit = {c["name"]: c for c in results["criteria"]}
    out: dict[str, dict[str, Any]] = {}
    names = [results["primary_metric"]] + [r["metric"] for r in results["per_group"]]
    for name in dict.fromkeys(names):
        if name in given:
            out[name] = given[name]
            continue
        label, maximize, percent = METRIC_FACTS.get(name, (name.replace("_", " "), None, False))
        for prefix in ("worst_group_", "overall_"):
            if maximize is None and prefix + name in crit:
                maximize = crit[prefix + name]["maximize"]
        out[name] = {"name": name, "label": label, "maximize": maximize, "percent": percent}
    return out


def criterion_infos(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The criteria with their ``percent`` flag, given or guessed from the name."""
    out = []
    for c in results["criteria"]:
        c = dict(c)
        if "percent" not in c:
            base = c["name"]
            for prefix in ("worst_group_", "overall_", "best_group_", "mean_group_"):
                base = base.removeprefix(prefix)
            known = METRIC_FACTS.get(base)
            c["percent"] = known.percent if known else any(w in base for w in _RATE_WORDS)
        out.append(c)
    return out
