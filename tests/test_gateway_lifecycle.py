"""Issue 13 at the gateway, against fake backends: the two rotation routes (who may call them, what
they ask, how their failures answer), the issuer told after a key revocation (best effort: the
revocation answers whatever the issuer does), the verifier's cache state on ``/metrics`` (and a
scrape it does not answer), and the relayed answers that said a list was stale, counted."""

from __future__ import annotations

import asyncio

import grpc
import pytest
import pytest_asyncio

from ecert.errors import EcertError, NotFound, Unavailable
from ecert.rpc.status import to_grpc, trailers
from ecertpb.v1 import issuer_pb2, registry_pb2, verifier_pb2
from gateway.clients import Backends
from tests.conftest import bearer, gateway_client
from tests.test_openapi_document import _answer_schema, undescribed

pytestmark = pytest.mark.asyncio(loop_scope="session")

KID, OLD_KID, ROOT_KID = "0123456789abcdef", "fedcba9876543210", "00112233445566aa"


def rpc_error(err: EcertError) -> grpc.aio.AioRpcError:
    """What a servicer's answer of ``err`` looks like to the gateway's client."""
    return grpc.aio.AioRpcError(to_grpc(err), grpc.aio.Metadata(), grpc.aio.Metadata(*trailers(err)), err.message)


def late() -> grpc.aio.AioRpcError:
    """The transport's own failure: no answer within the deadline."""
    return grpc.aio.AioRpcError(grpc.StatusCode.DEADLINE_EXCEEDED, grpc.aio.Metadata(), grpc.aio.Metadata(),
                                "Deadline Exceeded")


class Stub:
    """A fake gRPC stub: each method records its request and deadline, then gives ``answers[name]``
    (a message, or an exception to raise)."""

    def __init__(self, **answers):
        self.answers = answers
        self.calls: list[tuple[str, object, float | None]] = []

    def __getattr__(self, name: str):
        if name not in self.answers:
            raise AttributeError(name)

        async def method(request, timeout=None):
            self.calls.append((name, request, timeout))
            answer = self.answers[name]
            if isinstance(answer, BaseException):
                raise answer
            return answer
        return method

    def called(self, name: str) -> list:
        return [req for n, req, _ in self.calls if n == name]


class FakeStream:
    def __init__(self, answer: verifier_pb2.VerifyResponse):
        self.answer = answer

    async def call(self, request):
        return self.answer


class FakeBackends:
    """The parts of :class:`gateway.clients.Backends` the routes here use, with :meth:`Backends.ask`'s
    own translation of failures."""

    timeout, bulk_timeout = 5.0, 30.0
    ask = Backends.ask
    cache_state = Backends.cache_state

    def __init__(self):
        self._cache_state = None
        self.registry = Stub(
            RevokeKey=registry_pb2.KeyInfo(kid=OLD_KID, alg="ES256", status="revoked", nbf=1, exp=2, revoked_at=3),
            RotateRootKey=registry_pb2.RootKey(kid=ROOT_KID, alg="ES256", spki=b"\x30\x59 spki",
                                               previous_kid="99887766554433ff", trust_list_version=42))
        self.verifier = Stub(GetCacheState=late())
        self.issuers = {"CN-ZJ": Stub(
            RotateSigningKey=issuer_pb2.SigningKeyInfo(kid=KID, retired_kid=OLD_KID, nbf=10, exp=20, status="active"),
            RefreshKeys=issuer_pb2.SigningKeyInfo(kid=KID, retired_kid=OLD_KID, status="active"))}
        self.verifier_stream = FakeStream(verifier_pb2.VerifyResponse(result="VALID"))
        self.changed = 0

    async def issuer(self, region: str):
        if region not in self.issuers:
            raise NotFound(f"unknown region {region}", code="REGION_UNKNOWN")
        return self.issuers[region]

    def registry_changed(self) -> None:
        self.changed += 1


@pytest_asyncio.fixture
async def fake(suite):
    be = FakeBackends()
    async with gateway_client(suite, backends=be) as client:
        yield be, client


