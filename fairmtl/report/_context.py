"""Turn a results dict into the plain data that the report's templates show.

Every number is formatted here (percentages and percentage points for rates), so the
templates only lay text out. Strings from the user's data (group names, column and file
names) stay plain strings: the templates escape them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fairmtl.report import _transfer
from fairmtl.report._bars import group_bars
from fairmtl.report._format import (
    TOO_FEW,
    VERDICT_CLASS,
    VERDICT_TEXT,
    _fmt_param,
    _num,
    _shorten,
    fmt_delta,
    fmt_interval,
    fmt_value,
)
from fairmtl.report._frontier_plot import frontier_figure
from fairmtl.report._metric_infos import criterion_infos, metric_infos

__all__ = ["build_context", "fmt_value", "fmt_delta", "fmt_interval", "transfer_context"]

MAX_TABLE_ROWS = 40  # beyond this many groups, tables show the worst ones, the rest folded
TOP_GROUPS = 30  # rows shown unfolded, and bars in the per-group chart
HOVER_GROUPS = 8  # worst groups listed in the plot's hover card
ROBUST_FREQUENCY = 0.5

_BAD_STATUS_WORDS = ("inaccurate", "infeasible", "unbounded", "error", "fail", "max_iter", "limit")


def _fmt_params(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={_fmt_param(v)}" for k, v in params.items())


def _index(results: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, Mapping[str, Any]]]:
    """(model, metric) -> group -> per-group row."""
    index: dict[tuple[str, str], dict[str, Mapping[str, Any]]] = {}
    for row in results["per_group"]:
        index.setdefault((row["model"], row["metric"]), {})[row["group"]] = row
    return index


def _worst(
    rows: Mapping[str, Mapping[str, Any]], maximize: bool | None
) -> tuple[str, float] | None:
    values = [(g, _num(r["value"])) for g, r in rows.items()]
    values = [(g, v) for g, v in values if v is not None]
    if not values:
        return None
    key = (lambda gv: gv[1]) if maximize is not False else (lambda gv: -gv[1])
    return min(values, key=key)


def _status_warning(info: Mapping[str, Any] | None) -> str | None:
    if not info:
        return None
    status = str(info.get("status", "")).lower()
    return info["status"] if any(w in status for w in _BAD_STATUS_WORDS) else None


class _Builder:
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
        return _worst({g: r for g, r in rows.items() if g in self.eligible()}, self.pm["maximize"])

    def overall(self, model: Mapping[str, Any]) -> float | None:
        name = self.pm["name"]
        overall = _num(model["scores"].get("overall_" + name))
        if overall is None:
            pairs = [(_num(r["value"]), r["n"]) for r in self.rows(model["id"], name).values()]
            pairs = [(v, n) for v, n in pairs if v is not None and n > 0]
            total = sum(n for _, n in pairs)
            overall = sum(v * n for v, n in pairs) / total if total else None
        return overall

    def lower_small_groups(self, worst: tuple[str, float] | None) -> list[dict[str, Any]]:
        """Small groups that score worse than the headlined worst group, worst first."""
        if worst is None or self.eligible() == set(self.groups):
            return []
        pc, mx = self.pm["percent"], self.pm["maximize"]
        rows = self.rows(self.chosen["id"], self.pm["name"])
        sign = -1 if mx is False else 1
        out = []
        for g, r in rows.items():
            v = _num(r["value"])
            if g in self.eligible() or v is None or sign * v >= sign * worst[1]:
                continue
            c = self.cell(self.chosen["id"], self.pm["name"], g)
            out.append(
                {"name": g, "value": fmt_value(v, pc), "v": v, "n_test": r["n"], "ci": c["ci"]}
            )
        return sorted(out, key=lambda d: sign * d["v"])

    def headline(self) -> dict[str, Any]:
        pc = self.pm["percent"]
        comp = self.r.get("comparison") or {}
        ref_id = comp.get("reference") or (self.pooled or {}).get("id") or self.r["most_accurate"]
        ref = self.models[ref_id]
        worst, ref_worst = self.worst_of(self.chosen), self.worst_of(ref)
        mine_all, ref_all = self.overall(self.chosen), self.overall(ref)
        d_all = mine_all - ref_all if mine_all is not None and ref_all is not None else None
        d_worst = worst[1] - ref_worst[1] if worst and ref_worst else None
        v_all = (comp.get("overall") or {}).get("verdict", "")
        v_worst = (comp.get("worst_group") or {}).get("verdict", "")
        few = len(self.eligible()) < len(self.groups)
        return {
            "label": self.chosen["label"],
            "method": self.chosen["method"],
            "params": _fmt_params(self.chosen["params"]),
            "metric": _lower_first(self.pm["label"]),
            "overall": fmt_value(mine_all, pc),
            "worst": fmt_value(worst[1] if worst else None, pc),
            "worst_ci": self.cell(self.chosen["id"], self.pm["name"], worst[0])["ci"]
            if worst
            else "",
            "worst_group": worst[0] if worst else None,
            "worst_small": bool(worst and self.groups[worst[0]]["small"]),
            "eligible_only": few,
            "lower_small": self.lower_small_groups(worst),
            "same": self.chosen["id"] == ref["id"],
            "most_accurate": self.chosen["id"] == self.r["most_accurate"],
            "ref_label": ref["label"],
            "ref_is_pooled": self.pooled is not None and ref["id"] == self.pooled["id"],
            "ref_worst_group": ref_worst[0] if ref_worst else None,
            "delta_overall": fmt_delta(d_all, pc),
            "delta_overall_verdict": v_all,
            "delta_overall_cls": VERDICT_CLASS.get(v_all, ""),
            "delta_worst": fmt_delta(d_worst, pc),
            "delta_worst_verdict": v_worst,
            "delta_worst_cls": VERDICT_CLASS.get(v_worst, ""),
            "harm_pooled": list(self.chosen["harm"]["worse_than_pooled"]),
            "harm_own": list(self.chosen["harm"]["worse_than_own"]),
            "status_warning": _status_warning(self.chosen["solver_info"]),
        }

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

    def group_rows(self) -> list[dict[str, Any]]:
        pooled_id = self.pooled["id"] if self.pooled else None
        out = []
        for name, g in self.groups.items():
            cells = []
            for metric, info in self.metrics.items():
                mine, base = (
                    self.cell(self.chosen["id"], metric, name),
                    self.cell(pooled_id, metric, name),
                )
                d = (
                    mine["v"] - base["v"]
                    if mine["v"] is not None and base["v"] is not None
                    else None
                )
                verdict = self.verdict(name, metric, d) if base["v"] is not None else ""
                cells.append(
                    {
                        "chosen": mine,
                        "pooled": base,
                        "delta": fmt_delta(d, info["percent"]),
                        "delta_v": d,
                        "verdict": verdict,
                        "verdict_text": VERDICT_TEXT.get(verdict, ""),
                        "cls": VERDICT_CLASS.get(verdict, ""),
                    }
                )
            out.append(
                {
                    "name": name,
                    "small": g["small"],
                    "n_train": g["n_train"],
                    "n_test": g["n_test"],
                    "base_rate": fmt_value(g["base_rate"], self.r["task"] == "classification"),
                    "base_rate_v": _num(g["base_rate"]),
                    "cells": cells,
                }
            )
        first = list(self.metrics).index(self.pm["name"])
        sign = -1 if self.pm["maximize"] is False else 1

        def worst_first(row: dict[str, Any]) -> tuple[bool, float]:
            v = row["cells"][first]["chosen"]["v"]
            return (v is None, sign * v if v is not None else 0.0)

        return sorted(out, key=worst_first)

    def bars(self, group_rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
        first = list(self.metrics).index(self.pm["name"])
        series = ("chosen", "pooled") if self.pooled else ("chosen",)
        picked = [r for r in group_rows if r["cells"][first]["chosen"]["v"] is not None][
            :TOP_GROUPS
        ]
        rows = [{key: r["cells"][first][key]["row"] for key in series} for r in picked]
        chart = group_bars(rows, percent=self.pm["percent"], series=series)
        for row, src in zip(chart["rows"], picked, strict=True):
            row.update(name=src["name"], short=_shorten(src["name"]), small=src["small"])
            for bar in row["bars"]:
                c = src["cells"][first][bar["key"]]
                bar["title"] = f"{src['name']}: {bar['key']} {c['text']}" + (
                    f" ({c['ci']})" if c["ci"] else ""
                )
        chart.update(shown=len(picked), total=len(self.groups), series=series)
        return chart

    def harm(self, group_rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
        first = list(self.metrics).index(self.pm["name"])
        gains = [
            (r["name"], r["cells"][first]["delta"], r["cells"][first]["delta_v"])
            for r in group_rows
            if r["cells"][first]["verdict"] == "better"
        ]
        gains.sort(key=lambda t: -abs(t[2]))
        deltas = {r["name"]: r["cells"][first]["delta"] for r in group_rows}
        pays = [(g, deltas.get(g, "—")) for g in self.chosen["harm"]["worse_than_pooled"]]
        own = list(self.chosen["harm"]["worse_than_own"])
        verdicts = [r["cells"][first]["verdict"] for r in group_rows]
        x, y = self.r["x_criterion"], self.r["y_criterion"]
        info = {c["name"]: c for c in self.criteria}
        sign = 1 if info[x]["maximize"] else -1
        along = [m for m in self.r["models"] if m["pareto"] or m["chosen"]]
        along.sort(
            key=lambda m: (
                _num(m["scores"].get(x)) is None,
                -sign * (_num(m["scores"].get(x)) or 0),
            )
        )
        frontier = [
            {
                "label": m["label"],
                "chosen": m["chosen"],
                "source": m["source"],
                "x": fmt_value(m["scores"].get(x), info[x]["percent"]),
                "x_v": _num(m["scores"].get(x)),
                "y": fmt_value(m["scores"].get(y), info[y]["percent"]),
                "y_v": _num(m["scores"].get(y)),
                "pooled": list(m["harm"]["worse_than_pooled"]),
                "own": list(m["harm"]["worse_than_own"]),
            }
            for m in along
        ]
        return {
            "gains_text": [f"{g}: {d}" for g, d, _ in gains],
            "pays_text": [f"{g}: {d}" for g, d in pays],
            "gains": gains,
            "pays": pays,
            "n_noise": verdicts.count("within noise"),
            "n_few": verdicts.count("too few rows"),
            "own": own,
            "frontier": frontier,
            "x_label": info[x]["label"],
            "y_label": info[y]["label"],
            "has_pooled": self.pooled is not None,
        }

    def models_table(self) -> list[dict[str, Any]]:
        out = []
        for m in self.r["models"]:
            info = m["solver_info"] or {}
            freq = _num(m["pareto_frequency"])
            out.append(
                {
                    "id": m["id"],
                    "label": m["label"],
                    "source": m["source"],
                    "method": m["method"],
                    "params": _fmt_params(m["params"]),
                    "solver": info.get("solver", "—"),
                    "status": info.get("status", "—"),
                    "status_warn": _status_warning(info) is not None,
                    "time": f"{info['time']:.2f} s" if _num(info.get("time")) is not None else "—",
                    "time_v": _num(info.get("time")),
                    "gap": f"{info['gap']:.1e}" if _num(info.get("gap")) is not None else "—",
                    "gap_v": _num(info.get("gap")),
                    "pareto": m["pareto"],
                    "freq": f"{freq:.0%}" if freq is not None else "—",
                    "freq_v": freq,
                    "chosen": m["chosen"],
                }
            )
        return out

    def hover(self, m: Mapping[str, Any]) -> dict[str, Any]:
        """What the plot's hover card shows for one model (all strings formatted)."""
        rows = self.rows(m["id"], self.pm["name"])
        pc, mx = self.pm["percent"], self.pm["maximize"]
        ranked = sorted(
            ((g, _num(r["value"])) for g, r in rows.items() if _num(r["value"]) is not None),
            key=lambda gv: gv[1] if mx is not False else -gv[1],  # type: ignore[operator]
        )
        worst = [
            [
                g,
                fmt_value(v, pc),
                fmt_interval(rows[g]["lo"], rows[g]["hi"], pc),
                bool(self.groups[g]["small"]),
            ]
            for g, v in ranked[:HOVER_GROUPS]
        ]
        freq = _num(m["pareto_frequency"])
        info = m["solver_info"] or {}
        return {
            "id": m["id"],
            "label": m["label"],
            "method": m["method"],
            "source": m["source"],
            "params": [[k, _fmt_param(v)] for k, v in m["params"].items()],
            "scores": [
                {
                    "name": c["name"],
                    "label": c["label"],
                    "test": fmt_value(m["scores"].get(c["name"]), c["percent"]),
                    "val": fmt_value(m["val_scores"].get(c["name"]), c["percent"]),
                }
                for c in self.criteria
            ],
            "values": {c["name"]: _num(m["scores"].get(c["name"])) for c in self.criteria},
            "pareto": m["pareto"],
            "chosen": m["chosen"],
            "robust": freq is not None and freq >= ROBUST_FREQUENCY,
            "freq": f"{freq:.0%}" if freq is not None else None,
            "status": info.get("status"),
            "worst": worst,
            "n_groups": len(rows),
            "metric": self.pm["label"],
            "harm": [len(m["harm"]["worse_than_pooled"]), len(m["harm"]["worse_than_own"])],
        }

    def plot(self) -> dict[str, Any]:
        hovers = [self.hover(m) for m in self.r["models"]]
        return frontier_figure(
            self.criteria,
            hovers,
            self.r["x_criterion"],
            self.r["y_criterion"],
            most_accurate=self.r["most_accurate"],
        )


