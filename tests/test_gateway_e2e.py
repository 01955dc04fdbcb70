"""Issue 2, end to end through the gateway: issuing, verifying and every outcome code."""

from __future__ import annotations

import asyncio
import io
import json
import time
import zlib

import aiohttp
import cbor2
import pytest

from ecert.format import b45, trustlist
from ecert.format import keys as ekeys
from ecert.format.keys import SigningKey
from ecert.rules.trail import HOLDER_KEYS
from ecert.rules.trust import TrustList
from ecertpb.v1 import issuer_pb2
from gateway.routes.trail import entry_json
from services.registry.servicer import root_key_paths
from testkit import photos
from testkit.samples import SAMPLES, driving_licence
from tests import forge
from tests.conftest import bearer

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def issue(http, key, region="CN-ZJ", **body):
    payload = {"region": region, "type": "cn.driving_licence", "fields": driving_licence(), **body}
    r = await http.post("/v1/credentials", json=payload, headers=bearer(key))
    data = await r.json()
    assert r.status == 201, data
    return data


async def verify(http, key, payload, status=200):
    r = await http.post("/v1/verifications", json={"payload": payload}, headers=bearer(key))
    data = await r.json()
    assert r.status == status, data
    return data


@pytest.fixture(scope="module")
def external_key():
    return SigningKey.generate()


async def register_external(http, keys, suite, key: SigningKey, region="CN-SH", agency="agency_sh"):
    """Register a key whose private half only the test holds, and let the verifier see it."""
    r = await http.post(f"/v1/regions/{region}/keys", headers=bearer(keys[agency]),
                        json={"alg": "ES256", "spki": forge.spki_b64(key)})
    assert r.status in (200, 201), await r.text()
    await suite.refresh()
    return (await r.json())["kid"]


# -- issuing and role-based disclosure -----------------------------------------------------------

async def test_zj_licence_verified_by_hotel_and_police_each_with_its_fields(http, keys):
    cred = await issue(http, keys["agency_zj"])
    assert cred["qr_text"].startswith("EC1:") and cred["status"] == "valid"
    assert len(cred["qr_text"]) <= 4296
    police = await verify(http, keys["police"], cred["qr_text"])
    assert police["result"] == "VALID" and police["purpose"] == "roadside_driver_check"
    assert police["status_checked"] is True and police["warnings"] == [] and "document" not in police
    assert police["credential"]["id"] == cred["id"] and police["credential"]["region"] == "CN-ZJ"
    assert {"licence_class", "valid_until", "points"} <= set(police["fields"])
    assert police["fields"]["licence_class"] == "C1"
    assert police["trust_list_version"] >= 1
    # A hotel checks in guests on identity documents: a driving licence is genuine, but not accepted
    # for that purpose, and the clerk sees only the name on it (never a bare VALID with no fields).
    hotel = await verify(http, keys["hotel"], cred["qr_text"])
    assert hotel["result"] == "NOT_ACCEPTED_FOR_PURPOSE" and hotel["purpose"] == "hotel_check_in"
    assert hotel["fields"] == {"name": driving_licence()["name"]} and "hotel_check_in" in hotel["detail"]
    card = await issue(http, keys["agency_zj"], type="cn.resident_id", fields=SAMPLES["cn.resident_id"])
    guest = await verify(http, keys["hotel"], card["qr_text"])
    assert guest["result"] == "VALID" and {"name", "id_number", "photo"} <= set(guest["fields"])
    integrator = await verify(http, keys["integrator"], cred["qr_text"])
    assert integrator["result"] == "VALID" and integrator["purpose"] == "general"
    assert "id_number" not in integrator["fields"]


async def test_version_0_absent_or_null_issues_the_type_s_newest(http, keys):
    r = await http.get("/v1/certificate-types", headers=bearer(keys["agency_zj"]))
    newest = max(t["version"] for t in (await r.json())["types"] if t["id"] == "cn.driving_licence")
    for extra in ({}, {"version": 0}, {"version": None}):
        r = await http.post("/v1/credentials", headers=bearer(keys["agency_zj"]), json={
            "region": "CN-ZJ", "type": "cn.driving_licence", "fields": driving_licence(), **extra})
        assert r.status == 201, (extra, await r.text())
        assert (await r.json())["version"] == newest, extra


