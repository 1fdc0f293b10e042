"""Frontier search: sweeps, honest evaluation, Pareto sets, policies and baselines."""

from fairmtl.frontier._pareto import (
    hypervolume,
    knee_point,
    pareto_mask,
    robust_pareto_frequency,
    select,
    select_best_worst_within,
    select_most_accurate_within,
)
from fairmtl.frontier._predictors import FrontierModel
from fairmtl.frontier._search import DEFAULT_SWEEP, FrontierSearch
from fairmtl.frontier._sweep import preference_points

__all__ = [
    "DEFAULT_SWEEP",
    "FrontierModel",
    "FrontierSearch",
    "hypervolume",
    "knee_point",
    "pareto_mask",
    "preference_points",
    "robust_pareto_frequency",
    "select",
    "select_best_worst_within",
    "select_most_accurate_within",
]
