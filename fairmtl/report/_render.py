"""Render results to one self-contained HTML file; save and load results as JSON.

The page carries its style sheet and script inline, fetches nothing, and declares a
Content-Security-Policy that allows no network access and runs only its own script
(by hash), so even text that slipped past escaping could not run.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import math
import os
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import markupsafe
from markupsafe import Markup

from fairmtl.data._writing import (
    MSG_EXISTS_NO_FORCE,
    atomic_write_many,
    atomic_write_text,
    check_outputs,
)
from fairmtl.exceptions import DataValidationError
from fairmtl.report._context import build_context, transfer_context
from fairmtl.report._validate import validate_results, validate_transfer

__all__ = [
    "render_html",
    "write_report",
    "save_results",
    "write_report_and_results",
    "load_results",
    "render_transfer_html",
    "write_transfer_report",
]

#: An output exists and ``force`` was not given (the message of every fairmtl writer).
MSG_FILE_EXISTS = MSG_EXISTS_NO_FORCE
MSG_BAD_JSON = "{path} is not a valid results file: {reason}."

_CSP = (
    "default-src 'none'; script-src '{script_hash}'; style-src 'unsafe-inline'; "
    "img-src data:; base-uri 'none'; form-action 'none'"
)


#: Where a group name may break across lines: after "|", "_", "/" and spaces.
_BREAK_AFTER = re.compile(r"(?<=[|_/ ])")


def breakable(name: Any) -> markupsafe.Markup:
    """A name, escaped, that breaks across lines only after a separator.

    Each piece is a ``<span class="nb">`` (no wrapping inside, not even at a hyphen:
    "Asian-Pac-Islander" stays whole) followed by ``<wbr>``; the text is unchanged.

    Examples
    --------
    >>> str(breakable("a_b|c"))
    '<span class="nb">a_</span><wbr><span class="nb">b|</span><wbr><span class="nb">c</span>'
    >>> str(breakable("<b>"))
    '<span class="nb">&lt;b&gt;</span>'
    """
    parts = [p for p in _BREAK_AFTER.split(str(name)) if p]
    pieces = (markupsafe.Markup('<span class="nb">%s</span>') % p for p in parts)
    return markupsafe.Markup("<wbr>").join(pieces)


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("fairmtl.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["breakable"] = breakable
    return env


@functools.lru_cache(maxsize=4)
def _static(name: str) -> str:
    """The text of a file under ``templates/`` (the inline style sheet and script)."""
    return (resources.files("fairmtl.report") / "templates" / name).read_text(encoding="utf-8")


def render_html(results: Mapping[str, Any]) -> str:
    """Render results to the text of one self-contained HTML page.

    Parameters
    ----------
    results : dict
        Results of a frontier search; see :class:`fairmtl.report.Results`.

    Returns
    -------
    html : str
        The page. It loads nothing from the network and reads well without JavaScript.

    Raises
    ------
    DataValidationError
        When `results` does not follow the schema; the message names the key.

    See Also
    --------
    write_report : Render and write to a file.
    """
    validate_results(results)
    context = build_context(results)
    context.update(_page_assets())
    return _environment().get_template("report.html.j2").render(context)


def _page_assets() -> dict[str, Any]:
    """The inline style sheet and script, and the CSP that allows that script by hash."""
    script = _static("report.js")
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    return {
        "css": Markup(_static("report.css")),
        "script": Markup(script),
        "csp": _CSP.format(script_hash=f"sha256-{digest}"),
    }


def render_transfer_html(
    summary: Mapping[str, Any], *, title: str | None = None, source: str | None = None
) -> str:
    """Render a transfer summary alone to one self-contained HTML page.

    The page shows the one-line reading, the gain-from-sharing chart with intervals,
    the affinity heatmap and a per-group table, under the same rules as the frontier
    report: nothing fetched, a strict Content-Security-Policy.

    Parameters
    ----------
    summary : dict
        The output of :func:`fairmtl.transfer.transfer_summary` (or the same loaded
        from JSON); see :class:`fairmtl.report.TransferSummary`.
    title : str or None, default=None
        The page title; "Which groups help each other" by default.
    source : str or None, default=None
        Where the data came from, shown under the title.

    Returns
    -------
    html : str

    Raises
    ------
    DataValidationError
        When `summary` does not follow the schema; the message names the key.
    """
    from fairmtl import __version__

    validate_transfer(summary, "")
    context: dict[str, Any] = {
        "t": transfer_context(summary),
        "title": title or "Which groups help each other",
        "source": source,
        "task": summary["task"],
        "version": summary["version"],
        "fairmtl_version": __version__,
    }
    context.update(_page_assets())
    return _environment().get_template("transfer.html.j2").render(context)


def write_report(
    results: Mapping[str, Any], path: str | os.PathLike[str], *, force: bool = False
) -> Path:
    """Render results and write the HTML report, atomically.

    Parameters
    ----------
    results : dict
        Results of a frontier search; see :class:`fairmtl.report.Results`.
    path : str or path-like
        Where to write the report; missing parent folders are created.
    force : bool, default=False
        Overwrite `path` if it exists.

    Returns
    -------
    path : Path
        The file written.

    Raises
    ------
    FileExistsNoForceError
        When `path` exists and `force` is False.
    DataValidationError
        When `results` does not follow the schema (nothing is written).
    """
    check_outputs([path], force=force)  # before the work of rendering
    return atomic_write_text(path, render_html(results), force=force)


def write_transfer_report(
    summary: Mapping[str, Any],
    path: str | os.PathLike[str],
    *,
    force: bool = False,
    title: str | None = None,
    source: str | None = None,
) -> Path:
    """Render a transfer summary (see :func:`render_transfer_html`) and write it, atomically.

    Parameters
    ----------
    summary : dict
        The output of :func:`fairmtl.transfer.transfer_summary`.
    path : str or path-like
        Where to write the page; missing parent folders are created.
    force : bool, default=False
        Overwrite `path` if it exists.
    title, source : str or None, default=None
        See :func:`render_transfer_html`.

    Returns
    -------
    path : Path
        The file written.

    Raises
    ------
    FileExistsNoForceError
        When `path` exists and `force` is False.
    DataValidationError
        When `summary` does not follow the schema (nothing is written).
    """
    check_outputs([path], force=force)
    html = render_transfer_html(summary, title=title, source=source)
    return atomic_write_text(path, html, force=force)


def _jsonable(obj: Any) -> Any:
    """A copy of `obj` that JSON can hold: NaN and infinities become None."""
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "tolist") and callable(obj.tolist):
        return _jsonable(obj.tolist())  # a numpy scalar or array
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def save_results(
    results: Mapping[str, Any], path: str | os.PathLike[str], *, force: bool = False
) -> Path:
    """Save results as JSON so that the report can be rebuilt without refitting.

    Parameters
    ----------
    results : dict
        Results of a frontier search; validated before writing.
    path : str or path-like
        Where to write; missing parent folders are created.
    force : bool, default=False
        Overwrite `path` if it exists.

    Returns
    -------
    path : Path
        The file written. NaN and infinite values are written as ``null``.

    Raises
    ------
    FileExistsNoForceError
        When `path` exists and `force` is False.
    DataValidationError
        When `results` does not follow the schema (nothing is written).
    """
    validate_results(results)
    return atomic_write_text(path, _results_json(results), force=force)


def _results_json(results: Mapping[str, Any]) -> str:
    text = json.dumps(_jsonable(results), indent=1, ensure_ascii=False, allow_nan=False)
    return text + "\n"


def write_report_and_results(
    results: Mapping[str, Any],
    html_path: str | os.PathLike[str],
    json_path: str | os.PathLike[str],
    *,
    force: bool = False,
) -> tuple[Path, Path]:
    """Write the HTML report and the JSON results together: both or neither.

    A failure part-way (a full disk, a file that appeared meanwhile) leaves neither
    file behind and any previous pair unchanged, so that a re-run is not refused.

    Parameters
    ----------
    results : dict
        Results of a frontier search.
    html_path, json_path : str or path-like
        The report and the results file.
    force : bool, default=False
        Overwrite existing files.

    Returns
    -------
    html_path, json_path : Path

    Raises
    ------
    FileExistsNoForceError
        When either file exists and `force` is False (nothing is written).
    OutputError
        When a file cannot be written (nothing is written).
    """
    check_outputs([html_path, json_path], force=force)
    html = render_html(results).encode("utf-8")
    text = _results_json(results).encode("utf-8")
    written = atomic_write_many([(html_path, html), (json_path, text)], force=force)
    return written[0], written[1]


def load_results(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load results saved by :func:`save_results` and check them.

    Parameters
    ----------
    path : str or path-like
        A JSON results file.

    Returns
    -------
    results : dict

    Raises
    ------
    FileNotFoundError
        When `path` does not exist.
    DataValidationError
        When the file is not JSON or does not follow the schema.
    """
    text = Path(path).read_text(encoding="utf-8")
    try:
        results = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataValidationError(MSG_BAD_JSON.format(path=path, reason=e)) from e
    validate_results(results)
    return results
