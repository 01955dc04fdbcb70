"""The cases the JavaScript verifier (frontend/src/verify/) is held to, and the Python answers.

Shared by the differential tests, in Node (tests/test_js_verifier_diff.py) and in headless
Chromium (tests/test_js_verifier_browser.py): :class:`Cases` holds every case as the runner reads
it (``spec()``, JSON) beside the Python verifier's answer; :func:`add_vectors` adds the EC1,
trust-list and status-list conformance vectors (tests/vectors/), :func:`add_generated` ``n``
credentials valid and damaged in every layer (text, Base45, zlib, COSE, protected header, claims,
fields, keys, times, status, purpose), :func:`add_zlib` zlib streams around the output bound;
:func:`compare` names the members of an answer that differ.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import random
import zlib
from pathlib import Path

import cbor2

from ecert.errors import FormatError, Outcome
from ecert.format import b45, cose, credential, keys, statuslist, trustlist
from ecert.limits import MAX_PAYLOAD_CHARS
from ecert.rules import verify
from ecert.rules.access import Principal, disclosure_role
from ecert.rules.trust import TrustList
from ecert.vocab import KEY_ROLES, Purpose
from gateway.answers import iso
from testkit.samples import driving_licence
from tests.vectors import common
from tests.vectors.common import NOW, SKEW, b64

ROOT = Path(__file__).resolve().parents[1]
FRONTEND = ROOT / "frontend"
VECTORS = ROOT / "tests" / "vectors"
ROLES = [str(r) for r in KEY_ROLES]
# The outcomes whose detail is the same text on both sides (the others name decoder faults in
# each decoder's own words, which the contract leaves informative).
SAME_DETAIL = {"EXPIRED", "NOT_YET_VALID", "REVOKED", "SUSPENDED", "NOT_ACCEPTED_FOR_PURPOSE", "VALID"}


def _region_keys(trust, region: str) -> dict:
    out: dict = {}
    for k in trust.regions[region].keys:
        out.setdefault(k.kid, []).append(k)
    return out


def _plain(v):
    """A field value as both sides write it (an integer beyond 2^53 as its digits)."""
    return str(v) if type(v) is int and abs(v) > 2**53 else v


# -- the Python side ------------------------------------------------------------------------------

def reference(text: str, trust: TrustList, lists: dict, now: int, skew: int, purpose: str | None,
              region: str) -> dict:
    """The verifier service's answer (services/verifier/domain.py verify_now, servicer write_result)
    in the runner's summary form, for every role."""
    if isinstance(text, str) and len(text) > MAX_PAYLOAD_CHARS:
        res = verify.Result(Outcome.PAYLOAD_TOO_LARGE)
    else:
        res = verify.check_credential(text, trust, now, skew)
    claims = res.claims
    if res.ok and claims is not None and claims.status_uri is not None:
        shard = statuslist.parse_shard_uri(claims.status_uri)
        sl = lists.get(claims.status_uri) if shard is not None and shard[0] == claims.iss else None
        verify.apply_status(res, sl, now, skew)
    else:
        verify.apply_status(res, None, now, skew)
    if purpose is not None:
        verify.apply_acceptance(res, trust.acceptance, purpose, region, now)
    else:
        verify.add_warnings(res, now)
    cred = None
    if claims is not None:
        cred = {"id": claims.id, "type": claims.type_id, "version": claims.type_version, "region": claims.iss,
                "issued_at": iso(claims.iat), "expires_at": iso(claims.exp)}
        if res.type is not None:
            try:
                cred["display_id"] = res.type.display_id(claims.iss, claims.id)
            except ValueError:
                pass
    fields, warnings = {}, {}
    for role in ROLES:
        shown = {}
        if res.fields is not None and claims is not None:
            shown = res.shown(disclosure_role(Principal(role, region), claims.iss))
        fields[role] = {k: _plain(v) for k, v in shown.items()}
        warnings[role] = [w._asdict() for w in res.shown_warnings(shown)] if res.warnings else []
    return {"result": res.outcome.value, "detail": res.detail, "credential": cred,
            "status_checked": res.status_checked, "status": res.status or None, "status_as_of": iso(res.status_as_of),
            "document": None if res.document is None else res.document._asdict(), "purpose": res.purpose,
            "fields": fields, "warnings": warnings}


