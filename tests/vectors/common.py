"""What every vector shares: the fixed keys, the signed trust list (with the recognition rules),
status lists, sample fields and the list the vectors are added to."""

from __future__ import annotations

import asyncio
import base64
import hashlib

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from ecert.format import (
    keys,
    statuslist,
    trustlist,
)
from ecert.rules import catalogue
from ecert.rules.acceptance import default_rules
from ecert.rules.shards import Shards
from ecert.rules.trust import TrustList
from testkit.samples import PHOTO, SAMPLES

FORMAT = "ecert-conformance-vector/1"
NOW = 1767225600  # 2026-01-01T00:00:00Z, the verification time of every vector
SKEW = 60
DAY = 86400
YEAR = 365 * DAY
TRUST_VERSION = 7
ZJ_STATUS_URI = "urn:ecert:status:CN-ZJ:1"
SH_STATUS_URI = "urn:ecert:status:CN-SH:1"

# ---------------------------------------------------------------------------------- keys

_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


class DeterministicES256(keys.SigningKey):
    """A P-256 key that signs with deterministic ECDSA (RFC 6979): the same message, the same
    signature, so the generator writes the same files every run. A verifier cannot tell these
    signatures from randomised ones."""

    __slots__ = ()

    def sign(self, message: bytes) -> bytes:
        r, s = decode_dss_signature(self._key.sign(message, ec.ECDSA(hashes.SHA256(), deterministic_signing=True)))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def es256_key(label: str):
    secret = int.from_bytes(hashlib.sha256(f"ecert vectors {label}".encode()).digest(), "big")
    return DeterministicES256(keys.ES256, ec.derive_private_key(secret % (_P256_ORDER - 1) + 1, ec.SECP256R1()))


def eddsa_key(label: str):
    seed = hashlib.sha256(f"ecert vectors {label}".encode()).digest()
    return keys.SigningKey(keys.EDDSA, ed25519.Ed25519PrivateKey.from_private_bytes(seed))


ROOT_KEY = es256_key("registry root")
NEXT_ROOT = es256_key("registry root after rotation")  # announced by ROOT_KEY (trust-list/root-rotation-*)
ROGUE_ROOT = es256_key("rogue root")
ROGUE_NEXT = es256_key("rogue root's announced successor")
OUTSIDER = es256_key("outsider (in no trust list)")
ZJ = es256_key("CN-ZJ active")
ZJ_RETIRED = es256_key("CN-ZJ retired")
ZJ_FUTURE = eddsa_key("CN-ZJ not yet valid")
SH = eddsa_key("CN-SH active")
SH_REVOKED = es256_key("CN-SH revoked")
FJ = es256_key("CN-FJ active (outside the agreement)")

# (key, region, status, nbf, exp, revoked_at): what the registry holds
KEY_TABLE = [
    (ZJ, "CN-ZJ", "active", NOW - 400 * DAY, NOW + 10 * YEAR, None),
    (ZJ_RETIRED, "CN-ZJ", "retired", NOW - 4 * YEAR, NOW - 400 * DAY, None),
    (ZJ_FUTURE, "CN-ZJ", "active", NOW + 30 * DAY, NOW + 10 * YEAR, None),
    (SH, "CN-SH", "active", NOW - 400 * DAY, NOW + 10 * YEAR, None),
    (SH_REVOKED, "CN-SH", "revoked", NOW - 2 * YEAR, NOW + 8 * YEAR, NOW - 30 * DAY),
    (FJ, "CN-FJ", "active", NOW - 400 * DAY, NOW + 10 * YEAR, None),
]
# CN-FJ is a region in the trust list but outside the mutual-recognition agreement: the rules
# name no entry for it and no region recognises its credentials.
REGIONS = [
    {"code": "CN-SH", "name": "上海市 / Shanghai", "endpoint": "issuer.cn-sh.example:50061"},
    {"code": "CN-ZJ", "name": "浙江省 / Zhejiang", "endpoint": "issuer.cn-zj.example:50061"},
    {"code": "CN-FJ", "name": "福建省 / Fujian", "endpoint": "issuer.cn-fj.example:50061"},
]
TYPE_IDS = ("cn.business_licence", "cn.driving_licence", "cn.resident_id", "cn.vehicle_licence")
RULES = default_rules().to_payload()  # the agreement the suite ships: the four YRD regions and "*"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def key_json(k, **extra) -> dict:
    return {"kid": k.kid.hex(), "alg": keys.ALG_NAMES[k.alg], "alg_id": k.alg, "spki_b64": b64(k.spki), **extra}


def root_json(k) -> dict:
    return {**key_json(k), "pem": keys.public_pem(k.public).decode()}


_NO_RULES = object()


