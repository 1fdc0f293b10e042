"""Options shared by several commands, declared once as ``Annotated`` types.

The choices of ``--objective`` and ``--sharing`` are spelled out here so that ``--help``
does not import the solver stack; a test checks them against
:data:`fairmtl.objectives.OBJECTIVES` and :data:`fairmtl.models.SHARING_SCHEMES`.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal

import typer

__all__ = [
    "ARGV_KEY",
    "DEBUG_KEY",
    "OBJECTIVE_NAMES",
    "SHARING_NAMES",
    "command_line",
]

DEBUG_KEY = "fairmtl.debug"
ARGV_KEY = "fairmtl.argv"

Objective = Literal[
    "average",
    "balanced",
    "minimax",
    "tilted",
    "bounded",
    "gap",
    "no_harm",
    "chebyshev",
    "demographic_parity",
    "equal_opportunity",
    "equalized_odds",
]
Sharing = Literal["shared", "independent", "offset", "lowrank"]
TaskName = Literal["auto", "classification", "regression"]
OBJECTIVE_NAMES: tuple[str, ...] = Objective.__args__  # type: ignore[attr-defined]
SHARING_NAMES: tuple[str, ...] = Sharing.__args__  # type: ignore[attr-defined]


def split_names(values: Sequence[str] | str | None) -> tuple[str, ...]:
    """Column names from repeated options, each of which may be comma-separated.

    Parameters
    ----------
    values : sequence of str, str or None
        ``["race", "sex"]``, ``["race,sex"]`` or ``"race,sex"``.

    Returns
    -------
    names : tuple of str
        Stripped, non-empty names in order.

    Examples
    --------
    >>> split_names(["race,sex", " age "])
    ('race', 'sex', 'age')
    """
    if values is None:
        return ()
    if isinstance(values, str):
        values = [values]
    names = [part.strip() for value in values for part in str(value).split(",")]
    return tuple(name for name in names if name)


def command_line(ctx: typer.Context) -> str:
    """The command line that started this run, as ``fairmtl ...`` (for the results)."""
    return shlex.join(["fairmtl", *ctx.find_root().meta.get(ARGV_KEY, [])])


_DATA_HELP = (
    "The data file: CSV (delimiter sniffed), TSV, gzip'd CSV (.csv.gz) or Parquet, e.g. visits.csv."
)
DataArg = Annotated[Path, typer.Argument(help=_DATA_HELP, show_default=False, metavar="DATA")]
ModelArg = Annotated[
    Path,
    typer.Argument(
        help="A model file written by fairmtl fit, e.g. model.skops.",
        show_default=False,
        metavar="MODEL",
    ),
]
TargetOpt = Annotated[
    str,
    typer.Option(
        "--target",
        "-t",
        metavar="COL",
        help="The column to predict, e.g. --target readmitted.",
        show_default=False,
    ),
]
GroupOpt = Annotated[
    list[str],
    typer.Option(
        "--group",
        "-g",
        metavar="COL",
        help="A group column (each group is a task). Repeat it, or separate with commas, "
        "for intersections: --group race --group sex.",
        show_default=False,
    ),
]
FeaturesOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--features",
        metavar="COL",
        help="Use only these feature columns (repeat or comma-separate), e.g. "
        "--features age,los. Default: every column without another role.",
        show_default=False,
    ),
]
DropOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--drop",
        metavar="COL",
        help="Ignore these columns (repeat or comma-separate), e.g. --drop name,zip.",
        show_default=False,
    ),
]
SepOpt = Annotated[
    str | None,
    typer.Option(
        "--sep",
        help="The delimiter of a text file, e.g. --sep ';'. Default: sniffed.",
        show_default=False,
    ),
]
NaValuesOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--na-values",
        metavar="TEXT",
        help="Text read as a missing value, replacing the default list (empty field, ?, "
        "NA, N/A, n/a, #N/A, NaN, nan, NULL, null; in group and id columns only an empty "
        "field). Repeat it: --na-values '' --na-values -999. Given, it applies to every "
        "column.",
        show_default=False,
    ),
]
IdOpt = Annotated[
    str | None,
    typer.Option(
        "--id-column",
        metavar="COL",
        help="A row identifier, never a feature, carried into predictions, e.g. "
        "--id-column visit_id.",
        show_default=False,
    ),
]
TaskOpt = Annotated[
    TaskName,
    typer.Option(
        "--task",
        help="classification or regression; auto: regression for a numeric target with "
        "more than 20 distinct values.",
    ),
]
SharingOpt = Annotated[
    Sharing,
    typer.Option(
        "--sharing",
        help="How group models share parameters: offset (shared core + per-group offsets), "
        "shared, independent or lowrank.",
    ),
]
EpsilonOpt = Annotated[
    float | None,
    typer.Option(
        "--epsilon",
        min=0.0,
        help="Loss bound of --objective bounded (slack of no_harm, gap of the rate "
        "objectives), e.g. --epsilon 0.45.",
        show_default=False,
    ),
]
AlphaOpt = Annotated[
    float | None,
    typer.Option(
        "--alpha",
        min=0.0,
        help="L2 penalty per unit of mean loss, e.g. --alpha 1e-3. Default: chosen by "
        "5-fold cross-validation.",
        show_default=False,
    ),
]
StrengthOpt = Annotated[
    float | None,
    typer.Option(
        "--sharing-strength",
        min=0.0,
        help="How strongly group models are pulled together (offset: per group of "
        "average size; lowrank), e.g. --sharing-strength 0.1. Default: chosen by 5-fold "
        "cross-validation.",
        show_default=False,
    ),
]
OutputOpt = Annotated[
    Path,
    typer.Option(
        "--output",
        "-o",
        metavar="PATH",
        help="The file to write, e.g. -o model.skops.",
        show_default=False,
    ),
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Overwrite the output file if it exists.")]
QuietOpt = Annotated[
    bool, typer.Option("--quiet", "-q", help="Print only errors and requested results.")
]
JsonOpt = Annotated[
    bool,
    typer.Option("--json", help="Print the results as JSON on stdout (for scripts)."),
]
SeedOpt = Annotated[
    int, typer.Option("--seed", help="Random seed (splits, bootstrap), e.g. --seed 1.")
]
NBootOpt = Annotated[
    int,
    typer.Option("--n-boot", min=1, help="Bootstrap replicates of the confidence intervals."),
]
CategoricalOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--categorical",
        metavar="COL",
        help="Treat these numeric columns as categories (repeat or comma-separate), e.g. "
        "--categorical chest_pain_type for integer codes. Default: text columns only.",
        show_default=False,
    ),
]
EncodingOpt = Annotated[
    str,
    typer.Option(
        "--encoding",
        help="The text encoding of a CSV or TSV file, e.g. --encoding latin-1.",
    ),
]
OnMissingTargetOpt = Annotated[
    Literal["drop", "error"],
    typer.Option(
        "--on-missing-target",
        help="What to do with rows whose target is missing: drop them (and say how many) "
        "or stop with an error.",
    ),
]
