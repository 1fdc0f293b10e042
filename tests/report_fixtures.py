"""Schema-valid example results for the report's tests.

:func:`make_results` builds a plausible results dict (the format of
:mod:`fairmtl.report._schema`) without fitting anything: a sweep of fairmtl models that
trade overall accuracy for worst-group accuracy, plus the usual baselines.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

CRITERIA = [
    {"name": "overall_accuracy", "label": "Overall accuracy", "maximize": True},
    {"name": "worst_group_accuracy", "label": "Worst-group accuracy", "maximize": True},
    {
        "name": "demographic_parity_difference",
        "label": "Demographic parity difference",
        "maximize": False,
    },
    {"name": "worst_group_log_loss", "label": "Worst-group log loss", "maximize": False},
]

BASELINES = ["pooled", "independent", "ExponentiatedGradient", "ThresholdOptimizer"]


def _dominates(a: dict[str, float], b: dict[str, float]) -> bool:
    better = False
    for c in CRITERIA:
        x, y = a[c["name"]], b[c["name"]]
        if not c["maximize"]:
            x, y = -x, -y
        if x < y:
            return False
        better = better or x > y
    return better


def make_results(
    n_models: int = 12,
    n_groups: int = 5,
    *,
    seed: int = 0,
    group_names: Sequence[str] | None = None,
    target: str = "income",
    source: str = "adult.csv",
    task: str = "classification",
) -> dict[str, Any]:
    """Return a schema-valid results dict.

    Parameters
    ----------
    n_models : int, default=12
        Number of models, the baselines included (at least 2: pooled and one fairmtl).
    n_groups : int, default=5
        Number of groups; ignored when `group_names` is given.
    seed : int, default=0
        Seed of the random numbers.
    group_names : sequence of str, optional
        Names of the groups (e.g. hostile strings for the injection tests).
    target, source : str
        The target column and the data file name, shown in the report.
    task : {"classification", "regression"}, default="classification"
        Recorded in the results; the figures stay accuracy-like.

    Returns
    -------
    results : dict
    """
    rng = random.Random(seed)
    names = list(group_names) if group_names is not None else [f"g{i:03d}" for i in range(n_groups)]
    n_base = min(len(BASELINES), n_models - 1)
    baselines = BASELINES[:n_base]
    skill = {g: rng.uniform(0.62, 0.92) for g in names}
    sizes = {g: int(rng.lognormvariate(5.5, 1.0)) + 12 for g in names}
    threshold = 30  # test rows, as FrontierSearch's small_group_threshold

    models: list[dict[str, Any]] = []
    per_group: list[dict[str, Any]] = []
    group_acc: dict[str, dict[str, float]] = {}
    for k in range(n_models):
        if k < n_base:
            mid, method, source_kind = baselines[k], baselines[k], "baseline"
            tilt, params = rng.uniform(0.0, 0.6), {}
        else:
            j = k - n_base
            mid, method, source_kind = f"bounded-{j:02d}", "bounded", "fairmtl"
            tilt = (j + 0.5) / max(1, n_models - n_base)
            params = {"epsilon": round(0.75 - 0.2 * tilt, 4), "sharing": "offset"}
        accs = {}
        for g in names:
            # A larger tilt lifts weak groups and costs a little on strong ones.
            acc = skill[g] + tilt * (0.85 - skill[g]) * 0.5 + rng.gauss(0, 0.01)
            accs[g] = min(0.99, max(0.3, acc))
        group_acc[mid] = accs
        total = sum(sizes.values())
        overall = sum(accs[g] * sizes[g] for g in names) / total - 0.02 * tilt
        scores = {
            "overall_accuracy": overall,
            "worst_group_accuracy": min(accs.values()),
            "demographic_parity_difference": max(0.01, 0.2 - 0.15 * tilt + rng.gauss(0, 0.01)),
            "worst_group_log_loss": 0.25 + (1.0 - min(accs.values())),
        }
        val = {key: v + rng.gauss(0, 0.005) for key, v in scores.items()}
        solver_info = (
            {
                "status": "optimal",
                "solver": "CLARABEL",
                "time": rng.uniform(0.05, 2.0),
                "gap": 10 ** rng.uniform(-9, -5),
            }
            if source_kind == "fairmtl" or method == "pooled"
            else None
        )
        models.append(
            {
                "id": mid,
                "label": mid if source_kind == "baseline" else f"bounded eps={params['epsilon']}",
                "source": source_kind,
                "method": method,
                "params": params,
                "solver_info": solver_info,
                "scores": scores,
                "val_scores": val,
                "pareto": False,
                "pareto_frequency": None,
                "chosen": False,
                "harm": {"worse_than_pooled": [], "worse_than_own": []},
            }
        )
        for g in names:
            n = max(3, sizes[g] // 4)
            half = 1.96 * (accs[g] * (1 - accs[g]) / n) ** 0.5
            per_group.append(
                {
                    "model": mid,
                    "group": g,
                    "metric": "accuracy",
                    "value": accs[g],
                    "lo": max(0.0, accs[g] - half),
                    "hi": min(1.0, accs[g] + half),
                    "n": n,
                }
            )
            rate = min(0.9, max(0.05, 0.3 + rng.gauss(0, 0.08)))
            per_group.append(
                {
                    "model": mid,
                    "group": g,
                    "metric": "selection_rate",
                    "value": rate,
                    "lo": max(0.0, rate - 0.05),
                    "hi": min(1.0, rate + 0.05),
                    "n": n,
                }
            )

    for m in models:
        others = [o["scores"] for o in models if o is not m]
        m["pareto"] = not any(_dominates(o, m["scores"]) for o in others)
        m["pareto_frequency"] = round(
            rng.uniform(0.6, 1.0) if m["pareto"] else rng.uniform(0, 0.5), 2
        )
        accs = group_acc[m["id"]]
        m["harm"]["worse_than_pooled"] = [
            g for g in names if accs[g] < group_acc["pooled"][g] - 0.01
        ]
        if "independent" in group_acc:
            m["harm"]["worse_than_own"] = [
                g for g in names if accs[g] < group_acc["independent"][g] - 0.02
            ]
    most_accurate = max(models, key=lambda m: m["scores"]["overall_accuracy"])["id"]
    frontier = [m for m in models if m["pareto"] and m["source"] == "fairmtl"] or models[-1:]
    best_worst = max(m["scores"]["worst_group_accuracy"] for m in frontier)
    near = [m for m in frontier if m["scores"]["worst_group_accuracy"] >= best_worst - 0.01]
    chosen = max(near, key=lambda m: m["scores"]["overall_accuracy"])
    chosen["chosen"] = True

    groups = []
    for g in names:
        n_train = sizes[g]
        groups.append(
            {
                "name": g,
                "n_train": n_train,
                "n_val": max(2, n_train // 5),
                "n_test": max(3, n_train // 4),
                "base_rate": round(rng.uniform(0.1, 0.5), 4),
                "small": max(3, n_train // 4) < threshold,
            }
        )
    n_rows = sum(int(g["n_train"] + g["n_val"] + g["n_test"]) for g in groups)
    split = {k: sum(g[f"n_{k}"] for g in groups) for k in ("train", "val", "test")}
    return {
        "schema_version": 1,
        "title": "Frontier report: income by group",
        "created": "2024-05-01T12:00:00+00:00",
        "task": task,
        "target": target,
        "primary_metric": "accuracy",
        "criteria": [dict(c) for c in CRITERIA],
        "x_criterion": "overall_accuracy",
        "y_criterion": "worst_group_accuracy",
        "models": models,
        "per_group": per_group,
        "groups": groups,
        "chosen": chosen["id"],
        "most_accurate": most_accurate,
        "pooled": "pooled",
        "policy": "accuracy_within:0.01",
        "small_group_threshold": threshold,
        "data": {
            "source": source,
            "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "n_rows": n_rows + 7,
            "n_features": 5,
            "feature_names": ["age", "education", "hours_per_week", "occupation", target + "_lag"],
            "missing": {"occupation": 31, "age": 0},
            "rows_dropped": 7,
            "split": split,
        },
        "method": {
            "objective": "bounded",
            "sharing": "offset",
            "loss": "logistic",
            "sweep": {"epsilon": "auto", "n_points": n_models - n_base},
            "notes": ["Intervals are 95% bootstrap intervals over the test rows."],
        },
        "reproducibility": {
            "fairmtl_version": "0.1.0",
            "versions": {"python": "3.11.7", "numpy": "2.4.6", "cvxpy": "1.6.0"},
            "seed": seed,
            "command": f"fairmtl frontier {source} --target {target} --group race --group sex",
            "experiment": None,
        },
    }
