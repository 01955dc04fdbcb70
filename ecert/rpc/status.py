"""The one table between the core's errors and gRPC status codes, both ways.

Servicers answer a domain error with its status here and its ``code`` (and ``field``) in
trailing metadata; clients turn the status and the code back into the error class. Every gRPC
site (unary servicers and clients, both ends of the streams) goes through these functions.

The message's catalogue key, its params and the field problems (all schema failures at once)
travel in one more trailer, ``ecert-error-detail-bin``: compact JSON
``{"k": key, "p": params, "e": [[field, code, params, key], ...]}`` of at most
:data:`MAX_DETAIL_BYTES` (problems past that are dropped from the end; the params' ``count``
still says how many there were). What arrives is checked (types, sizes) and anything else ignored.
"""

from __future__ import annotations

import json
from typing import Any

import grpc

from ..errors import (
    ConfigError,
    Conflict,
    MAX_PROBLEMS,
    EcertError,
    FieldProblem,
    FormatError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RuleViolation,
    StoreError,
    TooLarge,
    Unauthenticated,
    Unavailable,
    UnsupportedMedia,
)

CODE_TRAILER = "ecert-error-code"
FIELD_TRAILER = "ecert-error-field"
DETAIL_TRAILER = "ecert-error-detail-bin"
MAX_DETAIL_BYTES = 4096
"""The detail trailer's bound (gRPC's metadata is 8 KiB by default, the message included)."""
_MAX_TEXT = 256  # a key, a param name, a field name or a text param longer than this is dropped
_MAX_PARAMS = 16
_MAX_LIST = 32

_TO_GRPC: dict[type[EcertError], grpc.StatusCode] = {
    InvalidRequest: grpc.StatusCode.INVALID_ARGUMENT,
    FormatError: grpc.StatusCode.INVALID_ARGUMENT,
    Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    NotFound: grpc.StatusCode.NOT_FOUND,
    Conflict: grpc.StatusCode.ALREADY_EXISTS,
    TooLarge: grpc.StatusCode.OUT_OF_RANGE,
    UnsupportedMedia: grpc.StatusCode.UNIMPLEMENTED,
    RuleViolation: grpc.StatusCode.FAILED_PRECONDITION,
    Unavailable: grpc.StatusCode.UNAVAILABLE,
    StoreError: grpc.StatusCode.UNAVAILABLE,
    ConfigError: grpc.StatusCode.INTERNAL,
    EcertError: grpc.StatusCode.INTERNAL,
}

# A status back to the class that stands for it (the first class above with that status).
_FROM_GRPC: dict[grpc.StatusCode, type[EcertError]] = {}
for _cls, _status in _TO_GRPC.items():
    _FROM_GRPC.setdefault(_status, _cls)
_FROM_GRPC[grpc.StatusCode.DEADLINE_EXCEEDED] = Unavailable
_FROM_GRPC[grpc.StatusCode.INTERNAL] = EcertError
_BY_NUMBER = {sc.value[0]: sc for sc in grpc.StatusCode}


def to_grpc(err: EcertError) -> grpc.StatusCode:
    """The gRPC status a domain error is answered with (its nearest class in the table)."""
    for cls in type(err).__mro__:
        status = _TO_GRPC.get(cls)
        if status is not None:
            return status
    return grpc.StatusCode.INTERNAL


def to_grpc_number(err: EcertError) -> int:
    """:func:`to_grpc` as the number a stream answer carries."""
    return to_grpc(err).value[0]


def from_grpc(status: grpc.StatusCode, code: str | None, message: str, field: str | None = None) -> EcertError:
    """Rebuild a domain error from a gRPC status and the ``ecert-error-code`` trailer."""
    if status is grpc.StatusCode.UNIMPLEMENTED and not code:
        # gRPC's own answer for a method the server lacks (a backend older than its caller),
        # not a servicer's UnsupportedMedia (which always carries its code).
        return Unavailable("a backend service does not offer this call yet", code="BACKEND_OUTDATED")
    if status in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED) and not code:
        return Unavailable("a backend service is unavailable")  # the transport's own failure
    err = _FROM_GRPC.get(status, EcertError)(message, code=code or None)
    blamed = tuple(f for f in (field or "").split(",") if f)  # two fields that disagree travel as "a,b"
    err.field = blamed[0] if blamed else None
    err.fields = blamed if len(blamed) > 1 else ()
    return err


