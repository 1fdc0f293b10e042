"""Convex suite: exact minimax / bounded fits against scikit-learn and cvxpy called directly.

Every comparison is a ratio measured in the same run on the same preprocessed data.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import cvxpy as cp
import numpy as np
from sklearn.linear_model import LogisticRegression

from fairmtl import FairMTLClassifier
from fairmtl.data import make_preprocessor
from fairmtl.datasets import load_adult, load_census_kdd

ALPHA = 1e-4


def _median_time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def _data(name: str, n_samples: int | None):
    if name == "adult":
        bunch = load_adult()
        if n_samples:
            bunch.data = bunch.data.sample(n_samples, random_state=0)
    else:
        bunch = load_census_kdd(n_samples=n_samples, random_state=0)
    X = bunch.data
    y = bunch.target.loc[X.index].to_numpy()
    g = bunch.groups.loc[X.index].to_numpy()
    Xn = make_preprocessor(X).fit_transform(X)
    return np.asarray(Xn, dtype=float), y, g


def _cvxpy_direct_minimax(X, y, g) -> float:
    """The textbook formulation, as a user would write it: min t s.t. L_g <= t."""
    w, b, t = cp.Variable(X.shape[1]), cp.Variable(), cp.Variable()
    ys = np.where(y == 1, 1.0, -1.0)
    cons = []
    for label in np.unique(g):
        rows = g == label
        loss = cp.sum(cp.logistic(-cp.multiply(ys[rows], X[rows] @ w + b))) / rows.sum()
        cons.append(loss <= t)
    problem = cp.Problem(cp.Minimize(t + ALPHA * cp.sum_squares(w)), cons)
    problem.solve(solver="CLARABEL")
    return float(problem.value)


def run(datasets: list[tuple[str, int | None]], repeats: int) -> list[dict[str, Any]]:
    """Time each method on each dataset; ratios are against scikit-learn's pooled fit."""
    rows: list[dict[str, Any]] = []
    for name, n in datasets:
        rows += _one_dataset(name, n, repeats)
    return rows


def _one_dataset(name: str, n: int | None, repeats: int) -> list[dict[str, Any]]:
    rows = []
    X, y, g = _data(name, n)
    label = f"{name} ({len(y):,} rows x {X.shape[1]} features, {len(np.unique(g))} groups)"
    C = 1.0 / (2 * ALPHA * len(y))
    base, _ = _median_time(lambda: LogisticRegression(C=C, max_iter=5000).fit(X, y), repeats)
    methods: dict[str, Callable[[], Any]] = {
        "fairmtl shared average": lambda: FairMTLClassifier(
            "shared", objective="average", alpha=ALPHA
        ).fit(X, y, groups=g),
        "fairmtl offset minimax": lambda: FairMTLClassifier(
            "offset", objective="minimax", alpha=ALPHA
        ).fit(X, y, groups=g),
        "fairmtl shared minimax": lambda: FairMTLClassifier(
            "shared", objective="minimax", alpha=ALPHA
        ).fit(X, y, groups=g),
    }
    rows.append(
        {
            "dataset": label,
            "method": "scikit-learn LogisticRegression (pooled)",
            "seconds": base,
            "ratio": 1.0,
            "status": "lbfgs",
        }
    )
    minimax_loss = None
    for method, fn in methods.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            seconds, fit = _median_time(fn, repeats)
        if method == "fairmtl shared minimax":
            minimax_loss = float(fit.group_losses_.max())
        rows.append(
            {
                "dataset": label,
                "method": method,
                "seconds": seconds,
                "ratio": seconds / base,
                "status": fit.solver_info_["status"],
            }
        )
    average = FairMTLClassifier("shared", objective="average", alpha=ALPHA).fit(X, y, groups=g)
    eps = 0.5 * (minimax_loss + float(average.group_losses_.max()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seconds, fit = _median_time(
            lambda: FairMTLClassifier("shared", objective="bounded", epsilon=eps, alpha=ALPHA).fit(
                X, y, groups=g
            ),
            repeats,
        )
    rows.append(
        {
            "dataset": label,
            "method": f"fairmtl shared bounded (eps={eps:.4f})",
            "seconds": seconds,
            "ratio": seconds / base,
            "status": fit.solver_info_["status"],
        }
    )
    seconds, _ = _median_time(lambda: _cvxpy_direct_minimax(X, y, g), 1)
    rows.append(
        {
            "dataset": label,
            "method": "cvxpy direct minimax (CLARABEL, 1 run)",
            "seconds": seconds,
            "ratio": seconds / base,
            "status": "-",
        }
    )
    return rows
