"""Reading tables (CSV, TSV, gzip'd CSV, Parquet) and writing files atomically."""

from __future__ import annotations

import codecs
import csv
import gzip
import os
import warnings
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from fairmtl._suggest import did_you_mean
from fairmtl.data._csvsafe import neutralize_formulas
from fairmtl.data._messy import warn_short_rows
from fairmtl.data._writing import atomic_target
from fairmtl.exceptions import DataValidationError

__all__ = ["read_table", "write_table_atomic"]

#: Files larger than this (2 GiB) are refused by :func:`read_table` unless told otherwise.
DEFAULT_MAX_BYTES = 2 * 1024**3
#: The text read as a missing value by default (``read_table(..., na_values=...)`` and
#: ``--na-values`` replace it). Not pandas' longer list: ``"None"``, ``"null"`` spelled
#: otherwise, ``"-nan"`` and the like are values. Columns named in ``literal_columns``
#: (group and id columns) take only an empty field as missing, so that a group called
#: ``NA`` (North America) is a group.
DEFAULT_NA_VALUES = ("", "?", "NA", "N/A", "n/a", "#N/A", "NaN", "nan", "NULL", "null")
NA_VALUES = DEFAULT_NA_VALUES
_DELIMITERS = (",", "\t", ";", "|")
_DELIMITER_NAMES = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}
_SNIFF_CHARS = 64 * 1024
_TEXT_SUFFIXES = {".csv": None, ".txt": None, ".tsv": "\t", ".tab": "\t"}
_PARQUET_SUFFIXES = (".parquet", ".pq")

MSG_FILE_NOT_FOUND = "Input file {path} does not exist. Check the path (relative to {cwd})."
MSG_NOT_A_FILE = "Input path {path} is a directory, not a file. Give the path of one file."
MSG_EMPTY_FILE = "Input file {path} is empty: it has no header and no rows."
MSG_NO_ROWS = (
    "Input file {path} has a header ({n_columns} columns: {columns}) but no data rows. "
    "Check that it is the right file and that it was written completely."
)
MSG_WRONG_DELIMITER = (
    "Input file {path} was read as a single column, but its header contains {name}s "
    "({found!r}): the delimiter looks wrong. Pass sep={found!r} (on the command line: "
    "--sep {cli})."
)
MSG_DUPLICATE_COLUMNS = (
    "Input file {path} has duplicated column names: {names}. "
    "Rename them so that every column name is unique."
)
MSG_TOO_LARGE = (
    "Input file {path} is {size}, more than the limit of {limit}. Convert it to Parquet "
    "(smaller and faster to read), work on a sample of its rows, or raise max_bytes."
)
MSG_UNKNOWN_EXTENSION = (
    "Cannot read {path}: unknown extension {ext!r}. Supported: .csv, .tsv, .txt, .tab "
    "(optionally gzip'd: .csv.gz) and .parquet/.pq. Rename the file or convert it."
)
MSG_PARSE_ERROR = (
    "Cannot parse {path} with delimiter {sep!r}: {reason}. Check the delimiter (--sep) "
    "and the quoting of fields that contain it."
)
MSG_ENCODING = (
    "Cannot read {path} as {encoding} text: byte {byte} on line {line} ({reason}). The "
    "file was probably saved in another encoding (Latin-1 / Windows-1252 are common). "
    "Save it as UTF-8 (in a spreadsheet: 'CSV UTF-8'), or pass its encoding "
    "(encoding='latin-1'; on the command line: --encoding latin-1)."
)
MSG_DAMAGED_COMPRESSED = (
    "Cannot read {path}: the gzip file is truncated or damaged ({reason}). Copy or "
    "download it again, or check that the program that wrote it finished."
)
MSG_PARQUET_ERROR = "Cannot read Parquet file {path}: {reason}."
MSG_UNKNOWN_COLUMNS = (
    "Column {name!r} asked for is not in {path}.{hint} Available columns: {available}."
)
MSG_UNKNOWN_OUTPUT_EXTENSION = (
    "Cannot write {path}: unknown extension {ext!r}. Use .csv, .tsv, .csv.gz or .parquet."
)


