"""Axes of the report's SVG charts: padded domains, round ticks, the scale.

Nothing here writes markup: the functions return numbers and short strings (tick
labels), and the Jinja2 templates, with autoescape on, turn them into SVG. The frontier
plot's axes are also handed to the page's script, which moves the markers when the
reader switches the axes, using the same formula as :func:`scale`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["axis", "nice_step", "scale", "tick_label"]


def nice_step(span: float, n: int) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) giving about `n` ticks."""
    raw = span / max(n, 1)
    power = 10 ** math.floor(math.log10(raw))
    for limit, mult in ((1.5, 1.0), (2.25, 2.0), (3.5, 2.5), (7.5, 5.0)):
        if raw / power < limit:
            return mult * power
    return 10 * power


def tick_label(value: float, step: float, percent: bool) -> str:
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
    step = nice_step(hi - lo, n_ticks)
    first = math.ceil(lo / step - 1e-9)
    ticks = []
    for k in range(first, first + n_ticks * 3):
        v = k * step
        if v > hi + 1e-12:
            break
        ticks.append([round(v, 12), tick_label(v, step, percent)])
    return {"domain": [lo, hi], "ticks": ticks}


def scale(value: float, domain: Sequence[float], start: float, length: float) -> float:
    lo, hi = domain
    return start + (value - lo) / (hi - lo) * length
