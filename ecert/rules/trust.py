"""The trust list as verification uses it: the signed wire format of
:mod:`ecert.format.trustlist`, with every certificate type's schema compiled once and the
recognition rules as :class:`~ecert.rules.acceptance.Rules`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..format.trustlist import KeyEntry, RegionEntry, TrustListError
from ..format.trustlist import TrustList as _SignedTrustList
from .acceptance import Rules, default_rules
from .schema import TypeSchema

__all__ = ["KeyEntry", "RegionEntry", "TrustList", "TrustListError"]


class TrustList(_SignedTrustList):
    """A verified, indexed trust list whose ``types`` are :class:`TypeSchema` objects and whose
    ``acceptance`` is the signed recognition rules (:func:`default_rules` for a list that carries
    none: one signed before there were rules)."""

    make_type = TypeSchema
    types: dict[tuple[str, int], TypeSchema]

    def __init__(self, payload: Mapping[str, Any], signed: bytes = b""):
        super().__init__(payload, signed)
        self.acceptance: Rules = default_rules() if self.rules is None else Rules.from_entry(self.rules)