async def test_a_regions_agency_rotates_its_signing_key_at_its_issuer(fake, keys):
    be, http = fake
    r = await http.post("/v1/regions/CN-ZJ/signing-key:rotate", headers=bearer(keys["agency_zj"]))
    assert r.status == 201, await r.text()
    body = await r.json()
    assert body == {"kid": KID, "retired_kid": OLD_KID, "nbf": "1970-01-01T00:00:10Z", "exp": "1970-01-01T00:00:20Z"}
    assert undescribed(body, _answer_schema("/v1/regions/{code}/signing-key:rotate", "post", 201)) == []
    [req] = be.issuers["CN-ZJ"].called("RotateSigningKey")
    assert (req.region, req.request_id, req.principal.role, req.principal.region) == ("CN-ZJ", "", "agency", "CN-ZJ")
    assert be.changed == 1  # the next read of the regions asks the registry: the new key is there
    r = await http.post("/v1/regions/CN-ZJ/signing-key:rotate", headers=bearer(keys["admin"]),
                        json={"request_id": "rotate-2026"})
    assert r.status == 201
    assert be.issuers["CN-ZJ"].called("RotateSigningKey")[-1].request_id == "rotate-2026"


async def test_a_rotation_is_refused_to_other_roles_and_regions_before_the_issuer_is_asked(fake, keys):
    be, http = fake
    for key in ("agency_sh", "hotel", "police", "integrator"):
        r = await http.post("/v1/regions/CN-ZJ/signing-key:rotate", headers=bearer(keys[key]))
        assert r.status == 403 and (await r.json())["error"]["code"] == "FORBIDDEN", key
    for body, field in (({"request_id": 7}, "request_id"), ({"request_id": "x" * 129}, "request_id")):
        r = await http.post("/v1/regions/CN-ZJ/signing-key:rotate", headers=bearer(keys["admin"]), json=body)
        assert r.status == 400 and (await r.json())["error"]["fields"] == [field]
    r = await http.post("/v1/regions/CN-ZJ/signing-key:rotate", headers=bearer(keys["admin"]), data=b"[1]")
    assert r.status == 400 and (await r.json())["error"]["code"] == "MALFORMED_JSON"
    r = await http.post("/v1/regions/cn-zj/signing-key:rotate", headers=bearer(keys["admin"]))
    assert r.status == 400
    r = await http.post("/v1/regions/CN-FJ/signing-key:rotate", headers=bearer(keys["admin"]))
    assert r.status == 404 and (await r.json())["error"]["code"] == "REGION_UNKNOWN"
    assert be.issuers["CN-ZJ"].called("RotateSigningKey") == [] and be.changed == 0


async def test_an_issuer_that_cannot_sign_or_does_not_answer_is_a_503_saying_so(fake, keys):
    be, http = fake
    issuer = be.issuers["CN-ZJ"]
    issuer.answers["RotateSigningKey"] = rpc_error(Unavailable("no key may sign", code="SIGNING_KEY_UNAVAILABLE"))
    r = await http.post("/v1/regions/CN-ZJ/signing-key:rotate", headers=bearer(keys["admin"]))
    assert r.status == 503 and (await r.json())["error"]["code"] == "SIGNING_KEY_UNAVAILABLE"
    issuer.answers["RotateSigningKey"] = late()
    r = await http.post("/v1/regions/CN-ZJ/signing-key:rotate", headers=bearer(keys["admin"]))
    error = (await r.json())["error"]
    assert r.status == 503 and error["code"] == "REGION_UNAVAILABLE"
    assert error["message"] == "the issuer of CN-ZJ did not answer in time"


