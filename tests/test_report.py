"""Tests of fairmtl.report: schema, rendering, escaping, self-containment and writing."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from report_fixtures import make_results

import fairmtl.report as report
from fairmtl.exceptions import DataValidationError, FileExistsNoForceError
from fairmtl.report import (
    SCHEMA_VERSION,
    load_results,
    render_html,
    save_results,
    validate_results,
    write_report,
)
from fairmtl.report._axes import axis
from fairmtl.report._context import fmt_delta, fmt_value
from fairmtl.report._render import MSG_FILE_EXISTS, _static

HOSTILE = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "Black|Female"]
ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "div", "h1", "h2", "h3", "p",
    "nav", "a", "main", "section", "strong", "span", "code", "pre", "label", "select",
    "option", "figure", "figcaption", "svg", "rect", "g", "line", "text", "polyline",
    "circle", "path", "ul", "li", "table", "thead", "tbody", "tr", "th", "td", "details",
    "summary", "dl", "dt", "dd", "footer", "script", "wbr", "button",
}  # fmt: skip


class Page(HTMLParser):
    """Every element with its attributes, the scripts' text, and the frontier's markers."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.markers: list[dict[str, str | None]] = []
        self.marker_titles = 0
        self._stack: list[str] = []
        self._in_frontier = 0
        self._script: dict[str, str | None] | None = None
        self._last_marker = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.elements.append((tag, a))
        if tag == "script":
            self._script = a
        if tag == "svg" and a.get("id") == "frontier-svg":
            self._in_frontier = 1
        elif self._in_frontier and tag == "svg":
            self._in_frontier += 1
        if self._in_frontier and "data-model-id" in a:
            self.markers.append(a)
            self._last_marker = True
        elif self._last_marker and tag == "title":
            self.marker_titles += 1
            self._last_marker = False
        else:
            self._last_marker = False

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg" and self._in_frontier:
            self._in_frontier -= 1

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self.scripts.append((self._script, data))
            self._script = None


def data_json(html: str) -> Any:
    page = Page(html)
    (text,) = [t for a, t in page.scripts if a.get("type") == "application/json"]
    return text, json.loads(text)


# ---------------------------------------------------------------- schema


def test_fixtures_are_valid() -> None:
    for kwargs in ({}, {"n_models": 2, "n_groups": 2}, {"n_models": 50, "n_groups": 30}):
        validate_results(make_results(**kwargs))
    assert SCHEMA_VERSION == 1


def _set(path: list[Any], value: Any) -> Any:
    def mutate(r: dict[str, Any]) -> None:
        target = r
        for key in path[:-1]:
            target = target[key]
        if value is KeyError:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return mutate


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (_set(["title"], KeyError), "'title'"),
        (_set(["models", 1, "scores"], KeyError), "'models[1].scores'"),
        (
            _set(["models", 2, "scores", "overall_accuracy"], "high"),
            "'models[2].scores.overall_accuracy'",
        ),
        (_set(["groups", 0, "n_test"], "12"), "'groups[0].n_test'"),
        (_set(["groups", 0, "small"], 1), "'groups[0].small'"),
        (
            _set(["models", 0, "solver_info"], {"status": "optimal"}),
            "'models[0].solver_info.solver'",
        ),
        (_set(["models", 3, "harm", "worse_than_own"], "g001"), "'models[3].harm.worse_than_own'"),
        (_set(["data", "split", "val"], KeyError), "'data.split.val'"),
        (_set(["reproducibility", "versions", "numpy"], 2), "'reproducibility.versions.numpy'"),
        (_set(["task"], "ranking"), "'task'"),
        (_set(["per_group", 3, "model"], "nope"), "'per_group[3].model'"),
        (_set(["per_group", 4, "group"], "nope"), "'per_group[4].group'"),
        (_set(["x_criterion"], "nope"), "'x_criterion'"),
        (_set(["chosen"], "nope"), "'chosen'"),
        (_set(["models", 1, "id"], "pooled"), "'models[1].id'"),
        (_set(["models"], []), "'models'"),
    ],
)
def test_validation_names_the_key_path(mutate: Any, path: str) -> None:
    results = make_results(n_models=6, n_groups=3)
    mutate(results)
    with pytest.raises(DataValidationError, match=re.escape(path)):
        validate_results(results)
    with pytest.raises(DataValidationError, match=re.escape(path)):
        render_html(results)


