"""The EC1 credential vectors: valid ones, at least one per offline outcome code, and the
document's own validity, its secondary dates and the recognition rules (issue 11)."""

from __future__ import annotations

import base64
import zlib

import cbor2

from ecert.format import (
    b45,
    cose,
    credential,
    keys,
    statuslist,
)
from ecert.rules import verify
from ecert.rules.document import day_end
from ecert.vocab import KEY_ROLES as ROLES
from testkit.samples import SAMPLES, citizen_id, driving_licence
from tests import forge
from tests.vectors.common import (
    BUSINESS,
    DAY,
    FJ,
    NOW,
    OUTSIDER,
    RESIDENT,
    SH,
    SH_REF,
    SH_REVOKED,
    SH_STATUS_URI,
    SIGNED_TRUST_V8,
    SKEW,
    TRUST,
    TRUST_V8,
    TRUST_VERSION,
    TYPES,
    YEAR,
    ZJ,
    ZJ_FUTURE,
    ZJ_LIST_STALE,
    ZJ_REF,
    ZJ_RETIRED,
    ZJ_SHARD_G,
    ZJ_SHARD_IDX,
    ZJ_SHARD_REF,
    ZJ_SHARD_URI,
    ZJ_STATUS_URI,
    add,
    context,
    cti_for,
    region_keys,
    status_ref,
)


def claims_json(c) -> dict:
    return {"iss": c.iss, "iat": c.iat, "exp": c.exp, "nbf": c.nbf, "cti": c.cti.hex(),
            "id": credential.cti_to_id(c.cti), "type": c.type_id, "version": c.type_version,
            "status": None if c.status_uri is None else {"uri": c.status_uri, "idx": c.status_idx}}


def warning_json(w) -> dict:
    return {"code": w.code, "field": w.field, "since": w.since}


def ec1(name: str, description: str, text: str, outcome: str, *, status_lists=(), spec: str = "",
        extension: bool = False, fields: dict | None = None, status_checked: bool | None = None,
        status: str | None = None, purpose: str | None = None, caller_region: str = "", now: int = NOW, v8: bool = False,
        detail_names: str | None = None, check: dict | None = None) -> None:
    """An EC1 vector; for VALID ones ``fields`` is the JSON form the issuer was given. With a
    ``purpose`` the recognition rules are judged for a caller of ``caller_region`` ("": bound to
    none). ``detail_names``: the field the answer's detail must name. ``check``: expectations
    stated by hand ({member: value}, or {member: {role: value}} for a role-keyed member), asserted
    against what the project answers so that a forging mistake stops the run."""
    lists = list(status_lists)
    res = run_ec1(text, lists, now=now, purpose=purpose, caller_region=caller_region, v8=v8)
    if res.outcome.value != outcome:
        raise AssertionError(f"ec1/{name}: the project answers {res.outcome.value} ({res.detail}), not {outcome}")
    expected: dict = {"outcome": outcome}
    if status_checked is not None:
        if res.status_checked != status_checked:
            raise AssertionError(f"ec1/{name}: status_checked is {res.status_checked}")
        expected["status_checked"] = status_checked
    if status is not None:  # what the answer says of the status (1.1): not_tracked, unknown, valid, ...
        if res.status != status:
            raise AssertionError(f"ec1/{name}: status is {res.status!r}")
        expected["status"] = status
    if detail_names is not None:
        if detail_names not in res.detail:
            raise AssertionError(f"ec1/{name}: the detail {res.detail!r} does not name {detail_names}")
        expected["detail_names"] = detail_names
    if res.document is not None:  # the document's own date decided: the field the detail names, and its date
        if res.document.field != detail_names or f"({res.document.date})" not in res.detail:
            raise AssertionError(f"ec1/{name}: document {res.document} is not what the detail names")
        expected["document"] = {"field": res.document.field, "date": res.document.date}
    if outcome == "VALID":
        assert fields is not None and res.fields == fields, name
        ts = res.type
        expected["claims"] = claims_json(res.claims)
        expected["fields"] = fields
        expected["disclosed"] = {role: ts.disclosed(role, fields) for role in ROLES}
        expected["display_id"] = ts.display_id(res.claims.iss, res.claims.id)
        expected["warnings"] = [warning_json(w) for w in res.warnings]
        if res.warnings:
            expected["shown_warnings"] = {role: [warning_json(w) for w in res.shown_warnings(res.shown(role))]
                                          for role in ROLES}
    else:
        assert not res.warnings, name
        shown = {role: res.shown(role) for role in ROLES}
        if res.outcome in verify.IDENTIFYING_OUTCOMES:
            expected["identified"] = shown
        else:
            assert shown == {role: {} for role in ROLES}, name  # forged or unreadable: nothing
            expected["shown"] = shown
    for member, want in (check or {}).items():
        got = expected.get(member)
        if isinstance(want, dict) and isinstance(got, dict) and member != "fields":
            got = {k: got.get(k) for k in want}
        if got != want:
            raise AssertionError(f"ec1/{name}: {member} is {expected.get(member)!r}, not {want!r}")
    expected["detail"] = res.detail
    if v8:
        ctx = context(lists, now=now, signed_trust=SIGNED_TRUST_V8, trust_version=TRUST_VERSION + 1,
                      purpose=purpose, caller_region=caller_region)
    else:
        ctx = context(lists, now=now, purpose=purpose, caller_region=caller_region)
    add("ec1", name, description, {"text": text}, expected, ctx=ctx, spec=spec, extension=extension)


def run_ec1(text: str, lists: list[dict], *, now: int = NOW, purpose: str | None = None, caller_region: str = "",
            v8: bool = False):
    trust = TRUST_V8 if v8 else TRUST
    parsed = {}
    for ref in lists:
        sl = statuslist.parse(base64.b64decode(ref["signed_b64"]), expected_uri=ref["uri"],
                              region_keys=region_keys(ref["region"]))
        parsed[ref["uri"]] = sl
    return verify.verify(text, trust, now, status_lists=parsed.get, skew=SKEW, purpose=purpose,
                         caller_region=caller_region)


