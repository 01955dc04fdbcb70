"""The trust list as verification uses it: the signed wire format of
:mod:`ecert.format.trustlist`, with every certificate type's schema compiled once."""

from __future__ import annotations

from ..format.trustlist import KeyEntry, RegionEntry, TrustListError
from ..format.trustlist import TrustList as _SignedTrustList
from .schema import TypeSchema

__all__ = ["KeyEntry", "RegionEntry", "TrustList", "TrustListError"]


class TrustList(_SignedTrustList):
    """A verified, indexed trust list whose ``types`` are :class:`TypeSchema` objects."""

    make_type = TypeSchema
    types: dict[tuple[str, int], TypeSchema]