def test_validation_of_version_and_type() -> None:
    results = make_results(n_models=3, n_groups=2)
    results["schema_version"] = 2
    with pytest.raises(DataValidationError, match="schema_version 2"):
        validate_results(results)
    with pytest.raises(DataValidationError, match="must be a dict"):
        validate_results([results])


def test_optional_metrics_key_and_nan_scores_are_accepted() -> None:
    results = make_results(n_models=4, n_groups=3)
    results["metrics"] = [
        {"name": "accuracy", "label": "Accuracy", "maximize": True, "percent": True},
        {"name": "selection_rate", "label": "Selection rate", "maximize": None, "percent": True},
    ]
    results["models"][1]["scores"]["worst_group_log_loss"] = math.nan
    validate_results(results)
    results["metrics"][0]["percent"] = "yes"
    with pytest.raises(DataValidationError, match=re.escape("'metrics[0].percent'")):
        validate_results(results)


# ---------------------------------------------------------------- rendering


def test_renders_two_groups() -> None:
    results = make_results(n_models=5, n_groups=2)
    html = render_html(results)
    page = Page(html)
    assert {m["data-model-id"] for m in page.markers} == {m["id"] for m in results["models"]}
    for g in results["groups"]:
        assert g["name"] in html
    assert "All 2 groups, worst-off first." in html
    assert "<details><summary>All" not in html  # nothing folded for 2 groups


def test_renders_500_groups() -> None:
    results = make_results(n_models=5, n_groups=500)
    html = render_html(results)
    page = Page(html)
    assert len(page.markers) == 5
    assert "The 30 worst-off of 500 groups under the chosen model are shown" in html
    assert "<summary>All 500 groups, every metric</summary>" in html
    bars = html[html.index('id="group-bars"') : html.index("</svg>", html.index('id="group-bars"'))]
    assert bars.count('class="bar-row"') == 30
    rows = [a for t, a in page.elements if t == "td" and a.get("class") == "name"]
    assert len(rows) == 30 + 500 + 500  # top table, folded full table, groups table


def test_one_marker_per_model_with_a_title() -> None:
    results = make_results(n_models=17, n_groups=4)
    results["models"][5]["scores"]["worst_group_accuracy"] = None  # not on the default axes
    page = Page(render_html(results))
    assert [m["data-model-id"] for m in page.markers].count(results["models"][5]["id"]) == 1
    assert len(page.markers) == 17 == page.marker_titles
    assert all(m["class"] and "marker" in m["class"] for m in page.markers)
    missing = [m for m in page.markers if "missing" in (m["class"] or "")]
    assert [m["data-model-id"] for m in missing] == [results["models"][5]["id"]]


def test_headline_states_the_change_against_the_pooled_model() -> None:
    results = make_results(n_models=12, n_groups=6)
    chosen = next(m for m in results["models"] if m["id"] == results["chosen"])
    pooled = next(m for m in results["models"] if m["id"] == results["pooled"])
    assert chosen is not pooled
    html = render_html(results)
    big = {g["name"] for g in results["groups"] if not g["small"]}

    def worst(model_id: str) -> float:
        return min(
            r["value"]
            for r in results["per_group"]
            if r["model"] == model_id and r["metric"] == "accuracy" and r["group"] in big
        )

    d_all = chosen["scores"]["overall_accuracy"] - pooled["scores"]["overall_accuracy"]
    d_worst = worst(chosen["id"]) - worst(pooled["id"])
    head = html[html.index('id="recommendation"') : html.index('id="frontier"')]
    assert fmt_delta(d_all, True) in head and fmt_delta(d_worst, True) in head
    assert chosen["label"] in head and fmt_value(chosen["scores"]["overall_accuracy"], True) in head
    assert fmt_value(worst(chosen["id"]), True) in head


