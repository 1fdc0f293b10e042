"""What every benchmark suite shares: timing, peak memory, the machine block, tables, JSON.

Timing. :func:`measure` runs a function several times and keeps the median wall time and
the median CPU time of the process (``time.process_time``). On a machine shared with other
work the wall time stretches while the CPU time barely moves, so both are recorded; every
comparison is a ratio of two medians measured in the same run.

Peak memory. On Linux the kernel's high-water mark of the resident set (``VmHWM`` in
``/proc/self/status``) is reset before each run by writing ``5`` to
``/proc/self/clear_refs``; the peak is ``VmHWM`` after the run minus the resident set
before it. This counts every allocation of the process (numpy, scikit-learn, and the
native code of solvers such as CLARABEL), costs nothing during the run, and does not slow
it down. Before each run the garbage collector runs and glibc's ``malloc_trim`` hands freed
heap memory back to the kernel (both outside the timed region), so that a run cannot hide
its allocations in memory an earlier run left resident. Where that file cannot be written, a separate untimed run under
:mod:`tracemalloc` measures the Python and numpy allocations instead (native allocations
of solvers are then not counted); the method used is recorded with the figure.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import datetime as dt
import gc
import json
import math
import os
import platform
import subprocess
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from fairmtl.data import atomic_write_text

__all__ = [
    "Measurement",
    "fmt",
    "load_average",
    "machine_info",
    "machine_markdown",
    "markdown_table",
    "measure",
    "memory_method",
    "to_jsonable",
    "write_json",
]

#: packages whose versions are recorded with every result
PACKAGES = (
    "fairmtl",
    "numpy",
    "scipy",
    "pandas",
    "scikit-learn",
    "cvxpy",
    "clarabel",
    "fairlearn",
    "torch",
    "matplotlib",
)

_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")


@dataclass
class Measurement:
    """Median wall and CPU time of ``runs`` calls, the peak memory, and the last result."""

    seconds: float
    cpu_seconds: float
    runs: int
    times: list[float]
    peak_mb: float | None
    memory_method: str
    result: Any = field(default=None, repr=False)

    def as_row(self) -> dict[str, Any]:
        """The numbers, without the result, for a table row."""
        out = asdict(self)
        out.pop("result")
        return out


def _status_kb(key: str) -> float | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(key + ":"):
                return float(line.split()[1])
    except OSError:
        return None
    return None


def _reset_hwm() -> bool:
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def _libc_trim() -> Callable[[], None]:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return lambda: None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return lambda: trim(0)


_trim = _libc_trim()


def memory_method() -> str:
    """How :func:`measure` measures peak memory on this machine."""
    if _reset_hwm() and _status_kb("VmHWM") is not None:
        return "rss-hwm"
    return "tracemalloc"


def measure(
    fn: Callable[[], Any],
    repeats: int = 3,
    *,
    budget_s: float | None = None,
    memory: bool = True,
) -> Measurement:
    """Call ``fn`` up to ``repeats`` times; median wall and CPU time, and peak memory.

    Parameters
    ----------
    fn : callable
        Called without arguments; its last return value is kept in ``result``.
    repeats : int, default=3
        The number of timed calls (at least one).
    budget_s : float, default=None
        Stop repeating once the calls so far took this many seconds in all (the first
        call always runs): an expensive method then gets fewer runs, recorded in ``runs``.
    memory : bool, default=True
        Measure the peak memory (``peak_mb``: the largest increase of the resident set
        over a run, in MiB). Without ``/proc/self/clear_refs`` it is measured by one extra
        untimed run under tracemalloc.
    """
    method = memory_method() if memory else "none"
    walls: list[float] = []
    cpus: list[float] = []
    peaks: list[float] = []
    result = None
    for _ in range(max(1, repeats)):
        gc.collect()
        if method == "rss-hwm":
            _trim()
            _reset_hwm()
            before = _status_kb("VmRSS") or 0.0
        c0, t0 = time.process_time(), time.perf_counter()
        result = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
        if method == "rss-hwm":
            peaks.append(max(0.0, (_status_kb("VmHWM") or 0.0) - before) / 1024.0)
        if budget_s is not None and sum(walls) >= budget_s:
            break
    if method == "tracemalloc":
        tracemalloc.start()
        try:
            fn()
            peaks.append(tracemalloc.get_traced_memory()[1] / 2**20)
        finally:
            tracemalloc.stop()
    return Measurement(
        seconds=float(np.median(walls)),
        cpu_seconds=float(np.median(cpus)),
        runs=len(walls),
        times=[round(t, 4) for t in walls],
        peak_mb=float(max(peaks)) if peaks else None,
        memory_method=method,
        result=result,
    )


# -- the machine -------------------------------------------------------------------------
def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages, or None where the OS has none."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(float(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args],
            capture_output=True,
            text=True,
            timeout=10,
            cwd=Path(__file__).parent,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _git_commit() -> str | None:
    """The commit, with ``+ uncommitted changes`` when tracked package files differ."""
    commit = _git("rev-parse", "--short", "HEAD")
    if not commit:
        return None
    dirty = _git("status", "--porcelain", "--untracked-files=no", "--", "fairmtl")
    return f"{commit} + uncommitted changes to fairmtl/" if dirty else commit


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def machine_info() -> dict[str, Any]:
    """The machine, the software and the date of a run."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    threads = {
        k: os.environ[k]
        for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
        if k in os.environ
    }
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "memory_gib": _memory_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": {p: v for p in PACKAGES if (v := _version(p)) is not None},
        "thread_env": threads,
        "git_commit": _git_commit(),
        "load_average_start": load_average(),
        "memory_method": memory_method(),
    }