async def test_an_access_log_entry_shows_the_holder_s_members_and_no_other():
    """The entry as :data:`ecert.rules.trail.HOLDER_KEYS` lists them, in that order, its time as RFC 3339."""
    e = issuer_pb2.TrailEntry(id="e1", seq=3, region="CN-ZJ", credential_id="C" * 26, at=1_700_000_000,
                              action="verify", actor_org="某酒店", actor_key_id="k1", actor_role="hotel",
                              actor_region="CN-SH", purpose="hotel_check_in", result="VALID", prev_hash="p" * 64,
                              hash="h" * 64)
    shown = entry_json(e)
    assert list(shown) == list(HOLDER_KEYS)
    assert shown == {"seq": 3, "at": "2023-11-14T22:13:20Z", "action": "verify", "actor_org": "某酒店",
                     "actor_role": "hotel", "actor_region": "CN-SH", "purpose": "hotel_check_in", "result": "VALID",
                     "hash": "h" * 64, "prev_hash": "p" * 64}


async def test_same_request_id_gives_one_credential(http, keys):
    a = await issue(http, keys["agency_zj"], request_id="req-42")
    b = await issue(http, keys["agency_zj"], request_id="req-42")
    assert a["id"] == b["id"] and a["qr_text"] == b["qr_text"]
    r = await http.post("/v1/credentials", headers=bearer(keys["agency_zj"]), json={
        "region": "CN-ZJ", "type": "cn.driving_licence", "fields": driving_licence(name="李四"),
        "request_id": "req-42"})
    assert r.status == 409
    assert (await r.json())["error"]["code"] == "REQUEST_ID_REUSED"


async def test_fields_against_the_schema_are_422_naming_the_field(http, keys):
    r = await http.post("/v1/credentials", headers=bearer(keys["agency_zj"]), json={
        "region": "CN-ZJ", "type": "cn.driving_licence", "fields": driving_licence(points=99)})
    body = await r.json()
    assert r.status == 422 and "points" in body["error"]["message"]
    r = await http.post("/v1/credentials", headers=bearer(keys["agency_zj"]), json={
        "region": "CN-ZJ", "type": "cn.no_such_type", "fields": {}})
    assert r.status == 422 and (await r.json())["error"]["code"] == "TYPE_UNKNOWN"


async def test_credential_record_and_qr_png(http, keys):
    cred = await issue(http, keys["agency_zj"])
    r = await http.get(f"/v1/credentials/{cred['id']}", headers=bearer(keys["agency_zj"]))
    rec = await r.json()
    assert r.status == 200 and rec["status"] == "valid" and rec["fields"]["name"] == "王小明"
    r = await http.get(f"/v1/credentials/{cred['id']}", headers=bearer(keys["admin"]))
    assert r.status == 200
    r = await http.get(f"/v1/credentials/{cred['id']}", headers=bearer(keys["agency_sh"]))
    assert r.status == 404  # another region's agency does not see it
    r = await http.get(f"/v1/credentials/{cred['id']}", headers=bearer(keys["police"]))
    assert r.status == 403
    r = await http.get(f"/v1/credentials/{cred['id']}/qr.png", headers=bearer(keys["agency_zj"]))
    assert r.status == 200 and r.content_type == "image/png"
    assert (await r.read()).startswith(b"\x89PNG")
    r = await http.get("/v1/credentials/NOSUCHCREDENTIALAAAAAAAAAA", headers=bearer(keys["agency_zj"]))
    assert r.status == 404


# -- status: revoke, suspend, reinstate ----------------------------------------------------------

