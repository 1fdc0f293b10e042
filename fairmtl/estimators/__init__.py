"""scikit-learn estimators: the one layer that wires data, models, objectives and solvers
(linear models) or the neural path (MLP models); :func:`fit_path` fits one estimator for
many settings on data prepared once."""

from fairmtl.estimators._base import FairMTLBase
from fairmtl.estimators._classifier import FairMTLClassifier
from fairmtl.estimators._mlp import FairMTLMLPClassifier, FairMTLMLPRegressor
from fairmtl.estimators._path import fit_path
from fairmtl.estimators._reduction import FairMTLReduction
from fairmtl.estimators._regressor import FairMTLRegressor

__all__ = [
    "FairMTLBase",
    "FairMTLClassifier",
    "FairMTLMLPClassifier",
    "FairMTLMLPRegressor",
    "FairMTLReduction",
    "FairMTLRegressor",
    "fit_path",
]
