"""Atomic file writes: a reader sees the old file or the whole new one, never a part."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fairmtl.exceptions import FileExistsNoForceError

__all__ = ["atomic_target", "atomic_write_bytes", "atomic_write_text"]

MSG_EXISTS_NO_FORCE = (
    "Output file {path} already exists. Pass --force (force=True) to overwrite it."
)
MSG_OUTPUT_IS_DIR = "Output path {path} is a directory. Give a file name."


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


@contextmanager
def atomic_target(path: str | os.PathLike[str], *, force: bool) -> Iterator[Path]:
    """Context manager: write to the yielded temporary path; it replaces ``path`` at exit.

    For writers that want a path (``skops.io.dump``, ``DataFrame.to_parquet``). The
    temporary file lies in the same folder; if the body raises, it is removed and
    ``path`` is untouched. Parent folders are created.

    Parameters
    ----------
    path : str or path-like
        The file to write.
    force : bool
        Overwrite an existing file.

    Yields
    ------
    tmp : Path
        An empty temporary file to write to.

    Raises
    ------
    FileExistsNoForceError
        When ``path`` exists and ``force`` is False (:data:`MSG_EXISTS_NO_FORCE`).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out" / "a.txt"
    >>> with atomic_target(target, force=False) as tmp:
    ...     _ = tmp.write_text("hello")
    >>> target.read_text()
    'hello'
    """
    target = Path(path)
    if target.is_dir():
        raise FileExistsNoForceError(MSG_OUTPUT_IS_DIR.format(path=target))
    if target.exists() and not force:
        raise FileExistsNoForceError(MSG_EXISTS_NO_FORCE.format(path=target))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.tmp")
    # O_EXCL: never clobber; mode 0o666 lets the umask decide permissions, as open() does.
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, force: bool = False) -> Path:
    """Write bytes to a file atomically: a reader sees the old file or the whole new one.

    The data goes to a temporary file in the same folder, which then replaces ``path``
    with :func:`os.replace`. Parent folders are created.

    Parameters
    ----------
    path : str or path-like
        The file to write.
    data : bytes
        Its content.
    force : bool, default=False
        Overwrite an existing file.

    Returns
    -------
    path : Path
        The file written.

    Raises
    ------
    FileExistsNoForceError
        When ``path`` exists and ``force`` is False (:data:`MSG_EXISTS_NO_FORCE`).
    """
    with atomic_target(path, force=force) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(data)
    return Path(path)


def atomic_write_text(
    path: str | os.PathLike[str], text: str, *, force: bool = False, encoding: str = "utf-8"
) -> Path:
    """Write text to a file atomically; see :func:`atomic_write_bytes`.

    Parameters
    ----------
    path : str or path-like
        The file to write.
    text : str
        Its content.
    force : bool, default=False
        Overwrite an existing file.
    encoding : str, default="utf-8"
        The encoding of the file.

    Returns
    -------
    path : Path
        The file written.
    """
    return atomic_write_bytes(path, text.encode(encoding), force=force)
