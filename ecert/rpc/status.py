"""The one table between the core's errors and gRPC status codes, both ways.

Servicers answer a domain error with its status here and its ``code`` (and ``field``) in
trailing metadata; clients turn the status and the code back into the error class. Every gRPC
site (unary servicers and clients, both ends of the streams) goes through these functions.
"""

from __future__ import annotations

import grpc

from ..errors import (
    ConfigError,
    Conflict,
    EcertError,
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


def from_number(status: int, code: str, message: str, field: str = "") -> EcertError:
    """The domain error a stream answer reports as (gRPC status number, error code, message, field)."""
    return from_grpc(_BY_NUMBER.get(status, grpc.StatusCode.UNKNOWN), code or None, message, field)


def trailers(err: EcertError) -> tuple[tuple[str, str], ...]:
    """The trailing metadata that carries a domain error's code and field (fields, comma-separated)."""
    if err.field:
        return ((CODE_TRAILER, err.code), (FIELD_TRAILER, ",".join(err.blamed)))
    return ((CODE_TRAILER, err.code),)


def from_rpc_error(err: grpc.aio.AioRpcError) -> EcertError:
    """The domain error a failed client call stands for."""
    md = dict(err.trailing_metadata() or ())
    return from_grpc(err.code(), md.get(CODE_TRAILER), err.details() or "", md.get(FIELD_TRAILER))
