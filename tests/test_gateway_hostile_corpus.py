"""The hostile corpus of the gateway's HTTP half: each case with the answer it must get.

Lone surrogates in JSON strings (Python's JSON reader accepts ``"\\ud800"``; protobuf cannot
encode it), multipart part headers that aiohttp's parser refuses, instants outside RFC 3339's
years, a client that leaves mid-body. Every case was a 500 (or a traceback in the log) before.
"""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from aiohttp import web

from ecertpb.v1 import verifier_pb2
from gateway.answers import iso, verification_text
from gateway.app import create_app
from tests.conftest import bearer

pytestmark = pytest.mark.asyncio(loop_scope="session")

CRED = "A" * 26
LONE = "MALFORMED_JSON"

# (name, role, method, path, raw JSON body, expected status, expected code, the member the message names)
JSON_CASES = [
    ("payload lone high", "hotel", "POST", "/v1/verifications", rb'{"payload": "EC1:\ud800"}', 400, LONE, "payload"),
    ("payload lone low", "hotel", "POST", "/v1/verifications", rb'{"payload": "EC1:\uDC00x"}', 400, LONE, "payload"),
    ("payload reversed pair", "hotel", "POST", "/v1/verifications", rb'{"payload": "\udc00\ud800"}', 400, LONE,
     "payload"),
    ("purpose", "hotel", "POST", "/v1/verifications", rb'{"payload": "EC1:X", "purpose": "\udfff"}', 400, LONE,
     "purpose"),
    ("batch payloads", "police", "POST", "/v1/verifications:batch", rb'{"payloads": ["EC1:A", "EC1:\ud800"]}', 400,
     LONE, "payloads"),
    ("batch purpose", "police", "POST", "/v1/verifications:batch", rb'{"payloads": [], "purpose": "\ud800"}', 400,
     LONE, "purpose"),
    ("issuance fields", "agency_zj", "POST", "/v1/credentials",
     rb'{"region": "CN-ZJ", "type": "cn.driving_licence", "fields": {"name": "\ud800"}}', 400, LONE, "fields"),
    ("issuance fields nested", "agency_zj", "POST", "/v1/credentials",
     rb'{"region": "CN-ZJ", "type": "cn.driving_licence", "fields": {"a": [{"b": ["x", "\udbff"]}]}}', 400, LONE,
     "fields"),
    ("issuance field name", "agency_zj", "POST", "/v1/credentials",
     rb'{"region": "CN-ZJ", "type": "cn.driving_licence", "fields": {"\ud800": "x"}}', 400, LONE, "fields"),
    ("issuance type", "agency_zj", "POST", "/v1/credentials",
     rb'{"region": "CN-ZJ", "type": "\ud800", "fields": {}}', 400, LONE, "type"),
    ("issuance request_id", "agency_zj", "POST", "/v1/credentials",
     rb'{"region": "CN-ZJ", "type": "cn.driving_licence", "fields": {}, "request_id": "r-\ud800"}', 400, LONE,
     "request_id"),
    ("issuance region", "admin", "POST", "/v1/credentials", rb'{"region": "\ud800", "type": "t", "fields": {}}', 400,
     LONE, "region"),
    ("region name", "admin", "POST", "/v1/regions", rb'{"code": "CN-QX", "name": "\ud800"}', 400, LONE, "name"),
    ("key alg", "admin", "POST", "/v1/regions/CN-SH/keys", rb'{"alg": "\ud800", "spki": "AA=="}', 400, LONE, "alg"),
    ("type id", "admin", "POST", "/v1/certificate-types", rb'{"id": "\ud800", "name": "x", "schema": {}}', 400, LONE,
     "id"),
    # the schema as JSON text whose own escape is a lone surrogate: the body is text, the schema is not
    # (the registry's schema check refuses it, as it would from any caller)
    ("type schema text", "admin", "POST", "/v1/certificate-types",
     rb'{"id": "cn.x", "name": "x", "schema": "{\"title\": \"\\ud800\"}"}', 400, "SCHEMA_MALFORMED", None),
    ("type disclosure", "admin", "POST", "/v1/certificate-types",
     rb'{"id": "cn.x", "name": "x", "schema": {}, "disclosure": {"hotel": ["\ud800"]}}', 400, LONE, "disclosure"),
    ("a member name", "hotel", "POST", "/v1/verifications", rb'{"payload": "EC1:X", "\ud800": 1}', 400, LONE, None),
    ("raw surrogate bytes", "hotel", "POST", "/v1/verifications", b'{"payload": "EC1:\xed\xa0\x80"}', 400, LONE, None),
    ("not UTF-8", "hotel", "POST", "/v1/verifications", b'{"payload": "EC1:\xff"}', 400, LONE, None),
    # not surrogates: must still be served
    ("escaped pair (an emoji)", "hotel", "POST", "/v1/verifications",
     rb'{"payload": "EC1:X\ud83d\ude00", "purpose": "hotel_check_in"}', 200, None, None),
    ("escaped backslash before u", "hotel", "POST", "/v1/verifications", rb'{"payload": "EC1:\\ud800"}', 200, None,
     None),
    ("a UTF-8 byte order mark", "hotel", "POST", "/v1/verifications", b'\xef\xbb\xbf{"payload": "EC1:X"}', 200, None,
     None),
]


