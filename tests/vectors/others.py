"""The EP1 token, status-list and trust-list vectors."""

from __future__ import annotations

import json
import zlib

import cbor2

from ecert.format import (
    b45,
    cose,
    credential,
    keys,
    presentation,
    statuslist,
    trustlist,
)
from ecert.rules import verify
from ecert.rules.trust import TrustList
from tests.vectors.common import (
    KEY_TABLE,
    NEXT_ROOT,
    NOW,
    OUTSIDER,
    PAYLOAD,
    PAYLOAD_V8,
    ROGUE_NEXT,
    ROGUE_ROOT,
    ROOT_KEY,
    RULES,
    RULES_V8,
    SH,
    SH_ENTRIES,
    SH_LIST,
    SH_REVOKED,
    SH_SIZE,
    SH_STATUS_URI,
    SIGNED_TRUST,
    SIGNED_TRUST_V8,
    SKEW,
    TRUST,
    TRUST_VERSION,
    ZJ,
    ZJ_ENTRIES,
    ZJ_LIST,
    ZJ_LIST_STALE,
    ZJ_SHARD_ENTRIES,
    ZJ_SHARD_G,
    ZJ_SHARD_IDX,
    ZJ_SHARD_LIST,
    ZJ_SHARD_URI,
    ZJ_SIZE,
    ZJ_STATUS_URI,
    add,
    b64,
    context,
    cti_for,
    region_keys,
    root_json,
    signed_status,
    trust_payload,
)

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
    shard_values = {**{i: 0 for i in (0, ZJ_SHARD_IDX - 1, ZJ_SHARD_IDX + 2, statuslist.SHARD_SIZE - 2)},
                    **{idx: statuslist.STATUS_VALUES[s] for idx, s in ZJ_SHARD_ENTRIES}}
    status_vec("shard-cn-zj-2", f"CN-ZJ's second shard as its issuer publishes it: {statuslist.SHARD_SIZE:,} entries "
               f"(262,144 bytes before zlib), uri {ZJ_SHARD_URI}, exp = iat + 3,600 s, ttl 10 s. The region's "
               f"credential number {ZJ_SHARD_G:,} (counted from 0) has uri = shard g // 2^20 + 1 = 2 and "
               f"idx = g mod 2^20 = {ZJ_SHARD_IDX}: revoked; the next one suspended, the shard's last entry revoked.",
               ZJ_SHARD_LIST, ZJ_SHARD_URI, "CN-ZJ", True, values=shard_values)
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

def rules_json(tl) -> dict | None:
    """The ``rules`` member as read: keys and lists sorted; None when the list carries none."""
    return None if tl.rules is None else trustlist.rules_payload(tl.rules.purposes, tl.rules.recognition)


def root_json_short(k) -> dict:
    return {"kid": k.kid.hex(), "alg": keys.ALG_NAMES[k.alg], "spki_b64": b64(k.spki)}


def trust_vec(name: str, description: str, signed: bytes, accepted: bool, *, spec="credential-format.md §6",
              extension: bool = False, rules: dict | None = None, chain: list[bytes] | None = None,
              root_reached=None) -> None:
    """A trust-list vector. With ``chain`` (the root chain the registry serves with the list: the
    announcements, oldest first) the list is checked against the root reached from the pinned one
    by following it; ``root_reached``: that root (or, for an announcement, the root its
    ``next_root`` leads to), as expected."""
    pinned = ROOT_KEY.public
    root = trustlist.follow_roots(pinned, chain)[0] if chain is not None else pinned
    try:
        tl = TrustList.from_signed(signed, root)
        got, reason = True, ""
    except trustlist.TrustListError as err:
        tl, got, reason = None, False, str(err)
    if got != accepted:
        raise AssertionError(f"trust-list/{name}: accepted is {got} ({reason})")
    expected: dict = {"accepted": accepted}
    if root_reached is not None:
        reached = root if chain is not None else trustlist.follow_roots(pinned, [signed])[0]
        if reached.kid != root_reached.kid:
            raise AssertionError(f"trust-list/{name}: the root reached is {reached.kid.hex()}")
        expected["root_reached"] = reached.kid.hex()
    if accepted:
        assert tl is not None
        expected.update({
            "version": tl.version, "iat": tl.iat, "exp": tl.exp, "stale": tl.is_stale(NOW),
            "regions": [{"code": r.code, "name": r.name, "endpoint": r.endpoint,
                         "keys": [{"kid": k.kid.hex(), "alg": keys.ALG_NAMES[k.public.alg], "status": k.status,
                                   "nbf": k.nbf, "exp": k.exp, "revoked_at": k.revoked_at} for k in r.keys]}
                        for r in tl.regions.values()],
            "types": [{"id": t.id, "v": t.version, "name": t.name} for t in tl.types.values()],
            "rules": rules_json(tl),
            "next_root": None if tl.next_root is None else root_json_short(tl.next_root),
            "payload_json": json.loads(trustlist.to_json(tl.payload)),
        })
        if expected["rules"] != rules:
            raise AssertionError(f"trust-list/{name}: rules are {expected['rules']}")
    else:
        expected["error"] = "TRUST_LIST_INVALID"
        expected["detail"] = reason
    input_: dict = {"signed_b64": b64(signed)}
    if chain is not None:
        input_["root_chain_b64"] = [b64(a) for a in chain]
    add("trust-list", name, description, input_, expected,
        ctx={"now": NOW, "root_key": root_json(ROOT_KEY)}, spec=spec, extension=extension)


