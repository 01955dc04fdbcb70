"""Issue 12, item 1: show codes (EP1) end to end, through the gateway, a second verifier and the CLI.

A Zhejiang agency makes a code for a resident on the holder's behalf; a Shanghai hotel checks
the resident in with it (the hotel's fields only). The code is single use across verifiers
racing for it, lives 300 s (the verifier's clock injected), is judged by the credential's
status at the moment it is resolved, serves only the purpose the holder chose, and an issuing
region that does not answer gives REGION_UNAVAILABLE within the configured deadline.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import socket
from contextlib import asynccontextmanager
from datetime import datetime

import pytest
import pytest_asyncio

from ecert import cli
from ecert.clock import FixedClock
from ecert.errors import ConfigError, Outcome
from ecert.format import credential, presentation
from ecert.imaging import scan
from ecert.rpc import server as rpc_server
from ecert.rules.access import Principal
from ecert.rules.catalogue import builtin_types
from ecert.rules.schema import TypeSchema
from ecert.runtime import pki
from ecert.runtime.config import VerifierConfig
from ecert.vocab import TrailAction
from ecertpb.v1 import issuer_pb2_grpc
from services.verifier import servicer as verifier_servicer
from testkit.samples import SAMPLES, driving_licence
from tests.conftest import bearer
from tests.test_presentations_domain import spy_on

pytestmark = pytest.mark.asyncio(loop_scope="session")

ID_CARD = next(TypeSchema(t["id"], t["version"], t["name"], t["schema"], t["disclosure"])
               for t in builtin_types() if t["id"] == "cn.resident_id")
HOTEL_SH = Principal("hotel", "CN-SH", "hotel_sh")


@pytest_asyncio.fixture(scope="module")
async def hotel_sh(suite):
    """A Shanghai hotel's key (bound to CN-SH: the region whose recognition rules it checks by)."""
    return await suite.api_key("hotel", "CN-SH")


@pytest.fixture(autouse=True)
def trail(suite):
    """What Zhejiang's issuer appends to its trail during each test (passed on to its own trail)."""
    issuer = suite.issuers["CN-ZJ"]
    had = "trail" in vars(issuer)
    real = vars(issuer).get("trail")
    spy = spy_on(issuer)
    yield spy
    if had:
        issuer.trail = real
    else:
        del issuer.trail


async def card(http, keys, name: str = "张三", **fields) -> dict:
    """A Zhejiang resident identity card of ``name``."""
    r = await http.post("/v1/credentials", headers=bearer(keys["agency_zj"]), json={
        "region": "CN-ZJ", "type": "cn.resident_id", "fields": {**SAMPLES["cn.resident_id"], "name": name, **fields}})
    assert r.status == 201, await r.text()
    return await r.json()


async def show(http, key: str, cred_id: str, body: dict | None = None, status: int = 201) -> dict:
    r = await http.post(f"/v1/credentials/{cred_id}/presentations", headers=bearer(key),
                        **({} if body is None else {"json": body}))
    data = await r.json()
    assert r.status == status, data
    if status == 201:
        assert r.headers["Cache-Control"] == "no-store"
    return data


async def verify(http, key: str, payload: str, purpose: str | None = None) -> dict:
    body = {"payload": payload} if purpose is None else {"payload": payload, "purpose": purpose}
    r = await http.post("/v1/verifications", headers=bearer(key), json=body)
    assert r.status == 200, await r.text()
    return await r.json()


