"""Issue 12, the photo library end to end through the gateway: an agency files a portrait once, a
credential names it or reuses the one on file, and a Shanghai hotel is shown a Zhejiang holder's
portrait, fetched from Zhejiang through the suite and checked against its digest: by the digest
alone, as the shared contract has it (every region asked), or for a named credential and region."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import io
import logging

import pytest
from aiohttp import ClientTimeout
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image

from ecert.imaging import portrait
from ecert.limits import MAX_PHOTO_BYTES
from gateway.app import create_app
from gateway.keys import BACKENDS
from services.issuer import photos as library
from services.issuer.photos import id_hash
from testkit import photos
from testkit.samples import SAMPLES, driving_licence
from tests.conftest import bearer

pytestmark = pytest.mark.asyncio(loop_scope="session")

ID = "cn.resident_id"
HOLDER = {**SAMPLES[ID], "name": "沈嘉怡", "sex": "女", "birth_date": "1988-05-12", "id_number": "33010619880512442X",
          "address": "浙江省杭州市西湖区文三路100号", "issuing_authority": "杭州市公安局西湖分局"}


async def upload(http, key: str, data: bytes, *, content_type: str = "image/jpeg", region: str | None = None,
                 status: int = 201) -> dict:
    r = await http.post("/v1/photos", data=data, params={"region": region} if region else None,
                        headers={**bearer(key), "Content-Type": content_type})
    body = await r.json()
    assert r.status == status, body
    return body


async def issue(http, key: str, fields: dict, type_id: str = ID, region: str = "CN-ZJ", status: int = 201) -> dict:
    r = await http.post("/v1/credentials", headers=bearer(key), json={"region": region, "type": type_id,
                                                                       "fields": fields})
    body = await r.json()
    assert r.status == status, body
    return body


async def fetch(http, key: str, digest: str, cred: dict | None, **headers):
    """``GET /v1/photos/{digest}``, for the credential ``cred`` and its region (None: the digest alone)."""
    params = {"credential": cred["id"], "region": cred["region"]} if cred else None
    return await http.get(f"/v1/photos/{digest}", params=params, headers={**bearer(key), **headers})


@pytest.fixture(scope="module")
async def sh_hotel(suite):
    """A hotel in Shanghai (its key bound to CN-SH)."""
    return await suite.api_key("hotel", "CN-SH")


@pytest.fixture(scope="module")
async def filed(http, keys):
    """A Zhejiang resident's portrait (taken on a phone: with GPS EXIF), filed in Zhejiang's library,
    and her resident ID card naming it."""
    answer = await upload(http, keys["agency_zj"], photos.portrait(101, gps=True, icc=True))
    card = await issue(http, keys["agency_zj"], {**HOLDER, "photo": answer["digest"]})
    return answer, card


# -- uploads --------------------------------------------------------------------------------------

async def test_an_upload_answers_its_digest_and_the_same_picture_is_stored_once(http, keys, suite):
    sent = photos.portrait(102, gps=True)
    first = await upload(http, keys["agency_zj"], sent)
    assert first == {"digest": first["digest"], "region": "CN-ZJ", "media_type": "image/jpeg", "width": 358,
                     "height": 441}
    again = await upload(http, keys["agency_zj"], sent, status=200)  # the same picture: kept once
    assert again["digest"] == first["digest"]
    png = await upload(http, keys["admin"], photos.portrait(102, kind="png"), content_type="image/png",
                       region="CN-ZJ")  # a PNG is kept as a JPEG too
    assert png["media_type"] == "image/jpeg" and png["digest"] != first["digest"]  # other pixels: JPEG's are lossy
    held = await suite.store.get_photo("CN-ZJ", first["digest"])
    assert hashlib.sha256(held["bytes"]).hexdigest() == first["digest"]
    assert await suite.store.get_photo("CN-SH", first["digest"]) is None  # filed in Zhejiang only


async def test_an_upload_is_judged_by_its_bytes_whatever_image_type_it_is_declared_as(http, keys):
    """JPEG or PNG bytes sent as application/octet-stream (or as the other image type) are filed; a
    declared type that is no picture's is 415 before the body is read."""
    first = await upload(http, keys["agency_zj"], photos.portrait(112), content_type="application/octet-stream")
    assert first["media_type"] == "image/jpeg" and len(first["digest"]) == 64
    png = await upload(http, keys["agency_zj"], photos.portrait(112, kind="png"), content_type="image/jpeg")
    assert png["digest"] != first["digest"]
    r = await http.post("/v1/photos", data=photos.portrait(113), headers={**bearer(keys["agency_zj"]),
                                                                          "Content-Type": "text/plain"})
    body = await r.json()
    assert r.status == 415 and body["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE", body
    assert "application/octet-stream" in body["error"]["message"]


async def test_an_upload_over_the_waiting_bound_is_busy(http, keys, monkeypatch):
    """An issuer holding MAX_PHOTO_UPLOADS_WAITING uploads (one, here) answers the next 503 BUSY."""
    monkeypatch.setattr(library, "MAX_PHOTO_UPLOADS_WAITING", 1)
    held = photos.HeldReencoding(monkeypatch)
    first = asyncio.create_task(upload(http, keys["agency_zj"], photos.portrait(114)))
    try:
        assert await asyncio.to_thread(held.entered.wait, 10)
        r = await http.post("/v1/photos", data=photos.portrait(115), headers={**bearer(keys["agency_zj"]),
                                                                              "Content-Type": "image/jpeg"})
        body = await r.json()
        assert r.status == 503 and body["error"]["code"] == "BUSY", body
    finally:
        held.release()
    assert len((await first)["digest"]) == 64  # 201
    await upload(http, keys["agency_zj"], photos.portrait(115))  # taken again


async def test_an_admin_files_for_a_named_region_and_an_agency_only_for_its_own(http, keys):
    sent = photos.portrait(103)
    assert (await upload(http, keys["admin"], sent, region="CN-SH"))["region"] == "CN-SH"
    r = await http.post("/v1/photos", data=sent, headers={**bearer(keys["admin"]), "Content-Type": "image/jpeg"})
    assert r.status == 400 and (await r.json())["error"]["fields"] == ["region"]
    r = await http.post("/v1/photos", data=sent, params={"region": "CN-SH"},
                        headers={**bearer(keys["agency_zj"]), "Content-Type": "image/jpeg"})
    assert r.status == 403
    for role in ("hotel", "police", "integrator"):
        r = await http.post("/v1/photos", data=sent, headers={**bearer(keys[role]), "Content-Type": "image/jpeg"})
        assert r.status == 403, role
    r = await http.post("/v1/photos", data=sent, params={"region": "CN-XX"},
                        headers={**bearer(keys["admin"]), "Content-Type": "image/jpeg"})
    assert r.status == 404 and (await r.json())["error"]["code"] == "REGION_UNKNOWN"


@pytest.mark.parametrize("data, content_type, status, code", [
    (b"plain text, no picture", "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE"),
    (b"plain text, no picture", "image/jpeg", 415, "UNSUPPORTED_MEDIA_TYPE"),
    (b"GIF89a" + bytes(64), "image/png", 415, "UNSUPPORTED_MEDIA_TYPE"),
    (b"", "image/jpeg", 400, "INVALID_REQUEST"),
    ("bomb", "image/png", 413, "PAYLOAD_TOO_LARGE"),
    ("huge", "image/jpeg", 413, "PAYLOAD_TOO_LARGE"),
    ("landscape", "image/jpeg", 422, "PHOTO_NOT_PORTRAIT"),
    ("tiny", "image/jpeg", 422, "PHOTO_TOO_SMALL"),
    ("truncated", "image/jpeg", 400, "IMAGE_CORRUPT"),
])
async def test_what_is_no_portrait_is_refused_with_its_code(http, keys, data, content_type, status, code):
    from tests.test_photos_portrait import _png_header
    data = {"bomb": _png_header(30_000, 30_000), "huge": b"\xff\xd8\xff" + bytes(MAX_PHOTO_BYTES),
            "landscape": photos.portrait(104, size=(640, 480)), "tiny": photos.portrait(104, size=(60, 80)),
            "truncated": photos.portrait(104)[:900]}.get(data, data)
    r = await http.post("/v1/photos", data=data, headers={**bearer(keys["agency_zj"]), "Content-Type": content_type})
    body = await r.json()
    assert (r.status, body["error"]["code"]) == (status, code), body


# -- issuance -------------------------------------------------------------------------------------

async def test_a_credential_naming_a_photo_its_region_does_not_hold_is_refused(http, keys):
    unknown = hashlib.sha256(b"a picture nobody filed").hexdigest()
    body = await issue(http, keys["agency_zj"], {**HOLDER, "photo": unknown}, status=422)
    assert body["error"]["code"] == "PHOTO_UNKNOWN" and body["error"]["fields"] == ["photo"]
    shanghai = await upload(http, keys["agency_sh"], photos.portrait(105))  # held in Shanghai only
    body = await issue(http, keys["agency_zj"], {**HOLDER, "photo": shanghai["digest"]}, status=422)
    assert body["error"]["code"] == "PHOTO_UNKNOWN"


async def test_a_second_document_reuses_the_portrait_on_file(http, keys, suite):
    person = {**HOLDER, "name": "郑雨萱", "birth_date": "1995-01-01", "id_number": "330102199501010027"}
    answer = await upload(http, keys["agency_zj"], photos.portrait(111))
    card = await issue(http, keys["agency_zj"], {**person, "photo": answer["digest"]})
    licence = await issue(http, keys["agency_zj"], driving_licence(
        name=person["name"], sex="女", birth_date="1995-01-01", id_number=person["id_number"],
        first_issue_date="2015-05-20", photo={"reuse_for": person["id_number"]}), type_id="cn.driving_licence")
    assert licence["fields"]["photo"] == answer["digest"] == card["fields"]["photo"]
    nobody = "330102197707070018"  # no credential with a photo was ever issued for this number
    body = await issue(http, keys["agency_zj"], {**HOLDER, "id_number": nobody, "birth_date": "1977-07-07",
                                                 "sex": "男", "photo": {"reuse_for": nobody}}, status=422)
    assert body["error"]["code"] == "PHOTO_NOT_ON_FILE" and body["error"]["fields"] == ["photo"]
    body = await issue(http, keys["agency_sh"], {**person, "photo": {"reuse_for": person["id_number"]}},
                       region="CN-SH", status=422)  # Shanghai has no portrait of this Zhejiang resident
    assert body["error"]["code"] == "PHOTO_NOT_ON_FILE"
    owner = await suite.store.get_photo_owner("CN-ZJ", id_hash(person["id_number"]))
    assert owner["digest"] == answer["digest"] and owner["credential_id"] == licence["id"]
    assert person["id_number"] not in str(owner)
    log = await access_log(http, keys["agency_zj"], licence["id"])
    assert "photo_reuse" in [e["action"] for e in log]


# -- serving --------------------------------------------------------------------------------------

async def test_a_shanghai_hotel_is_shown_a_zhejiang_holders_portrait(http, keys, filed, sh_hotel):
    answer, card = filed
    r = await http.post("/v1/verifications", headers=bearer(sh_hotel), json={"payload": card["qr_text"]})
    verified = await r.json()
    assert verified["result"] == "VALID" and verified["fields"]["photo"] == answer["digest"]
    r = await fetch(http, sh_hotel, verified["fields"]["photo"], verified["credential"])
    data = await r.read()
    assert r.status == 200 and r.content_type == "image/jpeg"
    assert hashlib.sha256(data).hexdigest() == answer["digest"]
    assert r.headers["ETag"] == f'"{answer["digest"]}"'
    assert r.headers["Cache-Control"] == "private, max-age=86400, immutable"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    shown = Image.open(io.BytesIO(data))
    assert shown.size == (358, 441) and len(shown.getexif()) == 0 and "icc_profile" not in shown.info
    assert b"ExampleCam" not in data  # the phone's make, its GPS block: gone
    # the client holds it: 304, no body, the same headers
    r = await fetch(http, sh_hotel, answer["digest"], card, **{"If-None-Match": f'W/"x", "{answer["digest"]}"'})
    assert r.status == 304 and await r.read() == b"" and r.headers["ETag"] == f'"{answer["digest"]}"'
    log = await access_log(http, keys["agency_zj"], card["id"])
    seen = [e for e in log if e["action"] == "photo_access"]
    assert [(e["actor_role"], e["purpose"], e["actor_region"]) for e in seen[-2:]] == [
        ("hotel", "hotel_check_in", "CN-SH")] * 2
    assert [e["result"] for e in seen[-2:]] == ["served", "not_modified"]


async def test_the_portrait_is_served_only_to_the_roles_shown_it(http, keys, filed):
    answer, card = filed
    for role in ("hotel", "police", "agency_zj", "admin"):
        assert (await fetch(http, keys[role], answer["digest"], card)).status == 200, role
    for role in ("integrator", "agency_sh"):  # integrators see no photo; cn.resident_id names no role for other agencies
        r = await fetch(http, keys[role], answer["digest"], card)
        assert r.status == 403 and (await r.json())["error"]["code"] == "FORBIDDEN", role


async def test_a_licence_portrait_is_shown_to_another_regions_agency_as_its_type_says(http, keys, filed):
    answer, _ = filed
    licence = await issue(http, keys["agency_zj"], driving_licence(photo=answer["digest"]), type_id="cn.driving_licence")
    # cn.driving_licence: another region's agency reads as traffic police, who are shown the photo
    assert (await fetch(http, keys["agency_sh"], answer["digest"], licence)).status == 200


async def test_a_photo_is_served_only_for_the_credential_that_names_it(http, keys, filed):
    answer, card = filed
    other = await upload(http, keys["agency_zj"], photos.portrait(106))
    hotel = keys["hotel"]
    r = await fetch(http, hotel, other["digest"], card)  # filed, but this card names another
    assert r.status == 404
    r = await fetch(http, hotel, answer["digest"], {**card, "region": "CN-SH"})  # asked of the wrong region
    assert r.status == 404
    r = await fetch(http, hotel, answer["digest"], {**card, "id": "A" * 26})
    assert r.status == 404
    r = await fetch(http, hotel, "xyz", card)
    assert r.status == 400 and (await r.json())["error"]["fields"] == ["digest"]
    r = await http.get(f"/v1/photos/{other['digest']}", headers=bearer(hotel), params={"credential": card["id"]})
    assert r.status == 404  # every region asked: none holds this credential naming that photo
    r = await http.get(f"/v1/photos/{answer['digest']}", headers=bearer(hotel), params={"region": "CN-SH"})
    assert r.status == 404  # Shanghai issued nothing naming it
    r = await http.get(f"/v1/photos/{answer['digest']}", params={"credential": card["id"], "region": "CN-ZJ"})
    assert r.status == 401
    r = await http.get(f"/v1/photos/{answer['digest']}", headers=bearer(hotel),
                       params={"credential": card["id"], "region": "CN-ZJ", "purpose": "roadside_driver_check"})
    assert r.status == 403 and (await r.json())["error"]["code"] == "PURPOSE_NOT_ALLOWED"


async def test_a_shanghai_hotel_fetches_a_zhejiang_holders_portrait_by_its_digest_alone(http, keys, sh_hotel):
    """No query parameters, as the shared contract has it: every region is asked, Zhejiang serves the
    photo for its newest credential naming it that shows it to a hotel, and that credential's trail
    records the access."""
    answer = await upload(http, keys["agency_zj"], photos.portrait(116))
    card = await issue(http, keys["agency_zj"], {**HOLDER, "photo": answer["digest"]})
    r = await fetch(http, sh_hotel, answer["digest"], None)
    data = await r.read()
    assert r.status == 200 and r.content_type == "image/jpeg"
    assert hashlib.sha256(data).hexdigest() == answer["digest"] and r.headers["ETag"] == f'"{answer["digest"]}"'
    r = await fetch(http, sh_hotel, answer["digest"].upper(), None, **{"If-None-Match": f'"{answer["digest"]}"'})
    assert r.status == 304
    for params in ({"region": "CN-ZJ"}, {"credential": card["id"]}):  # either one alone is enough too
        r = await http.get(f"/v1/photos/{answer['digest']}", params=params, headers=bearer(sh_hotel))
        assert r.status == 200 and hashlib.sha256(await r.read()).hexdigest() == answer["digest"], params
    seen = [e for e in await access_log(http, keys["agency_zj"], card["id"]) if e["action"] == "photo_access"]
    assert [(e["actor_role"], e["actor_region"], e["purpose"], e["result"]) for e in seen] == [
        ("hotel", "CN-SH", "hotel_check_in", "served"), ("hotel", "CN-SH", "hotel_check_in", "not_modified"),
        ("hotel", "CN-SH", "hotel_check_in", "served"), ("hotel", "CN-SH", "hotel_check_in", "served")]


async def test_a_photo_by_its_digest_alone_is_403_to_a_role_not_shown_it_and_404_unknown(http, keys):
    answer = await upload(http, keys["agency_zj"], photos.portrait(117))
    card = await issue(http, keys["agency_zj"], {**HOLDER, "photo": answer["digest"]})
    for role in ("integrator", "agency_sh"):  # Shanghai's issuer: not found; Zhejiang's: not shown
        r = await fetch(http, keys[role], answer["digest"], None)
        assert r.status == 403 and (await r.json())["error"]["code"] == "FORBIDDEN", role
    unknown = hashlib.sha256(b"a picture no credential names").hexdigest()
    r = await fetch(http, keys["hotel"], unknown, None)
    body = await r.json()
    assert r.status == 404 and body["error"]["code"] == "NOT_FOUND" and body["error"]["fields"] == ["digest"]
    assert "photo_access" not in [e["action"] for e in await access_log(http, keys["agency_zj"], card["id"])]


async def test_a_region_that_does_not_answer_delays_no_photo_another_region_serves(suite, keys, paused, sh_hotel):
    """The directory names a region whose issuer never answers: a photo Zhejiang serves is served
    (nothing waits on it), and one nobody serves is 503 naming that region, within the deadline."""
    cfg = dataclasses.replace(suite.gateway_config, backend_timeout=0.4, bulk_timeout=0.4)
    http = TestClient(TestServer(create_app(cfg, store=suite.store)), timeout=ClientTimeout(total=6))
    await http.start_server()
    try:
        answer = await upload(http, keys["agency_zj"], photos.portrait(118))
        await issue(http, keys["agency_zj"], {**HOLDER, "photo": answer["digest"]})
        be = http.server.app[BACKENDS]
        be.directory.seed({"CN-AA": paused, **await be.directory.get()})
        be.directory.fetched_at = None
        be.directory._next = float("inf")  # the seeded copy stays while the test runs
        r = await fetch(http, sh_hotel, answer["digest"], None)
        assert r.status == 200 and hashlib.sha256(await r.read()).hexdigest() == answer["digest"]
        r = await fetch(http, sh_hotel, hashlib.sha256(b"nobody's").hexdigest(), None)
        error = (await r.json())["error"]
        assert r.status == 503 and error["code"] == "REGION_UNAVAILABLE", error
        assert error["message"] == "the issuer of CN-AA did not answer in time", error
    finally:
        await http.close()


async def test_bytes_that_do_not_match_the_digest_are_never_served(http, keys, suite):
    answer = await upload(http, keys["agency_zj"], photos.portrait(107))
    card = await issue(http, keys["agency_zj"], {**HOLDER, "photo": answer["digest"]})
    swapped = portrait.reencode(photos.portrait(108)).data  # someone changed the library's bytes
    await suite.store.backend.update("photos", f"CN-ZJ:{answer['digest']}",
                                     {"bytes": base64.b64encode(swapped).decode()})
    for cred in (card, None):  # asked of Zhejiang, or of every region (none other serving it)
        r = await fetch(http, keys["hotel"], answer["digest"], cred)
        body = await r.json()
        assert r.status == 503 and body["error"]["code"] == "PHOTO_MISMATCH" and r.content_type == "application/json"


async def test_the_api_document_describes_the_photo_routes(http):
    doc = await (await http.get("/openapi.json")).json()
    upload_op = doc["paths"]["/v1/photos"]["post"]
    assert {"image/jpeg", "image/png"} <= set(upload_op["requestBody"]["content"])
    assert {"200", "201", "413", "415", "422"} <= set(upload_op["responses"])
    get_op = doc["paths"]["/v1/photos/{digest}"]["get"]
    assert {"200", "304", "403", "404"} <= set(get_op["responses"])
    assert {p["name"] for p in get_op["parameters"]} == {"digest", "credential", "region", "purpose", "If-None-Match"}


async def test_nothing_personal_reaches_the_logs(http, keys, caplog, sh_hotel):
    caplog.set_level(logging.DEBUG)
    answer = await upload(http, keys["agency_zj"], photos.portrait(109, gps=True))
    person = {**HOLDER, "name": "欧阳明月", "photo": answer["digest"]}
    card = await issue(http, keys["agency_zj"], person)
    await issue(http, keys["agency_zj"], {**person, "photo": {"reuse_for": HOLDER["id_number"]}})
    assert (await fetch(http, sh_hotel, answer["digest"], card)).status == 200
    text = caplog.text
    assert "欧阳明月" not in text and HOLDER["id_number"] not in text and answer["digest"] not in text


async def access_log(http, key: str, cred_id: str) -> list[dict]:
    """The holder's access log (the trail's route), oldest first."""
    r = await http.get(f"/v1/credentials/{cred_id}/access-log", headers=bearer(key), params={"limit": 500})
    body = await r.json()
    assert r.status == 200, body
    return body["entries"]


# -- the CLI --------------------------------------------------------------------------------------

async def test_ecert_photo_upload_then_issue_then_get(capsys, http, keys, tmp_path, sh_hotel):
    from tests.test_cli import run_cli
    url = str(http.make_url("")).rstrip("/")
    picture = tmp_path / "portrait.png"
    picture.write_bytes(photos.portrait(110, kind="png", text="taken 2026-11-20"))
    rc, out, err = await run_cli(capsys, "photo", "upload", str(picture), "--url", url, "--key", keys["agency_zj"])
    assert rc == 0, err
    digest = out.splitlines()[-1]
    assert "filed in CN-ZJ" in out and len(digest) == 64
    rc, out, _ = await run_cli(capsys, "photo", "upload", str(picture), "--url", url, "--key", keys["agency_zj"])
    assert rc == 0 and "already in the library" in out and out.splitlines()[-1] == digest
    card = await issue(http, keys["agency_zj"], {**HOLDER, "photo": digest})
    saved = tmp_path / "out" / "photo.jpg"
    rc, out, err = await run_cli(capsys, "photo", "get", digest, "--credential", card["id"], "--region", "CN-ZJ",
                                 "--out", str(saved), "--url", url, "--key", sh_hotel)
    assert rc == 0, err
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == digest and (saved.stat().st_mode & 0o777) == 0o600
    rc, _, err = await run_cli(capsys, "photo", "get", digest, "--credential", card["id"], "--region", "CN-ZJ",
                               "--out", str(tmp_path / "no.jpg"), "--url", url, "--key", keys["integrator"])
    assert rc == 3 and "FORBIDDEN" in err and not (tmp_path / "no.jpg").exists()  # could not ask: not allowed
    text = tmp_path / "notes.txt"
    text.write_text("not a picture")
    rc, _, err = await run_cli(capsys, "photo", "upload", str(text), "--url", url, "--key", keys["agency_zj"])
    assert rc == 2 and "not a JPEG or PNG" in err
    rc, _, err = await run_cli(capsys, "photo", "upload", str(picture), "--url", url, "--key", keys["hotel"])
    assert rc == 3 and "FORBIDDEN" in err
