"""How :class:`ClusteredMTL` chooses its number of clusters and each cluster's ``alpha``.

Both are chosen on held-out rows: K folds stratified by group (and class), or one
validation split. On each fold the whole clustering runs again on the fold's training
rows only (affinity, nested clusterings, one model per cluster), so that the held-out
rows never shape the clusters that predict them; every row is held out once and the
counts are compared on the pooled held-out losses. The clusters kept are then those of
the chosen count on all the rows, and each cluster's ``alpha`` is chosen on the same
folds restricted to its groups.

Counts whose mean criterion is within the noise of the best (:func:`near_best`: the
paired standard error of the difference on the same held-out rows) are tied; of those,
the one whose worst group fares best (the estimators' ``shrunk_worst`` rule) is kept.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import is_classifier

from fairmtl.data import group_label_folds, train_val_test_split
from fairmtl.estimators._selection import heldout_group_stats, shrinkage_weights, shrunk_worst
from fairmtl.transfer._affinity import cluster_groups, task_affinity
from fairmtl.transfer._common import Data, fit_variant, row_losses

__all__ = ["Selection", "cluster_strength", "fittable", "members_of", "near_best"]

#: validation criteria: the mean loss over rows, over groups, the worst group's, or the
#: worst group's shrunk by its noise (the estimators' rule)
CRITERIA = ("average", "balanced", "worst", "shrunk_worst")


def members_of(clusters: pd.Series, c: int) -> tuple[str, ...]:
    """Sorted labels of the groups in cluster ``c``."""
    return tuple(sorted(str(g) for g in clusters.index[clusters.to_numpy() == c]))


def cluster_strength(strength: Any, n_members: int, n_groups: int) -> Any:
    """A cluster's ``sharing_strength``: a number scaled by its share of the groups.

    The estimators state ``sharing_strength`` per group of average size, so the same
    number would couple the few groups of a small cluster far more tightly than the
    template couples all ``n_groups``; "auto" (or None) is passed on unchanged.
    """
    if isinstance(strength, numbers.Real) and not isinstance(strength, bool):
        return float(strength) * n_members / n_groups
    return strength


def fittable(template: Any, y: np.ndarray) -> bool:
    """Whether a model can be fitted on targets ``y``: a classifier needs two classes."""
    return len(y) > 0 and (not is_classifier(template) or len(np.unique(y)) > 1)


def criteria_table(candidates: list[np.ndarray | None], codes: np.ndarray) -> pd.DataFrame:
    """The criteria of each candidate's per-row held-out losses (None: it could not be
    fitted, every criterion ``inf``) of the rows of groups ``codes``.

    ``average`` (over rows), ``balanced`` (mean of the group means), ``worst`` (largest
    group mean) and ``shrunk_worst``: the estimators' selection rule
    (:mod:`fairmtl.estimators._selection`), the largest group mean after shrinking each
    towards the overall mean by its share of noise, with the same shrinkage for every
    candidate. A group with no held-out row does not count.
    """
    present = np.flatnonzero(np.bincount(codes) > 0)
    codes = np.searchsorted(present, codes)
    G = len(present)
    ones = np.ones(len(codes))
    stats = [None if c is None else heldout_group_stats(c, codes, ones, G) for c in candidates]
    ok = [st for st in stats if st is not None]
    if ok:
        keep = shrinkage_weights(np.array([st[1] for st in ok]), np.array([st[2] for st in ok]))
    records = []
    for st in stats:
        if st is None:
            records.append(dict.fromkeys(CRITERIA, np.inf))
            continue
        overall, means, _ = st
        records.append(
            {
                "average": overall,
                "balanced": float(means.mean()),
                "worst": float(means.max()),
                "shrunk_worst": shrunk_worst(overall, means, keep),
            }
        )
    return pd.DataFrame(records, columns=list(CRITERIA))


def near_best(
    candidates: list[np.ndarray | None], codes: np.ndarray, criterion: str, best: int, z: float
) -> np.ndarray:
    """Which candidates' held-out criterion is within ``z`` standard errors of ``best``'s.

    The candidates are scored on the same held-out rows, so the standard error is that
    of their paired per-row differences from the best: over rows for ``"average"``; for
    ``"balanced"`` (the mean of the group means) ``sqrt(sum_g se_g**2) / G`` with
    ``se_g`` the standard error of group g's mean difference. The worst-group criteria
    have no such band: only ``best`` is returned. None (could not be fitted): never.
    """
    out = np.zeros(len(candidates), dtype=bool)
    out[best] = True
    if criterion not in ("average", "balanced") or z <= 0 or candidates[best] is None:
        return out
    present = np.flatnonzero(np.bincount(codes) > 0)
    codes = np.searchsorted(present, codes)
    ones = np.ones(len(codes))
    for i, c in enumerate(candidates):
        if c is None or i == best:
            continue
        diff = c - candidates[best]
        if criterion == "average":
            gap, se = diff.mean(), diff.std(ddof=1) / np.sqrt(len(diff))
        else:
            _, means, se2 = heldout_group_stats(diff, codes, ones, len(present))
            gap, se = means.mean(), np.sqrt(se2.sum()) / len(present)
        out[i] = gap <= z * se
    return out


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

    @property
    def n_groups(self) -> int:
        return len(self.data.names)

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

    def count_table(self, folds, candidates: list[int]):
        """One row per count: the criteria of its pooled held-out losses; ``inf`` where a
        fold's cluster cannot be fitted (a classifier cluster whose training rows hold
        one class). Also returns each count's per-row held-out losses (None: not fitted)
        and the rows' group codes, in the order of the pooled held-out rows.

        Every cluster model here has the template's ``alpha``. Giving each cluster the
        alpha that scores best on the very rows that then score the count would make the
        score optimistic by a minimum over the grid per cluster, so the more clusters, the
        more optimistic: it favours splitting a cluster. The alphas are chosen after the
        count (:meth:`cv_alpha`), on the clusters kept.
        """
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
                    if members not in cache:  # at the template's alpha (see above)
                        cache[members] = self._fit_score(members, train_rows, val_rows, None)
                    if cache[members] is None:
                        failed.add(k)
                        break
                    rows, part = cache[members]
                    losses[k][rows] = part
        held = np.concatenate([v for _, v in folds])
        pooled = [None if k in failed or np.isnan(losses[k][held]).any() else losses[k][held]
                  for k in candidates]  # fmt: skip
        codes = self.data.codes()[held]
        table = criteria_table(pooled, codes)
        table.insert(0, "n_clusters", candidates)
        return table, pooled, codes

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
        # the coupling of the final model of these groups (fit_per_cluster)
        strength = self.template.get_params().get("sharing_strength")
        params = (
            {}
            if strength is None
            else {"sharing_strength": cluster_strength(strength, len(members), self.n_groups)}
        )
        if alpha is not None:
            params["alpha"] = alpha
        model = fit_variant(self.template, data.take(tr), w, **params)
        return va, row_losses(model, data.take(va)) if va.size else np.empty(0)

    def cv_alpha(self, members: tuple[str, ...], folds) -> Any:
        """The alpha of the grid with the best pooled held-out criterion of one cluster
        (ties: the first, the template's under "auto")."""
        if len(self.grid) == 1:
            return self.grid[0]
        candidates, rows = [], None
        for alpha in self.grid:
            parts = [self._fit_score(members, tr, va, alpha) for tr, va in folds]
            if any(p is None for p in parts):
                candidates.append(None)
                continue
            rows = np.concatenate([p[0] for p in parts])
            candidates.append(np.concatenate([p[1] for p in parts]))
        if rows is None or not rows.size:
            return self.grid[0]
        table = criteria_table(candidates, self.data.codes()[rows])
        return self.grid[int(table[self.criterion].to_numpy().argmin())]