@pytest.mark.parametrize("case", JSON_CASES, ids=[c[0] for c in JSON_CASES])
async def test_json_corpus(http, keys, case):
    name, role, method, path, body, status, code, member = case
    r = await http.request(method, path, data=body, headers={**bearer(keys[role]), "Content-Type": "application/json"})
    text = await r.text()
    assert r.status == status, (name, r.status, text)
    data = json.loads(text)
    if code is not None:
        assert data["error"]["code"] == code, (name, data)
        if member:
            assert data["error"]["message"].startswith(f"malformed JSON: {member} "), (name, data)
        assert "\\ud800" not in text.lower() or "\\\\ud800" in text.lower()  # the value itself is not echoed


async def test_a_lone_surrogate_in_the_path_or_a_header_is_a_4xx(http, keys):
    h = bearer(keys["admin"])
    cases = [
        ("POST", f"/v1/credentials/{CRED}:%ED%A0%80", h, 404, "NOT_FOUND"),
        ("GET", "/v1/credentials/%ED%A0%80", h, 404, "NOT_FOUND"),
        ("POST", "/v1/regions/%ED%A0%80/keys", h, 400, "INVALID_REQUEST"),
        ("POST", f"/v1/regions/CN-SH/keys/%ED%A0%80{'0' * 10}:revoke", h, 400, "INVALID_REQUEST"),
        ("GET", "/v1/regions", {"Authorization": "Bearer \xed\xa0\x80"}, 401, "UNAUTHENTICATED"),
    ]
    for method, path, headers, status, code in cases:
        r = await http.request(method, path, headers=headers)
        data = await r.json()
        assert (r.status, data["error"]["code"]) == (status, code), (path, data)


# -- multipart ----------------------------------------------------------------------------------

def _multipart(part_headers: bytes) -> bytes:
    return (b"--XX\r\nContent-Disposition: form-data; name=\"image\"\r\n" + part_headers +
            b"\r\n\r\n\x89PNG\r\n--XX--\r\n")


MULTIPART_CASES = [
    ("control byte in a header name", _multipart(b"Bad\x01Header: y")),
    ("control byte in a header value", _multipart(b"X-Note: a\x00b")),
    ("a header without a colon", _multipart(b"NoColonHere")),
    ("a header line starting with a space", _multipart(b" folded: x")),
    ("no part header at all", b"--XX\r\n\x01\x02\r\n\r\nabc\r\n--XX--\r\n"),
]


