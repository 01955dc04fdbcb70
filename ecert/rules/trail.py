"""The trail: every use of a credential, appended to its issuing region's log as one entry, each
entry chained to the one before it by its hash. Plain Python: the entry's shape, what may go
into it, its canonical text and hash, and the walk that finds the first entry altered, removed
or moved (``ecert audit verify``).

An entry (per region, ``seq`` from 1 with no gaps)::

    {"id", "seq", "region", "credential_id", "at", "action", "actor_org", "actor_key_id",
     "actor_role", "actor_region", "purpose", "result", "prev_hash", "hash"}

``hash`` is the SHA-256 (hex) of the entry's canonical JSON without ``hash``: keys sorted, no
spaces, UTF-8 (``json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``);
``prev_hash`` is the hash of the entry before, :data:`GENESIS` for the first. The trail names
the credential by id, never its holder: every text member is vocabulary (an action, a role, a
region code, a purpose, an outcome), an id, or the checker's organisation as its API key names it.
"""

from __future__ import annotations

import hashlib
import json.encoder
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..errors import InvalidRequest
from ..format.credential import looks_like_id
from ..limits import MAX_EPOCH
from ..vocab import Role, TrailAction
from .apikeys import ORG_RULE, is_org_name
from .schema import is_region_code

GENESIS = "0" * 64
"""The ``prev_hash`` of a region's first entry."""

HASHED_KEYS = ("action", "actor_key_id", "actor_org", "actor_region", "actor_role", "at", "credential_id", "id",
               "prev_hash", "purpose", "region", "result", "seq")
"""The members the hash covers, in their canonical (sorted) order: every member but ``hash``."""
ENTRY_KEYS = (*HASHED_KEYS, "hash")
HOLDER_KEYS = ("seq", "at", "action", "actor_org", "actor_role", "actor_region", "purpose", "result", "hash",
               "prev_hash")
"""What a holder's access log shows of an entry: who checked (organisation, role, place), for what, when,
with what outcome, and the chain's two hashes; never the key id or another credential."""

_ACTIONS = frozenset(a.value for a in TrailAction)
_ROLES = frozenset(r.value for r in Role)
_ENTRY_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z._:-]{0,95}")
_KEY_ID = re.compile(r"[0-9A-Za-z_]{0,64}")
_WORD = re.compile(r"[a-z][a-z_]{0,63}")  # a purpose: vocabulary, never a description
_CODE = re.compile(r"[A-Za-z][A-Za-z_]{0,63}")  # an outcome or a status
_HASH = re.compile(r"[0-9a-f]{64}")
_js = json.encoder.encode_basestring  # a str as json.dumps(..., ensure_ascii=False) writes it


def canonical(entry: Mapping[str, Any]) -> bytes:
    """The text the hash covers: :data:`HASHED_KEYS` of ``entry`` as canonical JSON, UTF-8 (KeyError
    if one is missing). The same bytes as ``json.dumps`` with sorted keys and no spaces, written
    directly (an entry's members are text and integers only)."""
    parts = []
    for key in HASHED_KEYS:
        value = entry[key]
        if value.__class__ is str:
            parts.append(f'"{key}":{_js(value)}')
        elif value.__class__ is int:
            parts.append(f'"{key}":{value}')
        else:
            parts.append(f'"{key}":' + json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True))
    return ("{" + ",".join(parts) + "}").encode()


def entry_hash(entry: Mapping[str, Any]) -> str:
    """The hash an entry carries: SHA-256 hex of :func:`canonical`."""
    return hashlib.sha256(canonical(entry)).hexdigest()


# -- what goes in --------------------------------------------------------------------------------

class Record(NamedTuple):
    """One use of a credential, before the region gives it its place in the chain (a tuple: a
    delivery makes a thousand at a time)."""

    id: str
    credential_id: str
    at: int
    action: str
    actor_org: str = ""
    actor_key_id: str = ""
    actor_role: str = ""
    actor_region: str = ""
    purpose: str = ""
    result: str = ""


