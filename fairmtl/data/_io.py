"""Reading tables (CSV, TSV, gzip'd CSV, Parquet) and writing files atomically."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from fairmtl.data._csvsafe import neutralize_formulas
from fairmtl.data._file_checks import (
    DEFAULT_MAX_BYTES,
    check_duplicates,
    check_input_file,
    check_requested,
    list_columns,
)
from fairmtl.data._text_files import DEFAULT_NA_VALUES, read_text_table
from fairmtl.data._writing import atomic_target
from fairmtl.exceptions import DataValidationError

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_NA_VALUES", "read_table", "write_table_atomic"]

_TEXT_SUFFIXES = {".csv": None, ".txt": None, ".tsv": "\t", ".tab": "\t"}
_PARQUET_SUFFIXES = (".parquet", ".pq")

MSG_NO_ROWS = (
    "Input file {path} has a header ({n_columns} columns: {columns}) but no data rows. "
    "Check that it is the right file and that it was written completely."
)
MSG_UNKNOWN_EXTENSION = (
    "Cannot read {path}: unknown extension {ext!r}. Supported: .csv, .tsv, .txt, .tab "
    "(optionally gzip'd: .csv.gz) and .parquet/.pq. Rename the file or convert it."
)
MSG_PARQUET_ERROR = "Cannot read Parquet file {path}: {reason}."
MSG_UNKNOWN_OUTPUT_EXTENSION = (
    "Cannot write {path}: unknown extension {ext!r}. Use .csv, .tsv, .csv.gz or .parquet."
)


def _split_suffix(path: Path) -> tuple[str, bool]:
    """The table extension (lower case) and whether the file is gzip'd."""
    suffixes = [s.lower() for s in path.suffixes]
    gzipped = bool(suffixes) and suffixes[-1] == ".gz"
    if gzipped:
        suffixes = suffixes[:-1]
    return (suffixes[-1] if suffixes else ""), gzipped


def _read_parquet(path: Path, columns: Sequence[str] | None, dtype: Any) -> pd.DataFrame:
    import pyarrow.parquet as pq  # a required dependency; imported here to keep imports light

    try:
        names = list(pq.read_schema(path).names)
        check_duplicates(path, names)
        if columns is not None:
            check_requested(path, columns, names)
        frame = pd.read_parquet(
            path, engine="pyarrow", columns=list(columns) if columns is not None else None
        )
    except (OSError, ValueError) as e:
        if isinstance(e, DataValidationError):
            raise
        raise DataValidationError(MSG_PARQUET_ERROR.format(path=path, reason=e)) from e
    return frame.astype(dtype) if dtype is not None else frame


