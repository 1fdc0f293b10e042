"""Out-of-fold scores of a sweep's settings, for a choice on all non-test rows (``cv``)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from fairmtl.data import group_label_folds
from fairmtl.exceptions import FairMTLWarning, InfeasibleError
from fairmtl.frontier._evaluate import Evaluation, evaluate
from fairmtl.frontier._parallel import fit_settings
from fairmtl.frontier._records import Fitted, SplitData
from fairmtl.metrics import METRICS

__all__ = ["cross_validate"]


def cross_validate(
    template,
    fitted: list[Fitted],
    rows: SplitData,
    metrics: list[str],
    *,
    cv: int,
    task: str,
    classes: np.ndarray | None,
    min_rows: int,
    random_state,
    n_jobs: int | None = 1,
) -> None:
    """Replace each sweep model's validation scores by out-of-fold scores.

    Every setting is refitted on each fold's training rows of ``rows`` (train and
    validation together; folds stratified by group and class) and scored on the rows
    out of fold. A setting infeasible on some fold gets the worst primary score: it is
    never chosen. Baselines keep their validation scores.
    """
    X, y, g, w = rows.X, rows.y, rows.groups, rows.weights
    codes = pd.factorize(g)[0]
    folds = group_label_folds(codes, y if task != "regression" else None, cv, random_state)
    ours = [f for f in fitted if f.source == "fairmtl"]
    out = [_OutOfFold(len(y)) for _ in ours]
    for train, test in folds:
        fits = fit_settings(
            template,
            [f.setting for f in ours],
            X[train],
            y[train],
            g[train],
            None if w is None else w[train],
            n_jobs=n_jobs,
        )
        for fit, oof in zip(fits, out, strict=True):
            if isinstance(fit, InfeasibleError):
                oof.feasible = False
                continue
            with warnings.catch_warnings():  # a tiny group absent from a fold's training
                warnings.simplefilter("ignore", FairMTLWarning)
                oof.add(fit, X, g, test, task)
    common = dict(
        task=task, metrics=metrics, primary=metrics[0], classes=classes, min_rows=min_rows
    )
    greater = METRICS[metrics[0]].greater_is_better
    for f, oof in zip(ours, out, strict=True):
        if oof.feasible:
            as_fitted = Fitted(f.label, f.source, f.method, oof, f.params, setting=f.setting)
            f.val = evaluate(as_fitted, X, y, g, sample_weight=w, **common)
        else:  # infeasible on some fold: never chosen
            worst = -np.inf if greater else np.inf
            f.val = Evaluation(
                pd.DataFrame(),
                {f"overall_{metrics[0]}": worst, f"worst_group_{metrics[0]}": worst},
            )


class _OutOfFold:
    """Out-of-fold predictions of one setting, answered like a fitted model's.

    Only for scoring the rows the folds were cut from, in their order (``cv``).
    """

    def __init__(self, n: int) -> None:
        self.n, self.feasible = n, True
        self.pred: np.ndarray | None = None
        self.proba: np.ndarray | None = None

    def add(self, model, X, groups, rows, task: str) -> None:
        pred = model.predict(X[rows], groups=groups[rows])
        if self.pred is None:
            self.pred = np.empty(self.n, dtype=pred.dtype)
        self.pred[rows] = pred
        if task != "regression" and hasattr(model, "predict_proba"):
            proba = model.predict_proba(X[rows], groups=groups[rows])
            if self.proba is None:
                self.proba = np.empty((self.n, proba.shape[1]))
            self.proba[rows] = proba

    def predict(self, X, groups=None) -> np.ndarray:
        return self.pred

    def predict_proba(self, X, groups=None) -> np.ndarray | None:
        return self.proba
