"""Finding 1, key squatting: a region registers another region's public key (it is in the public
trust list). The registry refuses it (409 KEY_IN_USE, whoever asks), and verification never lets
another region's entry for a key shadow the issuing region's own: among the keys sharing a kid,
the claimed ``iss`` region's are tried first, so only they can make a credential valid."""

from __future__ import annotations

import base64
import json
from importlib import resources

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from ecert.errors import Outcome
from ecert.format import credential, presentation, trustlist
from ecert.format.keys import EDDSA, ES256, SigningKey
from ecert.rules import verify
from ecert.rules.trust import TrustList
from gateway.app import create_app
from testkit.samples import driving_licence
from tests import forge
from tests.conftest import bearer
from tests.harness import start_suite

NOW = 1_790_000_000
ZJ_KEY = SigningKey.generate(ES256)
ZJ_ED = SigningKey.generate(EDDSA)


def _types() -> list[dict]:
    path = resources.files("ecert.rules") / "catalogue" / "cn.driving_licence.v1.json"
    doc = json.loads(path.read_text("utf-8"))
    return [{"id": doc["id"], "v": doc["version"], "name": doc["name"],
             "schema": json.dumps(doc["schema"]), "disclosure": doc["disclosure"]}]


def _entry(k: SigningKey, status="active", nbf=NOW - 86400, exp=NOW + 86400 * 400) -> dict:
    e = {"kid": k.kid, "alg": k.alg, "spki": k.public.spki, "nbf": nbf, "exp": exp, "status": status}
    if status == "revoked":
        e["revoked_at"] = NOW - 10
    return e


def _trust(sh_keys: list[dict], zj_keys: list[dict]) -> TrustList:
    """CN-SH comes first in the list (regions sorted by code), as the registry publishes it."""
    root = SigningKey.generate()
    payload = {"v": 1, "iat": NOW, "exp": NOW + 3600, "types": _types(),
               "regions": [{"code": "CN-SH", "name": "Shanghai", "endpoint": "", "keys": sh_keys},
                           {"code": "CN-ZJ", "name": "Zhejiang", "endpoint": "", "keys": zj_keys}]}
    return TrustList.from_signed(trustlist.sign(root, payload), root.public)


def _credential(key: SigningKey, iss: str = "CN-ZJ", iat: int = NOW - 100) -> str:
    return forge.sign(key, forge.claims(iss, iat=iat, exp=NOW + 86400))


@pytest.fixture(params=["fast", "reference"])
def path(request, monkeypatch):
    """Each case on the C fast path (when built) and on the reference path alone."""
    if request.param == "reference":
        monkeypatch.setattr(verify, "_decode_ec1", None)
    return request.param


@pytest.mark.parametrize("sh_status", ["active", "retired", "revoked"])
@pytest.mark.parametrize("zj", [ZJ_KEY, ZJ_ED], ids=["ES256", "EdDSA"])
def test_another_regions_entry_for_the_key_never_shadows_the_issuers(path, sh_status, zj):
    trust = _trust([_entry(zj, sh_status)], [_entry(zj)])
    res = verify.check_credential(_credential(zj), trust, NOW)
    assert res.outcome is Outcome.VALID, res.detail
    assert res.key.region == "CN-ZJ"


def test_the_issuing_regions_own_key_decides_revocation_and_window(path):
    # Its own entry revoked: KEY_REVOKED, even though another region lists the key as active.
    trust = _trust([_entry(ZJ_KEY)], [_entry(ZJ_KEY, "revoked")])
    assert verify.check_credential(_credential(ZJ_KEY), trust, NOW).outcome is Outcome.KEY_REVOKED
    # Its own window excludes iat: KEY_NOT_VALID_AT_IAT, whatever the other region's window.
    trust = _trust([_entry(ZJ_KEY, nbf=0)], [_entry(ZJ_KEY, nbf=NOW - 50)])
    assert verify.check_credential(_credential(ZJ_KEY), trust, NOW).outcome is Outcome.KEY_NOT_VALID_AT_IAT


def test_a_key_of_another_region_alone_is_an_issuer_mismatch(path):
    trust = _trust([], [_entry(ZJ_KEY)])
    res = verify.check_credential(_credential(ZJ_KEY, iss="CN-SH"), trust, NOW)
    assert res.outcome is Outcome.ISSUER_MISMATCH and res.key.region == "CN-ZJ"
    # ... and, with that key revoked, still the key's status first (the spec's order).
    trust = _trust([], [_entry(ZJ_KEY, "revoked")])
    assert verify.check_credential(_credential(ZJ_KEY, iss="CN-SH"), trust, NOW).outcome is Outcome.KEY_REVOKED


def test_a_credential_naming_no_readable_iss_takes_the_first_key_in_list_order(path):
    trust = _trust([_entry(ZJ_KEY, "revoked")], [_entry(ZJ_KEY)])
    claims = forge.claims("CN-ZJ", iat=NOW - 100, exp=NOW + 86400)
    claims[credential.CLAIM_ISS] = b"CN-ZJ"  # not text: no claimed region to prefer
    assert verify.check_credential(forge.sign(ZJ_KEY, claims), trust, NOW).outcome is Outcome.KEY_REVOKED


