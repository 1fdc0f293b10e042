"""fairmtl: group-as-task models under minimax and Pareto constraints.

Each group (hospital, demographic group, region) is a task of a multi-task problem.
fairmtl fits shared models under minimax objectives and Pareto constraints, solves the
convex problems exactly with cvxpy, sweeps the trade-off and writes frontier reports.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

__all__ = [
    "FairMTLClassifier",
    "FairMTLMLPClassifier",
    "FairMTLMLPRegressor",
    "FairMTLReduction",
    "FairMTLRegressor",
    "FrontierSearch",
    "__version__",
]

# Public names load lazily so that `import fairmtl.datasets` or the CLI's --help
# do not pay for cvxpy and scikit-learn imports they do not need.
_LAZY = {
    "FairMTLClassifier": "fairmtl.estimators",
    "FairMTLRegressor": "fairmtl.estimators",
    "FairMTLMLPClassifier": "fairmtl.estimators",
    "FairMTLMLPRegressor": "fairmtl.estimators",
    "FairMTLReduction": "fairmtl.estimators",
    "FrontierSearch": "fairmtl.frontier",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'fairmtl' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
