"""``fairmtl fit``, ``fairmtl predict`` and ``fairmtl evaluate``: parse, call, display."""

from __future__ import annotations

import datetime
from pathlib import Path
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
    ModelArg,
    NaValuesOpt,
    NBootOpt,
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

__all__ = ["evaluate", "fit", "predict", "register"]

#: A group with fewer rows is named as the worst with a caution (as in the report).
SMALL_ROWS = 30  # the same as fairmtl.cli._model_evaluation.SMALL_ROWS
#: Metrics shown in evaluate's table (JSON and CSV hold all of them).
TABLE_METRICS = {
    "classification": ("accuracy", "balanced_accuracy", "log_loss", "roc_auc"),
    "regression": ("mse", "mae", "r2"),
}


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
    from fairmtl.cli._options import split_names
    from fairmtl.data import check_outputs, load_training_table
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
    table = load_training_table(
        data,
        target=target,
        groups=split_names(group),
        features=split_names(features) or None,
        drop=split_names(drop),
        id_column=id_column,
        sep=sep,
        na_values=tuple(na_values) if na_values is not None else None,
        task=task,
        categorical=split_names(categorical),
        encoding=encoding,
        on_missing_target=on_missing_target,
    )
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


def _caution(group: Any, n: Any) -> str:
    """A group's name, with its row count when it has too few rows to be sure."""
    if n is not None and n == n and int(n) < SMALL_ROWS:
        return f"{group} (only {int(n)} rows)"
    return str(group)


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


PredictionsOpt = Annotated[
    Path,
    typer.Option(
        "--output",
        "-o",
        metavar="PATH",
        help="The predictions file to write, e.g. -o predictions.csv.",
        show_default=False,
    ),
]


