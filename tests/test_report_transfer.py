"""The transfer section of the report: the optional ``transfer`` key and its rendering."""

from __future__ import annotations

import copy
import json
import re
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from report_fixtures import make_results

from fairmtl.exceptions import DataValidationError, FileExistsNoForceError
from fairmtl.report import (
    TRANSFER_VERSION,
    render_html,
    render_transfer_html,
    validate_results,
    validate_transfer,
    write_transfer_report,
)
from fairmtl.report._context import MAX_TRANSFER_GROUPS
from fairmtl.report._heatmap import VIRIDIS, heat_colour

HOSTILE = '<script>alert("x")</script>&"\''


def make_summary(names: list[str], *, hurt: tuple[int, ...] = (0,)) -> dict[str, Any]:
    """A schema-valid transfer summary without fitting: two clusters, some groups hurt."""
    n = len(names)
    clusters = {g: i % 2 for i, g in enumerate(names)}
    groups = []
    for i, g in enumerate(names):
        gain = -0.05 if i in hurt else 0.01 * (i % 3)
        lo, hi = (gain - 0.02, gain + 0.02) if i in hurt else (gain - 0.04, gain + 0.04)
        verdict = "hurt" if i in hurt else "unclear"
        cell = {"independent": 0.5, "pooled": 0.5 - gain, "gain": gain, "lo": lo, "hi": hi}
        groups.append(
            {
                "group": g,
                "n_train": 50 + i,
                "n_test": 40,
                "cluster": clusters[g],
                "alignment": None if i == 1 else 0.5,
                "misaligned": i in hurt,
                "gain": {
                    "offset": {**cell, "verdict": verdict},
                    "shared": {**cell, "verdict": "unclear"},
                },
            }
        )
    matrix = [
        [
            1.0 if i == j else (0.7 if clusters[a] == clusters[b] else -0.3)
            for j, b in enumerate(names)
        ]
        for i, a in enumerate(names)
    ]
    if n > 2:
        matrix[1][2] = None  # a missing value (NaN saved as null)
    hurt_names = [names[i] for i in hurt]
    return {
        "version": TRANSFER_VERSION,
        "task": "classification",
        "loss": "log_loss",
        "confidence": 0.95,
        "n_boot": 50,
        "reference": "offset",
        "schemes": ["offset", "shared"],
        "groups": groups,
        "affinity": {
            "measure": "coefficient",
            "range": [-1.0, 1.0],
            "labels": list(names),
            "matrix": matrix,
            "clusters": clusters,
            "n_clusters": 2,
            "silhouette": {2: 0.4, 3: 0.2},
        },
        "hurt": {"offset": hurt_names, "shared": []},
        "gains": {"offset": [], "shared": []},
        "misaligned": hurt_names,
        "misaligned_rule": "alignment",
        "reading": f"{', '.join(hurt_names)} loses from offset pooling.",
    }


