"""Geometry of the report's SVG charts, as plain data for the templates.

Nothing here writes markup: the functions return numbers and short strings (path data,
tick labels), and the Jinja2 templates, with autoescape on, turn them into SVG. The
frontier plot's axes are also handed to the page's script, which moves the markers
when the reader switches the axes, using the same formula as :func:`_scale`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from fairmtl.report._view import (  # noqa: F401  (re-exported: the plot's geometry)
    PLOT_BOX,
    TAG_CHAR,
    TAG_HEIGHT,
    TAG_SPOTS,
    _tag_box,
    focus_ids,
    place_tags,
)

__all__ = [
    "MARKER_SHAPES",
    "marker_path",
    "axis",
    "focus_ids",
    "frontier_plot",
    "frontier_figure",
    "place_tags",
    "group_bars",
    "heat_colour",
    "heatmap",
]

# Okabe & Ito's colour-blind-safe palette, split between fairmtl models and baselines
# (its yellow is left out: too pale on white).
FAIRMTL_COLOURS = ("#0072B2", "#009E73", "#CC79A7", "#56B4E9")
BASELINE_COLOURS = ("#D55E00", "#E69F00", "#000000", "#CC79A7", "#56B4E9")
MARKER_SHAPES = ("circle", "square", "triangle", "diamond", "triangle-down", "cross", "star")

# Frontier plot: the SVG's size and its plotting box, in SVG units.
PLOT_SIZE = (720, 440)
# Per-group bar chart.
BAR_LABEL_WIDTH = 210.0
BAR_PLOT_WIDTH = 460.0
BAR_ROW = 30.0
BAR_HEIGHT = 11.0
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


def marker_path(shape: str, r: float = 5.5) -> str:
    """Return SVG path data for a marker of the given shape, centred at the origin.

    Parameters
    ----------
    shape : str
        One of :data:`MARKER_SHAPES`.
    r : float, default=5.5
        Rough radius in SVG units; the shapes are sized to look equally large.

    Returns
    -------
    d : str
        The ``d`` attribute of a ``<path>``.
    """
    if shape == "circle":
        return f"M{-r:g},0a{r:g},{r:g} 0 1,0 {2 * r:g},0a{r:g},{r:g} 0 1,0 {-2 * r:g},0Z"
    if shape == "square":
        s = round(r * 0.9, 2)
        return f"M{-s:g},{-s:g}H{s:g}V{s:g}H{-s:g}Z"
    if shape in ("triangle", "triangle-down"):
        s = round(r * 1.25, 2)
        h = round(s * 0.87, 2)
        sign = 1 if shape == "triangle" else -1
        return f"M0,{-sign * s:g}L{h:g},{sign * s / 2:g}L{-h:g},{sign * s / 2:g}Z"
    if shape == "diamond":
        s = round(r * 1.3, 2)
        return f"M0,{-s:g}L{s:g},0L0,{s:g}L{-s:g},0Z"
    if shape == "cross":
        a, b = round(r * 1.2, 2), round(r * 0.4, 2)
        return (
            f"M{-b:g},{-a:g}H{b:g}V{-b:g}H{a:g}V{b:g}H{b:g}V{a:g}H{-b:g}V{b:g}H{-a:g}"
            f"V{-b:g}H{-b:g}Z"
        )
    # star: five points
    points = []
    for i in range(10):
        rad = r * 1.4 if i % 2 == 0 else r * 0.6
        ang = math.pi / 2 + i * math.pi / 5
        points.append(f"{rad * math.cos(ang):.2f},{-rad * math.sin(ang):.2f}")
    return "M" + "L".join(points) + "Z"


def _nice_step(span: float, n: int) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) giving about `n` ticks."""
    raw = span / max(n, 1)
    power = 10 ** math.floor(math.log10(raw))
    for limit, mult in ((1.5, 1.0), (2.25, 2.0), (3.5, 2.5), (7.5, 5.0)):
        if raw / power < limit:
            return mult * power
    return 10 * power


def _tick_label(value: float, step: float, percent: bool) -> str:
    if percent:
        value, step = value * 100, step * 100
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    while decimals < 6 and abs(step * 10**decimals - round(step * 10**decimals)) > 1e-6:
        decimals += 1  # a step of 2.5 needs one decimal more than a step of 2
    text = f"{value:.{decimals}f}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]
    return text + ("%" if percent else "")


