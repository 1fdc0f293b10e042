"""The "Which groups help each other" section: a transfer summary as plain data.

Groups with fewer held-out rows than the summary's ``min_test_rows`` (30) are shown
but never judged: no interval, no "hurt" or "gains" verdict, the same rule as the
frontier report's small groups.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fairmtl.report._bars import group_bars
from fairmtl.report._format import (
    TOO_FEW,
    VERDICT_TEXT,
    _num,
    _shorten,
    fmt_delta,
    fmt_interval,
    fmt_value,
)
from fairmtl.report._heatmap import heatmap

__all__ = ["MAX_TRANSFER_GROUPS", "transfer_context"]

MAX_TABLE_ROWS = 40  # beyond this many groups, the table is folded
MAX_TRANSFER_GROUPS = 60  # groups drawn in the gain chart and the affinity heatmap
TRANSFER_MIN_TEST_ROWS = 30  # fairmtl.transfer's default, for summaries that lack it
_LOSS_LABELS = {
    "log_loss": "log loss",
    "squared_error": "squared error",
    "error_rate": "error rate",
}


def _small_transfer_groups(summary: Mapping[str, Any]) -> set[str]:
    """Groups with too few test rows to judge (the summary's list, or the same rule)."""
    if "small_groups" in summary:
        return set(summary["small_groups"])
    least = int(summary.get("min_test_rows", TRANSFER_MIN_TEST_ROWS))
    return {g["group"] for g in summary["groups"] if g["n_test"] < least}


def _gain_cell(g: Mapping[str, Any], scheme: str, small: set[str]) -> dict[str, Any]:
    """A group's gain under ``scheme``; a small group gets no interval and no verdict."""
    cell = dict(g["gain"].get(scheme) or {})
    if g["group"] in small:
        cell.update(lo=None, hi=None, verdict=TOO_FEW)
    return cell


def _transfer_bars(summary: Mapping[str, Any], picked: Sequence[Mapping[str, Any]]) -> dict:
    """The gain-from-sharing chart of the reference scheme, one bar per picked group."""
    scheme = summary["reference"]
    small = _small_transfer_groups(summary)
    rows = []
    for g in picked:
        cell = _gain_cell(g, scheme, small)
        rows.append(
            {
                "gain": {
                    "value": _num(cell.get("gain")),
                    "lo": _num(cell.get("lo")),
                    "hi": _num(cell.get("hi")),
                }
            }
        )
    chart = group_bars(rows, percent=False, series=("gain",))
    for row, g in zip(chart["rows"], picked, strict=True):
        cell = _gain_cell(g, scheme, small)
        verdict = str(cell.get("verdict", "unclear"))
        ci = fmt_interval(cell.get("lo"), cell.get("hi"), False)
        row.update(
            name=g["group"],
            short=_shorten(g["group"]),
            verdict=verdict,
            hurt=verdict == "hurt",
            small=g["group"] in small,
            misaligned=bool(g["misaligned"]),
        )
        for bar in row["bars"]:
            bar["key"] = verdict if verdict in ("gains", "hurt") else "unclear"
            bar["title"] = (
                f"{g['group']}: gain {fmt_delta(cell.get('gain'), False)}"
                + (f" ({ci})" if ci else "")
                + f", {verdict}"
                + (f" ({g['n_test']} test rows)" if g["group"] in small else "")
                + ("; misaligned" if g["misaligned"] else "")
            )
    return chart


def _pick_groups(summary: Mapping[str, Any], limit: int) -> list[str]:
    """At most `limit` group names, hurt and misaligned ones first, in affinity order."""
    order = list(summary["affinity"]["labels"])
    if len(order) <= limit:
        return order
    scheme = summary["reference"]
    first = set(summary["misaligned"]) | set(summary["hurt"].get(scheme, []))
    keep = [g for g in order if g in first][:limit]
    rest = [g for g in order if g not in first][: limit - len(keep)]
    chosen = set(keep) | set(rest)
    return [g for g in order if g in chosen]


def transfer_context(summary: Mapping[str, Any]) -> dict[str, Any]:
    """What the "Which groups help each other" section shows, from a transfer summary.

    Parameters
    ----------
    summary : dict
        A validated :class:`~fairmtl.report.TransferSummary`.

    Returns
    -------
    context : dict
        ``reading``, ``bars`` (the gain chart of the reference scheme, most hurt
        first), ``heat`` (the affinity heatmap, see
        :func:`~fairmtl.report._heatmap.heatmap`), ``table`` (one row per group), and
        counts and labels for the notes.
    """
    scheme = summary["reference"]
    by_name = {g["group"]: g for g in summary["groups"]}
    affinity = summary["affinity"]
    labels = list(affinity["labels"])
    index = {g: i for i, g in enumerate(labels)}

    def gain_key(g: Mapping[str, Any]) -> tuple[bool, float]:
        v = _num((g["gain"].get(scheme) or {}).get("gain"))
        return (v is None, v if v is not None else 0.0)

    ordered = sorted(summary["groups"], key=gain_key)
    with_gain = [g for g in ordered if not gain_key(g)[0]]
    picked_bars = with_gain[:MAX_TRANSFER_GROUPS]
    drawn = _pick_groups(summary, MAX_TRANSFER_GROUPS)
    rows_idx = [index[g] for g in drawn]
    matrix = [[affinity["matrix"][i][j] for j in rows_idx] for i in rows_idx]
    rng = [_num(v) for v in affinity["range"]]
    domain = rng if len(rng) == 2 and None not in rng and rng[0] < rng[1] else [-1.0, 1.0]
    heat = heatmap(drawn, matrix, domain)
    small = _small_transfer_groups(summary)
    hurt = [g for g in summary["hurt"].get(scheme, []) if g not in small]
    hurt_or_misaligned = set(summary["misaligned"]) | set(hurt)
    for row in heat["rows"] + heat["columns"]:
        row["short"] = _shorten(row["label"], 22)
        row["flag"] = row["label"] in hurt_or_misaligned
    for c in heat["cells"]:
        a, b = drawn[c["row"]], drawn[c["column"]]
        value = "no value" if c["value"] is None else f"{c['value']:.2f}"
        c["title"] = f"{a} × {b}: {value}"
    table = []
    for g in summary["groups"]:
        cells = []
        for s in summary["schemes"]:
            cell = _gain_cell(g, s, small)
            verdict = str(cell.get("verdict", ""))
            cells.append(
                {
                    "text": fmt_delta(cell.get("gain"), False),
                    "v": _num(cell.get("gain")),
                    "ci": fmt_interval(cell.get("lo"), cell.get("hi"), False)
                    or ("interval: too few rows" if verdict == TOO_FEW else ""),
                    "verdict": verdict,
                    "verdict_text": VERDICT_TEXT.get(verdict, verdict)
                    if verdict in ("hurt", "gains", TOO_FEW)
                    else "",
                }
            )
        table.append(
            {
                "name": g["group"],
                "n_train": g["n_train"],
                "n_test": g["n_test"],
                "cluster": g["cluster"],
                "alignment": fmt_value(g["alignment"], False),
                "alignment_v": _num(g["alignment"]),
                "misaligned": bool(g["misaligned"]),
                "small": g["group"] in small,
                "cells": cells,
            }
        )
    table.sort(key=lambda r: gain_key(by_name[r["name"]]))
    loss = str(summary["loss"])
    return {
        "reading": summary["reading"],
        "scheme": scheme,
        "schemes": list(summary["schemes"]),
        "loss": _LOSS_LABELS.get(loss, loss.replace("_", " ")),
        "confidence": f"{float(summary['confidence']):.0%}",
        "n_boot": summary["n_boot"],
        "measure": str(affinity["measure"]),
        "n_clusters": affinity["n_clusters"],
        "n_groups": len(summary["groups"]),
        "hurt": hurt,
        "gains": [g for g in summary["gains"].get(scheme, []) if g not in small],
        "misaligned": list(summary["misaligned"]),
        "bars": _transfer_bars(summary, picked_bars),
        "bars_shown": len(picked_bars),
        "bars_missing": len(ordered) - len(with_gain),
        "heat": heat,
        "heat_shown": len(drawn),
        "heat_total": len(labels),
        "domain": [fmt_value(domain[0], False), fmt_value(domain[1], False)],
        "table": table,
        "collapse": len(table) > MAX_TABLE_ROWS,
        "n_small": len(small),
        "min_test_rows": int(summary.get("min_test_rows", TRANSFER_MIN_TEST_ROWS)),
    }