def _human_size(n_bytes: int) -> str:
    size = float(n_bytes)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{int(size)} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"  # pragma: no cover


def _split_suffix(path: Path) -> tuple[str, bool]:
    """The table extension (lower case) and whether the file is gzip'd."""
    suffixes = [s.lower() for s in path.suffixes]
    gzipped = bool(suffixes) and suffixes[-1] == ".gz"
    if gzipped:
        suffixes = suffixes[:-1]
    return (suffixes[-1] if suffixes else ""), gzipped


def _list_columns(columns: Sequence[Any], limit: int = 20) -> str:
    shown = ", ".join(repr(c) for c in list(columns)[:limit])
    return shown + (f", ... ({len(columns)} in all)" if len(columns) > limit else "")


def _check_input_file(path: Path, max_bytes: int | None) -> None:
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


_DAMAGED = (EOFError, gzip.BadGzipFile, zlib.error)


def _read_sample(path: Path, gzipped: bool, encoding: str) -> str:
    opener = gzip.open if gzipped else open
    try:
        with opener(path, "rt", encoding=encoding, errors="replace", newline="") as handle:
            return handle.read(_SNIFF_CHARS)
    except _DAMAGED as e:
        raise DataValidationError(MSG_DAMAGED_COMPRESSED.format(path=path, reason=e)) from e
    except OSError as e:
        raise DataValidationError(MSG_PARSE_ERROR.format(path=path, sep=None, reason=e)) from e


def _encoding_error(path: Path, gzipped: bool, encoding: str, error: Exception) -> str:
    """The message for a file that does not decode: the first bad byte and its line."""
    decoder = codecs.getincrementaldecoder(encoding)()
    line, opener = 1, gzip.open if gzipped else open
    with opener(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as e:
                line += chunk[: e.start].count(b"\n")
                byte = f"0x{chunk[e.start]:02x}" if e.start < len(chunk) else "at the end"
                return MSG_ENCODING.format(
                    path=path, encoding=encoding, byte=byte, line=line, reason=e.reason
                )
            line += text.count("\n")
    reason = getattr(error, "reason", str(error))
    return MSG_ENCODING.format(path=path, encoding=encoding, byte="?", line="?", reason=reason)


def _sniff_delimiter(sample: str) -> str:
    """Guess the delimiter with :class:`csv.Sniffer`, among those the header contains."""
    lines = sample.splitlines()
    if not lines:
        return ","
    header = lines[0]
    candidates = [d for d in _DELIMITERS if d in header]
    if len(candidates) <= 1:
        return candidates[0] if candidates else ","
    if len(sample) >= _SNIFF_CHARS and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut short, which confuses the sniffer
    whole = "\n".join(lines[:50])
    try:
        return csv.Sniffer().sniff(whole, delimiters="".join(candidates)).delimiter
    except csv.Error:
        return max(candidates, key=header.count)


def _read_text_table(
    path: Path,
    *,
    sep: str | None,
    gzipped: bool,
    default_sep: str | None,
    columns: Sequence[str] | None,
    dtype: Any,
    encoding: str,
    na_values: Sequence[str] | None = None,
    literal_columns: Sequence[str] = (),
) -> pd.DataFrame:
    sample = _read_sample(path, gzipped, encoding)
    if not sample.strip():
        raise DataValidationError(MSG_EMPTY_FILE.format(path=path))
    if sep is None:
        sep = default_sep or _sniff_delimiter(sample)
    options: dict[str, Any] = {
        "sep": sep,
        "compression": "gzip" if gzipped else None,
        "encoding": encoding,
        "keep_default_na": False,
        "skipinitialspace": True,
        "index_col": False,
    }
    try:
        header = pd.read_csv(
            path,
            header=None,
            nrows=1,
            dtype=str,
            keep_default_na=False,
            **{k: v for k, v in options.items() if k != "keep_default_na"},
        )
        names = [str(n) for n in header.iloc[0].tolist()] if len(header) else []
        _check_duplicates(path, names)
        if len(names) == 1:
            _check_single_column(path, names[0], sep)
        if columns is not None:
            _check_requested(path, columns, names)
        options["na_values"] = _missing_markers(names, na_values, literal_columns)
        with warnings.catch_warnings():
            # A row longer than the header loses fields with only a ParserWarning: refuse.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(
                path,
                usecols=list(columns) if columns is not None else None,
                dtype=dtype,
                low_memory=False,
                **options,
            )
        warn_short_rows(path, sep=sep, gzipped=gzipped, encoding=encoding, n_header=len(names))
    except pd.errors.EmptyDataError as e:
        raise DataValidationError(MSG_EMPTY_FILE.format(path=path)) from e
    except (pd.errors.ParserError, pd.errors.ParserWarning) as e:
        reason = str(e).strip().rstrip(".")
        raise DataValidationError(MSG_PARSE_ERROR.format(path=path, sep=sep, reason=reason)) from e
    except UnicodeDecodeError as e:
        raise DataValidationError(_encoding_error(path, gzipped, encoding, e)) from e
    except _DAMAGED as e:
        raise DataValidationError(MSG_DAMAGED_COMPRESSED.format(path=path, reason=e)) from e
    return frame


