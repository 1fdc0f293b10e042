"""The frontier job shared by ``fairmtl frontier``, ``fairmtl run`` and ``fairmtl demo``.

:class:`FrontierConfig` holds every option (from flags or an experiment file);
:func:`run_frontier` reads the data, runs :class:`fairmtl.FrontierSearch` and writes the
HTML report and the JSON results next to it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from fairmtl.cli._pipeline import TableOptions, build_estimator
from fairmtl.data import TrainingTable, check_outputs
from fairmtl.exceptions import DataValidationError

__all__ = [
    "BASELINE_NAMES",
    "FrontierConfig",
    "FrontierOutcome",
    "chosen_model",
    "frontier_search_class",
    "headline",
    "parse_baselines",
    "parse_sweep",
    "run_frontier",
]

#: Baselines the frontier can compare against (see :class:`fairmtl.FrontierSearch`).
BASELINE_NAMES = ("pooled", "independent", "fairlearn", "expgrad", "threshold", "neural")
#: The baselines run by default.
DEFAULT_BASELINES = ("pooled", "independent", "fairlearn")

MSG_BAD_SWEEP = (
    "Cannot read the sweep {text!r}. Write a knob name (--sweep epsilon) or a knob with "
    "its values (--sweep epsilon=0.3,0.4,0.5)."
)
MSG_SWEEP_TWICE = (
    "The knob {knob!r} is swept twice; give it once, with all its values "
    "(--sweep {knob}=v1,v2,...)."
)
MSG_BAD_SWEEP_VALUE = "Sweep value {value!r} of {knob!r} is not a number."
MSG_BAD_BASELINE = "Unknown baseline {name!r}. Choose among {choices} (comma-separated), or 'none'."


def parse_sweep(value: str | Sequence[str] | Mapping[str, Any]) -> dict[str, Any]:
    """The ``sweep`` argument of FrontierSearch from ``"epsilon"`` or ``"epsilon=0.3,0.4"``.

    Parameters
    ----------
    value : str, sequence of str or mapping
        A knob name (its values chosen automatically), ``knob=v1,v2,...``, several of
        those (one per ``--sweep``: their product is swept), or a mapping
        ``{knob: "auto" | [values]}`` as written in an experiment file.

    Returns
    -------
    sweep : dict
        ``{"epsilon": "auto"}`` or ``{"epsilon": [0.3, 0.4]}``.

    Examples
    --------
    >>> parse_sweep("epsilon")
    {'epsilon': 'auto'}
    >>> parse_sweep("tilt=0.5,2")
    {'tilt': [0.5, 2.0]}
    >>> parse_sweep(["epsilon", "threshold=0.5,0.7"])
    {'epsilon': 'auto', 'threshold': [0.5, 0.7]}
    """
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    if not isinstance(value, str):
        sweep: dict[str, Any] = {}
        for text in value:
            part = parse_sweep(str(text))
            if set(part) & set(sweep):
                raise DataValidationError(MSG_SWEEP_TWICE.format(knob=next(iter(part))))
            sweep.update(part)
        return sweep
    text = str(value).strip()
    knob, _, values = text.partition("=")
    knob = knob.strip()
    if not knob.isidentifier():
        raise DataValidationError(MSG_BAD_SWEEP.format(text=text))
    if not _:
        return {knob: "auto"}
    numbers = []
    for part in values.split(","):
        try:
            numbers.append(float(part))
        except ValueError as e:
            raise DataValidationError(MSG_BAD_SWEEP_VALUE.format(value=part, knob=knob)) from e
    return {knob: numbers}


def parse_baselines(value: str | Sequence[str]) -> tuple[str, ...]:
    """Baseline names from ``"pooled,independent"`` (or a list); ``"none"`` gives ``()``."""
    names = [value] if isinstance(value, str) else list(value)
    parts = [p.strip() for n in names for p in str(n).split(",") if p.strip()]
    if parts in (["none"], []):
        return ()
    for name in parts:
        if name not in BASELINE_NAMES:
            raise DataValidationError(
                MSG_BAD_BASELINE.format(name=name, choices=", ".join(BASELINE_NAMES))
            )
    return tuple(dict.fromkeys(parts))


@dataclasses.dataclass(kw_only=True)
class FrontierConfig(TableOptions):
    """Every option of a frontier run; see ``fairmtl frontier --help``.

    The data options (:class:`~fairmtl.cli._pipeline.TableOptions`: ``data``, ``target``
    and ``groups`` say what to learn), the report's ``output``, and the options of the
    search, with the defaults of the command line. ``sweep`` and ``baselines`` take the
    command-line text or the already parsed forms.
    """

    output: Path
    sweep: str | tuple[str, ...] | dict[str, Any] | None = None
    points: int = 20
    objective: str = "bounded"
    sharing: str = "offset"
    alpha: float | None = None
    sharing_strength: float | None = None
    baselines: str | tuple[str, ...] = DEFAULT_BASELINES
    policy: str = "accuracy_within:0.01"
    n_jobs: int = 1
    scheduler: str | None = None
    seed: int = 0
    n_boot: int = 200
    val_size: float = 0.2
    test_size: float = 0.2

    @property
    def json_output(self) -> Path:
        """The JSON results file: the report's path with ``.json``."""
        return self.output.with_suffix(".json")