def issue(key, iss: str, name: str, type_id: str, fields: dict, *, iat: int = NOW - 10 * DAY,
          exp: int | None = None, nbf: int | None = None, status: tuple[str, int] | None = None) -> str:
    ts = TYPES[(type_id, 1)]
    uri, idx = status if status else (None, None)
    return credential.issue(key, iss=iss, iat=iat, exp=iat + 6 * YEAR if exp is None else exp, nbf=nbf,
                            cti=cti_for(name), type_id=type_id, type_version=1, fields=ts.to_cbor(fields),
                            status_uri=uri, status_idx=idx)


def dl_claims(name: str, iss: str = "CN-ZJ", **kw) -> dict:
    """Driving-licence claims for hostile credentials (``tests.forge.claims``), fixed times and cti."""
    kw.setdefault("iat", NOW - 10 * DAY)
    kw.setdefault("exp", kw["iat"] + 6 * YEAR)
    return forge.claims(iss, cti=cti_for(name), **kw)


def zlib_cose(obj) -> str:
    return credential.encode_text(cbor2.dumps(obj))


def build_ec1() -> None:
    S3, S7 = "credential-format.md §3, §7", "credential-format.md §7"
    dl = driving_licence()

    # ---- VALID
    ec1("valid-es256-driving-licence",
        "A CN-ZJ driving licence signed with ES256, with a status-list entry (idx 4) that is 0 (valid).",
        issue(ZJ, "CN-ZJ", "valid-es256", "cn.driving_licence", dl, status=(ZJ_STATUS_URI, 4)),
        "VALID", status_lists=[ZJ_REF], fields=dl, status_checked=True, spec=S3)
    ec1("valid-eddsa-business-licence",
        "A CN-SH business licence signed with EdDSA (Ed25519), with nbf, without a status claim "
        "(nothing can revoke it: status not_tracked, status_checked false).",
        issue(SH, "CN-SH", "valid-eddsa", "cn.business_licence", BUSINESS, nbf=NOW - 10 * DAY),
        "VALID", fields=BUSINESS, status_checked=False, status="not_tracked", spec=S3)
    ec1("valid-eddsa-resident-id-status-checked",
        "A CN-SH resident identity card (EdDSA) whose entry idx 0 in the CN-SH status list is 0; the "
        "photo field is a 32-byte digest in CBOR, lower-case hex in the JSON fields.",
        issue(SH, "CN-SH", "valid-eddsa-resident", "cn.resident_id", RESIDENT, status=(SH_STATUS_URI, 0)),
        "VALID", status_lists=[SH_REF], fields=RESIDENT, status_checked=True, spec=S3)
    ec1("valid-retired-key-inside-window",
        "Signed by a CN-ZJ key that is now retired, with iat inside that key's window: still valid.",
        issue(ZJ_RETIRED, "CN-ZJ", "valid-retired", "cn.driving_licence", dl, iat=NOW - 2 * YEAR),
        "VALID", fields=dl, status_checked=False, status="not_tracked", spec="credential-format.md §6")
    untagged = cbor2.loads(credential.decode_text(
        issue(ZJ, "CN-ZJ", "valid-untagged", "cn.driving_licence", dl))).value
    ec1("valid-untagged-cose",
        "The same kind of credential, its COSE_Sign1 without CBOR tag 18: verifiers accept it untagged.",
        forge.wrap(cbor2.dumps(list(untagged))), "VALID", fields=dl, status_checked=False, status="not_tracked",
        spec=S3)
    ec1("valid-iat-at-skew-limit",
        "iat exactly 60 s (the clock skew) after now: still accepted.",
        issue(ZJ, "CN-ZJ", "valid-skew", "cn.driving_licence", dl, iat=NOW + SKEW, exp=NOW + YEAR),
        "VALID", fields=dl, status_checked=False, status="not_tracked", spec=S7)
    ec1("valid-status-list-stale",
        "A credential with a status entry whose only status list is past its exp: the answer stays VALID "
        "but says status_checked false.",
        issue(ZJ, "CN-ZJ", "valid-stale", "cn.driving_licence", dl, status=(ZJ_STATUS_URI, 5)),
        "VALID", status_lists=[status_ref("CN-ZJ", ZJ_STATUS_URI, ZJ_LIST_STALE)], fields=dl,
        status_checked=False, status="unknown", spec="credential-format.md §5")
    ec1("valid-status-list-unavailable",
        "A credential with a status entry and no status list at hand (the issuing region unreachable): "
        "VALID with status_checked false.",
        issue(ZJ, "CN-ZJ", "valid-no-list", "cn.driving_licence", dl, status=(ZJ_STATUS_URI, 4)),
        "VALID", fields=dl, status_checked=False, status="unknown", spec="credential-format.md §5",
        extension=True)

    good = issue(ZJ, "CN-ZJ", "base", "cn.driving_licence", dl)
    body = good[4:]

    # ---- PREFIX_UNKNOWN, BASE45_INVALID, PAYLOAD_TOO_LARGE, DECOMPRESS_FAILED
    ec1("prefix-unknown", "A valid credential body behind the prefix HC1: (EU DCC), not EC1:.",
        "HC1:" + body, "PREFIX_UNKNOWN", spec=S7, status_checked=False)
    ec1("prefix-lower-case", "The prefix in lower case (ec1:): this verifier's prefixes are case-sensitive.",
        "ec1:" + body, "PREFIX_UNKNOWN", spec=S7, extension=True)
    ec1("base45-invalid-character", "A character outside the Base45 alphabet (lower-case letters).",
        "EC1:" + body[:30] + "abc" + body[33:], "BASE45_INVALID", spec=S7)
    ec1("base45-invalid-length", "A Base45 body whose length leaves a single trailing character.",
        "EC1:" + body + "0" * ((1 - len(body)) % 3), "BASE45_INVALID", spec=S7)
    ec1("base45-group-overflow", "The group ':::' decodes to 91124, more than two bytes can hold.",
        "EC1:" + ":::" + body[3:], "BASE45_INVALID", spec=S7)
    ec1("payload-too-large-text", "4,297 characters of valid Base45 alphabet: one more than the largest QR code.",
        "EC1:" + "0" * 4293, "PAYLOAD_TOO_LARGE", spec=S3)
    ec1("payload-too-large-zlib-bomb", "A small zlib stream that inflates to 70,000 bytes, over the 64 KiB limit.",
        "EC1:" + b45.encode(zlib.compress(b"\0" * 70000, 9)), "PAYLOAD_TOO_LARGE", spec=S3)
    ec1("decompress-failed-not-zlib", "Base45 of bytes that are no zlib stream.",
        "EC1:" + b45.encode(b"this is not a zlib stream"), "DECOMPRESS_FAILED", spec=S7)
    raw_cose = credential.decode_text(good)
    zstream = zlib.compress(raw_cose)
    ec1("decompress-failed-truncated", "A zlib stream cut short (its last 10 bytes missing).",
        "EC1:" + b45.encode(zstream[:-10]), "DECOMPRESS_FAILED", spec=S7)
    ec1("decompress-failed-trailing-bytes", "A complete zlib stream followed by extra bytes.",
        "EC1:" + b45.encode(zstream + b"\0\0"), "DECOMPRESS_FAILED", spec=S7, extension=True)

    # ---- COSE_MALFORMED
    ec1("cose-malformed-not-array", "zlib of a CBOR map instead of a COSE_Sign1 array.",
        zlib_cose({"a": 1}), "COSE_MALFORMED", spec=S7)
    ec1("cose-malformed-wrong-tag", "A COSE_Sign1 array under CBOR tag 98 (COSE_Sign), not 18.",
        zlib_cose(cbor2.CBORTag(98, list(cbor2.loads(raw_cose).value))), "COSE_MALFORMED", spec=S3)
    payload = cbor2.dumps(dl_claims("kid-unprotected"))
    protected = cbor2.dumps({1: keys.ES256})
    sig = ZJ.sign(cose.sig_structure(protected, payload))
    ec1("cose-malformed-kid-unprotected", "kid only in the unprotected header (signature valid): the kid MUST be "
        "in the protected header.",
        zlib_cose(cbor2.CBORTag(18, [protected, {4: ZJ.kid}, payload, sig])), "COSE_MALFORMED", spec=S3)
    ec1("cose-malformed-trailing-bytes", "A valid COSE_Sign1 followed by one more CBOR byte inside the zlib stream.",
        credential.encode_text(raw_cose + b"\x00"), "COSE_MALFORMED", spec=S7, extension=True)

    # ---- ALG_NOT_ALLOWED
    ec1("alg-not-allowed-es384", "Protected header alg -35 (ES384): only ES256 (-7) and EdDSA (-8) are allowed.",
        forge.sign(ZJ, dl_claims("alg-es384"), alg=-35), "ALG_NOT_ALLOWED", spec="credential-format.md §2")
    payload = cbor2.dumps(dl_claims("alg-absent"))
    protected = cbor2.dumps({4: ZJ.kid})
    ec1("alg-not-allowed-absent", "No alg in the protected header (kid present): there is no unsigned mode.",
        zlib_cose(cbor2.CBORTag(18, [protected, {}, payload, ZJ.sign(cose.sig_structure(protected, payload))])),
        "ALG_NOT_ALLOWED", spec="credential-format.md §2")
    ec1("alg-not-allowed-mismatch", "alg EdDSA (-8) in the header with the kid of an ES256 key.",
        forge.sign(ZJ, dl_claims("alg-mismatch"), alg=keys.EDDSA), "ALG_NOT_ALLOWED",
        spec="credential-format.md §2")
    payload = cbor2.dumps(dl_claims("alg-unprotected"))
    ec1("alg-not-allowed-unprotected-only", "alg only in the unprotected header: it is never taken from there.",
        zlib_cose(cbor2.CBORTag(18, [cbor2.dumps({4: ZJ.kid}), {1: keys.ES256}, payload,
                                     ZJ.sign(cose.sig_structure(cbor2.dumps({4: ZJ.kid}), payload))])),
        "ALG_NOT_ALLOWED", spec=S3)

    # ---- KID_UNKNOWN, SIGNATURE_INVALID, KEY_REVOKED, KEY_NOT_VALID_AT_IAT
    ec1("kid-unknown", "Signed by a key that is in no region of the trust list.",
        forge.sign(OUTSIDER, dl_claims("kid-unknown")), "KID_UNKNOWN", spec=S7)
    ec1("signature-invalid-tampered", "A valid credential with one bit of its signature flipped.",
        forge.tamper_signature(good), "SIGNATURE_INVALID", spec=S7)
    ec1("signature-invalid-other-key", "Signed by an outside key under the kid of CN-ZJ's active key.",
        forge.sign(OUTSIDER, dl_claims("sig-other-key"), kid=ZJ.kid), "SIGNATURE_INVALID", spec=S7)
    ec1("signature-invalid-eddsa", "An EdDSA credential whose payload was changed after signing.",
        _swap_payload(issue(SH, "CN-SH", "sig-eddsa", "cn.business_licence", BUSINESS),
                      cbor2.dumps(forge.claims("CN-SH", type_id="cn.business_licence", fields=BUSINESS,
                                               iat=NOW - DAY, exp=NOW + YEAR, cti=cti_for("sig-eddsa")))),
        "SIGNATURE_INVALID", spec=S7)
    ec1("key-revoked", "Signed by CN-SH's revoked key (iat before revoked_at): a revoked key verifies nothing.",
        forge.sign(SH_REVOKED, forge.claims("CN-SH", type_id="cn.business_licence", fields=BUSINESS,
                                            iat=NOW - 60 * DAY, exp=NOW + YEAR, cti=cti_for("key-revoked"))),
        "KEY_REVOKED", spec="credential-format.md §6")
    ec1("key-not-valid-at-iat-before-nbf", "Signed by a CN-ZJ EdDSA key whose window starts in 30 days.",
        forge.sign(ZJ_FUTURE, dl_claims("iat-before-nbf", iat=NOW - DAY)), "KEY_NOT_VALID_AT_IAT", spec=S3)
    ec1("key-not-valid-at-iat-after-exp", "Signed by CN-ZJ's retired key with iat after that key's exp.",
        forge.sign(ZJ_RETIRED, dl_claims("iat-after-exp", iat=NOW - 100 * DAY)), "KEY_NOT_VALID_AT_IAT", spec=S3)

    # ---- CLAIMS_MALFORMED
    c = dl_claims("no-cti")
    del c[credential.CLAIM_CTI]
    ec1("claims-malformed-no-cti", "Signed claims without cti (7).", forge.sign(ZJ, c), "CLAIMS_MALFORMED", spec=S3)
    c = dl_claims("no-ecert")
    del c[credential.CLAIM_ECERT]
    ec1("claims-malformed-no-ecert-claim", "Signed claims without the ecert claim (-70000).",
        forge.sign(ZJ, c), "CLAIMS_MALFORMED", spec=S3)
    ec1("claims-malformed-not-a-map", "A signed payload that is a CBOR array, not a claims map.",
        forge.sign(ZJ, cbor2.dumps(["CN-ZJ", NOW])), "CLAIMS_MALFORMED", spec=S7)
    c = dl_claims("short-cti")
    c[credential.CLAIM_CTI] = b"\x01" * 8
    ec1("claims-malformed-short-cti", "cti of 8 bytes instead of 16.", forge.sign(ZJ, c), "CLAIMS_MALFORMED",
        spec=S3)
    c = dl_claims("status-shape")
    c[credential.CLAIM_STATUS] = {"status_list": {"idx": -1, "uri": ZJ_STATUS_URI}}
    ec1("claims-malformed-status-idx", "A status claim whose idx is negative.", forge.sign(ZJ, c),
        "CLAIMS_MALFORMED", spec=S3)
    c = dl_claims("float-field")
    c[credential.CLAIM_ECERT]["d"]["points"] = 1.5
    ec1("claims-malformed-float-field", "A field value that is a float: fields are text, integers, booleans, "
        "or byte strings.", forge.sign(ZJ, c), "CLAIMS_MALFORMED", spec=S3)
    build_strict_ec1()

    # ---- ISSUER_MISMATCH, NOT_YET_VALID, EXPIRED
    ec1("issuer-mismatch", "iss CN-SH on a credential signed by a CN-ZJ key.",
        forge.sign(ZJ, dl_claims("issuer-mismatch", iss="CN-SH")), "ISSUER_MISMATCH", spec=S3)
    ec1("not-yet-valid-nbf", "nbf one hour after now.",
        forge.sign(ZJ, dl_claims("nbf-future", nbf=NOW + 3600)), "NOT_YET_VALID", spec=S3)
    ec1("not-yet-valid-iat-beyond-skew", "iat 61 s after now: more than the 60 s clock skew.",
        forge.sign(ZJ, dl_claims("iat-future", iat=NOW + SKEW + 1, exp=NOW + YEAR)), "NOT_YET_VALID", spec=S7)
    ec1("expired", "exp one second before now.",
        forge.sign(ZJ, dl_claims("expired", iat=NOW - YEAR, exp=NOW - 1)), "EXPIRED", spec=S3)
    ec1("expired-at-exp", "exp equal to now: a credential is invalid at or after exp.",
        forge.sign(ZJ, dl_claims("expired-at", iat=NOW - YEAR, exp=NOW)), "EXPIRED", spec=S3)

    # ---- TYPE_UNKNOWN, SCHEMA_INVALID
    ec1("type-unknown", "Type cn.fishing_licence v1, which the trust list does not hold.",
        forge.sign(ZJ, dl_claims("type-unknown", type_id="cn.fishing_licence")), "TYPE_UNKNOWN", spec=S7)
    ec1("type-unknown-version", "cn.driving_licence at version 2: the trust list holds version 1 only.",
        forge.sign(ZJ, dl_claims("type-unknown-version", version=2)), "TYPE_UNKNOWN", spec=S7)
    ec1("schema-invalid-check-character", "A driving licence whose id_number has a wrong check character: "
        "caught by the schema's format cn-citizen-id (GB 11643 MOD 11-2), which a verifier must assert.",
        forge.sign(ZJ, dl_claims("schema-check", fields=driving_licence(id_number="330106199003071230"))),
        "SCHEMA_INVALID", spec=S7, extension=True)
    fields = driving_licence()
    del fields["file_number"]
    ec1("schema-invalid-missing-field", "A driving licence without the required field file_number.",
        forge.sign(ZJ, dl_claims("schema-missing", fields=fields)), "SCHEMA_INVALID", spec=S7)
    ec1("schema-invalid-date-order", "valid_until before valid_from (the schema's x-date-order).",
        forge.sign(ZJ, dl_claims("schema-order", fields=driving_licence(valid_until="2017-01-01"))),
        "SCHEMA_INVALID", spec=S7, extension=True)

    # ---- REVOKED, SUSPENDED
    ec1("revoked", "Status entry idx 5, which the CN-ZJ status list marks 1 (revoked).",
        issue(ZJ, "CN-ZJ", "revoked", "cn.driving_licence", dl, status=(ZJ_STATUS_URI, 5)), "REVOKED",
        status_lists=[ZJ_REF], status_checked=True, spec="credential-format.md §5")
    ec1("suspended", "Status entry idx 6, which the CN-ZJ status list marks 2 (suspended).",
        issue(ZJ, "CN-ZJ", "suspended", "cn.driving_licence", dl, status=(ZJ_STATUS_URI, 6)), "SUSPENDED",
        status_lists=[ZJ_REF], status_checked=True, spec="credential-format.md §5")
    ec1("revoked-eddsa", "An EdDSA CN-SH credential at idx 3, which the CN-SH status list marks 1 (revoked).",
        issue(SH, "CN-SH", "revoked-eddsa", "cn.business_licence", BUSINESS, status=(SH_STATUS_URI, 3)),
        "REVOKED", status_lists=[SH_REF], status_checked=True, spec="credential-format.md §5")
    ec1("revoked-in-shard-2", f"The region's credential number {ZJ_SHARD_G:,} (from 0): its status claim is in "
        f"the second shard, {ZJ_SHARD_URI} idx {ZJ_SHARD_IDX}, which that shard's list (2^20 entries) marks 1; "
        "CN-ZJ's first list is at hand too and says nothing of it.",
        issue(ZJ, "CN-ZJ", "revoked-shard-2", "cn.driving_licence", dl, status=(ZJ_SHARD_URI, ZJ_SHARD_IDX)),
        "REVOKED", status_lists=[ZJ_REF, ZJ_SHARD_REF], status_checked=True, status="revoked",
        spec="credential-format.md §5")

    # ---- order
    ec1("order-expired-before-revoked", "Expired and revoked: EXPIRED comes first in the table.",
        issue(ZJ, "CN-ZJ", "order-expired", "cn.driving_licence", dl, iat=NOW - YEAR, exp=NOW - DAY,
              status=(ZJ_STATUS_URI, 1)), "EXPIRED", status_lists=[ZJ_REF], status_checked=False, spec=S7)
    ec1("order-signature-before-claims", "Bad signature over malformed claims: SIGNATURE_INVALID comes first.",
        forge.tamper_signature(forge.sign(ZJ, cbor2.dumps([1, 2, 3]))), "SIGNATURE_INVALID", spec=S7)
    ec1("order-key-window-before-claims", "iat outside the key's window and no cti: KEY_NOT_VALID_AT_IAT first.",
        forge.sign(ZJ_RETIRED, {k: v for k, v in dl_claims("order-window", iat=NOW - 100 * DAY).items()
                                if k != credential.CLAIM_CTI}), "KEY_NOT_VALID_AT_IAT", spec=S7)
    ec1("order-issuer-before-expired", "iss of another region and expired: ISSUER_MISMATCH first.",
        forge.sign(ZJ, dl_claims("order-issuer", iss="CN-SH", iat=NOW - YEAR, exp=NOW - 1)), "ISSUER_MISMATCH",
        spec=S7)

    build_document_ec1()
    build_purpose_ec1()


