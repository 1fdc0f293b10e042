"""The report's headline: the chosen model against the reference, overall and worst group."""

from __future__ import annotations

from typing import Any

from fairmtl.report._format import VERDICT_CLASS, _num, fmt_delta, fmt_value
from fairmtl.report._results_index import ResultsIndex, fmt_params, status_warning

__all__ = ["headline"]


def headline(b: ResultsIndex) -> dict[str, Any]:
    """The chosen model against the reference (the pooled model when there is one), with
    the verdicts of the results' comparison."""
    pc = b.pm["percent"]
    comp = b.r.get("comparison") or {}
    ref_id = comp.get("reference") or (b.pooled or {}).get("id") or b.r["most_accurate"]
    ref = b.models[ref_id]
    worst, ref_worst = b.worst_of(b.chosen), b.worst_of(ref)
    mine_all, ref_all = b.overall(b.chosen), b.overall(ref)
    d_all = mine_all - ref_all if mine_all is not None and ref_all is not None else None
    d_worst = worst[1] - ref_worst[1] if worst and ref_worst else None
    v_all = (comp.get("overall") or {}).get("verdict", "")
    v_worst = (comp.get("worst_group") or {}).get("verdict", "")
    few = len(b.eligible()) < len(b.groups)
    return {
        "label": b.chosen["label"],
        "method": b.chosen["method"],
        "params": fmt_params(b.chosen["params"]),
        "metric": _lower_first(b.pm["label"]),
        "overall": fmt_value(mine_all, pc),
        "worst": fmt_value(worst[1] if worst else None, pc),
        "worst_ci": b.cell(b.chosen["id"], b.pm["name"], worst[0])["ci"] if worst else "",
        "worst_group": worst[0] if worst else None,
        "worst_small": bool(worst and b.groups[worst[0]]["small"]),
        "eligible_only": few,
        "lower_small": _lower_small_groups(b, worst),
        "same": b.chosen["id"] == ref["id"],
        "most_accurate": b.chosen["id"] == b.r["most_accurate"],
        "ref_label": ref["label"],
        "ref_is_pooled": b.pooled is not None and ref["id"] == b.pooled["id"],
        "ref_worst_group": ref_worst[0] if ref_worst else None,
        "delta_overall": fmt_delta(d_all, pc),
        "delta_overall_verdict": v_all,
        "delta_overall_cls": VERDICT_CLASS.get(v_all, ""),
        "delta_worst": fmt_delta(d_worst, pc),
        "delta_worst_verdict": v_worst,
        "delta_worst_cls": VERDICT_CLASS.get(v_worst, ""),
        "harm_pooled": list(b.chosen["harm"]["worse_than_pooled"]),
        "harm_own": list(b.chosen["harm"]["worse_than_own"]),
        "status_warning": status_warning(b.chosen["solver_info"]),
    }


def _lower_small_groups(b: ResultsIndex, worst: tuple[str, float] | None) -> list[dict[str, Any]]:
    """Small groups that score worse than the headlined worst group, worst first."""
    if worst is None or b.eligible() == set(b.groups):
        return []
    pc, mx = b.pm["percent"], b.pm["maximize"]
    rows = b.rows(b.chosen["id"], b.pm["name"])
    sign = -1 if mx is False else 1
    out = []
    for g, r in rows.items():
        v = _num(r["value"])
        if g in b.eligible() or v is None or sign * v >= sign * worst[1]:
            continue
        c = b.cell(b.chosen["id"], b.pm["name"], g)
        out.append({"name": g, "value": fmt_value(v, pc), "v": v, "n_test": r["n"], "ci": c["ci"]})
    return sorted(out, key=lambda d: sign * d["v"])


def _lower_first(label: str) -> str:
    """'Accuracy' -> 'accuracy' for use mid-sentence; 'ROC AUC' and 'R²' stay."""
    return label[:1].lower() + label[1:] if label[1:2].islower() else label
