"""API keys over HTTP: created with the secret shown once, listed (never the secret), disabled,
enabled, rotated with an overlap, deleted; who manages which; a change seen by every gateway process
within a second; expiry; last use. Two gateway apps share the suite's store, as two processes would;
their clocks are fakes moved by hand: no sleeps."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time

import pytest
from aiohttp.test_utils import TestClient, TestServer

from ecert.clock import FixedClock
from ecert.rules import apikeys
from ecert.rules.access import hash_key
from gateway.answers import iso
from gateway.app import create_app
from gateway.auth import KEY_CHECK_INTERVAL, upkeep_once
from tests.conftest import bearer

pytestmark = pytest.mark.asyncio(loop_scope="session")

OVERLAP = 100


@contextlib.asynccontextmanager
async def gateways(suite, n: int = 2):
    """``n`` gateway apps over the suite's store (as ``n`` processes), on shared fake clocks:
    ``(clients, monotonic, wall)``."""
    mono, wall = FixedClock(1000.0), FixedClock(float(int(time.time())))
    cfg = dataclasses.replace(suite.gateway_config, key_rotate_overlap=OVERLAP)
    clients = [TestClient(TestServer(create_app(cfg, store=suite.store, clock=mono, wall=wall))) for _ in range(n)]
    for c in clients:
        await c.start_server()
    try:
        yield clients, mono, wall
    finally:
        for c in clients:
            await c.close()


async def _create(client, by: str, **body) -> tuple[int, dict]:
    r = await client.post("/v1/api-keys", json=body, headers=bearer(by))
    return r.status, await r.json()


async def _works(client, key: str) -> int:
    """The status of a keyed request that needs no backend: 200 once past authentication."""
    return (await client.get("/v1/purposes", headers=bearer(key))).status


async def test_create_answers_the_secret_once_and_the_list_never_shows_it(suite, keys):
    async with gateways(suite, 1) as ([gw], _, wall):
        expires = iso(int(wall()) + 86400 * 30)
        status, made = await _create(gw, keys["admin"], role="agency", region="CN-ZJ", org="Zhejiang DMV",
                                     label="front office", expires_at=expires, purposes=["general", "business_check"],
                                     quota={"per_minute": 50})
        assert status == 201, made
        secret = made["key"]
        assert secret.startswith("ek_") and made["secret"] == secret
        assert made["role"] == "agency" and made["region"] == "CN-ZJ" and made["org"] == "Zhejiang DMV"
        assert made["status"] == "active" and made["expires_at"] == expires and made["last_used_at"] is None
        assert made["purposes"] == ["general", "business_check"] and made["quota"] == {"per_minute": 50}
        assert made["created_at"] == iso(int(wall())) and len(made["id"]) == 12
        assert made["created_by"] == (await apikeys.authenticate(suite.store, keys["admin"])).key_id
        assert await _works(gw, secret) == 200

        r = await gw.get("/v1/api-keys", params={"limit": "500"}, headers=bearer(keys["admin"]))
        text = await r.text()
        assert r.status == 200
        listed = {k["id"]: k for k in (await r.json())["keys"]}
        assert {k: v for k, v in listed[made["id"]].items()} == {k: v for k, v in made.items()
                                                                if k not in ("key", "secret")}
        assert secret not in text and hash_key(secret) not in text and "secret" not in text
        stored = await suite.store.get_apikey(hash_key(secret))
        assert stored is not None and secret not in str(stored)  # the store holds its hash only


async def test_the_list_is_paged_by_id(suite, keys):
    async with gateways(suite, 1) as ([gw], _, _):
        made = {(await _create(gw, keys["admin"], role="hotel", org=f"Hotel {i}"))[1]["id"] for i in range(3)}
        seen, cursor, pages = [], None, 0
        while True:
            params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
            page = await (await gw.get("/v1/api-keys", params=params, headers=bearer(keys["admin"]))).json()
            assert len(page["keys"]) <= 2
            seen += [k["id"] for k in page["keys"]]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == sorted(seen) and len(seen) == len(set(seen)) and made <= set(seen) and pages >= 2
        for params in ({"limit": "0"}, {"limit": "501"}, {"limit": "x"}, {"cursor": "not-a-key-id"}):
            r = await gw.get("/v1/api-keys", params=params, headers=bearer(keys["admin"]))
            body = await r.json()
            assert r.status == 400 and body["error"]["code"] == "INVALID_REQUEST", (params, body)


async def test_who_manages_which_keys(suite, keys):
    async with gateways(suite, 1) as ([gw], _, _):
        _, zj = await _create(gw, keys["admin"], role="agency", region="CN-ZJ", org="ZJ desk")
        _, sh = await _create(gw, keys["admin"], role="agency", region="CN-SH", org="SH desk")
        _, hotel = await _create(gw, keys["admin"], role="hotel", org="Hotel")
        # a hotel (or any role but admin and agency) manages no key
        for method, path in (("GET", "/v1/api-keys"), ("POST", "/v1/api-keys"),
                             ("POST", f"/v1/api-keys/{hotel['id']}:disable"), ("DELETE", f"/v1/api-keys/{hotel['id']}")):
            r = await gw.request(method, path, json={"role": "hotel"}, headers=bearer(keys["hotel"]))
            assert r.status == 403 and (await r.json())["error"]["code"] == "FORBIDDEN", (method, path)
        # an agency creates keys for its own region's agencies only
        status, body = await _create(gw, keys["agency_zj"], role="agency", region="CN-SH")
        assert status == 403 and body["error"]["code"] == "FORBIDDEN", body
        status, body = await _create(gw, keys["agency_zj"], role="hotel", org="a hotel")
        assert status == 403 and body["error"]["code"] == "FORBIDDEN", body
        status, body = await _create(gw, keys["agency_zj"], role="admin")
        assert status == 403, body
        status, body = await _create(gw, keys["agency_zj"], role="agency", region="CN-ZJ", quota={"per_minute": 0})
        assert status == 403 and "quota" in body["error"]["message"], body  # no more than its role's
        status, colleague = await _create(gw, keys["agency_zj"], role="agency", region="CN-ZJ", org="ZJ colleague",
                                          quota={"per_minute": 10})
        assert status == 201 and colleague["quota"] == {"per_minute": 10}, colleague
        # it lists and manages those only; another region's key or a hotel's is not found, as an unknown one
        listed = [k for k in (await (await gw.get("/v1/api-keys", params={"limit": "500"},
                                                  headers=bearer(keys["agency_zj"]))).json())["keys"]]
        assert {(k["role"], k["region"]) for k in listed} == {("agency", "CN-ZJ")}
        assert {zj["id"], colleague["id"]} <= {k["id"] for k in listed}
        for other in (sh, hotel):
            r = await gw.post(f"/v1/api-keys/{other['id']}:disable", headers=bearer(keys["agency_zj"]))
            assert r.status == 404 and (await r.json())["error"]["code"] == "NOT_FOUND"
            r = await gw.delete(f"/v1/api-keys/{other['id']}", headers=bearer(keys["agency_zj"]))
            assert r.status == 404
        r = await gw.post(f"/v1/api-keys/{zj['id']}:disable", headers=bearer(keys["agency_zj"]))
        assert r.status == 200 and (await r.json())["status"] == "disabled"
        assert await _works(gw, sh["key"]) == 200  # untouched


async def test_bad_requests_are_named_and_an_unknown_action_is_not_a_405(suite, keys):
    async with gateways(suite, 1) as ([gw], _, wall):
        _, k = await _create(gw, keys["admin"], role="hotel")
        admin = bearer(keys["admin"])
        r = await gw.post(f"/v1/api-keys/{k['id']}:explode", headers=admin)
        assert r.status == 404 and (await r.json())["error"]["code"] == "NOT_FOUND"
        for path in ("/v1/api-keys/0123456789ab:disable", "/v1/api-keys/nothex:enable", "/v1/api-keys/x" * 3 + ":rotate"):
            r = await gw.post(path, headers=admin)
            assert r.status == 404, path
        assert (await gw.delete("/v1/api-keys/0123456789ab", headers=admin)).status == 404
        for body, code in (({"role": "ruler"}, "INVALID_REQUEST"), ({"role": "agency"}, "INVALID_REQUEST"),
                           ({"role": "agency", "region": "CN-XX"}, "REGION_UNKNOWN"),
                           ({"role": "agency", "region": "zhejiang"}, "INVALID_REQUEST"),
                           ({"role": "hotel", "expires_at": "tomorrow"}, "INVALID_REQUEST"),
                           ({"role": "hotel", "expires_at": "2030-01-01T00:00:00"}, "INVALID_REQUEST"),  # no offset
                           ({"role": "hotel", "expires_at": iso(int(wall()) - 1)}, "INVALID_REQUEST"),
                           ({"role": "hotel", "purposes": ["roadside_driver_check"]}, "INVALID_REQUEST"),
                           ({"role": "hotel", "purposes": ["sightseeing"]}, "PURPOSE_UNKNOWN"),
                           ({"role": "hotel", "purposes": []}, "INVALID_REQUEST"),
                           ({"role": "hotel", "quota": {"per_hour": 5}}, "INVALID_REQUEST"),
                           ({"role": "hotel", "quota": {"per_minute": -1}}, "INVALID_REQUEST"),
                           ({"role": "hotel", "org": "a\nb"}, "INVALID_REQUEST"),
                           ({"role": "hotel", "label": 5}, "INVALID_REQUEST")):
            status, answer = await _create(gw, keys["admin"], **body)
            assert status in (400, 404) and answer["error"]["code"] == code, (body, answer)


async def test_a_key_narrowed_to_some_purposes_is_refused_the_others(suite, keys):
    async with gateways(suite, 1) as ([gw], _, _):
        _, k = await _create(gw, keys["admin"], role="integrator", purposes=["hotel_check_in"])
        r = await gw.post("/v1/verifications", json={"payload": "EC1:X", "purpose": "business_check"},
                          headers=bearer(k["key"]))
        body = await r.json()
        assert r.status == 403 and body["error"]["code"] == "PURPOSE_NOT_ALLOWED", body
        r = await gw.post("/v1/verifications", json={"payload": "EC1:X"}, headers=bearer(k["key"]))
        assert r.status == 200 and (await r.json())["purpose"] == "hotel_check_in"  # its default: the one it keeps
        r = await gw.post("/v1/verifications", json={"payload": "EC1:X", "purpose": "business_check"},
                          headers=bearer(keys["integrator"]))
        assert r.status == 200  # the role itself may


async def test_a_disabled_or_deleted_key_is_refused_by_every_process_within_a_second(suite, keys):
    async with gateways(suite) as ([a, b], mono, _):
        _, k = await _create(a, keys["admin"], role="hotel")
        assert await _works(b, k["key"]) == 200  # b holds its grant now
        r = await a.post(f"/v1/api-keys/{k['id']}:disable", headers=bearer(keys["admin"]))
        assert r.status == 200 and (await r.json())["status"] == "disabled"
        assert await _works(a, k["key"]) == 401
        mono.t += KEY_CHECK_INTERVAL  # the bound: one second after the change, whatever b held
        assert await _works(b, k["key"]) == 401
        r = await a.post(f"/v1/api-keys/{k['id']}:disable", headers=bearer(keys["admin"]))
        assert r.status == 200  # again: nothing changes
        r = await b.post(f"/v1/api-keys/{k['id']}:enable", headers=bearer(keys["admin"]))
        assert r.status == 200 and (await r.json())["status"] == "active"
        mono.t += KEY_CHECK_INTERVAL
        assert await _works(a, k["key"]) == 200 and await _works(b, k["key"]) == 200
        r = await a.delete(f"/v1/api-keys/{k['id']}", headers=bearer(keys["admin"]))
        assert r.status == 204
        mono.t += KEY_CHECK_INTERVAL
        assert await _works(b, k["key"]) == 401
        assert (await b.post(f"/v1/api-keys/{k['id']}:enable", headers=bearer(keys["admin"]))).status == 404
        assert await suite.store.apikey_secrets(k["id"]) == []


async def test_rotate_gives_a_new_secret_and_the_old_one_works_for_the_overlap(suite, keys):
    async with gateways(suite) as ([a, b], mono, wall):
        _, k = await _create(a, keys["admin"], role="hotel", org="Rotating Hotel")
        old = k["key"]
        assert await _works(b, old) == 200
        r = await a.post(f"/v1/api-keys/{k['id']}:rotate", headers=bearer(keys["admin"]))
        rotated = await r.json()
        assert r.status == 201 and rotated["id"] == k["id"] and rotated["key"] != old, rotated
        assert rotated["rotated_at"] == iso(int(wall()))
        assert rotated["previous_secret_expires_at"] == iso(int(wall()) + OVERLAP)
        new = rotated["key"]
        mono.t += KEY_CHECK_INTERVAL
        for gw in (a, b):
            assert await _works(gw, new) == 200 and await _works(gw, old) == 200
        wall.t += OVERLAP - 1
        assert await _works(b, old) == 200
        wall.t += 1  # the overlap is over
        for gw in (a, b):
            r = await gw.get("/v1/purposes", headers=bearer(old))
            assert r.status == 401 and "rotated" in (await r.json())["error"]["message"]
            assert await _works(gw, new) == 200
        listed = [x for x in (await (await a.get("/v1/api-keys", params={"limit": "500"},
                                                 headers=bearer(keys["admin"]))).json())["keys"] if x["id"] == k["id"]]
        assert len(listed) == 1 and listed[0]["org"] == "Rotating Hotel"  # one key, its id kept
        # rotating again prunes the secret whose overlap is over
        r = await a.post(f"/v1/api-keys/{k['id']}:rotate", headers=bearer(keys["admin"]))
        assert r.status == 201 and len(await suite.store.apikey_secrets(k["id"])) == 2


async def test_an_expired_key_is_refused(suite, keys):
    async with gateways(suite) as ([a, b], _, wall):
        _, k = await _create(a, keys["admin"], role="hotel", expires_at=iso(int(wall()) + 30))
        assert await _works(b, k["key"]) == 200
        wall.t += 30  # no store change: each process sees the expiry in the grant it holds
        for gw in (a, b):
            r = await gw.get("/v1/purposes", headers=bearer(k["key"]))
            assert r.status == 401 and "expired" in (await r.json())["error"]["message"]
        listed = [x for x in (await (await a.get("/v1/api-keys", params={"limit": "500"},
                                                 headers=bearer(keys["admin"]))).json())["keys"] if x["id"] == k["id"]]
        assert listed[0]["status"] == "expired"


async def test_each_key_records_its_last_use_at_most_once_a_minute(suite, keys):
    async with gateways(suite, 1) as ([gw], _, wall):
        app = gw.app
        _, k = await _create(gw, keys["admin"], role="hotel")

        async def last_used() -> str | None:
            await upkeep_once(app)  # what the background does every second
            page = await (await gw.get("/v1/api-keys", params={"limit": "500"}, headers=bearer(keys["admin"]))).json()
            return next(x for x in page["keys"] if x["id"] == k["id"])["last_used_at"]

        assert await last_used() is None
        first = int(wall())
        assert await _works(gw, k["key"]) == 200
        assert await last_used() == iso(first)
        wall.t += 30
        assert await _works(gw, k["key"]) == 200
        assert await last_used() == iso(first)  # within the minute: not written again
        wall.t += 30
        assert await _works(gw, k["key"]) == 200
        assert await last_used() == iso(first + 60)


async def test_the_first_admin_key_is_still_made_straight_in_the_store(suite):
    secret, doc = await apikeys.create_api_key(suite.store, "admin", org="Operations")
    grant = await apikeys.grant(suite.store, secret)
    assert grant.principal.role == "admin" and grant.principal.key_id == doc["key_id"] and grant.until is None
    secret, doc = await apikeys.create_api_key(suite.store, "hotel", expires_at="2099-01-01T00:00:00+08:00",
                                               purposes=["hotel_check_in"])
    assert doc["expires_at"] == 4070908800 - 8 * 3600 and doc["purposes"] == ["hotel_check_in"]


async def test_two_rotations_at_once_leave_one_current_secret(suite, keys):
    async with gateways(suite) as ([a, b], _, _):
        _, k = await _create(a, keys["admin"], role="hotel")
        path = f"/v1/api-keys/{k['id']}:rotate"
        answers = await asyncio.gather(a.post(path, headers=bearer(keys["admin"])),
                                       b.post(path, headers=bearer(keys["admin"])))
        assert [r.status for r in answers] == [201, 201]
        secrets = await suite.store.apikey_secrets(k["id"])
        assert len(secrets) == 3 and sum(1 for d in secrets if d.get("retires_at") is None) == 1
        page = await (await a.get("/v1/api-keys", params={"limit": "500"}, headers=bearer(keys["admin"]))).json()
        assert [x["id"] for x in page["keys"]].count(k["id"]) == 1


async def test_while_the_store_cannot_be_asked_the_keys_held_serve_for_a_grace_then_503(suite, keys):
    from ecert.errors import StoreError
    from gateway.auth import STORE_OUTAGE_GRACE, Keyring

    class Flaky:
        """The suite's store, whose key-change number can be made to fail."""

        down = False

        async def apikeys_generation(self):
            if self.down:
                raise StoreError("the store is restarting")
            return await suite.store.apikeys_generation()

        async def get_apikey(self, digest):
            return await suite.store.get_apikey(digest)

    mono, store = FixedClock(1000.0), Flaky()
    ring = Keyring(clock=mono)
    held = await ring.grant(store, keys["hotel"])
    store.down = True
    mono.t += KEY_CHECK_INTERVAL
    assert await ring.grant(store, keys["hotel"]) == held  # the store failed once: the grant held serves
    mono.t += STORE_OUTAGE_GRACE - KEY_CHECK_INTERVAL
    assert await ring.grant(store, keys["hotel"]) == held  # still within the grace
    mono.t += KEY_CHECK_INTERVAL + 0.01
    with pytest.raises(StoreError):  # past it: nothing is used unconfirmed
        await ring.grant(store, keys["hotel"])
    assert len(ring) == 0
    store.down = False
    mono.t += KEY_CHECK_INTERVAL
    assert await ring.grant(store, keys["hotel"]) == held  # the store back: read again