# -- the cases ---------------------------------------------------------------------------------

class Cases:
    """What the runner reads, and the Python side's answers and expectations beside it."""

    def __init__(self):
        self.contexts: dict[str, dict] = {}
        self.trusts: dict[str, tuple[TrustList, dict]] = {}
        self.cases: list[dict] = []
        self.expected: dict[str, dict] = {}
        self.vector_outcomes: dict[str, str] = {}
        self.trust_cases: list[dict] = []
        self.trust_expected: dict[str, dict] = {}
        self.status_cases: list[dict] = []
        self.status_expected: dict[str, dict] = {}
        self.zlib_cases: list[dict] = []
        self.zlib_expected: dict[str, dict] = {}

    def context(self, root_spki: bytes, root_alg: int, signed_trust: bytes, lists: list[dict], *,
                fetched_at: int = NOW) -> str:
        """A trust list and the status lists held with it, fetched at ``fetched_at``: each list
        is checked as the verifier's status cache checks one (services/verifier/status.py
        ``_check``): signed by a key of the region it was asked of, its uri a shard of that region,
        dated no more than the skew ahead of the clock; the later iat held for a uri."""
        key = json.dumps([b64(root_spki), b64(signed_trust), [ref["signed_b64"] for ref in lists], fetched_at])
        name = self.contexts.get(key, {}).get("name")
        if name is None:
            name = f"ctx{len(self.contexts)}"
            self.contexts[key] = {"name": name, "root_spki_b64": b64(root_spki), "trust_b64": b64(signed_trust),
                                  "status_lists": lists, "fetched_at": fetched_at}
            trust = TrustList.from_signed(signed_trust, keys.PublicKey(root_alg, root_spki))
            parsed: dict = {}
            for ref in lists:
                try:
                    sl = statuslist.parse(base64.b64decode(ref["signed_b64"]), expected_uri=ref["uri"],
                                          region_keys=_region_keys(trust, ref["region"]))
                except statuslist.StatusListError:
                    continue
                shard = statuslist.parse_shard_uri(sl.uri)
                if shard is None or shard[0] != ref["region"] or sl.iat - fetched_at > SKEW:
                    continue
                held = parsed.get(sl.uri)
                if held is None or held.iat <= sl.iat:
                    parsed[sl.uri] = sl
            self.trusts[name] = (trust, parsed)
        return name

    def add(self, case_id: str, ctx: str, text: str, *, now: int, skew: int = SKEW, purpose: str | None = None,
            region: str = "") -> None:
        trust, lists = self.trusts[ctx]
        self.cases.append({"id": case_id, "ctx": ctx, "text": text, "now": now, "skew": skew, "purpose": purpose,
                           "region": region, "roles": ROLES})
        self.expected[case_id] = reference(text, trust, lists, now, skew, purpose, region)

    def spec(self) -> dict:
        return {"contexts": {c["name"]: c for c in self.contexts.values()}, "cases": self.cases,
                "trust_cases": self.trust_cases, "status_cases": self.status_cases, "zlib_cases": self.zlib_cases}


def _vector_files(kind: str) -> list[Path]:
    return sorted((VECTORS / kind).glob("*.json"))


def add_vectors(cases: Cases) -> None:
    for path in _vector_files("ec1"):
        v = json.loads(path.read_text("utf-8"))
        ctx = v["context"]
        root = ctx["root_key"]
        name = cases.context(base64.b64decode(root["spki_b64"]), root["alg_id"],
                             base64.b64decode(ctx["trust_list"]["signed_b64"]), ctx["status_lists"], fetched_at=ctx["now"])
        cases.add(v["id"], name, v["input"]["text"], now=ctx["now"], skew=ctx["skew"], purpose=ctx.get("purpose"),
                  region=ctx.get("caller_region", ""))
        cases.vector_outcomes[v["id"]] = v["expected"]["outcome"]
    for path in _vector_files("trust-list"):
        v = json.loads(path.read_text("utf-8"))
        root = v["context"]["root_key"]
        inp = v["input"]
        cases.trust_cases.append({"id": v["id"], "root_spki_b64": root["spki_b64"], "signed_b64": inp["signed_b64"],
                                  "chain_b64": inp.get("root_chain_b64", [])})
        cases.trust_expected[v["id"]] = v["expected"]
    for path in _vector_files("status-list"):
        v = json.loads(path.read_text("utf-8"))
        ctx = v["context"]
        root = ctx["root_key"]
        name = cases.context(base64.b64decode(root["spki_b64"]), root["alg_id"],
                             base64.b64decode(ctx["trust_list"]["signed_b64"]), [])
        exp = v["expected"]
        indexes = [int(i) for i in exp.get("values", {})]
        cases.status_cases.append({"id": v["id"], "ctx": name, "signed_b64": v["input"]["signed_b64"],
                                   "region": v["input"]["region"], "expected_uri": v["input"]["expected_uri"],
                                   "now": ctx["now"], "indexes": indexes})
        cases.status_expected[v["id"]] = exp


