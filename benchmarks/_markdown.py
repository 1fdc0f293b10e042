"""RESULTS.md and the READMEs' headline, written from the results of the suites' runs.

Everything here reads the plain results (``results.json``'s content) and returns text: it
runs nothing, so the outputs can be rebuilt from saved results (``--render``).
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

from benchmarks._common import fmt, machine_markdown, markdown_table
from fairmtl.data import atomic_write_text

README_START = "<!-- headline:start (written by python -m benchmarks) -->"
README_END = "<!-- headline:end -->"

SUITE_TITLES = {
    "convex": "Convex suite: exact fits against scikit-learn, fairlearn and cvxpy called directly",
    "dual": "Dual suite: certified fits on large data",
    "neural": "Neural suite: the torch path against a plain Group DRO loop",
    "frontier": "Frontier suite: 20-fit frontiers, hypervolume and time",
    "transfer": "Transfer suite: which groups help each other",
    "generalisation": "Generalisation suite: the worst-off group on held-out rows, repeated splits",
    "distributed": "Distributed suite: one fit across a Dask cluster, rows read from Parquet",
}


# -- RESULTS.md ---------------------------------------------------------------------------
def _row(rows: list[dict[str, Any]], key: str, method: str) -> dict[str, Any] | None:
    for r in rows:
        if r.get("dataset_key") == key and r.get("method") == method:
            return r
    return None


def _x(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.2f}x" if value < 1 else f"{value:.1f}x"


def _minimax_sentence(r: dict[str, Any], what: str) -> str:
    gap = r.get("gap")
    gap_text = f", certified gap {fmt(gap)}" if gap is not None else ""
    return (
        f"{what} takes **{_x(r['ratio'])}** (CPU time {_x(r.get('cpu_ratio'))}; "
        f"median of {r['runs']} fit(s), status {r.get('status')}{gap_text})"
    )


def headline(results: dict[str, Any]) -> list[str]:
    """The headline ratios, as sentences, from the convex suite (and rows marked headline)."""
    lines: list[str] = []
    convex = results["suites"].get("convex")
    rows = convex["rows"] if convex and convex.get("status") == "ok" else []
    exact = _row(rows, "adult", "fairmtl shared minimax (exact)")
    auto = _row(rows, "adult", "fairmtl shared minimax (solver=auto)")
    timed = [r for r in (exact, auto) if r and r.get("ratio") is not None]
    if timed:
        first = timed[0]
        pooled = _row(rows, "adult", "scikit-learn LogisticRegression pooled") or {}
        sentences = []
        if exact and exact.get("ratio") is not None and not exact.get("reused"):
            sentences.append(_minimax_sentence(exact, "fairmtl's minimax fit on its exact path"))
        if auto and auto.get("ratio") is not None:
            sentences.append(
                _minimax_sentence(auto, f"with solver='auto' ({auto.get('path')} path) it")
            )
        lines.append(
            f"On Adult (race x sex: {first['n_train']:,} training rows, {first['n_features']} "
            f"features, {first['n_groups']} groups), against one scikit-learn "
            f"LogisticRegression fit on the same data ({fmt(pooled.get('seconds'))} s): "
            + "; ".join(sentences)
            + "."
        )
        parts = []
        for method, label in (
            ("fairmtl offset minimax (exact)", "offset-sharing minimax (exact)"),
            ("fairmtl shared bounded (exact)", "bounded, every group loss <= epsilon (exact)"),
            ("fairmtl shared bounded (solver=auto)", "bounded (solver='auto')"),
            ("cvxpy direct minimax (CLARABEL)", "the textbook minimax program in cvxpy"),
        ):
            r = _row(rows, "adult", method)
            if r and r.get("ratio") is not None:
                parts.append(f"{label} {_x(r['ratio'])} ({r.get('status')})")
        if parts:
            lines.append("Same data, same reference fit: " + "; ".join(parts) + ".")
        if pooled.get("worst_group_accuracy") is not None:
            lines.append(
                f"Minimax lowers the worst-group training loss from "
                f"{fmt(pooled.get('worst_group_loss_train'))} (pooled) to "
                f"{fmt(first.get('worst_group_loss_train'))}; held out, worst-group accuracy "
                f"{fmt(first.get('worst_group_accuracy'))} against "
                f"{fmt(pooled.get('worst_group_accuracy'))}, accuracy "
                f"{fmt(first.get('accuracy'))} against {fmt(pooled.get('accuracy'))}."
            )
        eg = [
            r
            for r in rows
            if r.get("dataset_key") == "adult"
            and r.get("method", "").startswith("fairlearn ExponentiatedGradient")
            and r.get("seconds") is not None
        ]
        if eg:
            low = min(r["seconds"] for r in eg) / first["seconds"]
            high = max(r["seconds"] for r in eg) / first["seconds"]
            span = f"{low:.1f}x" if len(eg) == 1 else f"{low:.1f}x to {high:.1f}x"
            lines.append(
                f"fairlearn's ExponentiatedGradient on Adult takes {span} the time of that "
                f"minimax fit ({len(eg)} constraint(s); worst-group test accuracy "
                + ", ".join(
                    f"{r['method'].split('(')[-1].rstrip(')')} {fmt(r.get('worst_group_accuracy'))}"
                    for r in eg
                )
                + f" against {fmt(first.get('worst_group_accuracy'))})."
            )
    for key in ("census_kdd_50000", "census_kdd_200000"):
        for method in ("fairmtl shared minimax (exact)", "fairmtl shared minimax (solver=auto)"):
            r = _row(rows, key, method)
            if r and r.get("ratio") is not None:
                lines.append(
                    f"On {r['n_train']:,} rows of Census KDD ({r['n_features']} features, "
                    f"{r['n_groups']} groups), {method} takes {_x(r['ratio'])} one scikit-learn "
                    f"fit (CPU {_x(r.get('cpu_ratio'))}), status {r.get('status')}."
                )
    for name, suite in results["suites"].items():
        for r in suite.get("rows", []):
            if r.get("headline"):
                lines.append(f"{r['headline']} ({name} suite)")
        lines += [f"{line} ({name} suite)" for line in _suite_headline(name, suite)]
    return lines


def _suite_headline(name: str, suite: dict[str, Any]) -> list[str]:
    """Sentences a suite module builds from its saved rows (its ``headline(rows)``)."""
    if suite.get("status") != "ok":
        return []
    try:
        module = importlib.import_module(f"benchmarks._{name}")
    except ImportError:
        return []
    build = getattr(module, "headline", None)
    return build(suite["rows"]) if callable(build) else []


def _machine_line(run: dict[str, Any]) -> str:
    m = run["machine"]
    load = ""
    if m.get("load_average_start") and m.get("load_average_end"):
        load = (
            f", 1-minute load average {m['load_average_start'][0]} at the start and "
            f"{m['load_average_end'][0]} at the end (shared machine: compare ratios)"
        )
    return (
        f"{m['cpu']}, {m['cores']} cores, Python {m['python']}; `{run['command']}` "
        f"on {m['date']}{load}"
    )


CONVEX_NOTES = """\
Every method of a dataset is fitted on the same training rows and the same preprocessed
features (one-hot categories, standardised numbers) and evaluated on the same held-out
rows (Adult: its test file; the others: a split stratified by group and label).
fairmtl's "(exact)" rows force the exact cvxpy path (`solver="CLARABEL"`);
"(solver=auto)" is the default, which takes the dual path (certified gap) on large
problems; where auto took the exact path, the exact row repeats that fit. Penalty
`1e-4 ||w||^2` on the mean loss everywhere (scikit-learn `C = 1 / (2e-4 n)`,
`Ridge(alpha = 1e-4 n)`). **fit s**: median wall time of **runs** fits (expensive
methods run fewer times, at least once); **x sklearn**: that median over the median of
the pooled scikit-learn fit on the same data, timed in the same run (before and after
the other methods); **x CPU**: the same ratio of process CPU times, which a busy machine
disturbs less. **peak MiB**: growth of the resident set during one fit. Accuracy, worst
group accuracy, demographic parity (DP) and equalised odds (EO) differences are on the
held-out rows (`fairmtl.metrics`); worst-group loss is the largest group mean log loss
(held out, and on the training rows, which is what minimax minimises). fairmtl bounded
and cvxpy bounded use the same epsilon, halfway between the minimax model's and the pooled
scikit-learn model's worst-group training loss. ThresholdOptimizer has no probabilities (no loss);
ExponentiatedGradient's loss uses its models' probabilities mixed by their weights.
BoundedGroupLoss bounds the zero-one (regression: squared) loss of each group at 0.9 x
the pooled model's worst group. Certified gap: where the solver gives one."""