async def test_revoked_and_suspended(http, keys, suite):
    revoked = await issue(http, keys["agency_zj"])
    suspended = await issue(http, keys["agency_zj"])
    assert (await verify(http, keys["police"], revoked["qr_text"]))["result"] == "VALID"
    r = await http.post(f"/v1/credentials/{revoked['id']}:revoke", headers=bearer(keys["agency_zj"]))
    assert r.status == 200 and (await r.json())["status"] == "revoked"
    r = await http.post(f"/v1/credentials/{suspended['id']}:suspend", headers=bearer(keys["agency_zj"]))
    assert r.status == 200 and (await r.json())["status"] == "suspended"
    await suite.refresh()
    v = await verify(http, keys["police"], revoked["qr_text"])
    assert v["result"] == "REVOKED" and v["status_checked"] is True and "document" not in v
    assert v["fields"]["name"] == driving_licence()["name"]  # who presented it, for the officer
    assert (await verify(http, keys["police"], suspended["qr_text"]))["result"] == "SUSPENDED"
    # reinstating a suspended credential makes it valid again; a revoked one stays revoked
    r = await http.post(f"/v1/credentials/{suspended['id']}:reinstate", headers=bearer(keys["agency_zj"]))
    assert (await r.json())["status"] == "valid"
    r = await http.post(f"/v1/credentials/{revoked['id']}:reinstate", headers=bearer(keys["agency_zj"]))
    assert r.status == 409
    r = await http.post(f"/v1/credentials/{revoked['id']}:revoke", headers=bearer(keys["agency_zj"]))
    assert r.status == 200  # repeating is harmless
    r = await http.post(f"/v1/credentials/{revoked['id']}:revoke", headers=bearer(keys["agency_sh"]))
    assert r.status == 404
    r = await http.post(f"/v1/credentials/{revoked['id']}:explode", headers=bearer(keys["agency_zj"]))
    assert r.status == 404
    # A second change within the second its list was signed is signed the next second (a verifier that
    # fetched in that second must see a later iat): within a second or so, not at once.
    for _ in range(50):
        await suite.refresh()
        if (await verify(http, keys["police"], suspended["qr_text"]))["result"] == "VALID":
            break
        await asyncio.sleep(0.1)
    assert (await verify(http, keys["police"], suspended["qr_text"]))["result"] == "VALID"


# -- time: injected into the verifier --------------------------------------------------------------

async def test_expired_and_not_yet_valid(http, keys, suite):
    cred = await issue(http, keys["agency_zj"], valid_days=1)
    try:
        suite.verifier_clock.offset = 86400  # exactly at exp: invalid
        expired = await verify(http, keys["police"], cred["qr_text"])
        assert expired["result"] == "EXPIRED" and expired["detail"] == "expired"
        assert "document" not in expired  # its own exp decided, years before the licence's end
        suite.verifier_clock.offset = 86400 - 5
        assert (await verify(http, keys["police"], cred["qr_text"]))["result"] == "VALID"
        # iat more than the 60 s skew in the future (-90, not -61: a slow run takes seconds between
        # issuing and verifying, and the issuer's clock is the real one), then well within it
        suite.verifier_clock.offset = -90
        assert (await verify(http, keys["police"], cred["qr_text"]))["result"] == "NOT_YET_VALID"
        suite.verifier_clock.offset = -30
        assert (await verify(http, keys["police"], cred["qr_text"]))["result"] == "VALID"
    finally:
        suite.verifier_clock.offset = 0


async def test_nbf_in_the_future_is_not_yet_valid(http, keys, suite, external_key):
    await register_external(http, keys, suite, external_key)
    now = int(time.time())
    text = forge.sign(external_key, forge.claims("CN-SH", nbf=now + 3600))
    early = await verify(http, keys["police"], text)
    assert early["result"] == "NOT_YET_VALID" and "document" not in early  # the credential's nbf, not the licence


