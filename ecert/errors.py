"""One small exception hierarchy at the library boundary, and the outcome codes.

Domain errors carry a stable UPPER_SNAKE ``code``; the transport edges map them:
servicers to gRPC status codes (plus the code in trailing metadata), the gateway
back to HTTP statuses. Verification outcomes are not exceptions for callers: they
are :class:`Outcome` values in a result.
"""

from __future__ import annotations

import enum

import grpc


class Outcome(str, enum.Enum):
    """Verification outcome codes, in the order the format spec checks them."""

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
    TOKEN_ALREADY_USED = "TOKEN_ALREADY_USED"
    REGION_UNAVAILABLE = "REGION_UNAVAILABLE"
    NO_CODE_FOUND = "NO_CODE_FOUND"
    VALID = "VALID"


class EcertError(Exception):
    """Base of every error the core raises on purpose."""

    code = "INTERNAL"
    http_status = 500
    grpc_status = grpc.StatusCode.INTERNAL

    def __init__(self, message: str = "", *, code: str | None = None, field: str | None = None):
        super().__init__(message or self.__class__.__doc__ or self.code)
        if code:
            self.code = code
        self.field = field

    @property
    def message(self) -> str:
        return str(self)


class InvalidRequest(EcertError):
    """The request is malformed."""

    code = "INVALID_REQUEST"
    http_status = 400
    grpc_status = grpc.StatusCode.INVALID_ARGUMENT


class Unauthenticated(EcertError):
    """No API key, or an unknown one."""

    code = "UNAUTHENTICATED"
    http_status = 401
    grpc_status = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(EcertError):
    """The caller's role or region may not do this."""

    code = "FORBIDDEN"
    http_status = 403
    grpc_status = grpc.StatusCode.PERMISSION_DENIED


class NotFound(EcertError):
    """No such object."""

    code = "NOT_FOUND"
    http_status = 404
    grpc_status = grpc.StatusCode.NOT_FOUND


class Conflict(EcertError):
    """The request conflicts with what is stored."""

    code = "CONFLICT"
    http_status = 409
    grpc_status = grpc.StatusCode.ALREADY_EXISTS


class TooLarge(EcertError):
    """The request is over a size limit."""

    code = "PAYLOAD_TOO_LARGE"
    http_status = 413
    grpc_status = grpc.StatusCode.OUT_OF_RANGE


class UnsupportedMedia(EcertError):
    """The body is not of a supported media type (e.g. a picture that is not PNG, JPEG or WebP)."""

    code = "UNSUPPORTED_MEDIA_TYPE"
    http_status = 415
    grpc_status = grpc.StatusCode.UNIMPLEMENTED


class RuleViolation(EcertError):
    """Well-formed, but against the rules (e.g. fields against the type's schema)."""

    code = "UNPROCESSABLE"
    http_status = 422
    grpc_status = grpc.StatusCode.FAILED_PRECONDITION


class Unavailable(EcertError):
    """A backend is unavailable."""

    code = "UNAVAILABLE"
    http_status = 503
    grpc_status = grpc.StatusCode.UNAVAILABLE


class FormatError(EcertError):
    """A wire-format object could not be read; ``outcome`` says which check failed."""

    code = "FORMAT_INVALID"
    http_status = 400
    grpc_status = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(self, outcome: Outcome, message: str = ""):
        super().__init__(message or outcome.value, code=outcome.value)
        self.outcome = outcome


class ConfigError(EcertError):
    """A required setting is missing or invalid."""

    code = "CONFIG_INVALID"


class StoreError(EcertError):
    """The store failed."""

    code = "STORE_UNAVAILABLE"
    http_status = 503
    grpc_status = grpc.StatusCode.UNAVAILABLE


class DuplicateKey(Conflict):
    """A unique key already exists in the store."""

    code = "DUPLICATE"


# The gateway turns a gRPC status back into the error class that raised it.
_BY_GRPC = {
    cls.grpc_status: cls
    for cls in (InvalidRequest, Unauthenticated, PermissionDenied, NotFound, Conflict,
                TooLarge, UnsupportedMedia, RuleViolation, Unavailable)
}
_BY_GRPC[grpc.StatusCode.DEADLINE_EXCEEDED] = Unavailable


def from_grpc(status: grpc.StatusCode, code: str | None, message: str) -> EcertError:
    """Rebuild a domain error from a gRPC status and the ``ecert-error-code`` trailer."""
    if status is grpc.StatusCode.UNIMPLEMENTED and not code:
        # gRPC's own answer for a method the server lacks (a backend older than its caller),
        # not a servicer's UnsupportedMedia (which always carries its code).
        return Unavailable("a backend service does not offer this call yet", code="BACKEND_OUTDATED")
    cls = _BY_GRPC.get(status, EcertError)
    err = cls(message, code=code or None)
    return err
