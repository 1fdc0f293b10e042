"""The results format that the report reads: plain, JSON-able data.

A frontier search writes one results dict; the report is built from it alone, so it
can be rebuilt from saved results without refitting (``fairmtl report results.json``).
The TypedDicts below document every key; :func:`validate_results` checks a dict
against them and names the first missing or bad key by its path
(``models[3].scores.overall_accuracy``).

Floats may be ``NaN`` in memory (read as "no value"); saved JSON holds ``null`` instead.
Keys not listed here are allowed and ignored, so newer writers stay readable.
"""

# No `from __future__ import annotations` here: TypedDict reads NotRequired[...] from the
# evaluated annotations, and the validator below walks them at run time.
import functools
import numbers
from collections.abc import Mapping
from types import UnionType
from typing import (
    Any,
    Literal,
    NotRequired,
    TypedDict,
    Union,
    get_args,
    get_origin,
    get_type_hints,
    is_typeddict,
)

from fairmtl._metric_facts import METRIC_FACTS
from fairmtl._solver_info import SolverSummary
from fairmtl.exceptions import DataValidationError

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
    "validate_results",
    "validate_transfer",
    "metric_infos",
    "criterion_infos",
]

#: the report's summary of a fit's solver record (the name the report has always used)
SolverInfo = SolverSummary

SCHEMA_VERSION = 1
"""The version of the results format that this fairmtl writes and reads."""
TRANSFER_VERSION = 1
"""The version of the transfer summary this fairmtl reads (its ``version`` key; equal to
:data:`fairmtl.transfer.SUMMARY_VERSION`, not imported here to keep the report light)."""

MSG_NOT_A_DICT = "The results must be a dict (a JSON object); got {got}."
MSG_MISSING_KEY = (
    "The results lack the key {path!r}. Create them with FrontierSearch, or re-save "
    "them with this version of fairmtl."
)
MSG_BAD_VALUE = "The results key {path!r} must be {expected}; got {got}."
MSG_SCHEMA_VERSION = (
    "The results have schema_version {got!r}, but this fairmtl reads version {expected}. "
    "Re-create them with this version of fairmtl."
)
MSG_UNKNOWN_REF = "The results key {path!r} names {kind} {value!r}, which is not in {where}."
MSG_DUPLICATE = "The results key {path!r} repeats {kind} {value!r}; each must be unique."
MSG_EMPTY = "The results key {path!r} is empty; a report needs at least one {kind}."
MSG_TRANSFER_VERSION = (
    "The transfer summary has version {got!r}, but this fairmtl reads version {expected}. "
    "Re-create it with fairmtl.transfer.transfer_summary (or fairmtl transfer)."
)
MSG_TRANSFER_SHAPE = (
    "The results key {path!r} must be a square matrix with one row and one column per "
    "label ({n}); got {got}."
)


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


# ---------------------------------------------------------------------------
# Validation, driven by the TypedDicts above: they are the one statement of the format.

_WORDS = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def _describe(value: Any) -> str:
    text = repr(value)
    text = text if len(text) <= 40 else text[:37] + "..."
    return f"{type(value).__name__} {text}"


def _expected(tp: Any) -> str:
    """How a type reads in an error message."""
    origin = get_origin(tp)
    if tp is type(None):
        return "null"
    if tp in _WORDS:
        return _WORDS[tp]
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (Union, UnionType):
        return " or ".join(_expected(a) for a in get_args(tp))
    if origin is list:
        return "a list"
    return "a dict (JSON object)"


def _is_scalar_of(value: Any, tp: Any) -> bool:
    if tp is type(None):
        return value is None
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if tp is float:  # an int is a fine float; NaN means "no value"
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    return isinstance(value, tp)