async def test_a_rotation_racing_a_deletion_does_not_bring_the_key_back(suite, keys):
    from ecert.errors import NotFound
    from ecert.rules.access import Principal

    secret, doc = await apikeys.create_api_key(suite.store, "hotel", org="Hotel")
    admin = Principal("admin", "", "admin-key")

    class DeletedMeanwhile:
        """The suite's store, where the key is deleted by another request just before the new secret is put."""

        def __getattr__(self, name):
            return getattr(suite.store, name)

        async def put_apikey(self, digest, record):
            await suite.store.delete_apikey(record["key_id"])
            await suite.store.put_apikey(digest, record)

    with pytest.raises(NotFound):
        await apikeys.rotate(DeletedMeanwhile(), admin, doc["key_id"], overlap=OVERLAP, now=int(time.time()))
    assert await suite.store.apikey_secrets(doc["key_id"]) == []
    with pytest.raises(Exception):
        await apikeys.grant(suite.store, secret)


async def test_a_rotation_without_overlap_keeps_the_key_and_stops_the_old_secret_at_once(suite):
    from ecert.errors import Unauthenticated
    from ecert.rules.access import Principal

    old, doc = await apikeys.create_api_key(suite.store, "hotel", org="No Overlap Hotel")
    now = int(time.time())
    new, record = await apikeys.rotate(suite.store, Principal("admin", "", "admin-key"), doc["key_id"],
                                       overlap=0, now=now)
    assert record["id"] == doc["key_id"] and record["status"] == "active"
    assert (await apikeys.grant(suite.store, new, now=now)).principal.key_id == doc["key_id"]
    with pytest.raises(Unauthenticated):
        await apikeys.grant(suite.store, old, now=now)
    assert [d["_id"] for d in await suite.store.apikey_secrets(doc["key_id"])] == [hash_key(new)]