# -- generated credentials -------------------------------------------------------------------------

C = common
SIGNERS = [(C.ZJ, "CN-ZJ"), (C.ZJ, "CN-ZJ"), (C.SH, "CN-SH"), (C.SH, "CN-SH"), (C.FJ, "CN-FJ"),
           (C.ZJ_RETIRED, "CN-ZJ"), (C.ZJ_FUTURE, "CN-ZJ"), (C.SH_REVOKED, "CN-SH"),
           (C.ZJ, "CN-SH"), (C.SH_REVOKED, "CN-FJ")]  # a key another region lists too (SHARED_KEYS_TRUST)
TYPE_FIELDS = {
    "cn.driving_licence": [C.SAMPLES["cn.driving_licence"], driving_licence()],
    "cn.resident_id": [C.SAMPLES["cn.resident_id"], C.RESIDENT],
    "cn.vehicle_licence": [C.SAMPLES["cn.vehicle_licence"]],
    "cn.business_licence": [C.SAMPLES["cn.business_licence"]],
}
STATUS_URIS = {"CN-ZJ": [C.ZJ_STATUS_URI, C.ZJ_SHARD_URI], "CN-SH": [C.SH_STATUS_URI], "CN-FJ": ["urn:ecert:status:CN-FJ:1"]}
NOWS = [NOW, NOW, NOW, NOW, NOW + 30 * C.DAY, NOW - 400 * C.DAY, NOW + 200 * C.DAY, NOW + 5 * C.YEAR, NOW + 12 * C.YEAR,
        1779206400 - 8 * 3600, 1779206400 - 8 * 3600 - 1]  # 2026-05-20 00:00 China time and the second before
PURPOSES = [None, None, *[str(p) for p in Purpose], "unknown_purpose"]
CALLERS = ["", "CN-ZJ", "CN-SH", "CN-FJ", "CN-AH"]
JS_OBJECT_NAMES = ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf", "__defineGetter__"]
BAD_VALUES = [1.5, -1, 2**63, 2**64 - 1, -(2**64), None, True, b"\x01", "", "x" * 300, "2021-02-30", "长期",
              "２０２０-01-01", "2020-01-01\n", [], {}, cbor2.CBORTag(1, 0), cbor2.CBORSimpleValue(16), cbor2.undefined]


# A trust list where one public key is listed by two regions (a kid looked up across regions):
# CN-ZJ's active key also as CN-SH's, revoked there; CN-SH's revoked key also as CN-FJ's, active.
SHARED_KEYS_TRUST = trustlist.sign(C.ROOT_KEY, C.trust_payload(key_table=[
    *C.KEY_TABLE, (C.ZJ, "CN-SH", "revoked", NOW - 400 * C.DAY, NOW + 10 * C.YEAR, NOW - 30 * C.DAY),
    (C.SH_REVOKED, "CN-FJ", "active", NOW - 2 * C.YEAR, NOW + 8 * C.YEAR, None)]))


def _fields_cbor(type_id: str, fields: dict) -> dict:
    return C.TYPES[(type_id, 1)].to_cbor(fields)


