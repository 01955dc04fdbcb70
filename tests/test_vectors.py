"""The committed conformance vectors (tests/vectors/) against the project's own verification.

Every EC1/EP1 text must get its expected outcome (and, when VALID, its claims, fields,
disclosed fields, display id and warnings; when authentic but not current, the identifying
fields; else nothing shown), judged for the vector's purpose and caller region when it names
one; every status list and trust list (with its recognition rules) must be accepted or refused
as expected, and every outcome the vectors can cover offline has at least one vector. The
generator is run once, in memory, to check that the committed files are exactly what it writes.
"""

from __future__ import annotations

import base64
import functools
import json
from pathlib import Path

import pytest

from ecert.format import credential, keys, statuslist, trustlist
from ecert.format.trustlist import TrustListError
from ecert.rules import verify
from ecert.rules.acceptance import default_rules
from ecert.rules.trust import TrustList
from ecert.vocab import KEY_ROLES

VECTORS_DIR = Path(__file__).with_name("vectors")
KINDS = ("ec1", "ep1", "status-list", "trust-list")
FORMAT = "ecert-conformance-vector/1"

# Every outcome of the format contract's table (1.1) that an EC1 or EP1 text can get offline.
# Not covered (README): TOKEN_ALREADY_USED and REGION_UNAVAILABLE need the issuing region,
# NO_CODE_FOUND needs a picture.
OFFLINE_OUTCOMES = {
    "PREFIX_UNKNOWN", "BASE45_INVALID", "PAYLOAD_TOO_LARGE", "DECOMPRESS_FAILED", "COSE_MALFORMED",
    "ALG_NOT_ALLOWED", "KID_UNKNOWN", "SIGNATURE_INVALID", "KEY_REVOKED", "KEY_NOT_VALID_AT_IAT",
    "CLAIMS_MALFORMED", "ISSUER_MISMATCH", "NOT_YET_VALID", "EXPIRED", "TYPE_UNKNOWN", "SCHEMA_INVALID",
    "REVOKED", "SUSPENDED", "NOT_ACCEPTED_FOR_PURPOSE", "VALID",
}
# Authentic but not current or not accepted: the answer shows the identifying fields (x-identify).
IDENTIFYING = {"REVOKED", "SUSPENDED", "EXPIRED", "NOT_YET_VALID", "NOT_ACCEPTED_FOR_PURPOSE"}
ROLES = sorted(KEY_ROLES)


def _files() -> list[Path]:
    return sorted(p for kind in KINDS for p in (VECTORS_DIR / kind).glob("*.json"))


