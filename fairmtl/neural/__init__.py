"""The neural path: group networks trained under a group objective.

The estimators :class:`~fairmtl.FairMTLMLPClassifier` and
:class:`~fairmtl.FairMTLMLPRegressor` train them; the pieces:

- :class:`GroupNetwork`: a shared MLP trunk with shared, per-group or offset heads;
- :func:`make_direction` and :class:`Direction`: how one training step combines the
  groups' losses (weightings, MGDA's min-norm point, cvxpy direction programs);
- :func:`fit_network`: the training loop (stratified minibatches, early stopping on a
  group metric), returning a :class:`NeuralFit` of plain arrays;
- :func:`network_outputs`: predictions of a :class:`NeuralFit` on new rows.

The directions need only numpy and cvxpy; everything else needs torch, which loads on
first use (importing fairmtl must not import torch).
"""

from fairmtl.neural._directions import DIRECTION_OBJECTIVES, Direction, make_direction
from fairmtl.neural._gradient_programs import PreferenceProgram, min_norm_weights

__all__ = [
    "DIRECTION_OBJECTIVES",
    "Direction",
    "GroupNetwork",
    "HEADS",
    "NeuralFit",
    "PreferenceProgram",
    "TrainConfig",
    "fit_network",
    "make_direction",
    "min_norm_weights",
    "network_outputs",
]

# name -> the module that defines it, loaded on first use (most of them import torch)
_TORCH_NAMES = {
    "GroupNetwork": "_network",
    "HEADS": "_network",
    "NeuralFit": "_config",
    "TrainConfig": "_config",
    "fit_network": "_training",
    "network_outputs": "_outputs",
}


def __getattr__(name: str):
    if name in _TORCH_NAMES:
        import importlib

        return getattr(importlib.import_module(f"fairmtl.neural.{_TORCH_NAMES[name]}"), name)
    raise AttributeError(f"module 'fairmtl.neural' has no attribute {name!r}")
