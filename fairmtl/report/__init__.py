"""The frontier report: one self-contained HTML file built from plain results data.

The report reads only a JSON-able results dict (see :class:`Results`), never fitted
estimators, so it can be rebuilt from saved results without refitting::

    from fairmtl.report import load_results, write_report
    write_report(load_results("results.json"), "reports/frontier.html")
"""

from fairmtl.report._render import (
    load_results,
    render_html,
    render_transfer_html,
    save_results,
    write_report,
    write_report_and_results,
    write_transfer_report,
)
from fairmtl.report._schema import (
    SCHEMA_VERSION,
    TRANSFER_VERSION,
    Criterion,
    DataSummary,
    GroupInfo,
    GroupMetric,
    Harm,
    MethodSummary,
    MetricInfo,
    ModelResult,
    Reproducibility,
    Results,
    SolverInfo,
    Split,
    TransferAffinity,
    TransferGain,
    TransferGroup,
    TransferSummary,
)
from fairmtl.report._validate import validate_results, validate_transfer

__all__ = [
    "render_html",
    "write_report",
    "write_report_and_results",
    "load_results",
    "save_results",
    "validate_results",
    "render_transfer_html",
    "write_transfer_report",
    "validate_transfer",
    "SCHEMA_VERSION",
    "TRANSFER_VERSION",
    "TransferSummary",
    "TransferGroup",
    "TransferGain",
    "TransferAffinity",
    "Results",
    "Criterion",
    "MetricInfo",
    "ModelResult",
    "SolverInfo",
    "Harm",
    "GroupMetric",
    "GroupInfo",
    "DataSummary",
    "Split",
    "MethodSummary",
    "Reproducibility",
]
