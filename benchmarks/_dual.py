"""Dual suite: certified minimax and loss-bounded fits on large data.

On one preprocessed dataset per block, in one run: one scikit-learn LogisticRegression
fit (the pooled model, ``C = 1 / (2 alpha n)``) is the unit of time; against it (one fit
each: offset sharing at ``sharing_strength`` ``STRENGTH``, not chosen by cross-validation) the dual
path (``FairMTLClassifier(solver="dual")``; its minimax fits of a model of at most 400
parameters by its smooth stages, larger ones by the level method) for minimax and bounded, the exact path
(CLARABEL) on the same problems, what ``solver="auto"`` does with minimax on the simulated
hospitals (8 features: the exact path's SQP on small data, the dual path's smooth stages on
large data), and fairlearn's ExponentiatedGradient. Every ratio is of
two medians measured in the same run; ``certificate_ok`` says whether the exact optimum
lies within the dual path's reported ``[lower_bound, upper_bound]``.

fairlearn has no minimax and no log-loss bound; its nearest constraints are
BoundedGroupLoss with the 0-1 loss and ErrorRateParity. For the *same* constraint,
``FairMTLReduction`` (the dual path's master around the same LogisticRegression) runs
BoundedGroupLoss's problem — every group's training error at most the same bound — so the
two masters are compared on equal terms.

The one constraint fairlearn shares with the dual path *with the same loss* is a bound on
every group's mean squared error (``BoundedGroupLoss(SquareLoss)``) for regression: the
regression block fits it both ways on the same data — ``FairMTLRegressor(solver="dual",
objective="bounded")`` and ExponentiatedGradient around ``Ridge`` with the same penalty and
the same bound — and reports how many times faster the dual path is.

Blocks: Adult (race x sex, the full train split, 32,561 rows) and simulated hospitals
regression (10 hospitals; 30,000 rows quick, 100,000 full). ExponentiatedGradient on
Adult (minutes a fit) and ``FairMTLReduction`` run in the full run only; the full run also
has Census-Income KDD (race x sex, 199,523 rows), rows scaling on simulated hospitals
(10,000 to 1,000,000 rows, 30 hospitals) and groups scaling (2 to 500 hospitals, 100,000
rows).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression, Ridge

from benchmarks._common import measure
from fairmtl import FairMTLClassifier, FairMTLReduction, FairMTLRegressor
from fairmtl.data import make_preprocessor
from fairmtl.datasets import load_adult, load_census_kdd, make_hospitals

ALPHA = 1e-4
#: offset sharing's strength in every fit here: one fit is timed, as scikit-learn's is (the
#: default "auto" chooses it by cross-validation, whose cost the generalisation suite reports)
STRENGTH = 1.0
#: the bounded fits' epsilon: this share of the way from the minimax to the pooled worst loss
EPS_SHARE = 0.5


def _lr(n: int) -> LogisticRegression:
    return LogisticRegression(C=1.0 / (2 * ALPHA * n), max_iter=5000)


def _ridge(n: int) -> Ridge:
    return Ridge(alpha=ALPHA * n)  # 1e-4 ||w||^2 on the mean squared error


def _preprocessed(bunch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X = bunch.data
    Xn = np.asarray(make_preprocessor(X).fit_transform(X), dtype=float)
    return Xn, bunch.target.to_numpy(), bunch.groups.to_numpy()


def _quiet(fn: Callable[[], Any]) -> Callable[[], Any]:
    def call():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn()

    return call


def _worst_log_loss(proba: np.ndarray, y: np.ndarray, g: np.ndarray) -> float:
    p = np.clip(np.where(y == 1, proba, 1 - proba), 1e-15, 1)
    return max(float(-np.log(p[g == k]).mean()) for k in np.unique(g))


def _worst_error(pred: np.ndarray, y: np.ndarray, g: np.ndarray) -> float:
    return max(float(np.mean(pred[g == k] != y[g == k])) for k in np.unique(g))


def _worst_mse(pred: np.ndarray, y: np.ndarray, g: np.ndarray) -> float:
    return max(float(np.mean((pred[g == k] - y[g == k]) ** 2)) for k in np.unique(g))


def _expected_worst_mse(mixture, X, y: np.ndarray, g: np.ndarray) -> float:
    """Worst group's expected squared error of ExponentiatedGradient's randomised mixture."""
    weights = mixture.weights_.to_numpy()
    sq = np.stack([(h.predict(X) - y) ** 2 for h in mixture.predictors_])
    per_row = weights @ sq
    return max(float(per_row[g == k].mean()) for k in np.unique(g))


class _Block:
    """Rows of one dataset, each timed against the same scikit-learn fit."""

    def __init__(self, label: str, X, y, g, repeats: int, log, *, regression=False) -> None:
        self.label, self.X, self.y, self.g = label, X, y, g
        self.repeats, self.log, self.rows = repeats, log, []
        self.regression = regression
        self.peer = _ridge if regression else _lr
        name = type(self.peer(1)).__name__
        log(f"dual suite: {label}: scikit-learn {name}")
        m = measure(lambda: self.peer(len(y)).fit(X, y), repeats)
        self.base = m.seconds
        if regression:
            worst = _worst_mse(m.result.predict(X), y, g)
        else:
            worst = _worst_log_loss(m.result.predict_proba(X)[:, 1], y, g)
        status = "cholesky" if regression else "lbfgs"
        self._add(f"scikit-learn {name} (pooled, 1 fit)", m, status=status, worst=worst)

    def _add(self, method: str, m, **extra) -> dict[str, Any]:
        row = {
            "dataset": self.label,
            "method": method,
            "seconds": m.seconds,
            "ratio": m.seconds / self.base,
            "cpu_seconds": m.cpu_seconds,
            "runs": m.runs,
            "peak_mb": m.peak_mb,
            **extra,
        }
        self.rows.append(row)
        return row

    def fairmtl(self, method: str, repeats: int | None = None, **params) -> dict[str, Any]:
        self.log(f"dual suite: {self.label}: {method}")
        params.setdefault("sharing_strength", STRENGTH)
        est = (FairMTLRegressor if self.regression else FairMTLClassifier)(alpha=ALPHA, **params)
        m = measure(_quiet(lambda: est.fit(self.X, self.y, groups=self.g)), repeats or self.repeats)
        info = m.result.solver_info_
        return self._add(
            method,
            m,
            status=f"{info['status']}, {info['path']} path",
            objective=info["objective"],
            lower_bound=info.get("lower_bound"),
            gap=info.get("gap"),
            relative_gap=info.get("relative_gap"),
            rounds=info.get("iterations"),
            worst=float(m.result.group_losses_.max()),
        )

    def expgrad(self, name: str, constraint, budget_s: float) -> dict[str, Any]:
        from fairlearn.reductions import ExponentiatedGradient

        self.log(f"dual suite: {self.label}: fairlearn ExponentiatedGradient ({name})")
        fit = lambda: ExponentiatedGradient(self.peer(len(self.y)), constraint).fit(  # noqa: E731
            self.X, self.y, sensitive_features=self.g
        )
        m = measure(_quiet(fit), self.repeats, budget_s=budget_s)
        if self.regression:
            quality = {"worst": _expected_worst_mse(m.result, self.X, self.y, self.g)}
        else:
            pred = m.result.predict(self.X, random_state=0)
            quality = {"worst_error": _worst_error(pred, self.y, self.g)}
        return self._add(
            f"fairlearn ExponentiatedGradient ({name})",
            m,
            status=f"ok (randomised mixture of {len(m.result.predictors_)} models)",
            **quality,
        )


def _certify(dual: dict[str, Any], exact: dict[str, Any]) -> None:
    slack = 1e-6 * max(1.0, abs(exact["objective"]))
    ok = dual["lower_bound"] - slack <= exact["objective"] <= dual["objective"] + slack
    dual["certificate_ok"] = bool(ok)
    dual["distance_to_exact"] = dual["objective"] - exact["objective"]


def _real_block(label, X, y, g, *, repeats, log, exact: bool, fairlearn: bool, offset: bool):
    block = _Block(label, X, y, g, repeats, log)
    mm = block.fairmtl("fairmtl dual minimax (shared)", sharing="shared", objective="minimax",
                       solver="dual")  # fmt: skip
    if offset:
        block.fairmtl("fairmtl dual minimax (offset)", sharing="offset", objective="minimax",
                      solver="dual")  # fmt: skip
    pooled_worst = block.rows[0]["worst"]
    eps = mm["worst"] + EPS_SHARE * (pooled_worst - mm["worst"])
    bd = block.fairmtl(f"fairmtl dual bounded (log loss <= {eps:.4f})", sharing="shared",
                       objective="bounded", epsilon=eps, solver="dual")  # fmt: skip
    if exact:
        ex = block.fairmtl("fairmtl exact minimax (shared, CLARABEL)", repeats=1,
                           sharing="shared", objective="minimax", solver="CLARABEL")  # fmt: skip
        _certify(mm, ex)
        eb = block.fairmtl(f"fairmtl exact bounded (log loss <= {eps:.4f})", repeats=1,
                           sharing="shared", objective="bounded", epsilon=eps,
                           solver="CLARABEL")  # fmt: skip
        _certify(bd, eb)
    if fairlearn:
        _fairlearn_rows(block, bd)
    return block.rows


def _speedup(row: dict[str, Any], expgrad: dict[str, Any]) -> None:
    """ExponentiatedGradient's time over this row's."""
    row["speedup_vs_expgrad"] = expgrad["seconds"] / row["seconds"]


def _fairlearn_rows(block: _Block, dual_bounded: dict[str, Any]) -> None:
    from fairlearn.reductions import BoundedGroupLoss, ErrorRateParity, ZeroOneLoss

    plain = _lr(len(block.y)).fit(block.X, block.y)
    pooled_error = _worst_error(plain.predict(block.X), block.y, block.g)
    bound = 0.9 * pooled_error  # every group's training error at most 90% of the pooled worst
    eg = block.expgrad(
        f"BoundedGroupLoss 0-1 <= {bound:.3f}",
        BoundedGroupLoss(ZeroOneLoss(), upper_bound=bound),
        budget_s=300,
    )
    block.log(f"dual suite: {block.label}: FairMTLReduction (same constraint)")
    red = FairMTLReduction(
        _lr(len(block.y)), objective="bounded", epsilon=bound, loss="zero_one", random_state=0
    )
    m = measure(_quiet(lambda: red.fit(block.X, block.y, groups=block.g)), block.repeats)
    info = m.result.solver_info_
    row = block._add(
        f"fairmtl FairMTLReduction (same: 0-1 <= {bound:.3f})",
        m,
        status=f"{info['fits']} fits",
        worst_error=float(m.result.group_losses_.max()),
    )
    _speedup(row, eg)
    # not the same loss (log loss bounded here, 0-1 there): a ratio, no verdict
    dual_bounded["speedup_vs_expgrad"] = eg["seconds"] / dual_bounded["seconds"]
    block.expgrad("ErrorRateParity", ErrorRateParity(), budget_s=300)


def _regression_rows(n: int, G: int, *, repeats: int, log) -> list[dict[str, Any]]:
    """Bounded group MSE, both ways: the dual path and ExponentiatedGradient around Ridge."""
    from fairlearn.reductions import BoundedGroupLoss, SquareLoss

    data = make_hospitals(G, n_samples=n, random_state=0, task="regression")
    X, y, g = data.data.to_numpy(float), data.target.to_numpy(float), data.groups.to_numpy()
    label = f"hospitals regression ({n:,} rows x {X.shape[1]} features, {G} hospitals)"
    block = _Block(label, X, y, g, repeats, log, regression=True)
    mm = block.fairmtl("fairmtl dual minimax (shared)", sharing="shared",
                       objective="minimax", solver="dual")  # fmt: skip
    block.fairmtl("fairmtl minimax (shared, solver=auto)", sharing="shared", objective="minimax")
    pooled_worst = block.rows[0]["worst"]
    eps = mm["worst"] + EPS_SHARE * (pooled_worst - mm["worst"])
    what = f"squared loss <= {eps:.3f}"
    bd = block.fairmtl(f"fairmtl dual bounded ({what})", sharing="shared",
                       objective="bounded", epsilon=eps, solver="dual")  # fmt: skip
    ex = block.fairmtl(f"fairmtl exact bounded ({what})", repeats=1, sharing="shared",
                       objective="bounded", epsilon=eps, solver="CLARABEL")  # fmt: skip
    _certify(bd, ex)
    # SquareLoss clips targets and predictions to [min, max]; the targets' range keeps
    # the loss the plain squared error wherever predictions stay inside it
    loss = SquareLoss(float(y.min()), float(y.max()))
    eg = block.expgrad(f"BoundedGroupLoss {what}", BoundedGroupLoss(loss, upper_bound=eps),
                       budget_s=60)  # fmt: skip
    _speedup(bd, eg)
    bd["headline"] = (
        f"Bounding every group's mean squared error on simulated hospitals ({n:,} rows, "
        f"{G} hospitals): the dual path takes {bd['seconds']:.2f} s (certified gap "
        f"{bd['relative_gap']:.1e} relative), fairlearn's ExponentiatedGradient with the same "
        f"loss, bound and Ridge penalty {eg['seconds']:.1f} s: **{bd['speedup_vs_expgrad']:.0f}x** "
        f"faster (worst-group MSE {bd['worst']:.3f} against {eg['worst']:.3f}; one Ridge fit "
        f"{block.base:.3f} s)."
    )
    return block.rows


def _hospital_rows(n: int, G: int, *, repeats: int, log, exact: bool) -> list[dict[str, Any]]:
    data = make_hospitals(G, n_samples=n, random_state=0, min_size=20)
    X, y, g = data.data.to_numpy(float), data.target.to_numpy(), data.groups.to_numpy()
    block = _Block(f"hospitals ({n:,} rows, {G} hospitals)", X, y, g, repeats, log)
    for sharing in ("shared", "offset"):
        block.fairmtl(f"fairmtl dual minimax ({sharing})", sharing=sharing,
                      objective="minimax", solver="dual")  # fmt: skip
    for sharing in ("shared", "offset"):
        block.fairmtl(f"fairmtl minimax ({sharing}, solver=auto)", sharing=sharing,
                      objective="minimax")  # fmt: skip
    if exact:
        ex = block.fairmtl("fairmtl exact minimax (shared, CLARABEL)", repeats=1,
                           sharing="shared", objective="minimax", solver="CLARABEL")  # fmt: skip
        _certify(block.rows[1], ex)
    for row in block.rows:
        row["n_rows"], row["n_groups"] = n, G
    return block.rows


def run(quick: bool, repeats: int = 3, smoke: bool = False, log=print) -> list[dict[str, Any]]:
    """Rows of the dual suite; see the module docstring."""
    rows: list[dict[str, Any]] = []
    if smoke:
        rows += _hospital_rows(3000, 4, repeats=1, log=log, exact=True)
        return rows + _regression_rows(3000, 4, repeats=1, log=log)
    X, y, g = _preprocessed(load_adult())
    label = f"adult ({len(y):,} rows x {X.shape[1]} features, {len(np.unique(g))} groups)"
    rows += _real_block(label, X, y, g, repeats=repeats, log=log, exact=True,
                        fairlearn=not quick, offset=not quick)  # fmt: skip
    rows += _regression_rows(30_000 if quick else 100_000, 10, repeats=repeats, log=log)
    if quick:
        return rows
    X, y, g = _preprocessed(load_census_kdd())
    label = f"census_kdd ({len(y):,} rows x {X.shape[1]} features, {len(np.unique(g))} groups)"
    rows += _real_block(label, X, y, g, repeats=1, log=log, exact=False, fairlearn=False,
                        offset=True)  # fmt: skip
    for n in (10_000, 100_000, 1_000_000):
        rows += _hospital_rows(n, 30, repeats=1, log=log, exact=n <= 10_000)
    for G in (2, 10, 50, 200, 500):
        rows += _hospital_rows(100_000, G, repeats=1, log=log, exact=False)
    return rows


def _find(rows: list[dict[str, Any]], dataset: str, method: str) -> dict[str, Any] | None:
    return next(
        (r for r in rows if r["dataset"].startswith(dataset) and r["method"].startswith(method)),
        None,
    )


def headline(rows: list[dict[str, Any]]) -> list[str]:
    """Headline sentences from this suite's rows (built when RESULTS.md is written)."""
    lines = []
    kdd = _find(rows, "census_kdd", "fairmtl dual minimax (shared)")
    kdd_offset = _find(rows, "census_kdd", "fairmtl dual minimax (offset)")
    if kdd and kdd_offset:
        lines.append(
            f"On Census KDD ({kdd['dataset'].split('(')[1].rstrip(')')}), the dual path's "
            f"minimax fit takes {kdd['ratio']:.2f}x one scikit-learn LogisticRegression fit "
            f"(offset sharing {kdd_offset['ratio']:.2f}x), certified "
            f"relative gap {kdd['relative_gap']:.1e}, peak memory {kdd['peak_mb']:.0f} MiB."
        )
    reduction = _find(rows, "adult", "fairmtl FairMTLReduction")
    expgrad = _find(rows, "adult", "fairlearn ExponentiatedGradient (BoundedGroupLoss")
    if reduction and expgrad:
        lines.append(
            f"The same every-group error bound on Adult (0-1 loss, LogisticRegression "
            f"oracle): FairMTLReduction {reduction['seconds']:.1f} s, fairlearn's "
            f"ExponentiatedGradient {expgrad['seconds']:.1f} s "
            f"(**{reduction['speedup_vs_expgrad']:.1f}x** faster; worst-group training "
            f"error {reduction['worst_error']:.3f} against {expgrad['worst_error']:.3f})."
        )
    big = [r for r in rows if r.get("n_rows") == 1_000_000 and "dual minimax" in r["method"]]
    many = [r for r in rows if r.get("n_groups") == 500 and "dual minimax" in r["method"]]
    gaps = [r["relative_gap"] for r in rows if r.get("relative_gap") is not None]
    if big and many and gaps:
        lines.append(
            "Dual-path minimax on 1,000,000 simulated rows (30 hospitals): "
            + ", ".join(
                f"{r['method'].split('(')[-1].rstrip(')')} {_seconds(r['seconds'])} "
                f"(peak {r['peak_mb']:.0f} MiB)"
                for r in big
            )  # fmt: skip
            + "; on 500 hospitals (100,000 rows): "
            + ", ".join(
                f"{r['method'].split('(')[-1].rstrip(')')} {_seconds(r['seconds'])}" for r in many
            )  # fmt: skip
            + f"; the largest certified relative gap of the suite is {max(gaps):.1e}."
        )
    auto = [r for r in rows if r.get("n_rows") == 1_000_000 and "solver=auto" in r["method"]]
    auto_many = _find(rows, "hospitals (100,000 rows, 500", "fairmtl minimax (shared, solver=auto")
    if auto:
        lines.append(
            'With solver="auto" (8 features, at most 400 parameters: SQP with exact Hessians, '
            "the dual path's smooth stages at this size) the same minimax fits take "
            + ", ".join(
                f"{r['method'].split('(')[-1].split(',')[0]} {r['seconds']:.1f} s "
                f"({r['ratio']:.0f}x one scikit-learn fit, peak {r['peak_mb']:.0f} MiB)"
                for r in auto
            )  # fmt: skip
            + (
                f"; shared on 500 hospitals {auto_many['seconds']:.2f} s "
                f"({auto_many['ratio']:.1f}x)"
                if auto_many
                else ""
            )
            + "."
        )
    return lines


def _seconds(s: float) -> str:
    return f"{s:.2g} s" if s < 10 else f"{s:.0f} s"