class Svg(HTMLParser):
    """Counts the gain bars and heatmap cells, and collects every text and attribute."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.bars: list[dict[str, str | None]] = []
        self.cells: list[dict[str, str | None]] = []
        self.tags: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append(tag)
        self._in_script = tag == "script"
        cls = (a.get("class") or "").split()
        if tag == "rect" and "gain" in cls:
            self.bars.append(a)
        if tag == "rect" and "cell" in cls:
            self.cells.append(a)

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)
            self._in_script = False


# ---------------------------------------------------------------- schema


def test_results_without_transfer_are_unchanged() -> None:
    results = make_results()
    validate_results(results)
    html = render_html(results)
    assert 'id="transfer"' not in html and "Which groups help each other" not in html
    results["transfer"] = None  # null reads as absent
    assert render_html(results) == html


def test_transfer_key_is_validated_when_present() -> None:
    results = make_results()
    results["transfer"] = make_summary(["a", "b", "c"])
    validate_results(results)
    json.loads(json.dumps(results))  # plain data

    bad = copy.deepcopy(results)
    del bad["transfer"]["reading"]
    with pytest.raises(DataValidationError, match=r"transfer\.reading"):
        validate_results(bad)
    bad = copy.deepcopy(results)
    bad["transfer"]["groups"][1]["gain"]["offset"]["lo"] = "low"
    with pytest.raises(DataValidationError, match=r"transfer\.groups\[1\]\.gain\.offset\.lo"):
        validate_results(bad)
    bad = copy.deepcopy(results)
    bad["transfer"]["affinity"]["matrix"][0].pop()
    with pytest.raises(DataValidationError, match="square matrix"):
        validate_results(bad)
    bad = copy.deepcopy(results)
    bad["transfer"]["affinity"]["labels"][0] = "nope"
    with pytest.raises(DataValidationError, match="'nope'"):
        validate_results(bad)
    bad = copy.deepcopy(results)
    bad["transfer"]["version"] = TRANSFER_VERSION + 1
    with pytest.raises(DataValidationError, match="version"):
        validate_results(bad)
    with pytest.raises(DataValidationError, match="reference"):
        summary = make_summary(["a", "b"])
        summary["reference"] = "clustered"
        validate_transfer(summary, "")


def test_summary_of_the_library_is_valid() -> None:
    from fairmtl.datasets import make_hospitals
    from fairmtl.transfer import SUMMARY_VERSION, transfer_summary

    assert SUMMARY_VERSION == TRANSFER_VERSION
    data = make_hospitals(4, n_samples=500, n_features=3, task="regression", random_state=0)
    summary = transfer_summary(
        data.data, data.target, groups=data.groups, schemes=["offset"], n_boot=20, random_state=0
    )
    validate_transfer(summary, "")
    validate_transfer(json.loads(json.dumps(summary)), "")  # silhouette keys become strings
    html = render_transfer_html(summary)
    assert summary["reading"] in html.replace("&#39;", "'")


# ---------------------------------------------------------------- rendering


def test_one_bar_per_group_and_one_cell_per_pair() -> None:
    names = [f"g{i:02d}" for i in range(7)]
    results = make_results()
    results["transfer"] = make_summary(names, hurt=(0, 3))
    for html in (render_html(results), render_transfer_html(results["transfer"])):
        page = Svg(html)
        assert len(page.bars) == len(names)
        assert len(page.cells) == len(names) ** 2
        assert sum("hurt" in (b.get("class") or "") for b in page.bars) == 2
        assert "g00, g03 loses from offset pooling." in html
    assert '<a href="#transfer">' in render_html(results)


def test_hostile_group_names_are_escaped() -> None:
    names = [HOSTILE, "ok", HOSTILE + "2"]
    summary = make_summary(names, hurt=(0,))
    results = make_results()
    results["transfer"] = summary
    for html in (render_html(results), render_transfer_html(summary)):
        page = Svg(html)
        assert "<script>alert" not in html
        assert 'alert("x")' not in html
        assert (
            "&lt;script&gt;alert(&#34;x&#34;)" in html
            or "&lt;script&gt;alert(&quot;x&quot;)" in html
        )
        assert page.tags.count("script") == len(page.scripts)  # only the page's own scripts
        assert not any("alert" in s for s in page.scripts)


def test_standalone_page_keeps_the_csp() -> None:
    import base64
    import hashlib

    html = render_transfer_html(make_summary(["a", "b", "c"]))
    found = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert found is not None
    csp = unescape(found.group(1))
    assert "default-src 'none'" in csp
    (script,) = Svg(html).scripts
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in csp
    assert not re.search(r'(src|href)="(https?:)?//', html)


def test_many_groups_are_capped_with_a_note() -> None:
    names = [f"h{i:03d}" for i in range(MAX_TRANSFER_GROUPS + 15)]
    summary = make_summary(names, hurt=(70, 72))
    html = render_transfer_html(summary)
    page = Svg(html)
    assert len(page.cells) == MAX_TRANSFER_GROUPS**2
    assert len(page.bars) == MAX_TRANSFER_GROUPS
    assert f"{MAX_TRANSFER_GROUPS} of {len(names)} groups are drawn" in html
    heat = html[html.index('id="affinity-heatmap"') :]
    assert "h070" in heat and "h072" in heat  # the hurt groups are among those drawn


def test_heat_colours() -> None:
    assert heat_colour(-1.0, (-1, 1)) == VIRIDIS[0]
    assert heat_colour(1.0, (-1, 1)) == VIRIDIS[-1]
    assert heat_colour(5.0, (-1, 1)) == VIRIDIS[-1]
    assert heat_colour(None, (-1, 1)) != heat_colour(0.0, (-1, 1))


def test_write_transfer_report_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "t.html"
    summary = make_summary(["a", "b"])
    assert write_transfer_report(summary, path) == path
    with pytest.raises(FileExistsNoForceError):
        write_transfer_report(summary, path)
    write_transfer_report(summary, path, force=True)
    with pytest.raises(DataValidationError):
        write_transfer_report({"version": 1}, tmp_path / "bad.html")
    assert not (tmp_path / "bad.html").exists()
