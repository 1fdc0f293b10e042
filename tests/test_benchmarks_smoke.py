"""Smoke run of the benchmark harness (``python -m benchmarks --smoke``) on tiny data.

It exercises every code path of the harness (timing, memory, each kind of method,
evaluation, tables, JSON, plots, a missing and a failing suite) in seconds; the real
numbers come from ``make bench-quick`` / ``make bench``.
"""

from __future__ import annotations

import json
import math
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

bench_main = pytest.importorskip("benchmarks.__main__")
common = pytest.importorskip("benchmarks._common")


def _fake_loader(name: str):
    """convex is the real suite; dual raises; neural is missing; frontier has rows."""
    if name == "convex":
        import benchmarks._convex as convex

        return convex
    if name == "dual":

        def run(quick, *, smoke=False):
            raise RuntimeError("solver exploded")

        return types.SimpleNamespace(run=run)
    if name == "frontier":

        def run(quick, *, smoke=False):
            return [
                {
                    "dataset": "toy",
                    "method": "fairmtl frontier",
                    "seconds": 1.5,
                    "ratio": 2.0,
                    "hypervolume": 0.7,
                    "headline": "toy frontier headline",
                }
            ]

        return types.SimpleNamespace(run=run)
    err = ModuleNotFoundError(f"No module named 'benchmarks._{name}'")
    err.name = f"benchmarks._{name}"
    raise err


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    code = bench_main.main(
        ["--smoke", "--out", str(out), "--suite", "convex", "--suite", "dual"]
        + ["--suite", "neural", "--suite", "frontier"],
        loader=_fake_loader,
    )
    assert code == 0
    return out, json.loads((out / "results.json").read_text())


def test_smoke_writes_results_and_tables(smoke_run):
    out, results = smoke_run
    assert results["schema"] == bench_main.SCHEMA
    convex = results["suites"]["convex"]
    assert convex["status"] == "ok"
    rows = convex["rows"]
    methods = {r["method"] for r in rows}
    for expected in (
        "scikit-learn LogisticRegression pooled",
        "scikit-learn Ridge pooled",
        "scikit-learn per-group",
        "fairmtl shared minimax (exact)",
        "fairmtl shared minimax (solver=auto)",
        "fairmtl shared bounded (exact)",
        "cvxpy direct minimax (CLARABEL)",
        "fairlearn ThresholdOptimizer (demographic_parity)",
        "fairlearn GridSearch (DP)",
        "fairlearn ExponentiatedGradient (BGL)",
    ):
        assert expected in methods
    timed = [r for r in rows if r.get("seconds") is not None]
    assert timed and all(r["seconds"] > 0 and r["runs"] >= 1 for r in timed)
    assert all(math.isfinite(r["ratio"]) for r in timed)
    pooled = [r for r in rows if r["method"].endswith("pooled")]
    assert all(r["ratio"] == 1.0 for r in pooled)
    clf = [r for r in timed if r.get("task") == "classification"]
    assert all(0 <= r["accuracy"] <= 1 and 0 <= r["worst_group_accuracy"] <= 1 for r in clf)
    assert all(r["worst_group_accuracy"] <= r["accuracy"] + 1e-12 for r in clf)
    assert all("dp_diff" in r and "eo_diff" in r for r in clf)
    # minimax does not raise the worst training loss above the average (shared) fit's
    by = {(r["dataset_key"], r["method"]): r for r in timed}
    key = "hospitals_classification_3_300"
    assert (
        by[(key, "fairmtl shared minimax (exact)")]["worst_group_loss_train"]
        <= by[(key, "fairmtl shared average (exact)")]["worst_group_loss_train"] + 1e-6
    )
    text = (out / "RESULTS.md").read_text()
    assert "| fairmtl shared minimax (exact) |" in text
    assert "Load average" in text and "Python" in text


def test_smoke_reports_missing_and_failing_suites(smoke_run):
    out, results = smoke_run
    suites = results["suites"]
    assert suites["dual"]["status"] == "error"
    assert "solver exploded" in suites["dual"]["error"]
    assert suites["neural"]["status"] == "missing"
    assert suites["frontier"]["status"] == "ok"
    text = (out / "RESULTS.md").read_text()
    assert "**Failed**" in text and "solver exploded" in text
    assert "does not exist yet" in text
    assert "| toy | fairmtl frontier |" in text
    assert "toy frontier headline" in text