async def test_the_documents_own_date_that_decided_is_given_as_data(http, keys, suite, external_key):
    """EXPIRED / NOT_YET_VALID decided by the document's own dates (its type's x-validity) carry
    ``document``, the field and its date, in a single, a batch and a picture answer alike; an
    answer decided otherwise has none."""
    await register_external(http, keys, suite, external_key)

    def card(**dates) -> str:  # signed as before the issuer checked the document's dates
        fields = {**SAMPLES["cn.resident_id"], **dates}
        return forge.sign(external_key, forge.claims("CN-SH", type_id="cn.resident_id", fields=fields))

    ended = card(valid_from="2005-01-01", valid_until="2015-01-01")
    early = card(valid_from="2031-04-15", valid_until="2051-04-15")
    current = card()
    answer = await verify(http, keys["police"], ended)
    assert answer["result"] == "EXPIRED" and "valid_until (2015-01-01)" in answer["detail"]
    assert answer["document"] == {"field": "valid_until", "date": "2015-01-01"}
    answer = await verify(http, keys["police"], early)
    assert answer["result"] == "NOT_YET_VALID" and "valid_from (2031-04-15)" in answer["detail"]
    assert answer["document"] == {"field": "valid_from", "date": "2031-04-15"}
    assert list(answer)[-2:] == ["detail", "document"]  # the members' order: the detail, then its date

    r = await http.post("/v1/verifications:batch", headers=bearer(keys["police"]),
                        json={"payloads": [ended, current, early]})
    results = (await r.json())["results"]
    assert [(x["result"], x.get("document")) for x in results] == [
        ("EXPIRED", {"field": "valid_until", "date": "2015-01-01"}), ("VALID", None),
        ("NOT_YET_VALID", {"field": "valid_from", "date": "2031-04-15"})]

    png = io.BytesIO()
    photos.qr_image(ended).save(png, "PNG")
    form = aiohttp.FormData()
    form.add_field("image", png.getvalue(), filename="card.png", content_type="image/png")
    r = await http.post("/v1/verifications", data=form, headers=bearer(keys["police"]))
    picture = await r.json()
    assert r.status == 200 and picture["result"] == "EXPIRED", picture
    assert picture["document"] == picture["results"][0]["document"] == {"field": "valid_until", "date": "2015-01-01"}


# -- keys from outside ---------------------------------------------------------------------------

async def test_external_key_signs_a_valid_credential(http, keys, suite, external_key):
    kid = await register_external(http, keys, suite, external_key)
    assert kid == external_key.kid.hex()
    text = forge.sign(external_key, forge.claims("CN-SH"))
    v = await verify(http, keys["police"], text)
    assert v["result"] == "VALID", v
    assert v["credential"]["region"] == "CN-SH"
    r = await http.get("/v1/regions", headers=bearer(keys["police"]))
    sh = next(x for x in (await r.json())["regions"] if x["code"] == "CN-SH")
    assert kid in [k["kid"] for k in sh["keys"]]


async def test_issuer_mismatch(http, keys, suite, external_key):
    await register_external(http, keys, suite, external_key)  # a CN-SH key ...
    text = forge.sign(external_key, forge.claims("CN-ZJ"))  # ... claiming Zhejiang
    assert (await verify(http, keys["police"], text))["result"] == "ISSUER_MISMATCH"


async def test_kid_unknown_and_tampered_signature(http, keys):
    stranger = SigningKey.generate()
    assert (await verify(http, keys["police"], forge.sign(stranger, forge.claims("CN-ZJ"))))["result"] == "KID_UNKNOWN"
    cred = await issue(http, keys["agency_zj"])
    v = await verify(http, keys["police"], forge.tamper_signature(cred["qr_text"]))
    assert v["result"] == "SIGNATURE_INVALID" and v["fields"] == {} and v["credential"] is None


async def test_alg_not_allowed(http, keys, suite, external_key):
    await register_external(http, keys, suite, external_key)
    claims = forge.claims("CN-SH")
    # an algorithm outside ES256/EdDSA (ES384), and an absent one
    assert (await verify(http, keys["police"], forge.sign(external_key, claims, alg=-35)))["result"] == "ALG_NOT_ALLOWED"
    protected = cbor2.dumps({4: external_key.kid})
    no_alg = forge.wrap(cbor2.dumps(cbor2.CBORTag(18, [protected, {}, cbor2.dumps(claims), b"\0" * 64])))
    assert (await verify(http, keys["police"], no_alg))["result"] == "ALG_NOT_ALLOWED"
    # EdDSA named for a key registered as ES256
    assert (await verify(http, keys["police"], forge.sign(external_key, claims, alg=ekeys.EDDSA)))["result"] == \
        "ALG_NOT_ALLOWED"