def _lower_first(label: str) -> str:
    """'Accuracy' -> 'accuracy' for use mid-sentence; 'ROC AUC' and 'R²' stay."""
    return label[:1].lower() + label[1:] if label[1:2].islower() else label


def knob_range(results: Mapping[str, Any]) -> str:
    """The swept knobs' range over the fairmtl models, and the chosen model's values."""
    ours = [m for m in results["models"] if m["source"] == "fairmtl"]
    chosen = next((m for m in results["models"] if m["chosen"]), None)
    parts, picked = [], []
    for knob in results["method"]["sweep"]:
        values = sorted(
            {
                float(v)
                for m in ours
                if isinstance(v := m["params"].get(knob), int | float) and not isinstance(v, bool)
            }
        )
        if not values:
            continue
        if len(values) == 1:
            parts.append(f"{knob} = {_fmt_param(values[0])}")
        else:
            parts.append(
                f"{knob} from {_fmt_param(values[0])} to {_fmt_param(values[-1])} "
                f"({len(values)} values)"
            )
        if chosen is not None and chosen["source"] == "fairmtl" and knob in chosen["params"]:
            picked.append(f"{knob} = {_fmt_param(chosen['params'][knob])}")
    if not parts:
        return ""
    text = "The fairmtl models sweep " + "; ".join(parts)
    return text + (f"; the chosen one has {', '.join(picked)}." if picked else ".")