def read_table(
    path: str | os.PathLike[str],
    *,
    sep: str | None = None,
    columns: Sequence[str] | None = None,
    dtype: Any = None,
    max_bytes: int | None = None,
    encoding: str = "utf-8",
    na_values: Sequence[str] | None = None,
    literal_columns: Sequence[str] = (),
) -> pd.DataFrame:
    """Read a CSV, TSV, gzip'd CSV or Parquet file into a DataFrame, with clear errors.

    Empty fields and the markers of :data:`DEFAULT_NA_VALUES` (``"?"``, ``"NA"``,
    ``"NaN"``, ``"NULL"``, ...) read as missing, unless ``na_values`` says otherwise;
    spaces after a delimiter are skipped.

    Parameters
    ----------
    path : str or path-like
        A ``.csv``, ``.tsv``, ``.txt``, ``.tab`` file (each optionally gzip'd, ``.csv.gz``)
        or a ``.parquet``/``.pq`` file.
    sep : str or None, default=None
        The delimiter of a text file. None: tab for ``.tsv``/``.tab``; otherwise sniffed
        with :class:`csv.Sniffer` on the first lines among ``, ; tab |``.
    columns : sequence of str or None, default=None
        Read only these columns.
    dtype : type, str or mapping, default=None
        Passed to pandas (``dtype={"zip": str}``).
    max_bytes : int or None, default=None
        Refuse files larger than this (on disk, so compressed size for ``.gz``).
        None means 2 GiB.
    encoding : str, default="utf-8"
        The encoding of a text file.
    na_values : sequence of str or None, default=None
        The text read as missing in every column of a text file (``[""]``: only empty
        fields). None: :data:`DEFAULT_NA_VALUES`, except in ``literal_columns``.
    literal_columns : sequence of str, default=()
        Columns (groups, ids) where, when ``na_values`` is None, only an empty field is
        missing: a group called ``"NA"`` stays a group.

    Returns
    -------
    frame : DataFrame
        With at least one row.

    Raises
    ------
    DataValidationError
        For a missing, empty, header-only or too large file, an unknown extension,
        a wrong delimiter, duplicated or unknown column names, or a parse error.

    See Also
    --------
    write_table_atomic : Write a table without ever leaving a partial file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = p.write_text("a;b\\n1;x\\n?;y\\n")
    >>> read_table(p)
         a  b
    0  1.0  x
    1  NaN  y
    """
    path = Path(path)
    suffix, gzipped = _split_suffix(path)
    if suffix not in _TEXT_SUFFIXES and suffix not in _PARQUET_SUFFIXES:
        ext = "".join(path.suffixes) or "(none)"
        raise DataValidationError(MSG_UNKNOWN_EXTENSION.format(path=path, ext=ext))
    check_input_file(path, max_bytes)
    if suffix in _PARQUET_SUFFIXES and not gzipped:
        frame = _read_parquet(path, columns, dtype)
    elif suffix in _PARQUET_SUFFIXES:
        raise DataValidationError(MSG_UNKNOWN_EXTENSION.format(path=path, ext=".parquet.gz"))
    else:
        frame = read_text_table(
            path,
            sep=sep,
            gzipped=gzipped,
            default_sep=_TEXT_SUFFIXES[suffix],
            columns=columns,
            dtype=dtype,
            encoding=encoding,
            na_values=na_values,
            literal_columns=literal_columns,
        )
    if len(frame) == 0:
        raise DataValidationError(
            MSG_NO_ROWS.format(
                path=path, n_columns=frame.shape[1], columns=list_columns(frame.columns)
            )
        )
    return frame


def write_table_atomic(
    frame: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    force: bool = False,
    index: bool = False,
    safe_formulas: bool = True,
) -> Path:
    """Write a DataFrame to CSV, TSV, gzip'd CSV or Parquet (by extension), atomically.

    In text files, cells that a spreadsheet would run as a formula (text beginning with
    ``=``, ``+``, ``-``, ``@``, a tab or a carriage return, such as a group name
    ``=HYPERLINK(...)``) are written with a single quote in front, as OWASP recommends
    against CSV injection; see :func:`fairmtl.data._csvsafe.neutralize_formulas`.

    Parameters
    ----------
    frame : DataFrame
        The table.
    path : str or path-like
        ``.csv``, ``.txt``, ``.tsv``/``.tab`` (tab-separated), any of them with ``.gz``,
        or ``.parquet``/``.pq``.
    force : bool, default=False
        Overwrite an existing file.
    index : bool, default=False
        Also write the index.
    safe_formulas : bool, default=True
        Neutralise formula-like text cells in CSV and TSV files (Parquet is unchanged).

    Returns
    -------
    path : Path
        The file written.

    Raises
    ------
    FileExistsNoForceError
        When ``path`` exists and ``force`` is False; the message says to pass ``--force``.
    DataValidationError
        For an unknown extension.
    """
    target = Path(path)
    suffix, gzipped = _split_suffix(target)
    parquet = suffix in _PARQUET_SUFFIXES and not gzipped
    if not parquet and suffix not in _TEXT_SUFFIXES:
        ext = "".join(target.suffixes) or "(none)"
        raise DataValidationError(MSG_UNKNOWN_OUTPUT_EXTENSION.format(path=target, ext=ext))
    with atomic_target(target, force=force) as tmp:
        if parquet:
            frame.to_parquet(tmp, engine="pyarrow", index=index)
        else:
            frame = neutralize_formulas(frame) if safe_formulas else frame
            frame.to_csv(
                tmp,
                sep=_TEXT_SUFFIXES[suffix] or ",",
                index=index,
                compression="gzip" if gzipped else None,
            )
    return target
