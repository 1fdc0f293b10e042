"""The report never contradicts itself and is honest about small groups.

Every sentence and card is checked against the tables of the same page; the intervals of
small groups against scipy's beta quantiles (the Clopper-Pearson formula, written out
here); the transfer page's verdicts against the group sizes.
"""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import numpy as np
import pandas as pd
import pytest
from report_fixtures import make_results
from scipy.stats import beta

from fairmtl import FairMTLClassifier, FrontierSearch
from fairmtl.report import render_html, render_transfer_html
from fairmtl.report._context import fmt_interval, fmt_value

THRESHOLD = 30


def _frame(seed: int = 0, flip_tiny: bool = True) -> pd.DataFrame:
    """Two large groups that share one rule and a 9-row group whose labels are flipped."""
    rng = np.random.default_rng(seed)
    parts = []
    for name, n, flip in (("big_a", 500, False), ("big_b", 400, False), ("tiny", 9, flip_tiny)):
        X = rng.normal(size=(n, 3))
        y = (X[:, 0] + 0.5 * rng.normal(size=n) > 0).astype(int)
        parts.append(
            pd.DataFrame(
                {"x0": X[:, 0], "x1": X[:, 1], "x2": X[:, 2], "y": 1 - y if flip else y, "g": name}
            )
        )
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def search() -> FrontierSearch:
    df = _frame()
    est = FairMTLClassifier(objective="bounded", alpha=1e-3, sharing_strength=1.0)
    s = FrontierSearch(est, n_points=3, baselines=("pooled",), n_boot=200, random_state=0)
    return s.fit(df[["x0", "x1", "x2"]], df["y"], groups=df["g"])


def _text(html: str) -> str:
    """The page's visible text, tags dropped, whitespace folded."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", "", body)).split())


def _section(html: str, start: str, end: str) -> str:
    return html[html.index(f'id="{start}"') : html.index(f'id="{end}"')]


def _table_rows(html: str, table_id: str) -> list[dict[str, Any]]:
    """Group name, test rows and the change cell's verdict of each row of a group table."""
    table = html[html.index(f'id="{table_id}"') :]
    table = table[: table.index("</table>")]
    rows = []
    for tr in re.findall(r"<tr>\s*<td class=\"name\"(.*?)</tr>", table, flags=re.S):
        name = unescape(re.search(r'data-v="([^"]*)"', tr).group(1))
        cells = re.findall(r'<td class="num[^"]*" data-v="([^"]*)"', tr)
        verdict = re.search(r'data-verdict="([^"]*)"', tr)
        rows.append(
            {
                "name": name,
                "n_test": int(cells[0]),
                "chosen": float(cells[3]) if cells[3] else None,
                "verdict": verdict.group(1) if verdict else None,
            }
        )
    return rows


def _stated_count(text: str, pattern: str) -> int:
    found = re.search(pattern, text)
    assert found, f"no sentence matches {pattern!r}"
    return 0 if found.group(1) in ("No", "no") else int(found.group(1))


def _check_page_agrees_with_its_tables(results: dict[str, Any]) -> None:
    html = render_html(results)
    rows = _table_rows(html, "group-table")
    worse = [r["name"] for r in rows if r["verdict"] == "worse"]
    noise = [r["name"] for r in rows if r["verdict"] == "within noise"]
    rec = _text(_section(html, "recommendation", "frontier"))
    stated = _stated_count(rec, r"(\d+|No) groups? (?:are|is) worse off than under the pooled")
    assert stated == len(worse), rec
    if not worse and noise:
        assert f"({len(noise)} change{'s' if len(noise) != 1 else ''} within noise)" in rec
    gains = _text(_section(html, "gains", "data"))
    assert _stated_count(gains, r"(\d+) groups? (?:are|is) worse off") == len(worse)
    # The harm lists of the results are the table's verdicts, by the same rule.
    chosen = next(m for m in results["models"] if m["chosen"])
    assert sorted(chosen["harm"]["worse_than_pooled"]) == sorted(worse)
    # The worst-off group of the card: the lowest value of the table among the groups
    # with enough test rows, shown with the table's own figure.
    big = [r for r in rows if r["n_test"] >= results["small_group_threshold"]] or rows
    worst = min(big, key=lambda r: r["chosen"])
    card = _text(_section(html, "kpi-worst", "kpi-cost"))
    assert worst["name"] in card and fmt_value(worst["chosen"], True) in card
    # The change of the overall figure, against the reference the card names.
    ref = next(m for m in results["models"] if m["id"] == results["pooled"])
    d = chosen["scores"]["overall_accuracy"] - ref["scores"]["overall_accuracy"]
    cost = _text(_section(html, "kpi-cost", "recommendation-text"))
    assert ref["label"] in cost
    assert f"{d * 100:+.1f}".replace("-", "\u2212") + " pt" in cost
    assert "no cost" not in cost


