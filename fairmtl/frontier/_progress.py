"""Progress of a frontier search: a bar on a terminal, plain periodic lines elsewhere.

A :class:`JobProgress` covers a whole search (preparing the sweep, the sweep's fits, each
baseline, the evaluation) once entered, e.g. by the command line around
``FrontierSearch.fit``. The steps announce themselves through :func:`stage` and
:func:`advance`, which do nothing when no job is being watched, so that the library
stays silent for Python users unless they ask. Without a job, the sweep alone shows
the transient bar it always had (:class:`sweep_progress`), on a terminal only.
"""

from __future__ import annotations

import contextvars
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, Any

__all__ = ["JobProgress", "advance", "stage", "sweep_progress"]

#: Seconds between two plain progress lines when the output is not a terminal.
PLAIN_INTERVAL = 10.0

_ACTIVE: contextvars.ContextVar[JobProgress | None] = contextvars.ContextVar(
    "fairmtl_job_progress", default=None
)


def _is_tty(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(callable(isatty) and isatty())


def _bar(stream: IO[str], *, eta: bool = False) -> Any:
    """A transient rich bar: the stage, its units done, elapsed time (and the ETA of a
    stage of known length)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns: list[Any] = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn()]
    columns += [MofNCompleteColumn(), TextColumn("fits")] if eta else [MofNCompleteColumn()]
    columns.append(TimeElapsedColumn())
    if eta:
        columns += [TextColumn("ETA"), TimeRemainingColumn()]
    return Progress(*columns, console=Console(file=stream, force_terminal=True), transient=True)


class JobProgress:
    """Watch a whole search: one bar (terminal) or a line every ``interval`` seconds.

    Parameters
    ----------
    stream : file-like, default=None
        Where progress goes; ``sys.stderr`` when None (never stdout: results go there).
    interval : float, default=10.0
        Seconds between plain lines when ``stream`` is not a terminal; a line is also
        written when a stage starts.
    enabled : bool, default=True
        False: show nothing (``--quiet``).
    clock : callable, default=time.monotonic
        For tests.

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> with JobProgress(out, clock=lambda: 0.0) as job:
    ...     stage("fitting baselines", total=2)
    ...     advance()
    >>> print(out.getvalue().strip())
    fairmtl: preparing (0 s)
    fairmtl: fitting baselines: 0/2 (0 s)
    fairmtl: done in 0 s
    """

    def __init__(
        self,
        stream: IO[str] | None = None,
        *,
        interval: float = PLAIN_INTERVAL,
        enabled: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.interval = interval
        self.enabled = enabled
        self.clock = clock
        self.name, self.total, self.done = "preparing", None, 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._bar: Any = None
        self._task: Any = None
        self._token: Any = None

    # -- the context -----------------------------------------------------------------
    def __enter__(self) -> JobProgress:
        self._out = self.stream if self.stream is not None else sys.stderr
        self._start = self.clock()
        self._token = _ACTIVE.set(self)
        if not self.enabled:
            return self
        if _is_tty(self._out):
            self._bar = _bar(self._out)
            self._bar.start()
            self._task = self._bar.add_task(self.name, total=None)
        else:
            self._line()
            self._thread = threading.Thread(target=self._tick, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        _ACTIVE.reset(self._token)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        if self._bar is not None:
            self._bar.stop()
        elif self.enabled and exc[0] is None:
            self._write(f"fairmtl: done in {self.clock() - self._start:.0f} s")

    # -- what the steps call ---------------------------------------------------------
    def stage(self, name: str, total: int | None = None) -> None:
        """A new stage of ``total`` units (None: unknown); says so at once."""
        with self._lock:
            self.name, self.total, self.done = name, total, 0
        if self._bar is not None:
            self._bar.reset(self._task, total=total, description=name)
        elif self.enabled:
            self._line()

    def advance(self, n: int = 1) -> None:
        """``n`` more units of the current stage are done."""
        with self._lock:
            self.done += n
        if self._bar is not None:
            self._bar.advance(self._task, n)

    # -- plain lines -----------------------------------------------------------------
    def _tick(self) -> None:
        while not self._stop.wait(self.interval):
            self._line()

    def _line(self) -> None:
        with self._lock:
            count = f": {self.done}/{self.total}" if self.total else ""
            text = f"fairmtl: {self.name}{count} ({self.clock() - self._start:.0f} s)"
        self._write(text)

    def _write(self, text: str) -> None:
        try:
            self._out.write(text + "\n")
            self._out.flush()
        except (OSError, ValueError):  # a closed or broken stream: progress is optional
            pass


def stage(name: str, total: int | None = None) -> None:
    """Tell the watching job, if any, that a stage starts."""
    job = _ACTIVE.get()
    if job is not None:
        job.stage(name, total)


def advance(n: int = 1) -> None:
    """Tell the watching job, if any, that ``n`` units are done."""
    job = _ACTIVE.get()
    if job is not None:
        job.advance(n)


class sweep_progress:
    """The sweep's progress: the watching job's stage, else a transient bar on a TTY.

    ``stream`` defaults to stderr. Entering returns ``advance(n)``.
    """

    def __init__(self, total: int, stream: IO[str] | None = None) -> None:
        self.total = total
        self.stream = stream
        self._bar: Any = None

    def __enter__(self) -> Callable[[int], None]:
        job = _ACTIVE.get()
        if job is not None:
            job.stage("fitting the frontier", self.total)
            return job.advance
        stream = self.stream if self.stream is not None else sys.stderr
        if not _is_tty(stream):
            return lambda n: None
        self._bar = _bar(stream, eta=True)
        self._bar.start()
        task = self._bar.add_task("fitting the frontier", total=self.total)
        return lambda n: self._bar.advance(task, n)

    def __exit__(self, *exc: Any) -> None:
        if self._bar is not None:
            self._bar.stop()
