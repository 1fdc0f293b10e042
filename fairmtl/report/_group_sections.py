"""The per-group sections: the table of every group, its bar chart, and who gains or pays.

Each group's cells compare the chosen model with the pooled one, metric by metric; the
rows are sorted worst group first by the primary metric.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fairmtl.report._bars import group_bars
from fairmtl.report._format import VERDICT_CLASS, VERDICT_TEXT, _num, _shorten, fmt_delta, fmt_value
from fairmtl.report._results_index import ResultsIndex

__all__ = ["TOP_GROUPS", "bars", "group_rows", "harm"]

TOP_GROUPS = 30  # rows shown unfolded, and bars in the per-group chart


def group_rows(b: ResultsIndex) -> list[dict[str, Any]]:
    """One row per group: each metric of the chosen and the pooled model, worst first."""
    pooled_id = b.pooled["id"] if b.pooled else None
    out = []
    for name, g in b.groups.items():
        cells = []
        for metric, info in b.metrics.items():
            mine, base = (
                b.cell(b.chosen["id"], metric, name),
                b.cell(pooled_id, metric, name),
            )
            d = mine["v"] - base["v"] if mine["v"] is not None and base["v"] is not None else None
            verdict = b.verdict(name, metric, d) if base["v"] is not None else ""
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
                "base_rate": fmt_value(g["base_rate"], b.r["task"] == "classification"),
                "base_rate_v": _num(g["base_rate"]),
                "cells": cells,
            }
        )
    first = list(b.metrics).index(b.pm["name"])
    sign = -1 if b.pm["maximize"] is False else 1

    def worst_first(row: dict[str, Any]) -> tuple[bool, float]:
        v = row["cells"][first]["chosen"]["v"]
        return (v is None, sign * v if v is not None else 0.0)

    return sorted(out, key=worst_first)


def bars(b: ResultsIndex, table: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The bar chart of the primary metric for the first :data:`TOP_GROUPS` rows."""
    first = list(b.metrics).index(b.pm["name"])
    series = ("chosen", "pooled") if b.pooled else ("chosen",)
    picked = [r for r in table if r["cells"][first]["chosen"]["v"] is not None][:TOP_GROUPS]
    rows = [{key: r["cells"][first][key]["row"] for key in series} for r in picked]
    chart = group_bars(rows, percent=b.pm["percent"], series=series)
    for row, src in zip(chart["rows"], picked, strict=True):
        row.update(name=src["name"], short=_shorten(src["name"]), small=src["small"])
        for bar in row["bars"]:
            c = src["cells"][first][bar["key"]]
            bar["title"] = f"{src['name']}: {bar['key']} {c['text']}" + (
                f" ({c['ci']})" if c["ci"] else ""
            )
    chart.update(shown=len(picked), total=len(b.groups), series=series)
    return chart


def harm(b: ResultsIndex, table: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Who gains and who pays with the chosen model, and the harm along the frontier."""
    first = list(b.metrics).index(b.pm["name"])
    gains = [
        (r["name"], r["cells"][first]["delta"], r["cells"][first]["delta_v"])
        for r in table
        if r["cells"][first]["verdict"] == "better"
    ]
    gains.sort(key=lambda t: -abs(t[2]))
    deltas = {r["name"]: r["cells"][first]["delta"] for r in table}
    pays = [(g, deltas.get(g, "—")) for g in b.chosen["harm"]["worse_than_pooled"]]
    own = list(b.chosen["harm"]["worse_than_own"])
    verdicts = [r["cells"][first]["verdict"] for r in table]
    x, y = b.r["x_criterion"], b.r["y_criterion"]
    info = {c["name"]: c for c in b.criteria}
    sign = 1 if info[x]["maximize"] else -1
    along = [m for m in b.r["models"] if m["pareto"] or m["chosen"]]
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
        "has_pooled": b.pooled is not None,
    }
