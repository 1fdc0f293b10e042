"""Writing files: atomic and race-free (a reader sees the old file or the whole new one,
never a part), and checked before the work that produces them.

Every file fairmtl writes (tables, models, reports, results) goes through this module:

- the content is written to a hidden temporary file in the target's folder
  (``.<name>.<12 hex digits>.tmp``), flushed to disk, then put in place in one step:
  :func:`os.link` without ``force`` (which refuses a name that exists by then, so two
  runs writing the same file at once cannot overwrite each other), :func:`os.replace`
  with ``force``;
- the temporary file is removed on every way out (error, Ctrl-C); one left behind by a
  process that was killed outright (``kill -9``, power loss) is removed by the next write
  of the same file: a writer holds a lock on its temporary file, so a file nobody holds
  and nobody has touched for :data:`STALE_AFTER_S` seconds is a leftover;
- :func:`check_outputs` checks every output before the work that produces it (it exists,
  it is a folder, its folder cannot be written), and :func:`atomic_write_many` writes
  files that belong together (a report and its results) all or nothing.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

from fairmtl.exceptions import FileExistsNoForceError, OutputError

try:  # advisory locks mark the temporary files of live writers (not on Windows)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "STALE_AFTER_S",
    "atomic_target",
    "atomic_write_bytes",
    "atomic_write_many",
    "atomic_write_text",
    "check_outputs",
]

#: A temporary file that no writer holds and that nobody touched for this long is a
#: leftover of a killed run, removed by the next write of the same file.
STALE_AFTER_S = 60.0
#: Without advisory locks (Windows), a temporary file must be this old to be removed.
_STALE_UNLOCKED_S = 24 * 3600.0

MSG_EXISTS_NO_FORCE = (
    "Output file {path} already exists. Pass --force (force=True) to overwrite it."
)
MSG_OUTPUT_IS_DIR = "Output path {path} is a directory. Give a file name."
MSG_PARENT_NOT_DIR = (
    "Cannot write {path}: {parent} is a file, not a folder. Choose another output path."
)
MSG_NOT_WRITABLE = (
    "Cannot write {path}: the folder {folder} is not writable ({reason}). "
    "Choose another output path, or make the folder writable."
)
MSG_WRITE_FAILED = (
    "Could not write {path} ({reason}); nothing was written and any previous file is "
    "unchanged. Free some space or choose another output path."
)
MSG_SAME_OUTPUT_TWICE = "Output file {path} is given twice; give each output its own name."


def _temp_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")


#: The empty files that check a folder can be written (removed at once, unless killed).
_PROBE = ".fairmtl-probe"


def _temp_pattern(target: Path) -> re.Pattern[str]:
    names = f"{re.escape(target.name)}|{re.escape(_PROBE[1:])}"
    return re.compile(rf"^\.({names})\.[0-9a-f]{{12}}\.tmp$")


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _nearest_existing(path: Path) -> Path:
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def _check_one(target: Path, force: bool) -> None:
    if target.is_dir():
        raise FileExistsNoForceError(MSG_OUTPUT_IS_DIR.format(path=target))
    if target.exists() and not force:
        raise FileExistsNoForceError(MSG_EXISTS_NO_FORCE.format(path=target))
    folder = _nearest_existing(target)
    if not folder.is_dir():
        raise OutputError(MSG_PARENT_NOT_DIR.format(path=target, parent=folder))
    probe = folder / f"{_PROBE}.{secrets.token_hex(6)}.tmp"
    try:  # a real write: permission bits say nothing for root or a read-only mount
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise OutputError(MSG_NOT_WRITABLE.format(path=target, folder=folder, reason=reason)) from e
    probe.unlink(missing_ok=True)


def check_outputs(paths: Sequence[str | os.PathLike[str]], *, force: bool) -> None:
    """Check that each output can be written, before the work that produces it.

    Parameters
    ----------
    paths : sequence of str or path-like
        The files a command will write.
    force : bool
        Existing files may be overwritten.

    Raises
    ------
    FileExistsNoForceError
        When a path is a directory, or exists and ``force`` is False.
    OutputError
        When a path's folder cannot be written (:data:`MSG_NOT_WRITABLE`), lies under a
        file, or the same path is given twice.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> check_outputs([folder / "r.html", folder / "r.json"], force=False)
    """
    seen: set[Path] = set()
    for path in paths:
        target = Path(path)
        key = target.resolve()
        if key in seen:
            raise OutputError(MSG_SAME_OUTPUT_TWICE.format(path=target))
        seen.add(key)
        _check_one(target, force)


def _is_stale(entry: os.DirEntry[str], now: float) -> bool:
    """Whether a temporary file is a leftover: no writer holds it, untouched for a while."""
    try:
        age = now - entry.stat(follow_symlinks=False).st_mtime
        if fcntl is None:
            return age > _STALE_UNLOCKED_S
        if age <= STALE_AFTER_S:
            return False
        fd = os.open(entry.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # a live writer holds it
    finally:
        os.close(fd)
    return True


def remove_stale_temps(path: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary files that killed runs left beside ``path``.

    Parameters
    ----------
    path : str or path-like
        An output file; only its own temporary files (``.<name>.<hex>.tmp``) and
        fairmtl's folder probes are looked at.

    Returns
    -------
    removed : list of Path
    """
    target = Path(path)
    if not target.parent.is_dir():
        return []
    pattern, now, removed = _temp_pattern(target), time.time(), []
    with os.scandir(target.parent) as entries:
        candidates = [e for e in entries if pattern.match(e.name) and e.is_file()]
    for entry in candidates:
        if _is_stale(entry, now):
            Path(entry.path).unlink(missing_ok=True)
            removed.append(Path(entry.path))
    return removed


