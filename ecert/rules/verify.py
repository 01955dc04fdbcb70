"""The verification recipe: EC1 text (or EP1 token) to verified claims.

Checks run in the order of the format spec's table and the first failure is the
answer. Everything here is offline and synchronous: the trust list and status
lists are passed in (the verifier service keeps them cached).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import FormatError, Outcome
from ..format import cose, credential, presentation
from ..format.credential import Claims
from ..format.presentation import TokenClaims
from ..format.statuslist import REVOKED, SUSPENDED, StatusList
from ..vocab import KeyStatus, StatusAnswer
from .acceptance import Rules
from .document import DocumentDate, Warning, china_day
from .schema import TypeSchema, to_json_fields
from .trust import KeyEntry, TrustList

DEFAULT_SKEW = 60


@dataclass(slots=True)
class Result:
    outcome: Outcome
    detail: str = ""
    claims: Claims | None = None
    token: TokenClaims | None = None
    key: KeyEntry | None = None
    type: TypeSchema | None = None
    fields: dict[str, Any] | None = None  # JSON form, all fields; filter with shown()
    status_checked: bool = False  # a status list within its validity was consulted (apply_status)
    warnings: tuple[Warning, ...] = ()  # lapsed secondary dates (all of them: filter with shown_warnings())
    purpose: str = ""  # the purpose judged (apply_acceptance), "" when none was
    document: DocumentDate | None = None  # the document's own date that decided EXPIRED / NOT_YET_VALID
    status: str = ""  # a StatusAnswer once the status stage is reached (apply_status), "" before
    status_as_of: int = 0  # iat of the status list consulted (0: none)

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.VALID

    def shown(self, role: str) -> dict[str, Any]:
        """The fields ``role`` is shown for this outcome: all it may see when VALID; when the
        credential is authentic but not current (:data:`IDENTIFYING_OUTCOMES`), those the type
        lets the role see to know who presented it; else none."""
        if self.type is None or self.fields is None:
            return {}
        if self.outcome is Outcome.VALID:
            return self.type.disclosed(role, self.fields)
        if self.outcome in IDENTIFYING_OUTCOMES:
            return self.type.identified(role, self.fields)
        return {}

    def shown_warnings(self, shown: Mapping[str, Any]) -> tuple[Warning, ...]:
        """The warnings about fields in ``shown`` (a role learns nothing of a field it may not see)."""
        warnings = self.warnings
        if not warnings:
            return warnings
        return tuple(w for w in warnings if w.field in shown)


IDENTIFYING_OUTCOMES = frozenset({Outcome.REVOKED, Outcome.SUSPENDED, Outcome.EXPIRED, Outcome.NOT_YET_VALID,
                                  Outcome.NOT_ACCEPTED_FOR_PURPOSE})
"""Outcomes of a credential that is authentic (its signature, key and issuer check out) but not
current or not accepted: the answer still shows who it names (the type's ``x-identify``)."""

NOT_CURRENT: Mapping[Outcome, str] = {Outcome.REVOKED: "revoked by the issuer",
                                      Outcome.SUSPENDED: "suspended by the issuer",
                                      Outcome.EXPIRED: "expired", Outcome.NOT_YET_VALID: "not yet valid"}
"""The plain reason for each outcome of an authentic credential that is not current."""


def not_current_reason(outcome: Outcome, ts: TypeSchema | None, fields: Mapping[str, Any] | None,
                       now: int) -> tuple[str, DocumentDate | None]:
    """Why an authentic credential is not current (an outcome of :data:`NOT_CURRENT`), as EC1 and
    EP1 answers both say it: the detail and the answer's ``document``. When the document's own
    dates give the same outcome (the issuer ends ``exp`` with the document's last day), the
    detail naming its field and date, and that field and date; else the plain reason and None."""
    if ts is not None and fields is not None:
        outside = ts.document.check(fields, china_day(now))
        if outside is not None and outside.outcome is outcome:
            return outside.detail, outside.document
    return NOT_CURRENT[outcome], None


def _verified_key(trust: TrustList, kid: bytes, alg: int, signature: bytes, tbs: bytes,
                  iss: str | None) -> KeyEntry:
    """The trust-list key that signed ``tbs``: kid, algorithm, signature and key status, in the
    spec's order. Several keys may share a kid (8 bytes can collide, or another region lists the
    same public key): each is tried, the claimed ``iss`` region's keys first. So only the issuing
    region's own keys can make a credential valid, and another region's entry for the same key,
    revoked or not, never shadows them; a key of another region alone ends in ISSUER_MISMATCH."""
    candidates = trust.keys_by_kid.get(kid)
    if not candidates:
        raise FormatError(Outcome.KID_UNKNOWN, f"no key {kid.hex()} in trust list v{trust.version}")
    if len(candidates) > 1 and iss is not None:
        candidates = sorted(candidates, key=lambda k: k.region != iss)  # stable: trust-list order
    key = None
    alg_matched = False
    for k in candidates:
        if k.public.alg == alg:
            alg_matched = True
            if k.public.verify(signature, tbs):
                key = k
                break
    if not alg_matched:
        raise FormatError(Outcome.ALG_NOT_ALLOWED, "algorithm does not match the key's registered one")
    if key is None:
        raise FormatError(Outcome.SIGNATURE_INVALID, "signature does not verify")
    if key.status == KeyStatus.REVOKED:
        raise FormatError(Outcome.KEY_REVOKED, f"key {key.kid.hex()} of {key.region} is revoked")
    return key


def _check_iat(key: KeyEntry, iat: Any) -> None:
    if type(iat) is int and not key.nbf <= iat < key.exp:
        raise FormatError(Outcome.KEY_NOT_VALID_AT_IAT, "iat is outside the signing key's validity")


def _payload_map(payload: bytes) -> Any:
    """The decoded payload, or None if it is not CBOR of the subset (``parse_claims`` then names
    the fault)."""
    try:
        return cose.loads(payload, Outcome.CLAIMS_MALFORMED)
    except FormatError:
        return None


def _claim(raw: Any, label: int) -> Any:
    return raw.get(label) if isinstance(raw, Mapping) else None


def _claimed_iss(raw: Any) -> str | None:
    iss = _claim(raw, credential.CLAIM_ISS)
    return iss if type(iss) is str else None


def _signed(cose_bytes: bytes, trust: TrustList) -> tuple[KeyEntry, Any]:
    """COSE shape, algorithm, kid, signature, key status and the iat-in-key-window check (which
    come before the claims' own checks in the spec's order); returns the key and raw claims."""
    s1 = cose.parse_sign1(cose_bytes)
    raw = _payload_map(s1.payload)
    key = _verified_key(trust, s1.kid, s1.alg, s1.signature, s1.to_be_signed(), _claimed_iss(raw))
    _check_iat(key, _claim(raw, credential.CLAIM_IAT))
    return key, raw


def _check_field_kinds(ts: TypeSchema, fields: Mapping[str, Any]) -> None:
    """A byte string only for a property whose schema says ``contentEncoding: base16`` and such a
    property only as a byte string (the JSON/CBOR mapping of the spec, section 3): text sent as
    bytes (shown as hex) or a digest sent as text is not of the claims' shape."""
    bytes_fields = ts.bytes_fields
    for name, value in fields.items():
        if (type(value) is bytes) is not (name in bytes_fields):
            raise FormatError(Outcome.CLAIMS_MALFORMED, f"field {name} must be a byte string"
                              if name in bytes_fields else f"field {name} must not be a byte string")


def _times(iss: str, key: KeyEntry, iat: int, exp: int, nbf: int | None, now: int, skew: int) -> None:
    if iss != key.region:
        raise FormatError(Outcome.ISSUER_MISMATCH, f"iss {iss!r} is not the key's region {key.region}")
    if (nbf is not None and now < nbf) or iat > now + skew:
        raise FormatError(Outcome.NOT_YET_VALID, NOT_CURRENT[Outcome.NOT_YET_VALID])
    if now >= exp:
        raise FormatError(Outcome.EXPIRED, NOT_CURRENT[Outcome.EXPIRED])


try:
    from ..format._fast import decode_ec1 as _decode_ec1
except ImportError:  # the optional C extension was not built: the reference path does it all
    _decode_ec1 = None
_new_tuple = tuple.__new__


def _decoded(text: str, trust: TrustList, res: Result) -> tuple[KeyEntry, Claims, dict[str, Any] | None]:
    """Decoding and signature stages: the signing key, the claims and, when the fast path
    produced them, the fields in JSON form.

    The C fast path (``ecert._fast.decode_ec1``) reads well-formed texts in one call; it never
    names an error: for anything outside its strict subset it answers None and the reference
    decoders below decide, so every failure is named exactly as the spec's table says.
    """
    fast = _decode_ec1(text) if _decode_ec1 is not None else None
    if fast is None:
        key, raw = _signed(credential.decode_text(text), trust)
        res.key = key
        return key, credential.parse_claims(raw), None
    alg, kid, tbs, signature, payload, c = fast
    if c is None:  # the claims are outside the fast subset: the reference parser names the fault
        raw = _payload_map(payload)
        key = _verified_key(trust, kid, alg, signature, tbs, _claimed_iss(raw))
        _check_iat(key, _claim(raw, credential.CLAIM_IAT))
        res.key = key
        return key, credential.parse_claims(raw), None
    key = _verified_key(trust, kid, alg, signature, tbs, c[0])
    _check_iat(key, c[1])
    res.key = key
    return key, _new_tuple(Claims, c[:10]), c[10]


def _typed_fields(trust: TrustList, claims: Claims, fields: dict[str, Any] | None
                  ) -> tuple[TypeSchema, dict[str, Any]]:
    """The claims' type and their fields in JSON form, checked against the type's schema."""
    ts = trust.types.get((claims.type_id, claims.type_version))
    if ts is None:
        raise FormatError(Outcome.TYPE_UNKNOWN, f"type {claims.type_id} v{claims.type_version} is unknown")
    _check_field_kinds(ts, claims.fields)
    if fields is None:
        fields = to_json_fields(claims.fields)
    if not ts.is_valid(fields):
        raise FormatError(Outcome.SCHEMA_INVALID, "fields do not satisfy the type's schema")
    return ts, fields


def check_credential(text: str, trust: TrustList, now: int, skew: int = DEFAULT_SKEW) -> Result:
    """Every offline check of an EC1 text up to and including the schema and the document's own
    validity (the dates its type's ``x-validity`` names, in China time)."""
    res = Result(Outcome.VALID)
    fields = None
    try:
        key, claims, fields = _decoded(text, trust, res)
        res.claims = claims
        _times(claims.iss, key, claims.iat, claims.exp, claims.nbf, now, skew)
        ts, fields = _typed_fields(trust, claims, fields)
        res.type, res.fields = ts, fields
        outside = ts.document.check(fields, china_day(now))
        if outside is not None:
            res.outcome, res.detail, res.document = outside
    except FormatError as err:
        res.outcome, res.detail = err.outcome, err.message
        if err.outcome is Outcome.EXPIRED or err.outcome is Outcome.NOT_YET_VALID:
            _still_identify(res, trust, fields, now)
    return res


def _still_identify(res: Result, trust: TrustList, fields: dict[str, Any] | None, now: int) -> None:
    """A credential outside its own ``nbf``/``exp`` is still authentic: keep its type and fields
    (when they are of the type's shape) so the answer can say who it names, and the detail (and
    ``document``) the field when the document's own dates say the same (:func:`not_current_reason`)."""
    if res.claims is None:
        return
    try:
        res.type, res.fields = _typed_fields(trust, res.claims, fields)
    except FormatError:
        return  # not of its type's shape: nothing is shown
    res.detail, res.document = not_current_reason(res.outcome, res.type, res.fields, now)


def apply_acceptance(res: Result, rules: Rules, purpose: str, caller_region: str, now: int) -> Result:
    """After the status: whether the recognition rules accept the credential's type and issuing
    region for ``purpose`` and a caller of ``caller_region`` ("" for a caller bound to none);
    for an accepted one, its lapsed secondary dates as warnings."""
    res.purpose = purpose
    if not res.ok or res.claims is None or res.type is None or res.fields is None:
        return res
    claims = res.claims
    refusal = rules.refusal(purpose, claims.type_id, caller_region, claims.iss)
    if refusal is not None:
        res.outcome, res.detail = Outcome.NOT_ACCEPTED_FOR_PURPOSE, refusal
        return res
    return add_warnings(res, now)


def add_warnings(res: Result, now: int) -> Result:
    """A VALID credential's lapsed secondary dates (its type's ``x-deadlines``) as warnings."""
    if res.ok and res.type is not None and res.fields is not None:
        res.warnings = res.type.document.warnings(res.fields, china_day(now))
    return res


def status_usable(status_list: StatusList, now: int, skew: int = DEFAULT_SKEW) -> bool:
    """Whether ``status_list`` is within its validity at ``now``: issued no more than ``skew``
    seconds ahead of the clock (a list dated in the future is never trusted) and before its
    ``exp`` (draft-ietf-oauth-status-list: a list is trusted up to its ``exp``; its ``ttl`` only
    says when to fetch it again)."""
    return status_list.iat - skew <= now < status_list.exp


_STATUS_ANSWERS = {REVOKED: (Outcome.REVOKED, StatusAnswer.REVOKED), SUSPENDED: (Outcome.SUSPENDED, StatusAnswer.SUSPENDED)}


def apply_status(res: Result, status_list: StatusList | None, now: int, skew: int = DEFAULT_SKEW) -> Result:
    """The last check: the credential's entry in its status list, when that list is within its
    validity (:func:`status_usable`). Sets :attr:`Result.status`: ``not_tracked`` for a credential
    without a status claim (nothing can revoke it, so nothing was checked: ``status_checked``
    false), ``unknown`` when no usable list is held (the outcome stays as it was, the detail says
    why; ``status_as_of`` still gives the iat of the list held, to say how old it is), else what
    the list says. A credential that failed an earlier check never reaches this stage (``""``)."""
    claims = res.claims
    if not res.ok or claims is None:
        return res
    res.status_checked = False
    if claims.status_uri is None:
        res.status = StatusAnswer.NOT_TRACKED
        return res
    if status_list is None:
        res.status = StatusAnswer.UNKNOWN
        res.detail = "status list unavailable or stale"
        return res
    res.status_as_of = status_list.iat
    if not (status_list.iat - skew <= now < status_list.exp):  # status_usable, inline: the hot path
        res.status = StatusAnswer.UNKNOWN
        res.detail = "status list unavailable or stale"
        return res
    res.status_checked = True
    found = _STATUS_ANSWERS.get(status_list.get(claims.status_idx))
    if found is None:
        res.status = StatusAnswer.VALID
    else:
        res.outcome, res.status = found
        res.detail = NOT_CURRENT[res.outcome]
    return res


def verify(text: str, trust: TrustList, now: int, *,
           status_lists: Callable[[str], StatusList | None] = lambda uri: None,
           skew: int = DEFAULT_SKEW, purpose: str | None = None, caller_region: str = "") -> Result:
    """Recipe: verify an EC1 text completely, status lists looked up by uri; with a ``purpose``,
    judged by the trust list's recognition rules for it and a caller of ``caller_region``."""
    res = check_credential(text, trust, now, skew)
    if res.ok and res.claims is not None and res.claims.status_uri is not None:
        apply_status(res, status_lists(res.claims.status_uri), now, skew)
    else:
        apply_status(res, None, now, skew)
    if purpose is not None:
        return apply_acceptance(res, trust.acceptance, purpose, caller_region, now)
    return add_warnings(res, now)


def check_token(text: str, trust: TrustList, now: int, skew: int = DEFAULT_SKEW) -> Result:
    """EP1: signature and freshness offline; resolution is the issuing region's job."""
    res = Result(Outcome.VALID)
    try:
        key, raw = _signed(presentation.decode_text(text), trust)
        res.key = key
        tok = presentation.parse_claims(raw)
        res.token = tok
        _times(tok.iss, key, tok.iat, tok.exp, None, now, skew)
    except FormatError as err:
        res.outcome, res.detail = err.outcome, err.message
    return res


def check_any(text: str, trust: TrustList, now: int, skew: int = DEFAULT_SKEW) -> Result:
    if isinstance(text, str) and text.startswith(presentation.PREFIX):
        return check_token(text, trust, now, skew)
    return check_credential(text, trust, now, skew)
