"""``fairmtl fit``: parse, read the table, fit here or on a Dask cluster, save, display."""

from __future__ import annotations

import datetime
from typing import Annotated, Any, Literal

import typer

from fairmtl.cli._options import (
    AlphaOpt,
    CategoricalOpt,
    DataArg,
    DropOpt,
    EncodingOpt,
    EpsilonOpt,
    FeaturesOpt,
    ForceOpt,
    GroupOpt,
    IdOpt,
    JsonOpt,
    NaValuesOpt,
    Objective,
    OnMissingTargetOpt,
    OutputOpt,
    QuietOpt,
    SeedOpt,
    SepOpt,
    SharingOpt,
    StrengthOpt,
    TargetOpt,
    TaskOpt,
    command_line,
)
from fairmtl.cli._ui import Ui, fmt_number, make_table

__all__ = ["SMALL_ROWS", "fit"]

#: A group with fewer rows is named as the worst with a caution (as in the report).
SMALL_ROWS = 30  # the same as fairmtl.cli._model_evaluation.SMALL_ROWS


def fit(
    ctx: typer.Context,
    data: DataArg,
    target: TargetOpt,
    group: GroupOpt,
    output: OutputOpt,
    objective: Annotated[
        Objective,
        typer.Option(
            "--objective",
            help="How group losses combine: average (the default: with cross-validated "
            "sharing it served the worst-off group best on held-out rows), minimax (best "
            "worst group on the training rows), balanced, bounded (needs --epsilon), ...",
        ),
    ] = "average",
    sharing: SharingOpt = "offset",
    epsilon: EpsilonOpt = None,
    alpha: AlphaOpt = None,
    sharing_strength: StrengthOpt = None,
    task: TaskOpt = "auto",
    drop: DropOpt = None,
    features: FeaturesOpt = None,
    sep: SepOpt = None,
    na_values: NaValuesOpt = None,
    id_column: IdOpt = None,
    categorical: CategoricalOpt = None,
    encoding: EncodingOpt = "utf-8",
    on_missing_target: OnMissingTargetOpt = "drop",
    min_group_size: Annotated[
        int,
        typer.Option("--min-group-size", min=1, help="Warn about groups with fewer rows, e.g. 50."),
    ] = 20,
    cv: Annotated[
        int,
        typer.Option(
            "--cv",
            min=0,
            help="Folds of the cross-validation that gives the validation figures (0: "
            "none). The saved model is fitted on every row.",
        ),
    ] = 5,
    seed: SeedOpt = 0,
    force: ForceOpt = False,
    quiet: QuietOpt = False,
    json: JsonOpt = False,
    data_format: Annotated[
        Literal["auto", "parquet"],
        typer.Option(
            "--format",
            help="With --scheduler, the data's format: auto (a folder, or a .parquet file) "
            "or parquet (a Parquet file or a folder of them, whatever their names; hive "
            "folders, one per hospital, give the group column's value).",
        ),
    ] = "auto",
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            metavar="ADDRESS",
            help="Fit on a Dask cluster, e.g. --scheduler tcp://host:8786: each worker "
            "reads its Parquet files and only model-sized sums travel. Needs numeric "
            "features, --alpha and --sharing-strength; no cross-validation (--cv) is run.",
        ),
    ] = None,
    hospitals: Annotated[
        bool,
        typer.Option(
            "--hospitals",
            help="With --scheduler: read and keep each group's files on one worker; no "
            "row leaves it.",
        ),
    ] = False,
) -> None:
    """Train a group-as-task model on a table and save it.

    Rows without a target are dropped (and counted); the saved model is fitted on every
    remaining row. Its per-group figures are shown on those rows and, out of sample,
    from cross-validation (--cv folds) stratified by group and label. A fingerprint of
    the training rows is saved with the model, so that evaluate and predict can say
    when they are given rows the model was fitted on.

    \b
    Example:
      fairmtl fit visits.csv --target readmitted --group hospital -o model.skops
    """
    from fairmtl.cli._model import fit_table
    from fairmtl.cli._pipeline import TableOptions
    from fairmtl.data import check_outputs
    from fairmtl.persistence import save_model

    ui = Ui(ctx, quiet=quiet, json_mode=json)
    check_outputs([output], force=force)  # before the work, not after it
    params = {
        "objective": objective,
        "sharing": sharing,
        "epsilon": epsilon,
        "alpha": alpha,
        "sharing_strength": sharing_strength,
        "random_state": seed,
    }
    if scheduler is not None:
        cluster = {"scheduler": scheduler, "hospitals": hospitals, "task": task,
                   "data_format": data_format}  # fmt: skip
        _fit_on_cluster(ctx, ui, data, target, group, features, output, params, cluster, force)
        return
    table = TableOptions.from_context(ctx).read()
    ui.info(
        f"Read {len(table.frame) + table.rows_dropped:,} rows from {data}: {table.task}, "
        f"{len(table.schema.features)} features, {table.y.size:,} rows with a target."
    )
    from fairmtl.frontier._progress import JobProgress

    ui.info(
        f"Fitting the model on all {table.y.size:,} rows"
        + (f", then {cv} cross-validation fits for the validation figures..." if cv >= 2 else "...")
    )
    with JobProgress(enabled=not ui.quiet):
        outcome = fit_table(table, cv=cv, seed=seed, min_group_size=min_group_size, **params)
    metadata = {
        "task": table.task,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": command_line(ctx),
        "source": table.source,
        "sha256": table.sha256,
        "rows_dropped": table.rows_dropped,
        "n_rows": int(table.y.size),
        "cv": outcome.cv,
        "training_rows": outcome.fingerprint,
        "params": params,
        "metrics": outcome.metrics.to_dict("records"),
    }
    path = save_model(outcome.model, output, schema=table.schema, force=force, metadata=metadata)
    ui.table(_fit_table(outcome))
    for split, worst in outcome.worst.items():
        n = _group_rows(outcome.metrics, split, worst["group"])
        few = f", only {n} rows: too few to be sure" if n is not None and n < SMALL_ROWS else ""
        ui.info(
            f"Worst group ({'cross-validated' if split == 'validation' else split}, "
            f"{outcome.headline}): {worst['group']} ({fmt_number(worst['value'])}{few})"
        )
    ui.done(f"Saved the model to {path}")
    if json:
        skip = ("params", "training_rows")
        ui.print_json({"model": str(path), **{k: metadata[k] for k in metadata if k not in skip}})