def axis(values: Sequence[float | None], *, percent: bool, n_ticks: int = 5) -> dict[str, Any]:
    """Return an axis for the given values: a padded domain and readable ticks.

    Parameters
    ----------
    values : sequence of float or None
        The values to show; None and non-finite values are ignored.
    percent : bool
        Label ticks as percentages.
    n_ticks : int, default=5
        Rough number of ticks.

    Returns
    -------
    axis : dict
        ``{"domain": [lo, hi], "ticks": [[value, label], ...]}``.
    """
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    pad = (hi - lo) * 0.06 if hi > lo else max(abs(lo) * 0.05, 0.01)
    lo, hi = lo - pad, hi + pad
    step = _nice_step(hi - lo, n_ticks)
    first = math.ceil(lo / step - 1e-9)
    ticks = []
    for k in range(first, first + n_ticks * 3):
        v = k * step
        if v > hi + 1e-12:
            break
        ticks.append([round(v, 12), _tick_label(v, step, percent)])
    return {"domain": [lo, hi], "ticks": ticks}


def _scale(value: float, domain: Sequence[float], start: float, length: float) -> float:
    lo, hi = domain
    return start + (value - lo) / (hi - lo) * length


def _front(points: Sequence[tuple[int, float, float]], max_x: bool, max_y: bool) -> list[int]:
    """Indices of the non-dominated points (both coordinates), sorted by x."""
    signed = [(i, x if max_x else -x, y if max_y else -y) for i, x, y in points]
    signed.sort(key=lambda p: (-p[1], -p[2]))
    front, best_y = [], -math.inf
    for i, _, y in signed:
        if y > best_y:
            front.append(i)
            best_y = y
    by_x = {i: x for i, x, _ in points}
    return sorted(front, key=lambda i: by_x[i])


def frontier_plot(
    criteria: Sequence[Mapping[str, Any]],
    models: Sequence[Mapping[str, Any]],
    x: str,
    y: str,
    *,
    focus: set[str] | None = None,
) -> dict[str, Any]:
    """Lay out the frontier plot for the axes `x` and `y`.

    Parameters
    ----------
    criteria : sequence of dict
        Each with ``name``, ``label``, ``maximize`` and ``percent``.
    models : sequence of dict
        Each with ``id`` and ``values`` (criterion name -> float or None).
    x, y : str
        The criteria on the horizontal and vertical axes.
    focus : set of str or None, default=None
        Ids of the models the axes are fitted to (see :func:`focus_ids`); None: all.

    Returns
    -------
    plot : dict
        ``size``, ``box``, ``axes`` (criterion name -> axis fitted to the focus,
        see :func:`axis`), ``axes_all`` (fitted to every model), ``positions`` (model
        id -> ``[x, y]`` in SVG units, or None when a value is missing), ``outside``
        (ids of the models outside the focused view), ``front`` (polyline points of
        the non-dominated models in this view), ``x_ticks`` and ``y_ticks``.
    """
    axes_all = {
        c["name"]: axis([m["values"].get(c["name"]) for m in models], percent=c["percent"])
        for c in criteria
    }
    shown = [m for m in models if focus is None or m["id"] in focus]
    axes = {
        c["name"]: axis([m["values"].get(c["name"]) for m in shown], percent=c["percent"])
        for c in criteria
    }
    box = PLOT_BOX
    by_name = {c["name"]: c for c in criteria}
    positions: dict[str, list[float] | None] = {}
    points = []
    for i, m in enumerate(models):
        vx, vy = m["values"].get(x), m["values"].get(y)
        if vx is None or vy is None or not (math.isfinite(vx) and math.isfinite(vy)):
            positions[m["id"]] = None
            continue
        px = _scale(vx, axes[x]["domain"], box["left"], box["width"])
        py = _scale(vy, axes[y]["domain"], box["top"] + box["height"], -box["height"])
        positions[m["id"]] = [round(px, 1), round(py, 1)]
        points.append((i, vx, vy))
    front = _front(points, by_name[x]["maximize"], by_name[y]["maximize"])
    line = " ".join("{:g},{:g}".format(*positions[models[i]["id"]]) for i in front)  # type: ignore[str-format]
    x_ticks = [
        [round(_scale(v, axes[x]["domain"], box["left"], box["width"]), 1), label]
        for v, label in axes[x]["ticks"]
    ]
    y_ticks = [
        [round(_scale(v, axes[y]["domain"], box["top"] + box["height"], -box["height"]), 1), label]
        for v, label in axes[y]["ticks"]
    ]
    outside = []
    for m in models:
        vx, vy = m["values"].get(x), m["values"].get(y)
        if positions[m["id"]] is None:
            continue
        (x0, x1), (y0, y1) = axes[x]["domain"], axes[y]["domain"]
        if not (x0 <= vx <= x1 and y0 <= vy <= y1):
            outside.append(m["id"])
    return {
        "size": PLOT_SIZE,
        "box": box,
        "axes": axes,
        "axes_all": axes_all,
        "positions": positions,
        "outside": outside,
        "front": line,
        "x_ticks": x_ticks,
        "y_ticks": y_ticks,
    }


