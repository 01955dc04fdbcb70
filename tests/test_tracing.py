"""Issue 16, part 5: one trace per request across gateway -> verifier -> issuer -> store, the
request id on every span and every log line, no personal data in any attribute.

The whole suite runs in this one process (tests.harness): every service records into one in-memory
exporter, so a trace is followed across the processes' boundaries as they are crossed for real
(gRPC metadata, stream items), never through a shared context.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging

import pytest

from ecert import tracing
from ecert.runtime import logs
from ecert.runtime import tracing as runtime_tracing
from ecert.runtime.config import GatewayConfig
from testkit.samples import SAMPLES
from tests.conftest import bearer

pytestmark = pytest.mark.asyncio(loop_scope="session")

MISSING = "A" * 26  # the shape of a credential id, held by no issuer
ZHANG = {**SAMPLES["cn.resident_id"], "name": "林晓燕"}


@pytest.fixture(scope="module")
def exporter():
    provider, exported = runtime_tracing.in_memory()
    yield exported
    tracing.uninstall()
    provider.shutdown()


def by_trace(spans, trace_id: int) -> list:
    return [s for s in spans if s.context.trace_id == trace_id]


def root_of(spans, name: str, rid: str):
    """The gateway's span of the request with request id ``rid``."""
    found = [s for s in spans if s.name == name and s.attributes.get(tracing.REQUEST_ID_ATTR) == rid]
    assert len(found) == 1, [s.name for s in spans]
    assert found[0].parent is None  # the root: one trace per request
    return found[0]


def all_attribute_text(spans) -> str:
    return json.dumps([{k: str(v) for k, v in s.attributes.items()} | {"name": s.name} for s in spans],
                      ensure_ascii=False)


async def issue(http, key, rid: str) -> dict:
    r = await http.post("/v1/credentials", headers={**bearer(key), "X-Request-Id": rid},
                        json={"region": "CN-ZJ", "type": "cn.resident_id", "fields": ZHANG})
    assert r.status == 201, await r.text()
    return await r.json()


async def test_an_issuance_is_one_trace_from_the_gateway_through_the_issuer_to_the_store(http, keys, exporter):
    exporter.clear()
    cred = await issue(http, keys["agency_zj"], "trace-issue-1")
    spans = exporter.get_finished_spans()
    root = root_of(spans, "POST /v1/credentials", "trace-issue-1")
    trace_spans = by_trace(spans, root.context.trace_id)
    names = {s.name for s in trace_spans}
    # (store.get_apikey too, unless this gateway holds the key's grant already from an earlier test)
    assert {"IssueStream item", "store.insert_credential"} <= names, names
    server_item = next(s for s in trace_spans if s.name == "IssueStream item" and s.kind.name == "SERVER")
    client_item = next(s for s in trace_spans if s.name == "IssueStream item" and s.kind.name == "CLIENT")
    assert server_item.parent.span_id == client_item.context.span_id and server_item.parent.is_remote
    assert all(s.attributes.get(tracing.REQUEST_ID_ATTR) == "trace-issue-1"
               for s in trace_spans if not s.name.startswith("store."))
    insert = next(s for s in trace_spans if s.name == "store.insert_credential")
    assert insert.attributes["db.system.name"] == "sqlite" and insert.parent.span_id == server_item.context.span_id
    assert root.attributes["http.route"] == "/v1/credentials" and root.attributes["http.response.status_code"] == 201
    text = all_attribute_text(spans)
    for secret in (ZHANG["name"], ZHANG["id_number"], keys["agency_zj"], cred["qr_text"][:20]):
        assert secret not in text


