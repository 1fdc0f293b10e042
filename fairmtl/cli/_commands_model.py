"""``fairmtl predict`` and ``fairmtl evaluate``: parse, call, display.

The model commands (fit, predict, evaluate) are registered here, in that order;
``fairmtl fit`` itself is in :mod:`fairmtl.cli._commands_fit`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from fairmtl.cli._commands_fit import SMALL_ROWS, fit
from fairmtl.cli._options import (
    DataArg,
    EncodingOpt,
    ForceOpt,
    IdOpt,
    JsonOpt,
    ModelArg,
    NaValuesOpt,
    NBootOpt,
    QuietOpt,
    SeedOpt,
    SepOpt,
)
from fairmtl.cli._ui import Ui, fmt_number, make_table

__all__ = ["evaluate", "fit", "predict", "register"]

#: Metrics shown in evaluate's table (JSON and CSV hold all of them).
TABLE_METRICS = {
    "classification": ("accuracy", "balanced_accuracy", "log_loss", "roc_auc"),
    "regression": ("mse", "mae", "r2"),
}


def _caution(group: Any, n: Any) -> str:
    """A group's name, with its row count when it has too few rows to be sure."""
    if n is not None and n == n and int(n) < SMALL_ROWS:
        return f"{group} (only {int(n)} rows)"
    return str(group)


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
