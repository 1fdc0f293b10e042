"""Convex suite: fairmtl's fits against scikit-learn, fairlearn and cvxpy called directly.

fairmtl's rows are its exact path (``solver="CLARABEL"``) and its default
``solver="auto"``, which takes the dual path on large problems (the row records which).

Every method of a dataset is fitted on the same training rows and preprocessed features
(``fairmtl.data.make_preprocessor``: one-hot categories, standardised numbers) and
evaluated on the same held-out rows. The penalty is the same everywhere: ``ALPHA *
||w||^2`` on the mean loss, which is scikit-learn's ``LogisticRegression(C=1 / (2 * ALPHA *
n))`` and ``Ridge(alpha=ALPHA * n)`` (``n`` the rows of the fit, a group's rows for the
per-group models); intercepts are not penalised.

Each method's time is the median of several fits, and its ratio is that median over the
median of the pooled scikit-learn fit (``LogisticRegression`` or ``Ridge``) on the same
data, timed in the same run: before the other methods and again after them.

Datasets: Adult (race x sex, its own train and test files), COMPAS (race), German credit
(sex), Census-Income KDD (race x sex; 50k and, in the full run, 200k training rows), and
``make_hospitals`` (classification: 10 / 100 / 500 hospitals and 10k to 1M training rows;
regression: 10 hospitals, for Ridge).
"""

from __future__ import annotations

import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cvxpy as cp
import numpy as np
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split

from benchmarks._common import measure
from fairmtl import FairMTLClassifier, FairMTLRegressor
from fairmtl.data import make_preprocessor
from fairmtl.datasets import load_adult, load_census_kdd, load_compas, load_german, make_hospitals
from fairmtl.metrics import fairness_disparities, group_metrics

__all__ = ["ALPHA", "Split", "run"]

ALPHA = 1e-4
SEED = 0
#: a method's timed fits stop once they took this long in all (the first always runs)
QUICK_BUDGET_S = 15.0
#: Adult carries the headline: its fits get two runs at least where they take under 25 s
ADULT_QUICK_BUDGET_S = 25.0
FULL_BUDGET_S = 240.0
#: rows of the largest fit that each kind of method is run on (above: recorded as skipped)
EXACT_MAX_ROWS = 200_000
#: the exact path also stops at this many rows x groups (500 hospitals x 100k rows took
#: over 14 minutes, unfinished, for one minimax fit)
EXACT_MAX_ROWS_X_GROUPS = 10_000_000
DIRECT_MAX_ROWS = 100_000
FAIRLEARN_MAX_ROWS = 100_000
#: fairlearn's reductions and the textbook cvxpy program on at most this many groups
FAIRLEARN_MAX_GROUPS = 100
DIRECT_MAX_GROUPS = 100
#: bounded objective: epsilon halfway between the minimax and the pooled model's worst loss
BOUNDED_MIX = 0.5
#: BoundedGroupLoss: upper bound as a share of the pooled model's worst-group training loss
BGL_SHARE = 0.9
CONSTRAINTS = ("DemographicParity", "EqualizedOdds", "ErrorRateParity", "BoundedGroupLoss")
#: method names
EXACT_AVERAGE = "fairmtl shared average (exact)"
EXACT_MINIMAX = "fairmtl shared minimax (exact)"
EXACT_OFFSET = "fairmtl offset minimax (exact)"
EXACT_BOUNDED = "fairmtl shared bounded (exact)"
AUTO_MINIMAX = "fairmtl shared minimax (solver=auto)"
AUTO_BOUNDED = "fairmtl shared bounded (solver=auto)"
DIRECT_MINIMAX = "cvxpy direct minimax (CLARABEL)"
DIRECT_BOUNDED = "cvxpy direct bounded (CLARABEL)"
#: an exact-path row is the solver="auto" row when auto took the exact path
AUTO_TWIN = {EXACT_MINIMAX: AUTO_MINIMAX, EXACT_BOUNDED: AUTO_BOUNDED}
REUSED_NOTE = "the solver=auto fit: auto took the exact path here"
SHORT = {
    "DemographicParity": "DP",
    "EqualizedOdds": "EO",
    "ErrorRateParity": "ERP",
    "BoundedGroupLoss": "BGL",
}