def test_rule_for_better_and_worse() -> None:
    from fairmtl.frontier._results import change_verdict

    assert change_verdict(-0.05, -0.01, True) == "worse"
    assert change_verdict(-0.05, -0.01, False) == "better"  # a loss that fell
    assert change_verdict(0.01, 0.05, True) == "better"
    assert change_verdict(-0.01, 0.05, True) == "within noise"
    assert change_verdict(-0.05, -0.01, True, small=True) == "too few rows"
    assert change_verdict(None, 0.1, True) == "" == change_verdict(-0.2, -0.1, None)


def test_real_search_report_agrees_with_its_tables(search: FrontierSearch) -> None:
    from fairmtl.frontier._results import change_verdict

    _check_page_agrees_with_its_tables(search.results_)
    # Each verdict follows the paired interval stored beside it.
    r = search.results_
    small = {g["name"] for g in r["groups"] if g["small"]}
    for c in r["changes"]:
        expected = change_verdict(c["lo"], c["hi"], c["metric"] != "log_loss", c["group"] in small)
        if c["metric"] in ("accuracy", "log_loss"):
            assert c["verdict"] == expected, c


def test_fixture_report_agrees_with_its_tables() -> None:
    """Results that carry no per-group verdicts: the table follows the harm lists."""
    for seed in range(4):
        _check_page_agrees_with_its_tables(make_results(n_models=12, n_groups=8, seed=seed))


def test_small_group_rule_and_text_agree(search: FrontierSearch) -> None:
    r = search.results_
    small = [g for g in r["groups"] if g["n_test"] < r["small_group_threshold"]]
    assert [g["name"] for g in small] == [g["name"] for g in r["groups"] if g["small"]]
    text = _text(render_html(r))
    assert (
        f"{len(small)} of {len(r['groups'])} groups have fewer than "
        f"{r['small_group_threshold']} test rows"
    ) in text
    assert "training rows" not in text.replace("Train rows", "")


def _clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    a = (1 - level) / 2
    lo = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - a, k + 1, n - k))
    return lo, hi


def test_small_counts_get_exact_intervals(search: FrontierSearch) -> None:
    r = search.results_
    checked = 0
    for row in r["per_group"]:
        if row["metric"] in ("accuracy", "error_rate", "selection_rate"):
            k = round(row["value"] * row["n"])
            assert (row["lo"], row["hi"]) == pytest.approx(_clopper_pearson(k, row["n"]))
            checked += 1
        elif row["n"] < THRESHOLD:
            assert row["lo"] is None and row["hi"] is None  # "too few rows"
    assert checked >= 3 * len(r["models"])


def test_tiny_group_is_never_the_unqualified_headline(search: FrontierSearch) -> None:
    r = search.results_
    html = render_html(r)
    card = _text(_section(html, "kpi-worst", "kpi-cost"))
    headline = card.split("(")[0]
    assert "tiny" not in headline
    assert "with at least 30 test rows" in card
    tiny = next(
        p
        for p in r["per_group"]
        if p["model"] == r["chosen"] and p["group"] == "tiny" and p["metric"] == "accuracy"
    )
    big = min(
        p["value"]
        for p in r["per_group"]
        if p["model"] == r["chosen"] and p["group"] != "tiny" and p["metric"] == "accuracy"
    )
    if tiny["value"] < big:  # named, with its row count and its honest interval
        assert "tiny" in card and "too few test rows" in card
        assert fmt_interval(tiny["lo"], tiny["hi"], True) in card


def test_ranges_read_as_ranges() -> None:
    assert fmt_interval(-1.92, -0.247, False) == "\u22121.92 to \u22120.25"
    assert fmt_interval(0.712, 0.801, True) == "71.2% to 80.1%"
    assert fmt_interval(-0.0123, 0.5, False) == "\u22120.012 to 0.500"


def test_transfer_small_group_is_not_headlined() -> None:
    from fairmtl.transfer import transfer_summary

    df = _frame(seed=1)
    summary = transfer_summary(
        df[["x0", "x1", "x2"]].to_numpy(),
        df["y"].to_numpy(),
        groups=df["g"].to_numpy(),
        estimator=FairMTLClassifier(
            objective="average", alpha=1e-3, sharing_strength=1.0, sharing="offset"
        ),
        schemes=["offset", "clustered"],
        n_boot=100,
        random_state=0,
    )
    tiny = next(g for g in summary["groups"] if g["group"] == "tiny")
    assert tiny["n_test"] < 30
    assert summary["small_groups"] == ["tiny"]
    for scheme in summary["schemes"]:
        assert "tiny" not in summary["hurt"][scheme] + summary["gains"][scheme]
    assert "tiny" not in summary["misaligned"]
    assert "too few to judge (tiny)" in summary["reading"]
    assert not re.search(r"tiny (loses|gains)", summary["reading"])
    page = render_transfer_html(summary)
    row = page[page.index('data-v="tiny"') :]
    row = row[: row.index("</tr>")]
    assert "uncertain" in row and "interval: too few rows" in row and "too few rows to judge" in row
    # every interval on the page reads "lo to hi", never "a--b"
    intervals = [unescape(t) for t in re.findall(r'<span class="ci">([^<]*\d[^<]*)</span>', page)]
    assert intervals and all(
        re.fullmatch(r"\u2212?[\d.]+(e-?\d+)? to \u2212?[\d.]+(e-?\d+)?", t) for t in intervals
    )


