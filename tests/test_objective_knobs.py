"""Each objective checks its knobs once, whatever path solves it: a bad knob gets the same
message from the exact path, the dual path, the reduction and the neural path."""

from __future__ import annotations

import importlib.util

import pytest
from sklearn.linear_model import LogisticRegression

from fairmtl import FairMTLClassifier, FairMTLReduction
from fairmtl.datasets import make_hospitals

N_GROUPS = 4
LINEAR = dict(sharing="shared", alpha=1e-2, sharing_strength=1.0, adjustment=0.0)
MLP = dict(model="mlp", hidden_layer_sizes=(4,), max_epochs=1, alpha=1e-2,
           sharing_strength=1.0, adjustment=0.0, random_state=0)  # fmt: skip
HAS_TORCH = importlib.util.find_spec("torch") is not None
#: the exact path fits the ideal point before it reads the preference; its solver may
#: fall back on this small problem (recorded, and beside the point here)
pytestmark = pytest.mark.filterwarnings("ignore::fairmtl.exceptions.SolverFallbackWarning")


@pytest.fixture(scope="module")
def data():
    bunch = make_hospitals(N_GROUPS, n_samples=400, min_size=60, random_state=0)
    return bunch.data, bunch.target.to_numpy(), bunch.groups.to_numpy()


def _estimator(path: str, objective: str, knobs: dict):
    if path == "exact":
        return FairMTLClassifier(objective=objective, solver="CLARABEL", **LINEAR, **knobs)
    if path == "dual":
        return FairMTLClassifier(objective=objective, solver="dual", **LINEAR, **knobs)
    if path == "reduction":
        return FairMTLReduction(LogisticRegression(), objective=objective, max_rounds=2, **knobs)
    return FairMTLClassifier(objective=objective, **MLP, **knobs)


def _message(path: str, objective: str, knobs: dict, data) -> str:
    X, y, g = data
    with pytest.raises(ValueError) as err:
        _estimator(path, objective, knobs).fit(X, y, groups=g)
    return str(err.value)


# (objective, a bad knob, the paths on which the objective exists)
CASES = [
    ("tilted", {}, ("exact", "dual", "reduction", "neural")),
    ("bounded", {}, ("exact", "dual", "reduction", "neural")),
    ("bounded", {"epsilon": [0.5] * (N_GROUPS + 1)}, ("exact", "dual", "reduction", "neural")),
    ("chebyshev", {"preference": [0.0] * N_GROUPS}, ("exact", "dual", "neural")),
    ("chebyshev", {"preference": [1.0, -1.0, 1.0, 1.0]}, ("exact", "dual", "neural")),
    ("chebyshev", {"preference": [1.0, 2.0]}, ("exact", "dual", "neural")),
    ("no_harm", {"epsilon": [0.1] * (N_GROUPS - 1)}, ("exact", "dual")),
    ("demographic_parity", {}, ("exact", "dual")),
]


@pytest.mark.parametrize("objective, knobs, paths", CASES)
def test_a_bad_knob_gets_one_message_on_every_path(objective, knobs, paths, data):
    paths = [p for p in paths if p != "neural" or HAS_TORCH]
    messages = {path: _message(path, objective, knobs, data) for path in paths}
    assert len(set(messages.values())) == 1, messages
    message = next(iter(messages.values()))
    knob = next(iter(knobs), "tilt" if objective == "tilted" else "epsilon")
    assert repr(knob) in message  # it names the knob at fault
