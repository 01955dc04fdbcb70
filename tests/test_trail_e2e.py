"""The trail end to end, on the real suite: every use of a credential at the issuer, at two verifiers
and across two regions lands in the issuing region's chain once, in order; a verifier killed before
it delivered has its outbox delivered by the next (0 lost, 0 duplicated); the holder reads it at
``GET /v1/credentials/{id}/access-log``; ``ecert audit verify`` walks it; and no application log,
trail entry or outbox line holds a holder's name or number."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import socket

import grpc
import pytest

from ecert import cli
from ecert.rpc import server as rpc_server
from ecert.rpc.convert import principal_to_pb, service_principal_pb
from ecert.rules import apikeys
from ecert.rules.access import Principal
from ecert.runtime.config import VerifierConfig
from ecertpb.v1 import issuer_pb2, issuer_pb2_grpc, verifier_pb2, verifier_pb2_grpc
from services.verifier import servicer as verifier_servicer
from testkit.samples import SAMPLES, citizen_id
from tests.conftest import bearer

pytestmark = pytest.mark.asyncio(loop_scope="session")

ZJ_AGENCY_ORG, SH_HOTEL_ORG, JS_POLICE_ORG = "浙江省公安厅", "上海外滩酒店", "江苏省高速交警"


@pytest.fixture(scope="session")
async def orgs(suite):
    """Keys that carry their organisation (``ecert apikey create --org``)."""
    async def key(role, region=None, org=""):
        secret, _ = await apikeys.create_api_key(suite.store, role, region, org=org)
        return secret
    return {"agency_zj": await key("agency", "CN-ZJ", ZJ_AGENCY_ORG),
            "agency_sh": await key("agency", "CN-SH", "上海市公安局"),
            "hotel": await key("hotel", None, SH_HOTEL_ORG),
            "police": await key("traffic_police", "CN-JS", JS_POLICE_ORG),
            "admin": await key("admin", None, "长三角一网通办")}


async def _issue(http, key: str, region: str, fields: dict | None = None, type_: str = "cn.resident_id") -> dict:
    r = await http.post("/v1/credentials", headers=bearer(key),
                        json={"region": region, "type": type_, "fields": fields or SAMPLES[type_]})
    body = await r.json()
    assert r.status == 201, body
    return body


async def _verify(http, key: str, payload: str, purpose: str = "") -> dict:
    r = await http.post("/v1/verifications", headers=bearer(key),
                        json={"payload": payload, **({"purpose": purpose} if purpose else {})})
    assert r.status == 200
    return await r.json()


async def _log(http, key: str, cred_id: str, limit: int | None = None) -> list[dict]:
    """Every page of a credential's access log."""
    entries, after = [], 0
    while True:
        params = {"after": str(after), **({"limit": str(limit)} if limit else {})}
        r = await http.get(f"/v1/credentials/{cred_id}/access-log", headers=bearer(key), params=params)
        body = await r.json()
        assert r.status == 200, body
        assert r.headers["Cache-Control"] == "no-store"
        entries += body["entries"]
        if body["next"] is None:
            return entries
        after = body["next"]


def _seen(entries: list[dict]) -> list[tuple]:
    return [(e["action"], e["actor_org"], e["actor_role"], e["actor_region"], e["purpose"], e["result"])
            for e in entries]