def _missing_markers(
    names: Sequence[str], na_values: Sequence[str] | None, literal_columns: Sequence[str]
) -> list[str] | dict[str, list[str]]:
    """pandas' ``na_values``: the given markers, or the default ones except for the
    ``literal_columns``, where only an empty field is missing."""
    if na_values is not None:
        return list(na_values)
    literal = set(literal_columns)
    if not literal:
        return list(DEFAULT_NA_VALUES)
    return {n: [""] if n in literal else list(DEFAULT_NA_VALUES) for n in names}


def _check_single_column(path: Path, name: str, sep: str) -> None:
    for found in _DELIMITERS:
        if found != sep and found in name:
            cli = "$'\\t'" if found == "\t" else f"'{found}'"
            raise DataValidationError(
                MSG_WRONG_DELIMITER.format(
                    path=path, name=_DELIMITER_NAMES[found], found=found, cli=cli
                )
            )


def _check_duplicates(path: Path, names: Sequence[Any]) -> None:
    series = pd.Series([str(n) for n in names], dtype=object)
    duplicated = series[series.duplicated()].unique().tolist()
    if duplicated:
        raise DataValidationError(
            MSG_DUPLICATE_COLUMNS.format(path=path, names=_list_columns(duplicated))
        )


def _check_requested(path: Path, requested: Sequence[str], names: Sequence[str]) -> None:
    for name in requested:
        if name not in names:
            raise DataValidationError(
                MSG_UNKNOWN_COLUMNS.format(
                    name=name,
                    path=path,
                    hint=did_you_mean(name, names),
                    available=_list_columns(names),
                )
            )


def _read_parquet(path: Path, columns: Sequence[str] | None, dtype: Any) -> pd.DataFrame:
    import pyarrow.parquet as pq  # a required dependency; imported here to keep imports light

    try:
        names = list(pq.read_schema(path).names)
        _check_duplicates(path, names)
        if columns is not None:
            _check_requested(path, columns, names)
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
    _check_input_file(path, max_bytes)
    if suffix in _PARQUET_SUFFIXES and not gzipped:
        frame = _read_parquet(path, columns, dtype)
    elif suffix in _PARQUET_SUFFIXES:
        raise DataValidationError(MSG_UNKNOWN_EXTENSION.format(path=path, ext=".parquet.gz"))
    else:
        frame = _read_text_table(
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
                path=path, n_columns=frame.shape[1], columns=_list_columns(frame.columns)
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