def predict(
    ctx: typer.Context,
    model: ModelArg,
    data: DataArg,
    output: PredictionsOpt,
    id_column: IdOpt = None,
    sep: SepOpt = None,
    na_values: NaValuesOpt = None,
    encoding: EncodingOpt = "utf-8",
    force: ForceOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Predict every row of a table with a saved model, in input order.

    The output has one row per input row: the id column (or a row number), the
    prediction, proba_<class> columns for classifiers, and the group whose model was
    used. Rows of groups not seen in fit use the shared part of the model (group
    "<shared>"); a model fitted with --sharing independent has none, and those rows get
    an empty prediction (group "<none>"). Missing feature values are imputed; no row is
    dropped.

    \b
    Example:
      fairmtl predict model.skops new_visits.csv -o predictions.csv --id-column visit_id
    """
    from fairmtl.cli._fingerprint import overlap_message
    from fairmtl.cli._model import predict_table
    from fairmtl.data import check_outputs, write_table_atomic
    from fairmtl.data._table import read_data
    from fairmtl.persistence import load_model

    ui = Ui(ctx, quiet=quiet)
    check_outputs([output], force=force)
    fitted, schema, metadata = load_model(model)
    text = [
        *schema.groups,
        *([id_column] if id_column else []),
        *([schema.id_column] if schema.id_column else []),
    ]
    frame = read_data(data, sep=sep, text_columns=text, na_values=na_values, encoding=encoding)
    outcome = predict_table(fitted, schema, frame, id_column=id_column)
    path = write_table_atomic(outcome.predictions, output, force=force)
    if outcome.unseen:
        ui.warn(outcome.unseen_message())
    seen = overlap_message(metadata.get("training_rows"), frame)
    if seen:
        ui.warn(seen)
    if outcome.n_imputed:
        ui.info(f"{outcome.n_imputed} row(s) had missing feature values, imputed by the model.")
    if outcome.extra_columns:
        ui.info(f"Ignored column(s) the model does not use: {', '.join(outcome.extra_columns)}.")
    ui.done(f"Wrote {len(outcome.predictions):,} predictions to {path}")


def evaluate(
    ctx: typer.Context,
    model: ModelArg,
    data: DataArg,
    format: Annotated[
        Literal["table", "json", "csv"],
        typer.Option("--format", help="table (readable), json or csv (the per-group metrics)."),
    ] = "table",
    n_boot: NBootOpt = 200,
    confidence: Annotated[
        float, typer.Option("--confidence", min=0.5, max=0.999, help="Coverage of the intervals.")
    ] = 0.95,
    seed: SeedOpt = 0,
    sep: SepOpt = None,
    na_values: NaValuesOpt = None,
    encoding: EncodingOpt = "utf-8",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write the json/csv output to this file instead of stdout."
        ),
    ] = None,
    force: ForceOpt = False,
    quiet: QuietOpt = False,
    json: JsonOpt = False,
) -> None:
    """Per-group metrics of a saved model, with bootstrap intervals, and group gaps.

    The data must hold the target. For binary classifiers, fairlearn's demographic
    parity, equalised odds and equal opportunity differences are shown too.

    \b
    Example:
      fairmtl evaluate model.skops test.csv --format json --n-boot 500
    """
    from fairmtl.cli._fingerprint import overlap_message
    from fairmtl.cli._model_evaluation import evaluate_table
    from fairmtl.data import atomic_write_text, check_outputs
    from fairmtl.data._table import read_data
    from fairmtl.persistence import load_model

    if output is not None:
        check_outputs([output], force=force)  # before the bootstrap, not after it
    if json:
        format = "json"
    ui = Ui(ctx, quiet=quiet, json_mode=format != "table")
    fitted, schema, metadata = load_model(model)
    frame = read_data(
        data, sep=sep, text_columns=schema.groups, na_values=na_values, encoding=encoding
    )
    seen = overlap_message(metadata.get("training_rows"), frame)
    if seen:
        ui.warn(seen)
    with ui.status(f"Evaluating with {n_boot} bootstrap replicates..."):
        outcome = evaluate_table(
            fitted, schema, frame, n_boot=n_boot, confidence=confidence, random_state=seed
        )
    if outcome.n_unpredicted:
        ui.warn(
            f"{outcome.n_unpredicted} row(s) of groups not seen in fit were left out: the "
            "model (sharing='independent') cannot predict them."
        )
    if outcome.unseen:
        names = ", ".join(f"{k!r} ({v})" for k, v in list(outcome.unseen.items())[:5])
        ui.warn(f"Rows of groups not seen in fit: {names}; evaluated under their own labels.")
    if format == "table":
        _show_evaluation(ui, outcome, confidence)
        return
    if format == "json":
        import json as json_module

        from fairmtl.cli._ui import to_jsonable

        text = json_module.dumps(to_jsonable(outcome.to_dict()), indent=2, ensure_ascii=False)
    else:
        from fairmtl.data._csvsafe import neutralize_formulas

        text = neutralize_formulas(outcome.per_group).to_csv(index=False)
    if output is None and format == "json":
        ui.print_json_text(text)
    elif output is None:
        ui.print_text(text)
    else:
        ui.done(f"Wrote {atomic_write_text(output, text, force=force)}")


def _show_evaluation(ui: Ui, outcome: Any, confidence: float) -> None:
    per_group = outcome.per_group
    names = [m for m in TABLE_METRICS[outcome.task] if m in set(per_group["metric"])]
    cells = per_group.set_index(["group", "metric"])
    rows = []
    for group in dict.fromkeys(per_group["group"]):
        n = cells["n"].get((group, names[0]))
        row = [group, fmt_number(None if n is None else int(n))]
        for m in names:
            value, lo, hi = (cells[c].get((group, m)) for c in ("value", "lo", "hi"))
            kind = cells["interval"].get((group, m)) if "interval" in cells else None
            interval = (
                f"{fmt_number(lo, 2)} to {fmt_number(hi, 2)}"
                if lo == lo and hi == hi and lo is not None
                else ("too few rows" if kind == "too few rows" else "")
            )
            row.append(f"{fmt_number(value)}\n{interval}")
        rows.append(row)
    columns = ["group", "n", *(m.replace("_", "\n") for m in names)]
    title = (
        f"Per-group metrics ({100 * confidence:g}% intervals: exact for accuracy, bootstrap "
        f"for the rest; none for groups under {SMALL_ROWS} rows)"
    )
    ui.table(make_table(title, columns, rows))
    gap_rows = [
        [
            d["metric"].replace("_", " "),
            _caution(d["worst_group"], cells["n"].get((d["worst_group"], d["metric"]))),
            fmt_number(d["worst_value"]),
            _caution(d["best_group"], cells["n"].get((d["best_group"], d["metric"]))),
            fmt_number(d["best_value"]),
            fmt_number(d["gap"]),
        ]
        for d in outcome.disparities
        if d["metric"] in names
    ]
    columns = ["metric", "worst group", "worst", "best group", "best", "gap"]
    ui.table(make_table("Disparities between groups", columns, gap_rows))
    if outcome.fairness:
        fair_rows = [[k.replace("_", " "), fmt_number(v)] for k, v in outcome.fairness.items()]
        ui.table(make_table("Fairness (fairlearn)", ["measure", "value"], fair_rows))


def register(app: typer.Typer) -> None:
    """Add fit, predict and evaluate to ``app``."""
    app.command("fit")(fit)
    app.command("predict")(predict)
    app.command("evaluate")(evaluate)
