"""One small exception hierarchy at the library boundary, and the outcome codes.

Domain errors carry a stable UPPER_SNAKE ``code`` and, where one field is to blame, its name
(``field``); never a transport status. The edges map them, each in one table:
:mod:`ecert.rpc.status` to gRPC status codes and back, ``gateway.errors`` to HTTP statuses.
Verification outcomes are not exceptions for callers: they are :class:`Outcome` values in a
result (:mod:`ecert.rules.verify`).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, NamedTuple


class Outcome(str, enum.Enum):
    """Verification outcome codes, in the order the format contract checks them."""

    PREFIX_UNKNOWN = "PREFIX_UNKNOWN"
    BASE45_INVALID = "BASE45_INVALID"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    DECOMPRESS_FAILED = "DECOMPRESS_FAILED"
    COSE_MALFORMED = "COSE_MALFORMED"
    ALG_NOT_ALLOWED = "ALG_NOT_ALLOWED"
    KID_UNKNOWN = "KID_UNKNOWN"
    SIGNATURE_INVALID = "SIGNATURE_INVALID"
    KEY_REVOKED = "KEY_REVOKED"
    KEY_NOT_VALID_AT_IAT = "KEY_NOT_VALID_AT_IAT"
    CLAIMS_MALFORMED = "CLAIMS_MALFORMED"
    ISSUER_MISMATCH = "ISSUER_MISMATCH"
    NOT_YET_VALID = "NOT_YET_VALID"
    EXPIRED = "EXPIRED"
    TYPE_UNKNOWN = "TYPE_UNKNOWN"
    SCHEMA_INVALID = "SCHEMA_INVALID"
    REVOKED = "REVOKED"
    SUSPENDED = "SUSPENDED"
    NOT_ACCEPTED_FOR_PURPOSE = "NOT_ACCEPTED_FOR_PURPOSE"
    TOKEN_ALREADY_USED = "TOKEN_ALREADY_USED"
    REGION_UNAVAILABLE = "REGION_UNAVAILABLE"
    NO_CODE_FOUND = "NO_CODE_FOUND"
    VALID = "VALID"


MAX_PROBLEMS = 50
"""At most this many :class:`FieldProblem` travel with one error (the rest are counted only)."""


class FieldProblem(NamedTuple):
    """One failure of one field (an ``errors[]`` item of an answer): the field, a stable
    UPPER_SNAKE item ``code`` (``REQUIRED``, ``CHECK_CHARACTER``, ...) and the ``params`` its
    message is rendered with (:mod:`ecert.messages`, key ``key`` or ``"field." + code``). The
    params name the schema's terms (a length, the allowed values), never the value sent, except
    where a message is about the holder's own data (a birth date that disagrees with the ID
    number): such messages go to the caller only, never to a log."""

    field: str
    code: str
    params: Mapping[str, Any] = {}
    key: str = ""

    @property
    def message_key(self) -> str:
        return self.key or f"field.{self.code}"


class EcertError(Exception):
    """Base of every error the core raises on purpose.

    The English text (``str(err)``, :attr:`message`) never holds personal data and is what logs
    may show. ``key`` and ``params`` let an edge render the message in the caller's language
    (:mod:`ecert.messages`; without a key, the text of the ``code``); ``problems`` lists every
    field failure when there are several (``errors[]`` of the answer)."""

    code = "INTERNAL"

    def __init__(self, message: str = "", *, code: str | None = None, field: str | None = None,
                 fields: tuple[str, ...] = (), key: str | None = None, params: Mapping[str, Any] | None = None,
                 problems: tuple[FieldProblem, ...] = ()):
        super().__init__(message or self.__class__.__doc__ or self.code)
        if code:
            self.code = code
        self.field = field or (fields[0] if fields else None)
        self.fields = tuple(fields)
        """Every field to blame when it is more than one (two fields that disagree); else empty."""
        self.key = key
        """The message catalogue's key for this error (:mod:`ecert.messages`), or None: the code's text."""
        self.params = dict(params or {})
        """The parameters of the catalogue's message (names of fields, limits: never logged)."""
        self.problems = tuple(problems)[:MAX_PROBLEMS]
        """Every field failure, when the error stands for several (all schema failures at once)."""

    @property
    def blamed(self) -> tuple[str, ...]:
        """The fields to blame: :attr:`fields`, or :attr:`field` alone, or none."""
        return self.fields or ((self.field,) if self.field else ())

    @property
    def message(self) -> str:
        return str(self)


class InvalidRequest(EcertError):
    """The request is malformed."""

    code = "INVALID_REQUEST"


class Unauthenticated(EcertError):
    """No API key, or an unknown one."""

    code = "UNAUTHENTICATED"


class PermissionDenied(EcertError):
    """The caller's role or region may not do this."""

    code = "FORBIDDEN"


class NotFound(EcertError):
    """No such object."""

    code = "NOT_FOUND"


class Conflict(EcertError):
    """The request conflicts with what is stored."""

    code = "CONFLICT"


class TooLarge(EcertError):
    """The request is over a size limit."""

    code = "PAYLOAD_TOO_LARGE"


class UnsupportedMedia(EcertError):
    """The body is not of a supported media type (e.g. a picture that is not PNG, JPEG or WebP)."""

    code = "UNSUPPORTED_MEDIA_TYPE"


class RuleViolation(EcertError):
    """Well-formed, but against the rules (e.g. fields against the type's schema)."""

    code = "UNPROCESSABLE"


class Unavailable(EcertError):
    """A backend is unavailable."""

    code = "UNAVAILABLE"


class TooManyRequests(EcertError):
    """Over a limit of requests in a window (an API key's quota, code ``QUOTA_EXCEEDED``); try again
    in ``retry_after`` whole seconds."""

    code = "TOO_MANY_REQUESTS"

    def __init__(self, message: str = "", *, retry_after: int = 60, **kw):
        super().__init__(message, **kw)
        self.retry_after = max(1, int(retry_after))


class FormatError(EcertError):
    """A wire-format object could not be read; ``outcome`` says which check failed."""

    code = "FORMAT_INVALID"

    def __init__(self, outcome: Outcome, message: str = ""):
        super().__init__(message or outcome.value, code=outcome.value)
        self.outcome = outcome


class ConfigError(EcertError):
    """A required setting is missing or invalid."""

    code = "CONFIG_INVALID"


class StoreError(EcertError):
    """The store failed."""

    code = "STORE_UNAVAILABLE"


class DuplicateKey(Conflict):
    """A unique key already exists in the store."""

    code = "DUPLICATE"


CLIENT_ERRORS: tuple[type[EcertError], ...] = (
    InvalidRequest, Unauthenticated, PermissionDenied, NotFound, Conflict, TooLarge, UnsupportedMedia,
    RuleViolation, FormatError)
"""The errors that are the caller's to fix (the rest are the suite's or its backends')."""


def is_client_error(err: BaseException) -> bool:
    return isinstance(err, CLIENT_ERRORS)