#: the columns every method row of the convex suite starts and ends with
TIMING_COLUMNS = [
    ("method", "method"),
    ("seconds", "fit s"),
    ("runs", "runs"),
    ("ratio", "x sklearn"),
    ("cpu_ratio", "x CPU"),
    ("peak_mb", "peak MiB"),
]
STATUS_COLUMNS = [("gap", "certified gap"), ("status", "status")]
CLASSIFICATION_COLUMNS = [
    *TIMING_COLUMNS,
    ("accuracy", "accuracy"),
    ("worst_group_accuracy", "worst-group acc."),
    ("worst_group_loss", "worst-group loss"),
    ("worst_group_loss_train", "worst-group loss (train)"),
    ("dp_diff", "DP diff."),
    ("eo_diff", "EO diff."),
    *STATUS_COLUMNS,
]
REGRESSION_COLUMNS = [
    *TIMING_COLUMNS,
    ("mse", "MSE"),
    ("worst_group_mse", "worst-group MSE"),
    ("worst_group_loss_train", "worst-group MSE (train)"),
    *STATUS_COLUMNS,
]
HOSPITAL_COLUMNS = [
    ("n_hospitals", "hospitals"),
    ("n_rows", "rows"),
    *TIMING_COLUMNS,
    ("accuracy", "accuracy"),
    ("worst_group_accuracy", "worst-group acc."),
    ("worst_group_loss_train", "worst-group loss (train)"),
    ("status", "status"),
]
FORMATS = {
    "ratio": lambda v: "—" if v is None else f"{v:.2f}" if v < 10 else f"{v:.1f}",
    "cpu_ratio": lambda v: "—" if v is None else f"{v:.2f}" if v < 10 else f"{v:.1f}",
    "seconds": lambda v: "—" if v is None else f"{v:.3g}",
    "peak_mb": lambda v: "—" if v is None else f"{v:.0f}" if v >= 10 else f"{v:.1f}",
}