async def test_the_holder_reads_each_use_in_order(suite, http, orgs):
    c = await _issue(http, orgs["agency_zj"], "CN-ZJ")
    assert (await _verify(http, orgs["hotel"], c["qr_text"]))["result"] == "VALID"
    r = await http.post("/v1/verifications:batch", headers=bearer(orgs["police"]),
                        json={"payloads": [c["qr_text"], "EC1:NOTHING"], "purpose": "roadside_driver_check"})
    assert [a["result"] for a in (await r.json())["results"]] == ["VALID", "BASE45_INVALID"]  # a forgery: no entry
    await suite.deliver_trail()  # what the verifier's background delivery does within a second
    r = await http.post(f"/v1/credentials/{c['id']}:suspend", headers=bearer(orgs["agency_zj"]))
    assert r.status == 200
    await suite.refresh()  # the verifier's status list, and its outbox delivered
    assert (await _verify(http, orgs["hotel"], c["qr_text"]))["result"] == "SUSPENDED"
    await suite.deliver_trail()

    entries = await _log(http, orgs["agency_zj"], c["id"])
    assert _seen(entries) == [
        ("issue", ZJ_AGENCY_ORG, "agency", "CN-ZJ", "", "valid"),
        ("verify", SH_HOTEL_ORG, "hotel", "", "hotel_check_in", "VALID"),
        ("verify", JS_POLICE_ORG, "traffic_police", "CN-JS", "roadside_driver_check", "VALID"),
        ("status_change", ZJ_AGENCY_ORG, "agency", "CN-ZJ", "", "suspended"),
        ("verify", SH_HOTEL_ORG, "hotel", "", "hotel_check_in", "SUSPENDED"),
    ]
    seqs = [e["seq"] for e in entries]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    for e in entries:
        assert set(e) == {"seq", "at", "action", "actor_org", "actor_role", "actor_region", "purpose", "result",
                          "hash", "prev_hash"}  # no key id, no other credential, no holder data
        assert len(e["hash"]) == len(e["prev_hash"]) == 64 and e["at"].endswith("Z")
    # the holder's chain entries are the region's: each one's hash is what the next in the region names
    stored = await suite.store.credential_trail("CN-ZJ", c["id"])
    assert [e["hash"] for e in stored] == [e["hash"] for e in entries]

    # pages, and who may read it
    assert await _log(http, orgs["agency_zj"], c["id"], limit=2) == entries
    assert await _log(http, orgs["admin"], c["id"]) == entries
    r = await http.get(f"/v1/credentials/{c['id']}/access-log", headers=bearer(orgs["agency_sh"]))
    assert r.status == 404  # another region's agency: as for the record itself
    r = await http.get(f"/v1/credentials/{c['id']}/access-log", headers=bearer(orgs["hotel"]))
    assert r.status == 403
    for query in ("after=-1", "after=x", "limit=0", "limit=501", "after=99999999999999999999"):
        r = await http.get(f"/v1/credentials/{c['id']}/access-log?{query}", headers=bearer(orgs["agency_zj"]))
        assert r.status == 400 and (await r.json())["error"]["code"] == "INVALID_REQUEST", query
    r = await http.get("/v1/credentials/NOTANID/access-log", headers=bearer(orgs["agency_zj"]))
    assert r.status == 404


