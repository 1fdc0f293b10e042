"""Running the typer app in-process, as the CLI tests do."""

from __future__ import annotations

from typing import Any

from typer.testing import CliRunner

from fairmtl.cli import app

runner = CliRunner()


def invoke(*args: Any) -> Any:
    """Run ``fairmtl ARGS...`` (each argument passed as text)."""
    return runner.invoke(app, [str(a) for a in args])


def ok(result: Any) -> Any:
    """The result of a command that must have succeeded."""
    assert result.exit_code == 0, result.output
    return result


def one_error_line(result: Any, code: int = 1) -> str:
    """The command failed with ``code``, one 'Error:' line on stderr and no traceback."""
    assert result.exit_code == code, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.output
    return errors[0]
