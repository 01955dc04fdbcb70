"""Issue 13 through the gateway, end to end (an own suite: the keys rotated and revoked here, and
the root, touch no other test): a region's agency rotates its signing key and old and new
credentials both verify, the new one with the new kid; a key revoked while its issuer runs is
never signed with again and running verifiers answer KEY_REVOKED once refreshed; an admin rotates
the root and the verifier, pinned to the old root, follows."""

from __future__ import annotations

import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families

from testkit.samples import driving_licence
from tests.conftest import bearer, gateway_client
from tests.harness import start_suite

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def own(tmp_path_factory):
    suite = await start_suite(tmp_path_factory.mktemp("lifecycle"))
    try:
        async with gateway_client(suite) as client:
            keys = {"admin": await suite.api_key("admin"), "agency": await suite.api_key("agency", "CN-ZJ"),
                    "police": await suite.api_key("traffic_police", "CN-JS")}
            yield suite, client, keys
    finally:
        await suite.close()


async def _issue(http, keys, name: str) -> dict:
    r = await http.post("/v1/credentials", headers=bearer(keys["agency"]), json={
        "region": "CN-ZJ", "type": "cn.driving_licence", "fields": driving_licence(name=name)})
    assert r.status == 201, await r.text()
    return await r.json()


async def _verify(http, keys, cred: dict) -> dict:
    r = await http.post("/v1/verifications", headers=bearer(keys["police"]), json={"payload": cred["qr_text"]})
    assert r.status == 200, await r.text()
    return await r.json()


async def _keys_of(http, keys, region: str) -> dict[str, str]:
    r = await http.get("/v1/regions", headers=bearer(keys["admin"]))
    return {k["kid"]: k["status"] for g in (await r.json())["regions"] if g["code"] == region for k in g["keys"]}


async def test_rotation_revocation_and_root_rotation_through_the_gateway(own):
    suite, http, keys = own
    before = await _issue(http, keys, "甲")
    r = await http.post("/v1/regions/CN-ZJ/signing-key:rotate", headers=bearer(keys["agency"]),
                        json={"request_id": "rot-1"})
    assert r.status == 201, await r.text()
    rotated = await r.json()
    assert rotated["retired_kid"] == before["kid"] and rotated["kid"] != before["kid"]
    again = await http.post("/v1/regions/CN-ZJ/signing-key:rotate", headers=bearer(keys["agency"]),
                            json={"request_id": "rot-1"})
    assert (await again.json())["kid"] == rotated["kid"]  # the same request_id: the same rotation
    statuses = await _keys_of(http, keys, "CN-ZJ")
    assert (statuses[before["kid"]], statuses[rotated["kid"]]) == ("retired", "active")
    after = await _issue(http, keys, "乙")
    assert after["kid"] == rotated["kid"]
    await suite.refresh()
    for cred in (before, after):
        answer = await _verify(http, keys, cred)
        assert answer["result"] == "VALID", answer
        assert answer["trust_list_stale"] is False and answer["trust_list_as_of"] is not None

    # the current key revoked while its issuer runs: it is told, and never signs with it again
    r = await http.post(f"/v1/regions/CN-ZJ/keys/{rotated['kid']}:revoke", headers=bearer(keys["admin"]))
    assert r.status == 200, await r.text()
    later = await _issue(http, keys, "丙")
    assert later["kid"] not in (rotated["kid"], before["kid"])  # rotated to a fresh key (policy allows it)
    await suite.refresh()
    assert (await _verify(http, keys, after))["result"] == "KEY_REVOKED"
    assert (await _verify(http, keys, later))["result"] == "VALID"
    assert (await _verify(http, keys, before))["result"] == "VALID"  # retired, signed inside its window

    # the root rotated: the verifier, pinned to the old root, follows the announcement
    r = await http.post("/v1/trust-list/root-key:rotate", headers=bearer(keys["admin"]))
    assert r.status == 201, await r.text()
    root = await r.json()
    assert root["kid"] != root["previous_kid"]
    await suite.refresh()
    answer = await _verify(http, keys, later)
    assert answer["result"] == "VALID" and answer["trust_list_version"] >= root["trust_list_version"]

    # /metrics: the verifier's cache state as of the scrape, the root it follows now
    text = await (await http.get("/metrics")).text()
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    assert samples[("ecert_verifier_trust_list_version", ())] == answer["trust_list_version"]
    assert samples[("ecert_verifier_trust_list_stale", ())] == 0
    assert samples[("ecert_verifier_trust_root_info", (("kid", root["kid"]),))] == 1
    assert samples[("ecert_verifier_cache_state_failures_total", ())] == 0
