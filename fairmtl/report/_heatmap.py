"""The affinity heatmap: one cell per pair of groups, coloured with viridis.

Nothing here writes markup: the layout is plain numbers and colours for the templates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from fairmtl.report._axes import nice_step, tick_label

__all__ = ["VIRIDIS", "heat_colour", "heatmap"]

# Affinity heatmap: viridis (sequential, colour-blind safe, readable in grey), 9 stops.
VIRIDIS = (
    "#440154",
    "#472d7b",
    "#3b528b",
    "#2c728e",
    "#21918c",
    "#28ae80",
    "#5ec962",
    "#addc30",
    "#fde725",
)
HEAT_MISSING = "#d9d9d9"
HEAT_LABEL_WIDTH = 150.0
HEAT_PLOT = 520.0


def _mix(a: str, b: str, t: float) -> str:
    ra, ga, ba = (int(a[i : i + 2], 16) for i in (1, 3, 5))
    rb, gb, bb = (int(b[i : i + 2], 16) for i in (1, 3, 5))
    r, g, b_ = (round(u + (v - u) * t) for u, v in ((ra, rb), (ga, gb), (ba, bb)))
    return f"#{r:02x}{g:02x}{b_:02x}"


def heat_colour(value: float | None, domain: Sequence[float]) -> str:
    """The viridis colour of `value` on `domain` (clipped); grey for a missing value."""
    if value is None or not math.isfinite(value):
        return HEAT_MISSING
    lo, hi = domain
    t = 0.5 if hi <= lo else min(max((value - lo) / (hi - lo), 0.0), 1.0)
    pos = t * (len(VIRIDIS) - 1)
    i = min(int(pos), len(VIRIDIS) - 2)
    return _mix(VIRIDIS[i], VIRIDIS[i + 1], pos - i)


def heatmap(
    labels: Sequence[str],
    matrix: Sequence[Sequence[float | None]],
    domain: Sequence[float],
) -> dict[str, Any]:
    """Lay out a square heatmap: one cell per pair of labels, labels on two sides.

    Parameters
    ----------
    labels : sequence of str
        Row and column labels, in order (plain strings: the template escapes them).
    matrix : sequence of sequence of float or None
        ``matrix[i][j]`` is the value of the pair (``labels[i]``, ``labels[j]``).
    domain : sequence of float
        ``[lo, hi]``: the values that get the first and last colour of the palette.

    Returns
    -------
    chart : dict
        ``width``, ``height``, ``x0``, ``y0``, ``cell`` (its side), ``font``,
        ``rows`` (``label``, ``y`` of the label), ``columns`` (``label``, ``x``),
        ``cells`` (``x``, ``y``, ``fill``, ``value``, ``row``, ``column``) and
        ``legend`` (``x``, ``w``, ``fill`` swatches, and ``ticks`` ``[x, label]``).
    """
    n = len(labels)
    cell = round(max(6.0, min(28.0, HEAT_PLOT / max(n, 1))), 2)
    font = round(max(6.0, min(11.5, cell * 0.8)), 1)
    x0 = HEAT_LABEL_WIDTH
    y0 = HEAT_LABEL_WIDTH * 0.75
    cells = []
    for i, row in enumerate(matrix):
        for j, v in enumerate(row):
            value = None if v is None or not math.isfinite(v) else float(v)
            cells.append(
                {
                    "x": round(x0 + j * cell, 2),
                    "y": round(y0 + i * cell, 2),
                    "fill": heat_colour(value, domain),
                    "value": value,
                    "row": i,
                    "column": j,
                }
            )
    size = n * cell
    rows = [
        {"label": lab, "y": round(y0 + (i + 0.5) * cell + font * 0.35, 2)}
        for i, lab in enumerate(labels)
    ]
    columns = [
        {"label": lab, "x": round(x0 + (j + 0.5) * cell + font * 0.35, 2)}
        for j, lab in enumerate(labels)
    ]
    lo, hi = float(domain[0]), float(domain[1])
    n_swatch, sw = 20, 12.0
    legend_y = y0 + size + 14
    swatches = [
        {
            "x": round(x0 + k * sw, 2),
            "w": sw,
            "fill": heat_colour(lo + (hi - lo) * (k + 0.5) / n_swatch, (lo, hi)),
        }
        for k in range(n_swatch)
    ]
    ticks = []
    if hi > lo:
        step = nice_step(hi - lo, 4)
        k = math.ceil(lo / step - 1e-9)
        while k * step <= hi + 1e-9:
            v = k * step
            x = round(x0 + (v - lo) / (hi - lo) * n_swatch * sw, 2)
            ticks.append([x, tick_label(v, step, False)])
            k += 1
    return {
        "width": round(x0 + max(size, n_swatch * sw) + 20, 2),
        "height": round(legend_y + 40, 2),
        "x0": x0,
        "y0": y0,
        "size": round(size, 2),
        "cell": cell,
        "font": font,
        "rows": rows,
        "columns": columns,
        "cells": cells,
        "legend": {"y": round(legend_y, 2), "h": 10.0, "swatches": swatches, "ticks": ticks},
    }
