"""The frontier plot: the layout of its axes and marks, its tags, legend and script data.

Nothing here writes markup: the functions return numbers and short strings, and the
Jinja2 templates, with autoescape on, turn them into SVG.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from fairmtl.report._axes import axis, scale
from fairmtl.report._markers import marker_path, marker_styles
from fairmtl.report._view import (
    PLOT_BOX,
    TAG_CHAR,
    TAG_HEIGHT,
    TAG_SPOTS,
    focus_ids,
    place_tags,
)

__all__ = ["PLOT_SIZE", "frontier_figure", "frontier_plot"]

# Frontier plot: the SVG's size and its plotting box, in SVG units.
PLOT_SIZE = (720, 440)


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
        px = scale(vx, axes[x]["domain"], box["left"], box["width"])
        py = scale(vy, axes[y]["domain"], box["top"] + box["height"], -box["height"])
        positions[m["id"]] = [round(px, 1), round(py, 1)]
        points.append((i, vx, vy))
    front = _front(points, by_name[x]["maximize"], by_name[y]["maximize"])
    line = " ".join("{:g},{:g}".format(*positions[models[i]["id"]]) for i in front)  # type: ignore[str-format]
    x_ticks = [
        [round(scale(v, axes[x]["domain"], box["left"], box["width"]), 1), label]
        for v, label in axes[x]["ticks"]
    ]
    y_ticks = [
        [round(scale(v, axes[y]["domain"], box["top"] + box["height"], -box["height"]), 1), label]
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
    styles = marker_styles(models)
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
