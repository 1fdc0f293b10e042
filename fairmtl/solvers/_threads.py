"""One BLAS thread around the solvers' many small products.

``threadpoolctl.threadpool_limits`` scans the process's loaded libraries on every call
(about a millisecond, more with many libraries loaded): around each of the hundreds of
small solves of a cross-validated fit that scan cost as much as the solves. One
controller, made at the first solve and kept, limits the same libraries in microseconds.
Inside a limit, a nested one costs nothing: a cross-validation takes the limit once
around each candidate's fold solves instead of once per solve.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from threadpoolctl import ThreadpoolController

__all__ = ["one_blas_thread", "with_one_blas_thread"]

F = TypeVar("F", bound=Callable[..., Any])


@functools.lru_cache(maxsize=1)
def _controller() -> ThreadpoolController:
    return ThreadpoolController()


_held = threading.local()


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """A context manager: BLAS on one thread inside it, as before outside (nested inside
    another on the same thread: the outer one's limit holds)."""
    if getattr(_held, "depth", 0):
        _held.depth += 1
        try:
            yield
        finally:
            _held.depth -= 1
        return
    with _controller().limit(limits=1, user_api="blas"):
        _held.depth = 1
        try:
            yield
        finally:
            _held.depth = 0


def with_one_blas_thread(func: F) -> F:
    """Decorate ``func`` to run under :func:`one_blas_thread`."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with one_blas_thread():
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