def _swap_payload(text: str, new_payload: bytes) -> str:
    """The COSE_Sign1 of ``text`` with its payload replaced and the old signature kept."""
    obj = cbor2.loads(credential.decode_text(text))
    protected, _, _, sig = obj.value
    return forge.wrap(cbor2.dumps(cbor2.CBORTag(18, [protected, {}, new_payload, sig])))


def _signed_protected(name: str, protected: bytes) -> str:
    payload = cbor2.dumps(dl_claims(name))
    return zlib_cose(cbor2.CBORTag(18, [protected, {}, payload, ZJ.sign(cose.sig_structure(protected, payload))]))


def _extra_entry(name: str, raw: bytes) -> str:
    """Driving-licence claims with one more entry as raw CBOR (a dict would merge true and 1)."""
    good = cbor2.dumps(dl_claims(name))
    return forge.sign(ZJ, bytes([good[0] + 1]) + good[1:] + raw)


def build_strict_ec1() -> None:
    """Correctly signed credentials outside the formats' CBOR subset or number ranges."""
    S3, kid = "credential-format.md §3", b"\x04" + cbor2.dumps(ZJ.kid)
    header = [("true", b"\xa2\xf5\x26" + kid, "true (simple value 21)"),
              ("float", b"\xa2\xf9\x3c\x00\x26" + kid, "1.0 (a half-precision float)"),
              ("bignum", b"\xa2\xc2\x41\x01\x26" + kid, "the bignum 1 (tag 2)")]
    for tag, protected, what in header:
        ec1(f"cose-malformed-alg-key-{tag}", f"alg -7 under the map key {what} in the protected header (with kid): "
            "header labels are integers or text, so this is not alg.", _signed_protected(f"hdr-{tag}", protected),
            "COSE_MALFORMED", spec=S3, extension=True)
    ec1("cose-malformed-duplicate-header-key", "alg twice in the protected header.",
        _signed_protected("hdr-dup", b"\xa3\x01\x26\x01\x26" + kid), "COSE_MALFORMED", spec=S3, extension=True)
    ec1("claims-malformed-key-true", "One more claims entry under the map key true.",
        _extra_entry("claims-key-true", b"\xf5\x61x"), "CLAIMS_MALFORMED", spec=S3, extension=True)
    ec1("claims-malformed-duplicate-exp", "exp (4) twice in the claims map.",
        _extra_entry("claims-dup-exp", b"\x04\x00"), "CLAIMS_MALFORMED", spec=S3, extension=True)
    year_10000 = 253_402_300_800
    over = [("nbf-null", credential.CLAIM_NBF, None, "nbf null: nbf is an integer when present"),
            ("exp-year-10000", credential.CLAIM_EXP, year_10000, ("exp 10000-01-01T00:00:00Z: times are epoch "
                                                                  "seconds up to the end of 9999")),
            ("exp-before-1970", credential.CLAIM_EXP, -1, "exp -1: times are epoch seconds from 1970"),
            ("exp-2-63", credential.CLAIM_EXP, 2**63, "exp 2^63 (outside int64)"),
            ("iss-bytes", credential.CLAIM_ISS, b"CN-ZJ", "iss as a byte string: iss is text")]
    for name, label, value, what in over:
        c = dl_claims(name)
        c[label] = value
        ec1(f"claims-malformed-{name}", f"{what[0].upper()}{what[1:]}.", forge.sign(ZJ, c), "CLAIMS_MALFORMED",
            spec=S3, extension=name != "iss-bytes")
    c = dl_claims("version-2-70")
    c[credential.CLAIM_ECERT]["v"] = 2**70
    ec1("claims-malformed-type-version-2-70", "A type version of 2^70: versions are 1 to 10000.",
        forge.sign(ZJ, c), "CLAIMS_MALFORMED", spec=S3, extension=True)
    c = dl_claims("status-idx-huge")
    c[credential.CLAIM_STATUS] = {"status_list": {"idx": 2**64 - 1, "uri": ZJ_STATUS_URI}}
    ec1("claims-malformed-status-idx-huge", "A status idx of 2^64-1: past the largest status list (2^26 entries).",
        forge.sign(ZJ, c), "CLAIMS_MALFORMED", spec=S3, extension=True)
    c = dl_claims("text-as-bytes")
    c[credential.CLAIM_ECERT]["d"]["name"] = "王小明".encode()
    ec1("claims-malformed-text-field-as-bytes", "The text field name sent as a byte string (its UTF-8): a byte "
        "string is only for a property whose schema says contentEncoding base16.", forge.sign(ZJ, c),
        "CLAIMS_MALFORMED", spec=S3, extension=True)
    c = dl_claims("digest-as-text")
    c[credential.CLAIM_ECERT]["d"]["photo"] = c[credential.CLAIM_ECERT]["d"]["photo"].hex()
    ec1("claims-malformed-digest-field-as-text", "The photo digest sent as hex text instead of 32 bytes.",
        forge.sign(ZJ, c), "CLAIMS_MALFORMED", spec=S3, extension=True)