async def test_a_mixed_run_of_every_action_across_regions_and_two_verifiers(suite, http, orgs, tmp_path):
    """Two regions, two verifier processes (the suite's, and a second one with a var folder of its
    own that is killed before it delivered and started again on the same folder): each check lands
    in its issuing region's log exactly once, and each log lists the uses in the order they came."""
    zj = await _issue(http, orgs["agency_zj"], "CN-ZJ")
    sh = await _issue(http, orgs["agency_sh"], "CN-SH")
    # the holder shows a code (亮证) and a Shanghai hotel checks it: PRESENT, then the issuer's RESOLVE
    r = await http.post(f"/v1/credentials/{zj['id']}/presentations", headers=bearer(orgs["agency_zj"]),
                        json={"purpose": "hotel_check_in"})
    assert r.status == 201, await r.text()
    token = (await r.json())["token"]
    assert (await _verify(http, orgs["hotel"], token))["result"] == "VALID"
    # the hotel is shown the portrait (fetched from Zhejiang through the suite): PHOTO_ACCESS
    r = await http.get(f"/v1/photos/{zj['fields']['photo']}", headers=bearer(orgs["hotel"]),
                       params={"credential": zj["id"], "region": "CN-ZJ"})
    assert r.status == 200, await r.text()

    # a second verifier, called as the gateway calls one
    cfg = dataclasses.replace(suite.verifier_config, var_dir=tmp_path / "v2", listen="127.0.0.1:0")
    v2, server, port = await verifier_servicer.build(cfg, now=suite.verifier_clock)
    await rpc_server.start(server)
    await v2.cache.refresh_trust()
    ch = suite.channel(port, "verifier")
    stub = verifier_pb2_grpc.VerifierServiceStub(ch)
    hotel = principal_to_pb(Principal("hotel", "", "feedfacecafe", "苏州园林宾馆"))
    try:
        a = await stub.Verify(verifier_pb2.VerifyRequest(principal=hotel, payload=zj["qr_text"]), timeout=5)
        b = await stub.VerifyBatch(verifier_pb2.VerifyBatchRequest(
            principal=hotel, payloads=[sh["qr_text"], zj["qr_text"], sh["qr_text"]]), timeout=5)
        assert a.result == "VALID" and [x.result for x in b.results] == ["VALID"] * 3
        assert v2.trail.pending_bytes() > 0
    finally:
        v2.trail.abandon()  # killed before it delivered anything
        await rpc_server.stop(server, 0)
        await v2.cache.close()
    # meanwhile, at the suite's verifier
    assert (await _verify(http, orgs["police"], sh["qr_text"], "transport_inspection"))["result"] in (
        "VALID", "NOT_ACCEPTED_FOR_PURPOSE")
    assert (await _verify(http, orgs["hotel"], zj["qr_text"]))["result"] == "VALID"
    await suite.deliver_trail()
    r = await http.post(f"/v1/credentials/{sh['id']}:revoke", headers=bearer(orgs["agency_sh"]))
    assert r.status == 200

    # the second verifier starts again on its folder and delivers what the killed run left
    again, server, _ = await verifier_servicer.build(cfg, now=suite.verifier_clock)
    try:
        assert again.trail is not None and len(again.trail._orphans) == 2  # its file for each region
        assert await again.trail.deliver() == 4
        assert again.trail.pending_bytes() == 0 and await again.trail.deliver() == 0
    finally:
        await again.trail.close()
        await again.cache.close()
        await rpc_server.stop(server, 0)
        await ch.close()

    # 0 lost, 0 duplicated: each log exactly (a check delivered twice would be one entry more)
    zj_log = _seen(await _log(http, orgs["agency_zj"], zj["id"]))
    assert zj_log == [
        ("issue", ZJ_AGENCY_ORG, "agency", "CN-ZJ", "", "valid"),
        ("present", ZJ_AGENCY_ORG, "agency", "CN-ZJ", "hotel_check_in", ""),
        ("resolve", SH_HOTEL_ORG, "hotel", "", "hotel_check_in", "VALID"),
        ("photo_access", SH_HOTEL_ORG, "hotel", "", "hotel_check_in", "served"),
        ("verify", SH_HOTEL_ORG, "hotel", "", "hotel_check_in", "VALID"),  # the suite's verifier
        # the killed verifier's two checks, delivered after its restart, in the order it made them
        ("verify", "苏州园林宾馆", "hotel", "", "hotel_check_in", "VALID"),
        ("verify", "苏州园林宾馆", "hotel", "", "hotel_check_in", "VALID"),
    ]
    sh_log = _seen(await _log(http, orgs["agency_sh"], sh["id"]))
    assert [row[0] for row in sh_log] == ["issue", "verify", "status_change", "verify", "verify"]
    assert sh_log[1][1] == JS_POLICE_ORG and sh_log[2][-1] == "revoked"
    assert sh_log[3][1] == sh_log[4][1] == "苏州园林宾馆"


