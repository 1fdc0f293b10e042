"""How :class:`ClusteredMTL` chooses its number of clusters and each cluster's ``alpha``.

Both are chosen on held-out rows: K folds stratified by group (and class), or one
validation split. On each fold the whole clustering runs again on the fold's training
rows only (affinity, nested clusterings, one model per cluster), so that the held-out
rows never shape the clusters that predict them; every row is held out once and the
counts are compared on the pooled held-out losses. The clusters kept are then those of
the chosen count on all the rows, and each cluster's ``alpha`` is chosen on the same
folds restricted to its groups.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import is_classifier

from fairmtl.data import group_label_folds, train_val_test_split
from fairmtl.transfer._affinity import cluster_groups, task_affinity
from fairmtl.transfer._common import Data, fit_variant, row_losses

__all__ = ["Selection", "fittable", "members_of"]

#: validation criteria: the mean loss over rows, over groups, or the worst group's
CRITERIA = ("average", "balanced", "worst")


def members_of(clusters: pd.Series, c: int) -> tuple[str, ...]:
    """Sorted labels of the groups in cluster ``c``."""
    return tuple(sorted(str(g) for g in clusters.index[clusters.to_numpy() == c]))


def fittable(template: Any, y: np.ndarray) -> bool:
    """Whether a model can be fitted on targets ``y``: a classifier needs two classes."""
    return len(y) > 0 and (not is_classifier(template) or len(np.unique(y)) > 1)


def criteria(losses: np.ndarray, codes: np.ndarray) -> dict[str, float]:
    """The three criteria of per-row held-out ``losses`` of groups ``codes`` (rows held
    out; a group with no held-out row does not count)."""
    sums, counts = np.bincount(codes, weights=losses), np.bincount(codes)
    per_group = sums[counts > 0] / counts[counts > 0]
    return {
        "average": float(losses.mean()),
        "balanced": float(per_group.mean()),
        "worst": float(per_group.max()),
    }


@dataclass
class Selection:
    """Everything the choice needs: the template, the criterion, the alpha grid, data."""

    template: Any
    criterion: str
    grid: list[Any]
    data: Data
    weight: np.ndarray | None
    affinity: str
    method: str
    random_state: Any

    # -- folds -------------------------------------------------------------------------
    def folds(self, cv: int | None, val_size: float) -> list[tuple[np.ndarray, np.ndarray]]:
        """``cv`` folds stratified by group (and class); None: one split of ``val_size``.

        A group with fewer rows than folds is never held out (it stays in every fold's
        training rows), as the single split leaves a group too small to split in
        training.
        """
        data = self.data
        if cv is None:
            split = train_val_test_split(
                data.X, data.y, data.groups, val_size=val_size, test_size=0.0,
                random_state=self.random_state, min_per_split=2,
            )  # fmt: skip
            return [(split.train, split.val)]
        codes = data.codes()
        small = np.bincount(codes)[codes] < cv
        labels = data.y if is_classifier(self.template) else None
        big = np.flatnonzero(~small)
        folds = group_label_folds(
            codes[big], None if labels is None else labels[big], cv,
            random_state=0 if self.random_state is None else self.random_state,
        )  # fmt: skip
        kept = np.flatnonzero(small)
        return [(np.sort(np.r_[big[tr], kept]), big[va]) for tr, va in folds]

    # -- the count ---------------------------------------------------------------------
    def clusterings(self, rows: np.ndarray, candidates: list[int]):
        """Affinity of the groups on ``rows`` and its clustering for each count."""
        part = self.data.take(rows)
        w = None if self.weight is None else self.weight[rows]
        A = task_affinity(
            part.X, part.y, groups=part.groups, measure=self.affinity,
            estimator=self.template, sample_weight=w,
        )  # fmt: skip
        k_max = min(max(candidates), len(A))
        labelings = {
            k: cluster_groups(A, k, method=self.method, random_state=self.random_state)
            for k in candidates
            if k <= k_max
        }
        return A, labelings

    def count_table(self, folds, candidates: list[int]) -> pd.DataFrame:
        """One row per count: the criteria of its pooled held-out losses (each cluster of
        each fold at its best alpha on that fold); ``inf`` where a fold's cluster cannot
        be fitted (a classifier cluster whose training rows hold one class)."""
        n = len(self.data.y)
        losses = {k: np.full(n, np.nan) for k in candidates}
        failed = set()
        for train_rows, val_rows in folds:
            _, labelings = self.clusterings(train_rows, candidates)
            cache: dict[tuple, Any] = {}  # nested clusterings share clusters
            for k in candidates:
                clusters = labelings.get(k)
                for c in range(k if clusters is not None else 0):
                    members = members_of(clusters, c)
                    if members not in cache:
                        cache[members] = self._best_alpha(members, train_rows, val_rows)
                    if cache[members] is None:
                        failed.add(k)
                        break
                    rows, part = cache[members][1:]
                    losses[k][rows] = part
        held = np.concatenate([v for _, v in folds])
        codes = self.data.codes()[held]
        records = []
        for k in candidates:
            if k in failed or np.isnan(losses[k][held]).any():
                scores = dict.fromkeys(CRITERIA, np.inf)
            else:
                scores = criteria(losses[k][held], codes)
            records.append({"n_clusters": k, **scores})
        return pd.DataFrame(records)

    # -- alpha -------------------------------------------------------------------------
    def _fit_score(self, members, train_rows, val_rows, alpha):
        """Held-out rows of ``members`` in ``val_rows`` and their losses under the model
        fitted on their rows in ``train_rows``; None when it cannot be fitted."""
        data = self.data
        tr = train_rows[np.isin(data.groups[train_rows], members)]
        va = val_rows[np.isin(data.groups[val_rows], members)]
        if not fittable(self.template, data.y[tr]):
            return None
        w = None if self.weight is None else self.weight[tr]
        params = {} if alpha is None else {"alpha": alpha}
        model = fit_variant(self.template, data.take(tr), w, **params)
        return va, row_losses(model, data.take(va)) if va.size else np.empty(0)

    def _best_alpha(self, members, train_rows, val_rows):
        """``(alpha, held-out rows, their losses)`` of one cluster on one fold."""
        best = None
        for alpha in self.grid:
            fitted = self._fit_score(members, train_rows, val_rows, alpha)
            if fitted is None:
                return None
            va, part = fitted
            score = criteria(part, self.data.codes()[va])[self.criterion] if va.size else 0.0
            if best is None or score < best[0]:  # ties: the smaller (template) alpha
                best = (score, alpha, va, part)
        return best[1:]

    def cv_alpha(self, members: tuple[str, ...], folds) -> Any:
        """The alpha of the grid with the best pooled held-out criterion of one cluster."""
        if len(self.grid) == 1:
            return self.grid[0]
        best = None
        for alpha in self.grid:
            parts = [self._fit_score(members, tr, va, alpha) for tr, va in folds]
            if any(p is None for p in parts):
                return self.grid[0]
            rows = np.concatenate([p[0] for p in parts])
            if not rows.size:
                return self.grid[0]
            losses = np.concatenate([p[1] for p in parts])
            score = criteria(losses, self.data.codes()[rows])[self.criterion]
            if best is None or score < best[0]:  # ties: the smaller (template) alpha
                best = (score, alpha)
        return best[1]
