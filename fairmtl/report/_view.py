"""The frontier plot's default view and the placement of its tags.

The view is fitted to the interesting models (:func:`focus_ids`), and the tags
("chosen", "most accurate") are placed so that they never overlap (:func:`place_tags`);
the page's script applies the same rule when the reader changes the axes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["FOCUS_MARGIN", "PLOT_BOX", "TAG_SPOTS", "focus_ids", "place_tags"]

# The frontier plot's plotting box, in SVG units (shared with _frontier_plot).
PLOT_BOX = {"left": 78.0, "top": 18.0, "width": 618.0, "height": 352.0}
# The default view spans the interesting models plus this share of their values.
FOCUS_MARGIN = 0.03
# Where a mark's tag may go, in order of preference: [dx, dy, text-anchor].
TAG_SPOTS = (
    (0, -15, "middle"),
    (0, 22, "middle"),
    (15, 4, "start"),
    (-15, 4, "end"),
    (15, -12, "start"),
    (-15, -12, "end"),
    (15, 20, "start"),
    (-15, 20, "end"),
    (0, -30, "middle"),
    (0, 36, "middle"),
)
TAG_CHAR = 6.6  # rough width of a character of a tag (11.5 px bold), SVG units
TAG_HEIGHT = 13.0


def focus_ids(
    models: Sequence[Mapping[str, Any]], x: str, y: str, *, most_accurate: str | None = None
) -> set[str]:
    """The models of the default view: the interesting region, not the outliers.

    The Pareto-optimal models, the chosen and the most accurate one, the pooled
    baseline (the usual reference), and every other model (a baseline, a dominated
    fit) that lies within half the span of those on both axes (at least
    :data:`FOCUS_MARGIN` of the value). Poor models far away (a
    GridSearch model at 30% worst-group accuracy) would otherwise stretch the axes and
    squeeze the frontier into a corner; the page has a button to show them.
    """

    def xy(m: Mapping[str, Any]) -> tuple[float, float] | None:
        vx, vy = m["values"].get(x), m["values"].get(y)
        if vx is None or vy is None or not (math.isfinite(vx) and math.isfinite(vy)):
            return None
        return float(vx), float(vy)

    placed = {m["id"]: xy(m) for m in models if xy(m) is not None}
    core = [
        i
        for i in placed
        if any(
            m["id"] == i
            and (m["pareto"] or m["chosen"] or i == most_accurate or m["method"] == "pooled")
            for m in models
        )
    ]
    if not core:
        return set(placed)
    box = []
    for k in (0, 1):
        values = [placed[i][k] for i in core]
        lo, hi = min(values), max(values)
        margin = max((hi - lo) * 0.5, FOCUS_MARGIN * max(abs(lo), abs(hi), 1e-9))
        box.append((lo - margin, hi + margin))
    near = {
        i
        for i, (vx, vy) in placed.items()
        if box[0][0] <= vx <= box[0][1] and box[1][0] <= vy <= box[1][1]
    }
    return near | set(core)


def _overlaps(a: Sequence[float], b: Sequence[float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _tag_box(pos: Sequence[float], spot: Sequence[Any], text: str) -> list[float]:
    """``[x0, y0, x1, y1]`` of a tag's text placed at ``spot`` around ``pos``."""
    width = TAG_CHAR * len(text) + 4
    x = pos[0] + spot[0]
    x0 = x - width / 2 if spot[2] == "middle" else (x if spot[2] == "start" else x - width)
    y = pos[1] + spot[1]  # the text's baseline
    return [x0, y - TAG_HEIGHT + 3, x0 + width, y + 3]


def place_tags(
    tags: Sequence[tuple[str, Sequence[float]]], marks: Sequence[Sequence[float]]
) -> list[list[Any]]:
    """Spots for the plot's tags ("chosen", "most accurate") so that none overlap.

    Each tag takes the first spot of :data:`TAG_SPOTS` whose text stays inside the
    plot and clear of the tags already placed and of every other mark; when none is
    clear, the spot that overlaps least. The page's script runs the same rule when the
    axes change.

    Parameters
    ----------
    tags : sequence of (text, position)
    marks : sequence of position
        Every visible mark (the tagged ones included).

    Returns
    -------
    spots : list of ``[dx, dy, text-anchor]``, one per tag
    """
    box = PLOT_BOX
    inside = [box["left"], box["top"], box["left"] + box["width"], box["top"] + box["height"]]
    taken: list[list[float]] = []
    out = []
    for text, pos in tags:
        others = [m for m in marks if abs(m[0] - pos[0]) > 0.5 or abs(m[1] - pos[1]) > 0.5]
        best, best_cost = TAG_SPOTS[0], math.inf
        for spot in TAG_SPOTS:
            r = _tag_box(pos, spot, text)
            cost = 0.0 if (r[0] >= inside[0] and r[2] <= inside[2] and r[1] >= inside[1]
                           and r[3] <= inside[3]) else 100.0  # fmt: skip
            cost += 10.0 * sum(_overlaps(r, t) for t in taken)
            cost += sum(_overlaps(r, [m[0] - 7, m[1] - 7, m[0] + 7, m[1] + 7]) for m in others)
            if cost < best_cost:
                best, best_cost = spot, cost
            if cost == 0:
                break
        taken.append(_tag_box(pos, best, text))
        out.append(list(best))
    return out