def build_trust_lists() -> None:
    S6_8 = "credential-format.md §6, §8"
    trust_vec("valid", "The trust list every EC1/EP1 vector uses, signed by the pinned root key (ES256). It "
              "carries the recognition rules (rules): the agreement of the four Yangtze River Delta regions; "
              "CN-FJ is listed with a key but outside the agreement.", SIGNED_TRUST, True, rules=RULES, spec=S6_8)
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
    obj = cbor2.loads(SIGNED_TRUST).value
    altered = dict(PAYLOAD, rules={**RULES, "purposes": {**RULES["purposes"],
                                                         "hotel_check_in": sorted([*RULES["purposes"]["hotel_check_in"],
                                                                                   "cn.driving_licence"])}})
    trust_vec("rules-altered-after-signing", "The root's signature over a payload whose rules were changed "
              "afterwards (hotel_check_in made to accept cn.driving_licence): refused.",
              cbor2.dumps(cbor2.CBORTag(18, [obj[0], {}, cbor2.dumps(altered), obj[3]])), False, spec=S6_8)
    trust_vec("rules-changed-by-admin", f"Version {TRUST_VERSION + 1}: the same list after an admin recorded that "
              "CN-ZJ recognises CN-FJ, signed by the root: accepted, with the new rules.", SIGNED_TRUST_V8, True,
              rules=RULES_V8, spec=S6_8)
    assert PAYLOAD_V8["v"] == TRUST_VERSION + 1
    trust_vec("valid-without-rules", "A list signed before there were recognition rules (no rules member): "
              "accepted, rules null. This project then judges purposes by the agreement it ships.",
              trustlist.sign(ROOT_KEY, trust_payload(rules=None)), True, rules=None, spec=S6_8, extension=False)
    malformed = dict(PAYLOAD, rules={"purposes": {"hotel_check_in": "cn.resident_id"}, "recognition": {}})
    trust_vec("rules-malformed", "Signed by the root, but a purpose's accepted types are text, not a list: "
              "refused.", trustlist.sign(ROOT_KEY, malformed), False, spec=S6_8, extension=True)
    trust_vec("kid-not-matching-key", "Signed by the root, but one key's kid is not SHA-256(spki)[:8]: refused.",
              trustlist.sign(ROOT_KEY, wrong_kid), False, extension=True)

    # A root rotation (credential-format.md §6, "Keys, rotation and the root"): the registry signs one
    # last list with the old root naming the new one (next_root), then signs every later list with the
    # new root, and serves the announcements with its lists (the root chain, oldest first).
    S6R = "credential-format.md §6 (root rotation)"
    announcement = trustlist.sign(ROOT_KEY, trust_payload(TRUST_VERSION + 2, iat=NOW - 1200,
                                                          next_root=NEXT_ROOT.public))
    after = trustlist.sign(NEXT_ROOT, trust_payload(TRUST_VERSION + 3, iat=NOW - 1190))
    trust_vec("root-rotation-announcement", f"Version {TRUST_VERSION + 2}, signed by the pinned root, announcing "
              "its successor in next_root {kid, alg, spki}: accepted against the pin; following it (follow_roots) "
              "leads to the new root, expected.root_reached.", announcement, True, rules=RULES, spec=S6R,
              extension=True, root_reached=NEXT_ROOT)
    trust_vec("root-rotation-next-list", f"Version {TRUST_VERSION + 3}, signed by the new root, with the root "
              "chain the registry serves (the announcement): a verifier pinned to the old root follows the chain "
              "and accepts the list.", after, True, rules=RULES, spec=S6R, extension=True, chain=[announcement],
              root_reached=NEXT_ROOT)
    trust_vec("root-rotation-next-list-without-chain", "The same list without the chain: the pinned root did not "
              "sign it, refused.", after, False, spec=S6R, extension=True)
    rogue_announcement = trustlist.sign(ROGUE_ROOT, trust_payload(TRUST_VERSION + 2, iat=NOW - 1200,
                                                                  next_root=ROGUE_NEXT.public))
    trust_vec("root-rotation-chain-not-signed-by-root", "A list signed by a key that a chain element names as the "
              "next root, but that element was signed by another key, not by the pinned root: the chain is not "
              "followed (the root reached is still the pinned one) and the list is refused.",
              trustlist.sign(ROGUE_NEXT, trust_payload(TRUST_VERSION + 3, iat=NOW - 1190)), False, spec=S6R,
              extension=True, chain=[rogue_announcement], root_reached=ROOT_KEY.public)
