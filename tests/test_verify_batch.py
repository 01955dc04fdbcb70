"""Batch verification answers each payload as a single verification would, whether the verifier
answers it at once (trust list and fresh status list at hand) or has to ask the network first."""

from __future__ import annotations

import json

import pytest

from ecert.format.keys import SigningKey
from ecert.limits import MAX_PAYLOAD_CHARS
from ecert.rules.access import Principal
from ecertpb.v1 import common_pb2, verifier_pb2, verifier_pb2_grpc
from services.verifier import domain as verifier_domain
from services.verifier import servicer as verifier_servicer
from services.verifier.status import StatusCache
from testkit.samples import driving_licence
from tests import forge
from tests.conftest import bearer

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _issue(http, key, region="CN-ZJ") -> dict:
    r = await http.post("/v1/credentials", headers=bearer(key),
                        json={"region": region, "type": "cn.driving_licence", "fields": driving_licence()})
    data = await r.json()
    assert r.status == 201, data
    return data


async def _text(r, status=200) -> str:
    text = await r.text()
    assert r.status == status, text
    assert r.content_type == "application/json" and r.charset == "utf-8"
    # written as json.dumps(..., ensure_ascii=False) writes it, as the answers always were
    assert text == json.dumps(json.loads(text), ensure_ascii=False)
    return text


async def _single(http, key, payload) -> dict:
    return json.loads(await _text(await http.post("/v1/verifications", json={"payload": payload},
                                                  headers=bearer(key))))


async def _batch(http, key, payloads) -> list[dict]:
    r = await http.post("/v1/verifications:batch", json={"payloads": payloads}, headers=bearer(key))
    results = json.loads(await _text(r))["results"]
    assert len(results) == len(payloads)
    return results


def _same(a: dict, b: dict) -> None:
    """Equal answers, but for the instant each was checked at (a second may pass in between)."""
    a, b = dict(a), dict(b)
    assert isinstance(a.pop("checked_at"), str) and isinstance(b.pop("checked_at"), str)
    assert a == b


async def test_mixed_batch_answers_as_single_verifications(suite, http, keys, monkeypatch):
    valid = await _issue(http, keys["agency_zj"])
    revoked = await _issue(http, keys["agency_zj"])
    suspended = await _issue(http, keys["agency_zj"])
    shanghai = await _issue(http, keys["agency_sh"], "CN-SH")
    for cred, action in ((revoked, "revoke"), (suspended, "suspend")):
        r = await http.post(f"/v1/credentials/{cred['id']}:{action}", headers=bearer(keys["agency_zj"]))
        assert r.status == 200, await r.text()
    await suite.refresh()
    token = (await suite.issuers["CN-ZJ"].show(Principal("agency", "CN-ZJ"), valid["id"])).token
    other_token = (await suite.issuers["CN-ZJ"].show(Principal("agency", "CN-ZJ"), valid["id"])).token
    stranger = forge.sign(SigningKey.generate(), forge.claims("CN-ZJ"))
    payloads = [valid["qr_text"], revoked["qr_text"], suspended["qr_text"], shanghai["qr_text"], "nonsense",
                "EC1:abc~", "", forge.tamper_signature(valid["qr_text"]), stranger, stranger,
                "EC1:" + "A" * 4293, token, token, valid["qr_text"]]
    # No status list cached: the first payload of each region waits for its list, the rest are
    # answered at once; the first unknown kid may ask the registry, the second may not.
    cache = suite.verifier.cache
    empty = StatusCache(cache.upstream, None, trust=lambda: cache.trust, skew=cache.statuses.skew, now=cache.now)
    monkeypatch.setattr(cache, "statuses", empty)
    monkeypatch.setattr(cache, "status_list", empty.get)
    cache.lists.refreshed.attempted_at = None
    finished = []
    finish = suite.verifier.finish

    async def spy(p, payload, purpose, pending):
        finished.append(payloads.index(payload))
        return await finish(p, payload, purpose, pending)

    monkeypatch.setattr(suite.verifier, "finish", spy)
    results = await _batch(http, keys["police"], payloads)
    monkeypatch.undo()
    assert finished == [0, 3, 8, 11, 11]  # the rest were answered at once
    assert [x["result"] for x in results] == [
        "VALID", "REVOKED", "SUSPENDED", "VALID", "PREFIX_UNKNOWN", "BASE45_INVALID", results[6]["result"],
        "SIGNATURE_INVALID", "KID_UNKNOWN", "KID_UNKNOWN", "PAYLOAD_TOO_LARGE", "VALID", "TOKEN_ALREADY_USED",
        "VALID"]
    assert results[0]["fields"] and results[0]["status_checked"] is True and results[0]["credential"]["display_id"]
    for payload, got in zip(payloads, results):
        if payload == token:
            continue
        _same(got, await _single(http, keys["police"], payload))
    # tokens are single use: another token for the same credential, checked twice, answers alike
    _same(results[11], await _single(http, keys["police"], other_token))
    _same(results[12], await _single(http, keys["police"], other_token))
    # and each role sees its own fields, as in a single verification
    hotel = await _batch(http, keys["hotel"], [valid["qr_text"]])
    _same(hotel[0], await _single(http, keys["hotel"], valid["qr_text"]))
    assert hotel[0]["fields"] != results[0]["fields"]