@dataclasses.dataclass
class FrontierOutcome:
    """What a frontier run wrote and chose.

    Attributes
    ----------
    html, json : Path
        The report and the results file.
    results : dict
        ``search.results_``.
    chosen : dict or None
        The chosen model's entry of ``results["models"]``.
    table : TrainingTable
        The data the search ran on.
    """

    html: Path
    json: Path
    results: dict[str, Any]
    chosen: dict[str, Any] | None
    table: TrainingTable


def frontier_search_class() -> Any:
    """:class:`fairmtl.FrontierSearch`, imported when a frontier is run."""
    from fairmtl.frontier import FrontierSearch

    return FrontierSearch


def run_frontier(
    config: FrontierConfig,
    *,
    force: bool = False,
    command: str = "",
    experiment: str | None = None,
    table: TrainingTable | None = None,
    search_class: Callable[[], Any] | None = None,
    progress: bool = False,
) -> FrontierOutcome:
    """Read the data, run the frontier search and write the report and the JSON results.

    Parameters
    ----------
    config : FrontierConfig
    force : bool, default=False
        Overwrite the report and the JSON file; checked before the search starts.
    command : str, default=""
        The command line, recorded in the results.
    experiment : str or None, default=None
        The experiment file's text, recorded in the results.
    table : TrainingTable or None, default=None
        Data already loaded (the demo); ``config.data`` is read otherwise.
    search_class : callable or None, default=None
        Returns the search class; :func:`frontier_search_class` by default.
    progress : bool, default=False
        Show the progress of the whole search on stderr: a bar on a terminal, a plain
        line every few seconds elsewhere (:class:`fairmtl.frontier._progress.JobProgress`).

    Returns
    -------
    outcome : FrontierOutcome
    """
    check_outputs([config.output, config.json_output], force=force)  # before the search
    sweep = None if config.sweep is None else parse_sweep(config.sweep)
    baselines = parse_baselines(config.baselines)
    if table is None:
        table = config.read()
    estimator = build_estimator(
        table.task,
        sharing=config.sharing,
        objective=config.objective,
        alpha=config.alpha,
        sharing_strength=config.sharing_strength,
        random_state=config.seed,
    )
    search_cls = (search_class or frontier_search_class)()
    search = search_cls(
        estimator,
        sweep=sweep,
        n_points=config.points,
        baselines=baselines,
        policy=config.policy,
        n_jobs=config.n_jobs,
        client=config.scheduler,
        random_state=config.seed,
        val_size=config.val_size,
        test_size=config.test_size,
        n_boot=config.n_boot,
    )
    data_info = {
        "source": table.source,
        "sha256": table.sha256,
        "rows_dropped": table.rows_dropped,
        "command": command,
        "experiment": experiment,
    }
    from fairmtl.frontier._progress import JobProgress
    from fairmtl.report import write_report_and_results

    with JobProgress(enabled=progress):
        search.fit(table.X, table.y, groups=table.groups, data_info=data_info)
    results = search.results_
    # Both files or neither: a half-written pair would make the re-run refuse.
    html, json_path = write_report_and_results(
        results, config.output, config.json_output, force=force
    )
    return FrontierOutcome(html, json_path, results, chosen_model(results), table)


def chosen_model(results: Mapping[str, Any]) -> dict[str, Any] | None:
    """The entry of ``results["models"]`` that the policy chose, or None."""
    chosen = results.get("chosen")
    for model in results.get("models", ()):
        if model.get("id") == chosen or (chosen is None and model.get("chosen")):
            return dict(model)
    return None


def _fmt(value: Any, percent: bool) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{100 * value:.1f}%" if percent else f"{value:.3f}"


def headline(results: Mapping[str, Any], model: Mapping[str, Any] | None) -> str:
    """One line on the chosen model: its label and its test scores on each criterion.

    Examples
    --------
    >>> results = {"criteria": [{"name": "acc", "label": "Accuracy", "maximize": True,
    ...                          "percent": True}]}
    >>> headline(results, {"label": "bounded eps=0.4", "scores": {"acc": 0.8412}})
    'bounded eps=0.4: Accuracy 84.1%'
    """
    if model is None:
        return "No model was chosen."
    scores = model.get("scores", {})
    parts = []
    for criterion in results.get("criteria", ()):
        name = criterion.get("name")
        if name not in scores:
            continue
        percent = criterion.get("percent")
        if percent is None:
            percent = any(w in name for w in ("accuracy", "rate", "tpr", "fpr"))
        parts.append(f"{criterion.get('label', name)} {_fmt(scores[name], bool(percent))}")
    label = model.get("label", model.get("id", "?"))
    return f"{label}: " + ", ".join(parts) if parts else str(label)