def machine_markdown(info: dict[str, Any]) -> str:
    """The machine block of RESULTS.md."""
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    lines = [
        f"- Date: {info['date']}"
        + (f", commit {info['git_commit']}" if info["git_commit"] else ""),
        f"- CPU: {info['cpu']}, {info['cores']} cores ({info['usable_cores']} usable), "
        f"{info['memory_gib']} GiB memory, {info['os']}",
        f"- Python {info['python']}; {versions}",
    ]
    if info.get("thread_env"):
        lines.append(f"- Thread settings: {info['thread_env']}")
    load0, load1 = info.get("load_average_start"), info.get("load_average_end")
    if load0 is not None:
        lines.append(
            f"- Load average (1/5/15 min) at the start {load0}"
            + (f", at the end {load1}" if load1 is not None else "")
            + f" on {info['cores']} cores: above the core count the machine was shared, "
            "wall times stretch and only the ratios (measured in the same run) compare."
        )
    memo = {
        "rss-hwm": "the growth of the process's resident set over one fit (kernel high-water "
        "mark, reset before each run: counts native solver memory too)",
        "tracemalloc": "Python and numpy allocations under tracemalloc (native solver "
        "memory not counted)",
    }
    lines.append(f"- Peak memory: {memo.get(info['memory_method'], info['memory_method'])}")
    return "\n".join(lines)


# -- formatting --------------------------------------------------------------------------
def fmt(value: Any, digits: int = 3) -> str:
    """A table cell: numbers to ``digits`` significant places, missing as an em dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        v = float(value)
        if math.isnan(v):
            return "—"
        if v == 0:
            return "0"
        if abs(v) >= 10 ** (digits + 1) or abs(v) < 10 ** (-digits):
            return f"{v:.{max(digits - 1, 1)}e}"
        return f"{v:.{digits}g}" if abs(v) < 10**digits else f"{v:,.0f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[tuple[str, str]],
    *,
    formats: dict[str, Callable[[Any], str]] | None = None,
) -> str:
    """A GitHub-flavoured table of ``rows``; ``columns`` are ``(key, header)`` pairs."""
    formats = formats or {}
    head = "| " + " | ".join(h for _, h in columns) + " |"
    align = "|" + "|".join(
        "---:" if any(isinstance(r.get(k), int | float) for r in rows) else "---"
        for k, _ in columns
    )
    lines = [head, align + "|"]
    for r in rows:
        cells = [formats.get(k, fmt)(r.get(k)) for k, _ in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def to_jsonable(value: Any) -> Any:
    """Plain JSON types; NaN and infinities become null."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        v = float(value)
        return v if math.isfinite(v) else None
    if value is None or isinstance(value, str):
        return value
    return str(value)


def write_json(path: Path, payload: Any) -> None:
    """Write ``payload`` as indented JSON (strict: no NaN)."""
    text = json.dumps(to_jsonable(payload), indent=2, allow_nan=False) + "\n"
    atomic_write_text(path, text, force=True)
