"""Calls over one long-lived stream (ecert.rpc.streams), here to the verifier: routing by id,
errors, and recovery."""

from __future__ import annotations

import asyncio
import dataclasses
import socket

import pytest

from ecert.errors import PermissionDenied, Unavailable
from ecert.rpc import server as rpc_server
from ecert.rpc.client import channel
from ecert.rpc.links import Links
from ecert.rpc.streams import StreamClient
from ecertpb.v1 import common_pb2, verifier_pb2, verifier_pb2_grpc
from services.verifier import servicer as verifier_servicer
from testkit.samples import driving_licence
from tests.conftest import bearer

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _client(ch, links: Links, timeout: float = 10.0) -> StreamClient:
    stub = verifier_pb2_grpc.VerifierServiceStub(ch)
    return StreamClient(stub.VerifyStream, verifier_pb2.VerifyStreamRequest, verifier_pb2.VerifyStreamItem, links,
                        timeout=timeout)


def _request(payload: str, role: str = "traffic_police") -> verifier_pb2.VerifyRequest:
    return verifier_pb2.VerifyRequest(principal=common_pb2.Principal(role=role), payload=payload)


async def _credential(http, keys) -> str:
    r = await http.post("/v1/credentials", headers=bearer(keys["agency_zj"]),
                        json={"region": "CN-ZJ", "type": "cn.driving_licence", "fields": driving_licence()})
    return (await r.json())["qr_text"]


async def test_concurrent_answers_reach_their_own_requests(suite, http, keys):
    good = await _credential(http, keys)
    ch = suite.channel(suite.verifier_port, "verifier")
    stream = _client(ch, suite.links())
    payloads = [good if i % 3 == 0 else ("EC1:abc~" if i % 3 == 1 else "HC1:") for i in range(300)]
    expected = {good: "VALID", "EC1:abc~": "BASE45_INVALID", "HC1:": "PREFIX_UNKNOWN"}
    results = await asyncio.gather(*(stream.call(_request(p)) for p in payloads))
    assert [r.result for r in results] == [expected[p] for p in payloads]
    with pytest.raises(PermissionDenied):  # a domain error travels back over the stream
        await stream.call(_request(good, role="burglar"))
    assert (await stream.call(_request(good))).result == "VALID"  # and the stream lives on
    await stream.close()
    await ch.close()


async def test_stream_needs_the_internal_token(suite):
    links = dataclasses.replace(suite.links(), token="not-the-token")
    ch = channel(f"127.0.0.1:{suite.verifier_port}", links, peer="verifier")
    stream = _client(ch, links)
    with pytest.raises(Unavailable):
        await stream.call(_request("HC1:"))
    await stream.close()
    await ch.close()


async def test_a_lost_verifier_fails_waiting_requests_and_a_new_one_is_used(suite, http, keys):
    good = await _credential(http, keys)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = dataclasses.replace(suite.verifier_config, listen=f"127.0.0.1:{port}")

    async def start():
        verifier, server, _ = await verifier_servicer.build(cfg)
        await rpc_server.start(server)
        await verifier.cache.refresh_trust()
        return verifier, server

    verifier, server = await start()
    ch = suite.channel(port, "verifier")
    stream = _client(ch, suite.links(), timeout=3)
    assert (await stream.call(_request(good))).result == "VALID"
    await rpc_server.stop(server, 0)
    await verifier.cache.close()
    with pytest.raises(Unavailable):
        await stream.call(_request(good))
    verifier, server = await start()
    for _ in range(50):  # the channel reconnects with back-off
        try:
            assert (await stream.call(_request(good))).result == "VALID"
            break
        except Unavailable:
            await asyncio.sleep(0.1)
    else:
        pytest.fail("the stream did not recover")
    await stream.close()
    await ch.close()
    await rpc_server.stop(server, 0)
    await verifier.cache.close()


async def test_an_oversized_stream_message_closes_only_that_stream(suite, http, keys):
    from ecertpb.v1 import verifier_pb2 as pb
    good = await _credential(http, keys)
    ch = suite.channel(suite.verifier_port, "verifier")
    stream = _client(ch, suite.links())
    pending = asyncio.ensure_future(stream.call(_request(good)))
    raw = verifier_pb2_grpc.VerifierServiceStub(ch).VerifyStream(  # breaks the 1,000-item rule
        metadata=(("x-ecert-internal-token", suite.token),))
    await raw.write(pb.VerifyStreamRequest(items=[pb.VerifyStreamItem(id=i, request=_request(good))
                                                  for i in range(1001)]))
    answers = [r async for r in raw]
    assert answers == []  # closed without answers
    assert (await pending).result == "VALID"  # other streams unaffected
    await stream.close()
    await ch.close()
