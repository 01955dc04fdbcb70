"""Logging set-up for the services: one line per event, no request data (no personal data).

Two formats (``ECERT_LOG_FORMAT``): ``text``, for a terminal, and ``json``, one object per line
for a log collector: ``{"ts", "level", "service", "logger", "message"}``, with the ``request_id``
of the request being served (:data:`ecert.tracing.REQUEST_ID`: the gateway's ``X-Request-Id``,
carried to every service in gRPC metadata) and, when tracing, its ``trace_id`` and ``span_id``, on
every line logged while serving it; ``exc`` holds a traceback.
"""

from __future__ import annotations

import json
import logging
import time

from opentelemetry import trace

from .. import tracing


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with the request's id (and trace) when one is being served."""

    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - arguments that do not fit the message: the line still one object
            message = f"{record.msg!s} (its arguments could not be formatted)"  # the arguments left out: data
        out = {"ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
               "level": record.levelname, "service": self.service, "logger": record.name,
               "message": message}
        rid = tracing.REQUEST_ID.get()
        if rid:
            out["request_id"] = rid
        if tracing.active():
            ctx = trace.get_current_span().get_span_context()
            if ctx.is_valid:
                out["trace_id"], out["span_id"] = f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}"
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        line = json.dumps(out, ensure_ascii=False)
        try:
            line.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate (bytes decoded with surrogateescape): escaped, still JSON
            line = json.dumps(out)
        return line


def formatter(fmt: str, name: str) -> logging.Formatter:
    """The formatter of ``fmt`` ("text" or "json") for the process ``name``."""
    if fmt == "json":
        return JsonFormatter(name)
    return logging.Formatter(f"%(asctime)s {name} %(levelname)s %(name)s: %(message)s")


def setup(level: str, name: str, fmt: str = "text") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(fmt, name))
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), handlers=[handler])
