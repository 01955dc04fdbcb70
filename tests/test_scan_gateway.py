"""Issue 4 through the gateway: pictures in (multipart), QR codes out (PNG, SVG), the scanner page."""

from __future__ import annotations

import hashlib
import io
import json
import random
import re

import pytest
from aiohttp import FormData
from PIL import Image

from ecert.errors import Outcome
from ecert.imaging import qr, scan
from gateway.routes.scanner import STATIC_DIR
from testkit import photos
from testkit.samples import driving_licence
from tests.conftest import bearer
from tests.test_scan import png_claiming

pytestmark = pytest.mark.asyncio(loop_scope="session")

SHOT = photos.Shot(ppm=2.6, angle=23, slant=0.05, blur=0.5, noise=5, light=0.3, quality=75)


async def issue(http, key, **overrides):
    r = await http.post("/v1/credentials", headers=bearer(key), json={
        "region": "CN-ZJ", "type": "cn.driving_licence", "fields": driving_licence(**overrides)})
    body = await r.json()
    assert r.status == 201, body
    return body


def form(image: bytes, purpose: str | None = None, filename: str = "photo.jpg",
         content_type: str = "image/jpeg") -> FormData:
    f = FormData()
    f.add_field("image", image, filename=filename, content_type=content_type)
    if purpose is not None:
        f.add_field("purpose", purpose)
    return f


async def post_picture(http, key, image: bytes, status: int = 200, **kw):
    r = await http.post("/v1/verifications", data=form(image, **kw), headers=bearer(key))
    body = await r.json()
    assert r.status == status, body
    return body


async def test_photo_of_a_licence_is_valid_with_the_holders_name(http, keys):
    cred = await issue(http, keys["agency_zj"], name="赵小燕")
    picture = photos.photo([cred["qr_text"]], random.Random(1), SHOT)
    body = await post_picture(http, keys["hotel"], picture, purpose="hotel_check_in")
    assert body["result"] == "NOT_ACCEPTED_FOR_PURPOSE" and body["purpose"] == "hotel_check_in"
    assert body["fields"] == {"name": "赵小燕"}  # a driving licence is no check-in document: who it names, only
    assert body["credential"]["id"] == cred["id"] and body["status_checked"] is True
    assert body["code_sha256"] == hashlib.sha256(cred["qr_text"].encode()).hexdigest()
    # The spec's shape at the top level, and every code in "results".
    assert len(body["results"]) == 1
    assert {k: v for k, v in body.items() if k != "results"} == body["results"][0]
    police = await post_picture(http, keys["police"], picture, purpose="roadside_driver_check")
    assert police["result"] == "VALID" and "points" in police["fields"] and police["fields"]["name"] == "赵小燕"


async def test_two_codes_in_one_picture_are_answered_each_in_reading_order(http, keys, suite):
    left = await issue(http, keys["agency_zj"], name="钱多多")
    right = await issue(http, keys["agency_zj"], name="孙悟净")
    r = await http.post(f"/v1/credentials/{right['id']}:revoke", headers=bearer(keys["agency_zj"]))
    assert r.status == 200
    await suite.refresh()
    picture = photos.photo([left["qr_text"], right["qr_text"]], random.Random(2),
                           photos.Shot(ppm=3.0, angle=4, slant=0.04, blur=0.4, noise=4, quality=80))
    body = await post_picture(http, keys["police"], picture)
    assert [x["result"] for x in body["results"]] == ["VALID", "REVOKED"]
    assert [x["credential"]["id"] for x in body["results"]] == [left["id"], right["id"]]
    assert body["results"][0]["fields"]["name"] == "钱多多"
    assert body["results"][1]["fields"]["name"] == "孙悟净"  # revoked, but the officer learns who it names
    assert body["result"] == "VALID" and body["credential"]["id"] == left["id"]


async def test_a_picture_without_a_code_is_no_code_found(http, keys):
    desk = photos._desk((640, 480), random.Random(3)).convert("RGB")
    buf = io.BytesIO()
    desk.save(buf, "WEBP", quality=80)
    body = await post_picture(http, keys["integrator"], buf.getvalue(), filename="desk.webp",
                              content_type="image/webp")
    assert body["result"] == Outcome.NO_CODE_FOUND.value
    assert body["credential"] is None and body["fields"] == {}
    assert [x["result"] for x in body["results"]] == ["NO_CODE_FOUND"]
    assert body["trust_list_version"] >= 1


