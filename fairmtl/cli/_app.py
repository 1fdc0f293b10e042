"""The ``fairmtl`` typer app: commands, global options and error handling.

Errors raised on purpose by fairmtl (:class:`~fairmtl.exceptions.FairMTLError`) and
operating-system errors become one red line on stderr, saying what to do, and exit code
1; bad usage exits with 2 (typer's convention). ``--debug`` (anywhere on the command
line, or ``FAIRMTL_DEBUG=1``) prints the traceback as well. fairmtl's warnings are shown
as yellow lines, once each; other libraries' warnings only with ``--debug``.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import traceback
import warnings
from typing import Annotated, Any

import typer
from rich.markup import escape
from typer.core import TyperGroup

from fairmtl.cli import (
    _commands_datasets,
    _commands_frontier,
    _commands_model,
    _commands_transfer,
)
from fairmtl.cli._options import ARGV_KEY, DEBUG_KEY
from fairmtl.cli._ui import current_ui, error_line, stderr_console

__all__ = ["FairMTLGroup", "app", "main"]

MSG_UNEXPECTED = (
    "Unexpected {type}: {message}. This is a bug in fairmtl or a dependency: run the "
    "command again with --debug to see the traceback, and report it."
)
MSG_INTERRUPTED = "Interrupted."
MSG_FALLBACK_NOTE = (
    "Note: a solver did not finish on some fits and the next solver of the chain took "
    "over; each fit's solver and status are recorded with the results (--debug shows "
    "every fallback)."
)
FALLBACK_KEY = "fairmtl.fallback_noted"
EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130

# typer's own control-flow exceptions (exit, abort, usage errors) pass through untouched;
# ClickException is found by name so that this works whether typer vendors click or not.
_PASS_THROUGH: tuple[type[BaseException], ...] = (
    typer.Exit,
    typer.Abort,
    *[c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"],
)


def _is_debug(ctx: typer.Context) -> bool:
    flag = os.environ.get("FAIRMTL_DEBUG", "").strip().lower()
    return bool(ctx.meta.get(DEBUG_KEY)) or flag in ("1", "true", "yes")


def _show_warning(
    ctx: typer.Context, message: Any, category: type[Warning], *args: Any, **kwargs: Any
) -> None:
    """``warnings.showwarning`` while a command runs: fairmtl's warnings as yellow lines."""
    from fairmtl.exceptions import FairMTLWarning, SolverFallbackWarning

    if not issubclass(category, FairMTLWarning) and not _is_debug(ctx):
        return
    ui = current_ui(ctx)
    if issubclass(category, SolverFallbackWarning) and not _is_debug(ctx):
        # Nothing to act on: the next solver took over and the results record it.
        if ui is not None and not ctx.meta.get(FALLBACK_KEY):
            ctx.meta[FALLBACK_KEY] = True
            ui.info(MSG_FALLBACK_NOTE, style="dim")
        return
    if ui is not None:
        ui.warn(str(message))
    else:
        stderr_console().print(
            f"[yellow]Warning:[/yellow] {escape(error_line(str(message)))}", soft_wrap=True
        )


def _report_error(ctx: typer.Context, error: BaseException, line: str) -> None:
    console = stderr_console()
    if _is_debug(ctx):
        console.file.write("".join(traceback.format_exception(error)))
    console.print(f"[bold red]Error:[/bold red] {escape(error_line(line))}", soft_wrap=True)


def _is_parameter_error(error: Exception) -> bool:
    """scikit-learn's parameter validation errors say clearly what is wrong."""
    from sklearn.utils._param_validation import InvalidParameterError

    return isinstance(error, InvalidParameterError)


#: Libraries whose log messages (advice meant for their own users) are shown only with
#: --debug: fairlearn's grid search logs tuning hints for every baseline fit.
QUIET_LOGGERS = ("fairlearn",)


@contextlib.contextmanager
def _library_logs(debug: bool):
    """Silence the log warnings of :data:`QUIET_LOGGERS` while a command runs."""
    loggers = [logging.getLogger(name) for name in QUIET_LOGGERS]
    levels = [logger.level for logger in loggers]
    if not debug:
        for logger in loggers:
            logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


class FairMTLGroup(TyperGroup):
    """The top-level group: takes ``--debug`` from anywhere and turns errors into lines."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        ctx.meta[ARGV_KEY] = list(args)
        end = args.index("--") if "--" in args else len(args)
        if "--debug" in args[:end]:
            ctx.meta[DEBUG_KEY] = True
            args = [a for a in args[:end] if a != "--debug"] + args[end:]
        return super().parse_args(ctx, args)

    def invoke(self, ctx: typer.Context) -> Any:
        from fairmtl.exceptions import FairMTLError, FairMTLWarning

        with warnings.catch_warnings(), _library_logs(_is_debug(ctx)):
            warnings.simplefilter("default")
            warnings.simplefilter("always", FairMTLWarning)
            warnings.showwarning = functools.partial(_show_warning, ctx)
            try:
                return super().invoke(ctx)
            except _PASS_THROUGH:
                raise
            except KeyboardInterrupt as e:
                _report_error(ctx, e, MSG_INTERRUPTED)
                raise typer.Exit(EXIT_INTERRUPTED) from None
            except (FairMTLError, OSError) as e:
                _report_error(ctx, e, str(e) or type(e).__name__)
                raise typer.Exit(EXIT_FAILURE) from None
            except Exception as e:
                if _is_parameter_error(e):
                    line = str(e)
                else:
                    line = MSG_UNEXPECTED.format(type=type(e).__name__, message=e)
                _report_error(ctx, e, line)
                raise typer.Exit(EXIT_FAILURE) from None


app = typer.Typer(
    name="fairmtl",
    cls=FairMTLGroup,
    help=(
        "Train models for data from many groups (hospitals, demographic groups) so that "
        "no group is left behind, and see the fairness-accuracy frontier.\n\n"
        "\b\nExample:\n"
        "  fairmtl frontier visits.csv --target readmitted --group hospital "
        "-o reports/readmission.html"
    ),
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from fairmtl import __version__

        typer.echo(f"fairmtl {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    ctx: typer.Context,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="Show the full traceback of an error (may be given anywhere, "
            "e.g. fairmtl fit data.csv ... --debug).",
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_version, is_eager=True
        ),
    ] = False,
) -> None:
    """Group-as-task models under fairness objectives, and their frontier reports."""
    if debug:
        ctx.meta[DEBUG_KEY] = True


_commands_model.register(app)
_commands_frontier.register(app)
_commands_datasets.register(app)
_commands_transfer.register(app)


def main() -> None:
    """Entry point of the ``fairmtl`` console script."""
    app(prog_name="fairmtl")
