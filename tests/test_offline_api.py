"""What the scanner page needs to verify on its own, over the real suite (its own, so that a root
rotation here touches no other test): the root public key it pins (the verifier's), the root chain,
the status lists (one by uri, every shard of a region; conditional fetches answered 304), and the
checks it made offline delivered into the issuing regions' trails once per id, read back through
the holder's access log."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta, timezone

import cbor2
import grpc
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from ecert.format import keys, statuslist, trustlist
from ecert.rpc.convert import principal_to_pb
from ecert.rules import apikeys
from ecert.rules.access import Principal
from ecert.rules.offline import entry_id
from ecert.runtime import pki
from ecertpb.v1 import registry_pb2, registry_pb2_grpc, verifier_pb2, verifier_pb2_grpc
from gateway.answers import iso
from gateway.app import create_app
from testkit.samples import SAMPLES
from tests.conftest import bearer
from tests.harness import start_suite

pytestmark = pytest.mark.asyncio(loop_scope="session")

POLICE_ORG = "安徽省高速交警"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def suite(tmp_path_factory):
    s = await start_suite(tmp_path_factory.mktemp("offline-api"))
    yield s
    await s.close()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def http(suite):
    client = TestClient(TestServer(create_app(suite.gateway_config, store=suite.store)))
    await client.start_server()
    yield client
    await client.close()


KEY_IDS: dict[str, str] = {}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def k(suite):
    async def key(name, role, region=None, org="", purposes=None):
        secret, doc = await apikeys.create_api_key(suite.store, role, region, org=org, purposes=purposes)
        KEY_IDS[name] = doc["key_id"]
        return name, secret
    return dict([await key("admin", "admin"), await key("agency_zj", "agency", "CN-ZJ", "浙江省公安厅"),
                 await key("agency_sh", "agency", "CN-SH"), await key("hotel", "hotel", None, "上海外滩酒店"),
                 await key("police", "traffic_police", "CN-AH", POLICE_ORG), await key("integrator", "integrator"),
                 await key("vehicles", "traffic_police", None, "", ["roadside_vehicle_check"])])


async def _issue(http, key: str, region: str = "CN-ZJ", type_: str = "cn.driving_licence") -> dict:
    r = await http.post("/v1/credentials", headers=bearer(key),
                        json={"region": region, "type": type_, "fields": SAMPLES[type_]})
    body = await r.json()
    assert r.status == 201, body
    return body


def _region_keys(suite, region: str) -> dict:
    return {key.kid: [key] for key in suite.verifier.cache.trust.regions[region].keys}


async def _error(r, status: int) -> dict:
    body = await r.json()
    assert r.status == status, body
    error = body["error"]
    return {**error, "field": (error.get("fields") or [None])[0]}  # the member blamed first


# -- the root key the page pins ------------------------------------------------------------------

async def test_root_key_is_the_one_the_verifier_is_pinned_to(suite, http):
    r = await http.get("/scan/root-key.pem")  # with the page: no key needed
    assert r.status == 200, await r.text()
    assert r.content_type == "application/x-pem-file"
    served = keys.public_from_pem(await r.read())
    assert served.spki == keys.public_from_pem(suite.verifier_config.root_public_key_pem).spki
    assert served.kid == suite.verifier.cache.root.kid  # the one the verifier checks trust lists against
    r2 = await http.get("/scan/root-key.pem", headers={"If-None-Match": r.headers["ETag"]})
    assert r2.status == 304
    assert r.headers["ETag"] == f'"{served.kid.hex()}"'


async def test_without_a_configured_root_key_there_is_none_to_serve(suite):
    cfg = dataclasses.replace(suite.gateway_config, root_public_key_pem=None)
    async with TestClient(TestServer(create_app(cfg, store=suite.store))) as client:
        r = await client.get("/scan/root-key.pem")
        assert (await _error(r, 404))["code"] == "NOT_FOUND"
        r = await client.get("/scan/scan.css")  # the page's own files are still its own
        assert r.status == 200


# -- status lists --------------------------------------------------------------------------------

async def test_one_status_list_by_its_uri_conditionally(suite, http, k):
    cred = await _issue(http, k["agency_zj"])
    doc = await suite.store.get_credential(cred["id"])
    uri, idx = doc["status_uri"], doc["status_idx"]
    r = await http.get("/v1/status-lists", params={"uri": uri}, headers=bearer(k["police"]))
    assert r.status == 200, await r.text()
    assert r.content_type == "application/cose"
    signed = await r.read()
    sl = statuslist.parse(signed, expected_uri=uri, region_keys=_region_keys(suite, "CN-ZJ"))
    assert sl.get(idx) == statuslist.VALID
    assert r.headers["ETag"] == f'"{sl.iat}"'
    assert r.headers["Cache-Control"] == f"private, max-age={sl.ttl}"

    # held: not modified, until one of its credentials changes status
    r = await http.get("/v1/status-lists", params={"uri": uri},
                       headers={**bearer(k["hotel"]), "If-None-Match": f'"{sl.iat}"'})
    assert r.status == 304
    assert await r.read() == b""
    r = await http.post(f"/v1/credentials/{cred['id']}:revoke", headers=bearer(k["agency_zj"]))
    assert r.status == 200, await r.text()
    r = await http.get("/v1/status-lists", params={"uri": uri},
                       headers={**bearer(k["hotel"]), "If-None-Match": f'"{sl.iat}"'})
    assert r.status == 200
    newer = statuslist.parse(await r.read(), expected_uri=uri, region_keys=_region_keys(suite, "CN-ZJ"))
    assert newer.iat > sl.iat and newer.get(idx) == statuslist.REVOKED
    assert r.headers["ETag"] == f'"{newer.iat}"'


async def test_every_status_list_of_a_region_conditionally(suite, http, k):
    cred = await _issue(http, k["agency_sh"], "CN-SH", "cn.resident_id")
    doc = await suite.store.get_credential(cred["id"])
    r = await http.get("/v1/status-lists", params={"region": "CN-SH"}, headers=bearer(k["integrator"]))
    assert r.status == 200, await r.text()
    assert r.content_type == "application/cbor"
    lists = cbor2.loads(await r.read())
    assert isinstance(lists, list) and all(isinstance(s, bytes) for s in lists)
    parsed = [statuslist.parse(s, expected_uri=None, region_keys=_region_keys(suite, "CN-SH")) for s in lists]
    assert [s.uri for s in parsed] == [statuslist.shard_uri("CN-SH", 1)] == [doc["status_uri"]]
    etag = r.headers["ETag"]
    assert etag.startswith('"v')

    r = await http.get("/v1/status-lists", params={"region": "CN-SH"},
                       headers={**bearer(k["integrator"]), "If-None-Match": etag})
    assert r.status == 304
    # "since" the newest iat held: only those signed at or after it (none later: an empty array)
    newest = max(s.iat for s in parsed)
    r = await http.get("/v1/status-lists", params={"region": "CN-SH", "since": str(newest + 1)},
                       headers=bearer(k["integrator"]))
    assert r.status == 200 and cbor2.loads(await r.read()) == []

    r = await http.post(f"/v1/credentials/{cred['id']}:suspend", headers=bearer(k["agency_sh"]))
    assert r.status == 200, await r.text()
    r = await http.get("/v1/status-lists", params={"region": "CN-SH", "since": str(newest)},
                       headers={**bearer(k["integrator"]), "If-None-Match": etag})
    assert r.status == 200
    assert r.headers["ETag"] != etag
    (changed,) = [statuslist.parse(s, expected_uri=None, region_keys=_region_keys(suite, "CN-SH"))
                  for s in cbor2.loads(await r.read())]
    assert changed.iat > newest and changed.get(doc["status_idx"]) == statuslist.SUSPENDED


@pytest.mark.parametrize(("params", "status", "field"), [
    ({}, 400, "uri"),                                                            # neither
    ({"uri": "urn:ecert:status:CN-ZJ:1", "region": "CN-ZJ"}, 400, "uri"),         # both
    ({"uri": "https://elsewhere.example/list"}, 400, "uri"),
    ({"uri": "u" * 300}, 400, "uri"),
    ({"uri": "urn:ecert:status:CN-ZJ:9"}, 404, "uri"),                            # a shard not reached
    ({"uri": "urn:ecert:status:CN-XX:1"}, 404, None),                             # no such region
    ({"region": "Zhejiang"}, 400, "region"),
    ({"region": "CN-XX"}, 404, None),
    ({"region": "CN-ZJ", "since": "yesterday"}, 400, "since"),
    ({"region": "CN-ZJ", "since": "-1"}, 400, "since"),
    ({"region": "CN-ZJ", "from_shard": "70000"}, 400, "from_shard"),
])
async def test_status_list_requests_out_of_shape_are_named(http, k, params, status, field):
    error = await _error(await http.get("/v1/status-lists", params=params, headers=bearer(k["hotel"])), status)
    assert error.get("field") == field, error


async def test_lists_and_chain_need_a_key_and_the_verifier_checks_the_role_itself(suite, http):
    for path in ("/v1/status-lists?region=CN-ZJ", "/v1/trust-list/root-chain.cbor"):
        assert (await http.get(path)).status == 401
    assert (await http.post("/v1/verifications:offline", json={"checks": []})).status == 401
    # Behind the gateway, the verifier refuses a caller that is no key's role (defence in depth).
    async with suite.channel(suite.verifier_port, pki.VERIFIER) as ch:
        stub = verifier_pb2_grpc.VerifierServiceStub(ch)
        nobody = principal_to_pb(Principal("nobody", "", "k1"))
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.FetchStatusLists(verifier_pb2.FetchStatusListsRequest(principal=nobody, region="CN-ZJ"),
                                        timeout=10)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.RecordOfflineChecks(verifier_pb2.RecordOfflineChecksRequest(principal=nobody), timeout=10)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


# -- checks made offline, into the trail ---------------------------------------------------------

def _check(cred: dict, now: int, **over) -> dict:
    at = datetime.fromtimestamp(now - 600, timezone(timedelta(hours=8))).isoformat()
    return {"id": str(uuid.uuid4()), "credential_id": cred["id"], "region": cred["region"], "result": "VALID",
            "purpose": "roadside_driver_check", "checked_at": at, **over}


async def _log(http, key: str, cred_id: str) -> list[dict]:
    r = await http.get(f"/v1/credentials/{cred_id}/access-log", headers=bearer(key))
    body = await r.json()
    assert r.status == 200, body
    return body["entries"]


async def test_offline_checks_reach_the_trail_once_per_id(suite, http, k):
    zj, sh = await _issue(http, k["agency_zj"]), await _issue(http, k["agency_sh"], "CN-SH")
    now = int(suite.verifier.now())
    checks = [_check(zj, now), _check(zj, now, result="EXPIRED", purpose=""), _check(sh, now),
              _check(sh, now, result="SIGNATURE_INVALID")]  # a forgery names nobody's credential: not kept
    r = await http.post("/v1/verifications:offline", json={"checks": checks}, headers=bearer(k["police"]))
    body = await r.json()
    assert r.status == 200, body
    assert body == {"accepted": 3, "duplicates": 0, "ignored": 1}

    # A retry of the same ids (the answer was lost, a second tab) records nothing more.
    r = await http.post("/v1/verifications:offline", json={"checks": checks}, headers=bearer(k["police"]))
    assert await r.json() == {"accepted": 0, "duplicates": 3, "ignored": 1}
    # The same ids with one new check: only the new one is recorded.
    again = [*checks[:2], _check(zj, now, result="REVOKED")]
    r = await http.post("/v1/verifications:offline", json={"checks": again}, headers=bearer(k["police"]))
    assert await r.json() == {"accepted": 1, "duplicates": 2, "ignored": 0}

    offline = [e for e in await _log(http, k["agency_zj"], zj["id"]) if e["action"] == "verify"]
    assert [(e["actor_org"], e["actor_role"], e["actor_region"], e["purpose"], e["result"]) for e in offline] == [
        (POLICE_ORG, "traffic_police", "CN-AH", "roadside_driver_check", "VALID"),
        (POLICE_ORG, "traffic_police", "CN-AH", "roadside_driver_check", "EXPIRED"),  # the role's default
        (POLICE_ORG, "traffic_police", "CN-AH", "roadside_driver_check", "REVOKED")]
    assert offline[0]["at"] == iso(now - 600)  # when the page checked, not when it was delivered
    sh_log = [e for e in await _log(http, k["admin"], sh["id"]) if e["action"] == "verify"]
    assert [e["result"] for e in sh_log] == ["VALID"]
    # Each entry's id is the caller's key and the page's id: one caller cannot take another's.
    held = await suite.store.trail_by_ids("CN-ZJ", [entry_id(KEY_IDS["police"], checks[0]["id"])])
    assert len(held) == 1
    r = await http.post("/v1/verifications:offline", json={"checks": [{**checks[0], "purpose": "general"}]},
                        headers=bearer(k["integrator"]))
    assert await r.json() == {"accepted": 1, "duplicates": 0, "ignored": 0}


async def test_checks_of_a_credential_the_region_does_not_hold_are_recorded_nowhere(suite, http, k):
    """A check names its credential's issuing region; that region's issuer keeps it only for a credential
    it holds: one named under another region, or an id nobody issued, is ignored, never an entry."""
    zj = await _issue(http, k["agency_zj"])
    now = int(suite.verifier.now())
    nobody = "A" * 26
    checks = [_check(zj, now, region="CN-SH"), _check(zj, now, credential_id=nobody), _check(zj, now)]
    r = await http.post("/v1/verifications:offline", json={"checks": checks}, headers=bearer(k["police"]))
    body = await r.json()
    assert r.status == 200, body
    assert body == {"accepted": 1, "duplicates": 0, "ignored": 2}
    for region in ("CN-SH", "CN-ZJ"):
        assert await suite.store.credential_trail(region, nobody) == []
    assert await suite.store.credential_trail("CN-SH", zj["id"]) == []
    assert [e["result"] for e in await _log(http, k["agency_zj"], zj["id"]) if e["action"] == "verify"] == ["VALID"]


async def test_offline_checks_carry_no_personal_data(suite, http, k):
    zj = await _issue(http, k["agency_zj"])
    now = int(suite.verifier.now())
    check = _check(zj, now, name="张三")  # a page that sends more than the check is refused, not trimmed
    error = await _error(await http.post("/v1/verifications:offline", json={"checks": [check]},
                                         headers=bearer(k["police"])), 400)
    assert error["field"] == "checks[0]" and "张三" not in error["message"]


@pytest.mark.parametrize(("change", "status", "field"), [
    ({"id": "not-a-uuid"}, 400, "checks[0].id"),
    ({"id": 7}, 400, "checks[0].id"),
    ({"credential_id": "ABC"}, 400, "checks[0].credential_id"),
    ({"region": "Zhejiang"}, 400, "checks[0].region"),
    ({"region": "CN-XX"}, 400, "checks[0].region"),
    ({"result": "FINE"}, 400, "checks[0].result"),
    ({"checked_at": "yesterday"}, 400, "checks[0].checked_at"),
    ({"checked_at": "2020-01-01T00:00:00Z"}, 400, "checks[0].checked_at"),   # older than the bound
    ({"purpose": "sightseeing"}, 400, "checks[0].purpose"),
    ({"purpose": "hotel_check_in"}, 403, "purpose"),                          # not a roadside purpose
    ({"credential_id": None}, 400, "checks[0].credential_id"),
])
async def test_offline_checks_out_of_shape_are_named_and_nothing_is_recorded(suite, http, k, change, status, field):
    zj = await _issue(http, k["agency_zj"])
    now = int(suite.verifier.now())
    good, bad = _check(zj, now), {**_check(zj, now), **change}
    if change.get("credential_id", "") is None:
        del bad["credential_id"]
    error = await _error(await http.post("/v1/verifications:offline", json={"checks": [bad, good]},
                                         headers=bearer(k["police"])), status)
    assert error.get("field") == field, error
    assert [e for e in await _log(http, k["agency_zj"], zj["id"]) if e["action"] == "verify"] == []


async def test_a_key_narrowed_to_some_purposes_reports_only_those(suite, http, k):
    zj = await _issue(http, k["agency_zj"])
    now = int(suite.verifier.now())
    r = await http.post("/v1/verifications:offline", json={"checks": [_check(zj, now)]}, headers=bearer(k["vehicles"]))
    assert (await _error(r, 403))["code"] == "PURPOSE_NOT_ALLOWED"
    r = await http.post("/v1/verifications:offline", json={"checks": [_check(zj, now, purpose="")]},
                        headers=bearer(k["vehicles"]))
    assert await r.json() == {"accepted": 1, "duplicates": 0, "ignored": 0}
    (entry,) = [e for e in await _log(http, k["agency_zj"], zj["id"]) if e["action"] == "verify"]
    assert entry["purpose"] == "roadside_vehicle_check"  # the key's first purpose: its default


@pytest.mark.parametrize(("body", "field"), [
    ({}, "checks"),
    ({"checks": []}, "checks"),
    ({"checks": "all"}, "checks"),
    ({"checks": ["x"]}, "checks[0]"),
])
async def test_offline_bodies_out_of_shape_are_named(http, k, body, field):
    error = await _error(await http.post("/v1/verifications:offline", json=body, headers=bearer(k["hotel"])), 400)
    assert error.get("field") == field, error


async def test_offline_checks_are_bounded(suite, http, k):
    zj = await _issue(http, k["agency_zj"])
    now = int(suite.verifier.now())
    error = await _error(await http.post("/v1/verifications:offline", json={"checks": [_check(zj, now)] * 101},
                                         headers=bearer(k["police"])), 400)
    assert error["field"] == "checks"


# -- a region's lists in parts, and the gateway's root key setting ------------------------------

class _Counter:
    """A store with a region whose status counter reached shard 3 and no entry set."""

    async def status_index_end(self, region: str) -> int:
        return 2 * statuslist.SHARD_SIZE + 5

    async def status_entries(self, region: str, uri: str) -> list:
        return []


async def test_a_region_s_lists_come_in_parts_within_the_size_bound(monkeypatch):
    from services.issuer import status as issuer_status
    key = keys.SigningKey.generate()
    clock = [1_800_000_000]
    region = issuer_status.RegionStatus("CN-ZJ", _Counter(), lambda: key, ttl=10, validity=3600,
                                        now=lambda: clock[0])
    lists, cut, version = await region.region_lists(0)
    assert [s.uri for s in lists] == [statuslist.shard_uri("CN-ZJ", n) for n in (1, 2, 3)] and cut == 0
    assert (await region.region_lists(0))[2] == version  # nothing signed anew: the same version
    monkeypatch.setattr(issuer_status, "MAX_REGION_LISTS_BYTES", len(lists[0].signed) + 1)
    first, cut, _ = await region.region_lists(0)
    assert [s.uri for s in first] == [lists[0].uri] and cut == 2
    rest, cut, _ = await region.region_lists(0, from_shard=2)
    assert [s.uri for s in rest] == [lists[1].uri] and cut == 3
    region.changed(lists[2].uri)  # one shard signed anew: another version, and only it after its iat
    clock[0] += 1
    monkeypatch.setattr(issuer_status, "MAX_REGION_LISTS_BYTES", 1 << 20)
    changed, cut, newer = await region.region_lists(lists[2].iat)
    assert [s.uri for s in changed] == [lists[2].uri] and newer != version


async def test_the_gateway_refuses_a_root_key_setting_that_is_no_key(suite, tmp_path):
    from ecert.errors import ConfigError
    from ecert.runtime.config import GatewayConfig
    env = {"ECERT_INTERNAL_TOKEN": "t", "ECERT_TLS_CA": "ca", "ECERT_TLS_CERT": "c", "ECERT_TLS_KEY": "k"}
    assert GatewayConfig.from_env(env).root_public_key_pem is None
    with pytest.raises(ConfigError):
        GatewayConfig.from_env({**env, "ECERT_ROOT_PUBLIC_KEY": str(tmp_path / "missing.pem")})
    (tmp_path / "junk.pem").write_text("-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n")
    with pytest.raises(ConfigError):
        GatewayConfig.from_env({**env, "ECERT_ROOT_PUBLIC_KEY": str(tmp_path / "junk.pem")})
    pem = suite.verifier_config.root_public_key_pem
    assert GatewayConfig.from_env({**env, "ECERT_ROOT_PUBLIC_KEY": pem.decode()}).root_public_key_pem == pem


# -- the root chain (last: it rotates this suite's root) -------------------------------------------

async def _registry_chain(suite) -> list[bytes]:
    async with suite.channel(suite.registry_port, pki.REGISTRY) as ch:
        tl = await registry_pb2_grpc.RegistryServiceStub(ch).GetTrustList(registry_pb2.GetTrustListRequest(),
                                                                           timeout=10)
    return list(tl.root_chain)


async def test_root_chain_leads_from_the_pinned_key_to_the_current_root(suite, http, k):
    r = await http.get("/v1/trust-list/root-chain.cbor", headers=bearer(k["hotel"]))
    assert r.status == 200 and r.content_type == "application/cbor"
    assert cbor2.loads(await r.read()) == [] == await _registry_chain(suite)  # never rotated
    r2 = await http.get("/v1/trust-list/root-chain.cbor", headers={**bearer(k["hotel"]), "If-None-Match": r.headers["ETag"]})
    assert r2.status == 304

    r = await http.post("/v1/trust-list/root-key:rotate", headers=bearer(k["admin"]))
    rotated = await r.json()
    assert r.status == 201, rotated
    r = await http.get("/v1/trust-list/root-chain.cbor", headers=bearer(k["hotel"]))
    chain = cbor2.loads(await r.read())
    assert chain == await _registry_chain(suite) and len(chain) == 1
    pinned = keys.public_from_pem((await (await http.get("/scan/root-key.pem")).read()))
    root, followed = trustlist.follow_roots(pinned, chain)
    assert root.kid.hex() == rotated["kid"] and len(followed) == 1
    r = await http.get("/v1/trust-list.cbor", headers=bearer(k["hotel"]))
    current = await r.read()
    assert trustlist.TrustList.from_signed(current, root).version >= rotated["trust_list_version"]


async def test_a_check_from_a_device_whose_clock_runs_ahead_is_recorded_at_its_delivery(suite, http, k):
    zj = await _issue(http, k["agency_zj"])
    now = int(suite.verifier.now())
    ahead = _check(zj, now, checked_at=datetime.fromtimestamp(now + 3 * 3600, timezone.utc).isoformat())
    r = await http.post("/v1/verifications:offline", json={"checks": [ahead]}, headers=bearer(k["police"]))
    assert await r.json() == {"accepted": 1, "duplicates": 0, "ignored": 0}
    offline = [e for e in await _log(http, k["agency_zj"], zj["id"]) if e["action"] == "verify"]
    assert len(offline) == 1 and offline[0]["at"] <= iso(now + 60)  # never dated in the future