def rule_text(results: Mapping[str, Any]) -> str:
    """The one rule for "better", "worse" and "within noise", as the report states it."""
    level = f"{float(results.get('confidence', 0.95)):.0%}"
    return (
        f"A change is called better or worse only when its paired bootstrap {level} "
        "interval excludes 0, and within noise otherwise; groups with fewer than "
        f"{results['small_group_threshold']} test rows are not judged."
    )


def build_context(results: Mapping[str, Any]) -> dict[str, Any]:
    """Build everything the templates show from a validated results dict.

    Parameters
    ----------
    results : dict
        Results that passed :func:`~fairmtl.report.validate_results`.

    Returns
    -------
    context : dict
        Plain data: strings, numbers, lists and dicts.
    """
    b = _Builder(results)
    group_rows = b.group_rows()
    collapse = len(group_rows) > MAX_TABLE_ROWS
    return {
        "r": results,
        "headline": b.headline(),
        "plot": b.plot(),
        "metrics": list(b.metrics.values()),
        "pm_index": list(b.metrics).index(b.pm["name"]),
        "group_rows": group_rows,
        "top_rows": group_rows[:TOP_GROUPS] if collapse else group_rows,
        "collapse": collapse,
        "has_pooled": b.pooled is not None,
        "pooled_label": b.pooled["label"] if b.pooled else None,
        "bars": b.bars(group_rows),
        "harm": b.harm(group_rows),
        "models_table": b.models_table(),
        "missing": {k: v for k, v in results["data"]["missing"].items() if v},
        "versions": sorted(results["reproducibility"]["versions"].items()),
        "sweep": [
            (k, _fmt_param(v) if not isinstance(v, list | dict) else str(v))
            for k, v in results["method"]["sweep"].items()
        ],
        "n_groups": len(results["groups"]),
        "base_rate_label": "Base rate" if results["task"] == "classification" else "Mean target",
        "group_base_rates": [
            fmt_value(g["base_rate"], results["task"] == "classification")
            for g in results["groups"]
        ],
        "n_small": sum(1 for g in results["groups"] if g["small"]),
        "confidence_pct": f"{float(results.get('confidence', 0.95)):.0%}",
        "rule_text": rule_text(results),
        "knob_range": knob_range(results),
        "robust_frequency": ROBUST_FREQUENCY,
        "transfer": (
            _transfer.transfer_context(results["transfer"])
            if results.get("transfer") is not None
            else None
        ),
    }


transfer_context = _transfer.transfer_context
MAX_TRANSFER_GROUPS = _transfer.MAX_TRANSFER_GROUPS
