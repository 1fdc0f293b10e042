"""Turn a results dict into the plain data that the report's templates show.

Every number is formatted in Python (percentages and percentage points for rates), so
the templates only lay text out. Strings from the user's data (group names, column and
file names) stay plain strings: the templates escape them. Each section is built from
one :class:`~fairmtl.report._results_index.ResultsIndex` (the headline, the per-group
sections, the frontier section); this module assembles them with the method's text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fairmtl.report import _transfer
from fairmtl.report._format import _fmt_param, fmt_delta, fmt_interval, fmt_value
from fairmtl.report._frontier_section import ROBUST_FREQUENCY, models_table, plot
from fairmtl.report._group_sections import TOP_GROUPS, bars, group_rows, harm
from fairmtl.report._headline import headline
from fairmtl.report._results_index import ResultsIndex

__all__ = ["build_context", "fmt_value", "fmt_delta", "fmt_interval", "transfer_context"]

MAX_TABLE_ROWS = 40  # beyond this many groups, tables show the worst ones, the rest folded


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
    b = ResultsIndex(results)
    rows = group_rows(b)
    collapse = len(rows) > MAX_TABLE_ROWS
    return {
        "r": results,
        "headline": headline(b),
        "plot": plot(b),
        "metrics": list(b.metrics.values()),
        "pm_index": list(b.metrics).index(b.pm["name"]),
        "group_rows": rows,
        "top_rows": rows[:TOP_GROUPS] if collapse else rows,
        "collapse": collapse,
        "has_pooled": b.pooled is not None,
        "pooled_label": b.pooled["label"] if b.pooled else None,
        "bars": bars(b, rows),
        "harm": harm(b, rows),
        "models_table": models_table(b),
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
