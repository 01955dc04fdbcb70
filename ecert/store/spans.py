"""A span around every operation of the :class:`~ecert.store.base.Store`, when tracing is on.

:func:`traced` wraps each public coroutine method of the class: the span ``store.<method>`` (a
CLIENT span, the store being another process or a file) says which backend (``db.system.name``:
``sqlite`` or ``mongodb``) and which operation (``db.operation.name``), and on a failure the
error's class (``error.type``), never its message. Nothing the method was given or answered is
recorded: no field value, no ID number, no key, not even a document id. Off (:mod:`ecert.tracing`),
a wrapper costs one test of a flag.
"""

from __future__ import annotations

import functools
import inspect

from opentelemetry.trace import SpanKind, Status, StatusCode

from .. import tracing

_SYSTEMS = {"SQLiteBackend": "sqlite", "MongoBackend": "mongodb"}


def traced(cls: type) -> type:
    """Wrap every public ``async def`` of ``cls`` (the class decorator of Store)."""
    for name, fn in list(vars(cls).items()):
        if not name.startswith("_") and inspect.iscoroutinefunction(fn):
            setattr(cls, name, _wrap(name, fn))
    return cls


def _wrap(name: str, fn):
    span_name = f"store.{name}"

    @functools.wraps(fn)
    async def method(self, *args, **kwargs):
        if not tracing.active():
            return await fn(self, *args, **kwargs)
        system = _SYSTEMS.get(type(self.backend).__name__, "other")
        with tracing.tracer().start_as_current_span(
                span_name, kind=SpanKind.CLIENT, record_exception=False, set_status_on_exception=False,
                attributes={"db.system.name": system, "db.operation.name": name}) as span:
            try:
                return await fn(self, *args, **kwargs)
            except BaseException as err:
                span.set_attribute("error.type", type(err).__name__)
                span.set_status(Status(StatusCode.ERROR, type(err).__name__))
                raise

    return method
