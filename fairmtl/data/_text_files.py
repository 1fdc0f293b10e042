"""Reading delimited text files (CSV, TSV, each optionally gzip'd) with clear errors.

The delimiter is sniffed among those the header holds, the missing markers are a stated
list, and a file that does not decode, a damaged gzip file or a row longer than the
header is an error that names the file (and the byte and line, for an encoding).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import warnings
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from fairmtl.data._file_checks import MSG_EMPTY_FILE, check_duplicates, check_requested
from fairmtl.data._messy import warn_short_rows
from fairmtl.exceptions import DataValidationError

__all__ = ["DEFAULT_NA_VALUES", "MSG_PARSE_ERROR", "read_text_table"]

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

MSG_WRONG_DELIMITER = (
    "Input file {path} was read as a single column, but its header contains {name}s "
    "({found!r}): the delimiter looks wrong. Pass sep={found!r} (on the command line: "
    "--sep {cli})."
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


def read_text_table(
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
    """A delimited text file as a DataFrame (see :func:`fairmtl.data.read_table`).

    ``sep`` None: ``default_sep`` (the extension's), else sniffed from the first lines.
    """
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
        check_duplicates(path, names)
        if len(names) == 1:
            _check_single_column(path, names[0], sep)
        if columns is not None:
            check_requested(path, columns, names)
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
