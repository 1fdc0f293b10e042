"""``fairmtl transfer``: which groups help each other. Parse, call, display.

Reads the table as the other commands do (:func:`fairmtl.data.load_training_table`),
turns the features into numbers with :func:`fairmtl.data.make_preprocessor`, runs
:func:`fairmtl.transfer.transfer_summary`, prints its one-line reading and writes the
HTML page (:func:`fairmtl.report.write_transfer_report`) with the summary as JSON beside it.
"""

from __future__ import annotations

import json as jsonlib
import warnings
from pathlib import Path
from typing import Annotated, Any

import typer

from fairmtl.cli._options import (
    CategoricalOpt,
    DataArg,
    DropOpt,
    EncodingOpt,
    FeaturesOpt,
    ForceOpt,
    GroupOpt,
    IdOpt,
    JsonOpt,
    NaValuesOpt,
    NBootOpt,
    OnMissingTargetOpt,
    QuietOpt,
    SeedOpt,
    SepOpt,
    TargetOpt,
    TaskOpt,
)
from fairmtl.cli._ui import Ui, to_jsonable

__all__ = ["register", "transfer"]

#: The pooled schemes ``fairmtl transfer`` compares with each group's own model.
TRANSFER_SCHEMES = ("offset", "shared", "clustered")
MSG_ONE_CLASS_NOTE = (
    "Group(s) {groups} have a single class in the training rows: their own (independent) "
    "models predict that class for every row, which is what the comparison measures."
)

MSG_BAD_SCHEME = "Unknown --sharing {name!r} for transfer. Choose among {choices}."
#: Every pooled scheme that transfer can compare with the groups' own models.
TRANSFER_CHOICES = ("offset", "shared", "clustered", "lowrank")

SchemesOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--sharing",
        metavar="SCHEME",
        help="The pooled scheme(s) to compare with each group's own model: offset, shared, "
        "clustered or lowrank (repeat or comma-separate); the first is the one the "
        "reading names. Default: offset, shared, clustered.",
        show_default=False,
    ),
]


def _schemes(values: list[str] | None) -> list[str]:
    from fairmtl.cli._options import split_names
    from fairmtl.exceptions import DataValidationError

    names = list(dict.fromkeys(split_names(values))) or list(TRANSFER_SCHEMES)
    for name in names:
        if name not in TRANSFER_CHOICES:
            raise DataValidationError(
                MSG_BAD_SCHEME.format(name=name, choices=", ".join(TRANSFER_CHOICES))
            )
    return names


TransferReportOpt = Annotated[
    Path,
    typer.Option(
        "--output",
        "-o",
        help="The HTML page to write (the JSON summary goes beside it, with .json), "
        "e.g. -o reports/transfer.html.",
        show_default=False,
    ),
]


def _features(table: Any) -> Any:
    """The table's features as numbers: imputed, scaled and one-hot encoded.

    The preprocessor is fitted on all rows (it sees no target): the diagnostics compare
    models fitted on the same numbers, so this does not favour one of them.
    """
    from fairmtl.data import make_preprocessor

    return make_preprocessor(table.schema).fit_transform(table.X)


def transfer(
    ctx: typer.Context,
    data: DataArg,
    target: TargetOpt,
    group: GroupOpt,
    output: TransferReportOpt,
    seed: SeedOpt = 0,
    n_boot: NBootOpt = 200,
    task: TaskOpt = "auto",
    drop: DropOpt = None,
    features: FeaturesOpt = None,
    sep: SepOpt = None,
    na_values: NaValuesOpt = None,
    id_column: IdOpt = None,
    sharing: SchemesOpt = None,
    categorical: CategoricalOpt = None,
    encoding: EncodingOpt = "utf-8",
    on_missing_target: OnMissingTargetOpt = "drop",
    force: ForceOpt = False,
    quiet: QuietOpt = False,
    json: JsonOpt = False,
) -> None:
    """Which groups help each other: gain from sharing, task affinity and a reading.

    Compares each group's held-out loss under pooled models (offset, shared, and
    pooled within clusters of aligned groups) with its own model, with bootstrap
    intervals; measures how much each pair of groups agree; prints a one-line reading
    and writes an HTML page (-o) with the summary as JSON beside it.

    \b
    Example:
      fairmtl transfer visits.csv --target readmitted --group hospital -o reports/transfer.html
    """
    from fairmtl.cli._pipeline import TableOptions, build_estimator
    from fairmtl.data import atomic_write_many, check_outputs
    from fairmtl.report import render_transfer_html
    from fairmtl.transfer import transfer_summary
    from fairmtl.transfer._common import DEFAULT_SHARING_STRENGTH

    ui = Ui(ctx, quiet=quiet, json_mode=json)
    json_path = output.with_suffix(".json")
    check_outputs([output, json_path], force=force)  # before the fits, not after them
    table = TableOptions.from_context(ctx).read()
    schemes = _schemes(sharing)
    estimator = build_estimator(
        table.task,
        sharing="offset",
        objective="average",
        sharing_strength=DEFAULT_SHARING_STRENGTH,
        random_state=seed,
    )
    with (
        ui.status("Fitting pooled and per-group models..."),
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        summary = transfer_summary(
            _features(table),
            table.y.to_numpy(),
            groups=table.groups,
            estimator=estimator,
            schemes=schemes,
            n_boot=n_boot,
            random_state=seed,
        )
    _show_warnings(ui, caught)
    page = render_transfer_html(summary, source=table.source)
    text = jsonlib.dumps(to_jsonable(summary), indent=1, ensure_ascii=False, allow_nan=False)
    pair = [(output, page.encode("utf-8")), (json_path, (text + "\n").encode("utf-8"))]
    html, json_written = atomic_write_many(pair, force=force)  # both or neither
    ui.done(f"Wrote the report to {html}")
    ui.done(f"Wrote the summary to {json_written}")
    if json:
        ui.print_json(
            {
                "report": str(html),
                "summary": str(json_written),
                "reading": summary["reading"],
                "hurt": summary["hurt"].get(summary["reference"], []),
                "misaligned": summary["misaligned"],
                "n_clusters": summary["affinity"]["n_clusters"],
                "rows_dropped": table.rows_dropped,
            }
        )
    else:
        ui.print_text(summary["reading"])


def _show_warnings(ui: Ui, caught: list[warnings.WarningMessage]) -> None:
    """Pass on the fits' warnings, except the one-class advice that the comparison
    itself cannot follow (its own models are independent by design): a note instead."""
    import re

    from fairmtl.estimators._input import MSG_ONE_CLASS_GROUP

    prefix = MSG_ONE_CLASS_GROUP.split("{groups}")[0]
    one_class = []
    for w in caught:
        text = str(w.message)
        if text.startswith(prefix):
            found = re.match(re.escape(prefix) + r"(.*?) have a single class", text)
            one_class.append(found.group(1) if found else "?")
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if one_class:
        ui.info(MSG_ONE_CLASS_NOTE.format(groups=", ".join(dict.fromkeys(one_class))))


def register(app: typer.Typer) -> None:
    """Add transfer to ``app``."""
    app.command("transfer")(transfer)
