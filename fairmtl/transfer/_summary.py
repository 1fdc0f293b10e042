"""The transfer summary: gain from sharing, affinity, clusters and a one-line reading.

Everything returned is plain data (str, int, float, bool, list, dict) that ``json.dumps``
accepts, so that a report or the CLI can show it without refitting.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import is_classifier

from fairmtl.exceptions import DataValidationError
from fairmtl.transfer._affinity import cluster_groups, leaf_order, task_affinity
from fairmtl.transfer._common import check_data, default_estimator, split_data
from fairmtl.transfer._gain import gain_from_sharing

__all__ = ["SUMMARY_VERSION", "group_alignment", "reading", "transfer_summary"]

SUMMARY_VERSION = 1
#: Groups with fewer held-out rows than this are shown but never judged hurt or gaining.
MIN_TEST_ROWS = 30


def group_alignment(affinity: pd.DataFrame, n_neighbors: int = 3) -> pd.Series:
    """Each group's mean affinity with its ``n_neighbors`` most affine other groups.

    Parameters
    ----------
    affinity : pandas.DataFrame of shape (n_groups, n_groups)
    n_neighbors : int, default=3
        Capped at ``n_groups - 1``.

    Returns
    -------
    alignment : pandas.Series
        High when a group has close partners; low when it agrees with no other group.
    """
    A = affinity.to_numpy(dtype=float).copy()
    np.fill_diagonal(A, -np.inf)
    m = max(1, min(int(n_neighbors), len(A) - 1))
    top = -np.sort(-A, axis=1)[:, :m]
    return pd.Series(top.mean(axis=1), index=affinity.index, name="alignment")


def _names(groups: Sequence[str], limit: int = 5) -> str:
    groups = list(groups)
    if len(groups) > limit:
        return ", ".join(groups[:limit]) + f" and {len(groups) - limit} more"
    if len(groups) == 1:
        return groups[0]
    return ", ".join(groups[:-1]) + " and " + groups[-1]


def reading(
    hurt: Sequence[str],
    misaligned: Sequence[str],
    *,
    scheme: str,
    n_groups: int,
    n_clusters: int = 1,
    rule: str = "alignment",
    small: Sequence[str] = (),
    min_test_rows: int = MIN_TEST_ROWS,
) -> str:
    """The one-line reading of a summary (see :func:`transfer_summary`).

    Parameters
    ----------
    hurt : sequence of str
        Groups hurt by ``scheme`` pooling (interval of the gain below 0).
    misaligned : sequence of str
        Groups found misaligned under ``rule``.
    scheme : str
        The pooled scheme ``hurt`` refers to.
    n_groups, n_clusters : int
    rule : {"alignment", "cluster"}, default="alignment"
        How ``misaligned`` was found: low alignment, or hurt by pooling within clusters.
    small : sequence of str, default=()
        Groups with fewer than ``min_test_rows`` held-out rows: too few to judge, so
        left out of ``hurt`` and named as such.
    min_test_rows : int, default=30

    Returns
    -------
    line : str

    Examples
    --------
    >>> reading(["h07", "h12", "h19"], ["h07", "h12", "h19"], scheme="offset", n_groups=20)
    'h07, h12 and h19 lose from offset pooling; their data are misaligned with the rest.'
    """
    hurt, misaligned, small = list(hurt), list(misaligned), list(small)
    if hurt:
        line = f"{_names(hurt)} {'loses' if len(hurt) == 1 else 'lose'} from {scheme} pooling"
    elif small:
        judged = n_groups - len(small)
        line = (
            f"No group of {judged} with at least {min_test_rows} test rows loses from "
            f"{scheme} pooling"
        )
    else:
        line = f"No group of {n_groups} loses from {scheme} pooling"
    if misaligned:
        if set(misaligned) == set(hurt):
            owner = "its" if len(hurt) == 1 else "their"
            line += f"; {owner} data are misaligned with the rest"
        else:
            verb = "is" if len(misaligned) == 1 else "are"
            line += f"; {_names(misaligned)} {verb} misaligned with the rest"
        if rule == "cluster":
            where = (
                f"within the {n_clusters} clusters of aligned groups"
                if n_clusters > 1
                else "within one cluster"
            )
            line += f" (hurt even by pooling only {where})"
    elif rule == "cluster" and n_clusters > 1:
        line += f"; pooling within the {n_clusters} clusters of aligned groups hurts none"
    if small:
        few = "group has" if len(small) == 1 else "groups have"
        line += (
            f". {len(small)} {few} fewer than {min_test_rows} test rows, too few to judge "
            f"({_names(small, 3)})"
        )
    return line + "."


def _plain(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _where(gain: pd.DataFrame, scheme: str, verdict: str) -> list[str]:
    """Groups of ``scheme`` with ``verdict``, the largest effect first."""
    part = gain[(gain["scheme"] == scheme) & (gain["verdict"] == verdict)]
    part = part.sort_values("gain", ascending=verdict == "hurt", kind="stable")
    return [str(g) for g in part["group"]]


def transfer_summary(
    X: Any,
    y: Any,
    *,
    groups: Any,
    estimator: Any = None,
    measure: str = "coefficient",
    schemes: Sequence[str] = ("offset", "shared", "clustered"),
    n_clusters: int | None = None,
    X_test: Any = None,
    y_test: Any = None,
    groups_test: Any = None,
    test_size: float = 0.3,
    n_boot: int = 200,
    confidence: float = 0.95,
    n_neighbors: int = 3,
    misaligned_ratio: float = 0.5,
    min_test_rows: int = MIN_TEST_ROWS,
    random_state: Any = None,
) -> dict[str, Any]:
    """Who gains from pooling, who is hurt, which groups agree: one plain-data dict.

    Runs :func:`gain_from_sharing` (``schemes``) and :func:`task_affinity` (``measure``)
    on the same training rows, clusters the groups (:func:`cluster_groups`), scores each
    group's alignment (:func:`group_alignment`) and writes a one-line reading.

    Parameters
    ----------
    X, y, groups, estimator, X_test, y_test, groups_test, test_size, n_boot, confidence, \
