"""The ``fairmtl`` command line: fit, predict, evaluate, frontier, run, report, datasets, demo.

A typer app over the estimator and frontier APIs; it only parses options, calls library
functions and displays their results. ``fairmtl --help`` lists the commands, and each
command's ``--help`` shows an example.

Modules: ``_commands_<topic>.py`` hold the typer commands of a topic (``datasets``,
``frontier`` with ``run``, ``demo`` and ``report``, ``fit``, ``model`` with ``predict`` and
``evaluate``, ``transfer``); ``_<topic>*.py`` hold the plain functions they call, which
return data and are tested without the CLI (``_datasets``, ``_frontier``,
``_experiment``, ``_model``, ``_model_evaluation``); ``_app``, ``_options``, ``_ui``,
``_pipeline`` and ``_fingerprint`` serve them all. Reading the user's table is
:func:`fairmtl.data.load_training_table`.
"""

from fairmtl.cli._app import app, main

__all__ = ["app", "main"]