def _claims(rng: random.Random, type_id: str, iss: str, fields: dict, now: int) -> dict:
    iat = rng.choice([now - 10 * C.DAY, now - 10 * C.DAY, now - 10 * C.DAY, now - rng.randrange(0, 3 * C.YEAR), now + rng.choice([0, 59, 60, 61, 3600]),
                      NOW - 2 * C.YEAR, NOW - 10 * C.DAY])
    exp = rng.choice([iat + 6 * C.YEAR, now + rng.choice([-1, 0, 1, 86400]), iat + C.YEAR])
    status = None
    if rng.random() < 0.75:
        region = iss if rng.random() < 0.9 else rng.choice(list(STATUS_URIS))
        uri = rng.choice(STATUS_URIS[region])
        idx = rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 13, 100, C.ZJ_SHARD_IDX, C.ZJ_SHARD_IDX + 1, 2**20 - 1])
        status = (uri, idx)
    nbf = rng.choice([None, None, None, now - 1, now, now + 1])
    return credential.build_claims(iss=iss, iat=iat, exp=exp, nbf=nbf, cti=rng.randbytes(16), type_id=type_id,
                                   type_version=1, fields=_fields_cbor(type_id, fields),
                                   status_uri=status[0] if status else None, status_idx=status[1] if status else None)


def _mutate_fields(rng: random.Random, type_id: str, fields: dict) -> dict:
    f = dict(fields)
    ts = C.TYPES[(type_id, 1)]
    names = list(ts.schema["properties"])
    op = rng.randrange(10)
    name = rng.choice(names)
    if op == 0 and f:
        f.pop(rng.choice(list(f)))
    elif op == 1:
        f["unexpected_field"] = "x"
    elif op == 2 and "id_number" in f:
        f["id_number"] = f["id_number"][:17] + rng.choice("0123456789X")
    elif op == 3:
        date_fields = [n for n in names if "date" in n or "valid" in n or "until" in n]
        if date_fields:
            f[rng.choice(date_fields)] = rng.choice(["2020-02-30", "2024-02-29", "2026-01-01", "2025-12-31", "2026-01-02",
                                                     "2100-01-01", "1999-13-01", "长期", "2026-1-1", "0000-01-01"])
    elif op == 4 and name in f and isinstance(f[name], str) and name not in ts.bytes_fields:
        f[name] = rng.choice(["", "A" * 200, f[name] + "\n", f[name].lower(), f[name] + "é"])
    elif op == 5 and name not in ts.bytes_fields:
        f[name] = rng.choice([0, -5, 10**6, True, "12"])
    elif op == 6 and "valid_from" in f and "valid_until" in f:
        f["valid_from"], f["valid_until"] = f["valid_until"], f["valid_from"]
    elif op == 7 and "sex" in f:
        f["sex"] = rng.choice(["女", "M", "男 "])
    elif op == 8:  # a name a JavaScript object already answers to: a field like any other
        f[rng.choice(JS_OBJECT_NAMES)] = rng.choice(["x", 1, True, b"\x00"])
    return f


def _sign(key, payload: bytes, *, protected: bytes | None = None, tagged: bool = True, level: int = 9) -> str:
    protected = cbor2.dumps({1: key.alg, 4: key.kid}) if protected is None else protected
    sig = key.sign(cose.sig_structure(protected, payload))
    structure = [protected, {}, payload, sig]
    raw = cbor2.dumps(cbor2.CBORTag(18, structure) if tagged else structure)
    c = zlib.compressobj(level, zlib.DEFLATED, 12 if level == 9 else 15)  # the issuer's window, and others
    return "EC1:" + b45.encode(c.compress(raw) + c.flush())


def _splice(rng: random.Random, data: bytes) -> bytes:
    at = rng.randrange(len(data) + 1)
    cut = rng.randrange(4)
    noise = rng.choice([b"", bytes([rng.randrange(256)]), rng.randbytes(rng.randrange(1, 6)),
                        bytes([rng.choice([0x5f, 0x7f, 0x9f, 0xbf, 0xff, 0xf9, 0xfa, 0xfb, 0xc1, 0xd2, 0xf7, 0xe0, 0x1b])])])
    return data[:at] + noise + data[at + cut:]


