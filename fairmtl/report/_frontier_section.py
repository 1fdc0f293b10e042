"""The frontier section: each model's hover card, the plot, and the table of models."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fairmtl.report._format import _fmt_param, _num, fmt_interval, fmt_value
from fairmtl.report._frontier_plot import frontier_figure
from fairmtl.report._results_index import ResultsIndex, fmt_params, status_warning

__all__ = ["HOVER_GROUPS", "ROBUST_FREQUENCY", "hover", "models_table", "plot"]

HOVER_GROUPS = 8  # worst groups listed in the plot's hover card
ROBUST_FREQUENCY = 0.5


def models_table(b: ResultsIndex) -> list[dict[str, Any]]:
    """One row per model: its knobs, solver record and Pareto frequency."""
    out = []
    for m in b.r["models"]:
        info = m["solver_info"] or {}
        freq = _num(m["pareto_frequency"])
        out.append(
            {
                "id": m["id"],
                "label": m["label"],
                "source": m["source"],
                "method": m["method"],
                "params": fmt_params(m["params"]),
                "solver": info.get("solver", "—"),
                "status": info.get("status", "—"),
                "status_warn": status_warning(info) is not None,
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


def hover(b: ResultsIndex, m: Mapping[str, Any]) -> dict[str, Any]:
    """What the plot's hover card shows for one model (all strings formatted)."""
    rows = b.rows(m["id"], b.pm["name"])
    pc, mx = b.pm["percent"], b.pm["maximize"]
    ranked = sorted(
        ((g, _num(r["value"])) for g, r in rows.items() if _num(r["value"]) is not None),
        key=lambda gv: gv[1] if mx is not False else -gv[1],  # type: ignore[operator]
    )
    worst = [
        [
            g,
            fmt_value(v, pc),
            fmt_interval(rows[g]["lo"], rows[g]["hi"], pc),
            bool(b.groups[g]["small"]),
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
            for c in b.criteria
        ],
        "values": {c["name"]: _num(m["scores"].get(c["name"])) for c in b.criteria},
        "pareto": m["pareto"],
        "chosen": m["chosen"],
        "robust": freq is not None and freq >= ROBUST_FREQUENCY,
        "freq": f"{freq:.0%}" if freq is not None else None,
        "status": info.get("status"),
        "worst": worst,
        "n_groups": len(rows),
        "metric": b.pm["label"],
        "harm": [len(m["harm"]["worse_than_pooled"]), len(m["harm"]["worse_than_own"])],
    }


def plot(b: ResultsIndex) -> dict[str, Any]:
    """The frontier figure, with each model's hover card."""
    hovers = [hover(b, m) for m in b.r["models"]]
    return frontier_figure(
        b.criteria,
        hovers,
        b.r["x_criterion"],
        b.r["y_criterion"],
        most_accurate=b.r["most_accurate"],
    )