def _status_cell(r: dict[str, Any]) -> dict[str, Any]:
    r = dict(r)
    if r.get("skipped"):
        r["status"] = f"not run: {r['skipped']}"
    elif r.get("error"):
        r["status"] = f"error: {r['error']}"
    if r.get("note"):
        r["status"] = f"{r.get('status')} ({r['note']})"
    if r.get("epsilon") is not None:
        r["method"] = f"{r['method']} (eps {r['epsilon']:.4g})"
    return r


def convex_markdown(suite: dict[str, Any], plots: dict[str, str]) -> str:
    rows = [_status_cell(r) for r in suite["rows"]]
    parts = [CONVEX_NOTES, ""]
    seen: list[str] = []
    for r in rows:
        if r["dataset"] not in seen:
            seen.append(r["dataset"])
    hospitals = [r for r in rows if r.get("family") == "hospitals-classification"]
    for dataset in seen:
        group = [r for r in rows if r["dataset"] == dataset]
        if group[0].get("family") == "hospitals-classification":
            continue
        first = group[0]
        if first.get("n_train") is None:
            parts += [f"### {dataset}", "", f"Not run: {first.get('error')}", ""]
            continue
        parts.append(f"### {dataset}")
        parts.append("")
        parts.append(
            f"{first['n_train']:,} training rows, {first['n_test']:,} held-out rows, "
            f"{first['n_features']} features, {first['n_groups']} groups (smallest: "
            f"{first['smallest_group']:,} training rows)."
        )
        parts.append("")
        cols = REGRESSION_COLUMNS if first.get("task") == "regression" else CLASSIFICATION_COLUMNS
        parts.append(markdown_table(group, cols, formats=FORMATS))
        parts.append("")
    if hospitals:
        parts += [
            "### make_hospitals (classification): scaling in rows and hospitals",
            "",
            "Simulated hospitals of unequal sizes (Zipf), shifted populations and related "
            "but unequal true models; 8 features; the smallest hospitals have a few dozen "
            "rows. Methods are capped by size (the exact path at "
            "200,000 rows; fairlearn's reductions and the textbook program at 100,000 rows "
            "and 100 groups): larger problems are the dual suite's.",
            "",
            markdown_table(hospitals, HOSPITAL_COLUMNS, formats=FORMATS),
            "",
        ]
    for kind, caption in plots.items():
        from benchmarks._plots import PLOT_FILES

        parts += [f"![{caption}]({PLOT_FILES[kind]})", "", f"*{caption}.*", ""]
    if hospitals and not plots:
        parts += ["(No scaling plots: matplotlib is not installed.)", ""]
    return "\n".join(parts)


#: row keys not shown as columns: the headline text, and the pass/fail verdicts that older
#: runs stored (the tables give the measured ratios; readers judge them)
HIDDEN = frozenset({"headline", "target"})


