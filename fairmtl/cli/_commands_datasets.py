"""``fairmtl datasets`` (list) and ``fairmtl datasets export``: parse, call, display."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from fairmtl.cli._options import ForceOpt, JsonOpt, OutputOpt, QuietOpt
from fairmtl.cli._ui import Ui, fmt_number, make_table

__all__ = ["register"]

datasets_app = typer.Typer(
    invoke_without_command=True,
    add_completion=False,
)


@datasets_app.callback()
def datasets(
    ctx: typer.Context,
    json: JsonOpt = False,
) -> None:
    """List the bundled datasets, or export one as a file to start from.

    Without a subcommand, shows each dataset's rows, target and default groups;
    `fairmtl datasets export NAME -o FILE` writes one as a CSV.

    \b
    Example:
      fairmtl datasets
      fairmtl datasets export adult -o adult.csv
    """
    if ctx.invoked_subcommand is not None:
        return
    from fairmtl.cli._datasets import dataset_listing

    ui = Ui(ctx, json_mode=json)
    listing = dataset_listing()
    if json:
        ui.print_json(listing.to_dict("records"))
        return
    rows = [
        [
            r["name"],
            fmt_number(int(r["rows"])),
            r["target"],
            r["default_groups"],
            r["description"],
        ]
        for r in listing.to_dict("records")
    ]
    columns = ["name", "rows", "target", "default groups", "description"]
    ui.table(make_table("Bundled datasets", columns, rows))
    ui.info("Export one to a file: fairmtl datasets export adult -o adult.csv")


@datasets_app.command("export")
def export(
    ctx: typer.Context,
    name: Annotated[
        str,
        typer.Argument(help="The dataset, e.g. adult (see fairmtl datasets).", show_default=False),
    ],
    output: OutputOpt,
    split: Annotated[
        Literal["train", "test"] | None,
        typer.Option(
            "--split",
            help="For datasets with a train and a test file (adult, census_kdd). Default: train.",
            show_default=False,
        ),
    ] = None,
    all_columns: Annotated[
        bool,
        typer.Option(
            "--all-columns",
            help="Also write the columns that are not features (COMPAS's is_recid, which "
            "leaks the target, and its risk scores; Census KDD's survey weight), for audits.",
        ),
    ] = False,
    force: ForceOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Write a bundled dataset as a CSV (or .csv.gz, .tsv, .parquet) file.

    The file holds the features, the 0/1 target and the group columns, ready for
    fairmtl fit or fairmtl frontier; --all-columns adds the columns that are not
    features.

    \b
    Example:
      fairmtl datasets export adult -o adult.csv --split test
    """
    from fairmtl.cli._datasets import export_dataset

    ui = Ui(ctx, quiet=quiet)
    outcome = export_dataset(name, output, split=split, force=force, all_columns=all_columns)
    where = f" ({outcome.split} split)" if outcome.split else ""
    ui.done(f"Wrote {outcome.n_rows:,} rows of {outcome.name}{where} to {outcome.path}")
    extra = ", ".join(outcome.not_features)
    if extra and not outcome.all_columns:
        ui.info(f"Left out {extra}: not features; --all-columns writes them too.")
    groups = " ".join(f"--group {g}" for g in outcome.groups)
    drop = ""
    if extra and outcome.all_columns:
        drop = f" --drop {','.join(outcome.not_features)}"  # keep them out of the model
    ui.info(
        f"Next: fairmtl frontier {outcome.path} --target {outcome.target} {groups}{drop} "
        f"-o reports/{outcome.name}.html"
    )


def register(app: typer.Typer) -> None:
    """Add the datasets command group to ``app``."""
    app.add_typer(datasets_app, name="datasets")
