"""One BLAS thread around the solvers' many small products.

``threadpoolctl.threadpool_limits`` scans the process's loaded libraries on every call
(about a millisecond, more with many libraries loaded): around each of the hundreds of
small solves of a cross-validated fit that scan cost as much as the solves. One
controller, made at the first solve and kept, limits the same libraries in microseconds.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from threadpoolctl import ThreadpoolController

__all__ = ["one_blas_thread", "with_one_blas_thread"]

F = TypeVar("F", bound=Callable[..., Any])


@functools.lru_cache(maxsize=1)
def _controller() -> ThreadpoolController:
    return ThreadpoolController()


def one_blas_thread():
    """A context manager: BLAS on one thread inside it, as before outside."""
    return _controller().limit(limits=1, user_api="blas")


def with_one_blas_thread(func: F) -> F:
    """Decorate ``func`` to run under :func:`one_blas_thread`."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with one_blas_thread():
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