async def test_a_key_an_admin_disabled_is_enabled_again_by_an_admin_only(suite, keys):
    async with gateways(suite, 1) as ([gw], mono, _):
        _, k = await _create(gw, keys["admin"], role="agency", region="CN-ZJ", org="Leaked Desk")
        action = f"/v1/api-keys/{k['id']}:"
        assert (await gw.post(action + "disable", headers=bearer(keys["admin"]))).status == 200
        r = await gw.post(action + "enable", headers=bearer(keys["agency_zj"]))  # a colleague of the region
        assert r.status == 403 and (await r.json())["error"]["code"] == "FORBIDDEN"
        assert (await gw.post(action + "disable", headers=bearer(keys["agency_zj"]))).status == 200  # no change
        r = await gw.post(action + "rotate", headers=bearer(keys["agency_zj"]))
        rotated = await r.json()
        assert r.status == 201 and rotated["status"] == "disabled"
        mono.t += KEY_CHECK_INTERVAL
        assert await _works(gw, rotated["key"]) == 401  # the new secret of a disabled key is refused too
        assert (await gw.post(action + "enable", headers=bearer(keys["agency_zj"]))).status == 403
        r = await gw.post(action + "enable", headers=bearer(keys["admin"]))
        assert r.status == 200 and (await r.json())["status"] == "active"
        mono.t += KEY_CHECK_INTERVAL
        assert await _works(gw, rotated["key"]) == 200
        # one an agency disabled, an agency enables
        assert (await gw.post(action + "disable", headers=bearer(keys["agency_zj"]))).status == 200
        assert (await gw.post(action + "enable", headers=bearer(keys["agency_zj"]))).status == 200


