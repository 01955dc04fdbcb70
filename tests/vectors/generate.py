"""Write the conformance vectors in ``tests/vectors/`` with the project's own code.

    .venv/bin/python tests/vectors/generate.py

Keys come from fixed seeds (Ed25519) and fixed private numbers (P-256), times are fixed and
every credential id is derived from the vector's name, so a run gives the same keys, texts and
expectations every time. ECDSA signatures are randomised: ES256 signatures (and so the texts of
ES256 vectors and the signed trust list) change from run to run, which is fine, since the files
are committed. Every vector is checked against the project's verification before it is written:
a forging mistake stops the run.

The committed files are the vectors; ``tests/test_vectors.py`` reads them and never runs this.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import cbor2
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from ecert.format import (  # noqa: E402
    b45,
    cose,
    credential,
    keys,
    presentation,
    statuslist,
    trustlist,
)
from ecert.rules import catalogue, verify  # noqa: E402
from ecert.rules.trust import TrustList  # noqa: E402
from testkit.samples import PHOTO, driving_licence  # noqa: E402
from tests import forge  # noqa: E402

FORMAT = "ecert-conformance-vector/1"
NOW = 1767225600  # 2026-01-01T00:00:00Z, the verification time of every vector
SKEW = 60
DAY = 86400
YEAR = 365 * DAY
TRUST_VERSION = 7
ZJ_STATUS_URI = "urn:ecert:status:CN-ZJ:1"
SH_STATUS_URI = "urn:ecert:status:CN-SH:1"
ROLES = ("admin", "agency", "hotel", "traffic_police", "integrator")

# ---------------------------------------------------------------------------------- keys

_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def es256_key(label: str):
    secret = int.from_bytes(hashlib.sha256(f"ecert vectors {label}".encode()).digest(), "big")
    return keys.SigningKey(keys.ES256, ec.derive_private_key(secret % (_P256_ORDER - 1) + 1, ec.SECP256R1()))


def eddsa_key(label: str):
    seed = hashlib.sha256(f"ecert vectors {label}".encode()).digest()
    return keys.SigningKey(keys.EDDSA, ed25519.Ed25519PrivateKey.from_private_bytes(seed))


ROOT_KEY = es256_key("registry root")
ROGUE_ROOT = es256_key("rogue root")
OUTSIDER = es256_key("outsider (in no trust list)")
ZJ = es256_key("CN-ZJ active")
ZJ_RETIRED = es256_key("CN-ZJ retired")
ZJ_FUTURE = eddsa_key("CN-ZJ not yet valid")
SH = eddsa_key("CN-SH active")
SH_REVOKED = es256_key("CN-SH revoked")

# (key, region, status, nbf, exp, revoked_at): what the registry holds
KEY_TABLE = [
    (ZJ, "CN-ZJ", "active", NOW - 400 * DAY, NOW + 10 * YEAR, None),
    (ZJ_RETIRED, "CN-ZJ", "retired", NOW - 4 * YEAR, NOW - 400 * DAY, None),
    (ZJ_FUTURE, "CN-ZJ", "active", NOW + 30 * DAY, NOW + 10 * YEAR, None),
    (SH, "CN-SH", "active", NOW - 400 * DAY, NOW + 10 * YEAR, None),
    (SH_REVOKED, "CN-SH", "revoked", NOW - 2 * YEAR, NOW + 8 * YEAR, NOW - 30 * DAY),
]
REGIONS = [
    {"code": "CN-SH", "name": "上海市 / Shanghai", "endpoint": "issuer.cn-sh.example:50061"},
    {"code": "CN-ZJ", "name": "浙江省 / Zhejiang", "endpoint": "issuer.cn-zj.example:50061"},
]
TYPE_IDS = ("cn.business_licence", "cn.driving_licence", "cn.resident_id")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def key_json(k, **extra) -> dict:
    return {"kid": k.kid.hex(), "alg": keys.ALG_NAMES[k.alg], "alg_id": k.alg, "spki_b64": b64(k.spki), **extra}


def root_json(k) -> dict:
    return {**key_json(k), "pem": keys.public_pem(k.public).decode()}


def trust_payload(version: int = TRUST_VERSION, key_table=KEY_TABLE) -> dict:
    stored_keys = [{"region": region, "kid": k.kid.hex(), "alg": k.alg, "spki": b64(k.spki), "nbf": nbf,
                    "exp": exp, "status": status, "revoked_at": revoked_at}
                   for k, region, status, nbf, exp, revoked_at in key_table]
    types = [t for t in catalogue.builtin_types() if t["id"] in TYPE_IDS]
    return trustlist.build_payload(version=version, iat=NOW - 3600, exp=NOW + 30 * DAY, regions=REGIONS,
                                   keys=stored_keys, types=types)


PAYLOAD = trust_payload()
SIGNED_TRUST = trustlist.sign(ROOT_KEY, PAYLOAD)
# The trust list as the verification recipe reads it (with compiled type schemas).
TRUST = TrustList.from_signed(SIGNED_TRUST, ROOT_KEY.public)
TYPES = TRUST.types


def context(status_lists: list[dict] | None = None) -> dict:
    return {
        "now": NOW, "skew": SKEW,
        "root_key": root_json(ROOT_KEY),
        "trust_list": {"signed_b64": b64(SIGNED_TRUST), "version": TRUST_VERSION},
        "keys": [key_json(k, region=region, status=status, nbf=nbf, exp=exp, revoked_at=revoked_at)
                 for k, region, status, nbf, exp, revoked_at in KEY_TABLE],
        "status_lists": status_lists or [],
    }


# ---------------------------------------------------------------------------------- status lists

ZJ_ENTRIES = [(1, 1), (2, 2), (5, 1), (6, 2), (9, 1), (10, 2), (11, 1), (12, 2)]  # others 0
ZJ_SIZE = 16
SH_ENTRIES = [(3, 1), (7, 2)]
SH_SIZE = 8


def signed_status(key, uri: str, entries, size: int, *, iat: int = NOW - 600, exp: int = NOW + 3000,
                  ttl: int = 10) -> bytes:
    return statuslist.sign(key, uri=uri, bits=statuslist.build_bits(entries, size), iat=iat, exp=exp, ttl=ttl)


ZJ_LIST = signed_status(ZJ, ZJ_STATUS_URI, ZJ_ENTRIES, ZJ_SIZE)
ZJ_LIST_STALE = signed_status(ZJ, ZJ_STATUS_URI, ZJ_ENTRIES, ZJ_SIZE, iat=NOW - 7200, exp=NOW - 3600)
SH_LIST = signed_status(SH, SH_STATUS_URI, SH_ENTRIES, SH_SIZE)


def status_ref(region: str, uri: str, signed: bytes) -> dict:
    return {"uri": uri, "region": region, "signed_b64": b64(signed)}


ZJ_REF = status_ref("CN-ZJ", ZJ_STATUS_URI, ZJ_LIST)
SH_REF = status_ref("CN-SH", SH_STATUS_URI, SH_LIST)

# ---------------------------------------------------------------------------------- fields

BUSINESS = {
    "uscc": "91310115MA1K3Y5B21", "name": "上海示例科技有限公司",
    "entity_type": "有限责任公司（自然人投资或控股）", "legal_representative": "王五",
    "registered_capital": "人民币100.0000万元整", "established_date": "2018-01-15",
    "business_term_from": "2018-01-15", "business_term_until": "长期",
    "address": "中国（上海）自由贸易试验区示例路88号", "business_scope": "从事计算机科技领域内的技术开发、技术咨询。",
    "registration_authority": "上海市浦东新区市场监督管理局", "registration_date": "2023-06-30",
}
RESIDENT = {
    "name": "张三", "sex": "男", "ethnicity": "汉", "birth_date": "1990-03-07",
    "address": "上海市徐汇区漕溪北路100号", "id_number": "31010419900307123X",
    "issuing_authority": "上海市公安局徐汇分局", "valid_from": "2015-06-01",
    "valid_until": "2035-06-01", "photo": PHOTO,
}


def cti_for(name: str) -> bytes:
    return hashlib.sha256(f"ecert vectors cti {name}".encode()).digest()[:16]


# ---------------------------------------------------------------------------------- building

VECTORS: list[dict] = []


def add(kind: str, name: str, description: str, input_: dict, expected: dict, *, ctx: dict | None = None,
        spec: str = "", extension: bool = False) -> None:
    vec = {"format": FORMAT, "id": f"{kind}/{name}", "kind": kind, "description": description,
           "spec": spec, "extension": extension, "input": input_}
    if ctx is not None:
        vec["context"] = ctx
    vec["expected"] = expected
    VECTORS.append(vec)


def claims_json(c) -> dict:
    return {"iss": c.iss, "iat": c.iat, "exp": c.exp, "nbf": c.nbf, "cti": c.cti.hex(),
            "id": credential.cti_to_id(c.cti), "type": c.type_id, "version": c.type_version,
            "status": None if c.status_uri is None else {"uri": c.status_uri, "idx": c.status_idx}}


def ec1(name: str, description: str, text: str, outcome: str, *, status_lists=(), spec: str = "",
        extension: bool = False, fields: dict | None = None, status_checked: bool | None = None) -> None:
    """An EC1 vector; for VALID ones ``fields`` is the JSON form the issuer was given."""
    lists = list(status_lists)
    res = run_ec1(text, lists)
    if res.outcome.value != outcome:
        raise AssertionError(f"ec1/{name}: the project answers {res.outcome.value} ({res.detail}), not {outcome}")
    expected: dict = {"outcome": outcome}
    if status_checked is not None:
        if res.status_checked != status_checked:
            raise AssertionError(f"ec1/{name}: status_checked is {res.status_checked}")
        expected["status_checked"] = status_checked
    if outcome == "VALID":
        assert fields is not None and res.fields == fields, name
        ts = res.type
        expected["claims"] = claims_json(res.claims)
        expected["fields"] = fields
        expected["disclosed"] = {role: ts.disclosed(role, fields) for role in ROLES}
        expected["display_id"] = ts.display_id(res.claims.iss, res.claims.id)
    expected["detail"] = res.detail
    add("ec1", name, description, {"text": text}, expected, ctx=context(lists), spec=spec, extension=extension)


def region_keys(region: str) -> dict:
    out: dict = {}
    for k in TRUST.regions[region].keys:
        out.setdefault(k.kid, []).append(k)
    return out


def run_ec1(text: str, lists: list[dict]):
    parsed = {}
    for ref in lists:
        sl = statuslist.parse(base64.b64decode(ref["signed_b64"]), expected_uri=ref["uri"],
                              region_keys=region_keys(ref["region"]))
        parsed[ref["uri"]] = sl
    return verify.verify(text, TRUST, NOW, status_lists=parsed.get, skew=SKEW)


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
        "(nothing to check: status_checked is true).",
        issue(SH, "CN-SH", "valid-eddsa", "cn.business_licence", BUSINESS, nbf=NOW - 10 * DAY),
        "VALID", fields=BUSINESS, status_checked=True, spec=S3)
    ec1("valid-eddsa-resident-id-status-checked",
        "A CN-SH resident identity card (EdDSA) whose entry idx 0 in the CN-SH status list is 0; the "
        "photo field is a 32-byte digest in CBOR, lower-case hex in the JSON fields.",
        issue(SH, "CN-SH", "valid-eddsa-resident", "cn.resident_id", RESIDENT, status=(SH_STATUS_URI, 0)),
        "VALID", status_lists=[SH_REF], fields=RESIDENT, status_checked=True, spec=S3)
    ec1("valid-retired-key-inside-window",
        "Signed by a CN-ZJ key that is now retired, with iat inside that key's window: still valid.",
        issue(ZJ_RETIRED, "CN-ZJ", "valid-retired", "cn.driving_licence", dl, iat=NOW - 2 * YEAR),
        "VALID", fields=dl, status_checked=True, spec="credential-format.md §6")
    untagged = cbor2.loads(credential.decode_text(
        issue(ZJ, "CN-ZJ", "valid-untagged", "cn.driving_licence", dl))).value
    ec1("valid-untagged-cose",
        "The same kind of credential, its COSE_Sign1 without CBOR tag 18: verifiers accept it untagged.",
        forge.wrap(cbor2.dumps(list(untagged))), "VALID", fields=dl, status_checked=True, spec=S3)
    ec1("valid-iat-at-skew-limit",
        "iat exactly 60 s (the clock skew) after now: still accepted.",
        issue(ZJ, "CN-ZJ", "valid-skew", "cn.driving_licence", dl, iat=NOW + SKEW, exp=NOW + YEAR),
        "VALID", fields=dl, status_checked=True, spec=S7)
    ec1("valid-status-list-stale",
        "A credential with a status entry whose only status list is past its exp: the answer stays VALID "
        "but says status_checked false.",
        issue(ZJ, "CN-ZJ", "valid-stale", "cn.driving_licence", dl, status=(ZJ_STATUS_URI, 5)),
        "VALID", status_lists=[status_ref("CN-ZJ", ZJ_STATUS_URI, ZJ_LIST_STALE)], fields=dl,
        status_checked=False, spec="credential-format.md §5")
    ec1("valid-status-list-unavailable",
        "A credential with a status entry and no status list at hand (the issuing region unreachable): "
        "VALID with status_checked false.",
        issue(ZJ, "CN-ZJ", "valid-no-list", "cn.driving_licence", dl, status=(ZJ_STATUS_URI, 4)),
        "VALID", fields=dl, status_checked=False, spec="credential-format.md §5", extension=True)

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


def _swap_payload(text: str, new_payload: bytes) -> str:
    """The COSE_Sign1 of ``text`` with its payload replaced and the old signature kept."""
    obj = cbor2.loads(credential.decode_text(text))
    protected, _, _, sig = obj.value
    return forge.wrap(cbor2.dumps(cbor2.CBORTag(18, [protected, {}, new_payload, sig])))


# ---------------------------------------------------------------------------------- EP1

def ep1(name: str, description: str, text: str, outcome: str, *, spec: str = "credential-format.md §4",
        extension: bool = False) -> None:
    res = verify.check_token(text, TRUST, NOW, SKEW)
    if res.outcome.value != outcome:
        raise AssertionError(f"ep1/{name}: the project answers {res.outcome.value} ({res.detail}), not {outcome}")
    expected: dict = {"outcome": outcome}
    if outcome == "VALID":
        t = res.token
        expected["token"] = {"iss": t.iss, "iat": t.iat, "exp": t.exp, "cti": t.cti.hex(),
                             "credential_cti": t.credential_cti.hex(),
                             "credential_id": credential.cti_to_id(t.credential_cti)}
        expected["next_step"] = ("online: resolve through the issuing region (once; a second resolution is "
                                 "TOKEN_ALREADY_USED)")
    expected["detail"] = res.detail
    add("ep1", name, description, {"text": text}, expected, ctx=context(), spec=spec, extension=extension)


def ep1_raw(key, claims: dict, **overrides) -> str:
    return presentation.PREFIX + b45.encode(cose.sign1(key, cbor2.dumps(claims), **overrides))


def build_ep1() -> None:
    cred = cti_for("valid-es256")
    tok, _ = presentation.issue(ZJ, iss="CN-ZJ", credential_cti=cred, now=NOW - 30, cti=cti_for("ep1-valid"))
    ep1("valid-es256", "A CN-ZJ presentation token (ES256) issued 30 s ago, valid for 300 s.", tok, "VALID")
    tok_sh, _ = presentation.issue(SH, iss="CN-SH", credential_cti=cti_for("valid-eddsa"), now=NOW - 5,
                                   cti=cti_for("ep1-valid-eddsa"))
    ep1("valid-eddsa", "A CN-SH presentation token (EdDSA).", tok_sh, "VALID")
    expired, _ = presentation.issue(ZJ, iss="CN-ZJ", credential_cti=cred, now=NOW - 400, cti=cti_for("ep1-expired"))
    ep1("expired", "Issued 400 s ago with the 300 s lifetime: expired.", expired, "EXPIRED")
    at_exp, _ = presentation.issue(ZJ, iss="CN-ZJ", credential_cti=cred, now=NOW - 300, cti=cti_for("ep1-at-exp"))
    ep1("expired-at-exp", "exp equal to now.", at_exp, "EXPIRED")
    cose_bytes = b45.decode(tok[4:])
    obj = cbor2.loads(cose_bytes)
    protected, _, payload, sig = obj.value
    bad = cbor2.dumps(cbor2.CBORTag(18, [protected, {}, payload, bytes([sig[0] ^ 1]) + sig[1:]]))
    ep1("signature-invalid", "A valid token with one bit of its signature flipped.", "EP1:" + b45.encode(bad),
        "SIGNATURE_INVALID")
    future, _ = presentation.issue(ZJ, iss="CN-ZJ", credential_cti=cred, now=NOW + 120, cti=cti_for("ep1-future"))
    ep1("not-yet-valid", "iat 120 s after now (beyond the 60 s skew).", future, "NOT_YET_VALID",
        spec="credential-format.md §4, §7")
    long_lived = {1: "CN-ZJ", 6: NOW - 10, 4: NOW + 600, 7: cti_for("ep1-long"), presentation.CLAIM_REF: {"c": cred}}
    ep1("claims-malformed-lifetime", "exp 610 s after iat: a token lives at most 300 s.",
        ep1_raw(ZJ, long_lived), "CLAIMS_MALFORMED")
    no_ref = {1: "CN-ZJ", 6: NOW - 10, 4: NOW + 200, 7: cti_for("ep1-noref")}
    ep1("claims-malformed-no-ref", "No ref claim (-70001).", ep1_raw(ZJ, no_ref), "CLAIMS_MALFORMED")
    ep1("kid-unknown", "A token signed by a key in no trust list.",
        ep1_raw(OUTSIDER, {1: "CN-ZJ", 6: NOW - 10, 4: NOW + 200, 7: cti_for("ep1-kid"),
                           presentation.CLAIM_REF: {"c": cred}}), "KID_UNKNOWN")
    ep1("issuer-mismatch", "iss CN-SH, signed by a CN-ZJ key.",
        ep1_raw(ZJ, {1: "CN-SH", 6: NOW - 10, 4: NOW + 200, 7: cti_for("ep1-iss"),
                     presentation.CLAIM_REF: {"c": cred}}), "ISSUER_MISMATCH")
    ep1("cose-malformed-compressed", "A token compressed with zlib as an EC1 is: EP1 carries the COSE_Sign1 "
        "uncompressed, so the bytes are not a COSE_Sign1.",
        "EP1:" + b45.encode(zlib.compress(cose_bytes)), "COSE_MALFORMED")
    ep1("base45-invalid", "A lower-case character in the Base45 body.", "EP1:" + tok[4:20] + "x" + tok[21:],
        "BASE45_INVALID")


# ---------------------------------------------------------------------------------- status lists

def status_vec(name: str, description: str, signed: bytes, uri: str, region: str, accepted: bool, *,
               values: dict[int, int] | None = None, stale: bool = False, spec: str = "credential-format.md §5",
               extension: bool = False) -> None:
    try:
        sl = statuslist.parse(signed, expected_uri=uri, region_keys=region_keys(region))
        got, reason = True, ""
    except statuslist.StatusListError as err:
        sl, got, reason = None, False, str(err)
    if got != accepted:
        raise AssertionError(f"status-list/{name}: accepted is {got} ({reason})")
    expected: dict = {"accepted": accepted}
    if accepted:
        assert sl is not None
        expected.update({"uri": sl.uri, "iat": sl.iat, "exp": sl.exp, "ttl": sl.ttl, "bits": 2,
                         "stale": sl.is_stale(NOW), "size_bytes": len(sl.bits)})
        assert sl.is_stale(NOW) == stale
        vals = values or {}
        for idx, v in vals.items():
            assert sl.get(idx) == v, (name, idx)
        expected["values"] = {str(i): v for i, v in sorted(vals.items())}
    else:
        expected["error"] = "STATUS_LIST_INVALID"
        expected["detail"] = reason
    ctx = context()
    ctx.pop("status_lists")
    add("status-list", name, description, {"signed_b64": b64(signed), "expected_uri": uri, "region": region},
        expected, ctx=ctx, spec=spec, extension=extension)


def _all_values(entries, size: int) -> dict[int, int]:
    vals = {i: 0 for i in range(size)}
    vals.update(dict(entries))
    return vals


def build_status_lists() -> None:
    ok = "Accepted: signed by a current key of the region, sub equal to the uri asked for."
    status_vec("valid-cn-zj-es256", f"CN-ZJ's list (ES256), 16 entries. {ok}", ZJ_LIST, ZJ_STATUS_URI, "CN-ZJ",
               True, values=_all_values(ZJ_ENTRIES, ZJ_SIZE))
    status_vec("valid-cn-sh-eddsa", f"CN-SH's list (EdDSA), 8 entries. {ok}", SH_LIST, SH_STATUS_URI, "CN-SH",
               True, values=_all_values(SH_ENTRIES, SH_SIZE))
    big = [(i, 1 + (i % 2)) for i in range(0, 4000, 37)]
    status_vec("valid-cn-zj-4000-entries", "A 4,000-entry CN-ZJ list (1,000 bytes before zlib); every 37th "
               "entry set, alternating 1 and 2.",
               signed_status(ZJ, "urn:ecert:status:CN-ZJ:2", big, 4000), "urn:ecert:status:CN-ZJ:2", "CN-ZJ", True,
               values={**{i: 0 for i in (1, 2, 3, 36, 38, 3999)}, **dict(big[:6]), big[-1][0]: big[-1][1]})
    status_vec("stale", "CN-ZJ's list past its exp: well signed and readable, but stale (a verifier answers "
               "status_checked false for credentials that need it).", ZJ_LIST_STALE, ZJ_STATUS_URI, "CN-ZJ", True,
               values={5: 1, 6: 2, 4: 0}, stale=True)
    tampered = list(cbor2.loads(ZJ_LIST).value)
    tampered[3] = bytes([tampered[3][0] ^ 1]) + tampered[3][1:]
    status_vec("bad-signature", "CN-ZJ's list with one bit of its signature flipped: refused.",
               cbor2.dumps(cbor2.CBORTag(18, tampered)), ZJ_STATUS_URI, "CN-ZJ", False)
    status_vec("wrong-uri", "CN-ZJ's list (sub urn:ecert:status:CN-ZJ:1) when urn:ecert:status:CN-ZJ:9 was "
               "asked for: refused.", ZJ_LIST, "urn:ecert:status:CN-ZJ:9", "CN-ZJ", False)
    status_vec("wrong-region-key", "A list under CN-ZJ's uri signed by CN-SH's key: not a key of its region, "
               "refused.", signed_status(SH, ZJ_STATUS_URI, ZJ_ENTRIES, ZJ_SIZE), ZJ_STATUS_URI, "CN-ZJ", False)
    status_vec("revoked-key", "CN-SH's list signed by CN-SH's revoked key: refused.",
               signed_status(SH_REVOKED, SH_STATUS_URI, SH_ENTRIES, SH_SIZE), SH_STATUS_URI, "CN-SH", False,
               extension=True)
    payload = {2: ZJ_STATUS_URI, 6: NOW - 600, 4: NOW + 3000, 65534: 10,
               65533: {"bits": 1, "lst": zlib.compress(b"\x00\x01")}}
    status_vec("one-bit-list", "A 1-bit list: this suite uses 2 bits per entry only, refused.",
               cose.sign1(ZJ, cbor2.dumps(payload)), ZJ_STATUS_URI, "CN-ZJ", False, extension=True)


# ---------------------------------------------------------------------------------- trust lists

def trust_vec(name: str, description: str, signed: bytes, accepted: bool, *, spec="credential-format.md §6",
              extension: bool = False) -> None:
    try:
        tl = TrustList.from_signed(signed, ROOT_KEY.public)
        got, reason = True, ""
    except trustlist.TrustListError as err:
        tl, got, reason = None, False, str(err)
    if got != accepted:
        raise AssertionError(f"trust-list/{name}: accepted is {got} ({reason})")
    expected: dict = {"accepted": accepted}
    if accepted:
        assert tl is not None
        expected.update({
            "version": tl.version, "iat": tl.iat, "exp": tl.exp, "stale": tl.is_stale(NOW),
            "regions": [{"code": r.code, "name": r.name, "endpoint": r.endpoint,
                         "keys": [{"kid": k.kid.hex(), "alg": keys.ALG_NAMES[k.public.alg], "status": k.status,
                                   "nbf": k.nbf, "exp": k.exp, "revoked_at": k.revoked_at} for k in r.keys]}
                        for r in tl.regions.values()],
            "types": [{"id": t.id, "v": t.version, "name": t.name} for t in tl.types.values()],
            "payload_json": json.loads(trustlist.to_json(tl.payload)),
        })
    else:
        expected["error"] = "TRUST_LIST_INVALID"
        expected["detail"] = reason
    add("trust-list", name, description, {"signed_b64": b64(signed)}, expected,
        ctx={"now": NOW, "root_key": root_json(ROOT_KEY)}, spec=spec, extension=extension)


def build_trust_lists() -> None:
    trust_vec("valid", "The trust list every EC1/EP1 vector uses, signed by the pinned root key (ES256).",
              SIGNED_TRUST, True)
    trust_vec("signed-by-other-key", "The same payload signed by another P-256 key: refused (the root is pinned).",
              trustlist.sign(ROGUE_ROOT, PAYLOAD), False)
    trust_vec("signed-by-other-key-with-root-kid", "The same payload signed by another key under the root's kid: "
              "refused.", cose.sign1(ROGUE_ROOT, cbor2.dumps(dict(PAYLOAD)), kid=ROOT_KEY.kid), False)
    obj = cbor2.loads(SIGNED_TRUST).value
    changed = dict(PAYLOAD, v=TRUST_VERSION + 1)
    trust_vec("payload-changed", "The root's signature over a payload whose version was raised afterwards: refused.",
              cbor2.dumps(cbor2.CBORTag(18, [obj[0], {}, cbor2.dumps(changed), obj[3]])), False)
    wrong_kid = trust_payload(key_table=KEY_TABLE)
    wrong_kid["regions"][1]["keys"][0]["kid"] = OUTSIDER.kid
    trust_vec("kid-not-matching-key", "Signed by the root, but one key's kid is not SHA-256(spki)[:8]: refused.",
              trustlist.sign(ROOT_KEY, wrong_kid), False, extension=True)


# ---------------------------------------------------------------------------------- main

def main() -> None:
    build_ec1()
    build_ep1()
    build_status_lists()
    build_trust_lists()
    for kind in ("ec1", "ep1", "status-list", "trust-list"):
        folder = HERE / kind
        folder.mkdir(exist_ok=True)
        for old in folder.glob("*.json"):
            old.unlink()
    ids = set()
    for vec in VECTORS:
        assert vec["id"] not in ids, vec["id"]
        ids.add(vec["id"])
        path = HERE / f"{vec['id']}.json"
        path.write_text(json.dumps(vec, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    counts: dict[str, int] = {}
    for vec in VECTORS:
        counts[vec["kind"]] = counts.get(vec["kind"], 0) + 1
    print("wrote", ", ".join(f"{n} {k}" for k, n in counts.items()), "vectors to", HERE)


if __name__ == "__main__":
    main()