def generic_markdown(suite: dict[str, Any]) -> str:
    rows = [_status_cell(r) for r in suite["rows"]]
    if not rows:
        return "(The suite returned no rows.)"
    keys: list[str] = []
    for r in rows:
        for k, v in r.items():
            if k not in keys and not isinstance(v, list | dict) and k not in HIDDEN:
                keys.append(k)
    first = ["dataset", "method", "seconds", "ratio"]
    ordered = [k for k in first if k in keys] + [k for k in keys if k not in first]
    if "status" in ordered:
        ordered.remove("status")
        ordered.append("status")
    return markdown_table(rows, [(k, k) for k in ordered], formats=FORMATS)


def suite_markdown(name: str, suite: dict[str, Any]) -> str:
    """The suite module's own ``markdown(rows)`` where it has one, else the generic table."""
    try:
        module = importlib.import_module(f"benchmarks._{name}")
        build = getattr(module, "markdown", None)
        if callable(build):
            return build(suite["rows"])
    except Exception:  # a module that moved on since the run: its rows as they are
        pass
    return generic_markdown(suite)


def _run_key(run: dict[str, Any]) -> tuple[str, str]:
    return (run["command"], run["machine"]["date"])


def results_markdown(results: dict[str, Any], plots: dict[str, str]) -> str:
    runs = {_run_key(s["run"]): s["run"] for s in results["suites"].values() if "run" in s}
    out = [
        "# Benchmark results",
        "",
        "Written by `python -m benchmarks` (`make bench`, `make bench-quick`) from its own "
        "measurements: do not edit by hand. The raw numbers are in `results.json`; how to "
        "run, what each suite measures and how long a run takes: `README.md`.",
        "",
        "## Headline",
        "",
    ]
    lines = headline(results)
    out += [f"- {line}" for line in lines] or [
        "- (No headline: the convex suite has no Adult results in this run.)"
    ]
    out += ["", "## Runs", ""]
    for run in runs.values():
        suites = [
            n
            for n, s in results["suites"].items()
            if "run" in s and _run_key(s["run"]) == _run_key(run)
        ]
        out.append(f"`{run['command']}` ({', '.join(suites)}):")
        out.append("")
        out.append(machine_markdown(run["machine"]))
        out.append(
            f"- This run (all of its suites) took {run['wall_seconds'] / 60:.1f} min wall time and "
            f"{run['cpu_seconds'] / 60:.1f} min CPU time"
            + (f" ({run['mode']} mode)." if run.get("mode") else ".")
        )
        out.append("")
    for name, suite in results["suites"].items():
        out.append(f"## {SUITE_TITLES.get(name, name)}")
        out.append("")
        status = suite.get("status")
        meta = suite.get("run", {})
        if suite.get("wall_seconds") is not None:
            out.append(
                f"Run: `{meta.get('command')}`, {meta.get('mode')} mode, "
                f"{suite['wall_seconds'] / 60:.1f} min wall, "
                f"{suite['cpu_seconds'] / 60:.1f} min CPU."
            )
            out.append("")
        if status == "missing":
            out += [f"Not run: {suite.get('error')}.", ""]
            continue
        if status == "skipped":
            out += [f"Skipped: {suite.get('error')}.", ""]
            continue
        if status == "error":
            out += [f"**Failed**: `{suite.get('error')}` (traceback in results.json).", ""]
            continue
        out.append(
            convex_markdown(suite, plots) if name == "convex" else suite_markdown(name, suite)
        )
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def update_readme(path: Path, results: dict[str, Any]) -> bool:
    """Replace the headline block of a README (benchmarks/ or fairmtl's); False if it
    has no markers."""
    try:
        text = path.read_text()
    except OSError:
        return False
    if README_START not in text or README_END not in text:
        return False
    runs = [s["run"] for n, s in results["suites"].items() if n == "convex" and "run" in s]
    lines = headline(results)
    block = [README_START, ""]
    if runs:
        block.append(f"Measured on {_machine_line(runs[0])} (from `benchmarks/RESULTS.md`):")
        block.append("")
    block += [f"- {line}" for line in lines] or ["- (No headline yet: run `make bench-quick`.)"]
    block += ["", README_END]
    pattern = re.compile(re.escape(README_START) + ".*?" + re.escape(README_END), re.S)
    atomic_write_text(path, pattern.sub(lambda _: "\n".join(block), text, count=1), force=True)
    return True
