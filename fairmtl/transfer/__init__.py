"""Which groups help each other: transfer diagnostics and alignment-aware sharing.

Diagnostics (after Wu, Zhang & Re, ICLR 2020):

- :func:`gain_from_sharing`: each group's held-out loss under pooled sharing against
  its own independent model, with paired bootstrap intervals (who gains, who is hurt);
- :func:`task_affinity` and :func:`cluster_groups`: pairwise task affinity (cosine of
  per-group fits or of group gradients at the shared solution, principal-angle,
  covariance-alignment and the paper's covariance similarity scores of the groups'
  features) and a clustering of groups;
- :func:`transfer_test`: a chosen group's held-out change when each other group joins its
  training data (leave-one-in; all groups at once by a batched Newton method);
- :func:`transfer_summary`: all of it as plain data, with a one-line reading.

Alignment-aware training:

- :class:`ClusteredMTL`: one FairMTL model per cluster of aligned groups, with the
  cluster count chosen by cross-validation and each cluster's ``alpha`` and
  ``sharing_strength`` by cross-validation on its rows;
- :func:`svd_task_weights`: Algorithm 2 of Wu, Zhang & Re (SVD task reweighting), to
  use as sample weights of a pooled fit;
- :class:`CovarianceAlignedMTL` (needs torch): Algorithm 1 of Wu, Zhang & Re, one
  alignment matrix per group in front of the fixed trunk of a neural FairMTL model.

The alignment scores themselves (:func:`subspace_affinity`,
:func:`covariance_alignment`, :func:`covariance_similarity`) work on plain matrices.
"""

from fairmtl.transfer._affinity import (
    AFFINITY_MEASURES,
    CLUSTER_METHODS,
    cluster_groups,
    group_gradients,
    leaf_order,
    task_affinity,
)
from fairmtl.transfer._alignment import (
    covariance_alignment,
    covariance_similarity,
    subspace_affinity,
    top_eigenpairs,
)
from fairmtl.transfer._clustered import ClusteredMTL
from fairmtl.transfer._gain import VERDICTS, gain_from_sharing
from fairmtl.transfer._leave_one_in import transfer_test
from fairmtl.transfer._reweight import REWEIGHT_METHODS, svd_task_weights
from fairmtl.transfer._summary import (
    SUMMARY_VERSION,
    group_alignment,
    reading,
    transfer_summary,
)

__all__ = [
    "AFFINITY_MEASURES",
    "CLUSTER_METHODS",
    "REWEIGHT_METHODS",
    "SUMMARY_VERSION",
    "VERDICTS",
    "ClusteredMTL",
    "CovarianceAlignedMTL",
    "cluster_groups",
    "covariance_alignment",
    "covariance_similarity",
    "gain_from_sharing",
    "group_alignment",
    "group_gradients",
    "leaf_order",
    "reading",
    "subspace_affinity",
    "svd_task_weights",
    "task_affinity",
    "top_eigenpairs",
    "transfer_summary",
    "transfer_test",
]


def __getattr__(name: str):
    """:class:`CovarianceAlignedMTL` loads torch, an optional dependency, on first use."""
    if name == "CovarianceAlignedMTL":
        from fairmtl.transfer._alignment_train import CovarianceAlignedMTL

        return CovarianceAlignedMTL
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