def test_variants_render() -> None:
    """Regression, no pooled baseline, a failed solve and unknown metrics all render."""
    results = make_results(n_models=6, n_groups=3, task="regression")
    results["pooled"] = None
    results["models"][4]["solver_info"] = {
        "status": "optimal_inaccurate",
        "solver": "SCS",
        "time": 1.0,
        "gap": None,
    }
    results["chosen"] = results["models"][4]["id"]
    for row in results["per_group"]:
        if row["metric"] == "selection_rate":
            row["metric"] = "my_metric"
    html = render_html(results)
    assert "optimal_inaccurate" in html and "against the pooled model" not in html
    assert "my metric" in html


def test_degenerate_results_render() -> None:
    """One model and one criterion; a primary metric without per-group rows; no values."""
    results = make_results(n_models=2, n_groups=3)
    keep = results["chosen"]
    results["models"] = [m for m in results["models"] if m["id"] == keep]
    results["per_group"] = [r for r in results["per_group"] if r["model"] == keep]
    results.update(pooled=None, most_accurate=keep, criteria=results["criteria"][:1])
    results["x_criterion"] = results["y_criterion"] = results["criteria"][0]["name"]
    assert len(Page(render_html(results)).markers) == 1

    results = make_results(n_models=5, n_groups=4)
    results["primary_metric"] = "roc_auc"
    assert "ROC AUC" in render_html(results)

    results = make_results(n_models=5, n_groups=4)
    for row in results["per_group"]:
        row.update(value=None, lo=None, hi=math.nan)
    for key in results["models"][2]["scores"]:
        results["models"][2]["scores"][key] = None
    assert len(Page(render_html(results)).markers) == 5


def test_user_strings_are_escaped_everywhere() -> None:
    nasty_col = "</script><script>alert(2)</script>"
    results = make_results(
        n_models=6, group_names=HOSTILE, target=nasty_col, source=HOSTILE[1] + ".csv"
    )
    results["models"][0]["label"] = "<b onmouseover=alert(4)>pooled</b>"
    results["models"][-1]["params"]["note"] = "</script>&'"
    results["data"]["feature_names"].append(nasty_col)
    results["data"]["missing"][HOSTILE[0]] = 3
    results["reproducibility"]["command"] = f"fairmtl frontier '{HOSTILE[1]}'"
    html = render_html(results)
    for raw in [*HOSTILE[:2], nasty_col, "<b onmouseover"]:
        assert raw not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    page = Page(html)
    assert {t for t, _ in page.elements} <= ALLOWED_TAGS
    assert not [(t, k) for t, a in page.elements for k in a if k.startswith("on")]
    assert [t for t, _ in page.elements].count("script") == 2
    text, data = data_json(html)
    assert not set("<>&'") & set(text)  # tojson escaped them
    names = {g[0] for m in data["models"] for g in m["worst"]}
    assert set(HOSTILE) <= names  # and they round-trip as data
    labels = {m["label"] for m in data["models"]}
    assert "<b onmouseover=alert(4)>pooled</b>" in labels


def test_page_is_self_contained() -> None:
    html = render_html(make_results(n_models=8, n_groups=5))
    assert not re.search(r"<script[^>]*\bsrc\s*=", html, re.I)
    assert not re.search(r"<link\b", html, re.I)
    assert not re.search(r"@import|url\s*\(", html, re.I)
    assert not re.search(r"<(img|iframe|object|embed|video|audio|source)\b", html, re.I)
    # The only URL is the SVG namespace the script needs to create elements.
    assert set(re.findall(r"\w+://[^\s\"'<>]*", html)) == {"http://www.w3.org/2000/svg"}


