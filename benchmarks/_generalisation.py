"""Generalisation suite: how the worst-off group fares on rows no method has seen.

Each dataset is split R times (70 % training, 30 % held out, stratified by group x label;
split ``r`` uses seed ``r``). On every split the features are preprocessed by
:func:`fairmtl.data.make_preprocessor` fitted on the training part, every method is fitted
on the training part, and scored on both parts with :func:`fairmtl.metrics.group_metrics`:
the worst group's mean log loss, the worst group's accuracy and the overall accuracy.

Methods (binary classification):

- ``scikit-learn pooled``: one ``LogisticRegression(max_iter=5000)`` (otherwise
  scikit-learn's defaults: ``C=1``, lbfgs) for all;
- ``scikit-learn per group``: the same, one per group (a group with one
  class predicts its smoothed training rate, ``(positives + 0.5) / (rows + 1)``);
- ``fairlearn GridSearch`` (``ErrorRateParity``) and ``fairlearn ExponentiatedGradient``
  (``BoundedGroupLoss(ZeroOneLoss())``; see :data:`CONSTRAINT_NOTE`): the grid point, or
  the bound, with the best worst-group accuracy on a validation quarter of the training
  rows, refitted on all of them;
- ``fairmtl defaults``: ``FairMTLClassifier()`` with ``groups=`` (its own cross-validation
  chooses ``alpha`` and ``sharing_strength``);
- ``fairmtl FrontierSearch``: ``FrontierSearch(FairMTLClassifier(objective="bounded"),
  n_points=..., baselines=(), n_boot=0)`` on the training rows, scored by its
  ``best_estimator_``.

``run(quick)`` returns one row per (dataset, method): the means over the splits, each with
the half-width of its 95 % interval (``mean +- t * sd / sqrt(R)``), the paired differences
against the pooled model (and, for fairmtl's defaults, against the per-group models), and
for fairmtl's defaults the cost of its tuning (its fit time over one fit at the chosen
values, same data, timed back to back) and the verdicts. :func:`markdown` renders them.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedShuffleSplit, train_test_split

from benchmarks._convex import _mixture_proba
from fairmtl import FairMTLClassifier, FrontierSearch
from fairmtl.data import make_preprocessor
from fairmtl.datasets import load_adult, load_census_kdd, load_compas, load_german, make_hospitals
from fairmtl.metrics import group_metrics

__all__ = ["headline", "markdown", "run"]

TEST_SIZE = 0.3
#: share of the training rows that fairlearn's methods hold out to choose a grid point or bound
VAL_SIZE = 0.25
LEVEL = 0.95
#: overall accuracy may fall this far below the pooled model's (0.5 points)
ACCURACY_SLACK = 0.005
POOLED = "scikit-learn pooled"
PER_GROUP = "scikit-learn per group"
GRID = "fairlearn GridSearch"
EXPGRAD = "fairlearn ExponentiatedGradient"
DEFAULTS = "fairmtl defaults"
FRONTIER = "fairmtl FrontierSearch"
METRICS = ("wg_loss", "wg_acc", "acc", "wg_loss_train")
#: why the bounded-group-loss constraint (a comment for the reader and a note in the table)
CONSTRAINT_NOTE = (
    "ExponentiatedGradient's constraint is BoundedGroupLoss with the 0-1 loss (every "
    "group's error at most a bound): of fairlearn's constraints it is the one that acts on "
    "the worst group's error itself, where ErrorRateParity bounds the differences between "
    "groups' errors, which it may meet by making the best-off groups worse. GridSearch's is "
    "ErrorRateParity: with BoundedGroupLoss, GridSearch fits each grid point on the rows of "
    "its up-weighted groups alone (it leaves the average loss out), while ErrorRateParity "
    "reweights every row and its grid holds the unconstrained model"
)


# -- plans ---------------------------------------------------------------------------------
@dataclass
class Plan:
    """What one mode runs: splits, datasets (with their sizes) and per-method settings."""

    repeats: int
    datasets: dict[str, dict[str, Any]]
    grid_size: int
    eg_shares: tuple[float, ...]
    frontier_points: int
    #: ExponentiatedGradient's iterations (fairlearn's default 50; fewer only in smoke mode)
    eg_max_iter: int = 50
    #: method -> the datasets it runs on (absent: all), and the reason elsewhere
    only: dict[str, tuple[tuple[str, ...], str]] = field(default_factory=dict)

    def skip(self, method: str, key: str) -> str | None:
        """Why ``method`` is not run on dataset ``key`` (None: it is)."""
        if method in self.only and key not in self.only[method][0]:
            return self.only[method][1]
        return None


HOSPITALS = {
    "hospitals_few_related": dict(n_hospitals=4, related=True),
    "hospitals_few_unrelated": dict(n_hospitals=4, related=False),
    "hospitals_many_related": dict(n_hospitals=30, related=True),
    "hospitals_many_unrelated": dict(n_hospitals=30, related=False),
}
SMALL = ("compas", "german")
FEW = ("hospitals_few_related", "hospitals_few_unrelated")
QUICK_NO_EG = (
    "quick mode leaves it out (three fits per split, each up to 50 LogisticRegression "
    "fits: about a minute per dataset); the full run has it on COMPAS and German credit"
)
EG_WHERE = (
    "{mode} runs it on {where} only (each split fits it {n} times, up to 50 "
    "LogisticRegression fits each)"
)
FS_WHERE = "{mode} runs it on {where} only (about a dozen exact fits per split)"


def _only(mode: str, n_eg: int, eg: tuple[str, ...], fs: tuple[str, ...], words: dict[str, str]):
    return {
        EXPGRAD: (eg, EG_WHERE.format(mode=mode, where=words["eg"], n=n_eg)),
        FRONTIER: (fs, FS_WHERE.format(mode=mode, where=words["fs"])),
    }


def _hospital_sizes(few: int, many: int) -> dict[str, dict[str, Any]]:
    return {k: {**v, "n": few if v["n_hospitals"] < 10 else many} for k, v in HOSPITALS.items()}


def _plan(quick: bool, smoke: bool) -> Plan:
    """The splits, sizes and method settings of each mode (see benchmarks/README.md)."""
    if smoke:
        return Plan(
            1,
            {"hospitals_few_related": {**HOSPITALS["hospitals_few_related"], "n": 600}},
            grid_size=3,
            eg_shares=(1.0,),
            frontier_points=2,
            eg_max_iter=5,
        )
    if quick:
        fs_where = "COMPAS, German credit and the 4-hospital settings"
        return Plan(
            5,
            {
                "adult": {"max_train": 2000},
                "compas": {},
                "german": {},
                "census_kdd": {"n_rows": 2000},
                **_hospital_sizes(1200, 2400),
            },
            grid_size=8,
            eg_shares=(0.9, 1.0),
            frontier_points=3,
            only={
                EXPGRAD: ((), QUICK_NO_EG),
                FRONTIER: ((*SMALL, *FEW), FS_WHERE.format(mode="quick mode", where=fs_where)),
                GRID: (
                    ("adult", *SMALL, *HOSPITALS),
                    "quick mode leaves it out here: its LogisticRegression fits on 400+ "
                    "one-hot features take over a minute per split",
                ),
            },
        )
    # 20 splits (the intervals' width falls with their square root), samples of Adult and
    # Census KDD: about half an hour on 2 cores
    words = {
        "eg": "COMPAS and German credit",
        "fs": "COMPAS, German credit and the 4-hospital settings",
    }
    return Plan(
        20,
        {
            "adult": {"max_train": 3000},
            "compas": {},
            "german": {},
            "census_kdd": {"n_rows": 5000},
            **_hospital_sizes(2000, 4000),
        },
        grid_size=12,
        eg_shares=(0.9, 1.0),
        frontier_points=6,
        only=_only("the full run", 3, SMALL, (*SMALL, *FEW), words),
    )


# -- data ----------------------------------------------------------------------------------
@dataclass
class Dataset:
    key: str
    label: str
    X: pd.DataFrame
    y: np.ndarray
    g: np.ndarray
    max_train: int | None = None
    note: str = ""


def load(key: str, spec: dict[str, Any]) -> Dataset:
    """The whole dataset (features as a frame, 0/1 target, group labels)."""
    cap = spec.get("max_train")
    if key in HOSPITALS:
        h, related = spec["n_hospitals"], spec["related"]
        extra = {} if related else {"n_outliers": h - 1}
        b = make_hospitals(h, n_samples=spec["n"], random_state=0, **extra)
        truth = "related true models" if related else "unrelated true models (all but one random)"
        label = f"make_hospitals, {h} hospitals, {truth}"
        return Dataset(key, label, b.data, b.target.to_numpy(), b.groups.to_numpy())
    if key == "adult":
        b, label = load_adult(split="all"), "Adult (race x sex)"
    elif key == "compas":
        b, label = load_compas(), "COMPAS (race)"
    elif key == "german":
        b, label = load_german(), "German credit (sex)"
    elif key == "census_kdd":
        n = spec["n_rows"]
        b = load_census_kdd(split="train", n_samples=n, random_state=0)
        label = f"Census KDD (race x sex), a sample of {n:,} rows stratified by group"
    else:
        raise ValueError(f"unknown dataset {key!r}")
    y, g = b.target.to_numpy(), np.asarray(b.groups.to_numpy(), dtype=object)
    return Dataset(key, label, b.data.reset_index(drop=True), y, g, cap)


def _strata(y: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Group x label cells; a cell with fewer than 2 rows falls back to its group, and a
    group with fewer than 2 rows to one stratum of such rows (joined to the largest cell
    if it is alone)."""
    groups = pd.Series(g.astype(str))
    cells = groups + "|" + pd.Series(y.astype(str))
    small = cells.map(cells.value_counts()) < 2
    cells[small] = groups[small]
    rare = cells.map(cells.value_counts()) < 2
    cells[rare] = "(rare)"
    if rare.sum() == 1:
        cells[rare] = cells[~rare].value_counts().index[0]
    return cells.to_numpy()


