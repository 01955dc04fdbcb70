"""What every vector shares: the fixed keys, the signed trust list, status lists, sample fields
and the list the vectors are added to."""

from __future__ import annotations

import base64
import hashlib

from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from ecert.format import (
    keys,
    statuslist,
    trustlist,
)
from ecert.rules import catalogue
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