async def test_an_admin_rotates_the_root_key(fake, keys):
    be, http = fake
    r = await http.post("/v1/trust-list/root-key:rotate", headers=bearer(keys["agency_zj"]))
    assert r.status == 403 and be.registry.called("RotateRootKey") == []
    r = await http.post("/v1/trust-list/root-key:rotate", headers=bearer(keys["admin"]))
    assert r.status == 201, await r.text()
    body = await r.json()
    assert body == {"kid": ROOT_KID, "previous_kid": "99887766554433ff", "trust_list_version": 42,
                    "alg": "ES256", "spki": "MFkgc3BraQ=="}
    assert undescribed(body, _answer_schema("/v1/trust-list/root-key:rotate", "post", 201)) == []
    assert be.registry.called("RotateRootKey")[0].principal.role == "admin" and be.changed == 1
    be.registry.answers["RotateRootKey"] = late()
    r = await http.post("/v1/trust-list/root-key:rotate", headers=bearer(keys["admin"]))
    assert r.status == 503 and (await r.json())["error"]["message"] == "the registry did not answer in time"


async def test_after_a_revocation_the_regions_issuer_is_told_and_its_failure_changes_nothing(fake, keys):
    be, http = fake
    issuer = be.issuers["CN-ZJ"]
    path = f"/v1/regions/CN-ZJ/keys/{OLD_KID}:revoke"
    r = await http.post(path, headers=bearer(keys["admin"]))
    assert r.status == 200 and (await r.json())["status"] == "revoked"
    [(name, req, timeout)] = issuer.calls
    assert name == "RefreshKeys" and req.principal.role == "admin" and timeout <= 2.0  # a short deadline
    assert be.changed == 1
    for failure in (late(), rpc_error(Unavailable("no key may sign", code="SIGNING_KEY_UNAVAILABLE")),
                    rpc_error(Unavailable("stopping"))):
        issuer.answers["RefreshKeys"] = failure
        r = await http.post(path, headers=bearer(keys["admin"]))
        assert r.status == 200 and (await r.json())["kid"] == OLD_KID  # the revocation is done all the same
    assert len(issuer.called("RefreshKeys")) == 4
    # a region without an issuer here (its keys held by another system): the revocation alone
    r = await http.post(f"/v1/regions/CN-FJ/keys/{OLD_KID}:revoke", headers=bearer(keys["admin"]))
    assert r.status == 200
    # the revocation itself failing: nobody is told
    be.registry.answers["RevokeKey"] = rpc_error(NotFound("no such key"))
    r = await http.post(path, headers=bearer(keys["admin"]))
    assert r.status == 404 and len(issuer.called("RefreshKeys")) == 4


def sample(text: str, name: str, labels: dict | None = None) -> float | None:
    """A sample's value in Prometheus text (None: absent)."""
    from prometheus_client.parser import text_string_to_metric_families
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == (labels or {}):
                return s.value
    return None


STATE = verifier_pb2.CacheState(
    trust_list_version=17, trust_list_iat=1_700_000_000, trust_list_exp=1_700_086_400,
    trust_list_refreshed_at=1_700_000_300, trust_list_stale=True, trust_list_failures=4, root_kid=ROOT_KID,
    status_lists=3, status_bytes=65_536, status_lists_on_disk=5, oldest_status_as_of=1_699_990_000,
    events=[verifier_pb2.CacheEvent(list="trust", event="refused_older", count=2),
            verifier_pb2.CacheEvent(list="status", event="future_dated", count=1)])


