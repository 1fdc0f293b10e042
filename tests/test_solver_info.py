"""The solver record: every path reports the same required keys, and only declared ones."""

from __future__ import annotations

import pytest
from sklearn.linear_model import LogisticRegression

from fairmtl import FairMTLClassifier, FairMTLMLPClassifier
from fairmtl.estimators import FairMTLReduction
from fairmtl.report import SolverInfo as ReportSolverInfo
from fairmtl.solvers import SolverInfo, solver_record

HOSPITALS = {"n_hospitals": 3, "n_samples": 300, "random_state": 0}
HOSPITALS_AS = "numpy"

REQUIRED = {"status", "solver", "path", "time", "gap"}
DECLARED = set(SolverInfo.__annotations__)


def _fits(X, y, g):
    knobs = dict(alpha=1e-2, sharing_strength=1.0)
    yield "exact", FairMTLClassifier(objective="minimax", solver="CLARABEL", **knobs)
    yield "dual", FairMTLClassifier(objective="average", solver="dual", **knobs)
    yield "reduction", FairMTLReduction(LogisticRegression(), objective="minimax", max_rounds=3)


@pytest.mark.filterwarnings("ignore:FairMTLReduction stopped after max_rounds")
@pytest.mark.parametrize("path", ["exact", "dual", "reduction"])
def test_every_path_reports_one_record(hospitals, path):
    X, y, g = hospitals
    model = dict(_fits(X, y, g))[path].fit(X, y, groups=g)
    info = model.solver_info_
    assert isinstance(info, dict)
    assert REQUIRED <= set(info), sorted(REQUIRED - set(info))
    assert set(info) <= DECLARED, sorted(set(info) - DECLARED)
    assert info["path"] == path
    assert info["time"] >= 0


def test_neural_path_reports_the_record(hospitals):
    pytest.importorskip("torch")
    X, y, g = hospitals
    model = FairMTLMLPClassifier(objective="minimax", heads="shared", max_epochs=2)
    model.fit(X, y, groups=g)
    info = model.solver_info_
    assert REQUIRED <= set(info) <= DECLARED, sorted(set(info) - DECLARED)
    assert info["path"] == "neural" and info["gap"] is None


def test_an_undeclared_key_is_refused():
    with pytest.raises(TypeError, match="'made_up'"):
        solver_record(status="optimal", solver="X", path="exact", time=0.0, made_up=1)


def test_report_reads_the_records_summary():
    assert set(ReportSolverInfo.__required_keys__) == {"status", "solver", "time", "gap"}
    assert set(ReportSolverInfo.__annotations__) <= DECLARED
