"""Neutralising spreadsheet formulas in written CSV files (OWASP's "CSV injection").

A spreadsheet opening a CSV file runs a cell that begins with ``=``, ``+``, ``-`` or
``@`` (and, in some programs, a tab or carriage return) as a formula: a group name or
id such as ``=HYPERLINK("http://...")`` in a user's data would become a live link or a
command in the predictions file. As OWASP recommends, such text cells are written with
a single quote in front (``'=HYPERLINK(...)``), which spreadsheets show as text. Text
that is a plain number (``-5``, ``+3.2``) cannot be a formula and is written as is.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["FORMULA_PREFIXES", "neutralize_cell", "neutralize_formulas"]

#: The first characters that make a spreadsheet read a cell as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.strip() == text


def neutralize_cell(value: Any) -> Any:
    """``value`` with a ``'`` in front if it is text that a spreadsheet would run.

    Parameters
    ----------
    value : object
        A cell; only strings are changed.

    Returns
    -------
    value : object

    Examples
    --------
    >>> neutralize_cell('=HYPERLINK("http://x")')
    '\\'=HYPERLINK("http://x")'
    >>> neutralize_cell("-5"), neutralize_cell("north"), neutralize_cell(-5)
    ('-5', 'north', -5)
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES) and not _is_number(value):
        return "'" + value
    return value


def neutralize_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells and column names cannot run as formulas.

    Parameters
    ----------
    frame : DataFrame
        Not modified.

    Returns
    -------
    frame : DataFrame
        Numeric columns unchanged; text cells and names passed through
        :func:`neutralize_cell`.
    """
    out = frame.copy()  # the caller's table is not modified
    for i in range(out.shape[1]):
        column = out.iloc[:, i]
        if column.dtype == object or isinstance(column.dtype, pd.StringDtype | pd.CategoricalDtype):
            out.isetitem(i, column.astype(object).map(neutralize_cell))
    out.columns = [neutralize_cell(c) for c in out.columns]
    return out
