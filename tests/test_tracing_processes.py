"""Issue 16, part 5, as deployed: the suite as separate processes (ecert.cli.devsuite), each told
``ECERT_OTLP_ENDPOINT`` and ``ECERT_LOG_FORMAT=json``, sends its spans over OTLP/gRPC to a collector
(a real OTLP receiver in this test); one verification is one trace across the gateway, verifier and
issuer processes, found by its request id; every log line is JSON."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import time
from concurrent import futures

import aiohttp
import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from ecert.cli.devsuite import Ports, start_suite_processes
from ecert.rules import apikeys
from ecert.store import open_store
from testkit import photos
from testkit.ports import free_port as _free_port
from testkit.samples import driving_licence

pytestmark = pytest.mark.asyncio(loop_scope="session")

REGIONS = ("CN-SH", "CN-ZJ")


class Collector(trace_service_pb2_grpc.TraceServiceServicer):
    """Keeps every span exported to it, with its process's service.name."""

    def __init__(self):
        self.spans: list[tuple[str, object]] = []

    def Export(self, request, context):
        for rs in request.resource_spans:
            service = next((a.value.string_value for a in rs.resource.attributes if a.key == "service.name"), "")
            self.spans += [(service, s) for ss in rs.scope_spans for s in ss.spans]
        return trace_service_pb2.ExportTraceServiceResponse()


def attrs(span) -> dict[str, str]:
    return {a.key: a.value.string_value or str(a.value.int_value) for a in span.attributes}


async def test_one_verification_is_one_trace_across_the_processes(tmp_path):
    collector = Collector()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(collector, server)
    otlp_port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    env = dict(os.environ, ECERT_INTERNAL_TOKEN=secrets.token_hex(16), ECERT_ROOT_KEY_PASSPHRASE=secrets.token_hex(8),
               ECERT_SIGNING_KEY_PASSPHRASE=secrets.token_hex(8), ECERT_LOG_LEVEL="INFO", ECERT_LOG_FORMAT="json",
               ECERT_OTLP_ENDPOINT=f"http://127.0.0.1:{otlp_port}", OTEL_BSP_SCHEDULE_DELAY="100")
    ports = Ports(registry=_free_port(), issuers={r: _free_port() for r in REGIONS}, verifier=_free_port(),
                  gateway=_free_port())
    suite = await asyncio.to_thread(start_suite_processes, tmp_path / "var", ports, env=env)
    try:
        store = await open_store(suite.store_uri)
        try:
            agency, _ = await apikeys.create_api_key(store, "agency", "CN-ZJ")
            officer, _ = await apikeys.create_api_key(store, "traffic_police", "CN-JS")
            await photos.hold_sample_photos(store, REGIONS)
        finally:
            await store.close()
        async with aiohttp.ClientSession() as http:
            async with http.post(suite.gateway_url + "/v1/credentials", headers={"Authorization": f"Bearer {agency}"},
                                 json={"region": "CN-ZJ", "type": "cn.driving_licence", "fields": driving_licence()},
                                 timeout=aiohttp.ClientTimeout(total=20)) as r:
                cred = await r.json()
                assert r.status == 201, cred
                issue_rid = r.headers["X-Request-Id"]  # the gateway's own: none was sent
            async with http.post(suite.gateway_url + "/v1/verifications",
                                 headers={"Authorization": f"Bearer {officer}", "X-Request-Id": "proc-verify-1"},
                                 json={"payload": cred["qr_text"]}, timeout=aiohttp.ClientTimeout(total=20)) as r:
                answer = await r.json()
                assert r.status == 200 and r.headers["X-Request-Id"] == "proc-verify-1", answer

        def traced():
            """The request's spans, once both the gateway's and the verifier's item span have come
            (the processes export in their own time: the item span may come after another one)."""
            mine = [(svc, s) for svc, s in collector.spans if attrs(s).get("ecert.request_id") == "proc-verify-1"]
            names = {(svc, s.name) for svc, s in mine}
            return {("gateway", "POST /v1/verifications"), ("verifier", "VerifyStream item")} <= names and mine

        deadline = time.monotonic() + 20
        while not traced() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        mine = traced()
        assert mine, sorted({(svc, s.name) for svc, s in collector.spans})
        assert len({s.trace_id for _, s in mine}) == 1  # one trace across the processes
        trace_id = mine[0][1].trace_id
        in_trace = [(svc, s) for svc, s in collector.spans if s.trace_id == trace_id]
        names = {(svc, s.name) for svc, s in in_trace}
        assert ("gateway", "POST /v1/verifications") in names and ("verifier", "VerifyStream item") in names, names
        text = json.dumps([{"n": s.name, **attrs(s)} for _, s in collector.spans], ensure_ascii=False)
        assert driving_licence()["name"] not in text and officer not in text and cred["qr_text"][:20] not in text
    finally:
        await asyncio.to_thread(suite.stop)
        server.stop(0)
    logged = [line for path in (tmp_path / "var" / "log").glob("*.log")
              for line in path.read_text().splitlines() if line.startswith("{")]
    assert logged  # the processes' log lines are JSON objects
    records = [json.loads(line) for line in logged]
    assert all({"ts", "level", "service", "logger", "message"} <= set(r) for r in records)
    # the issuer's line for the issuance names the gateway's request id, carried across two processes
    issued = [r for r in records if r["service"] == "issuer-CN-ZJ" and r["message"].startswith(f"issued {cred['id']}")]
    assert len(issued) == 1 and issued[0]["request_id"] == issue_rid, issued
    assert len(issued[0]["trace_id"]) == 32
