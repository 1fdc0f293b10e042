"""Keeping solvers' own printing off the user's stdout.

Some solvers print from their C code whatever cvxpy's ``verbose`` says (SCS: "ERROR:
could not determine problem status."); a library must not write to its user's stdout.
While a solve runs, file descriptor 1 points at an anonymous in-memory file, and the text
is returned to the caller (``solve_chain`` records it in each attempt's
``solver_output``). File descriptors belong to the process, so threads that solve at the
same time share one redirect, counted: it starts with the first and ends with the last,
who gets the text (anything other threads print meanwhile lands there too).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import sys
import tempfile
import threading
from collections.abc import Iterator

__all__ = ["solver_output_captured"]


@functools.cache
def _libc():
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None


def _flush_all() -> None:
    """Flush Python's and C's stdout buffers (a solver's printf may sit in C's)."""
    with contextlib.suppress(AttributeError, ValueError, OSError):
        sys.stdout.flush()
    libc = _libc()
    if libc is not None:
        with contextlib.suppress(AttributeError, TypeError):
            libc.fflush(None)


def _scratch_fd() -> int:
    """An anonymous file to hold a solver's output (in memory where the OS allows)."""
    if hasattr(os, "memfd_create"):
        with contextlib.suppress(OSError):
            return os.memfd_create("fairmtl-solver-output")
    handle, path = tempfile.mkstemp()
    os.unlink(path)
    return handle


class _Redirect:
    """The process's one redirect of file descriptor 1, shared and counted across threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0
        self.saved: int | None = None
        self.scratch: int | None = None

    def enter(self) -> bool:
        with self.lock:
            if self.users == 0:
                _flush_all()
                try:
                    self.saved = os.dup(1)
                except OSError:  # no file descriptor 1 (an embedded interpreter)
                    return False
                self.scratch = _scratch_fd()
                os.dup2(self.scratch, 1)
            self.users += 1
            return True

    def leave(self) -> str:
        with self.lock:
            self.users -= 1
            if self.users:
                return ""
            _flush_all()
            os.dup2(self.saved, 1)
            os.close(self.saved)
            size = os.lseek(self.scratch, 0, os.SEEK_END)
            os.lseek(self.scratch, 0, os.SEEK_SET)
            text = os.read(self.scratch, size).decode("utf-8", errors="replace") if size else ""
            os.close(self.scratch)
            self.saved = self.scratch = None
            return text


#: file descriptor 1 is one per process, so its redirect is too
_REDIRECT = _Redirect()


@contextlib.contextmanager
def solver_output_captured(into: list[str]) -> Iterator[None]:
    """Keep what is printed to file descriptor 1 off stdout; append it to ``into``."""
    if not _REDIRECT.enter():
        yield
        return
    try:
        yield
    finally:
        into.append(_REDIRECT.leave())
