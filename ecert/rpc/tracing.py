"""The request id and the trace across gRPC: the server's interceptor and the client's half.

- :class:`Traced` (a server interceptor, outside the guard): sets the caller's request id
  (``x-request-id`` metadata) for a unary call's task, so every log line of the call names it, and,
  when tracing is on (:mod:`ecert.tracing`), runs the call in a SERVER span whose parent is the
  caller's ``traceparent``. Health checks are left alone.
- A stream (:mod:`ecert.rpc.streams`) carries many requests: each item has its own ``request_id``
  and ``traceparent`` fields, set by :func:`stamp` with a CLIENT span (:func:`item_client_span`) and
  read by :func:`item_span` on the server, which runs the item's request in a SERVER span.
- :func:`client_call` (used by the channel's interceptor, :mod:`ecert.rpc.client`): sends the
  request id and, when tracing, starts a CLIENT span and sends its ``traceparent``; the span ends
  when the call does, with its status.

Span attributes: the method (``rpc.service``, ``rpc.method``), the status code, the domain
error's code (the ``ecert-error-code`` trailer) and the request id; never a request's contents.
"""

from __future__ import annotations

import asyncio
import inspect

import grpc
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from .. import tracing
from .peers import OPEN_PREFIXES
from .status import CODE_TRAILER

__all__ = ["Traced", "client_call", "end_item_client_span", "item_client_span", "item_span", "stamp"]

_pending: set[asyncio.Task] = set()  # the tasks that end client spans, kept until they ran


def _method_attrs(method: str) -> dict[str, str]:
    service, _, name = method.lstrip("/").partition("/")
    return {"rpc.system": "grpc", "rpc.service": service, "rpc.method": name}


def _finish(span: trace.Span, code: grpc.StatusCode, error_code: str = "") -> None:
    _set_result(span, code, error_code)
    span.end()


def _error_code(metadata) -> str:
    for key, value in metadata or ():
        if key == CODE_TRAILER:
            return value if isinstance(value, str) else value.decode("ascii", "replace")
    return ""


# -- the server ----------------------------------------------------------------------------------

class Traced(grpc.aio.ServerInterceptor):
    async def intercept_service(self, continuation, details):
        handler = await continuation(details)
        if handler is None or handler.unary_unary is None or details.method.startswith(OPEN_PREFIXES):
            return handler
        rid, parent = tracing.incoming(details.invocation_metadata)
        if not rid and not tracing.active():
            return handler
        return _wrapped(handler, details.method, rid, parent)


def _server_span(method: str, rid: str, parent):
    attrs = _method_attrs(method)
    if rid:
        attrs[tracing.REQUEST_ID_ATTR] = rid
    return tracing.tracer().start_as_current_span(method.lstrip("/"), context=parent, kind=SpanKind.SERVER,
                                                  attributes=attrs, record_exception=False,
                                                  set_status_on_exception=False)


def _server_result(span: trace.Span, context) -> None:
    code = context.code() if hasattr(context, "code") else None
    if isinstance(code, int):  # a bare number, as some versions keep it
        code = next((c for c in grpc.StatusCode if c.value[0] == code), None)
    trailers = context.trailing_metadata() if hasattr(context, "trailing_metadata") else ()
    if code is None:
        code = grpc.StatusCode.OK
    _set_result(span, code, _error_code(trailers))


def _set_result(span: trace.Span, code: grpc.StatusCode, error_code: str) -> None:
    span.set_attribute("rpc.grpc.status_code", code.value[0])
    if code != grpc.StatusCode.OK:
        span.set_status(Status(StatusCode.ERROR, code.name))
    if error_code:
        span.set_attribute("ecert.error_code", error_code)


def _wrapped(handler: grpc.RpcMethodHandler, method: str, rid: str, parent) -> grpc.RpcMethodHandler:
    """A unary handler run with its request id and span (a stream's items are traced on their own, item_span)."""
    inner = handler.unary_unary

    async def unary(request, context):
        tracing.REQUEST_ID.set(rid)
        if not tracing.active():
            answer = inner(request, context)
            return await answer if inspect.isawaitable(answer) else answer
        with _server_span(method, rid, parent) as span:
            try:
                answer = inner(request, context)
                return await answer if inspect.isawaitable(answer) else answer
            finally:
                _server_result(span, context)

    return grpc.unary_unary_rpc_method_handler(unary, request_deserializer=handler.request_deserializer,
                                               response_serializer=handler.response_serializer)


