"""What the CLI shows: messages on stderr, results on stdout, errors as one red line.

Results (tables, JSON, CSV) go to stdout so that they can be piped; everything else
(progress, warnings, "wrote ..." lines) goes to stderr. ``--quiet`` silences all but
errors and the requested JSON; spinners only appear on a terminal.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

__all__ = ["Ui", "current_ui", "error_line", "fmt_number", "printable", "to_jsonable"]

UI_KEY = "fairmtl.ui"
#: Width of tables written to a pipe or a file rather than a terminal.
PIPE_WIDTH = 120


#: Characters a terminal may act on: C0 controls, DEL, C1 controls (8-bit CSI, OSC, ST),
#: and the bidirectional overrides that reorder how a line reads.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_CONTROL_KEEP_LINES = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
#: C1 controls and DEL, which :func:`json.dumps` leaves raw with ``ensure_ascii=False``.
_JSON_RAW_CONTROL = re.compile("[\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, *, keep_lines: bool = False) -> str:
    """``text`` with every character a terminal may act on shown as an escape.

    Group names, column names and values come from users' files; printed raw, an escape
    sequence in one could clear the screen, retitle the window or write the clipboard.
    Each such character (C0 and C1 controls, DEL, bidirectional overrides) is shown as
    ``\\x1b`` or ``\\u202e`` instead; everything else is kept.

    Parameters
    ----------
    text : str
    keep_lines : bool, default=False
        Keep line feeds and tabs (for tables and CSV text, which use them).

    Returns
    -------
    text : str

    Examples
    --------
    >>> printable("north\\x1b[2J")
    'north\\\\x1b[2J'
    """
    pattern = _CONTROL_KEEP_LINES if keep_lines else _CONTROL
    return pattern.sub(_escape_char, str(text))


def _json_text(obj: Any) -> str:
    """JSON with every terminal control escaped as ``\\u....``: still the same JSON."""
    text = json.dumps(to_jsonable(obj), indent=2, ensure_ascii=False)
    return _JSON_RAW_CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def to_jsonable(obj: Any) -> Any:
    """A copy of ``obj`` that :func:`json.dumps` accepts: NaN becomes None, numpy -> Python."""
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item) and not isinstance(obj, str):
        try:
            obj = obj.item()
        except (TypeError, ValueError):
            return str(obj)
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if obj is None or isinstance(obj, str | int | float | bool):
        return obj
    return str(obj)


def fmt_number(value: Any, digits: int = 3) -> str:
    """A number for a table cell: ``0.842``, ``1,234`` or ``-`` when missing."""
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(number):
        return "-"
    return f"{number:.{digits}f}"


def error_line(message: str) -> str:
    """An error message on one line (the CLI prints it after ``Error:``), controls escaped."""
    return printable(" ".join(str(message).split()))


class Ui:
    """The CLI's output channels for one command.

    Parameters
    ----------
    quiet : bool, default=False
        Show only errors and the requested results.
    json_mode : bool, default=False
        The command prints JSON on stdout; tables are not printed.
    ctx : typer.Context or None, default=None
        The command's context: the Ui registers itself there, so that warnings raised
        while the command runs are shown (or silenced) through it.
    """

    def __init__(
        self, ctx: typer.Context | None = None, *, quiet: bool = False, json_mode: bool = False
    ) -> None:
        self.quiet = quiet
        self.json_mode = json_mode
        # file=None: rich looks up sys.stdout / sys.stderr at each write, so that
        # CliRunner's captured streams are used.
        self.out = Console(highlight=False, soft_wrap=False)
        if not self.out.is_terminal:  # piped or captured: no terminal width to respect
            self.out = Console(highlight=False, soft_wrap=False, width=PIPE_WIDTH)
        self.err = Console(stderr=True, highlight=False)
        self._shown: set[str] = set()
        if ctx is not None:
            ctx.meta[UI_KEY] = self

    # -- messages on stderr ----------------------------------------------------------
    def info(self, text: str, *, style: str | None = None) -> None:
        """A line of progress or outcome (stderr), unless quiet."""
        if not self.quiet:
            self.err.print(escape(printable(text)), style=style, soft_wrap=True)

    def done(self, text: str) -> None:
        """A line saying what was written (stderr, green), unless quiet."""
        self.info(text, style="green")

    def warn(self, text: str) -> None:
        """A yellow warning line (stderr), once per distinct message, unless quiet."""
        line = error_line(text)
        if self.quiet or line in self._shown:
            return
        self._shown.add(line)
        self.err.print(f"[yellow]Warning:[/yellow] {escape(line)}", soft_wrap=True)

    @contextlib.contextmanager
    def status(self, text: str) -> Iterator[None]:
        """A transient spinner while the body runs: on a terminal only, never when quiet."""
        if self.quiet or not self.err.is_terminal:
            yield
            return
        with self.err.status(escape(printable(text))):
            yield

    # -- results on stdout -----------------------------------------------------------
    def result(self, text: str) -> None:
        """A line of result a script may want (a path, the chosen model): stdout, also
        when quiet; not in JSON mode, where the JSON holds it."""
        if not self.json_mode:
            typer.echo(text)

    def table(self, table: Table) -> None:
        """Print a rich table on stdout (not in JSON mode, not when quiet)."""
        if not (self.quiet or self.json_mode):
            self.out.print(table)

    def print_json(self, obj: Any) -> None:
        """Print ``obj`` as JSON on stdout (always: it was asked for)."""
        typer.echo(_json_text(obj))

    def print_json_text(self, text: str) -> None:
        """Print JSON text on stdout, terminal controls escaped (the same JSON)."""
        typer.echo(_JSON_RAW_CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text))

    def print_text(self, text: str) -> None:
        """Print text (CSV) on stdout, terminal controls escaped (:func:`printable`)."""
        text = printable(text, keep_lines=True)
        typer.echo(text, nl=not text.endswith("\n"))


def current_ui(ctx: typer.Context) -> Ui | None:
    """The :class:`Ui` of the command running in ``ctx``, if it made one."""
    return ctx.meta.get(UI_KEY)


def _is_numeric_cell(cell: Any) -> bool:
    text = str(cell).replace(",", "").replace("%", "").replace("\n", " ").strip()
    parts = [p for p in text.replace("-", " ").split() if p]
    try:
        for part in parts:
            float(part)
    except ValueError:
        return False
    return True


def make_table(
    title: str | None,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    caption: str | None = None,
) -> Table:
    """A rich table: numeric columns right-aligned and never wrapped, text columns wrap.

    Parameters
    ----------
    title : str or None
    columns : sequence of str
        Headers; a ``"\n"`` splits one over two lines.
    rows : sequence of sequences
        Cell values; they are shown with ``str``, markup-escaped and with terminal
        controls escaped (:func:`printable`).
    caption : str or None, default=None

    Returns
    -------
    table : rich.table.Table
    """
    table = Table(
        title=None if title is None else escape(printable(title)),
        caption=None if caption is None else escape(printable(caption)),
        title_justify="left",
    )
    columns = [printable(c, keep_lines=True) for c in columns]
    rows = [[printable(str(cell), keep_lines=True) for cell in row] for row in rows]
    for i, name in enumerate(columns):
        cells = [str(r[i]) for r in rows]
        if cells and all(_is_numeric_cell(c) for c in cells):
            table.add_column(escape(name), justify="right", no_wrap=True)
        else:
            words = [len(w) for text in [*cells, name] for w in text.split()]
            cap = 24 if i == 0 else 10  # the first column names the rows: keep it readable
            table.add_column(escape(name), overflow="fold", min_width=min(max(words), cap))
    for row in rows:
        table.add_row(*(escape(str(cell)) for cell in row))
    return table


def stderr_console() -> Console:
    """A console on stderr for errors (also when no command made a :class:`Ui`)."""
    return Console(stderr=True, highlight=False, file=sys.stderr)