# -- data --------------------------------------------------------------------------------
@dataclass
class Split:
    """Preprocessed training and test arrays of one dataset, with its groups."""

    key: str
    label: str
    task: str
    X: np.ndarray
    y: np.ndarray
    g: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    g_test: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def n_groups(self) -> int:
        return len(np.unique(self.g))

    def describe(self) -> dict[str, Any]:
        sizes = np.unique(self.g, return_counts=True)[1]
        return {
            "dataset": self.label,
            "dataset_key": self.key,
            "task": self.task,
            "n_train": int(len(self.y)),
            "n_test": int(len(self.y_test)),
            "n_features": int(self.X.shape[1]),
            "n_groups": int(self.n_groups),
            "smallest_group": int(sizes.min()),
            **self.params,
        }


def _preprocess(X_train, X_test) -> tuple[np.ndarray, np.ndarray]:
    pre = make_preprocessor(X_train).fit(X_train)
    return (
        np.ascontiguousarray(pre.transform(X_train), dtype=float),
        np.ascontiguousarray(pre.transform(X_test), dtype=float),
    )


def _stratified(X, y, g, test_size: float):
    """Split stratified by group and label, by group where a cell is too small."""
    keys = [np.char.add(np.asarray(g, str), np.asarray(y, str)), np.asarray(g, str), None]
    for strata in keys:
        try:
            return train_test_split(
                X, y, g, test_size=test_size, random_state=SEED, stratify=strata
            )
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _from_bunch(key: str, label: str, bunch, test_size: float = 0.3) -> Split:
    X, y, g = bunch.data, bunch.target.to_numpy(), bunch.groups.to_numpy()
    Xa, Xb, ya, yb, ga, gb = _stratified(X, y, g, test_size)
    Xa, Xb = _preprocess(Xa, Xb)
    return Split(key, label, "classification", Xa, ya, ga, Xb, yb, gb)


def load_split(key: str, **params: Any) -> Split:
    """One dataset, split and preprocessed; ``params`` for KDD and the hospitals."""
    if key == "adult":
        tr, te = load_adult(split="train"), load_adult(split="test")
        Xa, Xb = _preprocess(tr.data, te.data)
        return Split(
            key,
            "Adult (race x sex)",
            "classification",
            Xa,
            tr.target.to_numpy(),
            tr.groups.to_numpy(),
            Xb,
            te.target.to_numpy(),
            te.groups.to_numpy(),
        )
    if key == "compas":
        return _from_bunch(key, "COMPAS (race)", load_compas())
    if key == "german":
        return _from_bunch(key, "German credit (sex)", load_german())
    if key == "census_kdd":
        n = int(params["n_train"])
        tr = load_census_kdd(split="train", n_samples=n, random_state=SEED)
        te = load_census_kdd(split="test", n_samples=min(n, 50_000), random_state=SEED)
        Xa, Xb = _preprocess(tr.data, te.data)
        return Split(
            f"census_kdd_{n}",
            f"Census KDD (race x sex), {n:,} rows",
            "classification",
            Xa,
            tr.target.to_numpy(),
            tr.groups.to_numpy(),
            Xb,
            te.target.to_numpy(),
            te.groups.to_numpy(),
            {"n_rows": n},
        )
    if key == "hospitals":
        h, n = int(params["n_hospitals"]), int(params["n_train"])
        task = params.get("task", "classification")
        n_features = int(params.get("n_features", 8))
        data = make_hospitals(
            h, n_samples=n + n // 4, n_features=n_features, task=task, random_state=SEED
        )
        X, y, g = data.data, data.target.to_numpy(), data.groups.to_numpy()
        strata = g if task == "regression" else None
        Xa, Xb, ya, yb, ga, gb = (
            train_test_split(X, y, g, test_size=0.2, random_state=SEED, stratify=strata)
            if strata is not None
            else _stratified(X, y, g, 0.2)
        )
        Xa, Xb = _preprocess(Xa, Xb)
        kind = "regression" if task == "regression" else "classification"
        label = f"make_hospitals {kind}, {h} hospitals, {len(ya):,} rows"
        return Split(
            f"hospitals_{kind}_{h}_{n}",
            label,
            task,
            Xa,
            ya,
            ga,
            Xb,
            yb,
            gb,
            {"family": f"hospitals-{kind}", "n_hospitals": h, "n_rows": len(ya)},
        )
    raise ValueError(f"unknown dataset {key!r}")