# -- the client ----------------------------------------------------------------------------------

async def client_call(continuation, d: grpc.aio.ClientCallDetails, request, md: list, timeout):
    """Make the call ``d`` with metadata ``md`` plus the request id and the trace context."""
    if not tracing.active():
        md.extend(tracing.outgoing())
        return await continuation(grpc.aio.ClientCallDetails(d.method, timeout, md, d.credentials,
                                                             d.wait_for_ready), request)
    method = d.method.decode() if isinstance(d.method, bytes) else d.method
    attrs = _method_attrs(method)
    rid = tracing.REQUEST_ID.get()
    if rid:
        attrs[tracing.REQUEST_ID_ATTR] = rid
    span = tracing.tracer().start_span(method.lstrip("/"), kind=SpanKind.CLIENT, attributes=attrs)
    with trace.use_span(span, end_on_exit=False):
        md.extend(tracing.outgoing())
    try:
        call = await continuation(grpc.aio.ClientCallDetails(d.method, timeout, md, d.credentials,
                                                             d.wait_for_ready), request)
    except BaseException:
        _finish(span, grpc.StatusCode.UNKNOWN)
        raise
    task = asyncio.ensure_future(_end_client_span(span, call))
    _pending.add(task)
    task.add_done_callback(_pending.discard)
    return call


async def _end_client_span(span: trace.Span, call) -> None:
    try:
        code = await call.code()
        trailers = await call.trailing_metadata() if code != grpc.StatusCode.OK else ()
    except BaseException:  # cancelled with the loop: end the span all the same
        _finish(span, grpc.StatusCode.CANCELLED)
        raise
    _finish(span, code, _error_code(trailers))


# -- stream items --------------------------------------------------------------------------------

def _item_attrs(what: str, rid: str) -> dict[str, str]:
    attrs = {"rpc.system": "grpc", "rpc.method": what, "ecert.stream_item": "1"}
    if rid:
        attrs[tracing.REQUEST_ID_ATTR] = rid
    return attrs


def item_client_span(what: str):
    """A CLIENT span around one request sent as an item of the stream ``what`` (``VerifyStream``);
    None when not tracing. The caller ends it (:func:`end_item_client_span`)."""
    if not tracing.active():
        return None
    return tracing.tracer().start_span(f"{what} item", kind=SpanKind.CLIENT,
                                       attributes=_item_attrs(what, tracing.REQUEST_ID.get()))


def stamp(item, span) -> None:
    """Give a stream item the request id of this task and ``span``'s trace context."""
    rid = tracing.REQUEST_ID.get()
    if rid:
        item.request_id = rid
    if span is not None:
        carrier: dict[str, str] = {}
        tracing.PROPAGATOR.inject(carrier, context=trace.set_span_in_context(span))
        item.traceparent = carrier.get("traceparent", "")


def _failed(span: trace.Span, error_code: str) -> None:
    span.set_status(Status(StatusCode.ERROR, error_code))
    span.set_attribute("ecert.error_code", error_code)


def end_item_client_span(span, error_code: str = "") -> None:
    if span is None:
        return
    if error_code:
        _failed(span, error_code)
    span.end()


class item_span:
    """Run one stream item's request with its request id set and, when tracing, in a SERVER span
    (its parent the item's ``traceparent``). ``failed(code)`` records a domain error's code."""

    __slots__ = ("_cm", "span")

    def __init__(self, item, what: str):
        rid = tracing.clean_request_id(item.request_id)
        tracing.REQUEST_ID.set(rid)  # the item's own task (streams.serve runs one per item)
        self._cm = None
        self.span = None
        if tracing.active():
            parent = tracing.PROPAGATOR.extract({"traceparent": item.traceparent}) if item.traceparent else None
            self._cm = tracing.tracer().start_as_current_span(
                f"{what} item", context=parent, kind=SpanKind.SERVER, attributes=_item_attrs(what, rid),
                record_exception=False, set_status_on_exception=False)

    def __enter__(self):
        if self._cm is not None:
            self.span = self._cm.__enter__()
        return self

    def failed(self, error_code: str) -> None:
        if self.span is not None:
            _failed(self.span, error_code)

    def __exit__(self, *exc):
        if self._cm is not None:
            return self._cm.__exit__(*exc)
        return False