async def test_eddsa_key_from_outside(http, keys, suite):
    ed = SigningKey.generate(ekeys.EDDSA)
    r = await http.post("/v1/regions/CN-SH/keys", headers=bearer(keys["admin"]),
                        json={"alg": "EdDSA", "spki": forge.spki_b64(ed)})
    assert r.status == 201
    await suite.refresh()
    assert (await verify(http, keys["police"], forge.sign(ed, forge.claims("CN-SH"))))["result"] == "VALID"


async def test_key_revoked_and_key_not_valid_at_iat(http, keys, suite):
    k = SigningKey.generate()
    now = int(time.time())
    r = await http.post("/v1/regions/CN-SH/keys", headers=bearer(keys["admin"]),
                        json={"alg": "ES256", "spki": forge.spki_b64(k), "nbf": now - 100, "exp": now + 86400})
    assert r.status == 201
    kid = (await r.json())["kid"]
    await suite.refresh()
    before = forge.sign(k, forge.claims("CN-SH", iat=now - 200))
    assert (await verify(http, keys["police"], before))["result"] == "KEY_NOT_VALID_AT_IAT"
    good = forge.sign(k, forge.claims("CN-SH"))
    assert (await verify(http, keys["police"], good))["result"] == "VALID"
    r = await http.post(f"/v1/regions/CN-SH/keys/{kid}:revoke", headers=bearer(keys["agency_sh"]))
    assert r.status == 403  # admin only
    r = await http.post(f"/v1/regions/CN-SH/keys/{kid}:revoke", headers=bearer(keys["admin"]))
    assert r.status == 200 and (await r.json())["status"] == "revoked"
    await suite.refresh()
    assert (await verify(http, keys["police"], good))["result"] == "KEY_REVOKED"


# -- malformed inputs ----------------------------------------------------------------------------

async def test_format_failures(http, keys, suite, external_key):
    await register_external(http, keys, suite, external_key)
    cases = {
        "PREFIX_UNKNOWN": "HC1:ABC",
        "BASE45_INVALID": "EC1:abc~",
        "DECOMPRESS_FAILED": "EC1:" + b45.encode(b"not zlib at all"),
        "COSE_MALFORMED": forge.wrap(cbor2.dumps([1, 2, 3])),
        "CLAIMS_MALFORMED": forge.sign(external_key, cbor2.dumps(["not", "a", "map"])),
        "TYPE_UNKNOWN": forge.sign(external_key, forge.claims("CN-SH", type_id="cn.unicorn_licence")),
        "SCHEMA_INVALID": forge.sign(external_key, forge.claims("CN-SH", fields=driving_licence(points=-3))),
    }
    for expected, text in cases.items():
        v = await verify(http, keys["police"], text)
        assert v["result"] == expected, (expected, v)
    # claims missing the 16-byte cti
    c = forge.claims("CN-SH")
    c[7] = b"short"
    assert (await verify(http, keys["police"], forge.sign(external_key, c)))["result"] == "CLAIMS_MALFORMED"
    # untagged COSE_Sign1 is accepted
    cred_cose = cbor2.loads(__import__("ecert.format.credential", fromlist=["x"]).decode_text(
        forge.sign(external_key, forge.claims("CN-SH"))))
    untagged = forge.wrap(cbor2.dumps(list(cred_cose.value)))
    assert (await verify(http, keys["police"], untagged))["result"] == "VALID"


async def test_payload_too_large(http, keys):
    bomb = "EC1:" + b45.encode(zlib.compress(b"\0" * (50 * 1024 * 1024), 9))
    assert len(bomb) < 4296 * 20
    assert (await verify(http, keys["police"], bomb))["result"] == "PAYLOAD_TOO_LARGE"
    small_bomb = "EC1:" + b45.encode(zlib.compress(b"\0" * (65 * 1024), 9))
    assert len(small_bomb) <= 4296
    assert (await verify(http, keys["police"], small_bomb))["result"] == "PAYLOAD_TOO_LARGE"
    assert (await verify(http, keys["police"], "EC1:" + "A" * 4293))["result"] == "PAYLOAD_TOO_LARGE"


