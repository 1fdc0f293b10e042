"""Messy data that reads without an error but would mislead: found, then said or fixed.

- numbers written with thousands separators (``"77,516"``) are read as numbers, saying
  so (as text they would become hundreds of one-hot categories);
- rows with fewer fields than the header (their missing fields read as missing values);
- a feature that is a saved row index (``Unnamed: 0``: 0, 1, 2, ... in order) or that
  determines the target exactly (a copy of it, or a value recorded after the outcome):
  perfect validation scores that mean nothing;
- labels that differ only in case, spaces, Unicode form or the spelling of a number
  (``yes`` / ``Yes`` / ``yes ``, ``1`` / ``1.0`` / ``01``, ``Café`` in two Unicode forms):
  they are kept apart, which is rarely what was meant.
"""

from __future__ import annotations

import csv
import gzip
import re
import unicodedata
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fairmtl.exceptions import DataWarning

__all__ = [
    "parse_thousands",
    "warn_index_columns",
    "warn_short_rows",
    "warn_similar_labels",
    "warn_target_leaks",
]

_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_PLAIN_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")
_INDEX_NAMES = re.compile(r"^(Unnamed: ?0|index|level_0|)$", re.IGNORECASE)
#: Leakage is looked for only with at least this many rows.
_MIN_ROWS_FOR_LEAKS = 20

MSG_THOUSANDS = (
    "Column {column!r} holds numbers written with thousands separators (e.g. {value!r}); "
    "they were read as numbers without the separators. As text they would have become "
    "{n_distinct} one-hot categories."
)
MSG_SHORT_ROWS = (
    "Input file {path} has {count} row(s) with fewer fields than its header's "
    "{n_header} (first on line {line}, with {n_fields}); their missing fields were read as "
    "missing values. If a delimiter was lost, fix those rows."
)
MSG_LEADING_SPACES = (
    "Input file {path}: column {column!r} holds {value!r} both with and without leading "
    "spaces (with them first on line {line}); spaces after a delimiter are dropped, so "
    "both were read as {value!r}, one value. If they mean different things, rename one."
)
MSG_INDEX_COLUMN = (
    "Column {column!r} looks like a saved row index (0, 1, 2, ... in file order), not a "
    "feature: the model can learn how the file was sorted, and validation scores mean "
    "little. Drop it (--drop {column!r}, or Schema(drop=[{column!r}]))."
)
MSG_TARGET_LEAK = (
    "Feature column {column!r} determines the target {target!r} exactly ({how}): the "
    "model needs nothing else, and its validation scores will look perfect. If it is a "
    "copy of the target or recorded after the outcome, drop it (--drop {column!r}, or "
    "Schema(drop=[{column!r}]))."
)
MSG_SIMILAR_LABELS = (
    "{what} {column!r} has values that differ only in case, spaces, Unicode form or the "
    "spelling of a number: {examples}. They are kept as different {kinds}; if they mean "
    "the same, clean the column first."
)


def parse_thousands(frame: pd.DataFrame, *, skip: Iterable[str] = ()) -> pd.DataFrame:
    """Read text columns of numbers with thousands separators (``"77,516"``) as numbers.

    A column is converted only when every present value is such a number or a plain
    one; a :class:`DataWarning` names each converted column.

    Parameters
    ----------
    frame : DataFrame
        Not modified.
    skip : iterable of str, default=()
        Columns kept as text (groups, ids).

    Returns
    -------
    frame : DataFrame
        A copy with the converted columns, or ``frame`` itself when none was.
    """
    skipped, out = set(skip), frame
    for column in frame.columns:
        values = frame[column]
        text_dtype = values.dtype == object or pd.api.types.is_string_dtype(values.dtype)
        if column in skipped or not text_dtype:
            continue
        present = values.dropna()
        if present.empty or not all(isinstance(v, str) for v in present):
            continue
        text = present.str.strip()
        separated = text.str.match(_THOUSANDS)
        if not separated.any() or not (separated | text.str.match(_PLAIN_NUMBER)).all():
            continue
        if out is frame:
            out = frame.copy()  # the caller's table is not modified
        out[column] = pd.to_numeric(values.str.replace(",", "", regex=False).str.strip())
        example = str(present[separated].iloc[0])
        warnings.warn(
            MSG_THOUSANDS.format(column=column, value=example, n_distinct=present.nunique()),
            DataWarning,
            stacklevel=3,
        )
    return out


def warn_short_rows(path: Path, *, sep: str, gzipped: bool, encoding: str, n_header: int) -> None:
    """Warn when rows of a text file have fewer fields than its header, and when values
    of a column that differ only by leading spaces were read as one value.

    The reader drops the spaces after a delimiter (``a, b`` is read as ``a`` and ``b``),
    so ``" yes"`` and ``"yes"`` in one column become the same value: said, with an
    example, when both spellings occur.

    Parameters
    ----------
    path : Path
        The file (already read successfully by pandas).
    sep : str
        Its one-character delimiter (other delimiters are not checked).
    gzipped : bool
    encoding : str
    n_header : int
        The number of header fields.
    """
    if len(sep) != 1:
        return
    opener = gzip.open if gzipped else open
    count, first = 0, None
    spelled = _Spellings()
    with opener(path, "rt", encoding=encoding, newline="") as handle:
        reader = csv.reader(handle, delimiter=sep)
        header = [h.strip() for h in next(reader, [])]
        for row in reader:
            if row and len(row) < n_header:
                count += 1
                first = first or (reader.line_num, len(row))
            spelled.add(row, reader.line_num)
    merged = spelled.merged()
    if merged is not None:
        index, value, line = merged
        column = header[index] if index < len(header) else f"field {index + 1}"
        warnings.warn(
            MSG_LEADING_SPACES.format(path=path, column=column, value=value, line=line),
            DataWarning,
            stacklevel=4,
        )
    if first is not None:
        warnings.warn(
            MSG_SHORT_ROWS.format(
                path=path, count=count, n_header=n_header, line=first[0], n_fields=first[1]
            ),
            DataWarning,
            stacklevel=4,
        )


