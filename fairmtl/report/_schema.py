"""The results format that the report reads: plain, JSON-able data.

A frontier search writes one results dict; the report is built from it alone, so it
can be rebuilt from saved results without refitting (``fairmtl report results.json``).
The TypedDicts below document every key; :func:`~fairmtl.report.validate_results`
(:mod:`fairmtl.report._validate`) checks a dict against them and names the first missing
or bad key by its path (``models[3].scores.overall_accuracy``).

Floats may be ``NaN`` in memory (read as "no value"); saved JSON holds ``null`` instead.
Keys not listed here are allowed and ignored, so newer writers stay readable.
"""

# No `from __future__ import annotations` here: TypedDict reads NotRequired[...] from the
# evaluated annotations, and the validator walks them at run time.
from typing import (
    Any,
    Literal,
    NotRequired,
    TypedDict,
)

from fairmtl._solver_info import SolverSummary

__all__ = [
    "SCHEMA_VERSION",
    "Criterion",
    "MetricInfo",
    "SolverInfo",
    "Harm",
    "ModelResult",
    "GroupMetric",
    "GroupInfo",
    "DataSummary",
    "Split",
    "MethodSummary",
    "Reproducibility",
    "Results",
    "TRANSFER_VERSION",
    "TransferGain",
    "TransferGroup",
    "TransferAffinity",
    "TransferSummary",
]

#: the report's summary of a fit's solver record (the name the report has always used)
SolverInfo = SolverSummary

SCHEMA_VERSION = 1
"""The version of the results format that this fairmtl writes and reads."""
TRANSFER_VERSION = 1
"""The version of the transfer summary this fairmtl reads (its ``version`` key; equal to
:data:`fairmtl.transfer.SUMMARY_VERSION`, not imported here to keep the report light)."""


class Criterion(TypedDict):
    """A criterion that models are compared on (one axis of the frontier plot)."""

    name: str
    """Key into ``ModelResult.scores``, e.g. ``"worst_group_accuracy"``."""
    label: str
    """Human-readable name, e.g. ``"Worst-group accuracy"``."""
    maximize: bool
    """True when higher is better."""
    percent: NotRequired[bool]
    """Optional: show values as percentages (rates). Guessed from the name when absent."""


class MetricInfo(TypedDict):
    """Optional description of a per-group metric (top-level key ``metrics``)."""

    name: str
    label: str
    maximize: bool | None
    """True/False when higher/lower is better; None when neither (a selection rate)."""
    percent: bool


class Harm(TypedDict):
    """Groups that a model makes worse off (unnecessary harm)."""

    worse_than_pooled: list[str]
    worse_than_own: list[str]
    """Worse than the group's own single-group (independent) model."""
    better_than_pooled: NotRequired[list[str]]
    """Better than under the pooled model. Every list follows one rule: the paired
    bootstrap interval of the change excludes 0; groups with fewer test rows than
    ``small_group_threshold`` are never listed."""


class ModelResult(TypedDict):
    """One fitted model of the sweep, or a baseline."""

    id: str
    label: str
    source: Literal["fairmtl", "baseline"]
    method: str
    """E.g. ``"bounded"``, ``"minimax"``, ``"pooled"``, ``"ExponentiatedGradient"``."""
    params: dict[str, str | int | float | bool | None]
    """The swept settings (epsilon, tilt, sharing, ...)."""
    solver_info: SolverSummary | None
    """The fit's solver record, summarised (:func:`fairmtl._solver_info.summarize`)."""
    scores: dict[str, float | None]
    """Criterion name -> value on the test split."""
    val_scores: dict[str, float | None]
    """Criterion name -> value on the validation split (used for choosing)."""
    pareto: bool
    pareto_frequency: float | None
    """Share of bootstrap resamples in which the model stays non-dominated."""
    chosen: bool
    harm: Harm


class GroupMetric(TypedDict):
    """One metric of one model on one group (test split), with a bootstrap interval."""

    model: str
    group: str
    metric: str
    value: float | None
    lo: float | None
    hi: float | None
    n: int
    interval: NotRequired[str]
    """How ``lo``/``hi`` were found: ``"exact"`` (Clopper-Pearson, for shares of the
    group's rows), ``"bootstrap"``, or ``"too few rows"`` (none given)."""