random_state
        As in :func:`gain_from_sharing`.
    measure : str, default="coefficient"
        Affinity measure of :func:`task_affinity`.
    schemes : sequence of str, default=("offset", "shared", "clustered")
        Pooled schemes compared with ``independent``; the first is the one the reading
        names ("lose from offset pooling").
    n_clusters : int, default=None
        Cluster count; None: chosen by silhouette (:func:`cluster_groups`).
    n_neighbors : int, default=3
        Neighbours averaged by :func:`group_alignment`.
    misaligned_ratio : float, default=0.5
        Without ``"clustered"`` in ``schemes``, a group is *misaligned* when its
        alignment is below ``misaligned_ratio`` times the median alignment (a heuristic;
        with few rows per group, noisy fits blur it). With ``"clustered"``, a group is
        misaligned when pooling it only with its own cluster still hurts it (interval
        below 0): a measured, not a heuristic, reading, used first.
    min_test_rows : int, default=30
        Groups with fewer held-out rows are listed in ``small_groups`` and never judged:
        they are left out of ``hurt``, ``gains`` and (under the cluster rule)
        ``misaligned``, since a bootstrap of a handful of rows is far too narrow.

    Returns
    -------
    summary : dict
        ``version`` (int), ``task`` ("classification" or "regression"), ``loss`` (the
        held-out loss: "log_loss", "squared_error" or "error_rate"), ``confidence``,
        ``n_boot``, ``reference`` (first scheme), ``schemes`` (list);
        ``groups``: one dict per group (sorted) with ``group``, ``n_train``, ``n_test``,
        ``cluster``, ``alignment``, ``misaligned`` and ``gain``, a dict scheme ->
        ``{"independent", "pooled", "gain", "lo", "hi", "verdict"}``;
        ``affinity``: ``{"measure", "range": [lo, hi], "labels": [...] (dendrogram
        order), "matrix": [[...]] (rows and columns in that order), "clusters": {group:
        id}, "n_clusters", "silhouette": {k: score}}``;
        ``hurt`` and ``gains``: dicts scheme -> list of groups whose interval lies below
        / above 0; ``misaligned``: list of groups and ``misaligned_rule`` (``"cluster"``
        or ``"alignment"``, see ``misaligned_ratio``); ``reading``: one line of text.
        Floats that are not finite become None.

    Examples
    --------
    >>> from fairmtl.datasets import make_hospitals
    >>> from fairmtl.transfer import transfer_summary
    >>> data = make_hospitals(6, n_samples=1200, task="regression", random_state=0)
    >>> s = transfer_summary(data.data, data.target, groups=data.groups,
    ...                      schemes=["offset"], n_boot=50, random_state=0)
    >>> sorted(s)[:4], isinstance(s["reading"], str)
    (['affinity', 'confidence', 'gains', 'groups'], True)
    """
    if not 0 < misaligned_ratio < 1:
        raise DataValidationError(
            f"misaligned_ratio must be a float in (0, 1). Got {misaligned_ratio!r} instead."
        )
    schemes = [schemes] if isinstance(schemes, str) else list(schemes)
    data = check_data(X, y, groups)
    template = default_estimator(data.y, estimator)
    train, held = split_data(
        data, (X_test, y_test, groups_test), test_size=test_size, random_state=random_state
    )
    affinity = task_affinity(
        train.X, train.y, groups=train.groups, measure=measure, estimator=template
    )
    clusters = cluster_groups(affinity, n_clusters)
    gain = gain_from_sharing(
        train.X,
        train.y,
        groups=train.groups,
        estimator=template,
        schemes=schemes,
        clusters=clusters,
        X_test=held.X,
        y_test=held.y,
        groups_test=held.groups,
        n_boot=n_boot,
        confidence=confidence,
        random_state=random_state,
    )
    alignment = group_alignment(affinity, n_neighbors)
    n_test = gain.groupby("group")["n_test"].first()
    small = sorted(str(g) for g, n in n_test.items() if n < min_test_rows)
    hurt = {s: [g for g in _where(gain, s, "hurt") if g not in small] for s in schemes}
    gains = {s: [g for g in _where(gain, s, "gains") if g not in small] for s in schemes}
    if "clustered" in schemes:
        rule, misaligned = "cluster", hurt["clustered"]
    else:
        rule = "alignment"
        misaligned = alignment.index[alignment < misaligned_ratio * alignment.median()].tolist()
    order = leaf_order(affinity)
    n_train = pd.Series(train.groups).value_counts()
    rows = []
    for name in affinity.index:
        part = gain[gain.group == name].set_index("scheme")
        rows.append(
            {
                "group": str(name),
                "n_train": int(n_train.get(name, 0)),
                "n_test": int(part["n_test"].iloc[0]) if len(part) else 0,
                "cluster": int(clusters[name]),
                "alignment": _plain(alignment[name]),
                "misaligned": bool(name in misaligned),
                "gain": {
                    s: {
                        k: _plain(part.loc[s, k])
                        for k in ("independent", "pooled", "gain", "lo", "hi", "verdict")
                    }
                    for s in part.index
                },
            }
        )
    matrix = affinity.loc[order, order].to_numpy()
    return {
        "version": SUMMARY_VERSION,
        "task": "classification" if is_classifier(template) else "regression",
        "loss": gain.attrs["loss"],
        "confidence": float(confidence),
        "n_boot": int(n_boot),
        "reference": schemes[0],
        "schemes": schemes,
        "groups": rows,
        "affinity": {
            "measure": measure,
            "range": list(affinity.attrs["range"]),
            "labels": order,
            "matrix": [[float(v) for v in row] for row in matrix],
            "clusters": {str(g): int(c) for g, c in clusters.items()},
            "n_clusters": int(clusters.attrs["n_clusters"]),
            "silhouette": {
                int(k): float(v) for k, v in clusters.attrs.get("silhouette", {}).items()
            },
        },
        "hurt": hurt,
        "gains": gains,
        "misaligned": [str(g) for g in misaligned],
        "misaligned_rule": rule,
        "small_groups": small,
        "min_test_rows": int(min_test_rows),
        "reading": reading(
            hurt[schemes[0]],
            misaligned,
            scheme=schemes[0],
            n_groups=len(affinity),
            n_clusters=int(clusters.attrs["n_clusters"]),
            rule=rule,
            small=small,
            min_test_rows=min_test_rows,
        ),
    }