@pytest.mark.parametrize("body", [c[1] for c in MULTIPART_CASES], ids=[c[0] for c in MULTIPART_CASES])
async def test_multipart_part_headers_are_400_and_never_logged(http, keys, caplog, body):
    caplog.set_level(logging.DEBUG)
    r = await http.post("/v1/verifications", data=body, headers={
        **bearer(keys["hotel"]), "Content-Type": "multipart/form-data; boundary=XX"})
    data = await r.json()
    assert r.status == 400 and data["error"]["code"] in ("MALFORMED_MULTIPART", "INVALID_REQUEST"), data
    if b"\x01" in body or b"NoColon" in body:
        assert data["error"]["code"] == "MALFORMED_MULTIPART", data
    for record in caplog.records:  # neither the raw header nor its repr reaches the log
        text = record.getMessage() + (record.exc_text or "")
        assert "Bad" not in text and "NoColon" not in text and "\\x01" not in text and "\\x00" not in text, text
        assert record.levelno < logging.ERROR, text
    assert "Bad" not in data["error"]["message"] and "NoColon" not in data["error"]["message"]


# -- instants a signed credential may carry ---------------------------------------------------------

async def test_an_instant_outside_rfc3339s_years_is_null_never_a_500():
    assert iso(1_700_000_000) == "2023-11-14T22:13:20Z"
    assert iso(-1) == "1969-12-31T23:59:59Z"
    assert iso(-62_135_596_800) == "0001-01-01T00:00:00Z"  # the year in four digits
    for ts in (253_402_300_800, 2**62, 2**63 - 1, -(2**63), -62_135_596_801):  # year 10000 on, before year 1
        assert iso(ts) is None, ts
    r = verifier_pb2.VerifyResponse(result="EXPIRED", checked_at=1_700_000_000, credential=verifier_pb2.VerifiedCredential(
        id="X", type="t", version=1, region="CN-ZJ", issued_at=-(2**63), expires_at=2**63 - 1))
    answer = json.loads(verification_text(r))
    assert answer["credential"]["issued_at"] is None and answer["credential"]["expires_at"] is None
    assert answer["checked_at"] == "2023-11-14T22:13:20Z"


# -- a client that leaves mid-body --------------------------------------------------------------------

async def _counts(port: int) -> dict[tuple[str, str], float]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    text = (await asyncio.wait_for(reader.read(), 10)).decode()  # a bound, should the answer never end
    writer.close()
    counts = {}
    for line in text.splitlines():
        if line.startswith("ecert_http_requests_total{"):
            labels, value = line.rsplit(" ", 1)
            route = labels.split('route="')[1].split('"')[0]
            status = labels.split('status="')[1].split('"')[0]
            counts[route, status] = float(value)
    return counts


async def test_a_client_that_leaves_mid_body_is_counted_as_499_not_a_logged_500(suite, keys, caplog):
    # Served as in production (aiohttp.web.run_app: the handler is not cancelled when the client leaves).
    caplog.set_level(logging.DEBUG)
    runner = web.AppRunner(create_app(suite.gateway_config, store=suite.store), handler_cancellation=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        bodies = [("application/json", b'{"payload": "EC1:'),
                  ("multipart/form-data; boundary=XX", b'--XX\r\nContent-Disposition: form-data; name="image"\r\n\r\n')]
        for content_type, start in bodies:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(f"POST /v1/verifications HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {keys['hotel']}\r\n"
                         f"Content-Type: {content_type}\r\nContent-Length: 100000\r\n\r\n".encode() + start)
            await writer.drain()
            writer.close()
        for _ in range(400):  # until both are counted (a bound on the wait, not a timed assertion)
            counts = await _counts(port)
            if counts.get(("/v1/verifications", "499"), 0) >= 2:
                break
            await asyncio.sleep(0.025)
        assert counts.get(("/v1/verifications", "499")) == 2, counts
        assert not [k for k in counts if k[1] == "500"], counts
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]
    finally:
        await runner.cleanup()