# ---------------------------------------------------------------------------------- issue 11

S8 = "credential-format.md §8"
LAST_DAY = "2025-12-31"  # a document's last valid day: it ends at 2026-01-01 00:00 +08:00, NOW - 8 h
FIRST_DAY = "2026-01-02"  # a document's first valid day: it starts at 2026-01-02 00:00 +08:00, NOW + 16 h
RESIDENT_EXPIRED = {**RESIDENT, "valid_from": "2005-01-01", "valid_until": "2015-01-01"}
RESIDENT_NOT_YET = {**RESIDENT, "valid_from": "2026-03-01", "valid_until": "2046-03-01"}
RESIDENT_LAST_DAY = {**RESIDENT, "valid_from": "2005-12-31", "valid_until": LAST_DAY}
RESIDENT_FIRST_DAY = {**RESIDENT, "valid_from": FIRST_DAY, "valid_until": "2046-01-02"}
RESIDENT_OPEN_END = {  # a card issued at 52: valid for the rest of the holder's life
    "name": "李建国", "sex": "男", "ethnicity": "汉", "birth_date": "1960-08-15",
    "address": "上海市黄浦区南京东路200号", "id_number": citizen_id("31010119600815221"),
    "issuing_authority": "上海市公安局黄浦分局", "valid_from": "2012-09-01", "valid_until": "长期",
    "photo": RESIDENT["photo"],
}
VEHICLE = SAMPLES["cn.vehicle_licence"]  # inspection due 2031-08-31
VEHICLE_OVERDUE = {**VEHICLE, "inspection_valid_until": "2025-08-31"}
VEHICLE_DUE_TODAY = {**VEHICLE, "inspection_valid_until": "2026-01-01"}  # NOW is 2026-01-01 08:00 in China
FJ_LICENCE = driving_licence(  # a Fujian driver's licence: CN-FJ is outside the agreement
    name="陈伟", birth_date="1988-04-12", id_number=citizen_id("35010219880412513"),
    address="福建省福州市鼓楼区示例路6号", issuing_authority="福建省福州市公安局交通警察支队",
    file_number="350100234567")