def from_number(status: int, code: str, message: str, field: str = "", detail: bytes = b"") -> EcertError:
    """The domain error a stream answer reports as (gRPC status number, error code, message, field,
    and the :func:`detail` bytes)."""
    err = from_grpc(_BY_NUMBER.get(status, grpc.StatusCode.UNKNOWN), code or None, message, field)
    if detail and code:
        _read_detail(detail, err)
    return err


def trailers(err: EcertError) -> tuple[tuple[str, Any], ...]:
    """The trailing metadata that carries a domain error's code and field (fields, comma-separated),
    and its message key, params and problems when it has any."""
    out: tuple[tuple[str, Any], ...] = ((CODE_TRAILER, err.code),)
    if err.field:
        out += ((FIELD_TRAILER, ",".join(err.blamed)),)
    data = detail(err)
    if data:
        out += ((DETAIL_TRAILER, data),)
    return out


def _dump(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "replace")


def detail(err: EcertError) -> bytes:
    """The message key, params and problems of ``err`` as the detail trailer (and a stream answer's
    ``error_detail``) carries them: at most :data:`MAX_DETAIL_BYTES`; empty when it has none."""
    if not (err.key or err.params or err.problems):
        return b""
    head: dict[str, Any] = {}
    if err.key:
        head["k"] = err.key
    if err.params:
        head["p"] = _params(err.params)
    items = [[p.field, p.code, _params(p.params), p.key] for p in err.problems]
    while True:
        data = _dump({**head, "e": items} if items else head)
        if len(data) <= MAX_DETAIL_BYTES:
            return data
        if items:
            items = items[:len(items) // 2]  # halving: a few tries at most, however long the list
        elif "p" in head:
            head.pop("p")  # params too large to carry: the catalogue's text of the code instead
        else:
            return b""


def _text(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= _MAX_TEXT


def _params(params: Any) -> dict[str, Any]:
    """The params that may travel: text names; text, integer or list-of-text values, bounded."""
    if not isinstance(params, dict):
        return {}
    out: dict[str, Any] = {}
    for name, value in list(params.items())[:_MAX_PARAMS]:
        if not _text(name):
            continue
        if _text(value) or (isinstance(value, (int, float)) and not isinstance(value, bool)):
            out[name] = value
        elif isinstance(value, (list, tuple)) and len(value) <= _MAX_LIST and all(_text(v) for v in value):
            out[name] = list(value)
    return out


def _read_detail(raw: Any, err: EcertError) -> None:
    """Set ``err``'s key, params and problems from a detail trailer; a malformed one is ignored."""
    if isinstance(raw, str):
        raw = raw.encode()
    if not isinstance(raw, bytes) or len(raw) > MAX_DETAIL_BYTES:
        return
    try:
        detail = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        return
    if not isinstance(detail, dict):
        return
    if _text(detail.get("k")):
        err.key = detail["k"]
    err.params = _params(detail.get("p"))
    items = detail.get("e")
    if isinstance(items, list):
        err.problems = tuple(
            FieldProblem(i[0], i[1], _params(i[2]), i[3]) for i in items[:MAX_PROBLEMS]
            if isinstance(i, list) and len(i) == 4 and _text(i[0]) and _text(i[1]) and _text(i[3]))


def from_rpc_error(err: grpc.aio.AioRpcError) -> EcertError:
    """The domain error a failed client call stands for."""
    md = dict(err.trailing_metadata() or ())
    out = from_grpc(err.code(), md.get(CODE_TRAILER), err.details() or "", md.get(FIELD_TRAILER))
    if md.get(DETAIL_TRAILER) is not None and md.get(CODE_TRAILER):
        _read_detail(md[DETAIL_TRAILER], out)
    return out
