"""The ``fairmtl`` command line: fit, predict, evaluate, frontier, run, report, datasets, demo.

A typer app over the estimator and frontier APIs; it only parses options, calls library
functions and displays their results. ``fairmtl --help`` lists the commands, and each
command's ``--help`` shows an example.
"""

from fairmtl.cli._app import app, main

__all__ = ["app", "main"]