def epoch(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


def outcome(verdict) -> str:
    return str(verdict.res.outcome.value if isinstance(verdict.res.outcome, Outcome) else verdict.res.outcome)


@asynccontextmanager
async def another_verifier(suite, tmp_path, **changes):
    """A second verifier (as a second process would be: its own folder, trust list and channels),
    on the suite's registry and issuers; used through its domain object."""
    cfg = dataclasses.replace(suite.verifier_config, var_dir=tmp_path / "second-verifier",
                              **{k: v for k, v in changes.items() if k != "now"})
    verifier, server, _ = await verifier_servicer.build(cfg, now=changes.get("now") or FixedClock(),
                                                        listen="127.0.0.1:0")
    try:
        assert await verifier.cache.refresh_trust()
        yield verifier
    finally:
        await verifier.cache.close()
        await server.stop(0)


# -- the case: a Shanghai hotel, a Zhejiang resident ---------------------------------------------

async def test_a_shanghai_hotel_checks_in_a_zhejiang_resident_with_a_show_code(http, keys, hotel_sh, trail):
    resident = await card(http, keys, "陈静怡")
    code = await show(http, keys["agency_zj"], resident["id"], {"purpose": "hotel_check_in"})
    assert code["token"].startswith("EP1:") and presentation.looks_like_token_id(code["token_id"])
    assert code["credential_id"] == resident["id"] and code["purpose"] == "hotel_check_in"
    assert code["expires_in"] == 300 and epoch(code["expires_at"]) - epoch(code["issued_at"]) == 300
    assert code["qr_png_url"] == f"/v1/credentials/{resident['id']}/presentations/{code['token_id']}/qr.png"
    assert resident["fields"]["name"] not in json.dumps(code, ensure_ascii=False)

    answer = await verify(http, hotel_sh, code["token"])
    assert answer["result"] == "VALID" and answer["purpose"] == "hotel_check_in" and "document" not in answer
    assert answer["credential"]["id"] == resident["id"] and answer["credential"]["region"] == "CN-ZJ"
    assert answer["fields"] == ID_CARD.disclosed("hotel", resident["fields"])  # the hotel's fields only
    assert answer["fields"]["name"] == "陈静怡" and "issuing_authority" not in answer["fields"]
    assert answer["status_checked"] is True

    replay = await verify(http, hotel_sh, code["token"])  # a screenshot shown again
    assert replay["result"] == "TOKEN_ALREADY_USED" and replay["fields"] == {}
    assert [(e["action"], e.get("outcome", ""), e["purpose"]) for e in trail.entries] == [
        (TrailAction.PRESENT, "", "hotel_check_in"), (TrailAction.RESOLVE, "VALID", "hotel_check_in"),
        (TrailAction.RESOLVE, "TOKEN_ALREADY_USED", "hotel_check_in")]
    assert trail.entries[0]["actor"].role == "agency" and trail.entries[0]["actor"].region == "CN-ZJ"
    assert all(e["actor"].role == "hotel" and e["actor"].region == "CN-SH" for e in trail.entries[1:])
    assert all(e["credential_id"] == resident["id"] for e in trail.entries)


async def test_the_code_drawn_is_the_code_and_is_drawn_only_while_live(http, keys, hotel_sh):
    resident = await card(http, keys, "顾明轩")
    code = await show(http, keys["agency_zj"], resident["id"])
    assert "purpose" not in code
    r = await http.get(code["qr_png_url"], headers=bearer(keys["agency_zj"]))
    assert r.status == 200 and r.content_type == "image/png" and r.headers["Cache-Control"] == "no-store"
    assert scan.decode_image(await r.read()) == [code["token"]]
    upper = code["qr_png_url"].replace(code["token_id"], code["token_id"].upper())
    assert (await http.get(upper, headers=bearer(keys["admin"]))).status == 200  # an admin too; hex in any case
    for key in ("hotel", "police", "integrator"):
        r = await http.get(code["qr_png_url"], headers=bearer(keys[key]))
        assert r.status == 403, key
    r = await http.get(code["qr_png_url"], headers=bearer(keys["agency_sh"]))
    assert r.status == 404  # another region's agency: no such credential for it

    assert (await verify(http, hotel_sh, code["token"]))["result"] == "VALID"
    r = await http.get(code["qr_png_url"], headers=bearer(keys["agency_zj"]))
    assert r.status == 404 and (await r.json())["error"]["code"] == "PRESENTATION_USED"


async def test_a_code_serves_only_the_purpose_the_holder_chose(http, keys):
    resident = await card(http, keys, "黄子涵")
    hotel_only = await show(http, keys["agency_zj"], resident["id"], {"purpose": "hotel_check_in"})
    other = await verify(http, keys["integrator"], hotel_only["token"], "general")
    assert other["result"] == "NOT_ACCEPTED_FOR_PURPOSE" and other["purpose"] == "general"
    assert "hotel_check_in" in other["detail"]
    assert other["fields"] == ID_CARD.identified("integrator", resident["fields"])  # who it names, no more
    assert (await verify(http, keys["integrator"], hotel_only["token"], "hotel_check_in"))["result"] == \
        "TOKEN_ALREADY_USED"  # refused, and used up
    fresh = await show(http, keys["agency_zj"], resident["id"], {"purpose": "hotel_check_in"})
    assert (await verify(http, keys["integrator"], fresh["token"], "hotel_check_in"))["result"] == "VALID"
    anything = await show(http, keys["agency_zj"], resident["id"], {})
    assert (await verify(http, keys["integrator"], anything["token"], "general"))["result"] == "VALID"


async def test_one_code_raced_for_by_two_verifiers_is_valid_once(http, keys, hotel_sh, suite, tmp_path, trail):
    resident = await card(http, keys, "宋雨桐")
    code = await show(http, keys["agency_zj"], resident["id"])
    async with another_verifier(suite, tmp_path, now=suite.verifier_clock) as second:
        answers = await asyncio.gather(
            *(verify(http, hotel_sh, code["token"]) for _ in range(4)),
            *(second.verify(HOTEL_SH, code["token"]) for _ in range(4)))
    results = [a["result"] for a in answers[:4]] + [outcome(v) for v in answers[4:]]
    assert sorted(results) == ["TOKEN_ALREADY_USED"] * 7 + ["VALID"], results
    resolutions = trail.of(TrailAction.RESOLVE)
    assert sorted(e["outcome"] for e in resolutions) == sorted(results)  # every look-up is on record


async def test_a_code_lives_300_seconds_by_the_verifiers_clock(http, keys, hotel_sh, suite, tmp_path):
    resident = await card(http, keys, "韩思琪")
    first = await show(http, keys["agency_zj"], resident["id"])
    second = await show(http, keys["agency_zj"], resident["id"])
    clock = FixedClock()
    async with another_verifier(suite, tmp_path, now=clock) as verifier:
        clock.t = epoch(first["issued_at"]) + 299
        assert outcome(await verifier.verify(HOTEL_SH, first["token"])) == "VALID"
        clock.t = epoch(second["issued_at"]) + 300
        expired = await verifier.verify(HOTEL_SH, second["token"])
        assert outcome(expired) == "EXPIRED"  # offline: the issuer is not asked
        clock.t = epoch(second["issued_at"]) + 30
        assert outcome(await verifier.verify(HOTEL_SH, second["token"])) == "VALID"  # so it was not used up
        third = await show(http, keys["agency_zj"], resident["id"])
        clock.t = epoch(third["issued_at"]) - 61  # made "in the future", beyond the 60 s skew
        assert outcome(await verifier.verify(HOTEL_SH, third["token"])) == "NOT_YET_VALID"


async def test_a_credential_revoked_after_its_code_was_made_is_revoked(http, keys, hotel_sh):
    resident = await card(http, keys, "冯嘉怡")
    code = await show(http, keys["agency_zj"], resident["id"])
    r = await http.post(f"/v1/credentials/{resident['id']}:revoke", headers=bearer(keys["agency_zj"]))
    assert r.status == 200
    r = await http.get(code["qr_png_url"], headers=bearer(keys["agency_zj"]))
    assert r.status == 409 and (await r.json())["error"]["code"] == "STATUS_CONFLICT"  # not drawn any more
    answer = await verify(http, hotel_sh, code["token"])  # no status-list refresh needed: the live status
    assert answer["result"] == "REVOKED" and answer["fields"] == {"name": "冯嘉怡"}  # who presented it
    assert "document" not in answer
    await show(http, keys["agency_zj"], resident["id"], status=409)  # and no new code


async def on_record(suite, cred_id: str, **changes) -> str:
    """A copy of a credential's record as one from before the issuer checked the document's dates
    would be (``changes``: its fields' and its own), under a new id: that id."""
    doc = await suite.store.get_credential(cred_id)
    copy = dict(doc, _id=credential.cti_to_id(credential.new_cti()), request_id=None, request_hash=None,
                status_idx=await suite.store.next_status_index(doc["region"]),
                fields={**doc["fields"], **changes.pop("fields", {})}, **changes)
    await suite.store.insert_credential(copy)
    return copy["_id"]


async def test_the_region_gives_the_documents_own_date_that_decided(http, keys, hotel_sh, suite, monkeypatch):
    """A show code whose record's own dates are outside their validity answers EXPIRED /
    NOT_YET_VALID with ``document``, the field and its date, as an EC1 answer has them; a
    credential past its own exp, with the document current, has none."""
    resident = await card(http, keys, "罗雅琴")
    ended = await on_record(suite, resident["id"], fields={"valid_from": "2005-01-01", "valid_until": "2015-01-01"})
    answer = await verify(http, hotel_sh, (await show(http, keys["agency_zj"], ended))["token"])
    assert answer["result"] == "EXPIRED" and answer["fields"] == {"name": "罗雅琴"}
    assert answer["detail"] == "the document's valid_until (2015-01-01) has passed"
    assert answer["document"] == {"field": "valid_until", "date": "2015-01-01"}
    early = await on_record(suite, resident["id"], fields={"valid_from": "2031-04-15", "valid_until": "2051-04-15"})
    answer = await verify(http, hotel_sh, (await show(http, keys["agency_zj"], early))["token"])
    assert answer["result"] == "NOT_YET_VALID" and "valid_from (2031-04-15)" in answer["detail"]
    assert answer["document"] == {"field": "valid_from", "date": "2031-04-15"}

    issuer = suite.issuers["CN-ZJ"]
    now = issuer.now()
    brief = await on_record(suite, resident["id"], expires_at=now + 60)
    code = await show(http, keys["agency_zj"], brief)
    monkeypatch.setattr(issuer, "now", lambda: now + 120)  # the credential's exp passed, the code still live
    answer = await verify(http, hotel_sh, code["token"])
    assert answer["result"] == "EXPIRED" and answer["detail"] == "expired" and "document" not in answer


# -- an issuing region that does not answer ------------------------------------------------------

class SilentIssuer(issuer_pb2_grpc.IssuerServiceServicer):
    """An issuer that takes the call and never answers; records the deadline each call came with."""

    def __init__(self):
        self.deadlines: list[float] = []

    async def ResolvePresentation(self, request, context):
        self.deadlines.append(context.time_remaining())
        await asyncio.Event().wait()


@pytest_asyncio.fixture
async def silent(suite):
    issuer = SilentIssuer()
    server, port = rpc_server.create_server(
        "127.0.0.1:0", [lambda s: issuer_pb2_grpc.add_IssuerServiceServicer_to_server(issuer, s)],
        links=suite.links(pki.issuer_identity("CN-ZJ")), service_names=["ecert.v1.IssuerService"])
    await rpc_server.start(server)
    issuer.endpoint = f"127.0.0.1:{port}"
    yield issuer
    await server.stop(0)


async def test_a_silent_issuing_region_is_region_unavailable_within_the_deadline(http, keys, hotel_sh, suite,
                                                                                 silent, monkeypatch):
    resident = await card(http, keys, "程子轩")
    code = await show(http, keys["agency_zj"], resident["id"])
    monkeypatch.setattr(suite.verifier.cache, "endpoint", lambda region: silent.endpoint)
    answer = await asyncio.wait_for(verify(http, hotel_sh, code["token"]), 30)  # never a hang
    assert answer["result"] == "REGION_UNAVAILABLE" and "CN-ZJ" in answer["detail"] and answer["fields"] == {}
    assert len(silent.deadlines) == 1 and 0 < silent.deadlines[0] <= 2.0  # ECERT_RESOLVE_TIMEOUT's default
    monkeypatch.undo()
    assert (await verify(http, hotel_sh, code["token"]))["result"] == "VALID"  # the region never saw it


async def test_the_resolve_deadline_is_its_own_setting_and_a_stopped_issuer_is_unavailable(
        http, keys, suite, silent, tmp_path, monkeypatch):
    resident = await card(http, keys, "邓雅婷")
    code = await show(http, keys["agency_zj"], resident["id"])
    async with another_verifier(suite, tmp_path, resolve_timeout=0.25, now=suite.verifier_clock) as verifier:
        monkeypatch.setattr(verifier.cache, "endpoint", lambda region: silent.endpoint)
        verdict = await asyncio.wait_for(verifier.verify(HOTEL_SH, code["token"]), 30)
        assert outcome(verdict) == "REGION_UNAVAILABLE"
        assert len(silent.deadlines) == 1 and 0 < silent.deadlines[0] <= 0.25
        with socket.socket() as s:  # a port nobody listens on: the issuer is stopped
            s.bind(("127.0.0.1", 0))
            stopped = f"127.0.0.1:{s.getsockname()[1]}"
        monkeypatch.setattr(verifier.cache, "endpoint", lambda region: stopped)
        assert outcome(await asyncio.wait_for(verifier.verify(HOTEL_SH, code["token"]), 30)) == "REGION_UNAVAILABLE"


async def test_the_resolve_deadline_is_read_from_the_environment():
    env = {"ECERT_INTERNAL_TOKEN": "t", "ECERT_TLS_CA": "ca", "ECERT_TLS_CERT": "c", "ECERT_TLS_KEY": "k",
           "ECERT_ROOT_PUBLIC_KEY": "-----BEGIN PUBLIC KEY-----"}
    assert VerifierConfig.from_env(env).resolve_timeout == 2.0
    assert VerifierConfig.from_env({**env, "ECERT_RESOLVE_TIMEOUT": "0.5"}).resolve_timeout == 0.5
    for bad in ("0", "-1", "soon", "inf", "nan"):
        with pytest.raises(ConfigError, match="ECERT_RESOLVE_TIMEOUT"):
            VerifierConfig.from_env({**env, "ECERT_RESOLVE_TIMEOUT": bad})


# -- who may make one, and what is refused -------------------------------------------------------

async def test_who_may_make_a_code_and_what_is_refused(http, keys):
    resident = await card(http, keys, "彭思远")
    for key in ("hotel", "police", "integrator"):
        r = await http.post(f"/v1/credentials/{resident['id']}/presentations", headers=bearer(keys[key]))
        assert r.status == 403, key
    assert (await show(http, keys["agency_sh"], resident["id"], status=404))["error"]["code"] == "NOT_FOUND"
    by_admin = await show(http, keys["admin"], resident["id"])  # the admin names no region: it is found
    assert by_admin["credential_id"] == resident["id"]
    assert (await http.get(by_admin["qr_png_url"], headers=bearer(keys["admin"]))).status == 200
    for bad_id in ("nonsense", "A" * 26):
        await show(http, keys["agency_zj"], bad_id, status=404)
    err = await show(http, keys["agency_zj"], resident["id"], {"purpose": "sightseeing"}, status=400)
    assert err["error"]["code"] == "PURPOSE_UNKNOWN" and "sightseeing" not in err["error"]["message"]
    err = await show(http, keys["agency_zj"], resident["id"], {"purpose": 7}, status=400)
    assert err["error"]["code"] == "INVALID_REQUEST"
    r = await http.post(f"/v1/credentials/{resident['id']}/presentations",
                        headers={**bearer(keys["agency_zj"]), "Content-Type": "application/json"}, data=b"{not json")
    assert r.status == 400 and (await r.json())["error"]["code"] == "MALFORMED_JSON"
    r = await http.post(f"/v1/credentials/{resident['id']}/presentations",
                        headers={**bearer(keys["agency_zj"]), "Content-Type": "application/json"},
                        data=b"x" * (1024 * 1024 + 1))
    assert r.status == 413
    base = f"/v1/credentials/{resident['id']}/presentations"
    for token_id in ("0" * 32, "zz" * 16, "0" * 31, "0" * 33):
        r = await http.get(f"{base}/{token_id}/qr.png", headers=bearer(keys["agency_zj"]))
        assert r.status == 404, token_id
    r = await http.post(f"/v1/credentials/{resident['id']}:suspend", headers=bearer(keys["agency_zj"]))
    assert r.status == 200
    assert (await show(http, keys["agency_zj"], resident["id"], status=409))["error"]["code"] == "STATUS_CONFLICT"


async def test_the_openapi_document_describes_the_routes(http):
    doc = await (await http.get("/openapi.json")).json()
    make = doc["paths"]["/v1/credentials/{id}/presentations"]["post"]
    assert make["description"].startswith("Roles: issuing agency, admin.") and "201" in make["responses"]
    assert make["requestBody"]["required"] is False
    assert "image/png" in doc["paths"]["/v1/credentials/{id}/presentations/{token_id}/qr.png"]["get"][
        "responses"]["200"]["content"]
    assert set(doc["components"]["schemas"]["Presentation"]["required"]) == {
        "token", "token_id", "credential_id", "issued_at", "expires_at", "expires_in", "qr_png_url"}


# -- from the terminal ---------------------------------------------------------------------------

async def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = await asyncio.to_thread(cli.main, list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


async def test_ecert_present_then_ecert_verify(capsys, http, keys, hotel_sh):
    url = str(http.make_url("")).rstrip("/")
    resident = await card(http, keys, "罗文博")
    rc, out, err = await run_cli(capsys, "present", resident["id"], "--purpose", "hotel_check_in",
                                 "--url", url, "--key", keys["agency_zj"])
    assert rc == 0, err
    token = next(line for line in out.splitlines() if line.startswith("EP1:"))
    assert "single use, valid 300 s" in out and "hotel_check_in" in out and "█" in out
    assert "罗文博" not in out

    rc, out, err = await run_cli(capsys, "verify", token, "--url", url, "--key", hotel_sh)
    assert rc == 0, err
    assert "VALID" in out and "罗文博" in out and "cn.resident_id" in out and "hotel_check_in" in out
    rc, out, err = await run_cli(capsys, "verify", token, "--url", url, "--key", hotel_sh)
    assert rc == 1 and "TOKEN_ALREADY_USED" in out

    rc, out, err = await run_cli(capsys, "present", resident["id"], "--json", "--no-qr", "--url", url,
                                 "--key", keys["agency_zj"])
    assert rc == 0, err
    answer = json.loads(out)
    assert answer["token"].startswith("EP1:") and answer["expires_in"] == 300 and "purpose" not in answer
    rc, out, err = await run_cli(capsys, "present", resident["id"], "--no-qr", "--url", url,
                                 "--key", keys["agency_zj"])
    assert rc == 0 and "█" not in out, err

    rc, out, err = await run_cli(capsys, "present", resident["id"], "--purpose", "sightseeing", "--url", url,
                                 "--key", keys["agency_zj"])
    assert rc == 2 and "PURPOSE_UNKNOWN:" in err and out == ""  # the request judged wrong: a usage mistake
    rc, out, err = await run_cli(capsys, "present", resident["id"], "--url", url, "--key", keys["hotel"])
    assert rc == 3 and "FORBIDDEN:" in err
    rc, out, err = await run_cli(capsys, "present", "NOSUCHCREDENTIAL", "--url", url, "--key", keys["agency_zj"])
    assert rc == 2 and "NOT_FOUND:" in err


async def test_a_driving_licence_code_checked_at_the_roadside(http, keys):
    """The police's own purpose: the licence's code, drawn and read back from the picture."""
    r = await http.post("/v1/credentials", headers=bearer(keys["agency_zj"]), json={
        "region": "CN-ZJ", "type": "cn.driving_licence", "fields": driving_licence(name="曹文静")})
    assert r.status == 201
    licence = await r.json()
    code = await show(http, keys["agency_zj"], licence["id"], {"purpose": "roadside_driver_check"})
    png = await (await http.get(code["qr_png_url"], headers=bearer(keys["agency_zj"]))).read()
    form = {"image": io.BytesIO(png)}
    r = await http.post("/v1/verifications", headers=bearer(keys["police"]), data=form)
    answer = await r.json()
    assert r.status == 200 and answer["result"] == "VALID" and answer["fields"]["licence_class"] == "C1"
    assert answer["purpose"] == "roadside_driver_check"


async def access_log(http, key: str, cred_id: str) -> list[tuple[str, str, str]]:
    r = await http.get(f"/v1/credentials/{cred_id}/access-log", headers=bearer(key))
    assert r.status == 200, await r.text()
    return [(e["action"], e["purpose"], e["result"]) for e in (await r.json())["entries"]]


async def test_the_region_judges_a_code_by_the_recognition_rules_and_records_what_it_answered(
        http, keys, hotel_sh, suite, monkeypatch):
    """A hotel may not check a guest in on a driving licence: the region answers the show code
    NOT_ACCEPTED_FOR_PURPOSE (who it names, no more), and its access log says the same; so it does
    when the verifier's trust list does not know the type's version (a newer one published
    moments ago): the verifier never judges a region's answer again, and never lets it through."""
    r = await http.post("/v1/credentials", headers=bearer(keys["agency_zj"]), json={
        "region": "CN-ZJ", "type": "cn.driving_licence", "fields": driving_licence(name="邱雨桐")})
    assert r.status == 201
    licence = await r.json()
    for known in (True, False):
        if not known:
            monkeypatch.delitem(suite.verifier.cache.trust.types, ("cn.driving_licence", licence["version"]))
        code = await show(http, keys["agency_zj"], licence["id"])  # limited to no purpose
        answer = await verify(http, hotel_sh, code["token"])
        assert answer["result"] == "NOT_ACCEPTED_FOR_PURPOSE" and answer["purpose"] == "hotel_check_in", known
        assert answer["detail"] == "cn.driving_licence is not accepted for hotel_check_in"
        assert answer["fields"] == {"name": "邱雨桐"}
    assert (await access_log(http, keys["agency_zj"], licence["id"]))[1:] == [
        ("present", "", ""), ("resolve", "hotel_check_in", "NOT_ACCEPTED_FOR_PURPOSE")] * 2