def _check(value: Any, tp: Any, path: str) -> None:
    """Check `value` against the type `tp`, naming `path` in the error."""
    origin, args = get_origin(tp), get_args(tp)
    if tp is Any:
        return
    if is_typeddict(tp):
        if not isinstance(value, Mapping):
            raise _bad(path, _expected(tp), value)
        hints = _hints(tp)
        prefix = f"{path}." if path else ""
        for key, sub in hints.items():
            if key in value:
                _check(value[key], sub, prefix + key)
            elif key in tp.__required_keys__:
                raise DataValidationError(MSG_MISSING_KEY.format(path=prefix + key))
    elif origin in (Union, UnionType):
        if value is None and type(None) in args:
            return
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:  # X | None: check against X, for a precise message
            _check(value, options[0], path)
        elif not any(_is_scalar_of(value, a) for a in options):
            raise _bad(path, _expected(tp), value)
    elif origin is Literal:
        if not isinstance(value, str) or value not in args:
            raise _bad(path, _expected(tp), value)
    elif origin is list:
        if not isinstance(value, list | tuple):
            raise _bad(path, "a list", value)
        for i, item in enumerate(value):
            _check(item, args[0], f"{path}[{i}]")
    elif origin is dict:
        if not isinstance(value, Mapping):
            raise _bad(path, "a dict (JSON object)", value)
        for key, item in value.items():
            if not isinstance(key, str):
                raise _bad(f"{path} key", "a string", key)
            _check(item, args[1], f"{path}.{key}")
    elif not _is_scalar_of(value, tp):
        raise _bad(path, _expected(tp), value)


def _bad(path: str, expected: str, value: Any) -> DataValidationError:
    return DataValidationError(
        MSG_BAD_VALUE.format(path=path, expected=expected, got=_describe(value))
    )


@functools.cache
def _hints(typed_dict: type) -> dict[str, Any]:
    return get_type_hints(typed_dict)


def _check_references(results: Mapping[str, Any]) -> None:
    """Check what the types cannot: unique ids and names, and references between keys."""
    if not results["models"]:
        raise DataValidationError(MSG_EMPTY.format(path="models", kind="model"))
    if not results["criteria"]:
        raise DataValidationError(MSG_EMPTY.format(path="criteria", kind="criterion"))

    def unique(items: list[Any], key: str, path: str, kind: str) -> set[str]:
        seen: set[str] = set()
        for i, item in enumerate(items):
            if item[key] in seen:
                raise DataValidationError(
                    MSG_DUPLICATE.format(path=f"{path}[{i}].{key}", kind=kind, value=item[key])
                )
            seen.add(item[key])
        return seen

    criteria = unique(results["criteria"], "name", "criteria", "criterion")
    model_ids = unique(results["models"], "id", "models", "model id")
    group_names = unique(results["groups"], "name", "groups", "group")

    def known(value: Any, names: set[str], path: str, kind: str, where: str) -> None:
        if value is not None and value not in names:
            raise DataValidationError(
                MSG_UNKNOWN_REF.format(path=path, kind=kind, value=value, where=where)
            )

    for key in ("x_criterion", "y_criterion"):
        known(results[key], criteria, key, "criterion", "'criteria'")
    for key in ("chosen", "most_accurate", "pooled"):
        known(results[key], model_ids, key, "model", "'models'")
    for i, row in enumerate(results["per_group"]):
        known(row["model"], model_ids, f"per_group[{i}].model", "model", "'models'")
        known(row["group"], group_names, f"per_group[{i}].group", "group", "'groups'")


def _check_transfer_references(summary: Mapping[str, Any], path: str) -> None:
    """What the types of a transfer summary cannot say: unique groups, a square matrix."""
    if summary["version"] != TRANSFER_VERSION:
        raise DataValidationError(
            MSG_TRANSFER_VERSION.format(got=summary["version"], expected=TRANSFER_VERSION)
        )
    prefix = f"{path}." if path else ""
    if not summary["groups"]:
        raise DataValidationError(MSG_EMPTY.format(path=prefix + "groups", kind="group"))
    names: set[str] = set()
    for i, row in enumerate(summary["groups"]):
        if row["group"] in names:
            raise DataValidationError(
                MSG_DUPLICATE.format(
                    path=f"{prefix}groups[{i}].group", kind="group", value=row["group"]
                )
            )
        names.add(row["group"])
    schemes = set(summary["schemes"])
    if summary["reference"] not in schemes:
        raise DataValidationError(
            MSG_UNKNOWN_REF.format(
                path=prefix + "reference",
                kind="scheme",
                value=summary["reference"],
                where=f"'{prefix}schemes'",
            )
        )
    affinity = summary["affinity"]
    labels = list(affinity["labels"])
    for i, label in enumerate(labels):
        if label not in names:
            raise DataValidationError(
                MSG_UNKNOWN_REF.format(
                    path=f"{prefix}affinity.labels[{i}]",
                    kind="group",
                    value=label,
                    where=f"'{prefix}groups'",
                )
            )
    if len(set(labels)) != len(labels):
        raise DataValidationError(
            MSG_DUPLICATE.format(path=f"{prefix}affinity.labels", kind="group", value=labels)
        )
    matrix = affinity["matrix"]
    shape = [len(row) for row in matrix]
    if len(matrix) != len(labels) or any(n != len(labels) for n in shape):
        got = f"{len(matrix)} rows of lengths {sorted(set(shape))}"
        raise DataValidationError(
            MSG_TRANSFER_SHAPE.format(path=f"{prefix}affinity.matrix", n=len(labels), got=got)
        )