async def test_a_redelivery_is_no_second_entry(suite, http, orgs):
    c = await _issue(http, orgs["agency_zj"], "CN-ZJ")
    req = issuer_pb2.RecordAccessRequest(principal=service_principal_pb(), records=[issuer_pb2.AccessRecord(
        actor=principal_to_pb(Principal("hotel", "", "0a1b2c3d4e5f", "南京金陵饭店")), purpose="hotel_check_in",
        action="verify", ids=[f"redelivered-{c['id']}.{n}" for n in range(3)], credential_ids=[c["id"]] * 3,
        results=["VALID"] * 3, ats=[1_800_000_000] * 3)])
    ch = suite.channel(suite.issuer_ports["CN-ZJ"], "issuer", identity="verifier")
    stub = issuer_pb2_grpc.IssuerServiceStub(ch)
    try:
        first = await stub.RecordAccess(req, timeout=5)
        second = await stub.RecordAccess(req, timeout=5)
        assert (first.recorded, first.duplicates) == (3, 0)
        assert (second.recorded, second.duplicates) == (0, 3)
    finally:
        await ch.close()
    entries = await _log(http, orgs["agency_zj"], c["id"])
    assert [e["action"] for e in entries] == ["issue", "verify", "verify", "verify"]
    # only the verifier delivers: the gateway's certificate is refused before the servicer runs
    gw = suite.channel(suite.issuer_ports["CN-ZJ"], "issuer")
    try:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await issuer_pb2_grpc.IssuerServiceStub(gw).RecordAccess(req, timeout=5)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        await gw.close()