async def test_a_show_code_verification_spans_gateway_verifier_issuer_and_store_in_one_trace(
        http, keys, suite, exporter):
    cred = await issue(http, keys["agency_zj"], "trace-issue-2")
    r = await http.post(f"/v1/credentials/{cred['id']}/presentations", headers=bearer(keys["agency_zj"]),
                        json={"purpose": "hotel_check_in"})
    assert r.status == 201, await r.text()
    code = await r.json()
    hotel = await suite.api_key("hotel", "CN-SH")
    exporter.clear()
    r = await http.post("/v1/verifications", headers={**bearer(hotel), "X-Request-Id": "trace-verify-1"},
                        json={"payload": code["token"]})
    answer = await r.json()
    assert r.status == 200 and answer["result"] == "VALID", answer
    spans = exporter.get_finished_spans()
    root = root_of(spans, "POST /v1/verifications", "trace-verify-1")
    assert root.kind.name == "SERVER" and root.attributes["http.response.status_code"] == 200
    trace_spans = by_trace(spans, root.context.trace_id)
    verifier = [s for s in trace_spans if s.name == "VerifyStream item" and s.kind.name == "SERVER"]
    issuer = [s for s in trace_spans if s.name == "ecert.v1.IssuerService/ResolvePresentation"
              and s.kind.name == "SERVER"]
    assert len(verifier) == 1 and len(issuer) == 1, sorted(s.name for s in trace_spans)
    # the issuer's span is a child of the verifier's call, which is a child of the verifier's item
    call = next(s for s in trace_spans if s.context.span_id == issuer[0].parent.span_id)
    assert call.kind.name == "CLIENT" and call.parent.span_id == verifier[0].context.span_id
    assert issuer[0].attributes["rpc.grpc.status_code"] == 0
    stores = [s for s in trace_spans if s.name.startswith("store.")]
    assert any(s.parent.span_id == issuer[0].context.span_id for s in stores)  # the issuer's reads
    assert any(s.parent.span_id == root.context.span_id for s in stores)  # the gateway's key look-up
    for s in trace_spans:
        if not s.name.startswith("store."):
            assert s.attributes[tracing.REQUEST_ID_ATTR] == "trace-verify-1", s.name
        else:
            assert set(s.attributes) == {"db.system.name", "db.operation.name"}, s.attributes
    assert len({s.context.trace_id for s in spans if s.attributes.get(tracing.REQUEST_ID_ATTR)}) == 1
    text = all_attribute_text(spans)
    for secret in (ZHANG["name"], ZHANG["id_number"], hotel, code["token"][:24], code["token_id"]):
        assert secret not in text


async def test_a_refusal_is_traced_with_its_code_and_no_caller_value(http, keys, exporter):
    exporter.clear()
    r = await http.post("/v1/verifications", headers={**bearer(keys["hotel"]), "X-Request-Id": "trace-bad-1"},
                        json={"payload": "EC1:NOT-A-CREDENTIAL"})
    assert r.status in (200, 400, 422)
    spans = exporter.get_finished_spans()
    root = root_of(spans, "POST /v1/verifications", "trace-bad-1")
    assert "NOT-A-CREDENTIAL" not in all_attribute_text(spans)
    assert root.attributes["http.response.status_code"] == r.status


async def test_each_log_line_of_a_request_names_its_request_id_in_every_service(http, keys, suite, exporter,
                                                                                monkeypatch):
    """A JSON log line written by the issuer while it serves the verifier's call for a gateway request
    carries the gateway's request id (and the trace's id)."""
    issuer = suite.issuers["CN-ZJ"]
    real = issuer.resolve

    async def logged_resolve(*args, **kwargs):
        logging.getLogger("ecert.issuer.test").warning("resolving a show code")
        return await real(*args, **kwargs)

    monkeypatch.setattr(issuer, "resolve", logged_resolve)
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logs.formatter("json", "issuer-CN-ZJ"))
    root_logger = logging.getLogger()
    root_logger.addHandler(handler)
    try:
        cred = await issue(http, keys["agency_zj"], "trace-issue-3")
        r = await http.post(f"/v1/credentials/{cred['id']}/presentations", headers=bearer(keys["agency_zj"]),
                            json={"purpose": "hotel_check_in"})
        token = (await r.json())["token"]
        hotel = await suite.api_key("hotel", "CN-SH")
        exporter.clear()
        r = await http.post("/v1/verifications", headers={**bearer(hotel), "X-Request-Id": "trace-log-1"},
                            json={"payload": token})
        assert r.status == 200
    finally:
        root_logger.removeHandler(handler)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    mine = [line for line in lines if line["message"] == "resolving a show code"]
    assert len(mine) == 1, lines
    line = mine[0]
    assert line["request_id"] == "trace-log-1" and line["service"] == "issuer-CN-ZJ" and line["level"] == "WARNING"
    root = root_of(exporter.get_finished_spans(), "POST /v1/verifications", "trace-log-1")
    assert line["trace_id"] == f"{root.context.trace_id:032x}"


async def test_json_lines_name_the_request_id_only_inside_a_request():
    fmt = logs.formatter("json", "gateway")
    record = logging.LogRecord("ecert.gateway", logging.ERROR, __file__, 1, "request %s failed: %s",
                               ("r1", "INTERNAL"), None)
    outside = json.loads(fmt.format(record))
    assert "request_id" not in outside and outside["message"] == "request r1 failed: INTERNAL"
    token = tracing.REQUEST_ID.set("abc-123")
    try:
        inside = json.loads(fmt.format(record))
    finally:
        tracing.REQUEST_ID.reset(token)
    assert inside["request_id"] == "abc-123" and inside["service"] == "gateway" and inside["level"] == "ERROR"
    assert inside["ts"].endswith("Z")
    assert not isinstance(logs.formatter("text", "gateway"), logs.JsonFormatter)