def test_smoke_draws_the_scaling_curves(smoke_run):
    out, _ = smoke_run
    from benchmarks._plots import PLOT_FILES, have_matplotlib

    if not have_matplotlib():
        pytest.skip("matplotlib is not installed: no plots")
    png = out / PLOT_FILES["rows"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert PLOT_FILES["rows"] in (out / "RESULTS.md").read_text()


def test_results_of_other_suites_are_kept():
    old = {"schema": bench_main.SCHEMA, "suites": {"dual": {"status": "ok", "rows": [1]}}}
    new = {"schema": bench_main.SCHEMA, "suites": {"convex": {"status": "ok", "rows": []}}}
    merged = bench_main.merge_results(old, new)
    assert list(merged["suites"]) == ["convex", "dual"]
    assert bench_main.merge_results({"rows": []}, new)["suites"].keys() == {"convex"}


def test_measure_takes_the_median_and_respects_the_budget():
    calls = []

    def fn():
        calls.append(1)
        return len(calls)

    m = common.measure(fn, repeats=5)
    assert m.runs == 5 and m.result == 5 and m.seconds >= 0 and m.peak_mb is not None
    calls.clear()
    m = common.measure(fn, repeats=5, budget_s=0.0)
    assert m.runs == 1


def test_table_and_json_formatting(tmp_path):
    table = common.markdown_table(
        [{"a": 1.23456, "b": float("nan"), "c": "x|y"}], [("a", "A"), ("b", "B"), ("c", "C")]
    )
    assert "| 1.23 | — | x\\|y |" in table
    common.write_json(tmp_path / "r.json", {"x": float("nan"), "y": [1, 2.5]})
    assert json.loads((tmp_path / "r.json").read_text()) == {"x": None, "y": [1, 2.5]}


def test_readme_headline_block_is_replaced(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{bench_main.README_START}\nold\n{bench_main.README_END}\nend\n")
    results = {"suites": {}}
    assert bench_main.update_readme(readme, results)
    text = readme.read_text()
    assert "old" not in text and text.startswith("intro") and text.endswith("end\n")


def test_render_rebuilds_results_md_from_saved_results(smoke_run, tmp_path):
    out, results = smoke_run
    target = tmp_path / "again"
    target.mkdir()
    (target / "results.json").write_text(json.dumps(results))
    assert bench_main.main(["--render", "--out", str(target)]) == 0
    text = (target / "RESULTS.md").read_text()
    assert "toy frontier headline" in text and "solver exploded" in text
    assert bench_main.main(["--render", "--out", str(tmp_path / "empty")]) == 1


def test_dual_headline_is_built_from_the_rows():
    dual = pytest.importorskip("benchmarks._dual")
    kdd = "census_kdd (199,523 rows x 503 features, 10 groups)"
    rows = [
        {"dataset": kdd, "method": "fairmtl dual minimax (shared)", "ratio": 6.0,
         "relative_gap": 5e-5, "peak_mb": 700.0, "seconds": 30.0},
        {"dataset": kdd, "method": "fairmtl dual minimax (offset)", "ratio": 8.0,
         "relative_gap": 2e-4, "peak_mb": 700.0, "seconds": 40.0},
    ]  # fmt: skip
    lines = dual.headline(rows)
    assert len(lines) == 1 and "6.00x" in lines[0] and "offset sharing 8.00x" in lines[0]
    assert "target" not in lines[0]  # measurements only, no verdicts
    rows += [
        {"dataset": "hospitals (1,000,000 rows, 30 hospitals)", "n_rows": 1_000_000,
         "n_groups": 30, "method": "fairmtl dual minimax (shared)", "seconds": 19.0,
         "peak_mb": 199.0, "relative_gap": 3e-5},
        {"dataset": "hospitals (100,000 rows, 500 hospitals)", "n_rows": 100_000,
         "n_groups": 500, "method": "fairmtl dual minimax (offset)", "seconds": 60.0,
         "peak_mb": 40.0, "relative_gap": 9e-5},
    ]  # fmt: skip
    lines = dual.headline(rows)
    assert "largest certified relative gap of the suite is 2.0e-04" in lines[-1]
    assert "shared 19 s (peak 199 MiB)" in lines[-1] and "offset 60 s" in lines[-1]