@functools.cache
def _vector(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _by_kind(kind: str) -> list[Path]:
    return [p for p in _files() if p.parent.name == kind]


def _ids(paths: list[Path]) -> list[str]:
    return [f"{p.parent.name}/{p.stem}" for p in paths]


def _b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


@functools.cache
def _root(alg_id: int, spki_b64: str):
    return keys.PublicKey(alg_id, _b64(spki_b64))


@functools.cache
def _trust(signed_b64: str, alg_id: int, spki_b64: str):
    return TrustList.from_signed(_b64(signed_b64), _root(alg_id, spki_b64))


def _context_trust(ctx: dict):
    root = ctx["root_key"]
    return _trust(ctx["trust_list"]["signed_b64"], root["alg_id"], root["spki_b64"])


def _region_keys(trust, region: str) -> dict:
    out: dict = {}
    for k in trust.regions[region].keys:
        out.setdefault(k.kid, []).append(k)
    return out


def _warnings_json(warnings) -> list[dict]:
    return [{"code": w.code, "field": w.field, "since": w.since} for w in warnings]


def _claims_json(c) -> dict:
    return {"iss": c.iss, "iat": c.iat, "exp": c.exp, "nbf": c.nbf, "cti": c.cti.hex(),
            "id": credential.cti_to_id(c.cti), "type": c.type_id, "version": c.type_version,
            "status": None if c.status_uri is None else {"uri": c.status_uri, "idx": c.status_idx}}


# ---------------------------------------------------------------------------------- the files

def test_every_file_has_the_vector_shape():
    files = _files()
    assert files, "no vectors in tests/vectors/"
    for path in files:
        v = _vector(path)
        assert v["format"] == FORMAT, path
        assert v["id"] == f"{path.parent.name}/{path.stem}" and v["kind"] == path.parent.name, path
        assert v["description"] and isinstance(v["extension"], bool), path
        assert "input" in v and "expected" in v and "now" in v["context"], path
        assert "outcome" in v["expected"] or "accepted" in v["expected"], path


def test_root_key_pem_and_spki_agree():
    for path in _files():
        root = _vector(path)["context"]["root_key"]
        pub = keys.public_from_pem(root["pem"].encode())
        assert pub.spki == _b64(root["spki_b64"]) and pub.kid.hex() == root["kid"], path


def test_every_offline_outcome_has_a_vector():
    seen = {_vector(p)["expected"]["outcome"] for p in _by_kind("ec1") + _by_kind("ep1")}
    assert OFFLINE_OUTCOMES <= seen, f"no vector for {sorted(OFFLINE_OUTCOMES - seen)}"
    assert seen <= OFFLINE_OUTCOMES
    ep1 = {_vector(p)["expected"]["outcome"] for p in _by_kind("ep1")}
    assert {"VALID", "EXPIRED", "SIGNATURE_INVALID"} <= ep1
    for kind in ("status-list", "trust-list"):
        assert {_vector(p)["expected"]["accepted"] for p in _by_kind(kind)} == {True, False}, kind


def test_the_vectors_cover_documents_and_purposes():
    """Issue 11's cases each have a vector: the document's own dates in both directions (named in
    the detail and given as ``document``, which only they carry), a warning shown to police and
    not to a hotel, the purpose judged from a caller bound to no region and from one with a
    region, identifying fields for each such outcome, and trust lists carrying rules, without
    them, and with rules altered after signing."""
    ec1 = [_vector(p) for p in _by_kind("ec1")]
    named = {(v["expected"]["outcome"], v["expected"].get("detail_names")) for v in ec1}
    assert {("EXPIRED", "valid_until"), ("NOT_YET_VALID", "valid_from")} <= named
    dated = {(v["expected"]["outcome"], v["expected"]["document"]["field"]) for v in ec1 if "document" in v["expected"]}
    assert dated == {("EXPIRED", "valid_until"), ("NOT_YET_VALID", "valid_from")}
    assert all(v["expected"].get("detail_names") == v["expected"].get("document", {}).get("field") for v in ec1)
    assert any(v["expected"]["outcome"] == "EXPIRED" and "document" not in v["expected"] for v in ec1)  # the CWT's
    warned = [v for v in ec1 if v["expected"].get("warnings")]
    assert any(v["expected"]["shown_warnings"]["traffic_police"] and not v["expected"]["shown_warnings"]["hotel"]
               for v in warned)
    judged = [v for v in ec1 if "purpose" in v["context"]]
    assert {v["context"]["caller_region"] == "" for v in judged} == {True, False}
    assert {v["expected"]["outcome"] for v in judged} >= {"VALID", "NOT_ACCEPTED_FOR_PURPOSE", "REVOKED", "EXPIRED"}
    for outcome in IDENTIFYING:
        assert any(v["expected"]["outcome"] == outcome and any(v["expected"]["identified"].values())
                   for v in ec1), outcome
    trust = [_vector(p)["expected"] for p in _by_kind("trust-list")]
    assert any(e["accepted"] and e["rules"] for e in trust) and any(e["accepted"] and e["rules"] is None
                                                                    for e in trust)
    assert _vector(VECTORS_DIR / "trust-list" / "rules-altered-after-signing.json")["expected"]["accepted"] is False


def test_the_vectors_cover_shards_and_root_rotation():
    """Issue 13's formats each have a vector: a status list of a shard other than the first, of the
    size the issuer publishes, with a credential whose claim names it; a root rotation's
    announcement (signed by the pinned root, naming the next), the next list accepted through the
    chain and refused without it, and a chain that the pinned root did not sign, not followed."""
    shards = [_vector(p) for p in _by_kind("status-list")
              if statuslist.parse_shard_uri(_vector(p)["input"]["expected_uri"]) not in (None, ("CN-ZJ", 1), ("CN-SH", 1))
              and _vector(p)["expected"].get("size_bytes") == statuslist.SHARD_SIZE // 4]
    assert shards, "no vector of a published shard other than :1"
    uri = shards[0]["input"]["expected_uri"]
    named = [v for v in map(_vector, _by_kind("ec1"))
             if getattr(verify.check_credential(v["input"]["text"], _context_trust(v["context"]), v["context"]["now"],
                                                v["context"]["skew"]).claims, "status_uri", None) == uri]
    assert {(v["expected"]["outcome"], v["expected"].get("status")) for v in named} == {("REVOKED", "revoked")}
    trust = {p.stem: _vector(p) for p in _by_kind("trust-list")}
    announcement = trust["root-rotation-announcement"]["expected"]
    assert announcement["accepted"] and announcement["next_root"]["kid"] == announcement["root_reached"]
    assert announcement["root_reached"] != trust["root-rotation-announcement"]["context"]["root_key"]["kid"]
    followed = trust["root-rotation-next-list"]
    assert followed["expected"]["accepted"] and followed["input"]["root_chain_b64"] == [
        trust["root-rotation-announcement"]["input"]["signed_b64"]]
    assert followed["expected"]["root_reached"] == announcement["root_reached"]
    assert trust["root-rotation-next-list-without-chain"]["expected"]["accepted"] is False
    rogue = trust["root-rotation-chain-not-signed-by-root"]
    assert rogue["expected"] | {"accepted": False, "root_reached": rogue["context"]["root_key"]["kid"]} == \
        rogue["expected"]


def test_the_committed_files_are_what_the_generator_writes():
    """The generator is deterministic (fixed keys, RFC 6979 signatures, fixed times): its output,
    built in memory, is byte for byte the committed files, and there are no others."""
    from tests.vectors import generate

    files = generate.build()
    committed = {f"{p.parent.name}/{p.name}": p.read_text(encoding="utf-8") for p in _files()}
    assert sorted(files) == sorted(committed)
    changed = [name for name, text in files.items() if committed[name] != text]
    assert not changed, f"regenerate the vectors (python -m tests.vectors.generate): {changed[:5]}"


# ---------------------------------------------------------------------------------- EC1

def _fast_path_modes() -> list[str]:
    return ["default", "reference"] if getattr(verify, "_decode_ec1", None) is not None else ["default"]


@pytest.mark.parametrize("mode", _fast_path_modes())
@pytest.mark.parametrize("path", _by_kind("ec1"), ids=_ids(_by_kind("ec1")))
def test_ec1(path, mode, monkeypatch):
    if mode == "reference":  # the pure-Python decoders, without the C fast path
        monkeypatch.setattr(verify, "_decode_ec1", None)
    v = _vector(path)
    ctx, exp = v["context"], v["expected"]
    trust = _context_trust(ctx)
    lists = {}
    for ref in ctx["status_lists"]:
        lists[ref["uri"]] = statuslist.parse(_b64(ref["signed_b64"]), expected_uri=ref["uri"],
                                             region_keys=_region_keys(trust, ref["region"]))
    # With a purpose, the trust list's recognition rules are judged for a caller of the region
    # ("": bound to none); without one, they are not.
    purpose = ctx.get("purpose")
    assert purpose is None or isinstance(ctx["caller_region"], str)
    res = verify.verify(v["input"]["text"], trust, ctx["now"], status_lists=lists.get, skew=ctx["skew"],
                        purpose=purpose, caller_region=ctx.get("caller_region", ""))
    assert res.outcome.value == exp["outcome"], res.detail
    assert res.purpose == (purpose or "")
    if "status_checked" in exp:
        assert res.status_checked is exp["status_checked"]
    if "status" in exp:  # what the answer says of the status (1.1): not_tracked, unknown, revoked, ...
        assert res.status == exp["status"]
    if "detail_names" in exp:
        assert exp["detail_names"] in res.detail
    # The document's own date that decided EXPIRED / NOT_YET_VALID, exactly when it did.
    document = None if res.document is None else {"field": res.document.field, "date": res.document.date}
    assert document == exp.get("document")
    if exp["outcome"] == "VALID":
        assert _claims_json(res.claims) == exp["claims"]
        assert res.fields == exp["fields"]
        assert sorted(exp["disclosed"]) == ROLES
        for role, fields in exp["disclosed"].items():
            assert res.shown(role) == fields, role
        assert res.type.display_id(res.claims.iss, res.claims.id) == exp["display_id"]
        assert _warnings_json(res.warnings) == exp["warnings"]
        assert ("shown_warnings" in exp) is bool(exp["warnings"])
        for role, warnings in exp.get("shown_warnings", {}).items():
            assert _warnings_json(res.shown_warnings(res.shown(role))) == warnings, role
        assert "identified" not in exp and "shown" not in exp
        return
    assert res.warnings == () and "warnings" not in exp and "disclosed" not in exp
    # Authentic but not current: who it names (x-identify); forged or unreadable: nothing.
    member = "identified" if exp["outcome"] in IDENTIFYING else "shown"
    assert sorted(exp[member]) == ROLES and ({"identified", "shown"} - {member}).isdisjoint(exp)
    for role, fields in exp[member].items():
        assert res.shown(role) == fields, role
        assert member == "identified" or fields == {}


# ---------------------------------------------------------------------------------- EP1

@pytest.mark.parametrize("path", _by_kind("ep1"), ids=_ids(_by_kind("ep1")))
def test_ep1(path):
    v = _vector(path)
    ctx, exp = v["context"], v["expected"]
    res = verify.check_token(v["input"]["text"], _context_trust(ctx), ctx["now"], ctx["skew"])
    assert res.outcome.value == exp["outcome"], res.detail
    if exp["outcome"] == "VALID":
        t = res.token
        assert {"iss": t.iss, "iat": t.iat, "exp": t.exp, "cti": t.cti.hex(),
                "credential_cti": t.credential_cti.hex(),
                "credential_id": credential.cti_to_id(t.credential_cti)} == exp["token"]


# ---------------------------------------------------------------------------------- status lists

@pytest.mark.parametrize("path", _by_kind("status-list"), ids=_ids(_by_kind("status-list")))
def test_status_list(path):
    v = _vector(path)
    ctx, inp, exp = v["context"], v["input"], v["expected"]
    trust = _context_trust(ctx)
    region_keys = _region_keys(trust, inp["region"])
    if not exp["accepted"]:
        with pytest.raises(statuslist.StatusListError):
            statuslist.parse(_b64(inp["signed_b64"]), expected_uri=inp["expected_uri"], region_keys=region_keys)
        return
    sl = statuslist.parse(_b64(inp["signed_b64"]), expected_uri=inp["expected_uri"], region_keys=region_keys)
    assert (sl.uri, sl.iat, sl.exp, sl.ttl, len(sl.bits)) == (exp["uri"], exp["iat"], exp["exp"], exp["ttl"],
                                                            exp["size_bytes"])
    assert sl.is_stale(ctx["now"]) is exp["stale"]
    assert exp["values"]
    for idx, value in exp["values"].items():
        assert sl.get(int(idx)) == value, idx


# ---------------------------------------------------------------------------------- trust lists

@pytest.mark.parametrize("path", _by_kind("trust-list"), ids=_ids(_by_kind("trust-list")))
def test_trust_list(path):
    v = _vector(path)
    root, exp = v["context"]["root_key"], v["expected"]
    signed = _b64(v["input"]["signed_b64"])
    pinned = _root(root["alg_id"], root["spki_b64"])
    # With the root chain the registry serves: the list is checked against the root reached from
    # the pinned one along the announcements (each signed by the root reached so far).
    chain = v["input"].get("root_chain_b64")
    against = pinned if chain is None else trustlist.follow_roots(pinned, [_b64(a) for a in chain])[0]
    if chain is not None:
        assert against.kid.hex() == exp["root_reached"]
    if not exp["accepted"]:
        with pytest.raises(TrustListError):
            TrustList.from_signed(signed, against)
        return
    tl = TrustList.from_signed(signed, against)
    # A root rotation's announcement names the next root; following it leads there.
    next_root = exp["next_root"]
    if next_root is None:
        assert tl.next_root is None and "next_root" not in exp["payload_json"]
    else:
        assert (tl.next_root.kid.hex(), keys.ALG_NAMES[tl.next_root.alg], tl.next_root.spki) == (
            next_root["kid"], next_root["alg"], _b64(next_root["spki_b64"]))
        assert trustlist.follow_roots(pinned, [signed])[0].kid.hex() == exp["root_reached"] == next_root["kid"]
    assert (tl.version, tl.iat, tl.exp, tl.is_stale(v["context"]["now"])) == (
        exp["version"], exp["iat"], exp["exp"], exp["stale"])
    assert [{"code": r.code, "name": r.name, "endpoint": r.endpoint,
             "keys": [{"kid": k.kid.hex(), "alg": keys.ALG_NAMES[k.public.alg], "status": k.status,
                       "nbf": k.nbf, "exp": k.exp, "revoked_at": k.revoked_at} for k in r.keys]}
            for r in tl.regions.values()] == exp["regions"]
    assert [{"id": t.id, "v": t.version, "name": t.name} for t in tl.types.values()] == exp["types"]
    assert json.loads(trustlist.to_json(tl.payload)) == exp["payload_json"]
    # The signed recognition rules; a list without them (signed before there were rules) carries
    # none, and this project then judges by the agreement it ships.
    if exp["rules"] is None:
        assert tl.rules is None and "rules" not in exp["payload_json"]
        assert tl.acceptance == default_rules()
    else:
        assert trustlist.rules_payload(tl.rules.purposes, tl.rules.recognition) == exp["rules"]
        assert tl.acceptance.to_payload() == exp["rules"] == exp["payload_json"]["rules"]