async def test_a_disable_racing_a_rotation_disables_the_new_secret_too(suite):
    from ecert.errors import Unauthenticated
    from ecert.rules.access import Principal

    _, doc = await apikeys.create_api_key(suite.store, "hotel", org="Racing Hotel")
    admin, now = Principal("admin", "", "admin-key"), int(time.time())
    rotated: list[str] = []

    class RotatedMeanwhile:
        """The suite's store, where a whole rotation runs between the disable's reading of the key's
        secrets and its writing of them (its first write misses the new secret)."""

        def __getattr__(self, name):
            return getattr(suite.store, name)

        async def update_apikey(self, key_id, values, **kw):
            if rotated:
                return await suite.store.update_apikey(key_id, values, **kw)
            found = await suite.store.apikey_secrets(key_id)
            rotated.append((await apikeys.rotate(suite.store, admin, key_id, overlap=OVERLAP, now=now))[0])
            return sum([await suite.store.backend.update("apikeys", d["_id"], values) for d in found])

    record = await apikeys.set_disabled(RotatedMeanwhile(), admin, doc["key_id"], True, now=now)
    assert record["status"] == "disabled" and rotated
    with pytest.raises(Unauthenticated):
        await apikeys.grant(suite.store, rotated[0], now=now)


async def test_requests_do_not_wait_for_a_key_check_another_request_is_making(suite, keys):
    from gateway.auth import Keyring

    class Slow:
        """The suite's store, whose key-change number answers when the test says."""

        def __init__(self):
            self.gate = asyncio.Event()

        async def apikeys_generation(self):
            await self.gate.wait()
            return await suite.store.apikeys_generation()

        async def get_apikey(self, digest):
            return await suite.store.get_apikey(digest)

    mono, store = FixedClock(1000.0), Slow()
    ring = Keyring(clock=mono)
    store.gate.set()
    held = await ring.grant(store, keys["hotel"])
    store.gate.clear()
    mono.t += KEY_CHECK_INTERVAL
    checking = asyncio.create_task(ring.grant(store, keys["hotel"]))  # finds the check due: waits for it
    others = asyncio.gather(*(ring.grant(store, keys["hotel"]) for _ in range(3)))
    try:
        for _ in range(5):
            await asyncio.sleep(0)
        assert not checking.done()
        assert others.done() and others.result() == [held] * 3  # the grant held, without waiting
    finally:
        store.gate.set()
        await asyncio.gather(checking, others, return_exceptions=True)
    assert checking.result() == held