# -- fitted models with one interface -----------------------------------------------------
@dataclass
class Fit:
    """A fitted method: labels, P(y = 1) (or None), and what its solver said."""

    predict: Callable[[np.ndarray, np.ndarray], np.ndarray]
    proba: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    status: str = "ok"
    gap: float | None = None
    note: str = ""
    attempts: list[str] = field(default_factory=list)
    path: str | None = None


def _lr(n: int) -> LogisticRegression:
    return LogisticRegression(C=1.0 / (2.0 * ALPHA * n), max_iter=5000)


def _ridge(n: int) -> Ridge:
    return Ridge(alpha=ALPHA * n)


def _pooled(s: Split) -> Fit:
    if s.task == "regression":
        m = _ridge(len(s.y)).fit(s.X, s.y)
        return Fit(lambda X, g: m.predict(X), status="closed form")
    m = _lr(len(s.y)).fit(s.X, s.y)
    return Fit(lambda X, g: m.predict(X), lambda X, g: m.predict_proba(X)[:, 1], status="lbfgs")


def _per_group(s: Split) -> Fit:
    models: dict[Any, Any] = {}
    for label in np.unique(s.g):
        rows = s.g == label
        yg = s.y[rows]
        if s.task == "regression":
            models[label] = _ridge(int(rows.sum())).fit(s.X[rows], yg)
        elif len(np.unique(yg)) < 2:
            models[label] = float(yg[0])  # a one-class group: predict its class
        else:
            models[label] = _lr(int(rows.sum())).fit(s.X[rows], yg)

    def call(X, g, proba: bool):
        out = np.empty(len(X))
        for label in np.unique(g):
            rows = g == label
            m = models[label]
            if isinstance(m, float):
                out[rows] = m
            elif proba:
                out[rows] = m.predict_proba(X[rows])[:, 1]
            else:
                out[rows] = m.predict(X[rows])
        return out

    proba = None if s.task == "regression" else (lambda X, g: call(X, g, True))
    return Fit(lambda X, g: call(X, g, False), proba, status="per group")