async def test_settings_choose_the_log_format_and_the_otlp_endpoint(tmp_path):
    base = {"ECERT_INTERNAL_TOKEN": "t", "ECERT_TLS_CA": "ca", "ECERT_TLS_CERT": "c", "ECERT_TLS_KEY": "k",
            "ECERT_REGISTRY_TARGET": "r:1", "ECERT_VERIFIER_TARGET": "v:1", "ECERT_VAR_DIR": str(tmp_path)}
    cfg = GatewayConfig.from_env(base)
    assert cfg.log_format == "text" and cfg.otlp_endpoint == ""
    cfg = GatewayConfig.from_env({**base, "ECERT_LOG_FORMAT": "JSON", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317"})
    assert cfg.log_format == "json" and cfg.otlp_endpoint == "http://c:4317"
    cfg = GatewayConfig.from_env({**base, "ECERT_OTLP_ENDPOINT": "http://mine:4317",
                                  "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317"})
    assert cfg.otlp_endpoint == "http://mine:4317"
    with pytest.raises(Exception, match="ECERT_LOG_FORMAT"):
        GatewayConfig.from_env({**base, "ECERT_LOG_FORMAT": "xml"})


async def test_without_an_endpoint_nothing_is_set_up_and_the_api_stays_a_no_op(monkeypatch, suite):
    monkeypatch.setattr(tracing, "_tracer", tracing._NOOP)
    monkeypatch.setattr(tracing, "_on", False)
    assert runtime_tracing.setup("", "gateway") is None and not tracing.active()
    assert tracing.outgoing() == [] and not tracing.tracer().start_span("x").is_recording()
    token = tracing.REQUEST_ID.set("rid-9")
    try:
        assert tracing.outgoing() == [("x-request-id", "rid-9")]  # the logs' request id still travels
    finally:
        tracing.REQUEST_ID.reset(token)
    assert await suite.store.get_region("CN-ZJ") is not None  # the store's wrapper, off


async def test_with_an_endpoint_spans_go_to_an_otlp_exporter(monkeypatch):
    monkeypatch.setattr(tracing, "_tracer", tracing._tracer)  # restored after the test
    monkeypatch.setattr(tracing, "_on", tracing._on)
    provider = runtime_tracing.setup("http://127.0.0.1:9", "verifier")
    try:
        processor = provider._active_span_processor._span_processors[0]
        exporter = getattr(processor, "span_exporter", None) or processor._batch_processor._exporter
        assert type(exporter).__name__ == "OTLPSpanExporter"
        assert provider.resource.attributes["service.name"] == "verifier" and tracing.active()
    finally:
        provider.shutdown()


async def test_a_call_that_fails_carries_its_status_and_error_code_not_its_message(http, keys, exporter):
    """A credential the issuer does not hold: its gRPC status and the domain code on the issuer's span."""
    exporter.clear()
    r = await http.get("/v1/credentials/" + MISSING, headers={**bearer(keys["agency_zj"]),
                                                                     "X-Request-Id": "trace-missing-1"})
    body = await r.json()
    assert r.status == 404, body
    spans = exporter.get_finished_spans()
    root = root_of(spans, "GET /v1/credentials/{id}", "trace-missing-1")
    assert root.attributes["ecert.error_code"] == body["error"]["code"]
    trace_spans = by_trace(spans, root.context.trace_id)
    server = [s for s in trace_spans if s.kind.name == "SERVER" and s.name.startswith("ecert.v1.IssuerService/")]
    assert server, sorted(s.name for s in trace_spans)
    assert server[0].attributes["rpc.grpc.status_code"] == 5  # NOT_FOUND
    assert server[0].attributes["ecert.error_code"] == body["error"]["code"]
    assert server[0].status.status_code.name == "ERROR"
    assert MISSING not in all_attribute_text(spans)


async def test_spans_reach_an_otlp_collector_over_grpc(monkeypatch):
    """A real OTLP/gRPC receiver on a local port: what setup() exports arrives there."""
    import grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

    received = []

    class Collector(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(self, request, context):
            received.append(request)
            return trace_service_pb2.ExportTraceServiceResponse()

    from concurrent import futures
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Collector(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    monkeypatch.setattr(tracing, "_tracer", tracing._tracer)  # restored after the test
    monkeypatch.setattr(tracing, "_on", tracing._on)
    provider = runtime_tracing.setup(f"http://127.0.0.1:{port}", "issuer-CN-ZJ")
    try:
        with tracing.tracer().start_as_current_span("store.get_region", attributes={"db.operation.name": "x"}):
            pass
        assert await asyncio.to_thread(provider.force_flush, 10_000)
    finally:
        provider.shutdown()
        server.stop(0)
    spans = [s for req in received for rs in req.resource_spans for ss in rs.scope_spans for s in ss.spans]
    assert [s.name for s in spans] == ["store.get_region"]
    services = {a.value.string_value for req in received for rs in req.resource_spans
                for a in rs.resource.attributes if a.key == "service.name"}
    assert services == {"issuer-CN-ZJ"}