def check_record(r: Record) -> Record:
    """``r`` if every member is of its shape, else 400 naming the member. Text that could carry a
    holder's data has none of the room for it: the purpose is a word of the vocabulary, the result
    an outcome's or a status's code, the rest ids, codes and the checker's organisation."""
    if r.id.__class__ is not str or not _ENTRY_ID.fullmatch(r.id):
        raise InvalidRequest("an entry id is 1-96 letters, digits and . _ : -", field="id")
    if r.credential_id.__class__ is not str or not looks_like_id(r.credential_id):
        raise InvalidRequest("credential_id must be a credential id", field="credential_id")
    if r.at.__class__ is not int or not 0 <= r.at <= MAX_EPOCH:
        raise InvalidRequest(f"at must be epoch seconds, 0 to {MAX_EPOCH}", field="at")
    result = r.result
    if result not in _CHECKED_RESULTS:
        if result != "" and not (result.__class__ is str and _CODE.fullmatch(result)):
            raise InvalidRequest("result must be an outcome or a status", field="result")
        if len(_CHECKED_RESULTS) < 1_000:
            _CHECKED_RESULTS.add(result)
    who = (r.action, r.actor_org, r.actor_key_id, r.actor_role, r.actor_region, r.purpose)
    try:
        if who in _CHECKED_ACTORS:  # the same checker and purpose as entries before (a delivery's thousand)
            return r
    except TypeError:  # not text: checked below, and refused
        pass
    _check_actor(r)
    if len(_CHECKED_ACTORS) < 10_000 and all(v.__class__ is str for v in who):
        _CHECKED_ACTORS.add(who)
    return r


_CHECKED_RESULTS: set[str] = {""}
_CHECKED_ACTORS: set[tuple] = set()


def _check_actor(r: Record) -> None:
    if r.action not in _ACTIONS:
        raise InvalidRequest(f"action must be one of {', '.join(sorted(_ACTIONS))}", field="action")
    if not is_org_name(r.actor_org):
        raise InvalidRequest(f"an organisation is {ORG_RULE}", field="actor_org")
    if not isinstance(r.actor_key_id, str) or not _KEY_ID.fullmatch(r.actor_key_id):
        raise InvalidRequest("actor_key_id must be a key id", field="actor_key_id")
    if r.actor_role not in _ROLES and r.actor_role != "":
        raise InvalidRequest("actor_role must be a role", field="actor_role")
    if r.actor_region != "" and not is_region_code(r.actor_region):
        raise InvalidRequest("actor_region must be a region code", field="actor_region")
    if r.purpose != "" and not (isinstance(r.purpose, str) and _WORD.fullmatch(r.purpose)):
        raise InvalidRequest("purpose must be a purpose's name", field="purpose")