# -- bad requests never 500 ----------------------------------------------------------------------

async def test_bad_requests(http, keys):
    h = bearer(keys["agency_zj"])
    r = await http.post("/v1/credentials", data=b"{not json", headers={**h, "Content-Type": "application/json"})
    body = await r.json()
    assert r.status == 400 and set(body["error"]) == {"code", "message", "request_id"}
    r = await http.post("/v1/credentials", json=["a list"], headers=h)
    assert r.status == 400
    r = await http.post("/v1/credentials", json={"region": "CN-ZJ", "type": 5, "fields": {}}, headers=h)
    assert r.status == 400
    r = await http.post("/v1/verifications", json={"payload": "EC1:"})
    assert r.status == 401 and (await r.json())["error"]["code"] == "UNAUTHENTICATED"
    r = await http.post("/v1/verifications", json={"payload": "EC1:"}, headers=bearer("ek_wrong"))
    assert r.status == 401
    r = await http.post("/v1/credentials", json={"region": "CN-ZJ", "type": "cn.driving_licence",
                                                 "fields": driving_licence()}, headers=bearer(keys["police"]))
    assert r.status == 403
    r = await http.post("/v1/credentials", json={"region": "CN-ZJ", "type": "cn.driving_licence",
                                                 "fields": driving_licence()}, headers=bearer(keys["agency_sh"]))
    assert r.status == 403
    r = await http.post("/v1/regions", json={"code": "CN-FJ", "name": "福建省"}, headers=h)
    assert r.status == 403
    big = json.dumps({"payload": "A" * (1024 * 1024 + 10)})
    r = await http.post("/v1/verifications", data=big, headers={**bearer(keys["police"]),
                                                                "Content-Type": "application/json"})
    body = await r.json()
    assert r.status == 413 and body["error"]["code"] == "PAYLOAD_TOO_LARGE"
    r = await http.get("/v1/nothing-here", headers=h)
    assert r.status == 404 and "error" in await r.json()
    r = await http.delete("/v1/credentials", headers=h)
    assert r.status == 405
    r = await http.post("/v1/regions/CN-SH/keys", json={"alg": "RS256", "spki": "AAAA"},
                        headers=bearer(keys["admin"]))
    assert r.status == 400
    r = await http.post("/v1/regions/CN-SH/keys", json={"alg": "ES256", "spki": "bm90IGEga2V5"},
                        headers=bearer(keys["admin"]))
    assert r.status == 400
    r = await http.post("/v1/verifications:batch", json={"payloads": ["EC1:"] * 1001}, headers=bearer(keys["police"]))
    assert r.status == 400
    # numbers beyond what the services take are 400, not a crash in the protobuf layer
    for body in ({"alg": "ES256", "spki": forge.spki_b64(SigningKey.generate()), "nbf": 10**30},
                 {"alg": "ES256", "spki": forge.spki_b64(SigningKey.generate()), "exp": -5}):
        r = await http.post("/v1/regions/CN-SH/keys", json=body, headers=bearer(keys["admin"]))
        assert r.status == 400, await r.text()
    for extra in ({"valid_days": 2**40}, {"version": -1}, {"valid_days": 0}, {"version": True}, {"version": 10001}):
        r = await http.post("/v1/credentials", headers=h, json={
            "region": "CN-ZJ", "type": "cn.driving_licence", "fields": driving_licence(), **extra})
        assert r.status == 400, (extra, await r.text())
    r = await http.get("/v1/regions", headers={"X-Request-Id": "trace-1"})
    assert r.status == 401 and (await r.json())["error"]["request_id"] == "trace-1"


# -- registry, trust list, batch, operations -----------------------------------------------------