def _split(y: np.ndarray, g: np.ndarray, size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    sss = StratifiedShuffleSplit(n_splits=1, test_size=size, random_state=seed)
    train, test = next(sss.split(np.zeros(len(y)), _strata(y, g)))
    return np.sort(train), np.sort(test)


@dataclass
class Part:
    X: np.ndarray
    y: np.ndarray
    g: np.ndarray


def split_parts(d: Dataset, seed: int) -> tuple[Part, Part, int]:
    """Split ``seed`` of a dataset: preprocessed training and held-out parts, and the
    training part's size before a dataset's cap on training rows."""
    train, test = _split(d.y, d.g, TEST_SIZE, seed)
    n_all = len(train)
    if d.max_train is not None and len(train) > d.max_train:
        keep, _ = train_test_split(
            train,
            train_size=d.max_train,
            random_state=seed,
            stratify=_strata(d.y[train], d.g[train]),
        )
        train = np.sort(keep)
    pre = make_preprocessor(d.X).fit(d.X.iloc[train])

    def part(rows: np.ndarray) -> Part:
        X = np.ascontiguousarray(pre.transform(d.X.iloc[rows]), dtype=float)
        return Part(X, d.y[rows], d.g[rows])

    return part(train), part(test), n_all


# -- methods -------------------------------------------------------------------------------
@dataclass
class Model:
    """A fitted method: P(y = 1), labels, and what it chose."""

    proba: Callable[[Part], np.ndarray]
    predict: Callable[[Part], np.ndarray] | None = None
    info: dict[str, Any] = field(default_factory=dict)


def _lr() -> LogisticRegression:
    return LogisticRegression(max_iter=5000)


def fit_pooled(tr: Part, plan: Plan) -> Model:
    m = _lr().fit(tr.X, tr.y)
    return Model(lambda p: m.predict_proba(p.X)[:, 1])


def fit_per_group(tr: Part, plan: Plan) -> Model:
    models: dict[Any, Any] = {}
    for label in np.unique(tr.g):
        rows = tr.g == label
        yg = tr.y[rows]
        if len(np.unique(yg)) < 2:
            models[label] = (yg.sum() + 0.5) / (len(yg) + 1.0)
        else:
            models[label] = _lr().fit(tr.X[rows], yg)

    def proba(p: Part) -> np.ndarray:
        out = np.empty(len(p.y))
        for label in np.unique(p.g):
            rows, m = p.g == label, models[label]
            out[rows] = m if isinstance(m, float) else m.predict_proba(p.X[rows])[:, 1]
        return out

    return Model(proba)


def _inner(tr: Part, seed: int) -> tuple[Part, Part]:
    a, b = _split(tr.y, tr.g, VAL_SIZE, seed)
    return Part(tr.X[a], tr.y[a], tr.g[a]), Part(tr.X[b], tr.y[b], tr.g[b])


def _constraint(bound: float = 1.0):
    from fairlearn.reductions import BoundedGroupLoss, ZeroOneLoss

    # ExponentiatedGradient with BoundedGroupLoss(ZeroOneLoss) minimises the error with
    # every group's error capped, i.e. it targets the worst group (see CONSTRAINT_NOTE)
    return BoundedGroupLoss(ZeroOneLoss(), upper_bound=bound)


def _worst_accuracy(y: np.ndarray, pred: np.ndarray, g: np.ndarray) -> float:
    return min(float(np.mean(pred[g == k] == y[g == k])) for k in np.unique(g))


def fit_grid(tr: Part, plan: Plan) -> Model:
    from fairlearn.reductions import ErrorRateParity, GridSearch

    # ErrorRateParity here, not BoundedGroupLoss: GridSearch does not add the objective to
    # a BoundedGroupLoss grid point, so each point is fitted on its up-weighted groups'
    # rows alone; ErrorRateParity reweights and relabels every row, and its grid holds the
    # unconstrained model. The validation choice below is what aims at the worst group.
    fit_part, val = _inner(tr, 0)
    gs = GridSearch(_lr(), constraints=ErrorRateParity(), grid_size=plan.grid_size)
    gs.fit(fit_part.X, fit_part.y, sensitive_features=fit_part.g)
    scores = [_worst_accuracy(val.y, m.predict(val.X), val.g) for m in gs.predictors_]
    best = int(np.argmax(scores))
    lam = gs.lambda_vecs_.iloc[:, [best]]
    final = GridSearch(_lr(), constraints=ErrorRateParity(), grid=lam)
    final.fit(tr.X, tr.y, sensitive_features=tr.g)
    return Model(
        lambda p: final.predict_proba(p.X)[:, 1],
        lambda p: final.predict(p.X),
        {"grid_point": best},
    )


def fit_expgrad(tr: Part, plan: Plan) -> Model:
    from fairlearn.reductions import ExponentiatedGradient

    fit_part, val = _inner(tr, 0)
    pooled = _lr().fit(fit_part.X, fit_part.y)
    worst_error = 1.0 - _worst_accuracy(fit_part.y, pooled.predict(fit_part.X), fit_part.g)
    scores = []
    for share in plan.eg_shares:
        m = ExponentiatedGradient(
            _lr(), constraints=_constraint(share * worst_error), max_iter=plan.eg_max_iter
        )
        m.fit(fit_part.X, fit_part.y, sensitive_features=fit_part.g)
        scores.append(_worst_accuracy(val.y, m.predict(val.X, random_state=0), val.g))
    share = plan.eg_shares[int(np.argmax(scores))]
    final = ExponentiatedGradient(
        _lr(), constraints=_constraint(share * worst_error), max_iter=plan.eg_max_iter
    )
    final.fit(tr.X, tr.y, sensitive_features=tr.g)
    mixture = _mixture_proba(final)
    return Model(
        lambda p: mixture(p.X, p.g),
        lambda p: final.predict(p.X, random_state=0),
        {"bound_share": share},
    )


def fit_defaults(tr: Part, plan: Plan) -> Model:
    m = FairMTLClassifier().fit(tr.X, tr.y, groups=tr.g)
    return Model(
        lambda p: m.predict_proba(p.X, groups=p.g)[:, 1],
        lambda p: m.predict(p.X, groups=p.g),
        {"alpha": m.alpha_, "sharing_strength": m.sharing_strength_},
    )


def fit_frontier(tr: Part, plan: Plan) -> Model:
    search = FrontierSearch(
        FairMTLClassifier(objective="bounded"),
        n_points=plan.frontier_points,
        baselines=(),
        n_boot=0,
    ).fit(tr.X, tr.y, groups=tr.g)
    m = search.best_estimator_
    eps = search.best_refit_params_.get("epsilon")
    return Model(
        lambda p: m.predict_proba(p.X, groups=p.g)[:, 1],
        lambda p: m.predict(p.X, groups=p.g),
        {"epsilon": None if eps is None else float(eps)},
    )


METHODS: dict[str, Callable[[Part, Plan], Model]] = {
    POOLED: fit_pooled,
    PER_GROUP: fit_per_group,
    GRID: fit_grid,
    EXPGRAD: fit_expgrad,
    DEFAULTS: fit_defaults,
    FRONTIER: fit_frontier,
}


def _timed(fit: Callable[[], Any]) -> tuple[float, float]:
    """Wall and CPU seconds of one call."""
    t0, c0 = time.perf_counter(), time.process_time()
    fit()
    return time.perf_counter() - t0, time.process_time() - c0


def tuning_cost(tr: Part, info: dict[str, Any]) -> tuple[float, float]:
    """fairmtl's default fit time over one fit at the values its cross-validation chose:
    wall time and CPU time.

    Both are timed back to back right after the split's default fit, so that neither
    follows a peer's multi-threaded fit: the thread pools a peer leaves spinning slow the
    next fit's wall time (measured: 30%) and add to its CPU time (process time counts
    every thread: up to twice a 0.1 s fit's own).
    """
    one = _timed(
        lambda: FairMTLClassifier(
            alpha=info["alpha"], sharing_strength=info["sharing_strength"]
        ).fit(tr.X, tr.y, groups=tr.g)
    )
    tuned = _timed(lambda: FairMTLClassifier().fit(tr.X, tr.y, groups=tr.g))
    return tuned[0] / one[0], tuned[1] / one[1]


# -- scoring -------------------------------------------------------------------------------
def scores(model: Model, p: Part) -> dict[str, float]:
    """Worst-group log loss and accuracy, and overall accuracy, on one part."""
    proba = np.clip(model.proba(p), 1e-15, 1 - 1e-15)
    pred = model.predict(p) if model.predict is not None else (proba > 0.5).astype(int)
    table = group_metrics(
        p.y, groups=p.g, y_pred=pred, y_score=proba, metrics=["log_loss", "accuracy"], labels=[0, 1]
    )
    groups = table[table["group"] != "overall"]
    loss = groups[groups["metric"] == "log_loss"]["value"]
    acc = groups[groups["metric"] == "accuracy"]["value"]
    overall = table[(table["group"] == "overall") & (table["metric"] == "accuracy")]["value"]
    return {"wg_loss": float(loss.max()), "wg_acc": float(acc.min()), "acc": float(overall.iloc[0])}


def one_split(d: Dataset, seed: int, plan: Plan, log) -> dict[str, dict[str, Any]]:
    """Every method on split ``seed``: its scores, fit seconds and choices."""
    tr, te, n_all = split_parts(d, seed)
    out: dict[str, dict[str, Any]] = {}
    for name, fit in METHODS.items():
        if plan.skip(name, d.key):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # solver notes and fairlearn's grid advice
            t0, c0 = time.perf_counter(), time.process_time()
            model = fit(tr, plan)
            seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
            rec = {**scores(model, te), "seconds": seconds, "cpu_seconds": cpu, **model.info}
            rec["wg_loss_train"] = scores(model, tr)["wg_loss"]
            if name == DEFAULTS:
                rec["tuning_cost"], rec["tuning_cost_cpu"] = tuning_cost(tr, model.info)
        out[name] = rec
    sizes = np.unique(tr.g, return_counts=True)[1]
    out["_sizes"] = {
        "n_train": len(tr.y),
        "n_train_all": n_all,
        "n_test": len(te.y),
        "n_features": tr.X.shape[1],
        "n_groups": len(sizes),
        "smallest_group": int(sizes.min()),
    }
    log(
        f"generalisation: {d.key} split {seed}: "
        + ", ".join(f"{k} {v['seconds']:.1f} s" for k, v in out.items() if k != "_sizes")
    )
    return out


# -- aggregation ---------------------------------------------------------------------------
def interval(values: list[float]) -> tuple[float, float | None]:
    """Mean and the half-width of its 95 % t interval (None from one value)."""
    v = np.asarray(values, dtype=float)
    if len(v) < 2:
        return float(v.mean()), None
    half = stats.t.ppf(0.5 + LEVEL / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
    return float(v.mean()), float(half)


def _paired(splits, a: str, b: str, metric: str) -> tuple[float, float | None]:
    return interval([s[a][metric] - s[b][metric] for s in splits])


def aggregate(d: Dataset, splits: list[dict[str, Any]], plan: Plan) -> list[dict[str, Any]]:
    """One row per method: means, intervals, paired differences; verdicts on the defaults."""
    sizes = splits[0]["_sizes"]
    base = {
        "suite": "generalisation",
        "dataset": d.label,
        "dataset_key": d.key,
        "splits": len(splits),
        **sizes,
    }
    pooled_seconds = float(np.mean([s[POOLED]["seconds"] for s in splits]))
    pooled_cpu = max(float(np.mean([s[POOLED]["cpu_seconds"] for s in splits])), 1e-9)
    rows = []
    for name in METHODS:
        if name not in splits[0]:
            reason = plan.skip(name, d.key) or "not run"
            rows.append({**base, "method": name, "seconds": None, "ratio": None, "skipped": reason})
            continue
        row: dict[str, Any] = {**base, "method": name}
        for metric in (*METRICS, "seconds", "cpu_seconds"):
            row[metric], row[f"{metric}_hw"] = interval([s[name][metric] for s in splits])
        row["ratio"] = row["seconds"] / pooled_seconds
        row["cpu_ratio"] = row["cpu_seconds"] / pooled_cpu
        for metric in ("wg_loss", "wg_acc", "acc"):
            row[f"d_{metric}_vs_pooled"], row[f"d_{metric}_vs_pooled_hw"] = _paired(
                splits, name, POOLED, metric
            )
        row["per_split"] = {
            m: [s[name][m] for s in splits] for m in (*METRICS, "seconds", "cpu_seconds")
        }
        for extra in ("alpha", "sharing_strength", "epsilon", "bound_share", "grid_point"):
            if extra in splits[0][name]:
                row["per_split"][extra] = [s[name].get(extra) for s in splits]
        if name == DEFAULTS:
            for metric in ("wg_loss", "wg_acc", "acc"):
                row[f"d_{metric}_vs_per_group"], row[f"d_{metric}_vs_per_group_hw"] = _paired(
                    splits, name, PER_GROUP, metric
                )
            for cost in ("tuning_cost", "tuning_cost_cpu"):
                row[cost], row[f"{cost}_hw"] = interval([s[name][cost] for s in splits])
            row["chosen"] = _chosen(splits)
        rows.append(row)
    defaults = next(r for r in rows if r["method"] == DEFAULTS)
    defaults["verdicts"] = verdicts(rows, splits)
    return rows


def _chosen(splits) -> str:
    pairs = [(s[DEFAULTS]["alpha"], s[DEFAULTS]["sharing_strength"]) for s in splits]
    counts = pd.Series([f"alpha {a:g}, strength {b:g}" for a, b in pairs]).value_counts()
    return "; ".join(f"{k} ({v}x)" for k, v in counts.items())


# -- verdicts ------------------------------------------------------------------------------
def _pm(mean: float, half: float | None, digits: int = 3) -> str:
    if half is None:
        return f"{mean:+.{digits}f}"
    return f"{mean:+.{digits}f} ± {half:.{digits}f}"


def _beyond(mean: float, half: float | None, sign: int) -> bool:
    """Whether a difference is beyond its interval in the direction ``sign``."""
    return sign * mean - (half or 0.0) > 0


METRIC_WORDS = {
    "wg_loss": "worst-group log loss",
    "wg_acc": "worst-group accuracy",
    "acc": "accuracy",
}
#: +1: higher is better; -1: lower is better
BETTER = {"wg_loss": -1, "wg_acc": 1, "acc": 1}


def verdicts(rows: list[dict[str, Any]], splits) -> list[str]:
    """Sentences computed from the numbers of one dataset."""
    by = {r["method"]: r for r in rows if r.get("skipped") is None}
    one = len(splits) < 2
    out = []
    gains = {
        m: (r["d_wg_acc_vs_pooled"], r["d_wg_acc_vs_pooled_hw"])
        for m, r in by.items()
        if m != POOLED
    }
    winners = [m for m, (d, h) in gains.items() if _beyond(d, h, 1)]
    if winners:
        out.append(
            "Beat the pooled model on worst-group held-out accuracy by more than the 95% "
            "interval: " + ", ".join(f"{m} ({_pm(*gains[m])})" for m in winners) + "."
        )
    else:
        top = max(gains, key=lambda m: gains[m][0])
        out.append(
            "No method beats the pooled model on worst-group held-out accuracy by more than "
            f"the 95% interval (largest mean gain: {top}, {_pm(*gains[top])})."
        )
    mine = by[DEFAULTS]
    for metric in ("wg_loss", "wg_acc"):
        sign = BETTER[metric]
        best = max((POOLED, PER_GROUP), key=lambda m: sign * by[m][metric])
        d, h = _paired(splits, DEFAULTS, best, metric)
        if sign * d >= 0:
            word = "at least as good"
        elif _beyond(d, h, -sign):
            word = "worse beyond the interval"
        else:
            word = "worse, within the interval"
        out.append(
            f"fairmtl's defaults on {METRIC_WORDS[metric]}: {mine[metric]:.3f} against "
            f"{by[best][metric]:.3f} for the better of pooled and per group ({best}): "
            f"{word} (difference {_pm(d, h)})."
        )
    worse = [
        METRIC_WORDS[m]
        for m in ("wg_loss", "wg_acc", "acc")
        if _beyond(mine[f"d_{m}_vs_pooled"], mine[f"d_{m}_vs_pooled_hw"], -BETTER[m])
    ]
    if worse:
        out.append(
            "fairmtl's defaults are worse than the pooled model beyond the interval on "
            + ", ".join(worse)
            + "."
        )
    else:
        out.append(
            "fairmtl's defaults are never worse than the pooled model beyond the interval "
            "(worst-group log loss, worst-group accuracy, accuracy)."
        )
    d = mine["d_acc_vs_pooled"]
    within = "within" if d >= -ACCURACY_SLACK else "not within"
    out.append(
        f"Overall accuracy {within} 0.5 points of the pooled model's "
        f"({100 * d:+.2f} points; {100 * mine['acc']:.2f}% against "
        f"{100 * by[POOLED]['acc']:.2f}%)."
    )
    out.append(
        f"Tuning: fairmtl's default fit takes {mine['tuning_cost']:.1f}x the time of one fit "
        f"at the values its cross-validation chose, the two timed back to back "
        f"({mine['tuning_cost_cpu']:.1f}x in CPU time; chosen: {mine['chosen']})."
    )
    if one:
        out.append("(One split: no intervals.)")
    return out


# -- the suite -----------------------------------------------------------------------------
def headline(rows: list[dict[str, Any]]) -> list[str]:
    """One sentence for the READMEs, from the saved rows: fairmtl's defaults against the
    pooled and per-group models, over every dataset of the run."""
    mine = [r for r in rows if r["method"] == DEFAULTS and "d_wg_loss_vs_pooled" in r]
    if not mine:
        return []
    n = len(mine)
    splits = sorted({r["splits"] for r in mine})
    never_worse = sum(
        not any(
            _beyond(r[f"d_{m}_vs_pooled"], r.get(f"d_{m}_vs_pooled_hw"), -BETTER[m])
            for m in METRIC_WORDS
        )
        for r in mine
    )
    helps = [r for r in mine if _beyond(r["d_wg_acc_vs_pooled"], r.get("d_wg_acc_vs_pooled_hw"), 1)]
    loss_vs_best = sum(
        r["wg_loss"] <= min(o["wg_loss"] for o in rows if o["dataset"] == r["dataset"]
                            and o["method"] in (POOLED, PER_GROUP))
        for r in mine
    )  # fmt: skip
    behind = [
        r["dataset"]
        for r in mine
        if any(
            _beyond(r[f"d_{m}_vs_per_group"], r.get(f"d_{m}_vs_per_group_hw"), -BETTER[m])
            for m in ("wg_loss", "wg_acc")
        )
    ]
    costs = [r["tuning_cost"] for r in mine if r.get("tuning_cost") is not None]
    gains = ", ".join(f"{r['dataset']} {r['d_wg_acc_vs_pooled']:+.3f}" for r in helps)
    text = (
        f"Held out, over {'/'.join(map(str, splits))} repeated splits of {n} datasets, "
        f"`FairMTLClassifier()` with its cross-validated defaults is never worse than the "
        f"pooled LogisticRegression beyond the 95% interval on {never_worse} of {n} "
        f"(worst-group log loss, worst-group accuracy, accuracy); it raises the worst "
        f"group's accuracy beyond the interval on {len(helps)} ({gains or 'none'}); its "
        f"worst-group log loss is at most that of the better of pooled and per-group models "
        f"on {loss_vs_best} of {n}"
    )
    if behind:
        text += f"; per-group models do better beyond the interval on {', '.join(behind)}"
    if costs:
        text += (
            f". Tuning costs {min(costs):.1f}x to {max(costs):.1f}x one fit at the chosen values"
        )
    return [text + "."]


def run(quick: bool, *, smoke: bool = False, log=None) -> list[dict[str, Any]]:
    """Rows of every dataset: 10 splits in the full run, 5 with ``quick``, 1 with ``smoke``
    (tiny data)."""
    log = log or (lambda message: None)
    plan = _plan(quick, smoke)
    rows: list[dict[str, Any]] = []
    quiet = logging.getLogger("fairlearn")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # fairlearn logs its grid-size advice at warning level
    try:
        for key, spec in plan.datasets.items():
            d = load(key, spec)
            repeats = spec.get("repeats", plan.repeats)
            splits = [one_split(d, seed, plan, log) for seed in range(repeats)]
            rows += aggregate(d, splits, plan)
    finally:
        quiet.setLevel(level)
    return rows


# -- tables --------------------------------------------------------------------------------
NOTES = f"""\
Each dataset is split R times, 70% training and 30% held out, stratified by group x
label (split r uses seed r); the features are preprocessed on the training part
(`fairmtl.data.make_preprocessor`). Every method sees the same rows. Figures are means
over the splits with their 95% interval (mean ± t * sd / sqrt(R)); **vs pooled** is the
paired difference from the pooled model on the same splits (worst-group accuracy). The
worst group is the one with the highest mean log loss, or the lowest accuracy, on the
rows scored (held out, or the training rows for "train").

- **scikit-learn pooled / per group**: `LogisticRegression(max_iter=5000)` (otherwise
  scikit-learn's defaults: `C=1`, lbfgs), on all rows or on each group's rows (a one-class group predicts its smoothed
  training rate).
- **fairlearn**: {CONSTRAINT_NOTE}. GridSearch chooses its grid point, and
  ExponentiatedGradient its bound (a share of the pooled model's worst-group training
  error), by worst-group accuracy on a validation quarter of the training rows; the
  choice is then refitted on all training rows. Its log loss uses the probabilities of
  its models (mixed by their weights for ExponentiatedGradient); its accuracy, its own
  `predict`.
- **fairmtl defaults**: `FairMTLClassifier().fit(X, y, groups=g)`: average loss, offset
  sharing, `alpha` and `sharing_strength` chosen by its 5-fold cross-validation.
- **fairmtl FrontierSearch**: `FrontierSearch(FairMTLClassifier(objective="bounded"),
  n_points=..., baselines=(), n_boot=0)` on the training rows (its own train /
  validation / test split of them), scored by `best_estimator_`.
- **fit s**: mean wall time of the whole procedure (choices and refits included);
  **x pooled**: over the pooled fit's mean time; **(CPU)**: the same ratio of process CPU
  times, which a busy machine disturbs less."""

COLUMNS = [
    ("wg_loss", "worst-group log loss"),
    ("wg_loss_train", "worst-group log loss (train)"),
    ("wg_acc", "worst-group acc."),
    ("d_wg_acc_vs_pooled", "worst-group acc. vs pooled"),
    ("acc", "accuracy"),
]


def _cell(row: dict[str, Any], key: str) -> str:
    if row.get(key) is None:
        return "—"
    half = row.get(f"{key}_hw")
    signed = key.startswith("d_")
    value = f"{row[key]:+.3f}" if signed else f"{row[key]:.3f}"
    return value if half is None else f"{value} ± {half:.3f}"


def _describe(r: dict[str, Any]) -> str:
    capped = r["n_train"] < r["n_train_all"]
    train = (
        f"{r['n_train']:,} training rows (a sample of the {r['n_train_all']:,}, stratified "
        "by group x label, to keep the run affordable)"
        if capped
        else f"{r['n_train']:,} training rows"
    )
    return (
        f"{r['splits']} splits; {train}, {r['n_test']:,} held out, {r['n_features']} "
        f"features, {r['n_groups']} groups (smallest: {r['smallest_group']:,} training rows)."
    )


def markdown(rows: list[dict[str, Any]]) -> str:
    """Per dataset: the table of means with intervals, the paired differences, verdicts."""
    out = [NOTES, ""]
    for key in dict.fromkeys(r["dataset_key"] for r in rows):
        part = [r for r in rows if r["dataset_key"] == key]
        first = part[0]
        out += [f"### {first['dataset']}", "", _describe(first), ""]
        header = ["method", *[c[1] for c in COLUMNS], "fit s", "x pooled", "x pooled (CPU)"]
        out += ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
        for r in part:
            if r.get("skipped"):
                out.append(
                    f"| {r['method']} | not run: {r['skipped']} |" + " |" * (len(header) - 2)
                )
                continue
            cells = [_cell(r, k) for k, _ in COLUMNS]
            out.append(
                f"| {r['method']} | "
                + " | ".join(cells)
                + f" | {r['seconds']:.3g} | {r['ratio']:.1f} | {r['cpu_ratio']:.1f} |"
            )
        mine = next(r for r in part if r["method"] == DEFAULTS)
        diffs = []
        for other, tag in ((POOLED, "pooled"), (PER_GROUP, "per_group")):
            parts = ", ".join(
                f"{METRIC_WORDS[m]} {_pm(mine[f'd_{m}_vs_{tag}'], mine[f'd_{m}_vs_{tag}_hw'])}"
                for m in ("wg_loss", "wg_acc", "acc")
            )
            diffs.append(f"- fairmtl defaults minus {other} (paired): {parts}.")
        out += ["", *diffs, *[f"- {line}" for line in mine.get("verdicts", [])], ""]
    return "\n".join(out)
