"""Sharing schemes for linear group models (``shared``, ``independent``, ``offset``, ``lowrank``)."""

from fairmtl.models._sharing import SHARING_SCHEMES, Scaling, Sharing, make_sharing

__all__ = ["SHARING_SCHEMES", "Scaling", "Sharing", "make_sharing"]