OVERDUE = {"code": "INSPECTION_OVERDUE", "field": "inspection_valid_until", "since": "2025-08-31"}


def build_document_ec1() -> None:
    """The document's own validity (x-validity) and secondary dates (x-deadlines), in China time."""
    res = "cn.resident_id"
    ec1("document-expired",
        "A CN-SH resident identity card whose own valid_until (2015-01-01) has passed, in a credential "
        "whose exp is six years ahead: EXPIRED, the detail naming valid_until. The card is authentic, so "
        "the answer still says who it names (hotel: the name).",
        issue(SH, "CN-SH", "document-expired", res, RESIDENT_EXPIRED), "EXPIRED", spec=S8,
        detail_names="valid_until", check={"identified": {"hotel": {"name": "张三"}, "integrator": {}}})
    ec1("document-not-yet-valid",
        "A resident identity card whose valid_from (2026-03-01) is two months ahead: NOT_YET_VALID, the "
        "detail naming valid_from.",
        issue(SH, "CN-SH", "document-not-yet-valid", res, RESIDENT_NOT_YET), "NOT_YET_VALID", spec=S8,
        detail_names="valid_from", check={"identified": {"hotel": {"name": "张三"}}})
    ec1("document-last-second-of-last-day",
        f"A resident identity card valid until {LAST_DAY}, verified at {LAST_DAY} 23:59:59 China time "
        "(UTC+8): the whole last day counts, VALID.",
        issue(SH, "CN-SH", "document-last-second", res, RESIDENT_LAST_DAY), "VALID",
        fields=RESIDENT_LAST_DAY, now=day_end(LAST_DAY) - 1, spec=S8, extension=True)
    ec1("document-first-second-after-last-day",
        "The same card one second later, at 2026-01-01 00:00:00 China time (2025-12-31T16:00:00Z): "
        "EXPIRED, the detail naming valid_until.",
        issue(SH, "CN-SH", "document-after-last-day", res, RESIDENT_LAST_DAY), "EXPIRED",
        now=day_end(LAST_DAY), detail_names="valid_until", spec=S8, extension=True)
    ec1("document-last-second-before-first-day",
        f"A resident identity card valid from {FIRST_DAY}, verified at 2026-01-01 23:59:59 China time: "
        "NOT_YET_VALID, the detail naming valid_from.",
        issue(SH, "CN-SH", "document-before-first-day", res, RESIDENT_FIRST_DAY), "NOT_YET_VALID",
        now=day_end("2026-01-01") - 1, detail_names="valid_from", spec=S8, extension=True)
    ec1("document-first-second-of-first-day",
        f"The same card one second later, at {FIRST_DAY} 00:00:00 China time: VALID.",
        issue(SH, "CN-SH", "document-first-day", res, RESIDENT_FIRST_DAY), "VALID", fields=RESIDENT_FIRST_DAY,
        now=day_end("2026-01-01"), spec=S8, extension=True)
    ec1("document-open-end",
        "A resident identity card whose valid_until is 长期 (no end, the schema's x-validity open_end): VALID.",
        issue(SH, "CN-SH", "document-open-end", res, RESIDENT_OPEN_END), "VALID", fields=RESIDENT_OPEN_END,
        spec=S8, extension=True)
    ec1("warning-inspection-overdue",
        "A CN-SH vehicle licence whose inspection_valid_until (2025-08-31, a secondary date: x-deadlines) has "
        "lapsed, checked by a CN-ZJ caller for roadside_vehicle_check: VALID with the warning "
        "INSPECTION_OVERDUE, shown to the roles that may see inspection_valid_until (police, not a hotel).",
        issue(SH, "CN-SH", "inspection-overdue", "cn.vehicle_licence", VEHICLE_OVERDUE), "VALID",
        fields=VEHICLE_OVERDUE, purpose="roadside_vehicle_check", caller_region="CN-ZJ", spec=S8, extension=True,
        check={"warnings": [OVERDUE], "shown_warnings": {"traffic_police": [OVERDUE], "hotel": []}})
    ec1("warning-inspection-due-today",
        "A vehicle licence whose inspection is due today (2026-01-01 in China): not lapsed yet, VALID "
        "without warnings.",
        issue(SH, "CN-SH", "inspection-due-today", "cn.vehicle_licence", VEHICLE_DUE_TODAY), "VALID",
        fields=VEHICLE_DUE_TODAY, spec=S8, extension=True, check={"warnings": []})
    ec1("warning-inspection-overdue-no-purpose",
        "The overdue vehicle licence verified without a purpose (no recognition rules judged): VALID with "
        "the warning.",
        issue(SH, "CN-SH", "inspection-overdue-np", "cn.vehicle_licence", VEHICLE_OVERDUE), "VALID",
        fields=VEHICLE_OVERDUE, spec=S8, extension=True, check={"warnings": [OVERDUE]})