# -- the frontier chart ------------------------------------------------------------------


def test_chart_view_is_fitted_to_the_frontier_and_tags_never_overlap() -> None:
    from fairmtl.report._frontier_plot import frontier_figure
    from fairmtl.report._view import PLOT_BOX, _tag_box, place_tags

    results = make_results(n_models=14, n_groups=6, seed=1)
    for m in results["models"][1:3]:  # poor baselines far from every Pareto model
        m["scores"].update(overall_accuracy=0.3, worst_group_accuracy=0.1)
        m["pareto"] = False
    html = render_html(results)
    outside = re.findall(r'class="marker [a-z]+ outside" data-model-id="([^"]+)"', html)
    assert sorted(outside) == sorted(m["id"] for m in results["models"][1:3])
    assert "Show all 14 models" in html and "outside it" in _text(html)
    # without them, the axes span only the interesting models
    ours = [m["scores"]["overall_accuracy"] for m in results["models"][3:]]
    x_axis = html[html.index('<g id="x-axis">') :]
    x_axis = x_axis[: x_axis.index("</g>")]
    ticks = [float(t.rstrip("%")) for t in re.findall(r">([\d.]+%)</text>", x_axis)]
    assert min(ticks) > 100 * min(ours) - 5
    # tags: brute force over crowded marks, every pair of boxes and every edge
    marks = [[400.0 + 3 * i, 200.0 + 2 * i] for i in range(6)]
    tags = [("chosen", marks[0]), ("most accurate", marks[1])]
    spots = place_tags(tags, marks)
    boxes = [_tag_box(p, s, t) for (t, p), s in zip(tags, spots, strict=True)]
    a, b = boxes
    assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3])
    for x0, y0, x1, y1 in boxes:
        assert PLOT_BOX["left"] <= x0 and x1 <= PLOT_BOX["left"] + PLOT_BOX["width"]
        assert PLOT_BOX["top"] <= y0 and y1 <= PLOT_BOX["top"] + PLOT_BOX["height"]
    # a mark in the top right corner: its tag stays inside the plot
    corner = [PLOT_BOX["left"] + PLOT_BOX["width"] - 2, PLOT_BOX["top"] + 2]
    (spot,) = place_tags([("most accurate", corner)], [corner])
    x0, y0, x1, y1 = _tag_box(corner, spot, "most accurate")
    assert x1 <= PLOT_BOX["left"] + PLOT_BOX["width"] and y0 >= PLOT_BOX["top"]
    assert frontier_figure  # the figure uses the same placement (checked in the browser)


def test_chart_states_the_swept_range() -> None:
    results = make_results(n_models=8, n_groups=4)
    eps = [m["params"]["epsilon"] for m in results["models"] if m["source"] == "fairmtl"]
    chosen = next(m for m in results["models"] if m["chosen"])
    text = _text(render_html(results))
    assert (
        f"The fairmtl models sweep epsilon from {min(eps):.4g} to {max(eps):.4g} "
        f"({len(set(eps))} values); the chosen one has epsilon = "
        f"{chosen['params']['epsilon']:.4g}."
    ) in text


def test_group_names_break_only_at_separators() -> None:
    from fairmtl.report._render import breakable

    html = str(breakable("va_long_beach|female"))
    assert re.sub(r"<[^>]+>", "", html) == "va_long_beach|female"
    pieces = re.findall(r'<span class="nb">([^<]*)</span>', html)
    assert pieces == ["va_", "long_", "beach|", "female"]
    assert html.count("<wbr>") == 3
    assert re.findall(
        r'<span class="nb">([^<]*)</span>', str(breakable("Asian-Pac-Islander|Male"))
    )[0] == ("Asian-Pac-Islander|")  # never at a hyphen
    page = render_html(make_results(n_models=4, group_names=["va_long_beach|female", "b"]))
    assert "va_</span><wbr>" in page
    css = page[page.index("<style>") : page.index("</style>")]
    assert "word-break: keep-all" in css and ".nb { white-space: nowrap; }" in css