def test_presentation_tokens_prefer_the_claimed_region_too():
    trust = _trust([_entry(ZJ_KEY, "revoked")], [_entry(ZJ_KEY)])
    token, _ = presentation.issue(ZJ_KEY, iss="CN-ZJ", credential_cti=bytes(16), now=NOW)
    res = verify.check_token(token, trust, NOW)
    assert res.outcome is Outcome.VALID and res.key.region == "CN-ZJ"


# -- end to end through the gateway ---------------------------------------------------------------

async def _zj_spki(http, keys) -> str:
    r = await http.get("/v1/trust-list", headers=bearer(keys["hotel"]))
    doc = await r.json()
    zj = next(x for x in doc["regions"] if x["code"] == "CN-ZJ")
    return next(k["spki"] for k in zj["keys"] if k["status"] == "active")


async def _verify(http, keys, text: str) -> str:
    r = await http.post("/v1/verifications", json={"payload": text}, headers=bearer(keys["police"]))
    assert r.status == 200, await r.text()
    return (await r.json())["result"]


@pytest.mark.asyncio(loop_scope="session")
async def test_registering_another_regions_key_is_409_whoever_asks(http, keys, suite):
    spki = await _zj_spki(http, keys)
    before = (await suite.registry.current()).version
    for who in ("agency_sh", "admin"):
        r = await http.post("/v1/regions/CN-SH/keys", headers=bearer(keys[who]), json={"alg": "ES256", "spki": spki})
        body = await r.json()
        assert r.status == 409, body
        assert body["error"]["code"] == "KEY_IN_USE"
        assert spki not in body["error"]["message"]
    assert (await suite.registry.current()).version == before  # nothing published
    r = await http.get("/v1/regions", headers=bearer(keys["hotel"]))
    sh = next(x for x in (await r.json())["regions"] if x["code"] == "CN-SH")
    zj_kid = suite.issuers["CN-ZJ"].key.kid.hex()
    assert zj_kid not in [k["kid"] for k in sh["keys"]]
    # The owner registering its own key again is still the idempotent 200.
    r = await http.post("/v1/regions/CN-ZJ/keys", headers=bearer(keys["agency_zj"]), json={"alg": "ES256", "spki": spki})
    assert r.status == 200 and (await r.json())["kid"] == zj_kid


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def own(tmp_path_factory):
    """A suite of its own: the duplicate entry this leaves in the trust list stays here."""
    suite = await start_suite(tmp_path_factory.mktemp("squat"))
    client = TestClient(TestServer(create_app(suite.gateway_config, store=suite.store)))
    await client.start_server()
    keys = {"admin": await suite.api_key("admin"), "agency_zj": await suite.api_key("agency", "CN-ZJ"),
            "hotel": await suite.api_key("hotel"), "police": await suite.api_key("traffic_police", "CN-JS")}
    yield suite, client, keys
    await client.close()
    await suite.close()


@pytest.mark.asyncio(loop_scope="session")
async def test_a_squatted_entry_already_in_the_trust_list_shadows_nothing(own):
    """A duplicate stored before the registry refused them (as the attack left it): CN-ZJ's
    credentials stay VALID, with the duplicate active and once an admin has revoked it."""
    suite, http, keys = own
    zj_key = suite.issuers["CN-ZJ"].key
    r = await http.post("/v1/credentials", headers=bearer(keys["agency_zj"]),
                        json={"region": "CN-ZJ", "type": "cn.driving_licence", "fields": driving_licence()})
    assert r.status == 201
    old = (await r.json())["qr_text"]
    kid = zj_key.kid.hex()
    spki = base64.b64encode(zj_key.spki).decode()
    doc = {"_id": f"CN-SH:{kid}", "region": "CN-SH", "kid": kid, "alg": zj_key.alg, "spki": spki, "nbf": 0,
           "exp": 2**40, "status": "active", "revoked_at": None}
    if await suite.store.get_key("CN-SH", kid) is None:
        await suite.store.backend.insert("keys", doc)
    await suite.registry.publish()
    await suite.refresh()
    assert await _verify(http, keys, old) == "VALID"
    # A credential claiming CN-SH signed with that key: the squatter's entry is CN-SH's own.
    assert await _verify(http, keys, forge.sign(zj_key, forge.claims("CN-SH"))) == "VALID"
    r = await http.post(f"/v1/regions/CN-SH/keys/{kid}:revoke", headers=bearer(keys["admin"]))
    assert r.status == 200
    await suite.refresh()
    assert await _verify(http, keys, old) == "VALID"
    r = await http.post("/v1/credentials", headers=bearer(keys["agency_zj"]),
                        json={"region": "CN-ZJ", "type": "cn.driving_licence", "fields": driving_licence()})
    assert await _verify(http, keys, (await r.json())["qr_text"]) == "VALID"
    assert await _verify(http, keys, forge.sign(zj_key, forge.claims("CN-SH"))) == "KEY_REVOKED"
