"""The frontier plot's markers: shapes as SVG path data, and a style per kind of model.

Okabe & Ito's colour-blind-safe palette is split between fairmtl models (circles) and
baselines (the other shapes).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["MARKER_SHAPES", "marker_path", "marker_styles"]

# Okabe & Ito's colour-blind-safe palette, split between fairmtl models and baselines
# (its yellow is left out: too pale on white).
FAIRMTL_COLOURS = ("#0072B2", "#009E73", "#CC79A7", "#56B4E9")
BASELINE_COLOURS = ("#D55E00", "#E69F00", "#000000", "#CC79A7", "#56B4E9")
MARKER_SHAPES = ("circle", "square", "triangle", "diamond", "triangle-down", "cross", "star")


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


def marker_styles(models: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], tuple[str, str]]:
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
