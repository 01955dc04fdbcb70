"""ECERT_HEALTH_LISTEN: a plaintext port that answers the standard gRPC health service alone, as
Kubernetes' ``grpc`` probe (which speaks no TLS) needs; the service's own port stays TLS only and
the health port serves no other method (ecert.rpc.server)."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ecert.rpc import server as rpc_server
from ecert.rpc.links import Links
from ecert.runtime import pki
from ecert.runtime.config import VerifierConfig
from ecertpb.v1 import verifier_pb2, verifier_pb2_grpc

aio = pytest.mark.asyncio(loop_scope="session")
WAIT = 10
SERVING, NOT_SERVING = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING


class _Verifier(verifier_pb2_grpc.VerifierServiceServicer):
    async def GetCacheState(self, request, context):  # reached only past the guard
        return verifier_pb2.CacheState()


def _server(tmp_path, health_listen: str):
    tls = pki.ensure_dev_pki(tmp_path / "pki", [pki.VERIFIER])[pki.VERIFIER]
    return rpc_server.create_server(
        "127.0.0.1:0", [lambda s: verifier_pb2_grpc.add_VerifierServiceServicer_to_server(_Verifier(), s)],
        links=Links.from_files("token", tls), service_names=["ecert.v1.VerifierService"], health_listen=health_listen)


async def _status(port: int, service: str = "") -> int:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
        answer = await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=service), timeout=WAIT)
        return answer.status


@aio
async def test_the_health_port_answers_plaintext_and_follows_the_server(tmp_path):
    server, port = _server(tmp_path, "127.0.0.1:0")
    health_port = server.health_port
    assert health_port not in (0, port)
    await rpc_server.start(server)
    try:
        assert await _status(health_port) == SERVING
        assert await _status(health_port, "ecert.v1.VerifierService") == SERVING
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:  # the service's port: still TLS only
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=WAIT)
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        async with grpc.aio.insecure_channel(f"127.0.0.1:{health_port}") as ch:  # no other method there
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await verifier_pb2_grpc.VerifierServiceStub(ch).GetCacheState(
                    verifier_pb2.CacheStateRequest(), timeout=WAIT)
            assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
        await rpc_server._set_health(server, False)  # as stop() does first
        assert await _status(health_port) == NOT_SERVING
    finally:
        await rpc_server.stop(server, grace=0)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{health_port}") as ch:  # stopped with the server
        with pytest.raises(grpc.aio.AioRpcError):
            await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=2)


def test_without_the_setting_there_is_no_health_port(tmp_path):
    server, _ = _server(tmp_path, "")
    assert server.health_server is None and server.health_port == 0


def test_the_setting_is_read_from_the_environment(tmp_path):
    env = {"ECERT_INTERNAL_TOKEN": "t", "ECERT_TLS_CA": "ca", "ECERT_TLS_CERT": "c", "ECERT_TLS_KEY": "k",
           "ECERT_ROOT_PUBLIC_KEY": "-----BEGIN PUBLIC KEY-----\n"}
    assert VerifierConfig.from_env(env).health_listen == ""
    assert VerifierConfig.from_env({**env, "ECERT_HEALTH_LISTEN": "0.0.0.0:8081"}).health_listen == "0.0.0.0:8081"