def _silent_port() -> tuple[socket.socket, str]:
    """A port that takes connections and never answers (an issuer hung, a network black hole)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    return s, f"127.0.0.1:{s.getsockname()[1]}"


async def test_an_unreachable_region_delays_delivery_never_the_answer(suite, http, orgs):
    c = await _issue(http, orgs["agency_zj"], "CN-ZJ")
    box = suite.verifier.trail
    hole, address = _silent_port()
    endpoint, timeout = box.endpoint, box.delivery.delivery_timeout
    box.endpoint = lambda region: address if region == "CN-ZJ" else endpoint(region)
    box.delivery.delivery_timeout = 1.0
    try:
        assert (await _verify(http, orgs["hotel"], c["qr_text"]))["result"] == "VALID"
        stuck = asyncio.create_task(box.deliver())  # the region takes the call and never answers
        await asyncio.sleep(0.05)
        answer = await _verify(http, orgs["hotel"], c["qr_text"])  # answered while the delivery hangs
        assert answer["result"] == "VALID" and not stuck.done()
        await stuck  # it gives up at its deadline
        assert box.pending_bytes() > 0 and "CN-ZJ" in box._retry
    finally:
        box.endpoint, box.delivery.delivery_timeout = endpoint, timeout
        hole.close()
    box._retry.clear()  # the region is back: no need to wait out the back-off
    await suite.deliver_trail()
    assert box.pending_bytes() == 0
    assert [e["action"] for e in await _log(http, orgs["agency_zj"], c["id"])] == ["issue", "verify", "verify"]


async def test_the_verifier_can_run_without_the_trail(suite, tmp_path):
    env = {"ECERT_TRAIL": "0", "ECERT_INTERNAL_TOKEN": "t", "ECERT_TLS_CA": "a", "ECERT_TLS_CERT": "b",
           "ECERT_TLS_KEY": "c", "ECERT_ROOT_PUBLIC_KEY": suite.verifier_config.root_public_key_pem.decode()}
    assert VerifierConfig.from_env(env).trail is False
    assert VerifierConfig.from_env({**env, "ECERT_TRAIL": ""}).trail is True  # on unless turned off
    cfg = dataclasses.replace(suite.verifier_config, var_dir=tmp_path, listen="127.0.0.1:0", trail=False)
    v, server, _ = await verifier_servicer.build(cfg)
    try:
        assert v.trail is None and not (tmp_path / "verifier" / "outbox").exists()
    finally:
        await v.cache.close()
        await rpc_server.stop(server, 0)


async def _cli(capsys, *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    rc = await asyncio.to_thread(cli.main, list(argv))
    out, err = capsys.readouterr()
    return rc, out + err


async def test_audit_verify_walks_the_suites_chains(suite, http, orgs, capsys):
    await _issue(http, orgs["agency_zj"], "CN-ZJ")
    await suite.deliver_trail()
    uri = suite.gateway_config.store_uri
    for region in ("CN-ZJ", "CN-SH"):
        rc, out = await _cli(capsys, "audit", "verify", "--region", region, "--store", uri)
        assert rc == 0 and "chain intact" in out, out
    rc, out = await _cli(capsys, "audit", "verify", "--region", "zhejiang", "--store", uri)
    assert rc == 2


async def test_no_holder_data_in_logs_trail_or_outbox(suite, http, orgs, caplog):
    """A whole run for a holder of their own (issue, verify one and in a batch, show a code and check
    it, the portrait, suspend, read the log): the application logs at every level, the trail's
    entries and the verifier's outbox hold none of the holder's name, ID number or address."""
    name, number = "司马懿明", citizen_id("33010619920815417")
    fields = {**SAMPLES["cn.resident_id"], "name": name, "id_number": number, "birth_date": "1992-08-15",
              "address": "浙江省杭州市西湖区龙井路88号"}
    secrets_ = [name, number, number[:14], fields["address"]]
    caplog.set_level(logging.DEBUG)
    c = await _issue(http, orgs["agency_zj"], "CN-ZJ", fields)
    await _verify(http, orgs["hotel"], c["qr_text"])
    await http.post("/v1/verifications:batch", headers=bearer(orgs["police"]),
                    json={"payloads": [c["qr_text"], c["qr_text"][:-4] + "AAAA"], "purpose": "roadside_driver_check"})
    r = await http.post(f"/v1/credentials/{c['id']}/presentations", headers=bearer(orgs["agency_zj"]), json={})
    await _verify(http, orgs["hotel"], (await r.json())["token"])
    await http.get(f"/v1/photos/{c['fields']['photo']}", headers=bearer(orgs["hotel"]),
                   params={"credential": c["id"], "region": "CN-ZJ"})
    await http.post(f"/v1/credentials/{c['id']}:suspend", headers=bearer(orgs["agency_zj"]))
    # the outbox as the verifier keeps it before delivery (delivered files are removed)
    outbox = "\n".join(p.read_text(encoding="utf-8") for p in (suite.var_dir / "verifier" / "outbox").rglob("*.log"))
    assert c["id"] in outbox  # its checks are there to be looked at
    await suite.refresh()
    entries = await _log(http, orgs["agency_zj"], c["id"])
    assert {e["action"] for e in entries} >= {"issue", "verify", "present", "resolve", "status_change"}

    logged = "\n".join(f"{rec.name} {rec.getMessage()} {rec.args!r} {rec.exc_text or ''}" for rec in caplog.records)
    stored = json.dumps(await suite.store.credential_trail("CN-ZJ", c["id"]), ensure_ascii=False)
    for secret in secrets_:
        assert secret not in logged
        assert secret not in stored
        assert secret not in outbox
    assert caplog.records  # the run did log (issuances, status changes): just nothing of the holder's


async def test_apikey_create_names_the_organisation(capsys, tmp_path):
    from ecert.store import open_store
    uri = f"sqlite:///{tmp_path / 'ecert.db'}"
    store = await open_store(uri)
    await store.close()
    rc, out = await _cli(capsys, "apikey", "create", "--role", "hotel", "--org", " 上海外滩酒店 ", "--store", uri)
    assert rc == 0 and "上海外滩酒店" in out
    key = out.strip().splitlines()[-1]
    store = await open_store(uri)
    try:
        p = await apikeys.authenticate(store, key)
        assert (p.role, p.org) == ("hotel", "上海外滩酒店")
    finally:
        await store.close()
    rc, out = await _cli(capsys, "apikey", "create", "--role", "hotel", "--org", "a\nb", "--store", uri)
    assert rc == 2 and "organisation" in out
    rc, _ = await _cli(capsys, "apikey", "create", "--role", "hotel", "--org", "x" * 201, "--store", uri)
    assert rc == 2