async def test_regions_types_and_trust_list(http, keys, suite):
    h = bearer(keys["admin"])
    r = await http.post("/v1/regions", json={"code": "CN-FJ", "name": "福建省 / Fujian"}, headers=h)
    assert r.status == 201
    r = await http.post("/v1/regions", json={"code": "CN-FJ", "name": "again"}, headers=h)
    assert r.status == 409
    r = await http.post("/v1/regions", json={"code": "fujian", "name": "x"}, headers=h)
    assert r.status == 400
    r = await http.get("/v1/certificate-types", headers=bearer(keys["police"]))
    types = {(t["id"], t["version"]) for t in (await r.json())["types"]}
    assert {("cn.resident_id", 1), ("cn.driving_licence", 1)} <= types
    r = await http.get("/v1/trust-list", headers=bearer(keys["police"]))
    tl_json = await r.json()
    assert "CN-FJ" in [x["code"] for x in tl_json["regions"]]
    r = await http.get("/v1/trust-list.cbor", headers=bearer(keys["police"]))
    signed = await r.read()
    root = ekeys.public_from_pem(root_key_paths(suite.var_dir)[1].read_bytes())
    tl = TrustList.from_signed(signed, root)
    assert tl.version == tl_json["v"]
    other_root = SigningKey.generate().public
    with pytest.raises(trustlist.TrustListError):
        TrustList.from_signed(signed, other_root)
    # versions only go up
    r = await http.post("/v1/regions", json={"code": "CN-NX", "name": "宁夏回族自治区"}, headers=h)
    assert r.status == 201, await r.text()
    r = await http.get("/v1/trust-list", headers=bearer(keys["police"]))
    assert (await r.json())["v"] > tl.version


async def test_batch_in_order(http, keys):
    a = await issue(http, keys["agency_zj"])
    r = await http.post("/v1/verifications:batch", headers=bearer(keys["police"]),
                        json={"payloads": [a["qr_text"], "nonsense", a["qr_text"]]})
    results = (await r.json())["results"]
    assert [x["result"] for x in results] == ["VALID", "PREFIX_UNKNOWN", "VALID"]


async def test_operations_endpoints(http):
    assert (await http.get("/healthz")).status == 200
    r = await http.get("/readyz")
    assert r.status == 200, await r.text()
    r = await http.get("/metrics")
    text = await r.text()
    assert r.status == 200 and "ecert_http_requests_total" in text
    r = await http.get("/openapi.json")
    doc = await r.json()
    assert doc["openapi"].startswith("3.1")
    for path in ("/v1/regions", "/v1/regions/{code}/keys", "/v1/credentials", "/v1/verifications",
                 "/v1/verifications:batch", "/v1/trust-list", "/v1/certificate-types"):
        assert path in doc["paths"]


async def test_presentation_token_offline_checks_and_single_use(http, keys, suite):
    from ecert.rules.access import Principal
    cred = await issue(http, keys["agency_zj"])
    token = (await suite.issuers["CN-ZJ"].show(Principal("agency", "CN-ZJ"), cred["id"])).token
    assert token.startswith("EP1:")
    first = await verify(http, keys["police"], token)
    assert first["result"] == "VALID" and first["purpose"] == "roadside_driver_check"
    assert {"name", "id_number", "licence_class"} <= set(first["fields"])
    # The region's answer is judged like a credential: a hotel may not check in on a driving
    # licence, and sees only the name.
    token3 = (await suite.issuers["CN-ZJ"].show(Principal("agency", "CN-ZJ"), cred["id"])).token
    hotel = await verify(http, keys["hotel"], token3)
    assert hotel["result"] == "NOT_ACCEPTED_FOR_PURPOSE" and hotel["fields"] == {"name": driving_licence()["name"]}
    second = await verify(http, keys["police"], token)
    assert second["result"] == "TOKEN_ALREADY_USED" and second["fields"] == {}
    try:
        suite.verifier_clock.offset = 301
        token2 = (await suite.issuers["CN-ZJ"].show(Principal("agency", "CN-ZJ"), cred["id"])).token
        assert (await verify(http, keys["police"], token2))["result"] == "EXPIRED"
    finally:
        suite.verifier_clock.offset = 0