def _damage_text(rng: random.Random, text: str) -> str:
    body = text[4:]
    op = rng.randrange(8)
    if op == 0:
        i = rng.randrange(len(body))
        return "EC1:" + body[:i] + rng.choice(b45.ALPHABET) + body[i + 1:]
    if op == 1:
        return text[:rng.randrange(len(text))]
    if op == 2:
        return rng.choice(["ec1:", "EC2:", "EC1 ", " EC1:", ""]) + body
    if op == 3:
        i = rng.randrange(len(body) + 1)
        return "EC1:" + body[:i] + rng.choice(["a", "#", "é", "\n", "𝟘"]) + body[i:]
    data = zlib.decompress(b45.decode(body))
    comp = b45.decode(body)
    if op == 4:  # a COSE bit flipped
        i = rng.randrange(len(data))
        data = data[:i] + bytes([data[i] ^ (1 << rng.randrange(8))]) + data[i + 1:]
        return "EC1:" + b45.encode(zlib.compress(data))
    if op == 5:  # the zlib stream damaged: extra bytes, cut, a byte changed
        choice = rng.randrange(3)
        if choice == 0:
            comp = comp + rng.randbytes(rng.randrange(1, 4))
        elif choice == 1:
            comp = comp[:rng.randrange(len(comp))]
        else:
            i = rng.randrange(len(comp))
            comp = comp[:i] + bytes([rng.randrange(256)]) + comp[i + 1:]
        return "EC1:" + b45.encode(comp)
    if op == 6:  # COSE bytes spliced
        return "EC1:" + b45.encode(zlib.compress(_splice(rng, data)))
    return "EC1:" + b45.encode(zlib.compress(data + b"\x00"))  # trailing bytes after the COSE


def _protected(rng: random.Random, key) -> bytes:
    return rng.choice([
        cbor2.dumps({1: key.alg}), cbor2.dumps({4: key.kid}), cbor2.dumps({1: -35, 4: key.kid}),
        cbor2.dumps({1: keys.EDDSA if key.alg == keys.ES256 else keys.ES256, 4: key.kid}),
        cbor2.dumps({1: "ES256", 4: key.kid}), cbor2.dumps({1: key.alg, 4: b""}), cbor2.dumps({1: key.alg, 4: key.kid.hex()}),
        cbor2.dumps({1: key.alg, 4: C.OUTSIDER.kid}), cbor2.dumps({1: key.alg, 4: key.kid, 3: 0, "x": [1, 2]}),
        cbor2.dumps([key.alg, key.kid]), b"", _splice(rng, cbor2.dumps({1: key.alg, 4: key.kid})),
        b"\xa2\x01" + cbor2.dumps(key.alg) + b"\x01" + cbor2.dumps(key.alg),  # a duplicate key
        b"\xbf\x01" + cbor2.dumps(key.alg) + b"\x04" + cbor2.dumps(key.kid) + b"\xff",  # indefinite map: accepted
        b"\xa2\x18\x01" + cbor2.dumps(key.alg) + b"\x04" + cbor2.dumps(key.kid),  # a key in two bytes: accepted
    ])


def _bad_claims(rng: random.Random, claims: dict) -> dict:
    c = dict(claims)
    op = rng.randrange(6)
    label = rng.choice([1, 4, 5, 6, 7, -70000, 65535])
    if op == 0:
        c.pop(label, None)
    elif op == 1:
        c[label] = rng.choice(BAD_VALUES)
    elif op == 2:
        ec = dict(c[-70000])
        member = rng.choice(["t", "v", "d"])
        ec[member] = rng.choice([*BAD_VALUES, "cn.unknown", 2, 0, 10001, "cn.resident_id", "cn.vehicle_licence"])
        c[-70000] = ec
    elif op == 3:
        ec = dict(c[-70000])
        d = dict(ec["d"])
        d[rng.choice(list(d))] = rng.choice(BAD_VALUES)
        ec["d"] = d
        c[-70000] = ec
    elif op == 4:
        c[65535] = rng.choice([{"status_list": {"idx": 2**26, "uri": C.ZJ_STATUS_URI}}, {"status_list": {"idx": -1, "uri": "u"}},
                               {"status_list": {"idx": 1}}, {"status_list": []}, {}, {"status_list": {"idx": 1.0, "uri": "u"}}])
    else:
        c[1] = rng.choice(["CN-SH", "CN-ZJ", "CN-FJ", "cn-zj", "\ufeffCN-ZJ"])
    return c


