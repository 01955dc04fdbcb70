"""The one table between the core's errors and HTTP statuses, and the error body.

Every error answer has the contract's body ``{"error": {"code", "message", "request_id"}}``,
its ``message`` in the language the request's ``Accept-Language`` asks for (Chinese or English,
:func:`ecert.messages.negotiate`; the ``code`` never depends on it); an error with several
field failures adds ``errors: [{"field", "code", "message"}, ...]`` (all schema failures at once).
"""

from __future__ import annotations

from ecert import messages
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
    TooManyRequests,
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
    TooManyRequests: 429,
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


def error_body(code: str, message: str, request_id: str, fields: tuple[str, ...] = (),
               errors: list[dict] | tuple = ()) -> dict:
    """The error body; ``fields`` (an extension): the request members to blame, when known (two
    for fields that disagree, e.g. ``["id_number", "birth_date"]``); ``errors`` (an extension):
    every field failure, ``{"field", "code", "message"}`` each."""
    body = {"code": code, "message": _text(message), "request_id": request_id}
    if fields:
        body["fields"] = [_text(f) for f in fields]
    if errors:
        body["errors"] = [{k: _text(v) for k, v in item.items()} for item in errors]
    return {"error": body}


def _text(text: str) -> str:
    """A message quoting a path or a name may hold a lone surrogate: never a 500."""
    return text if text.isascii() else text.encode("utf-8", "replace").decode("utf-8")


def language(accept_language: str | None) -> str:
    """The language of an answer (``"en"`` | ``"zh"``) for the request's ``Accept-Language``."""
    return messages.negotiate(accept_language)


def request_language(headers) -> str:
    """:func:`language` of a request's headers: several ``Accept-Language`` lines are one list
    (RFC 9110, 5.3), read in order."""
    return language(", ".join(headers.getall("Accept-Language", ())))


def domain_error_body(err: EcertError, request_id: str, lang: str) -> dict:
    """The body answering domain error ``err`` in ``lang``: its message from the catalogue (its
    own English text in English), its field problems as ``errors``."""
    message = messages.error_message(err.code, lang, english=err.message, key=err.key, params=err.params,
                                     field=err.field, status=http_status(err))
    items = [{"field": p.field, "code": p.code,
              "message": messages.problem_message(p.field, p.code, p.params, lang, p.key)} for p in err.problems]
    return error_body(err.code, message, request_id, err.blamed, items)


def status_error_body(status: int, reason: str, request_id: str, lang: str) -> dict:
    """The body of an error answer aiohttp itself gave (no route, wrong method, ...) in ``lang``."""
    code = status_code(status)
    return error_body(code, messages.error_message(code, lang, english=reason or code, status=status), request_id)