def chained(region: str, records: Iterable[Record], seq: int, prev_hash: str,
            texts: list[str] | None = None) -> list[dict]:
    """``records`` as the entries that follow ``seq`` (the last entry's, 0 for none) and
    ``prev_hash`` in ``region``'s chain. With ``texts``, each entry's JSON text (hash included,
    without the closing brace: a store adds its key) is appended to it, so it is written once."""
    out = []
    js = _js
    region_js = js(region)
    heads: dict[tuple, str] = {}  # the checker's members (they lead the canonical order), written once a call
    tails: dict[tuple, str] = {}  # purpose, region and result (they follow the ids), the same
    sha256 = hashlib.sha256
    prev_js = js(prev_hash)
    for r in records:
        seq += 1
        action, role, purpose, result = str(r.action), str(r.actor_role), str(r.purpose), str(r.result)
        at = r.at
        if at.__class__ is not int:
            raise TypeError("at must be an int")
        who = (action, r.actor_key_id, r.actor_org, r.actor_region, role)
        head = heads.get(who)
        if head is None:
            head = heads[who] = (f'{{"action":{js(action)},"actor_key_id":{js(r.actor_key_id)},'
                                 f'"actor_org":{js(r.actor_org)},"actor_region":{js(r.actor_region)},'
                                 f'"actor_role":{js(role)},"at":')
        tail = tails.get((purpose, result))
        if tail is None:
            tail = tails[purpose, result] = f'"purpose":{js(purpose)},"region":{region_js},"result":{js(result)},"seq":'
        # canonical(): the members in HASHED_KEYS' order
        text = f'{head}{at},"credential_id":{js(r.credential_id)},"id":{js(r.id)},"prev_hash":{prev_js},{tail}{seq}'
        digest = sha256((text + "}").encode()).hexdigest()
        out.append({"id": r.id, "seq": seq, "region": region, "credential_id": r.credential_id, "at": at,
                    "action": action, "actor_org": r.actor_org, "actor_key_id": r.actor_key_id,
                    "actor_role": role, "actor_region": r.actor_region, "purpose": purpose, "result": result,
                    "prev_hash": prev_hash, "hash": digest})
        if texts is not None:
            texts.append(f'{text},"hash":"{digest}"')
        prev_hash = digest
        prev_js = f'"{digest}"'  # hex: nothing to escape
    return out


def holder_view(entry: Mapping[str, Any]) -> dict:
    """The members of an entry a holder's access log shows (:data:`HOLDER_KEYS`)."""
    return {key: entry[key] for key in HOLDER_KEYS}


# -- the walk ------------------------------------------------------------------------------------

def _is_hash(value: Any) -> bool:
    """SHA-256 hex as the chain writes it (:data:`GENESIS` included)."""
    return value.__class__ is str and _HASH.fullmatch(value) is not None


ALTERED, REMOVED, MOVED = "altered", "removed", "moved"


@dataclass(frozen=True, slots=True)
class Fault:
    """The first place the chain is not as it was written: the entry's ``seq`` (for a removal, the
    first one missing), what happened to it, and a sentence naming no holder."""

    seq: int
    kind: str  # ALTERED | REMOVED | MOVED
    message: str


