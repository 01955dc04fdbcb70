"""The recognition rules: which certificate types each purpose accepts, and which regions'
credentials each caller's region recognises (the mutual-recognition agreement, as data).

The registry holds them and signs them into the trust list (the ``rules`` member of
:mod:`ecert.format.trustlist`); verification asks :meth:`Rules.refusal` once the signature, the
validity and the status are checked, so an operator still learns whether a credential is genuine.
:func:`default_rules` is the agreement the suite ships (``data/agreement.json``): what a registry
starts from, and what a trust list from before there were rules stands for.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from importlib import resources
from types import MappingProxyType
from typing import Any

from ..format.trustlist import RulesEntry, parse_rules, rules_payload
from ..vocab import Purpose

__all__ = ["PURPOSE_NAMES", "STAR", "Rules", "default_rules"]

STAR = "*"
"""The recognition entry of callers bound to no region (hotel, integrator or admin keys without one)."""

PURPOSE_NAMES: Mapping[Purpose, str] = MappingProxyType({
    Purpose.HOTEL_CHECK_IN: "住宿登记 / Hotel check-in",
    Purpose.ROADSIDE_DRIVER_CHECK: "路面驾驶人检查 / Roadside driver check",
    Purpose.ROADSIDE_VEHICLE_CHECK: "路面车辆检查 / Roadside vehicle check",
    Purpose.TRANSPORT_INSPECTION: "道路运输检查 / Transport inspection",
    Purpose.BUSINESS_CHECK: "经营主体核验 / Business check",
    Purpose.GENERAL: "通用核验 / General verification",
})
"""Each purpose as people read it, ``中文 / English``."""

_EMPTY: frozenset[str] = frozenset()


def _sets(obj: Mapping[str, Iterable[str]]) -> dict[str, frozenset[str]]:
    return {str(k): frozenset(map(str, v)) for k, v in obj.items()}


class Rules:
    """Immutable recognition rules. ``purposes``: purpose -> the type ids it accepts (a purpose
    absent accepts nothing); ``recognition``: caller region (``"*"``: none) -> the regions whose
    credentials it recognises (a region absent recognises none)."""

    __slots__ = ("_purposes", "_recognition")

    def __init__(self, purposes: Mapping[str, Iterable[str]], recognition: Mapping[str, Iterable[str]]):
        set_ = object.__setattr__
        set_(self, "_purposes", _sets(purposes))  # plain dicts for the hot path, read-only views outside
        set_(self, "_recognition", _sets(recognition))

    @property
    def purposes(self) -> Mapping[str, frozenset[str]]:
        """Purpose -> the type ids it accepts (read only)."""
        return MappingProxyType(self._purposes)

    @property
    def recognition(self) -> Mapping[str, frozenset[str]]:
        """Caller region (``"*"``: none) -> the regions whose credentials it recognises (read only)."""
        return MappingProxyType(self._recognition)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Rules are immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Rules are immutable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Rules):
            return NotImplemented
        return self._purposes == other._purposes and self._recognition == other._recognition

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Rules({self.to_payload()!r})"

    # -- the verification hot path ---------------------------------------------------------------
    def refusal(self, purpose: str, type_id: str, caller_region: str, iss: str) -> str | None:
        """None when a credential of ``type_id`` issued by ``iss`` is accepted for ``purpose``
        from a caller of ``caller_region`` (``""``: bound to no region, the ``"*"`` entry); else
        why not, naming the type and purpose or the two regions (no personal data)."""
        if type_id not in self._purposes.get(purpose, _EMPTY):
            return f"{type_id} is not accepted for {purpose}"
        if iss not in self._recognition.get(caller_region or STAR, _EMPTY):
            if caller_region:
                return f"credentials of {iss} are not recognised by {caller_region}"
            return f"credentials of {iss} are not recognised for callers bound to no region"
        return None

    # -- reading and changing --------------------------------------------------------------------
    def accepts(self, purpose: str) -> frozenset[str]:
        """The type ids ``purpose`` accepts (empty: none)."""
        return self._purposes.get(purpose, _EMPTY)

    def recognises(self, region: str) -> frozenset[str]:
        """The regions whose credentials callers of ``region`` (``"*"``: none) recognise."""
        return self._recognition.get(region or STAR, _EMPTY)

    def with_purpose(self, purpose: str, type_ids: Iterable[str]) -> Rules:
        """These rules with ``purpose`` accepting exactly ``type_ids``."""
        return Rules({**self._purposes, str(purpose): type_ids}, self._recognition)

    def with_recognition(self, region: str, regions: Iterable[str]) -> Rules:
        """These rules with callers of ``region`` (or ``"*"``) recognising exactly ``regions``."""
        return Rules(self._purposes, {**self._recognition, region or STAR: regions})

    # -- the wire form -----------------------------------------------------------------------------
    def to_payload(self) -> dict[str, Any]:
        """The trust list's ``rules`` member: keys and lists sorted."""
        return rules_payload(self._purposes, self._recognition)

    @classmethod
    def from_entry(cls, entry: RulesEntry) -> Rules:
        """The rules a trust list carries (already checked by its reader)."""
        return cls(entry.purposes, entry.recognition)

    @classmethod
    def from_payload(cls, obj: Any) -> Rules:
        """Rules from a ``rules`` member (or the shipped agreement); ValueError if malformed."""
        try:
            return cls.from_entry(parse_rules(obj))
        except (TypeError, ValueError) as err:
            raise ValueError(f"malformed recognition rules: {err}") from err


@functools.cache
def default_rules() -> Rules:
    """The agreement the suite ships (``ecert/rules/data/agreement.json``): the four Yangtze River
    Delta regions (and callers bound to none) recognise each other's catalogue types, each purpose
    accepting what it needs."""
    text = (resources.files("ecert.rules") / "data" / "agreement.json").read_text(encoding="utf-8")
    rules = Rules.from_payload(json.loads(text))
    unknown = set(rules.purposes) - set(Purpose)
    if unknown:
        raise ValueError(f"the shipped agreement names unknown purposes: {', '.join(sorted(unknown))}")
    return rules