class GroupInfo(TypedDict):
    """A group (task): its sizes per split and its base rate."""

    name: str
    n_train: int
    n_val: int
    n_test: int
    base_rate: float | None
    small: bool
    """Fewer test rows than ``small_group_threshold``: its figures are uncertain."""


class Split(TypedDict):
    """Rows in each split."""

    train: int
    val: int
    test: int


class DataSummary(TypedDict):
    """Where the data came from and what was done to it."""

    source: str
    sha256: str | None
    n_rows: int
    n_features: int
    feature_names: list[str]
    missing: dict[str, int]
    """Column -> number of missing values handled."""
    rows_dropped: int
    split: Split


class MethodSummary(TypedDict):
    """The modelling choices shared by the fairmtl models of the sweep."""

    objective: str
    sharing: str
    loss: str
    sweep: dict[str, Any]
    notes: list[str]


class Reproducibility(TypedDict):
    """What is needed to produce the same results again."""

    fairmtl_version: str
    versions: dict[str, str]
    seed: int | None
    command: str
    experiment: str | None


class TransferGain(TypedDict):
    """One group's held-out loss under one pooled scheme against its own model."""

    independent: float | None
    pooled: float | None
    gain: float | None
    """``independent - pooled``: above 0 when pooling helps the group."""
    lo: float | None
    hi: float | None
    verdict: str
    """``"gains"``, ``"hurt"`` or ``"unclear"`` (where the interval lies against 0)."""


class TransferGroup(TypedDict):
    """One group of a transfer summary."""

    group: str
    n_train: int
    n_test: int
    cluster: int
    alignment: float | None
    misaligned: bool
    gain: dict[str, TransferGain]
    """Scheme -> gain from sharing."""


class TransferAffinity(TypedDict):
    """Pairwise task affinity, rows and columns in ``labels`` order."""

    measure: str
    range: list[float | None]
    labels: list[str]
    matrix: list[list[float | None]]
    clusters: dict[str, int]
    n_clusters: int
    silhouette: NotRequired[Any]
    """Cluster count -> silhouette score (integer keys in memory, strings in JSON)."""


class TransferSummary(TypedDict):
    """Which groups help each other: :func:`fairmtl.transfer.transfer_summary`."""

    version: int
    task: Literal["classification", "regression"]
    loss: str
    confidence: float
    n_boot: int
    reference: str
    """The scheme the reading and the gain chart refer to."""
    schemes: list[str]
    groups: list[TransferGroup]
    affinity: TransferAffinity
    hurt: dict[str, list[str]]
    gains: dict[str, list[str]]
    misaligned: list[str]
    misaligned_rule: NotRequired[str]
    small_groups: NotRequired[list[str]]
    """Groups with fewer than ``min_test_rows`` held-out rows: shown, never judged."""
    min_test_rows: NotRequired[int]
    reading: str


class Results(TypedDict):
    """The whole results dict, the only input of the report."""

    schema_version: int
    title: str
    created: str
    """ISO 8601 time stamp."""
    task: Literal["classification", "regression"]
    target: str
    primary_metric: str
    criteria: list[Criterion]
    x_criterion: str
    y_criterion: str
    models: list[ModelResult]
    per_group: list[GroupMetric]
    groups: list[GroupInfo]
    chosen: str
    most_accurate: str
    pooled: str | None
    policy: str
    small_group_threshold: int
    data: DataSummary
    method: MethodSummary
    reproducibility: Reproducibility
    metrics: NotRequired[list[MetricInfo]]
    """Optional: labels and directions of per-group metrics; guessed when absent."""
    transfer: NotRequired[TransferSummary | None]
    """Optional: which groups help each other (a transfer summary); shown when present."""
    confidence: NotRequired[float]
    """Coverage of the intervals and of the better/worse rule (0.95)."""
    comparison: NotRequired[dict[str, Any]]
    """The chosen model against ``reference`` (the pooled model, else the most accurate):
    ``overall`` and ``worst_group`` (among groups with enough test rows), each with
    ``diff``, ``lo``, ``hi`` (paired bootstrap) and ``verdict``."""
    changes: NotRequired[list[dict[str, Any]]]
    """Each group's change of each metric, chosen minus pooled: ``group``, ``metric``,
    ``diff``, ``lo``, ``hi`` and ``verdict`` ("better", "worse", "within noise" or
    "too few rows")."""