def trust_payload(version: int = TRUST_VERSION, key_table=KEY_TABLE, *, rules=_NO_RULES, iat: int = NOW - 3600,
                  next_root=None) -> dict:
    """The payload the registry signs; ``rules`` None: a list from before there were rules; with
    ``next_root`` (a public key), the announcement of a root rotation to it."""
    stored_keys = [{"region": region, "kid": k.kid.hex(), "alg": k.alg, "spki": b64(k.spki), "nbf": nbf,
                    "exp": exp, "status": status, "revoked_at": revoked_at}
                   for k, region, status, nbf, exp, revoked_at in key_table]
    types = [t for t in catalogue.builtin_types() if t["id"] in TYPE_IDS]
    return trustlist.build_payload(version=version, iat=iat, exp=NOW + 30 * DAY, regions=REGIONS,
                                   keys=stored_keys, types=types, rules=RULES if rules is _NO_RULES else rules,
                                   next_root=next_root)


PAYLOAD = trust_payload()
SIGNED_TRUST = trustlist.sign(ROOT_KEY, PAYLOAD)
# The trust list as the verification recipe reads it (with compiled type schemas).
TRUST = TrustList.from_signed(SIGNED_TRUST, ROOT_KEY.public)
TYPES = TRUST.types

# Version 8: an admin has recorded that CN-ZJ recognises CN-FJ's credentials (one ec1 vector and
# one trust-list vector use it; everything else uses version 7).
RULES_V8 = default_rules().with_recognition("CN-ZJ", [*default_rules().recognises("CN-ZJ"), "CN-FJ"]).to_payload()
PAYLOAD_V8 = trust_payload(TRUST_VERSION + 1, rules=RULES_V8, iat=NOW - 1800)
SIGNED_TRUST_V8 = trustlist.sign(ROOT_KEY, PAYLOAD_V8)
TRUST_V8 = TrustList.from_signed(SIGNED_TRUST_V8, ROOT_KEY.public)


def context(status_lists: list[dict] | None = None, *, now: int = NOW, signed_trust: bytes = SIGNED_TRUST,
            trust_version: int = TRUST_VERSION, purpose: str | None = None, caller_region: str = "") -> dict:
    """A vector's context; with a ``purpose``, also the caller's region ("" for a caller bound to
    none), and the verifier judges the recognition rules."""
    ctx = {
        "now": now, "skew": SKEW,
        "root_key": root_json(ROOT_KEY),
        "trust_list": {"signed_b64": b64(signed_trust), "version": trust_version},
        "keys": [key_json(k, region=region, status=status, nbf=nbf, exp=exp, revoked_at=revoked_at)
                 for k, region, status, nbf, exp, revoked_at in KEY_TABLE],
        "status_lists": status_lists or [],
    }
    if purpose is not None:
        ctx["purpose"] = purpose
        ctx["caller_region"] = caller_region
    return ctx


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

# CN-ZJ's second shard, as its issuer publishes it (ecert.rules.shards: 2^20 entries, exp = iat +
# the validity, 3,600 s by default). Its credential is the region's (2^20 + 5)-th: allocate gives
# it uri urn:ecert:status:CN-ZJ:2, idx 5.
ZJ_SHARD_G = statuslist.SHARD_SIZE + 5
ZJ_SHARD_URI, ZJ_SHARD_IDX = statuslist.allocate("CN-ZJ", ZJ_SHARD_G)
ZJ_SHARD_ENTRIES = [(ZJ_SHARD_IDX, "revoked"), (ZJ_SHARD_IDX + 1, "suspended"), (statuslist.SHARD_SIZE - 1, "revoked")]


def published_shard(key, uri: str, entries, *, at: int, ttl: int = 10, validity: int = 3600) -> bytes:
    """``uri``'s list as the region's issuer signs it at ``at`` (its ``Shards``), from the entries
    that are not valid (``(idx, status name)``)."""
    async def entries_of(_uri: str):
        return entries
    shards = Shards(entries_of, lambda: key, ttl=ttl, validity=validity, now=lambda: at)
    return asyncio.run(shards.get(uri)).signed


ZJ_SHARD_LIST = published_shard(ZJ, ZJ_SHARD_URI, ZJ_SHARD_ENTRIES, at=NOW - 600)


def status_ref(region: str, uri: str, signed: bytes) -> dict:
    return {"uri": uri, "region": region, "signed_b64": b64(signed)}


ZJ_REF = status_ref("CN-ZJ", ZJ_STATUS_URI, ZJ_LIST)
SH_REF = status_ref("CN-SH", SH_STATUS_URI, SH_LIST)
ZJ_SHARD_REF = status_ref("CN-ZJ", ZJ_SHARD_URI, ZJ_SHARD_LIST)

# ---------------------------------------------------------------------------------- fields

BUSINESS = SAMPLES["cn.business_licence"]
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


def region_keys(region: str) -> dict:
    out: dict = {}
    for k in TRUST.regions[region].keys:
        out.setdefault(k.kid, []).append(k)
    return out