async def test_batch_finds_a_key_registered_moments_ago(suite, http, keys):
    key = SigningKey.generate()
    r = await http.post("/v1/regions/CN-SH/keys", headers=bearer(keys["agency_sh"]),
                        json={"alg": "ES256", "spki": forge.spki_b64(key)})
    assert r.status in (200, 201), await r.text()
    text = forge.sign(key, forge.claims("CN-SH"))
    suite.verifier.cache.lists.refreshed.attempted_at = None  # the verifier has not looked for a newer trust list lately
    results = await _batch(http, keys["police"], [text, text])
    assert [x["result"] for x in results] == ["VALID", "VALID"]
    _same(results[0], await _single(http, keys["police"], text))


async def test_verifier_batch_equals_single_calls(suite, http, keys):
    cred = await _issue(http, keys["agency_zj"])
    payloads = [cred["qr_text"], "x" * (MAX_PAYLOAD_CHARS + 1), "HC1:", cred["qr_text"]]
    ch = suite.channel(suite.verifier_port, "verifier")
    try:
        stub = verifier_pb2_grpc.VerifierServiceStub(ch)
        principal = common_pb2.Principal(role="traffic_police")
        batch = await stub.VerifyBatch(verifier_pb2.VerifyBatchRequest(principal=principal, payloads=payloads))
        singles = [await stub.Verify(verifier_pb2.VerifyRequest(principal=principal, payload=p)) for p in payloads]
    finally:
        await ch.close()
    assert [r.result for r in batch.results] == ["VALID", "PAYLOAD_TOO_LARGE", "PREFIX_UNKNOWN", "VALID"]
    for got, want in zip(batch.results, singles):
        assert abs(got.checked_at - want.checked_at) <= 5
        got.checked_at = want.checked_at
        assert got == want


class _NoTrustList:
    """A cache that has no trust list and may not ask the registry for one now."""

    trust = None
    status: dict = {}

    def freshness(self, now: int, trust=None):
        return verifier_domain.NO_TRUST_LIST

    def refresh_due(self, min_interval: float) -> bool:
        return False

    async def refresh_trust_soon(self, min_interval: float) -> bool:
        return False


async def test_batch_without_a_trust_list_is_region_unavailable():
    servicer = verifier_servicer.VerifierServicer(verifier_domain.Verifier(_NoTrustList()))
    request = verifier_pb2.VerifyBatchRequest(principal=common_pb2.Principal(role="traffic_police"), payloads=["EC1:x", "y"])
    batch = await verifier_servicer.VerifierServicer.VerifyBatch.__wrapped__(servicer, request, None)
    assert [r.result for r in batch.results] == ["REGION_UNAVAILABLE"] * 2
    assert all(r.detail and r.checked_at and not r.HasField("credential") for r in batch.results)


async def test_an_unchanged_trust_list_is_not_checked_again(suite, monkeypatch):
    cache = suite.verifier.cache
    await cache.refresh_trust()  # whatever is newest is in hand now
    held = cache.trust
    parsed = []
    from_signed = verifier_domain.TrustList.from_signed
    monkeypatch.setattr(verifier_domain.TrustList, "from_signed",
                        classmethod(lambda cls, signed, root: parsed.append(1) or from_signed(signed, root)))
    assert await cache.refresh_trust() is False
    assert parsed == [] and cache.trust is held