async def test_metrics_give_the_verifiers_cache_state_as_of_the_scrape(fake):
    be, http = fake
    be.verifier.answers["GetCacheState"] = late()
    text = await (await http.get("/metrics")).text()
    assert sample(text, "ecert_verifier_cache_state_failures_total") == 1
    assert sample(text, "ecert_verifier_trust_list_version") is None  # nothing known yet: nothing said
    be.verifier.answers["GetCacheState"] = STATE
    text = await (await http.get("/metrics")).text()
    [(_, req, timeout)] = be.verifier.calls[-1:]
    assert timeout <= 1.0 and req.principal.role == "service"
    expected = {"ecert_verifier_trust_list_version": 17, "ecert_verifier_trust_list_iat_seconds": 1_700_000_000,
                "ecert_verifier_trust_list_exp_seconds": 1_700_086_400,
                "ecert_verifier_trust_list_refreshed_at_seconds": 1_700_000_300,
                "ecert_verifier_trust_list_stale": 1, "ecert_verifier_trust_list_refresh_failures": 4,
                "ecert_verifier_status_lists": 3, "ecert_verifier_status_bytes": 65_536,
                "ecert_verifier_status_lists_on_disk": 5, "ecert_verifier_status_oldest_as_of_seconds": 1_699_990_000}
    assert {name: sample(text, name) for name in expected} == expected
    assert sample(text, "ecert_verifier_list_events_total", {"list": "trust", "event": "refused_older"}) == 2
    assert sample(text, "ecert_verifier_list_events_total", {"list": "status", "event": "future_dated"}) == 1
    assert sample(text, "ecert_verifier_trust_root_info", {"kid": ROOT_KID}) == 1
    # the verifier stops answering: the last state stays, the failed scrape is counted
    be.verifier.answers["GetCacheState"] = rpc_error(Unavailable("stopping"))
    text = await (await http.get("/metrics")).text()
    assert sample(text, "ecert_verifier_cache_state_failures_total") == 2
    assert sample(text, "ecert_verifier_trust_list_version") == 17


class Held:
    """A GetCacheState that answers only when released: scrapes pile up meanwhile."""

    def __init__(self, answer):
        self.answer, self.release, self.calls = answer, asyncio.Event(), 0

    async def __call__(self, request, timeout=None):
        self.calls += 1
        await self.release.wait()
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


async def test_scrapes_that_come_together_ask_the_verifier_once(fake):
    be, http = fake
    for answer, version, failures in ((STATE, 17.0, 0.0), (late(), 17.0, 20.0)):
        held = Held(answer)
        be.verifier.GetCacheState = held  # an instance attribute: Stub.__getattr__ is not asked
        scrapes = [asyncio.ensure_future(http.get("/metrics")) for _ in range(20)]
        while held.calls == 0:
            await asyncio.sleep(0.01)
        for _ in range(20):  # every scrape in; none has asked again
            await asyncio.sleep(0)
        held.release.set()
        texts = [await (await r).text() for r in scrapes]
        assert held.calls == 1
        assert {sample(t, "ecert_verifier_trust_list_version") for t in texts} == {version}
        assert max(sample(t, "ecert_verifier_cache_state_failures_total") for t in texts) == failures
    # a scrape that gives up (its client gone) does not cancel the shared call for the others
    held = Held(STATE)
    be.verifier.GetCacheState = held
    gone, stays = asyncio.ensure_future(be.cache_state()), asyncio.ensure_future(be.cache_state())
    while held.calls == 0:
        await asyncio.sleep(0)
    gone.cancel()
    held.release.set()
    assert await stays is STATE and held.calls == 1 and gone.cancelled()


async def test_answers_that_said_a_list_was_stale_are_counted(fake, keys):
    be, http = fake
    V = verifier_pb2.VerifyResponse
    be.verifier.answers["GetCacheState"] = late()
    for answer in (V(result="VALID", trust_list_stale=True, status="unknown"),
                   V(result="VALID", status="unknown"), V(result="VALID", status="not_tracked"),
                   V(result="KID_UNKNOWN", trust_list_stale=True)):
        be.verifier_stream.answer = answer
        r = await http.post("/v1/verifications", headers=bearer(keys["hotel"]), json={"payload": "EC1:X"})
        assert r.status == 200
    be.verifier.answers["VerifyBatch"] = verifier_pb2.VerifyBatchResponse(results=[
        V(result="VALID", trust_list_stale=True, status="valid"), V(result="REVOKED", status="revoked")])
    r = await http.post("/v1/verifications:batch", headers=bearer(keys["hotel"]), json={"payloads": ["a", "b"]})
    assert r.status == 200 and [a["trust_list_stale"] for a in (await r.json())["results"]] == [True, False]
    text = await (await http.get("/metrics")).text()
    assert sample(text, "ecert_stale_answers_total", {"list": "trust"}) == 3
    assert sample(text, "ecert_stale_answers_total", {"list": "status"}) == 2  # not_tracked is not stale
    assert sample(text, "ecert_verifications_total", {"result": "VALID"}) == 4