def add_generated(cases: Cases, n: int, seed: int) -> None:
    rng = random.Random(seed)
    lists_main = [C.ZJ_REF, C.SH_REF, C.ZJ_SHARD_REF]
    lists_stale = [C.status_ref("CN-ZJ", C.ZJ_STATUS_URI, C.ZJ_LIST_STALE), C.SH_REF]
    # Lists a verifier must not take: CN-ZJ's uri signed by CN-SH's key (asked of CN-SH), and one
    # dated a year ahead of the clock that, held, would keep out the genuine list after it.
    lists_foreign = [C.status_ref("CN-SH", C.ZJ_STATUS_URI, C.signed_status(C.SH, C.ZJ_STATUS_URI, [], C.ZJ_SIZE)),
                     C.SH_REF, C.ZJ_SHARD_REF]
    lists_future = [C.status_ref("CN-ZJ", C.ZJ_STATUS_URI, C.signed_status(C.ZJ, C.ZJ_STATUS_URI, [], C.ZJ_SIZE,
                                                                          iat=NOW + C.YEAR, exp=NOW + 2 * C.YEAR)),
                    C.ZJ_REF, C.SH_REF]
    root = C.ROOT_KEY
    ctxs = [cases.context(root.spki, root.alg, C.SIGNED_TRUST, lists)
            for lists in (lists_main, lists_main, lists_stale, [], lists_foreign, lists_future)]
    ctxs.append(cases.context(root.spki, root.alg, SHARED_KEYS_TRUST, lists_main))
    for i in range(n):
        now = rng.choice(NOWS)
        key, iss = rng.choice(SIGNERS)
        type_id = rng.choice(list(TYPE_FIELDS))
        fields = rng.choice(TYPE_FIELDS[type_id])
        kind = rng.randrange(10)
        if kind == 3:
            fields = _mutate_fields(rng, type_id, fields)
        claims = _claims(rng, type_id, iss, fields, now)
        if kind == 4:
            claims = _bad_claims(rng, claims)
        payload = cbor2.dumps(claims)
        if kind == 5:
            payload = _splice(rng, payload)
        signer = key if kind != 6 else rng.choice([C.OUTSIDER, C.ROGUE_ROOT, *(k for k, _ in SIGNERS if k is not key)])
        protected = _protected(rng, key) if kind == 7 else cbor2.dumps({1: key.alg, 4: key.kid})
        text = _sign(signer, payload, protected=protected, tagged=rng.random() < 0.9, level=rng.choice([9, 9, 6, 1, 0]))
        if kind == 8:
            text = _damage_text(rng, text)
        if kind == 9:  # a type the trust list does not hold, or a text or COSE over the limits
            choice = rng.randrange(4)
            if choice == 0:
                claims[-70000] = {**claims[-70000], "t": rng.choice(["cn.residence_permit", "cn.unknown"])}
                text = _sign(signer, cbor2.dumps(claims))
            elif choice == 1:
                claims[-70000] = {**claims[-70000], "v": rng.choice([2, 10000])}
                text = _sign(signer, cbor2.dumps(claims))
            elif choice == 2:
                text = "EC1:" + b45.encode(zlib.compress(bytes(rng.choice([65536, 65537, 200000]))))
            else:
                text = text + rng.choice(["0", "%"]) * (4300 - len(text))
        cases.add(f"gen/{i}", rng.choice(ctxs), text, now=now, skew=rng.choice([SKEW, SKEW, 0, 300]),
                  purpose=rng.choice(PURPOSES), region=rng.choice(CALLERS))


def compare(expected: dict, got: dict) -> list[str]:
    if got.get("needs_connection"):
        return ["needs_connection"]
    keys_ = ["result", "credential", "status_checked", "status", "status_as_of", "document", "purpose", "fields",
             "warnings"]
    diffs = [k for k in keys_ if expected[k] != got.get(k)]
    if expected["result"] in SAME_DETAIL and expected["detail"] != got.get("detail"):
        diffs.append("detail")
    return diffs

# -- zlib streams ---------------------------------------------------------------------------------

def zlib_reference(data: bytes, limit: int) -> dict:
    """``credential.decompress``'s outcome in the runner's form: ok and the output's digest, or the kind."""
    try:
        out = credential.decompress(data, limit)
    except FormatError as err:
        return {"kind": "too large" if err.outcome is Outcome.PAYLOAD_TOO_LARGE else "failed"}
    return {"kind": "ok", "sha256": hashlib.sha256(out).hexdigest()}