def build_purpose_ec1() -> None:
    """The recognition rules in the trust list: which types a purpose accepts, which regions a
    caller's region recognises, and where NOT_ACCEPTED_FOR_PURPOSE sits in the order."""
    ec1("accepted-hotel-check-in-resident-id",
        "A CN-SH resident identity card checked for hotel_check_in by a hotel bound to no region (the "
        "rules' \"*\" entry): accepted, VALID.",
        issue(SH, "CN-SH", "hotel-resident", "cn.resident_id", RESIDENT), "VALID", fields=RESIDENT,
        purpose="hotel_check_in", caller_region="", spec=S8)
    dl = driving_licence()
    ec1("accepted-roadside-driver-check",
        "A CN-ZJ driving licence checked for roadside_driver_check by a CN-SH caller: both regions are in "
        "the agreement, VALID.",
        issue(ZJ, "CN-ZJ", "roadside-driver", "cn.driving_licence", dl), "VALID", fields=dl,
        purpose="roadside_driver_check", caller_region="CN-SH", spec=S8)
    ec1("not-accepted-hotel-vehicle-licence",
        "A genuine, current CN-SH vehicle licence checked for hotel_check_in: the purpose does not accept "
        "the type, NOT_ACCEPTED_FOR_PURPOSE; a hotel is shown nothing of it (a vehicle names no guest).",
        issue(SH, "CN-SH", "hotel-vehicle", "cn.vehicle_licence", VEHICLE), "NOT_ACCEPTED_FOR_PURPOSE",
        purpose="hotel_check_in", caller_region="", spec=S8,
        check={"identified": {"hotel": {}, "traffic_police": {
            "plate_number": VEHICLE["plate_number"], "vehicle_type": VEHICLE["vehicle_type"],
            "owner": VEHICLE["owner"], "vin": VEHICLE["vin"]}}})
    ec1("not-accepted-hotel-driving-licence",
        "A genuine, current CN-ZJ driving licence checked for hotel_check_in by a CN-ZJ hotel: not an "
        "identity document for that purpose, NOT_ACCEPTED_FOR_PURPOSE; the hotel still learns the name.",
        issue(ZJ, "CN-ZJ", "hotel-driving", "cn.driving_licence", dl), "NOT_ACCEPTED_FOR_PURPOSE",
        purpose="hotel_check_in", caller_region="CN-ZJ", spec=S8,
        check={"identified": {"hotel": {"name": dl["name"]}}})
    ec1("not-accepted-hotel-business-licence",
        "A CN-SH business licence checked for hotel_check_in: NOT_ACCEPTED_FOR_PURPOSE, nothing shown to a "
        "hotel.",
        issue(SH, "CN-SH", "hotel-business", "cn.business_licence", BUSINESS), "NOT_ACCEPTED_FOR_PURPOSE",
        purpose="hotel_check_in", caller_region="", spec=S8, check={"identified": {"hotel": {}}})
    ec1("not-accepted-region-outside-agreement",
        "A genuine driving licence of CN-FJ (a region in the trust list, outside the agreement) checked for "
        "roadside_driver_check by a CN-ZJ caller: CN-ZJ does not recognise CN-FJ, NOT_ACCEPTED_FOR_PURPOSE.",
        issue(FJ, "CN-FJ", "region-outside", "cn.driving_licence", FJ_LICENCE), "NOT_ACCEPTED_FOR_PURPOSE",
        purpose="roadside_driver_check", caller_region="CN-ZJ", spec=S8,
        check={"identified": {"traffic_police": {k: FJ_LICENCE[k] for k in
                                                 ("name", "sex", "id_number", "file_number", "photo")}}})
    ec1("not-accepted-region-outside-agreement-no-region",
        "The CN-FJ driving licence checked for general by a caller bound to no region (the \"*\" entry, "
        "which lists the four agreement regions): NOT_ACCEPTED_FOR_PURPOSE.",
        issue(FJ, "CN-FJ", "region-outside-star", "cn.driving_licence", FJ_LICENCE), "NOT_ACCEPTED_FOR_PURPOSE",
        purpose="general", caller_region="", spec=S8)
    ec1("valid-region-outside-agreement-no-purpose",
        "The CN-FJ driving licence verified without a purpose: no recognition rules are judged, VALID.",
        issue(FJ, "CN-FJ", "region-outside-np", "cn.driving_licence", FJ_LICENCE), "VALID", fields=FJ_LICENCE,
        spec=S8)
    ec1("not-accepted-caller-outside-agreement",
        "A CN-ZJ driving licence checked for roadside_driver_check by a CN-FJ caller: the rules hold no entry "
        "for CN-FJ, so it recognises no region yet, NOT_ACCEPTED_FOR_PURPOSE.",
        issue(ZJ, "CN-ZJ", "caller-outside", "cn.driving_licence", dl), "NOT_ACCEPTED_FOR_PURPOSE",
        purpose="roadside_driver_check", caller_region="CN-FJ", spec=S8, extension=True)
    ec1("accepted-region-recognised-after-change",
        f"The CN-FJ driving licence checked by a CN-ZJ caller against trust list v{TRUST_VERSION + 1}, in which "
        "an admin has recorded that CN-ZJ recognises CN-FJ: VALID. The rules come from the signed list, not "
        "from the verifier.",
        issue(FJ, "CN-FJ", "region-recognised", "cn.driving_licence", FJ_LICENCE), "VALID", fields=FJ_LICENCE,
        purpose="roadside_driver_check", caller_region="CN-ZJ", v8=True, spec=S8)
    ec1("not-accepted-purpose-not-in-rules",
        "A CN-ZJ driving licence judged for a purpose the rules do not name (fishing_check): a purpose absent "
        "from the rules accepts nothing, NOT_ACCEPTED_FOR_PURPOSE. (The project's services refuse an unknown "
        "purpose before verifying: 400 PURPOSE_UNKNOWN.)",
        issue(ZJ, "CN-ZJ", "purpose-absent", "cn.driving_licence", dl), "NOT_ACCEPTED_FOR_PURPOSE",
        purpose="fishing_check", caller_region="CN-ZJ", spec=S8, extension=True)

    # ---- order
    ec1("order-revoked-before-not-accepted",
        "A revoked CN-ZJ driving licence (idx 9, marked 1) checked for hotel_check_in: REVOKED comes before "
        "NOT_ACCEPTED_FOR_PURPOSE; the hotel still learns the name.",
        issue(ZJ, "CN-ZJ", "order-revoked-nafp", "cn.driving_licence", dl, status=(ZJ_STATUS_URI, 9)), "REVOKED",
        status_lists=[ZJ_REF], status_checked=True, purpose="hotel_check_in", caller_region="", spec=S8,
        check={"identified": {"hotel": {"name": dl["name"]}}})
    ec1("order-suspended-before-not-accepted",
        "A suspended CN-ZJ driving licence (idx 10, marked 2) checked by a CN-FJ caller, whose region "
        "recognises none: SUSPENDED comes before NOT_ACCEPTED_FOR_PURPOSE.",
        issue(ZJ, "CN-ZJ", "order-suspended-nafp", "cn.driving_licence", dl, status=(ZJ_STATUS_URI, 10)),
        "SUSPENDED", status_lists=[ZJ_REF], status_checked=True, purpose="roadside_driver_check",
        caller_region="CN-FJ", spec=S8)
    bad_number = {**RESIDENT_EXPIRED, "id_number": "310104199003071231"}  # check character should be X
    ec1("order-schema-invalid-before-document-expired",
        "A resident identity card whose valid_until (2015-01-01) has passed and whose id_number has a wrong "
        "check character: SCHEMA_INVALID first (a document that fails its schema has no dates to trust); "
        "nothing is shown.",
        forge.sign(SH, forge.claims("CN-SH", type_id="cn.resident_id", fields=bad_number, iat=NOW - 10 * DAY,
                                    exp=NOW + YEAR, cti=cti_for("order-schema-document"))),
        "SCHEMA_INVALID", spec=S8, extension=True)
    ec1("order-document-expired-before-revoked",
        "A resident identity card past its valid_until whose CN-SH status entry (idx 3) is revoked: the "
        "document's EXPIRED comes first (the status is not reached: status_checked false).",
        issue(SH, "CN-SH", "order-document-revoked", "cn.resident_id", RESIDENT_EXPIRED,
              status=(SH_STATUS_URI, 3)), "EXPIRED", status_lists=[SH_REF], status_checked=False,
        detail_names="valid_until", spec=S8)
    dl_expired = driving_licence(valid_from="2013-05-20", valid_until="2019-05-20")
    ec1("order-document-expired-before-not-accepted",
        "A driving licence past its valid_until (2019-05-20) checked for hotel_check_in: EXPIRED comes "
        "before NOT_ACCEPTED_FOR_PURPOSE; the hotel learns the name.",
        issue(ZJ, "CN-ZJ", "order-document-nafp", "cn.driving_licence", dl_expired), "EXPIRED",
        purpose="hotel_check_in", caller_region="", detail_names="valid_until", spec=S8,
        check={"identified": {"hotel": {"name": dl["name"]}}})
    ec1("order-cwt-expired-before-not-accepted",
        "A driving licence whose credential exp passed yesterday, checked for hotel_check_in: EXPIRED (the "
        "CWT's) comes first, and the identifying fields are still given (hotel: the name; police: theirs).",
        issue(ZJ, "CN-ZJ", "order-cwt-nafp", "cn.driving_licence", dl, iat=NOW - YEAR, exp=NOW - DAY), "EXPIRED",
        purpose="hotel_check_in", caller_region="CN-ZJ", spec=S8,
        check={"identified": {"hotel": {"name": dl["name"]}, "integrator": {},
                              "traffic_police": {k: dl[k] for k in ("name", "sex", "id_number", "file_number",
                                                                    "photo")}}})
    ec1("order-not-accepted-before-warnings",
        "The overdue vehicle licence checked for hotel_check_in: NOT_ACCEPTED_FOR_PURPOSE, and an answer that "
        "is not VALID carries no warnings.",
        issue(SH, "CN-SH", "order-nafp-warning", "cn.vehicle_licence", VEHICLE_OVERDUE), "NOT_ACCEPTED_FOR_PURPOSE",
        purpose="hotel_check_in", caller_region="", spec=S8, extension=True)
