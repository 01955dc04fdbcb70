"""Every route answers hostile requests with a 4xx and the error body, never a 500."""

from __future__ import annotations

import pytest

from tests.conftest import bearer

pytestmark = pytest.mark.asyncio(loop_scope="session")

ROUTES = [
    ("POST", "/v1/regions"), ("POST", "/v1/regions/CN-SH/keys"), ("POST", "/v1/regions/CN-SH/keys/00:revoke"),
    ("POST", "/v1/regions/XX-!!/keys"), ("POST", "/v1/certificate-types"), ("POST", "/v1/credentials"),
    ("GET", "/v1/credentials/%00%ff"), ("GET", "/v1/credentials/" + "A" * 26 + "/qr.png"),
    ("POST", "/v1/credentials/" + "A" * 26 + ":revoke"), ("POST", "/v1/verifications"),
    ("POST", "/v1/verifications:batch"),
]
WEIRD = [None, True, -1, 2**70, -(2**70), 1.5e308, "", "x" * 5000, "\u0000", [], [1, [2]], {}, {"a": {"b": {}}}]
FIELDS = ["code", "name", "alg", "spki", "nbf", "exp", "id", "version", "schema", "disclosure", "region", "type",
          "fields", "valid_days", "request_id", "payload", "payloads", "purpose"]


async def test_hostile_bodies_never_500(http, keys):
    h = bearer(keys["admin"])
    for method, path in ROUTES:
        bodies = [b"", b"null", b"[]", b"\xff\xfe", b'{"a":' * 2000, b"1e999999"]
        bodies += [f'{{"{f}": {v}}}'.encode() for f in FIELDS for v in ("null", "true", "-1", str(2**70), '"x"',
                                                                       "[]", "{}", '"\\u0000"')]
        for body in bodies:
            r = await http.request(method, path, data=body, headers={**h, "Content-Type": "application/json"})
            assert r.status < 500, (method, path, body[:60], r.status, await r.text())
            if r.status >= 400:
                error = (await r.json())["error"]  # "fields" (the members to blame) is an extension
                assert {"code", "message", "request_id"} <= set(error) <= {"code", "message", "request_id", "fields"}
        for value in WEIRD:
            payload = {f: value for f in FIELDS}
            r = await http.request(method, path, json=payload, headers=h)
            assert r.status < 500, (method, path, value, r.status, await r.text())
