"""A results dict with its indexes: the lookups every section of the report makes.

The per-group rows indexed by model and metric, the chosen and pooled models, and each
group's cell (value and interval, formatted) and verdict against the pooled model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fairmtl.report._format import TOO_FEW, _fmt_param, _num, fmt_interval, fmt_value
from fairmtl.report._metric_infos import criterion_infos, metric_infos

__all__ = ["ResultsIndex", "fmt_params", "status_warning", "worst_group"]

_BAD_STATUS_WORDS = ("inaccurate", "infeasible", "unbounded", "error", "fail", "max_iter", "limit")


def fmt_params(params: Mapping[str, Any]) -> str:
    """``k=v, ...`` with each value formatted."""
    return ", ".join(f"{k}={_fmt_param(v)}" for k, v in params.items())


def _index(results: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, Mapping[str, Any]]]:
    """(model, metric) -> group -> per-group row."""
    index: dict[tuple[str, str], dict[str, Mapping[str, Any]]] = {}
    for row in results["per_group"]:
        index.setdefault((row["model"], row["metric"]), {})[row["group"]] = row
    return index


def worst_group(
    rows: Mapping[str, Mapping[str, Any]], maximize: bool | None
) -> tuple[str, float] | None:
    """The worst group of ``rows`` and its value (None when no value is known)."""
    values = [(g, _num(r["value"])) for g, r in rows.items()]
    values = [(g, v) for g, v in values if v is not None]
    if not values:
        return None
    key = (lambda gv: gv[1]) if maximize is not False else (lambda gv: -gv[1])
    return min(values, key=key)


def status_warning(info: Mapping[str, Any] | None) -> str | None:
    """The solver status when it reports trouble (inaccurate, infeasible, ...), else None."""
    if not info:
        return None
    status = str(info.get("status", "")).lower()
    return info["status"] if any(w in status for w in _BAD_STATUS_WORDS) else None


class ResultsIndex:
    """Holds the results and their indexes while the sections are built."""

    def __init__(self, results: Mapping[str, Any]) -> None:
        self.r = results
        self.models = {m["id"]: m for m in results["models"]}
        self.metrics = metric_infos(results)
        self.criteria = criterion_infos(results)
        self.pm = self.metrics[results["primary_metric"]]
        self.index = _index(results)
        self.groups = {g["name"]: g for g in results["groups"]}
        self.chosen = self.models[results["chosen"]]
        self.pooled = self.models.get(results["pooled"]) if results["pooled"] else None
        self.changes = {(c["group"], c["metric"]): c for c in results.get("changes") or ()}

    def rows(self, model_id: str | None, metric: str) -> dict[str, Mapping[str, Any]]:
        return self.index.get((model_id, metric), {}) if model_id else {}

    def eligible(self) -> set[str]:
        """Groups with enough test rows to be headlined (all groups when none has)."""
        big = {n for n, g in self.groups.items() if not g["small"]}
        return big or set(self.groups)

    def worst_of(self, model: Mapping[str, Any]) -> tuple[str, float] | None:
        """The worst group by the primary metric among :meth:`eligible` groups."""
        rows = self.rows(model["id"], self.pm["name"])
        return worst_group(
            {g: r for g, r in rows.items() if g in self.eligible()}, self.pm["maximize"]
        )

    def overall(self, model: Mapping[str, Any]) -> float | None:
        name = self.pm["name"]
        overall = _num(model["scores"].get("overall_" + name))
        if overall is None:
            pairs = [(_num(r["value"]), r["n"]) for r in self.rows(model["id"], name).values()]
            pairs = [(v, n) for v, n in pairs if v is not None and n > 0]
            total = sum(n for _, n in pairs)
            overall = sum(v * n for v, n in pairs) / total if total else None
        return overall

    def cell(self, model_id: str | None, metric: str, group: str) -> dict[str, Any]:
        row = self.rows(model_id, metric).get(group)
        pc = self.metrics[metric]["percent"]
        if row is None:
            return {"text": "—", "ci": "", "v": None, "row": None}
        ci = fmt_interval(row["lo"], row["hi"], pc)
        if not ci and row.get("interval") == TOO_FEW:
            ci = "interval: too few rows"
        return {
            "text": fmt_value(row["value"], pc),
            "ci": ci,
            "v": _num(row["value"]),
            "row": {"value": _num(row["value"]), "lo": _num(row["lo"]), "hi": _num(row["hi"])},
        }

    def verdict(self, group: str, metric: str, d: float | None) -> str:
        """The results' verdict on a group's change against the pooled model.

        Results that carry no verdicts (written by an older fairmtl) fall back on the
        harm lists, computed with the same rule for the primary metric.
        """
        found = self.changes.get((group, metric))
        if found is not None:
            return str(found.get("verdict", ""))
        if d is None or "changes" in self.r or metric != self.pm["name"]:
            return ""
        harm = self.chosen["harm"]
        if group in harm["worse_than_pooled"]:
            return "worse"
        return "better" if group in harm.get("better_than_pooled", ()) else ""
