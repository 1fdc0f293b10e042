"""The per-group bar chart: one row per group, a bar per model with its interval whisker.

Nothing here writes markup: the layout is plain numbers and path data for the templates.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from fairmtl.report._axes import axis, scale

__all__ = ["group_bars"]

# Per-group bar chart.
BAR_LABEL_WIDTH = 210.0
BAR_PLOT_WIDTH = 460.0
BAR_ROW = 30.0
BAR_HEIGHT = 11.0


def group_bars(
    rows: Sequence[Mapping[str, Any]], *, percent: bool, series: Sequence[str]
) -> dict[str, Any]:
    """Lay out a horizontal bar chart with interval whiskers, one row per group.

    Parameters
    ----------
    rows : sequence of dict
        Each with ``name`` and, for each key of `series`, a dict ``{"value", "lo",
        "hi"}`` or None.
    percent : bool
        Label ticks as percentages.
    series : sequence of str
        The bars of each row, top to bottom (e.g. ``("chosen", "pooled")``).

    Returns
    -------
    chart : dict
        ``width``, ``height``, ``x0``, ``ticks`` (``[position, label]``), and ``rows``
        with ``y`` (row top) and ``bars`` (``key``, ``x``, ``y``, ``w``, ``h`` and
        ``whisker``: path data or None).
    """
    values: list[float | None] = [0.0]
    for row in rows:
        for key in series:
            cell = row.get(key)
            if cell:
                values += [cell.get("value"), cell.get("lo"), cell.get("hi")]
    finite = [v for v in values if v is not None and math.isfinite(v)]
    lo, hi = min(finite), max(finite)
    if percent and lo >= 0 and hi <= 1:
        hi = 1.0
    ax = axis([lo, hi], percent=percent)
    ax["domain"] = [min(lo, ax["domain"][0]) if lo < 0 else 0.0, ax["domain"][1]]
    x0 = BAR_LABEL_WIDTH

    def sx(v: float) -> float:
        return round(scale(v, ax["domain"], x0, BAR_PLOT_WIDTH), 1)

    base = sx(min(max(0.0, ax["domain"][0]), ax["domain"][1]))
    out_rows = []
    top = 8.0
    for r, row in enumerate(rows):
        y = top + r * BAR_ROW
        bars = []
        for k, key in enumerate(series):
            cell = row.get(key)
            v = cell.get("value") if cell else None
            if v is None or not math.isfinite(v):
                continue
            by = y + 3 + k * (BAR_HEIGHT + 2)
            xv = sx(v)
            whisker = None
            lo_v, hi_v = cell.get("lo"), cell.get("hi")
            if (
                lo_v is not None
                and hi_v is not None
                and math.isfinite(lo_v)
                and math.isfinite(hi_v)
            ):
                cy = by + BAR_HEIGHT / 2
                a, b = sx(lo_v), sx(hi_v)
                whisker = (
                    f"M{a:g},{cy - 3:g}V{cy + 3:g}M{a:g},{cy:g}H{b:g}M{b:g},{cy - 3:g}V{cy + 3:g}"
                )
            bars.append(
                {
                    "key": key,
                    "x": min(base, xv),
                    "y": by,
                    "w": abs(xv - base),
                    "h": BAR_HEIGHT,
                    "whisker": whisker,
                }
            )
        out_rows.append({"y": y, "label_y": y + 3 + BAR_HEIGHT + 1, "bars": bars})
    height = top + len(rows) * BAR_ROW + 34
    ticks = [[sx(v), label] for v, label in ax["ticks"] if ax["domain"][0] <= v <= ax["domain"][1]]
    return {
        "width": x0 + BAR_PLOT_WIDTH + 30,
        "height": height,
        "x0": x0,
        "plot_width": BAR_PLOT_WIDTH,
        "axis_y": top + len(rows) * BAR_ROW,
        "ticks": ticks,
        "rows": out_rows,
    }