def validate_transfer(summary: Any, path: str = "transfer") -> None:
    """Check that a transfer summary follows the schema the report reads.

    Parameters
    ----------
    summary : dict
        The output of :func:`fairmtl.transfer.transfer_summary` (see
        :class:`TransferSummary`), or the same loaded from JSON.
    path : str, default="transfer"
        How error messages name the summary (``transfer.groups[2].gain``); ``""`` for a
        summary on its own.

    Raises
    ------
    DataValidationError
        When a key is missing or has a bad value; the message names the key by its path.
    """
    if not isinstance(summary, Mapping):
        raise _bad(path or "summary", "a dict (JSON object)", summary)
    _check(summary, TransferSummary, path)
    _check_transfer_references(summary, path)


def validate_results(results: Any) -> None:
    """Check that a results dict follows the schema the report reads.

    Parameters
    ----------
    results : dict
        The results of a frontier search (see :class:`Results`).

    Raises
    ------
    DataValidationError
        When a key is missing or has a bad value; the message names the key by its
        path, e.g. ``models[3].scores.overall_accuracy``.

    Examples
    --------
    >>> from fairmtl.report import validate_results
    >>> validate_results({"schema_version": 1})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    fairmtl.exceptions.DataValidationError: The results lack the key 'title'. ...
    """
    if not isinstance(results, Mapping):
        raise DataValidationError(MSG_NOT_A_DICT.format(got=type(results).__name__))
    version = results.get("schema_version")
    if "schema_version" in results and version != SCHEMA_VERSION:
        raise DataValidationError(MSG_SCHEMA_VERSION.format(got=version, expected=SCHEMA_VERSION))
    _check(results, Results, "")
    _check_references(results)
    if results.get("transfer") is not None:
        _check_transfer_references(results["transfer"], "transfer")


# ---------------------------------------------------------------------------
# Defaults of the optional keys: labels, directions and units guessed from names.

_RATE_WORDS = ("parity", "opportunity", "odds", "_rate")


def metric_infos(results: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Label, direction and unit of every per-group metric, given or guessed."""
    given = {m["name"]: dict(m) for m in results.get("metrics", [])}
    crit = {c["name"]: c for c in results["criteria"]}
    out: dict[str, dict[str, Any]] = {}
    names = [results["primary_metric"]] + [r["metric"] for r in results["per_group"]]
    for name in dict.fromkeys(names):
        if name in given:
            out[name] = given[name]
            continue
        label, maximize, percent = METRIC_FACTS.get(name, (name.replace("_", " "), None, False))
        for prefix in ("worst_group_", "overall_"):
            if maximize is None and prefix + name in crit:
                maximize = crit[prefix + name]["maximize"]
        out[name] = {"name": name, "label": label, "maximize": maximize, "percent": percent}
    return out


def criterion_infos(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The criteria with their ``percent`` flag, given or guessed from the name."""
    out = []
    for c in results["criteria"]:
        c = dict(c)
        if "percent" not in c:
            base = c["name"]
            for prefix in ("worst_group_", "overall_", "best_group_", "mean_group_"):
                base = base.removeprefix(prefix)
            known = METRIC_FACTS.get(base)
            c["percent"] = known.percent if known else any(w in base for w in _RATE_WORDS)
        out.append(c)
    return out
