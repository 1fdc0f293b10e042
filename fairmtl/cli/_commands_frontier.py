"""``fairmtl frontier``, ``run``, ``demo`` and ``report``: parse, call, display."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from fairmtl.cli._options import (
    AlphaOpt,
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
    Objective,
    OnMissingTargetOpt,
    QuietOpt,
    SeedOpt,
    SepOpt,
    SharingOpt,
    StrengthOpt,
    TargetOpt,
    TaskOpt,
    command_line,
)
from fairmtl.cli._ui import Ui

if TYPE_CHECKING:
    from fairmtl.cli._frontier import FrontierConfig, FrontierOutcome

__all__ = ["demo", "frontier", "register", "report", "run"]

#: Where ``fairmtl demo`` writes its report, and how many Adult rows it uses.
DEMO_OUTPUT = Path("reports/demo.html")
DEMO_ROWS = 8000
#: The same for ``fairmtl demo --data hospitals``.
HOSPITALS_DEMO_OUTPUT = Path("reports/demo-hospitals.html")
HOSPITALS_DEMO_ROWS = 3000

MSG_RESULTS_NOT_FOUND = (
    "Results file {path} does not exist. Give the .json file that fairmtl frontier wrote "
    "beside its report (paths are relative to {cwd})."
)

ReportOpt = Annotated[
    Path,
    typer.Option(
        "--output",
        "-o",
        help="The HTML report to write (the JSON results go beside it, with .json), "
        "e.g. -o reports/readmission.html.",
        show_default=False,
    ),
]
PointsOpt = Annotated[
    int, typer.Option("--points", min=1, help="Number of models along the sweep, e.g. --points 10.")
]
JobsOpt = Annotated[
    int, typer.Option("--n-jobs", help="Local processes for the sweep (-1: all cores).")
]


def _show_outcome(ui: Ui, outcome: FrontierOutcome, json: bool) -> None:
    from fairmtl.cli._frontier import headline

    ui.result(
        f"Chosen model ({outcome.results.get('policy', 'policy')}): "
        f"{headline(outcome.results, outcome.chosen)}"
    )
    ui.result(f"Wrote the report to {outcome.html}")
    ui.result(f"Wrote the results to {outcome.json}")
    if json:
        ui.print_json(
            {
                "report": str(outcome.html),
                "results": str(outcome.json),
                "policy": outcome.results.get("policy"),
                "chosen": outcome.chosen,
                "rows_dropped": outcome.table.rows_dropped,
            }
        )


def _run(
    ctx: typer.Context,
    ui: Ui,
    config: FrontierConfig,
    *,
    force: bool,
    experiment: str | None = None,
    table: Any = None,
) -> None:
    from fairmtl.cli._frontier import parse_baselines, run_frontier

    baselines = parse_baselines(config.baselines)
    also = f", and the baselines {', '.join(baselines)}" if baselines else ", no baselines"
    ui.info(f"Searching the frontier (--points {config.points}{also})...")
    outcome = run_frontier(
        config,
        force=force,
        command=command_line(ctx),
        experiment=experiment,
        table=table,
        progress=not ui.quiet,
    )
    _show_outcome(ui, outcome, ui.json_mode)


def frontier(
    ctx: typer.Context,
    data: DataArg,
    target: TargetOpt,
    group: GroupOpt,
    output: ReportOpt,
    sweep: Annotated[
        list[str] | None,
        typer.Option(
            "--sweep",
            help="The knob to sweep, its values chosen automatically (--sweep epsilon) or "
            "given (--sweep epsilon=0.3,0.4,0.5); repeat it to sweep several knobs "
            "together (--sweep epsilon --sweep threshold). Default: the objective's own "
            "knobs (epsilon for bounded, epsilon and threshold for the rate objectives, "
            "tilt for tilted, preference for chebyshev).",
            show_default=False,
        ),
    ] = None,
    points: PointsOpt = 20,
    objective: Annotated[
        Objective,
        typer.Option("--objective", help="The objective of the swept models, e.g. bounded."),
    ] = "bounded",
    sharing: SharingOpt = "offset",
    alpha: AlphaOpt = None,
    sharing_strength: StrengthOpt = None,
    baselines: Annotated[
        str,
        typer.Option(
            "--baselines",
            help="Comma-separated baselines among pooled, independent, fairlearn, expgrad, "
            "threshold, neural (needs the torch extra); or none.",
        ),
    ] = "pooled,independent,fairlearn",
    policy: Annotated[
        str,
        typer.Option(
            "--policy",
            help="How to choose a model, e.g. accuracy_within:0.01 (the most accurate whose "
            "worst group is within 1 point of the best worst group).",
        ),
    ] = "accuracy_within:0.01",
    n_jobs: JobsOpt = 1,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help="Run the sweep on a Dask cluster, e.g. --scheduler tcp://10.0.0.5:8786 "
            '(needs pip install "fairmtl[distributed]").',
            show_default=False,
        ),
    ] = None,
    seed: SeedOpt = 0,
    n_boot: NBootOpt = 200,
    task: TaskOpt = "auto",
    drop: DropOpt = None,
    features: FeaturesOpt = None,
    sep: SepOpt = None,
    na_values: NaValuesOpt = None,
    id_column: IdOpt = None,
    categorical: CategoricalOpt = None,
    encoding: EncodingOpt = "utf-8",
    on_missing_target: OnMissingTargetOpt = "drop",
    force: ForceOpt = False,
    quiet: QuietOpt = False,
    json: JsonOpt = False,
) -> None:
    """Sweep the fairness-accuracy trade-off, choose a model and write an HTML report.

    Fits one model per sweep value and the baselines, evaluates each group on held-out
    data, keeps the non-dominated models and picks one with --policy. Writes the
    report (-o) and the results as JSON beside it; `fairmtl report` re-renders the
    JSON without refitting.

    \b
    Example:
      fairmtl frontier visits.csv --target readmitted --group hospital --points 20 -o reports/readmission.html
    """
    from fairmtl.cli._frontier import FrontierConfig
    from fairmtl.cli._pipeline import TableOptions

    ui = Ui(ctx, quiet=quiet, json_mode=json)
    table_options = TableOptions.from_context(ctx)
    config = FrontierConfig(
        **dataclasses.asdict(table_options),
        output=output,
        sweep=tuple(sweep) if sweep else None,
        points=points,
        objective=objective,
        sharing=sharing,
        alpha=alpha,
        sharing_strength=sharing_strength,
        baselines=baselines,
        policy=policy,
        n_jobs=n_jobs,
        scheduler=scheduler,
        seed=seed,
        n_boot=n_boot,
    )
    _run(ctx, ui, config, force=force)


def run(
    ctx: typer.Context,
    experiment: Annotated[
        Path,
        typer.Argument(help="The experiment file, e.g. experiment.toml.", show_default=False),
    ],
    force: ForceOpt = False,
    quiet: QuietOpt = False,
    json: JsonOpt = False,
) -> None:
    """Run a frontier study described by a TOML experiment file.

    The file has a [data] table (path, target, groups, drop, features, sep, id_column,
    task, categorical, encoding, on_missing_target) and a [frontier] table (sweep, points, objective, sharing, baselines, policy,
    seed, output, ...), with the same meaning as the options of `fairmtl frontier`.
    Paths are relative to the file's folder; unknown keys are refused. The report
    records the file's text.

    \b
    Example:
      fairmtl run studies/readmission.toml
    """
    from fairmtl.cli._experiment import read_experiment

    ui = Ui(ctx, quiet=quiet, json_mode=json)
    config, text = read_experiment(experiment)
    _run(ctx, ui, config, force=force, experiment=text)


def demo(
    ctx: typer.Context,
    data: Annotated[
        Literal["adult", "hospitals"],
        typer.Option(
            "--data",
            help="adult: the bundled Adult census data, groups race x sex. hospitals: "
            "8 simulated hospitals whose risk models differ (fairmtl.datasets."
            "make_hospitals), where pooling serves the small hospitals badly.",
        ),
    ] = "adult",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="The report to write. The default (reports/demo.html, or "
            "reports/demo-hospitals.html with --data hospitals) is the demo's own file "
            "and is replaced on every run; any other existing file needs --force.",
            show_default=False,
        ),
    ] = None,
    points: PointsOpt = 10,
    n_samples: Annotated[
        int | None,
        typer.Option(
            "--n-samples",
            min=200,
            help="Rows to use: a stratified sample of Adult (default 8000), or the "
            "simulated patients (default 3000).",
            show_default=False,
        ),
    ] = None,
    n_jobs: JobsOpt = -1,
    seed: SeedOpt = 0,
    force: ForceOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Run the frontier on bundled data and write a report.

    By default on the Adult census data (race x sex): a stratified sample of its training
    rows (8,000) on all cores, a minute or two, written to reports/demo.html (with
    demo.json beside it), replacing the previous demo report. With --data hospitals, on
    8 simulated hospitals (reports/demo-hospitals.html).

    \b
    Example:
      fairmtl demo --points 10 -o reports/demo.html
      fairmtl demo --data hospitals
    """
    from fairmtl.cli._datasets import demo_table, hospitals_demo_table
    from fairmtl.cli._frontier import FrontierConfig

    ui = Ui(ctx, quiet=quiet)
    default = HOSPITALS_DEMO_OUTPUT if data == "hospitals" else DEMO_OUTPUT
    output = default if output is None else output
    own_file = output == default
    if data == "hospitals":
        table = hospitals_demo_table(n_samples=n_samples or HOSPITALS_DEMO_ROWS, random_state=seed)
        ui.info(
            f"Simulated hospitals: {len(table.frame):,} patients of "
            f"{table.frame['hospital'].nunique()} hospitals (--n-samples to change), "
            f"target {table.schema.target}."
        )
    else:
        table, n_total = demo_table(n_samples=n_samples or DEMO_ROWS, random_state=seed)
        ui.info(
            f"Adult census data: a stratified sample of {len(table.frame):,} of its "
            f"{n_total:,} training rows (--n-samples to change), groups race x sex, "
            f"target {table.schema.target}."
        )
    config = FrontierConfig(
        data=Path(table.source),
        target=table.schema.target,
        groups=table.schema.groups,
        output=output,
        points=points,
        n_jobs=n_jobs,
        seed=seed,
    )
    _run(ctx, ui, config, force=force or own_file, table=table)
    ui.info(f"Open {output.resolve().as_uri()} in a browser.")


def report(
    ctx: typer.Context,
    results: Annotated[
        Path,
        typer.Argument(
            help="A results file written by fairmtl frontier, e.g. reports/x.json.",
            show_default=False,
        ),
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="The HTML report to write, e.g. -o report.html.",
            show_default=False,
        ),
    ],
    force: ForceOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Render the HTML report again from saved JSON results, without refitting.

    \b
    Example:
      fairmtl report reports/readmission.json -o reports/readmission.html --force
    """
    from fairmtl.exceptions import DataValidationError
    from fairmtl.report import load_results, write_report

    ui = Ui(ctx, quiet=quiet)
    if not results.is_file():
        raise DataValidationError(MSG_RESULTS_NOT_FOUND.format(path=results, cwd=Path.cwd()))
    path = write_report(load_results(results), output, force=force)
    ui.result(f"Wrote the report to {path}")


def register(app: typer.Typer) -> None:
    """Add frontier, run, demo and report to ``app``."""
    app.command("frontier")(frontier)
    app.command("run")(run)
    app.command("demo")(demo)
    app.command("report")(report)
