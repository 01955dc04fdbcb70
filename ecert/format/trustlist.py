"""The signed trust list: regions, their keys, the certificate types and the recognition rules.

The registry builds and signs it (:func:`sign`); verifiers and issuers read it
with :meth:`TrustList.from_signed`, which checks the root signature and parses
every public key once, so the verification hot path only does dictionary look-ups.

This is the wire format only: a certificate type is kept as the :class:`TypeEntry` the list
carries, and the recognition rules as the :class:`RulesEntry` the list carries (``None`` for a
list from before there were rules). :class:`ecert.rules.trust.TrustList` is the same list with
every type's schema compiled and the rules as :class:`ecert.rules.acceptance.Rules`, which is
what verification uses.

The ``rules`` member::

    {"purposes":    {"hotel_check_in": ["cn.residence_permit", "cn.resident_id"], ...},
     "recognition": {"CN-SH": ["CN-AH", "CN-JS", "CN-SH", "CN-ZJ"], ..., "*": [...]}}

``purposes``: the certificate type ids each purpose accepts (a purpose absent accepts nothing);
``recognition``: for each caller region (``"*"``: callers bound to no region) the regions whose
credentials it recognises (a region absent recognises none). Lists are sorted, without repeats.
Members a newer registry may add are ignored.

The ``next_root`` member (only in the list that announces a root rotation)::

    {"kid": bytes(8), "alg": int, "spki": bytes (DER)}

names the root key that signs every list after it. The announcement is itself signed by the old
root, so a verifier pinned to the old root follows (:func:`follow_roots`): the registry serves
every announcement with its lists (the root chain), oldest first.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import cbor2

from ..errors import EcertError, FormatError
from . import cose
from .keys import PublicKey, Signer


class TrustListError(EcertError):
    """The trust list is not signed by the pinned root key or is malformed."""

    code = "TRUST_LIST_INVALID"


@dataclass(frozen=True, slots=True)
class KeyEntry:
    region: str
    public: PublicKey
    status: str
    nbf: int
    exp: int
    revoked_at: int | None = None

    @property
    def kid(self) -> bytes:
        return self.public.kid


@dataclass(slots=True)
class RegionEntry:
    code: str
    name: str
    endpoint: str
    keys: list[KeyEntry] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class TypeEntry:
    """A certificate type as the trust list carries it (schema as JSON text)."""

    id: str
    version: int
    name: str
    schema_text: str
    disclosure: dict


@dataclass(frozen=True, slots=True)
class RulesEntry:
    """The recognition rules as the trust list carries them: purpose -> accepted type ids,
    caller region (or ``"*"``) -> recognised regions."""

    purposes: Mapping[str, frozenset[str]]
    recognition: Mapping[str, frozenset[str]]


def _text(v: Any) -> str:
    """A text member: a byte string (or anything else) in its place is malformed."""
    if type(v) is not str:
        raise TypeError(f"{type(v).__name__} where text is expected")
    return v


def _bytes(v: Any) -> bytes:
    if type(v) is not bytes:
        raise TypeError(f"{type(v).__name__} where a byte string is expected")
    return v


def _int(v: Any) -> int:
    if type(v) is not int:
        raise TypeError(f"{type(v).__name__} where an integer is expected")
    return v


def _text_sets(obj: Any, what: str) -> dict[str, frozenset[str]]:
    """A map of text to a list of distinct texts (``what`` names it in the error)."""
    if not isinstance(obj, Mapping):
        raise TypeError(f"rules {what} is not a map")
    out: dict[str, frozenset[str]] = {}
    for key, items in obj.items():
        if type(key) is not str or not key:
            raise TypeError(f"rules {what}: a key that is not text")
        if not isinstance(items, (list, tuple)):
            raise TypeError(f"rules {what} of {key}: not a list")
        values = frozenset(_text(v) for v in items)
        if len(values) != len(items):
            raise ValueError(f"rules {what} of {key}: an item repeated")
        out[key] = values
    return out


def parse_rules(obj: Any) -> RulesEntry:
    """The ``rules`` member (module docs) checked and parsed; TypeError or ValueError if malformed."""
    if not isinstance(obj, Mapping):
        raise TypeError("rules is not a map")
    if "purposes" not in obj or "recognition" not in obj:
        raise ValueError("rules needs purposes and recognition")
    return RulesEntry(MappingProxyType(_text_sets(obj["purposes"], "purposes")),
                      MappingProxyType(_text_sets(obj["recognition"], "recognition")))


def rules_payload(purposes: Mapping[str, Any], recognition: Mapping[str, Any]) -> dict[str, Any]:
    """The ``rules`` member in its one written form: keys and lists sorted, no repeats."""
    return {"purposes": {k: sorted(set(purposes[k])) for k in sorted(purposes)},
            "recognition": {k: sorted(set(recognition[k])) for k in sorted(recognition)}}


def sign(root: Signer, payload: Mapping[str, Any]) -> bytes:
    return cose.sign1(root, cbor2.dumps(dict(payload)))


class TrustList:
    """A verified, indexed trust list; ``types`` holds what :meth:`make_type` makes of each type."""

    make_type: Any = TypeEntry  # (id, version, name, schema text, disclosure) -> the type's object

    def __init__(self, payload: Mapping[str, Any], signed: bytes = b""):
        try:
            self.version = _int(payload["v"])
            self.iat = _int(payload["iat"])
            self.exp = _int(payload["exp"])
            self.regions: dict[str, RegionEntry] = {}
            self.keys_by_kid: dict[bytes, list[KeyEntry]] = {}
            for r in payload["regions"]:
                region = RegionEntry(_text(r["code"]), _text(r["name"]), _text(r.get("endpoint", "")))
                for k in r["keys"]:
                    entry = KeyEntry(region.code, PublicKey(_int(k["alg"]), _bytes(k["spki"])), _text(k["status"]),
                                     _int(k["nbf"]), _int(k["exp"]),
                                     None if k.get("revoked_at") is None else _int(k["revoked_at"]))
                    if entry.kid != _bytes(k["kid"]):
                        raise TrustListError(f"kid {k['kid'].hex()} does not match its key")
                    region.keys.append(entry)
                    self.keys_by_kid.setdefault(entry.kid, []).append(entry)
                self.regions[region.code] = region
            self.types: dict[tuple[str, int], Any] = {}
            make_type = type(self).make_type
            for t in payload["types"]:
                ts = make_type(_text(t["id"]), _int(t["v"]), _text(t["name"]), _text(t["schema"]),
                               dict(t["disclosure"]))
                self.types[(ts.id, ts.version)] = ts
            self.rules: RulesEntry | None = parse_rules(payload["rules"]) if "rules" in payload else None
            self.next_root: PublicKey | None = parse_root(payload["next_root"]) if "next_root" in payload else None
        except TrustListError:
            raise
        except (KeyError, TypeError, ValueError, EcertError) as err:
            raise TrustListError(f"malformed trust list: {err}") from err
        self.payload = payload
        self.signed = signed

    @classmethod
    def from_signed(cls, signed: bytes, root: PublicKey) -> "TrustList":
        try:
            s1 = cose.parse_sign1(signed)
        except FormatError as err:
            raise TrustListError(f"trust list is not a COSE_Sign1: {err}") from err
        if s1.kid != root.kid or s1.alg != root.alg or not root.verify(s1.signature, s1.to_be_signed()):
            raise TrustListError("trust list is not signed by the pinned root key")
        try:
            payload = cose.loads(s1.payload)
        except FormatError as err:
            raise TrustListError(f"trust list payload is not CBOR of the subset: {err}") from err
        if not isinstance(payload, Mapping):
            raise TrustListError("trust list payload is not a map")
        return cls(payload, signed)

    def is_stale(self, now: int) -> bool:
        return now >= self.exp


def parse_root(obj: Any) -> PublicKey:
    """The ``next_root`` member (module docs) checked and parsed; TypeError or ValueError (a kid
    that is not its key's, a malformed key) if malformed."""
    if not isinstance(obj, Mapping):
        raise TypeError("next_root is not a map")
    public = PublicKey(_int(obj["alg"]), _bytes(obj["spki"]))
    if public.kid != _bytes(obj["kid"]):
        raise ValueError("next_root kid does not match its key")
    return public


def root_payload(root: PublicKey) -> dict[str, Any]:
    """The ``next_root`` member naming ``root``."""
    return {"kid": root.kid, "alg": root.alg, "spki": root.spki}


def follow_roots(pinned: PublicKey, chain: Sequence[bytes]) -> tuple[PublicKey, list[TrustList]]:
    """The root key reached from ``pinned`` through the announcements in ``chain`` (each a signed
    trust list carrying ``next_root``, oldest first), and the announcements followed.

    An announcement is followed when it is signed by the root reached so far: its ``next_root``
    becomes that root. Any other element (of another chain, damaged, a list without
    ``next_root``, one signed by a root already left behind) is skipped, so a chain served by
    anyone can only lead from the pinned root along rotations that root's holders signed.
    Roots only move forward: once a rotation is followed, the old root signs nothing more."""
    root = pinned
    followed: list[TrustList] = []
    for signed in chain:
        try:
            tl = TrustList.from_signed(signed, root)
        except TrustListError:
            continue
        if tl.next_root is None or tl.next_root.kid == root.kid:
            continue
        followed.append(tl)
        root = tl.next_root
    return root, followed


def to_jsonable(obj: Any) -> Any:
    """CBOR value to JSON-able value, byte strings as base64."""
    if isinstance(obj, bytes):
        return base64.b64encode(obj).decode()
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    return obj


def to_json(payload: Mapping[str, Any]) -> str:
    return json.dumps(to_jsonable(payload), ensure_ascii=False, separators=(",", ":"))


def build_payload(*, version: int, iat: int, exp: int, regions: list[Mapping], keys: list[Mapping],
                  types: list[Mapping], rules: Mapping[str, Any] | None = None,
                  next_root: PublicKey | None = None) -> dict[str, Any]:
    """The trust-list payload from the registry's stored regions, keys and types, and the
    recognition rules (``{"purposes": …, "recognition": …}``; None: no ``rules`` member); with
    ``next_root``, the announcement of a root rotation (module docs)."""
    by_region: dict[str, list] = {}
    for k in keys:
        entry = {"kid": bytes.fromhex(k["kid"]), "alg": int(k["alg"]), "spki": base64.b64decode(k["spki"]),
                 "nbf": int(k["nbf"]), "exp": int(k["exp"]), "status": k["status"]}
        if k.get("revoked_at") is not None:
            entry["revoked_at"] = int(k["revoked_at"])
        by_region.setdefault(k["region"], []).append(entry)
    payload: dict[str, Any] = {
        "v": version, "iat": iat, "exp": exp,
        "regions": [{"code": r["code"], "name": r["name"], "endpoint": r.get("endpoint") or "",
                     "keys": by_region.get(r["code"], [])} for r in regions],
        "types": [{"id": t["id"], "v": int(t["version"]), "name": t["name"], "schema": t["schema"],
                   "disclosure": dict(t["disclosure"])} for t in types],
    }
    if rules is not None:
        payload["rules"] = rules_payload(rules["purposes"], rules["recognition"])
    if next_root is not None:
        payload["next_root"] = root_payload(next_root)
    return payload