def _styles(models: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], tuple[str, str]]:
    """(source, method) -> (shape, colour): circles for fairmtl, other shapes for baselines."""
    out: dict[tuple[str, str], tuple[str, str]] = {}
    n_fair = n_base = 0
    for m in models:
        key = (m["source"], m["method"])
        if key in out:
            continue
        if m["source"] == "fairmtl":
            out[key] = ("circle", FAIRMTL_COLOURS[n_fair % len(FAIRMTL_COLOURS)])
            n_fair += 1
        else:
            shape = MARKER_SHAPES[1 + n_base % (len(MARKER_SHAPES) - 1)]
            out[key] = (shape, BASELINE_COLOURS[n_base % len(BASELINE_COLOURS)])
            n_base += 1
    return out


def frontier_figure(
    criteria: Sequence[Mapping[str, Any]],
    models: Sequence[Mapping[str, Any]],
    x: str,
    y: str,
    *,
    most_accurate: str,
) -> dict[str, Any]:
    """Everything the frontier section shows: layout, markers, legend and script data.

    Parameters
    ----------
    criteria : sequence of dict
        Each with ``name``, ``label``, ``maximize`` and ``percent``.
    models : sequence of dict
        The hover data of each model: ``id``, ``label``, ``method``, ``source``,
        ``pareto``, ``robust``, ``chosen``, ``values`` (criterion -> float or None) and
        ``scores`` (``{"name", "test", ...}`` with the formatted test value).
    x, y : str
        The default axes.
    most_accurate : str
        Id of the most accurate model, labelled on the plot.

    Returns
    -------
    figure : dict
        The layout of :func:`frontier_plot` plus ``markers``, ``legend``, ``js`` (the
        data the page's script needs), axis labels and ``n_missing``.
    """
    focus = focus_ids(models, x, y, most_accurate=most_accurate)
    geo = frontier_plot(criteria, models, x, y, focus=focus)
    styles = _styles(models)
    info = {c["name"]: c for c in criteria}
    markers = []
    for m in models:
        shape, colour = styles[(m["source"], m["method"])]
        text = {s["name"]: s["test"] for s in m["scores"]}
        tag = "chosen" if m["chosen"] else None
        if m["id"] == most_accurate:
            tag = "chosen = most accurate" if m["chosen"] else "most accurate"
        markers.append(
            {
                "id": m["id"],
                "d": marker_path(shape),
                "colour": colour,
                "pos": geo["positions"][m["id"]],
                "filled": m["pareto"],
                "robust": m["robust"],
                "chosen": m["chosen"],
                "tag": tag,
                "spot": list(TAG_SPOTS[0]),
                "outside": m["id"] in geo["outside"],
                "source": m["source"],
                "title": f"{m['label']} ({m['method']}): "
                + ", ".join(f"{info[c]['label']} {text[c]}" for c in (x, y)),
            }
        )
    visible = [mk for mk in markers if mk["pos"] is not None and not mk["outside"]]
    tagged = [mk for mk in visible if mk["tag"]]
    tagged.sort(key=lambda mk: not mk["chosen"])  # the chosen model's tag first
    spots = place_tags([(mk["tag"], mk["pos"]) for mk in tagged], [mk["pos"] for mk in visible])
    for mk, spot in zip(tagged, spots, strict=True):
        mk["spot"] = spot
    legend = [
        {
            "label": f"{method} ({'fairmtl' if source == 'fairmtl' else 'baseline'})",
            "d": marker_path(shape),
            "colour": colour,
        }
        for (source, method), (shape, colour) in styles.items()
    ]
    js = {
        "box": geo["box"],
        "x": x,
        "y": y,
        "models": list(models),
        "focus": sorted(focus),
        "spots": [list(s) for s in TAG_SPOTS],
        "tag_char": TAG_CHAR,
        "tag_height": TAG_HEIGHT,
        "criteria": [
            dict(
                c,
                **geo["axes"][c["name"]],
                domain_all=geo["axes_all"][c["name"]]["domain"],
                ticks_all=geo["axes_all"][c["name"]]["ticks"],
            )
            for c in criteria
        ],
    }
    return {
        **geo,
        "markers": markers,
        "legend": legend,
        "js": js,
        "x_label": info[x]["label"],
        "y_label": info[y]["label"],
        "x_max": info[x]["maximize"],
        "y_max": info[y]["maximize"],
        "criteria": list(criteria),
        "n_missing": sum(1 for mk in markers if mk["pos"] is None),
        "n_outside": len(geo["outside"]),
        "outside_labels": [m["label"] for m in models if m["id"] in geo["outside"]],
    }


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
        return round(_scale(v, ax["domain"], x0, BAR_PLOT_WIDTH), 1)

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
        step = _nice_step(hi - lo, 4)
        k = math.ceil(lo / step - 1e-9)
        while k * step <= hi + 1e-9:
            v = k * step
            x = round(x0 + (v - lo) / (hi - lo) * n_swatch * sw, 2)
            ticks.append([x, _tick_label(v, step, False)])
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