def _open_temp(target: Path) -> tuple[Path, int]:
    """Create the locked, empty temporary file of ``target``; its descriptor holds the lock."""
    tmp = _temp_name(target)
    try:
        # O_EXCL: never clobber; mode 0o666 lets the umask decide permissions, as open() does.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise OutputError(
            MSG_NOT_WRITABLE.format(path=target, folder=target.parent, reason=reason)
        ) from e
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return tmp, fd


def _publish(tmp: Path, target: Path, force: bool) -> None:
    """Put ``tmp`` in place at ``target``: replace with ``force``, else never overwrite."""
    if force:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)  # atomic, and refuses a name that exists by now
        return
    except FileExistsError as e:
        raise FileExistsNoForceError(MSG_EXISTS_NO_FORCE.format(path=target)) from e
    except OSError:  # a file system without hard links: reserve the name, then replace
        pass
    try:
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except FileExistsError as e:
        raise FileExistsNoForceError(MSG_EXISTS_NO_FORCE.format(path=target)) from e
    os.replace(tmp, target)


def _write_failed(target: Path, error: OSError) -> OutputError:
    reason = error.strerror or str(error) or type(error).__name__
    return OutputError(MSG_WRITE_FAILED.format(path=target, reason=reason))


@contextmanager
def _temporary(target: Path, force: bool) -> Iterator[Path]:
    """A locked temporary file beside ``target``, removed on every way out."""
    _check_one(target, force)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(target)
    tmp, fd = _open_temp(target)
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)
        os.close(fd)


@contextmanager
def atomic_target(path: str | os.PathLike[str], *, force: bool) -> Iterator[Path]:
    """Context manager: write to the yielded temporary path; it is put at ``path`` at exit.

    For writers that want a path (``skops.io.dump``, ``DataFrame.to_parquet``). The
    temporary file lies in the same folder; if the body raises, it is removed and
    ``path`` is untouched. Parent folders are created.

    Parameters
    ----------
    path : str or path-like
        The file to write.
    force : bool
        Overwrite an existing file. Without it, a file that appears at ``path`` while
        the body runs (another process writing the same file) is not overwritten either.

    Yields
    ------
    tmp : Path
        An empty temporary file to write to.

    Raises
    ------
    FileExistsNoForceError
        When ``path`` exists and ``force`` is False (:data:`MSG_EXISTS_NO_FORCE`), before
        or after the body.
    OutputError
        When the folder cannot be written, or the disk fills up (the message names
        ``path``, not the temporary file).

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
    with _temporary(target, force) as tmp:
        try:
            yield tmp
            _fsync(tmp)
        except OSError as e:
            if isinstance(e, FileExistsNoForceError | OutputError):
                raise
            raise _write_failed(target, e) from e
        _publish(tmp, target, force)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, force: bool = False) -> Path:
    """Write bytes to a file atomically: a reader sees the old file or the whole new one.

    The data goes to a temporary file in the same folder, which is then put in place
    (see :func:`atomic_target`). Parent folders are created.

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
    OutputError
        When the folder cannot be written or the disk is full.
    """
    return atomic_write_many([(path, data)], force=force)[0]


def atomic_write_text(
    path: str | os.PathLike[str], text: str, *, force: bool = False, encoding: str = "utf-8"
) -> Path:
    """Write text to a file atomically; see :func:`atomic_write_bytes`.

    Parameters
    ----------
    path : str or path-like
        The file to write.
    text : str
        Its content (written as is: ``"\\n"`` line ends on every platform).
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


def _write_temp(tmp: Path, data: bytes, target: Path) -> None:
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
        _fsync(tmp)
    except OSError as e:
        raise _write_failed(target, e) from e


def _keep_old(target: Path, force: bool) -> Path | None:
    """A hard link to the file ``target`` replaces, so that a failed group can restore it."""
    if not (force and target.exists()):
        return None
    backup = _temp_name(target)
    try:
        os.link(target, backup)
    except OSError:
        return None
    return backup


def atomic_write_many(
    items: Sequence[tuple[str | os.PathLike[str], bytes]], *, force: bool = False
) -> list[Path]:
    """Write several files all or nothing: either every one is written, or none changes.

    Each content is first written to its temporary file and flushed to disk (so a full
    disk stops the group before anything is in place); then the files are put in place
    one after the other, and if one cannot be, those already in place are taken back
    (files they replaced are restored).

    Parameters
    ----------
    items : sequence of (path, bytes)
        The files and their contents.
    force : bool, default=False
        Overwrite existing files.

    Returns
    -------
    paths : list of Path
        The files written, in order.

    Raises
    ------
    FileExistsNoForceError
        When a file exists and ``force`` is False (nothing is written).
    OutputError
        When a folder cannot be written or the disk is full (nothing is written).
    """
    targets = [Path(p) for p, _ in items]
    check_outputs(targets, force=force)
    with ExitStack() as stack:
        temps = [stack.enter_context(_temporary(t, force)) for t in targets]
        for tmp, target, (_, data) in zip(temps, targets, items, strict=True):
            _write_temp(tmp, data, target)
        backups = [stack.enter_context(_backup(t, force)) for t in targets]
        done: list[int] = []
        try:
            for i, (tmp, target) in enumerate(zip(temps, targets, strict=True)):
                _publish(tmp, target, force)
                done.append(i)
        except BaseException:
            for i in reversed(done):
                _take_back(targets[i], backups[i])
            raise
    return targets


@contextmanager
def _backup(target: Path, force: bool) -> Iterator[Path | None]:
    backup = _keep_old(target, force)
    try:
        yield backup
    finally:
        if backup is not None:
            backup.unlink(missing_ok=True)


def _take_back(target: Path, backup: Path | None) -> None:
    if backup is not None:
        os.replace(backup, target)
    else:
        target.unlink(missing_ok=True)