def _compressed(rng: random.Random, payload: bytes) -> bytes:
    """``payload`` in one zlib stream of a random level, window, strategy, and block boundaries."""
    c = zlib.compressobj(rng.choice([0, 1, 6, 9]), zlib.DEFLATED, rng.choice([9, 12, 15]), rng.choice([1, 4, 8, 9]),
                         rng.choice([zlib.Z_DEFAULT_STRATEGY, zlib.Z_FILTERED, zlib.Z_HUFFMAN_ONLY, zlib.Z_RLE,
                                     zlib.Z_FIXED]))
    out, at = b"", 0
    while at < len(payload):
        step = rng.choice([len(payload), rng.randrange(1, 300), rng.randrange(1, 5000)])
        out += c.compress(payload[at:at + step])
        at += step
        if rng.random() < 0.3:
            out += c.flush(rng.choice([zlib.Z_SYNC_FLUSH, zlib.Z_FULL_FLUSH]))
    return out + c.flush()


def _payload(rng: random.Random, size: int) -> bytes:
    kind = rng.randrange(4) if size <= 8192 else rng.choice([0, 2, 3])  # random bytes kept small
    if kind == 0:
        return bytes(size)
    if kind == 1:
        return rng.randbytes(size)
    if kind == 2:
        return (b"cn.driving_licence \xe5\xbc\xa0\xe4\xb8\x89 330102199001011234 " * (size // 40 + 1))[:size]
    return rng.randbytes(size).translate(bytes(b"ab"[x & 1] for x in range(256)))


def _damaged(rng: random.Random, z: bytes) -> bytes:
    op = rng.randrange(9)
    if op == 0 or not z:
        return z
    if op == 1:  # a bit flipped
        i = rng.randrange(len(z))
        return z[:i] + bytes([z[i] ^ (1 << rng.randrange(8))]) + z[i + 1:]
    if op == 2:  # a byte changed, near the end more often (the last block, the Adler-32)
        i = rng.choice([rng.randrange(len(z)), max(0, len(z) - rng.randrange(1, 9))])
        return z[:i] + bytes([rng.randrange(256)]) + z[i + 1:]
    if op == 3:  # cut
        return z[:rng.randrange(len(z))]
    if op == 4:  # bytes after the end, or a second stream
        return z + rng.choice([b"\x00", rng.randbytes(rng.randrange(1, 5)), zlib.compress(b"more")])
    if op == 5:  # another header: gzip, raw deflate, a preset dictionary, other windows and checks
        raw = z[2:-4]
        cinfo = rng.randrange(16)
        cmf = (cinfo << 4) | rng.choice([8, 8, 8, 7, 15])
        flg = rng.choice([0, 0x20, 0x40, 0x80, 0xC0])
        flg |= (31 - ((cmf << 8) | flg) % 31) % 31 if rng.random() < 0.9 else 1
        pick = rng.randrange(4)
        if pick == 0:
            return gzip.compress(zlib.decompress(z), 1)
        return [bytes([cmf, flg]) + raw + z[-4:], raw, bytes([cmf, flg]) + b"\x12\x34\x56\x78" + raw + z[-4:]][pick - 1]
    if op == 6:  # a block spliced into another stream
        i, j = sorted(rng.randrange(len(z) + 1) for _ in range(2))
        return z[:i] + z[j:]
    if op == 7:  # random bytes behind a valid header
        return b"\x78\x9c" + rng.randbytes(rng.randrange(0, 40))
    return rng.choice([b"", b"\x78", b"\x78\x9c", b"\x78\x9c\x03\x00", b"\x78\x9c\x03\x00\x00\x00\x00\x01",
                       b"\x78\x01\x01\x00\x00\xff\xff\x00\x00\x00\x01"])


def add_zlib(cases: Cases, n: int, seed: int) -> None:
    """``n`` zlib streams, most inflating to within a few bytes of the bound (below, at, above),
    valid or damaged, each with the Python side's outcome."""
    rng = random.Random(seed)
    for i in range(n):
        limit = rng.choice([64, 1000, 4096, 32768, 32769, 65536])
        size = rng.choice([0, 1, rng.randrange(0, 2 * limit + 2), *(limit + d for d in (-2, -1, 0, 1, 2, 3, 300))])
        size = max(0, min(size, 3 * limit))
        z = _damaged(rng, _compressed(rng, _payload(rng, size)))
        cases.zlib_cases.append({"id": f"zlib/{i}", "b64": b64(z), "limit": limit})
        cases.zlib_expected[f"zlib/{i}"] = zlib_reference(z, limit)