def _fairmtl(
    sharing: str, objective: str, solver: str = "CLARABEL"
) -> Callable[[Split, dict], Fit]:
    """A fairmtl estimator; ``CLARABEL`` forces the exact path, ``auto`` lets fairmtl choose."""

    def fit(s: Split, ctx: dict) -> Fit:
        cls = FairMTLRegressor if s.task == "regression" else FairMTLClassifier
        extra: dict[str, Any] = {"solver": solver}
        if objective == "bounded":
            extra["epsilon"] = ctx["epsilon"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = cls(sharing, objective=objective, alpha=ALPHA, **extra).fit(s.X, s.y, groups=s.g)
        ctx[f"{sharing}-{objective}-{solver}-losses"] = m.group_losses_.to_numpy()
        info = m.solver_info_
        status = str(info.get("status"))
        if solver == "auto":
            status += f", {info.get('path', '?')} path"
        attempts = [
            f"{a.get('solver')}: {a.get('status')} ({a.get('time', 0):.2f} s)"
            for a in list(info.get("attempts") or []) + list(info.get("refine_attempts") or [])
        ]
        proba = None
        if s.task != "regression":

            def proba(X, g, m=m):
                return m.predict_proba(X, groups=g)[:, 1]

        gap = info.get("gap")
        return Fit(
            lambda X, g: m.predict(X, groups=g),
            proba,
            status=status,
            gap=gap,
            note=f"{len(attempts)} solver calls" if len(attempts) > 1 else "",
            attempts=attempts,
            path=str(info.get("path", "exact")),
        )

    return fit


def _direct(objective: str) -> Callable[[Split, dict], Fit]:
    """The textbook program, written as a cvxpy user would: one loss term per group."""

    def fit(s: Split, ctx: dict) -> Fit:
        d = s.X.shape[1]
        w, b, t = cp.Variable(d), cp.Variable(), cp.Variable()
        ys = np.where(s.y == 1, 1.0, -1.0) if s.task != "regression" else s.y
        losses, shares = [], []
        for label in np.unique(s.g):
            rows = s.g == label
            z = s.X[rows] @ w + b
            if s.task == "regression":
                losses.append(cp.sum_squares(ys[rows] - z) / rows.sum())
            else:
                losses.append(cp.sum(cp.logistic(-cp.multiply(ys[rows], z))) / rows.sum())
            shares.append(rows.mean())
        penalty = ALPHA * cp.sum_squares(w)
        if objective == "minimax":
            problem = cp.Problem(cp.Minimize(t + penalty), [L <= t for L in losses])
        else:
            average = sum(p * L for p, L in zip(shares, losses, strict=True))
            problem = cp.Problem(
                cp.Minimize(average + penalty), [L <= ctx["epsilon"] for L in losses]
            )
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the status is reported instead
                problem.solve(solver="CLARABEL")
        except cp.SolverError as e:
            return Fit(_nan_predict, status=f"failed: {str(e)[:80]}")
        if w.value is None:
            return Fit(_nan_predict, status=str(problem.status))
        wv, bv = w.value.copy(), float(b.value)
        if s.task == "regression":
            return Fit(lambda X, g: X @ wv + bv, status=str(problem.status))

        def proba(X, g):
            return 1.0 / (1.0 + np.exp(-(X @ wv + bv)))

        return Fit(lambda X, g: (proba(X, g) > 0.5).astype(int), proba, status=str(problem.status))

    return fit


def _nan_predict(X, g):
    return np.full(len(X), np.nan)


def _constraint(name: str, s: Split, ctx: dict):
    from fairlearn import reductions

    if name != "BoundedGroupLoss":
        return getattr(reductions, name)()
    if s.task == "regression":
        loss = reductions.SquareLoss(float(s.y.min()), float(s.y.max()))
    else:
        loss = reductions.ZeroOneLoss()
    return reductions.BoundedGroupLoss(loss, upper_bound=BGL_SHARE * ctx["pooled_worst"])


def _fairlearn(
    kind: str, name: str, grid_size: int = 10, max_iter: int = 50
) -> Callable[[Split, dict], Fit]:
    def fit(s: Split, ctx: dict) -> Fit:
        from fairlearn import reductions

        base = _ridge(len(s.y)) if s.task == "regression" else _lr(len(s.y))
        constraint = _constraint(name, s, ctx)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if kind == "ExponentiatedGradient":
                m = reductions.ExponentiatedGradient(
                    base, constraints=constraint, max_iter=max_iter
                )
            else:
                m = reductions.GridSearch(base, constraints=constraint, grid_size=grid_size)
            m.fit(s.X, s.y, sensitive_features=s.g)
        if kind == "ExponentiatedGradient":
            predict = lambda X, g: m.predict(X, random_state=SEED)  # noqa: E731
            proba = None if s.task == "regression" else _mixture_proba(m)
            note = f"randomised mixture of {int((m.weights_ > 0).sum())} models"
        else:
            predict = lambda X, g: m.predict(X)  # noqa: E731
            proba = None if s.task == "regression" else (lambda X, g: m.predict_proba(X)[:, 1])
            note = f"grid of {grid_size}"
        return Fit(predict, proba, status="ok", note=note)

    return fit


def _mixture_proba(m) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """ExponentiatedGradient's expected P(y = 1): its models' probabilities, mixed by weight.

    (``_pmf_predict`` mixes the models' hard labels, whose log loss is meaningless.)
    """

    def proba(X, g):
        out = np.zeros(len(X))
        for t, weight in m.weights_.items():
            if weight > 0:
                model = m.predictors_[t]
                if hasattr(model, "predict_proba"):
                    out += weight * model.predict_proba(X)[:, 1]
                else:
                    out += weight * np.asarray(model.predict(X), dtype=float)
        return out

    return proba


def _threshold(constraint: str) -> Callable[[Split, dict], Fit]:
    def fit(s: Split, ctx: dict) -> Fit:
        from fairlearn.postprocessing import ThresholdOptimizer

        m = ThresholdOptimizer(
            estimator=_lr(len(s.y)), constraints=constraint, predict_method="predict_proba"
        ).fit(s.X, s.y, sensitive_features=s.g)
        return Fit(
            lambda X, g: m.predict(X, sensitive_features=g, random_state=SEED),
            None,
            status="ok",
            note="randomised thresholds, no probabilities",
        )

    return fit


# -- the methods and where they run -------------------------------------------------------
@dataclass
class Method:
    name: str
    family: str
    fit: Callable[[Split, dict], Fit]
    #: the largest data the method is run on, and whether it runs on regression data
    max_rows: int | None = None
    max_groups: int | None = None
    max_rows_x_groups: int | None = None
    regression: bool = True
    classification: bool = True
    #: the most timed runs (expensive methods run once)
    max_runs: int | None = None


def _methods(plan: dict[str, Any]) -> list[Method]:
    """The methods of one dataset, in the order they run (later ones use earlier fits)."""
    grid = plan["grid_size"]
    exact = {"max_rows": EXACT_MAX_ROWS, "max_rows_x_groups": EXACT_MAX_ROWS_X_GROUPS}
    direct = {"max_rows": DIRECT_MAX_ROWS, "max_groups": DIRECT_MAX_GROUPS, "max_runs": 1}
    ms = [
        Method("scikit-learn per-group", "scikit-learn", lambda s, c: _per_group(s)),
        Method(EXACT_AVERAGE, "fairmtl", _fairmtl("shared", "average"), **exact),
        Method(AUTO_MINIMAX, "fairmtl", _fairmtl("shared", "minimax", "auto")),
        Method(EXACT_MINIMAX, "fairmtl", _fairmtl("shared", "minimax"), **exact),
        Method(EXACT_OFFSET, "fairmtl", _fairmtl("offset", "minimax"), **exact, max_groups=100),
        Method(AUTO_BOUNDED, "fairmtl", _fairmtl("shared", "bounded", "auto")),
        Method(EXACT_BOUNDED, "fairmtl", _fairmtl("shared", "bounded"), **exact),
        Method(DIRECT_MINIMAX, "cvxpy", _direct("minimax"), **direct),
        Method(DIRECT_BOUNDED, "cvxpy", _direct("bounded"), **direct),
    ]
    for constraint in plan["threshold"]:
        ms.append(
            Method(
                f"fairlearn ThresholdOptimizer ({constraint})",
                "fairlearn",
                _threshold(constraint),
                regression=False,
            )
        )
    for name in plan["grid"]:
        ms.append(
            Method(
                f"fairlearn GridSearch ({SHORT[name]})",
                "fairlearn",
                _fairlearn("GridSearch", name, grid),
                max_rows=FAIRLEARN_MAX_ROWS,
                max_groups=FAIRLEARN_MAX_GROUPS,
                max_runs=plan.get("grid_max_runs"),
                regression=name == "BoundedGroupLoss",
            )
        )
    for name in plan["expgrad"]:
        ms.append(
            Method(
                f"fairlearn ExponentiatedGradient ({SHORT[name]})",
                "fairlearn",
                _fairlearn("ExponentiatedGradient", name, max_iter=plan.get("eg_max_iter", 50)),
                max_rows=FAIRLEARN_MAX_ROWS,
                max_groups=FAIRLEARN_MAX_GROUPS,
                regression=name == "BoundedGroupLoss",
                max_runs=1,
            )
        )
    core = set(plan["core"])
    return [m for m in ms if m.family == "fairlearn" or m.name in core]


def _skip_reason(m: Method, s: Split) -> str | None:
    if m.max_rows is not None and len(s.y) > m.max_rows:
        return f"over {m.max_rows:,} rows: not run (see the dual suite for large data)"
    if m.max_groups is not None and s.n_groups > m.max_groups:
        return f"over {m.max_groups} groups: not run"
    if m.max_rows_x_groups is not None and len(s.y) * s.n_groups > m.max_rows_x_groups:
        return f"over {m.max_rows_x_groups:,} rows x groups: not run"
    return None


# -- evaluation ---------------------------------------------------------------------------
def _worst_loss(y, proba_or_pred, g, task: str) -> float:
    metric = "mse" if task == "regression" else "log_loss"
    kw = {"y_pred": proba_or_pred} if task == "regression" else {"y_score": proba_or_pred}
    table = group_metrics(y, groups=g, metrics=[metric], task=task, **kw)
    per_group = table[(table["group"] != "overall") & (table["metric"] == metric)]
    return float(per_group["value"].max())


def evaluate(fit: Fit, s: Split) -> dict[str, Any]:
    """Held-out metrics (and the worst-group training loss) of one fitted method."""
    pred = fit.predict(s.X_test, s.g_test)
    if np.isnan(pred).any():
        return {}
    if s.task == "regression":
        table = group_metrics(
            s.y_test, groups=s.g_test, y_pred=pred, metrics=["mse"], task="regression"
        )
        groups = table[table["group"] != "overall"]["value"]
        overall = float(table[table["group"] == "overall"]["value"].iloc[0])
        return {
            "mse": overall,
            "worst_group_mse": float(groups.max()),
            "worst_group_loss_train": _worst_loss(s.y, fit.predict(s.X, s.g), s.g, "regression"),
        }
    pred = pred.astype(s.y_test.dtype)
    table = group_metrics(s.y_test, groups=s.g_test, y_pred=pred, metrics=["accuracy"])
    per_group = table[table["group"] != "overall"]["value"]
    out: dict[str, Any] = {
        "accuracy": float(table[table["group"] == "overall"]["value"].iloc[0]),
        "worst_group_accuracy": float(per_group.min()),
    }
    if fit.proba is not None:
        out["worst_group_loss"] = _worst_loss(
            s.y_test, np.clip(fit.proba(s.X_test, s.g_test), 0.0, 1.0), s.g_test, "classification"
        )
        out["worst_group_loss_train"] = _worst_loss(
            s.y, np.clip(fit.proba(s.X, s.g), 0.0, 1.0), s.g, "classification"
        )
    d = fairness_disparities(s.y_test, pred, s.g_test)
    out["dp_diff"] = d["demographic_parity_difference"]
    out["eo_diff"] = d["equalized_odds_difference"]
    return out


# -- running ------------------------------------------------------------------------------
def run_split(
    s: Split,
    plan: dict[str, Any],
    repeats: int,
    budget_s: float,
    log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Every method of ``plan`` on one dataset; one row each (skipped and failed too)."""
    info = s.describe()
    ctx: dict[str, Any] = {}
    base = measure(lambda: _pooled(s), repeats, budget_s=budget_s)
    base_fit = base.result
    pooled_label = (
        "scikit-learn Ridge pooled"
        if s.task == "regression"
        else ("scikit-learn LogisticRegression pooled")
    )
    pooled_row = {**info, "method": pooled_label, "library": "scikit-learn", **base.as_row()}
    pooled_row.update(status=base_fit.status, **evaluate(base_fit, s))
    ctx["pooled_worst"] = _pooled_worst_train(base_fit, s)
    ctx["pooled_worst_loss"] = pooled_row.get("worst_group_loss_train")
    log(f"  {pooled_label}: {base.seconds:.2f} s")
    rows = [pooled_row]
    done: dict[str, dict[str, Any]] = {}
    for m in _methods(plan):
        row: dict[str, Any] = {**info, "method": m.name, "library": m.family}
        if (s.task == "regression" and not m.regression) or (
            s.task != "regression" and not m.classification
        ):
            continue
        reason = _skip_reason(m, s)
        if reason is None and "bounded" in m.name and "epsilon" not in ctx:
            eps = _bounded_epsilon(ctx)
            if eps is None:
                reason = "needs a minimax fit and the pooled loss, which are missing"
            else:
                ctx["epsilon"] = eps
        if reason is not None:
            rows.append({**row, "skipped": reason, "status": "skipped"})
            continue
        if "bounded" in m.name:
            row["epsilon"] = ctx["epsilon"]
        twin = done.get(AUTO_TWIN.get(m.name, ""))
        if twin is not None and twin.get("path") == "exact" and twin.get("seconds") is not None:
            # solver="auto" already took the exact path on these data: the same fit
            rows.append({**twin, **row, "note": REUSED_NOTE, "reused": True})
            log(f"  {m.name}: the solver=auto fit (exact path)")
            continue
        runs = min(repeats, m.max_runs or repeats, plan.get("max_runs") or repeats)
        try:
            meas = measure(lambda m=m: m.fit(s, ctx), runs, budget_s=budget_s)
        except Exception as e:  # a method that fails is a result, not a crash
            rows.append({**row, "status": "error", "error": _error(e)})
            log(f"  {m.name}: error {type(e).__name__}: {e}")
            continue
        fit: Fit = meas.result
        row.update(meas.as_row(), status=fit.status, gap=fit.gap)
        if fit.note:
            row["note"] = fit.note
        if fit.attempts:
            row["solver_calls"] = fit.attempts
        if fit.path:
            row["path"] = fit.path
        try:
            row.update(evaluate(fit, s))
        except Exception as e:
            row["error"] = f"evaluation: {_error(e)}"
        rows.append(row)
        done[m.name] = row
        log(f"  {m.name}: {meas.seconds:.2f} s ({meas.runs} run(s)), {fit.status}")
    # time the baseline again after the others, so that load drifts hit both alike
    again = measure(lambda: _pooled(s), repeats, budget_s=budget_s, memory=False)
    times = base.times + again.times
    pooled_row.update(
        seconds=float(np.median(times)),
        cpu_seconds=float(np.median([base.cpu_seconds, again.cpu_seconds])),
        runs=len(times),
        times=times,
    )
    for r in rows:
        if r.get("seconds") is not None:
            r["ratio"] = r["seconds"] / pooled_row["seconds"]
            r["cpu_ratio"] = r["cpu_seconds"] / max(pooled_row["cpu_seconds"], 1e-9)
    return rows


def _pooled_worst_train(fit: Fit, s: Split) -> float:
    """The pooled model's worst-group training loss of BoundedGroupLoss's kind."""
    pred = fit.predict(s.X, s.g)
    worst = 0.0
    for label in np.unique(s.g):
        rows = s.g == label
        if s.task == "regression":
            worst = max(worst, float(np.mean((pred[rows] - s.y[rows]) ** 2)))
        else:
            worst = max(worst, float(np.mean(pred[rows] != s.y[rows])))
    return worst


def _bounded_epsilon(ctx: dict) -> float | None:
    """Halfway between the minimax and the pooled model's worst-group training loss."""
    minimax = ctx.get("shared-minimax-CLARABEL-losses")
    if minimax is None:
        minimax = ctx.get("shared-minimax-auto-losses")
    if minimax is None or ctx.get("pooled_worst_loss") is None:
        return None
    lo, hi = float(minimax.max()), float(ctx["pooled_worst_loss"])
    return lo + BOUNDED_MIX * max(hi - lo, 0.0)


def _error(e: BaseException) -> str:
    last = traceback.format_exception_only(type(e), e)[-1].strip()
    return last[:300]


# -- plans --------------------------------------------------------------------------------
#: the scikit-learn, fairmtl and cvxpy methods, in the order they run
CORE = (
    "scikit-learn per-group",
    EXACT_AVERAGE,
    EXACT_MINIMAX,
    AUTO_MINIMAX,
    EXACT_OFFSET,
    EXACT_BOUNDED,
    AUTO_BOUNDED,
    DIRECT_MINIMAX,
    DIRECT_BOUNDED,
)
CORE_QUICK = (
    "scikit-learn per-group",
    EXACT_MINIMAX,
    AUTO_MINIMAX,
    EXACT_BOUNDED,
    AUTO_BOUNDED,
    DIRECT_MINIMAX,
)
CORE_SCALING = ("scikit-learn per-group", EXACT_MINIMAX, AUTO_MINIMAX, DIRECT_MINIMAX)
#: quick mode's scaling points (hospitals, training rows); the full run's are below
QUICK_SCALING = ((10, 1_000), (10, 3_000), (10, 10_000), (30, 3_000), (100, 3_000))
FULL_SCALING = tuple((h, n) for h in (10, 100, 500) for n in (10_000, 100_000, 1_000_000)) + (
    (10, 30_000),
    (10, 300_000),
)


def _plan(core=CORE, threshold=(), grid=(), expgrad=(), grid_size=20, **extra) -> dict[str, Any]:
    return {
        "core": tuple(core),
        "threshold": list(threshold),
        "grid": list(grid),
        "expgrad": list(expgrad),
        "grid_size": grid_size,
        **extra,
    }


def plan(quick: bool, smoke: bool = False) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """``(dataset key, dataset params, method plan)`` for each dataset of the run."""
    dp, eo = "demographic_parity", "equalized_odds"
    if smoke:
        tiny = _plan(threshold=[dp], grid=["DemographicParity"], grid_size=3, eg_max_iter=3)
        return [
            ("hospitals", {"n_hospitals": 3, "n_train": 300}, tiny),
            ("hospitals", {"n_hospitals": 3, "n_train": 600}, _plan(CORE_SCALING)),
            (
                "hospitals",
                {"n_hospitals": 3, "n_train": 300, "task": "regression"},
                {**tiny, "expgrad": ["BoundedGroupLoss"]},
            ),
        ]
    if quick:
        # fairlearn's reductions are fitted once in quick mode; the others as the budget allows
        once = {"grid_size": 10, "grid_max_runs": 1}
        out = [
            (
                "adult",
                {},
                _plan(
                    CORE_QUICK,
                    [dp],
                    ["DemographicParity"],
                    **{**once, "grid_size": 5, "budget_s": ADULT_QUICK_BUDGET_S},
                ),
            ),
            (
                "compas",
                {},
                _plan(
                    CORE_QUICK + (DIRECT_BOUNDED,),
                    [dp],
                    ["DemographicParity"],
                    ["DemographicParity"],
                    **once,
                ),
            ),
            (
                "german",
                {},
                _plan(CORE, [dp, eo], ["DemographicParity"], ["DemographicParity"], **once),
            ),
            (
                "hospitals",
                {"n_hospitals": 10, "n_train": 10_000, "task": "regression"},
                _plan(CORE_QUICK, grid=["BoundedGroupLoss"], expgrad=["BoundedGroupLoss"], **once),
            ),
        ]
        for h, n in QUICK_SCALING:
            out.append(
                ("hospitals", {"n_hospitals": h, "n_train": n}, _plan(CORE_SCALING, max_runs=1))
            )
        return out
    # GridSearch's 20 models are one timed fit; every ExponentiatedGradient fit runs once
    full = _plan(CORE, [dp, eo], CONSTRAINTS, CONSTRAINTS, grid_max_runs=1)
    lean = _plan(CORE_SCALING, [dp], expgrad=["DemographicParity"], max_runs=1)
    out = [
        ("adult", {}, full),
        ("compas", {}, full),
        ("german", {}, full),
        ("census_kdd", {"n_train": 50_000}, {**full, "expgrad": ["DemographicParity"]}),
        ("census_kdd", {"n_train": 200_000}, _plan(CORE_QUICK, [dp], max_runs=1)),
        ("hospitals", {"n_hospitals": 10, "n_train": 100_000, "task": "regression"}, full),
    ]
    for h, n in FULL_SCALING:
        out.append(("hospitals", {"n_hospitals": h, "n_train": n}, lean))
    return out


def run(
    quick: bool = False,
    repeats: int = 3,
    *,
    smoke: bool = False,
    log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Run the convex suite; one row per (dataset, method), skipped and failed included."""
    budget = 1.0 if smoke else (QUICK_BUDGET_S if quick else FULL_BUDGET_S)
    repeats = 1 if smoke else repeats
    rows: list[dict[str, Any]] = []
    for key, params, method_plan in plan(quick, smoke):
        try:
            s = load_split(key, **params)
        except Exception as e:
            rows.append({"dataset": f"{key} {params}", "method": "(data)", "error": _error(e)})
            log(f"{key} {params}: data error {e}")
            continue
        log(f"{s.label}: {len(s.y):,} rows x {s.X.shape[1]} features, {s.n_groups} groups")
        rows += run_split(s, method_plan, repeats, method_plan.get("budget_s", budget), log)
    return rows
