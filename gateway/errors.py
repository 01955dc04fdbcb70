"""The one table between the core's errors and HTTP statuses, and the error body.

Every error answer has the contract's body ``{"error": {"code", "message", "request_id"}}``.
"""

from __future__ import annotations

from ecert.errors import (
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

_HTTP: dict[type[EcertError], int] = {
    InvalidRequest: 400,
    FormatError: 400,
    Unauthenticated: 401,
    PermissionDenied: 403,
    NotFound: 404,
    Conflict: 409,
    TooLarge: 413,
    UnsupportedMedia: 415,
    RuleViolation: 422,
    Unavailable: 503,
    StoreError: 503,
    ConfigError: 500,
    EcertError: 500,
}

CODES_BY_STATUS = {400: "INVALID_REQUEST", 401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND",
                   405: "METHOD_NOT_ALLOWED", 409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE",
                   415: "UNSUPPORTED_MEDIA_TYPE", 422: "UNPROCESSABLE", 429: "TOO_MANY_REQUESTS",
                   503: "UNAVAILABLE"}
"""The code of an error answer that aiohttp itself gives (no route, wrong method, ...)."""


def http_status(err: EcertError) -> int:
    """The HTTP status a domain error is answered with (its nearest class in the table)."""
    for cls in type(err).__mro__:
        status = _HTTP.get(cls)
        if status is not None:
            return status
    return 500


def status_code(status: int) -> str:
    """The code of an answer with HTTP status ``status`` that aiohttp itself gave."""
    return CODES_BY_STATUS.get(status, "HTTP_ERROR")


def error_body(code: str, message: str, request_id: str, fields: tuple[str, ...] = ()) -> dict:
    """The error body; ``fields`` (an extension): the request members to blame, when known (two
    for fields that disagree, e.g. ``["id_number", "birth_date"]``)."""
    if not message.isascii():  # a message quoting a path or a name may hold a lone surrogate: never a 500
        message = message.encode("utf-8", "replace").decode("utf-8")
    body = {"code": code, "message": message, "request_id": request_id}
    if fields:
        body["fields"] = [f.encode("utf-8", "replace").decode("utf-8") for f in fields]
    return {"error": body}
