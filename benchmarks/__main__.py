"""Run the benchmarks; write benchmarks/RESULTS.md, benchmarks/results.json and the plots.

Usage::

    python -m benchmarks [--quick] [--suite convex|dual|neural|frontier|transfer|generalisation|all ...]
                         [--repeats N] [--smoke] [--out DIR]

``--quick`` (``make bench-quick``) runs small versions of every suite, in under 10 minutes
on 2 idle cores; the full run (``make bench``) takes hours (see benchmarks/README.md).
``--smoke`` runs the harness's code paths on tiny data in seconds and writes to a
temporary folder unless ``--out`` is given (the test suite uses it).

A suite is the module ``benchmarks._<name>`` with ``run(quick: bool) -> list[dict]``
(rows with at least ``dataset``, ``method``, ``seconds``, ``ratio``; optional keyword
arguments ``repeats``, ``smoke`` and ``log`` are passed when ``run`` accepts them). A suite
whose module is missing or that raises is reported as such; the others still run.
Results of suites not run this time are kept from ``results.json``, each with the date,
command and machine of its own run, and RESULTS.md is written from all of them.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks._common import load_average, machine_info, to_jsonable, write_json
from benchmarks._markdown import (  # noqa: F401  (the README markers are read by tests)
    README_END,
    README_START,
    results_markdown,
    update_readme,
)
from fairmtl.data import atomic_write_text

HERE = Path(__file__).parent
SUITES = ("convex", "dual", "neural", "frontier", "transfer", "generalisation", "distributed")
SCHEMA = "fairmtl-benchmarks/1"


# -- running ------------------------------------------------------------------------------
def _log_factory(t0: float) -> Callable[[str], None]:
    def log(message: str) -> None:
        print(f"[{time.perf_counter() - t0:7.1f} s] {message}", flush=True)

    return log


def run_suite(
    name: str,
    *,
    quick: bool,
    repeats: int,
    smoke: bool,
    log: Callable[[str], None],
    loader: Callable[[str], Any] | None = None,
) -> dict[str, Any]:
    """Import and run one suite; its rows, or why there are none. Never raises."""
    loader = loader or (lambda n: importlib.import_module(f"benchmarks._{n}"))
    record: dict[str, Any] = {"suite": name, "rows": []}
    c0, t0 = time.process_time(), time.perf_counter()
    try:
        module = loader(name)
    except ModuleNotFoundError as e:
        if e.name == f"benchmarks._{name}":
            record.update(status="missing", error=f"benchmarks/_{name}.py does not exist yet")
        else:
            record.update(status="error", error=_format_error(e), traceback=_tb(e))
        log(f"suite {name}: {record['error']}")
        return record
    except Exception as e:
        record.update(status="error", error=_format_error(e), traceback=_tb(e))
        log(f"suite {name}: import failed: {record['error']}")
        return record
    run = getattr(module, "run", None)
    if run is None:
        record.update(status="error", error=f"benchmarks._{name} has no run(quick) function")
        return record
    params = inspect.signature(run).parameters
    kwargs: dict[str, Any] = {}
    if smoke:
        if "smoke" not in params:
            record.update(status="skipped", error="no smoke mode: run without --smoke")
            log(f"suite {name}: skipped in smoke mode")
            return record
        kwargs["smoke"] = True
    if "repeats" in params:
        kwargs["repeats"] = repeats
    if "log" in params:
        kwargs["log"] = log
    log(f"suite {name}: start ({'smoke' if smoke else 'quick' if quick else 'full'})")
    try:
        rows = run(quick, **kwargs)
        record.update(status="ok", rows=[dict(r) for r in rows])
    except Exception as e:  # one failing suite must not sink the others
        record.update(status="error", error=_format_error(e), traceback=_tb(e))
        log(f"suite {name}: failed: {record['error']}")
    record["wall_seconds"] = time.perf_counter() - t0
    record["cpu_seconds"] = time.process_time() - c0
    log(f"suite {name}: {record['status']} in {record['wall_seconds']:.0f} s")
    return record


def _format_error(e: BaseException) -> str:
    return traceback.format_exception_only(type(e), e)[-1].strip()[:500]


def _tb(e: BaseException) -> str:
    return "".join(traceback.format_exception(type(e), e, e.__traceback__))[-4000:]


# -- results.json -------------------------------------------------------------------------
def merge_results(previous: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """Suites of this run replace their earlier results; the others are kept."""
    suites: dict[str, Any] = {}
    if previous and previous.get("schema") == SCHEMA:
        suites.update(previous.get("suites", {}))
    suites.update(new["suites"])
    order = [s for s in SUITES if s in suites] + [s for s in suites if s not in SUITES]
    return {**new, "suites": {s: suites[s] for s in order}}


def _read_json(path: Path) -> dict[str, Any] | None:
    import json

    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


# -- main ---------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="small versions (under 10 minutes)")
    parser.add_argument(
        "--suite",
        action="append",
        choices=[*SUITES, "all"],
        help="suite to run (repeat for several; default: all)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed fits per method (median)")
    parser.add_argument("--smoke", action="store_true", help="tiny data, seconds (for tests)")
    parser.add_argument("--out", type=Path, default=None, help="output folder")
    parser.add_argument(
        "--render",
        action="store_true",
        help="run nothing: rewrite RESULTS.md, the plots and the READMEs from results.json",
    )
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


def main(argv: list[str] | None = None, *, loader: Callable[[str], Any] | None = None) -> int:
    args = parse_args(argv)
    names = (
        list(SUITES) if not args.suite or "all" in args.suite else list(dict.fromkeys(args.suite))
    )
    out = args.out
    if out is None:
        out = Path(tempfile.mkdtemp(prefix="fairmtl-bench-smoke-")) if args.smoke else HERE
    out.mkdir(parents=True, exist_ok=True)
    if args.render:
        return render(out)
    t0, c0 = time.perf_counter(), time.process_time()
    log = _log_factory(t0)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    command = "python -m benchmarks" + " ".join(
        [""]
        + (["--quick"] if args.quick else [])
        + (["--smoke"] if args.smoke else [])
        + [f"--suite {n}" for n in (args.suite or [])]
        + ([f"--repeats {args.repeats}"] if args.repeats != 3 else [])
    )
    machine = machine_info()
    log(f"{command}: suites {', '.join(names)}; writing to {out}")
    records = {
        n: run_suite(
            n, quick=args.quick, repeats=args.repeats, smoke=args.smoke, log=log, loader=loader
        )
        for n in names
    }
    machine["load_average_end"] = load_average()
    run = {
        "command": command,
        "mode": mode,
        "repeats": args.repeats,
        "machine": machine,
        "wall_seconds": time.perf_counter() - t0,
        "cpu_seconds": time.process_time() - c0,
    }
    for record in records.values():
        record["run"] = run
    new = {"schema": SCHEMA, "last_run": run, "suites": records}
    previous = _read_json(out / "results.json")
    results = to_jsonable(merge_results(previous, new))
    write_outputs(out, results, readmes=not args.smoke)
    log(f"wrote {out / 'RESULTS.md'} and results.json in {time.perf_counter() - t0:.0f} s")
    failed = [n for n, r in records.items() if r["status"] == "error"]
    if failed:
        log(f"suites that failed: {', '.join(failed)} (see RESULTS.md)")
    return 0


def render(out: Path) -> int:
    """Rewrite the outputs from ``out/results.json`` (nothing is run)."""
    results = _read_json(out / "results.json")
    if results is None:
        print(f"no results to render: {out / 'results.json'} is missing or unreadable")
        return 1
    write_outputs(out, results, readmes=True)
    print(f"wrote {out / 'RESULTS.md'} from results.json")
    return 0


def write_outputs(out: Path, results: dict[str, Any], *, readmes: bool) -> None:
    """results.json, the plots, RESULTS.md and (in benchmarks/) both READMEs' headline."""
    plots: dict[str, str] = {}
    convex = results["suites"].get("convex")
    if convex and convex.get("status") == "ok":
        from benchmarks._plots import scaling_plots

        plots = scaling_plots(convex["rows"], out)
    write_json(out / "results.json", results)
    atomic_write_text(out / "RESULTS.md", results_markdown(results, plots), force=True)
    if readmes and out.resolve() == HERE.resolve():
        for readme in (HERE / "README.md", HERE.parent / "README.md"):  # both quote it
            update_readme(readme, results)


if __name__ == "__main__":
    sys.exit(main())
