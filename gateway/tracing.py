"""The gateway's half of the request's context: the request id for the log lines, and the root span.

:func:`tracing_middleware` runs right inside ``errors_middleware`` (which chose the request id:
the caller's valid ``X-Request-Id`` or a new one, and set it for the request's task, so every log
line and every gRPC call of the request carries it). When tracing is on (:mod:`ecert.tracing`) it
runs the request in a SERVER span, the root of the request's trace (or the child of the caller's
W3C ``traceparent`` header, when one came: a proxy in front that traces too): the route's pattern
(``/v1/credentials/{id}``, never the path itself, which may hold an id), the method, the answer's
status, the error code of a refusal and the request id. Off, it costs one test of a flag.
"""

from __future__ import annotations

from aiohttp import web
from opentelemetry.trace import SpanKind, Status, StatusCode

from ecert import tracing
from ecert.errors import EcertError

from .keys import REQUEST_ID


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def tracing_middleware(request: web.Request, handler):
    if not tracing.active():
        return await handler(request)
    rid = request[REQUEST_ID]
    route = _route(request)
    attrs = {"http.request.method": request.method, "http.route": route, tracing.REQUEST_ID_ATTR: rid}
    parent = tracing.extract({k: v for k in ("traceparent", "tracestate") if (v := request.headers.get(k))})
    with tracing.tracer().start_as_current_span(f"{request.method} {route}", context=parent, kind=SpanKind.SERVER,
                                                attributes=attrs, record_exception=False,
                                                set_status_on_exception=False) as span:
        try:
            resp = await handler(request)
        except EcertError as err:
            span.set_attribute("ecert.error_code", err.code)
            span.set_status(Status(StatusCode.ERROR, err.code))
            raise
        except web.HTTPException as exc:
            span.set_attribute("http.response.status_code", exc.status)
            if exc.status >= 500:
                span.set_status(Status(StatusCode.ERROR, str(exc.status)))
            raise
        except BaseException as err:
            span.set_attribute("error.type", type(err).__name__)
            span.set_status(Status(StatusCode.ERROR, type(err).__name__))
            raise
        span.set_attribute("http.response.status_code", resp.status)
        if resp.status >= 500:
            span.set_status(Status(StatusCode.ERROR, str(resp.status)))
        return resp
