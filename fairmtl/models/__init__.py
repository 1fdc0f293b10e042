"""Sharing schemes for linear group models (``shared``, ``independent``, ``offset``, ``lowrank``).

The neural :class:`~fairmtl.neural.GroupNetwork` (a shared trunk and group heads) lives in
:mod:`fairmtl.neural`.
"""

from fairmtl.models._sharing import SHARING_SCHEMES, Scaling, Sharing, make_sharing

__all__ = ["SHARING_SCHEMES", "Scaling", "Sharing", "make_sharing"]


def __getattr__(name: str):
    # moved to fairmtl.neural; the old names resolve with a DeprecationWarning (torch
    # still loads only on first use: importing fairmtl must not import torch)
    if name in ("GroupNetwork", "HEADS"):
        import warnings

        import fairmtl.neural

        warnings.warn(
            f"fairmtl.models.{name} moved to fairmtl.neural.{name}; the old name will be "
            "removed in a future release.",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(fairmtl.neural, name)
    raise AttributeError(f"module 'fairmtl.models' has no attribute {name!r}")