async def test_a_code_that_is_not_a_credential_is_verified_like_text(http, keys):
    body = await post_picture(http, keys["hotel"], qr.png("HELLO WORLD", scale=4), filename="x.png",
                              content_type="image/png")
    assert body["result"] == "PREFIX_UNKNOWN"


async def test_limits_and_bad_pictures_get_named_errors(http, keys):
    h = bearer(keys["hotel"])

    async def expect(data, status, code, headers=h):
        r = await http.post("/v1/verifications", data=data, headers=headers)
        body = await r.json()
        assert r.status == status and body["error"]["code"] == code, body
        assert {"code", "message", "request_id"} <= set(body["error"]) <= {"code", "message", "request_id", "fields"}

    big = b"\xff\xd8\xff" + bytes(scan.MAX_BYTES)  # one byte over 10 MiB
    await expect(form(big), 413, "PAYLOAD_TOO_LARGE")
    await expect(form(png_claiming(100_000, 100_000), filename="bomb.png"), 413, "PAYLOAD_TOO_LARGE")
    await expect(form(png_claiming(9000, 9000), filename="big.png"), 413, "PAYLOAD_TOO_LARGE")
    await expect(form(b"guest list\nroom 101\n", filename="notes.txt", content_type="text/plain"), 415,
                 "UNSUPPORTED_MEDIA_TYPE")
    gif = io.BytesIO()
    Image.new("L", (40, 40), 255).save(gif, "GIF")
    await expect(form(gif.getvalue(), filename="a.gif", content_type="image/gif"), 415, "UNSUPPORTED_MEDIA_TYPE")
    jpeg = photos.photo(["EC1:ABC"], random.Random(4), SHOT)
    await expect(form(jpeg[: len(jpeg) // 3]), 400, "IMAGE_CORRUPT")
    await expect(form(jpeg, purpose="x" * 201), 400, "INVALID_REQUEST")
    await expect(form(jpeg, purpose="check-in"), 400, "PURPOSE_UNKNOWN")
    await expect(form(jpeg, purpose="roadside_vehicle_check"), 403, "PURPOSE_NOT_ALLOWED")  # not a hotel's
    only_purpose = FormData()
    only_purpose.add_field("purpose", "check-in")
    only_purpose.add_field("other", b"data", filename="other.bin")
    await expect(only_purpose, 400, "INVALID_REQUEST")
    await expect(form(jpeg), 401, "UNAUTHENTICATED", headers={})
    await expect(form(jpeg), 401, "UNAUTHENTICATED", headers=bearer("ek_wrong"))
    broken = {**h, "Content-Type": "multipart/form-data; boundary=zzz"}
    await expect(b"--zzz\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\nnot closed", 400,
                 "MALFORMED_MULTIPART", headers=broken)


async def test_bodies_are_bounded_without_content_length(http, keys):
    """Chunked bodies: JSON stops at 1 MiB, a multipart picture at 10 MiB (+ framing)."""
    h = bearer(keys["hotel"])

    async def chunks(total: int, first: bytes = b""):
        yield first
        sent = len(first)
        while sent < total:
            n = min(256 * 1024, total - sent)
            yield b"A" * n
            sent += n

    r = await http.post("/v1/verifications", data=chunks(2 * 1024 * 1024, b'{"payload": "'),
                        headers={**h, "Content-Type": "application/json"})
    assert r.status == 413 and (await r.json())["error"]["code"] == "PAYLOAD_TOO_LARGE"
    # JSON between 1 MiB and the multipart bound is still refused: only pictures may be large.
    r = await http.post("/v1/verifications", data=json.dumps({"payload": "A" * (3 * 1024 * 1024)}),
                        headers={**h, "Content-Type": "application/json"})
    assert r.status == 413
    head = b'--b1\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n\r\n\xff\xd8\xff'
    r = await http.post("/v1/verifications", data=chunks(scan.MAX_BYTES + 200 * 1024, head),
                        headers={**h, "Content-Type": "multipart/form-data; boundary=b1"})
    assert r.status == 413 and (await r.json())["error"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_qr_codes_as_png_and_svg_for_the_issuing_agency(http, keys):
    cred = await issue(http, keys["agency_zj"])
    png = await http.get(f"/v1/credentials/{cred['id']}/qr.png", headers=bearer(keys["agency_zj"]))
    assert png.status == 200 and png.content_type == "image/png"
    assert scan.decode_image(await png.read()) == [cred["qr_text"]]
    svg = await http.get(f"/v1/credentials/{cred['id']}/qr.svg", headers=bearer(keys["agency_zj"]))
    text = await svg.text()
    assert svg.status == 200 and svg.content_type == "image/svg+xml"
    assert "<svg" in text and "</svg>" in text
    again = await http.get(f"/v1/credentials/{cred['id']}/qr.svg", headers=bearer(keys["agency_zj"]))
    assert await again.text() == text
    assert text.encode() == qr.svg(cred["qr_text"])  # the credential's own code, drawn by ecert.imaging.qr
    for who, status in (("hotel", 403), ("agency_sh", 404)):
        r = await http.get(f"/v1/credentials/{cred['id']}/qr.svg", headers=bearer(keys[who]))
        assert r.status == status
    r = await http.get(f"/v1/credentials/{cred['id']}/qr.gif", headers=bearer(keys["agency_zj"]))
    assert r.status == 404


async def test_scanner_page_is_open_and_locked_down(http):
    r = await http.get("/scan")
    html = await r.text()
    assert r.status == 200 and r.content_type == "text/html"
    assert "/scan/scan.js" in html and 'id="code-input"' in html and 'type="file"' in html
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert "http" not in re.sub(r"https?://(json-schema\.org)", "", html)  # no outside resources
    for name, kind in (("scan.js", "application/javascript"), ("scan.css", "text/css")):
        r = await http.get(f"/scan/{name}")
        assert r.status == 200 and r.content_type == kind
        assert "//cdn" not in await r.text()
    r = await http.get("/scan/../app.py")
    assert r.status == 404
    r = await http.get("/scan/app.py")
    assert r.status == 404 and "error" in await r.json()


async def test_the_page_explains_every_outcome_code_in_chinese_and_english():
    js = (STATIC_DIR / "scan.js").read_text("utf-8")
    table = js[js.index("const REASONS"):js.index("};", js.index("const REASONS"))]
    for outcome in Outcome:
        m = re.search(rf"\b{outcome.value}: \[\"([^\"]+)\", \"([^\"]+)\"\]", table)
        assert m, f"{outcome.value} has no reason on the scanner page"
        zh, en = m.groups()
        assert re.search(r"[\u4e00-\u9fff]", zh) and re.fullmatch(r"[ -~]+", en)


async def test_openapi_describes_pictures_svg_and_the_page(http):
    doc = await (await http.get("/openapi.json")).json()
    op = doc["paths"]["/v1/verifications"]["post"]
    assert {"application/json", "multipart/form-data"} <= set(op["requestBody"]["content"])
    assert {"200", "400", "401", "413", "415"} <= set(op["responses"])
    kinds = next(p for p in doc["paths"]["/v1/credentials/{id}/qr.{kind}"]["get"]["parameters"] if p["name"] == "kind")
    assert "svg" in kinds["schema"]["enum"] and "/scan" in doc["paths"]
    assert doc["paths"]["/scan"]["get"]["security"] == []
    assert "results" in doc["components"]["schemas"]["Verification"]["properties"]


async def test_pictures_are_read_off_the_verifiers_event_loop(http, keys, monkeypatch):
    import threading

    threads = []
    real = scan.decode_image

    def spy(data, **kw):
        threads.append(threading.current_thread().name)
        return real(data, **kw)

    monkeypatch.setattr(scan, "decode_image", spy)
    await post_picture(http, keys["hotel"], qr.png("EC1:NOT-A-REAL-ONE", scale=3), filename="x.png",
                       content_type="image/png")
    assert threads and threads[0].startswith("ecert-scan") and threads[0] != threading.main_thread().name