async def test_a_limit_of_thousands_of_digits_is_a_400_not_a_500(suite, keys):
    async with gateways(suite, 1) as ([gw], _, _):
        for limit in ("9" * 5000, "9" * 9, "0"):
            r = await gw.get("/v1/api-keys", params={"limit": limit}, headers=bearer(keys["admin"]))
            body = await r.json()
            assert r.status == 400 and body["error"]["fields"] == ["limit"], (len(limit), body)


async def test_an_agency_creates_no_key_broader_than_its_own(suite, keys):
    async with gateways(suite, 1) as ([gw], _, wall):
        ends = int(wall()) + 86400 * 10
        _, own = await _create(gw, keys["admin"], role="agency", region="CN-ZJ", org="Temporary Desk",
                               expires_at=iso(ends), purposes=["general"], quota={"per_minute": 10})
        status, made = await _create(gw, own["key"], role="agency", region="CN-ZJ", org="Its Colleague")
        assert status == 201, made  # what it does not say is inherited
        assert made["expires_at"] == iso(ends) and made["purposes"] == ["general"]
        assert made["quota"] == {"per_minute": 10}
        for body, field in (({"expires_at": iso(ends + 1)}, "expires_at"),
                            ({"purposes": ["general", "business_check"]}, "purposes"),
                            ({"quota": {"per_minute": 11}}, "quota"), ({"quota": {"per_minute": 0}}, "quota")):
            status, refused = await _create(gw, own["key"], role="agency", region="CN-ZJ", **body)
            assert status == 403 and refused["error"]["fields"] == [field], (body, refused)
        status, made = await _create(gw, own["key"], role="agency", region="CN-ZJ", expires_at=iso(ends - 60),
                                     quota={"per_minute": 5, "per_day": 100})
        assert status == 201 and made["expires_at"] == iso(ends - 60), made
        assert made["quota"] == {"per_minute": 5, "per_day": 100} and made["purposes"] == ["general"]
        status, made = await _create(gw, keys["agency_zj"], role="agency", region="CN-ZJ")  # a key without limits
        assert status == 201 and made["expires_at"] is None and made["purposes"] == [] and made["quota"] == {}
