"""Sharing schemes for linear group models (``shared``, ``independent``, ``offset``, ``lowrank``)
and, with torch, the neural :class:`GroupNetwork` (a shared trunk and group heads)."""

from fairmtl.models._sharing import SHARING_SCHEMES, Scaling, Sharing, make_sharing

__all__ = ["SHARING_SCHEMES", "Scaling", "Sharing", "make_sharing", "GroupNetwork", "HEADS"]


def __getattr__(name: str):
    # the torch models load on first use: importing fairmtl must not import torch
    if name in ("GroupNetwork", "HEADS"):
        from fairmtl.models import _neural

        return getattr(_neural, name)
    raise AttributeError(f"module 'fairmtl.models' has no attribute {name!r}")
