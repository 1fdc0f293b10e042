"""Scaling curves of the convex suite as PNG files: fit time against rows and against groups.

The points are the ``make_hospitals`` classification datasets of the run: time against
training rows at a fixed number of hospitals, and time against hospitals at a fixed
number of rows (the row count with the most hospital counts). matplotlib is optional:
without it no plot is written and RESULTS.md says so.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from fairmtl.data import atomic_target

__all__ = ["PLOT_FILES", "have_matplotlib", "scaling_plots"]

PLOT_FILES = {"rows": "scaling_rows.png", "groups": "scaling_groups.png"}
FAMILY = "hospitals-classification"


def have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _series(rows: list[dict[str, Any]], x_key: str, fixed_key: str, fixed: int):
    """``{method: [(x, seconds), ...]}`` of the timed rows with ``fixed_key == fixed``."""
    out: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for r in rows:
        if r.get(fixed_key) == fixed and r.get("seconds") is not None:
            out[r["method"]].append((float(r[x_key]), float(r["seconds"])))
    return {m: sorted(p) for m, p in out.items() if len({x for x, _ in p}) >= 2}


def scaling_axes(rows: list[dict[str, Any]]) -> dict[str, tuple[str, str, int]]:
    """Which curves the rows allow: ``{kind: (x key, fixed key, fixed value)}``."""
    hosp = [r for r in rows if r.get("family") == FAMILY and r.get("seconds") is not None]
    axes: dict[str, tuple[str, str, int]] = {}
    by_h: dict[int, set[int]] = defaultdict(set)
    by_n: dict[int, set[int]] = defaultdict(set)
    for r in hosp:
        by_h[r["n_hospitals"]].add(r["n_rows"])
        by_n[r["n_rows"]].add(r["n_hospitals"])
    if by_h:
        h = max(by_h, key=lambda k: (len(by_h[k]), -k))
        if len(by_h[h]) >= 2:
            axes["rows"] = ("n_rows", "n_hospitals", h)
    if by_n:
        n = max(by_n, key=lambda k: (len(by_n[k]), k))
        if len(by_n[n]) >= 2:
            axes["groups"] = ("n_hospitals", "n_rows", n)
    return axes


def scaling_plots(rows: list[dict[str, Any]], out_dir: Path) -> dict[str, str]:
    """Write the PNG curves; returns ``{kind: caption}`` for each file written."""
    if not have_matplotlib():
        return {}
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hosp = [r for r in rows if r.get("family") == FAMILY]
    written: dict[str, str] = {}
    labels = {"n_rows": "training rows", "n_hospitals": "hospitals (groups)"}
    for kind, (x_key, fixed_key, fixed) in scaling_axes(hosp).items():
        series = _series(hosp, x_key, fixed_key, fixed)
        if not series:
            continue
        fig, ax = plt.subplots(figsize=(7.5, 4.8), dpi=110)
        for method, points in sorted(series.items()):
            xs, ys = zip(*points, strict=True)
            style = "-o" if method.startswith("fairmtl") else "--s"
            ax.plot(xs, ys, style, label=method, markersize=4)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(labels[x_key])
        ax.set_ylabel("fit time, seconds (median)")
        fixed_text = f"{fixed:,} rows" if fixed_key == "n_rows" else f"{fixed} hospitals"
        title = f"make_hospitals classification, {fixed_text}"
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="best")
        fig.tight_layout()
        with atomic_target(out_dir / PLOT_FILES[kind], force=True) as tmp:
            fig.savefig(tmp, format="png")
        plt.close(fig)
        written[kind] = f"Fit time against {labels[x_key]} ({title})"
    return written