class ChainWalk:
    """Feed a region's entries in the order of their places in the chain (:meth:`feed`, with each
    one's place as the store keeps it: its key), then :meth:`finish` with the head the region
    recorded; each answers the first :class:`Fault` (and the walk stops there), or None.

    A place with no entry is a removal. An entry whose hash does not match its members was
    altered, unless the same members hash right with another ``seq``: then it was moved (only its
    number changed). An intact entry at a place that is not its ``seq`` was moved there. An intact
    entry whose ``prev_hash`` is not the hash of the entry before it follows another entry (moved),
    or the one before it was replaced. The recorded head catches the removal of the last entries.
    Memory stays bounded: only the last :data:`RECENT` hashes are kept."""

    RECENT = 65_536
    WINDOW = 256
    """Numbers either side an entry with a wrong hash is tried at, to tell "moved" from "altered"."""

    def __init__(self, region: str):
        self.region = region
        self.count = 0
        self.last_seq = 0  # the last intact entry's place (and seq)
        self.last_hash = GENESIS
        self.fault: Fault | None = None
        self._recent: dict[str, int] = {}

    def feed(self, entry: Mapping[str, Any], place: int | None = None) -> Fault | None:
        """The next entry, at ``place`` (None: the place its ``seq`` says)."""
        if self.fault is not None:
            return self.fault
        if place is None:
            place = entry.get("seq") if entry.get("seq").__class__ is int else self.last_seq + 1
        self.fault = fault = self._check(entry, place)
        if fault is None:
            self.count += 1
            self.last_seq, self.last_hash = place, entry["hash"]
            self._recent[self.last_hash] = place
            if len(self._recent) > self.RECENT:
                del self._recent[next(iter(self._recent))]
        return fault

    def _check(self, e: Mapping[str, Any], place: int) -> Fault | None:
        expected = self.last_seq + 1
        r = self.region
        if place > expected:
            which = f"entry {expected}" if place == expected + 1 else f"entries {expected} to {place - 1}"
            return Fault(expected, REMOVED, f"{which} of {r} removed: entry {self.last_seq} is followed by "
                                            f"entry {place}")
        if place < expected:
            return Fault(place, MOVED, f"entry {place} of {r} appears twice")
        seq = e.get("seq")
        if seq.__class__ is not int:
            return Fault(place, ALTERED, f"entry {place} of {r} has no valid sequence number")
        if not (_is_hash(e.get("hash")) and _is_hash(e.get("prev_hash"))):  # before either is looked up
            return Fault(place, ALTERED, f"entry {place} of {r} was altered: its hash or prev_hash is no hash")
        try:
            intact = entry_hash(e) == e.get("hash") and e.get("region") == r
        except (KeyError, TypeError, ValueError):
            intact = False
        if not intact:
            was = self._number(e, place)
            if was == place:
                return Fault(place, MOVED, f"entry {place} of {r} was renumbered {seq}: its place in the order "
                                           "was changed")
            if was is not None:
                return Fault(place, MOVED, f"entry {was} of {r} was moved to place {place}")
            return Fault(place, ALTERED, f"entry {place} of {r} was altered: its hash does not match it")
        if seq != place:
            return Fault(place, MOVED, f"entry {seq} of {r} was moved to place {place}")
        if e["prev_hash"] != self.last_hash:
            follows = self._recent.get(e["prev_hash"])
            if follows is not None:
                return Fault(place, MOVED, f"entry {place} of {r} was moved: it was written after entry "
                                           f"{follows}, not after entry {self.last_seq}")
            return Fault(place, ALTERED, f"entry {place} of {r} does not follow entry {self.last_seq}: one of them "
                                         "was altered or replaced, or entries between them were removed")
        return None

    def _number(self, e: Mapping[str, Any], place: int) -> int | None:
        """The ``seq`` with which ``e``'s members (its own ``seq`` aside) hash to its ``hash``, if any near."""
        seq = e["seq"]
        candidates = [place, *range(max(1, seq - self.WINDOW), seq + self.WINDOW + 1)]
        follows = self._recent.get(e["prev_hash"])  # a hash: _check saw to it
        if follows is not None:
            candidates.insert(0, follows + 1)
        probe = dict(e)
        for other in candidates:
            if other == seq:
                continue
            probe["seq"] = other
            try:
                if entry_hash(probe) == e.get("hash"):
                    return other
            except (KeyError, TypeError, ValueError):
                return None
        return None

    def finish(self, head: Mapping[str, Any] | None) -> Fault | None:
        """After the last entry: ``head`` is the region's record of its last entry (``seq`` and
        ``hash``), None if it has none."""
        if self.fault is not None:
            return self.fault
        if head is None:
            if self.count:
                self.fault = Fault(self.last_seq, ALTERED, f"the record of {self.region}'s last entry is missing")
            return self.fault
        seq, digest = head.get("seq"), head.get("hash")
        if seq.__class__ is not int or seq < 0:
            self.fault = Fault(self.last_seq, ALTERED, f"the record of {self.region}'s last entry was altered")
        elif seq > self.last_seq:
            which = f"entry {self.last_seq + 1}" if seq == self.last_seq + 1 else \
                f"entries {self.last_seq + 1} to {seq}"
            self.fault = Fault(self.last_seq + 1, REMOVED, f"{which} of {self.region} removed: the chain ends at "
                                                           f"entry {self.last_seq}, its recorded end is entry {seq}")
        elif seq == self.last_seq and digest != self.last_hash:
            self.fault = Fault(seq, ALTERED, f"entry {seq} of {self.region} is not the one recorded as its last")
        return self.fault