def _fit_on_cluster(ctx, ui, data, target, group, features, output, params, cluster, force):
    """``fairmtl fit --scheduler``: the rows stay on the cluster (fairmtl.distributed)."""
    from fairmtl.cli._options import split_names
    from fairmtl.distributed._files import fit_parquet
    from fairmtl.persistence import save_model

    ui.info(f"Fitting on the Dask cluster at {cluster['scheduler']}, reading {data}...")
    model, schema = fit_parquet(
        data, target=target, groups=split_names(group), features=split_names(features) or None,
        **cluster, **params,
    )  # fmt: skip
    record = model.solver_info_["distributed"]
    metadata = {
        "task": "regression"
        if model.__class__.__name__.endswith("Regressor")
        else "classification",
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": command_line(ctx),
        "source": str(data),
        "n_rows": int(model.group_sizes_.sum()),
        "params": params,
        "distributed": {k: v for k, v in record.items() if k != "per_round"},
    }
    path = save_model(model, output, schema=schema, force=force, metadata=metadata)
    info = model.solver_info_
    ui.info(
        f"{info['status']} (certified gap {info['gap']:.2g}); {record['rounds']} rounds, "
        f"{record['messages']:,} messages, {record['bytes_received'] / 2**20:.2f} MiB "
        "from the workers."
    )
    ui.done(f"Saved the model to {path}")


def _group_rows(metrics: Any, split: str, group: Any) -> int | None:
    rows = metrics[(metrics["split"] == split) & (metrics["group"] == group)]["n"]
    return int(rows.iloc[0]) if len(rows) else None


def _fit_table(outcome: Any) -> Any:
    """Groups as rows; n, then each metric, for the training and validation rows."""
    metrics = outcome.metrics
    names = list(dict.fromkeys(metrics["metric"]))
    splits = list(dict.fromkeys(metrics["split"]))
    short = {"train": "train", "validation": "cv"}
    cells = metrics.set_index(["group", "split", "metric"])
    columns = ["group"] + [f"n\n{short[s]}" for s in splits]
    columns += [f"{m.replace('_', '-')}\n{short[s]}" for m in names for s in splits]
    columns.append("worst\ngroup")
    rows = []
    for group in dict.fromkeys(metrics["group"]):
        row: list[Any] = [group]
        for split in splits:
            n = cells["n"].get((group, split, names[0]))
            row.append(fmt_number(None if n is None else int(n)))
        for metric in names:
            row += [fmt_number(cells["value"].get((group, split, metric))) for split in splits]
        marks = [short[s] for s in splits if outcome.worst.get(s, {}).get("group") == group]
        row.append(", ".join(marks))
        rows.append(row)
    caption = f"worst group: by {outcome.headline.replace('_', ' ')}"
    return make_table("Per-group metrics", columns, rows, caption=caption)