class _Spellings:
    """The text values of each column with and without leading spaces (bounded)."""

    LIMIT = 10_000  # distinct values remembered per column and spelling

    def __init__(self) -> None:
        self.spaced: dict[int, dict[str, int]] = {}
        self.plain: dict[int, set[str]] = {}

    def add(self, row: list[str], line: int) -> None:
        for i, field in enumerate(row):
            value = field.lstrip(" ")
            if not value or _PLAIN_NUMBER.match(value):
                continue
            if len(value) < len(field):
                seen = self.spaced.setdefault(i, {})
                if len(seen) < self.LIMIT:
                    seen.setdefault(value, line)
            else:
                seen_plain = self.plain.setdefault(i, set())
                if len(seen_plain) < self.LIMIT:
                    seen_plain.add(value)

    def merged(self) -> tuple[int, str, int] | None:
        """``(column index, value, line)`` of a value met in both spellings, or None."""
        for i, spaced in self.spaced.items():
            for value, line in spaced.items():
                if value in self.plain.get(i, ()):
                    return i, value, line
        return None


def _is_row_counter(values: pd.Series) -> bool:
    if not pd.api.types.is_integer_dtype(values) or len(values) < 2:
        return False
    steps = np.diff(values.to_numpy())
    return bool(np.all(steps == 1)) and int(values.iloc[0]) in (0, 1)


def warn_index_columns(frame: pd.DataFrame, features: Sequence[str]) -> None:
    """Warn about features that are a saved row index (``Unnamed: 0``, 0, 1, 2, ...).

    Parameters
    ----------
    frame : DataFrame
        The rows as read, in file order.
    features : sequence of str
        The feature columns.
    """
    for column in features:
        named = bool(_INDEX_NAMES.match(str(column)))
        if named or _is_row_counter(frame[column]):
            if _is_row_counter(frame[column]) or (named and frame[column].is_unique):
                warnings.warn(MSG_INDEX_COLUMN.format(column=column), DataWarning, stacklevel=3)


def _leak_kind(feature: pd.Series, y: pd.Series, task: str) -> str | None:
    """How ``feature`` determines ``y`` exactly, or None."""
    present = feature.notna()
    if present.sum() < _MIN_ROWS_FOR_LEAKS:
        return None
    feature, y = feature[present], y[present]
    if task == "regression":
        values = pd.to_numeric(feature, errors="coerce")
        if values.notna().all() and np.allclose(values.to_numpy(float), y.to_numpy(float)):
            return "the same values"
        return None
    n_values = feature.nunique()
    if n_values < 2 or n_values > max(2, y.nunique()) * 2:
        return None  # an identifier-like column determines anything; it has its own hint
    if int(y.groupby(feature.to_numpy()).nunique().max()) == 1:
        return f"each of its {n_values} values goes with a single class"
    return None


def warn_target_leaks(frame: pd.DataFrame, target: str, features: Sequence[str], task: str) -> None:
    """Warn about features that determine the target exactly (leakage).

    Parameters
    ----------
    frame : DataFrame
        Rows with a target.
    target : str
    features : sequence of str
    task : {"classification", "regression"}
    """
    y = frame[target]
    for column in features:
        how = _leak_kind(frame[column], y, task)
        if how is not None:
            warnings.warn(
                MSG_TARGET_LEAK.format(column=column, target=target, how=how),
                DataWarning,
                stacklevel=3,
            )


def _label_key(value: Any) -> str:
    text = unicodedata.normalize("NFKC", str(value)).strip().casefold()
    if _PLAIN_NUMBER.match(text):
        number = float(text)
        return repr(int(number)) if number.is_integer() else repr(number)
    return " ".join(text.split())


def similar_labels(values: Iterable[Any]) -> list[list[Any]]:
    """Sets of distinct labels that differ only in case, spaces, Unicode form or the
    spelling of a number.

    Examples
    --------
    >>> similar_labels(["yes", "Yes", "no", "1", "01", "2"])
    [['yes', 'Yes'], ['1', '01']]
    """
    sets: dict[str, list[Any]] = {}
    for value in pd.unique(pd.Series(list(values), dtype=object).dropna()):
        sets.setdefault(_label_key(value), []).append(value)
    return [labels for labels in sets.values() if len(labels) > 1]


def warn_similar_labels(values: Iterable[Any], *, column: str, what: str, kinds: str) -> None:
    """Warn (DataWarning) when labels of a column differ only in form.

    Parameters
    ----------
    values : iterable
        The column's values.
    column : str
        Its name.
    what : str
        "Target column" or "Group column".
    kinds : str
        "classes" or "groups".
    """
    found = similar_labels(values)
    if found:
        examples = "; ".join(" / ".join(map(repr, labels)) for labels in found[:3])
        examples += f" (and {len(found) - 3} more sets)" if len(found) > 3 else ""
        warnings.warn(
            MSG_SIMILAR_LABELS.format(what=what, column=column, examples=examples, kinds=kinds),
            DataWarning,
            stacklevel=3,
        )
