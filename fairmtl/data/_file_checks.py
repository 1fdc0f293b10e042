"""Checks that every table reader makes: the input file, and the column names asked for."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from fairmtl._suggest import did_you_mean
from fairmtl.exceptions import DataValidationError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "check_duplicates",
    "check_input_file",
    "check_requested",
    "list_columns",
]

#: Files larger than this (2 GiB) are refused by :func:`read_table` unless told otherwise.
DEFAULT_MAX_BYTES = 2 * 1024**3

MSG_FILE_NOT_FOUND = "Input file {path} does not exist. Check the path (relative to {cwd})."
MSG_NOT_A_FILE = "Input path {path} is a directory, not a file. Give the path of one file."
MSG_EMPTY_FILE = "Input file {path} is empty: it has no header and no rows."
MSG_TOO_LARGE = (
    "Input file {path} is {size}, more than the limit of {limit}. Convert it to Parquet "
    "(smaller and faster to read), work on a sample of its rows, or raise max_bytes."
)
MSG_DUPLICATE_COLUMNS = (
    "Input file {path} has duplicated column names: {names}. "
    "Rename them so that every column name is unique."
)
MSG_UNKNOWN_COLUMNS = (
    "Column {name!r} asked for is not in {path}.{hint} Available columns: {available}."
)


def _human_size(n_bytes: int) -> str:
    size = float(n_bytes)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{int(size)} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"  # pragma: no cover


def list_columns(columns: Sequence[Any], limit: int = 20) -> str:
    """The first ``limit`` names, quoted, and how many there are in all."""
    shown = ", ".join(repr(c) for c in list(columns)[:limit])
    return shown + (f", ... ({len(columns)} in all)" if len(columns) > limit else "")


def check_input_file(path: Path, max_bytes: int | None) -> None:
    """Refuse a missing path, a directory, an empty file or one above ``max_bytes``."""
    if not path.exists():
        raise DataValidationError(MSG_FILE_NOT_FOUND.format(path=path, cwd=Path.cwd()))
    if path.is_dir():
        raise DataValidationError(MSG_NOT_A_FILE.format(path=path))
    size = path.stat().st_size
    if size == 0:
        raise DataValidationError(MSG_EMPTY_FILE.format(path=path))
    limit = DEFAULT_MAX_BYTES if max_bytes is None else max_bytes
    if size > limit:
        raise DataValidationError(
            MSG_TOO_LARGE.format(path=path, size=_human_size(size), limit=_human_size(limit))
        )


def check_duplicates(path: Path, names: Sequence[Any]) -> None:
    """Refuse a file whose column names repeat, naming them."""
    series = pd.Series([str(n) for n in names], dtype=object)
    duplicated = series[series.duplicated()].unique().tolist()
    if duplicated:
        raise DataValidationError(
            MSG_DUPLICATE_COLUMNS.format(path=path, names=list_columns(duplicated))
        )


def check_requested(path: Path, requested: Sequence[str], names: Sequence[str]) -> None:
    """Refuse a column asked for that the file lacks, with the closest names."""
    for name in requested:
        if name not in names:
            raise DataValidationError(
                MSG_UNKNOWN_COLUMNS.format(
                    name=name,
                    path=path,
                    hint=did_you_mean(name, names),
                    available=list_columns(names),
                )
            )