def test_script_runs_by_hash_under_a_strict_csp() -> None:
    html = render_html(make_results(n_models=4, n_groups=3))
    page = Page(html)
    (csp,) = [
        a["content"] for t, a in page.elements if a.get("http-equiv") == "Content-Security-Policy"
    ]
    assert (
        "default-src 'none'" in csp
        and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    )
    (code,) = [t for a, t in page.scripts if "type" not in a]
    digest = base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in csp
    js = _static("report.js")
    assert code == js and "</script" not in js.lower()
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(", js)


def test_size_of_a_50_model_30_group_report() -> None:
    html = render_html(make_results(n_models=50, n_groups=30))
    assert len(html.encode("utf-8")) < 5 * 1024 * 1024


def test_formatting() -> None:
    assert fmt_value(0.7123, True) == "71.2%"
    assert fmt_value(None, True) == fmt_value(math.nan, False) == "—"
    assert fmt_value(0.4123, False) == "0.412"
    assert fmt_delta(-0.004, True) == "\u22120.4 pt"  # the minus sign
    assert fmt_delta(0.031, True) == "+3.1 pt"
    assert fmt_delta(0.0123, False) == "+0.012"


@pytest.mark.parametrize(
    ("values", "percent"),
    [([0.61, 0.70], True), ([0.6, 0.7], True), ([0.45, 0.56], False), ([100, 5000], False)],
)
def test_axis_ticks_are_round_and_exact(values: list[float], percent: bool) -> None:
    ax = axis(values, percent=percent)
    assert 3 <= len(ax["ticks"]) <= 8
    for value, label in ax["ticks"]:
        assert ax["domain"][0] <= value <= ax["domain"][1]
        shown = float(label.rstrip("%")) / (100 if percent else 1)
        assert shown == pytest.approx(value)  # the label is not rounded


def test_public_api() -> None:
    for name in report.__all__:
        obj = getattr(report, name)
        assert obj.__doc__ or name == "SCHEMA_VERSION", name


# ---------------------------------------------------------------- writing


def test_write_report_is_atomic_and_refuses_to_overwrite(tmp_path: Path) -> None:
    results = make_results(n_models=4, n_groups=3)
    path = tmp_path / "deep" / "er" / "report.html"
    assert write_report(results, path) == path
    first = path.read_text(encoding="utf-8")
    assert first.startswith("<!DOCTYPE html>")
    with pytest.raises(FileExistsNoForceError, match="force=True") as err:
        write_report(results, path)
    assert str(err.value) == MSG_FILE_EXISTS.format(path=path)
    results["title"] = "Second"
    write_report(results, path, force=True)
    assert "Second" in path.read_text(encoding="utf-8")
    assert sorted(p.name for p in path.parent.iterdir()) == ["report.html"]  # no temp files


def test_write_report_leaves_nothing_when_results_are_bad(tmp_path: Path) -> None:
    results = make_results(n_models=3, n_groups=2)
    del results["groups"]
    with pytest.raises(DataValidationError, match="'groups'"):
        write_report(results, tmp_path / "r.html")
    assert list(tmp_path.iterdir()) == []


def test_save_and_load_results(tmp_path: Path) -> None:
    results = make_results(n_models=4, n_groups=3)
    results["models"][1]["scores"]["worst_group_log_loss"] = math.nan
    results["models"][2]["val_scores"]["worst_group_log_loss"] = math.inf
    original = copy.deepcopy(results)
    path = save_results(results, tmp_path / "out" / "results.json")
    text = path.read_text(encoding="utf-8")
    assert "NaN" not in text and "Infinity" not in text
    loaded = load_results(path)
    assert loaded["models"][1]["scores"]["worst_group_log_loss"] is None
    assert loaded["models"][2]["val_scores"]["worst_group_log_loss"] is None
    assert math.isnan(results["models"][1]["scores"]["worst_group_log_loss"])  # not mutated
    loaded["models"][1]["scores"]["worst_group_log_loss"] = original["models"][1]["scores"][
        "worst_group_log_loss"
    ]
    assert render_html(loaded) == render_html(load_results(path))
    with pytest.raises(FileExistsNoForceError, match="force=True"):
        save_results(results, path)
    save_results(results, path, force=True)


def test_load_results_rejects_bad_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(DataValidationError, match="not a valid results file"):
        load_results(bad)
    bad.write_text(json.dumps({"schema_version": 1, "title": "x"}), encoding="utf-8")
    with pytest.raises(DataValidationError, match="'created'"):
        load_results(bad)
