"""``fairmtl transfer``: reads a table, prints the reading, writes the page and JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import invoke

from fairmtl.datasets import make_hospitals
from fairmtl.report import validate_transfer


@pytest.fixture(scope="module")
def hospitals_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 hospitals in 2 planted clusters, with a categorical feature."""
    data = make_hospitals(
        8, n_samples=1600, n_features=4, n_clusters=2, cluster_separation=3.0, random_state=0
    )
    frame = data.frame.copy()
    frame["ward"] = ["a", "b", "c", "d"] * (len(frame) // 4) + ["a"] * (len(frame) % 4)
    path = tmp_path_factory.mktemp("transfer") / "hospitals.csv"
    frame.to_csv(path, index=False)
    return path


def test_transfer_writes_the_page_and_the_summary(hospitals_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports" / "transfer.html"
    args = [hospitals_csv, "--target", "y", "--group", "hospital", "-o", out, "--n-boot", 30]
    result = invoke("transfer", *args, "--drop", "ward", "--seed", 1)
    assert result.exit_code == 0, result.output
    summary = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    validate_transfer(summary, "")
    assert summary["reading"] in result.stdout
    assert summary["affinity"]["n_clusters"] >= 2
    html = out.read_text(encoding="utf-8")
    assert "Which groups help each other" in html
    assert html.count('class="cell"') == len(summary["groups"]) ** 2

    again = invoke("transfer", *args)
    assert again.exit_code == 1
    assert "--force" in again.stderr and "Traceback" not in again.output

    forced = invoke("transfer", *args, "--force", "--json")
    assert forced.exit_code == 0, forced.output
    printed = json.loads(forced.stdout)
    assert printed["report"] == str(out)
    assert printed["reading"] == json.loads(out.with_suffix(".json").read_text())["reading"]


def test_transfer_reports_a_missing_column(hospitals_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "t.html"
    result = invoke("transfer", hospitals_csv, "--target", "nope", "--group", "hospital", "-o", out)
    assert result.exit_code == 1
    assert "Error:" in result.stderr and "Traceback" not in result.output
    assert not out.exists()
