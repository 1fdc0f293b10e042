"""Settings of a neural fit: :class:`TrainConfig` from an estimator's parameters, the
trained network as plain data (:class:`NeuralFit`), and the device to train on.

Plain Python: torch is imported only to resolve ``device="auto"``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from fairmtl._optional import import_optional

FEATURE = "The neural path (FairMTLMLPClassifier, FairMTLMLPRegressor)"

__all__ = [
    "FEATURE",
    "GROUP_GRADIENTS",
    "HEADS_FROM_SHARING",
    "NeuralFit",
    "TrainConfig",
    "VALIDATION_METRICS",
    "config_from_params",
    "resolve_device",
]

GROUP_GRADIENTS = ("vmap", "loop", "representation")
VALIDATION_METRICS = ("worst_group_loss", "balanced_loss", "average_loss")


@dataclass
class TrainConfig:
    """Settings of one neural fit (the estimator's parameters, resolved)."""

    objective: str = "minimax"
    direction: str = "auto"
    epsilon: Any = None
    tilt: float | None = None
    preference: Any = None
    hidden_layer_sizes: Sequence[int] = (64, 64)
    heads: str = "per_group"
    dropout: float = 0.0
    weight_decay: float = 1e-4
    sharing_strength: float = 1.0
    categorical_features: Sequence[int] = ()
    max_epochs: int = 200
    batch_size: int = 256
    learning_rate: float = 1e-3
    lr_schedule: str = "cosine"
    early_stopping: bool | str | Callable = True
    validation_fraction: float = 0.2
    n_iter_no_change: int = 20
    tol: float = 1e-4
    dual_step_size: float = 0.01
    group_gradients: str = "vmap"
    device: str = "auto"
    verbose: int = 0
    random_state: Any = None
    group_names: Sequence[str] | None = None


@dataclass
class NeuralFit:
    """A trained network as plain data: how to rebuild it, its weights, and its training."""

    spec: dict[str, Any]
    state: dict[str, np.ndarray]
    group_losses: np.ndarray
    history: list[dict[str, Any]] = field(default_factory=list)
    solver_info: dict[str, Any] = field(default_factory=dict)
    validation: np.ndarray | None = None  #: mask of the rows held out for early stopping


#: the heads that ``heads="auto"`` of the deprecated ``model="mlp"`` spelling takes
HEADS_FROM_SHARING = {
    "shared": "shared",
    "offset": "offset",
    "independent": "per_group",
    "lowrank": "per_group",
}


def config_from_params(
    params: dict[str, Any], *, feature_names=None, group_names=None
) -> TrainConfig:
    """A :class:`TrainConfig` from an estimator's ``get_params()``.

    ``heads="auto"`` follows ``sharing``; ``categorical_features`` may name columns of
    ``feature_names`` (the DataFrame X's columns) or give their positions.
    """
    known = {f.name for f in fields(TrainConfig)}
    values = {k: v for k, v in params.items() if k in known}
    if values.get("heads", "auto") == "auto":
        values["heads"] = HEADS_FROM_SHARING[params.get("sharing", "offset")]
    sizes = values.get("hidden_layer_sizes", ())
    values["hidden_layer_sizes"] = (sizes,) if np.isscalar(sizes) else tuple(sizes)
    columns = []
    for col in params.get("categorical_features") or ():
        if isinstance(col, str):
            names = [] if feature_names is None else [str(n) for n in feature_names]
            if col not in names:
                raise ValueError(
                    f"categorical_features names {col!r}, which is not a feature of X."
                )
            col = names.index(col)
        columns.append(int(col))
    values["categorical_features"] = tuple(columns)
    values["group_names"] = None if group_names is None else [str(g) for g in group_names]
    return TrainConfig(**values)


def resolve_device(device: str) -> str:
    """``"auto"``: CUDA if available, else Apple MPS, else CPU."""
    if device != "auto":
        return device
    torch = import_optional("torch", FEATURE)
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    return "mps" if mps is not None and mps.is_available() else "cpu"
