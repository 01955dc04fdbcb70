"""The OpenAPI 3.1 description of the gateway, served at ``GET /openapi.json``.

It is held to what the gateway does (``tests/test_openapi*.py``): one operation per registered
route, with its ``operationId`` and its area's tag (the route module's); who may call it
(``Roles: …`` and ``security``) is :data:`gateway.access.TABLE`'s word; the statuses it answers
are :data:`ANSWERS`' (with those every keyed route or role check gives, derived from the access
table), and only those; every number is :mod:`ecert.limits`'; the examples are real answers
(``gateway/openapi_examples.json``, recorded from a suite and checked against the schemas).
``servers`` is relative: the gateway that serves the document, whatever its address.
"""

from __future__ import annotations

import json
from pathlib import Path

from ecert.errors import MAX_PROBLEMS, Outcome
from ecert.format.presentation import MAX_TTL
from ecert.imaging.portrait import UPLOAD_TYPES
from ecert.limits import (
    DEFAULT_SEARCH_PAGE,
    DEFAULT_KEYS_PAGE,
    DEFAULT_TRAIL_PAGE,
    MAX_BATCH,
    MAX_BODY,
    MAX_CLIENT_ID,
    MAX_CURSOR,
    MAX_EPOCH,
    MAX_FIELDS_BYTES,
    MAX_HOLDER_ID,
    MAX_IMAGE_BYTES,
    MAX_IMAGE_PIXELS,
    MAX_KEY_LABEL,
    MAX_KEYS_PAGE,
    MAX_NAME,
    MAX_OFFLINE_AGE,
    MAX_OFFLINE_CHECKS,
    MAX_ORG,
    MAX_PAYLOAD_CHARS,
    MAX_PHOTO_BYTES,
    MAX_PHOTO_PIXELS,
    MAX_PHOTO_UPLOADS_WAITING,
    MAX_PURPOSE,
    MAX_QUOTA,
    MAX_REGION_LISTS_BYTES,
    MAX_REQUEST_ID,
    MAX_RULE_ITEMS,
    MAX_SCHEMA_BYTES,
    MAX_SEARCH_PAGE,
    MAX_SPKI,
    MAX_TRAIL_PAGE,
    MAX_TYPE_VERSION,
    MAX_VALID_DAYS,
    MIN_PHOTO_SIDE,
    MULTIPART_OVERHEAD,
    PHOTO_ASPECT,
    PHOTO_STORED_SIDE,
)
from ecert.messages import CONTENT_LANGUAGE
from ecert.rules.trail import HASHED_KEYS, HOLDER_KEYS
from ecert.vocab import (
    KEY_ROLES,
    CredentialStatus,
    KeyStatus,
    Purpose,
    StatusAction,
    StatusAnswer,
    TrailAction,
)

from .access import BODY, PATH, QUERY, RECORD, TABLE, Rule, roles_text

EXAMPLES_FILE = Path(__file__).with_name("openapi_examples.json")
"""Real answers, by ``operationId`` and status (``tests/test_openapi_answers.py`` records them
from a suite, ``ECERT_WRITE_OPENAPI_EXAMPLES=1``, and holds them to the schemas)."""

REGION_PATTERN = "^[A-Z]{2}-[A-Z0-9]{1,3}$"
"""An ISO 3166-2 subdivision code, as :func:`ecert.rules.schema.is_region_code` takes it."""
TYPE_ID_PATTERN = r"^[a-z0-9_][a-z0-9._]*\.[a-z0-9._]*[a-z0-9_]$"
"""A certificate type id (dotted lower case, 3 to 64 characters): :func:`ecert.rules.schema.check_type_id`."""

TAGS = [
    {"name": "registry", "description": "Regions, their keys, certificate types, the trust list, key rotation"},
    {"name": "rules", "description": "Recognition rules: what each purpose accepts, whom each region recognises"},
    {"name": "credentials", "description": "Issuing, reading, finding and changing the status of credentials"},
    {"name": "presentations", "description": "Show codes (EP1) made on the holder's behalf"},
    {"name": "trail", "description": "Who used a credential: its access log"},
    {"name": "photos", "description": "The regions' photo libraries"},
    {"name": "verifications", "description": "Verifying EC1 credentials and EP1 show codes"},
    {"name": "api-keys", "description": "API keys and their lifecycle"},
    {"name": "operations", "description": "Liveness, readiness, metrics and this document"},
    {"name": "scanner", "description": "The scanner page for hotel desks and roadside checks"},
    {"name": "offline", "description": "What a page that verifies on its own needs (the root key it pins, the root "
                                       "chain, the status lists), and the checks it made offline, into the trail"},
]
AREA_TAGS = {"apikeys": "api-keys"}
"""A route module's tag where it is not the module's name (``gateway.routes.<module>``)."""


def _size(n: int) -> str:
    """Bytes as the document says them: ``10 MiB``, ``64 KiB``."""
    for unit, factor in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n % factor == 0:
            return f"{n // factor} {unit}"
    return f"{n:,} bytes"


def _count(n: int) -> str:
    return f"{n // 1_000_000} million" if n % 1_000_000 == 0 else f"{n:,}"


def _base64_chars(n: int) -> int:
    """Characters of the base64 text of ``n`` bytes (padded)."""
    return (n + 2) // 3 * 4


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict) -> dict:
    return {"content": {"application/json": {"schema": schema}}}


# -- the statuses each operation answers ---------------------------------------------------------

_UNAVAILABLE = "a backend is unavailable or did not answer in time (`UNAVAILABLE`)"
_REGION_UNAVAILABLE = ("`REGION_UNAVAILABLE`: the region's issuer is offline or did not answer in time; "
                       "`UNAVAILABLE`, `STORE_UNAVAILABLE`, `BACKEND_OUTDATED`")
_TRAIL_BUSY = ("`TRAIL_BUSY`: the issuing region's trail was contended on every try (the entry this call "
               "appends could not be written): send it again")
_TRAIL_UNAVAILABLE = ("`TRAIL_UNAVAILABLE`: the verifier cannot record the check (it is stopping, or its outbox "
                      "cannot be written), and gives no answer unrecorded: try again")
_SIGNING_KEY_UNAVAILABLE = ("`SIGNING_KEY_UNAVAILABLE`: the region's issuer has no key it may sign with (its "
                            "current one revoked or retired and no new one could be made)")
_BAD_JSON = "`INVALID_REQUEST`: a member missing, of the wrong type or out of range; `MALFORMED_JSON`"
_TOO_LARGE = f"`PAYLOAD_TOO_LARGE`: the body is over `ECERT_MAX_BODY` (default {_size(MAX_BODY)})"
_NO_CREDENTIAL = ("`NOT_FOUND`: no such credential among the regions the caller may read (any text that is not a "
                  "credential id, `:` included, is one)")
_RULES_CHANGED = "`UNAVAILABLE`: the registry did not answer in time"

SCANNER_FILES = {"scan.js": "application/javascript", "scan.css": "text/css",
                 "manifest.webmanifest": "application/manifest+json", "icon-192.png": "image/png",
                 "icon-512.png": "image/png", "scanner.js": "application/javascript",
                 "sw.js": "application/javascript", "zxing_reader.wasm": "application/wasm"}
"""The scanner page's files by name, and their types (gateway/routes/scanner.py serves exactly these)."""

ANSWERS: dict[tuple[str, str], dict[int, str]] = {
    ("GET", "/healthz"): {},
    ("GET", "/readyz"): {503: "a backend or the store is not reachable"},
    ("GET", "/metrics"): {},
    ("GET", "/openapi.json"): {},
    ("GET", "/scan"): {304: "the caller holds this page (If-None-Match); no body"},
    ("GET", "/scan/{name}"): {304: "the caller holds these bytes (If-None-Match); no body",
                              404: "`NOT_FOUND`: no such file of the page (or the front end not built)"},
    ("GET", "/scan/root-key.pem"): {304: "the caller holds this key (If-None-Match); no body",
                                    404: "`NOT_FOUND`: this gateway has no root public key configured "
                                         "(`ECERT_ROOT_PUBLIC_KEY`)"},
    ("GET", "/v1/trust-list/root-chain.cbor"): {
        304: "the caller holds the chain of this trust-list version (If-None-Match); no body",
        503: f"{_UNAVAILABLE}, with no copy of the registry's list yet"},
    ("GET", "/v1/status-lists"): {
        304: "the caller holds the newest (If-None-Match): a uri's list signed no later, or a region's shards "
             "none of which was signed anew; no body",
        400: "`INVALID_REQUEST`: neither or both of `uri` and `region`, a uri that is no status list's, a region "
             "that is no region code, `since` or `from_shard` out of range",
        404: "`NOT_FOUND`: the region's issuer has no such list; `REGION_UNKNOWN`: the trust list names no such "
             "region",
        503: f"{_UNAVAILABLE}; {_REGION_UNAVAILABLE}, or answered a list that does not check against the trust list"},
    ("POST", "/v1/verifications:offline"): {
        400: f"{_BAD_JSON}: no checks, more than {MAX_OFFLINE_CHECKS}, a check with a member other than those "
             "described, an id that is no UUID, a credential id, region or outcome that is none, a time that is "
             f"not RFC 3339 or over {MAX_OFFLINE_AGE // 86400} days old, a region the trust "
             "list does not name; `PURPOSE_UNKNOWN`",
        403: "`FORBIDDEN`: the role may not verify; `PURPOSE_NOT_ALLOWED`: a check for a purpose the key may not name",
        413: _TOO_LARGE,
        503: f"{_UNAVAILABLE}; {_REGION_UNAVAILABLE} (nothing is lost: send the same checks again, those recorded "
             "come back as duplicates)"},
    ("GET", "/v1/regions"): {503: f"{_UNAVAILABLE}, with no copy of the registry's answer yet"},
    ("POST", "/v1/regions"): {
        400: f"{_BAD_JSON}; the code is not ISO 3166-2, the name empty or over {MAX_NAME} characters",
        409: "`REGION_EXISTS`", 413: _TOO_LARGE, 503: _UNAVAILABLE},
    ("POST", "/v1/regions/{code}/keys"): {
        400: f"{_BAD_JSON}; `ALG_NOT_ALLOWED`: not ES256/EdDSA, or the SPKI of another algorithm; `exp` not after "
             "`nbf`",
        404: "`NOT_FOUND`: no such region", 409: "`CONFLICT`: the same kid with another SPKI; `KEY_IN_USE`: another "
                                                 "region holds this public key (whoever asks)",
        413: _TOO_LARGE, 503: _UNAVAILABLE},
    ("POST", "/v1/regions/{code}/keys/{kid}:revoke"): {
        400: "`INVALID_REQUEST`: the region code or the kid (16 hex digits) is malformed",
        404: "`NOT_FOUND`: no such region or key", 503: _UNAVAILABLE},
    ("POST", "/v1/regions/{code}/signing-key:rotate"): {
        400: _BAD_JSON, 404: "`REGION_UNKNOWN`: no such region", 409: "`REQUEST_ID_REUSED`",
        413: _TOO_LARGE, 503: f"{_REGION_UNAVAILABLE}; {_SIGNING_KEY_UNAVAILABLE}"},
    ("POST", "/v1/trust-list/root-key:rotate"): {409: "`CONFLICT`: another rotation is under way",
                                                 503: _UNAVAILABLE},
    ("GET", "/v1/certificate-types"): {503: f"{_UNAVAILABLE}, with no copy of the registry's answer yet"},
    ("POST", "/v1/certificate-types"): {
        400: f"{_BAD_JSON}; `SCHEMA_MALFORMED`: the schema or its document rules are unusable",
        409: "`CONFLICT`: this type version was published with other content", 413: _TOO_LARGE,
        503: _UNAVAILABLE},
    ("GET", "/v1/trust-list"): {503: f"{_UNAVAILABLE}, with no copy of the registry's list yet"},
    ("GET", "/v1/trust-list.cbor"): {503: f"{_UNAVAILABLE}, with no copy of the registry's list yet"},
    ("GET", "/v1/recognition-rules"): {503: f"{_UNAVAILABLE}, with no copy of the registry's rules yet"},
    ("PUT", "/v1/recognition-rules/purposes/{purpose}"): {
        400: f"{_BAD_JSON}; `PURPOSE_UNKNOWN`: the path's purpose", 413: _TOO_LARGE,
        422: "`TYPE_UNKNOWN`: a type of which no version is published (`fields`: `types`)", 503: _RULES_CHANGED},
    ("PUT", "/v1/recognition-rules/regions/{region}"): {
        400: f"{_BAD_JSON}; the path's region is neither ISO 3166-2 nor `*`",
        404: "`REGION_UNKNOWN`: the path's region does not exist", 413: _TOO_LARGE,
        422: "`REGION_UNKNOWN`: a region in `recognises` does not exist", 503: _RULES_CHANGED},
    ("GET", "/v1/purposes"): {},
    ("POST", "/v1/credentials"): {
        400: f"{_BAD_JSON} (`valid_days` 1 to {MAX_VALID_DAYS:,}, `version` 0 to {MAX_TYPE_VERSION:,}, "
             f"`request_id` at most {MAX_REQUEST_ID} characters); `PHOTO_*` for a malformed `photo`",
        404: "`REGION_UNKNOWN`: no such region",
        409: "`REQUEST_ID_REUSED`: the `request_id` was used for another request; `DUPLICATE`",
        413: _TOO_LARGE,
        422: "the fields break the rules, all of them at once in `errors`: `SCHEMA_INVALID`, `FIELDS_INCONSISTENT`, "
             "`DOCUMENT_EXPIRED`, `DOCUMENT_NOT_YET_VALID`, `TYPE_UNKNOWN`, `PHOTO_UNKNOWN`, `PHOTO_NOT_ON_FILE`",
        503: f"{_REGION_UNAVAILABLE}; {_SIGNING_KEY_UNAVAILABLE}; {_TRAIL_BUSY}"},
    ("GET", "/v1/credentials"): {
        400: "`INVALID_REQUEST`: an unknown or repeated parameter, one over its length, a malformed filter or "
             "cursor, no region named (an admin must); `PURPOSE_UNKNOWN`",
        404: "`REGION_UNKNOWN`: no such region", 503: _REGION_UNAVAILABLE},
    ("GET", "/v1/credentials/{id}"): {404: _NO_CREDENTIAL, 503: _REGION_UNAVAILABLE},
    ("GET", "/v1/credentials/{id}/qr.{kind}"): {404: _NO_CREDENTIAL + "; or a kind other than png or svg",
                                                503: _REGION_UNAVAILABLE},
    ("POST", "/v1/credentials/{id}:{action}"): {
        404: f"{_NO_CREDENTIAL}; or an action other than {', '.join(a.value for a in StatusAction)}",
        409: "`STATUS_CONFLICT`: a forbidden transition (a revoked credential stays revoked), or a concurrent change",
        503: f"{_REGION_UNAVAILABLE}; {_TRAIL_BUSY}"},
    ("POST", "/v1/credentials/{id}/presentations"): {
        400: f"{_BAD_JSON}; `PURPOSE_UNKNOWN`", 404: _NO_CREDENTIAL,
        409: "`STATUS_CONFLICT`: the credential is not valid; `CREDENTIAL_EXPIRED`: it is past its `expires_at`",
        413: _TOO_LARGE, 503: f"{_REGION_UNAVAILABLE}; {_SIGNING_KEY_UNAVAILABLE}; {_TRAIL_BUSY}"},
    ("GET", "/v1/credentials/{id}/presentations/{token_id}/qr.png"): {
        404: f"{_NO_CREDENTIAL}; or no such show code; `PRESENTATION_USED`: it was verified already; "
             "`PRESENTATION_EXPIRED`: it is past its `expires_at` (make a fresh one)",
        409: "`STATUS_CONFLICT`: the credential is no longer valid", 503: _REGION_UNAVAILABLE},
    ("GET", "/v1/credentials/{id}/access-log"): {
        400: f"`INVALID_REQUEST`: `after` or `limit` is not a whole number in range", 404: _NO_CREDENTIAL,
        503: _REGION_UNAVAILABLE},
    ("POST", "/v1/photos"): {
        400: "`INVALID_REQUEST`: no region named (an admin must), an empty body; `IMAGE_CORRUPT`: a truncated or "
             "corrupt picture",
        404: "`REGION_UNKNOWN`: no such region",
        413: "`PAYLOAD_TOO_LARGE`: over the bytes or pixels a portrait may have (a decompression bomb)",
        415: "`UNSUPPORTED_MEDIA_TYPE`: declared as another type, or not a JPEG or PNG picture by its bytes",
        422: "`PHOTO_NOT_PORTRAIT`, `PHOTO_TOO_SMALL`",
        503: f"{_REGION_UNAVAILABLE}; `BUSY`: the region's issuer holds {MAX_PHOTO_UPLOADS_WAITING} uploads already "
             "(nothing is filed)"},
    ("GET", "/v1/photos/{digest}"): {
        304: "the caller holds these bytes (If-None-Match); no body",
        400: "`INVALID_REQUEST`: the digest is not 64 hex digits, or the region malformed; `PURPOSE_UNKNOWN`",
        403: "`FORBIDDEN`: the caller's role is shown the photo of no credential naming it (of the credential "
             "named); `PURPOSE_NOT_ALLOWED`",
        404: "`NOT_FOUND`: no credential naming this photo (or the credential named is unknown, or names another "
             "photo); `REGION_UNKNOWN`",
        503: f"{_REGION_UNAVAILABLE}; {_TRAIL_BUSY}; `PHOTO_MISMATCH`: the bytes a region sent do not hash to the "
             "digest"},
    ("POST", "/v1/verifications"): {
        400: f"{_BAD_JSON}; `MALFORMED_MULTIPART`; `IMAGE_CORRUPT`: a truncated or corrupt picture; "
             "`PURPOSE_UNKNOWN`",
        403: "`FORBIDDEN`: the role may not verify; `PURPOSE_NOT_ALLOWED`: a purpose the role may not name",
        413: "`PAYLOAD_TOO_LARGE`: the body or the picture is too large (bytes or pixels)",
        415: "`UNSUPPORTED_MEDIA_TYPE`: the picture is not PNG, JPEG or WebP",
        503: f"{_UNAVAILABLE}; `BUSY`: too many pictures are waiting to be read; {_TRAIL_UNAVAILABLE}"},
    ("POST", "/v1/verifications:batch"): {
        400: f"{_BAD_JSON}; more than {MAX_BATCH:,} payloads; `PURPOSE_UNKNOWN`",
        403: "`FORBIDDEN`: the role may not verify; `PURPOSE_NOT_ALLOWED`", 413: _TOO_LARGE,
        503: f"{_UNAVAILABLE}; {_TRAIL_UNAVAILABLE}"},
    ("POST", "/v1/api-keys"): {
        400: f"{_BAD_JSON}: a role, region, organisation, label, expiry, purposes or quota that is not one",
        403: "`FORBIDDEN`: an agency creating a key of another role or region, or above the role's quota",
        404: "`REGION_UNKNOWN`: no such region", 413: _TOO_LARGE, 503: "`STORE_UNAVAILABLE`; `UNAVAILABLE`"},
    ("GET", "/v1/api-keys"): {400: "`INVALID_REQUEST`: `limit` or `cursor` malformed", 503: "`STORE_UNAVAILABLE`"},
    ("POST", "/v1/api-keys/{id}:{action}"): {
        404: "`NOT_FOUND`: no such key among those the caller manages, or an action other than disable, enable, "
             "rotate", 409: "`CONFLICT`: a concurrent change", 503: "`STORE_UNAVAILABLE`"},
    ("DELETE", "/v1/api-keys/{id}"): {404: "`NOT_FOUND`: no such key among those the caller manages",
                                      503: "`STORE_UNAVAILABLE`"},
}
"""(method, path as :data:`gateway.access.TABLE` keys it) -> the statuses the route answers
besides its success and those :func:`derived_answers` adds, each with what it means there (the
codes it gives). Derived from what the handler and the backends it asks can raise; the tests
hold every answer seen to them."""


_AREAS = (("/scan/root-key.pem", "offline"), ("/v1/trust-list/root-chain.cbor", "offline"),
          ("/v1/status-lists", "offline"), ("/v1/verifications:offline", "offline"),
          ("/v1/credentials/{id}/presentations", "presentations"), ("/v1/credentials/{id}/access-log", "trail"),
          ("/v1/credentials", "credentials"), ("/v1/regions", "registry"), ("/v1/certificate-types", "registry"),
          ("/v1/trust-list", "registry"), ("/v1/recognition-rules", "rules"), ("/v1/purposes", "rules"),
          ("/v1/photos", "photos"), ("/v1/verifications", "verifications"), ("/v1/api-keys", "api-keys"),
          ("/scan", "scanner"), ("/", "operations"))


def area(path: str) -> str:
    """The tag of the operation at ``path``: its area, the route module that serves it (the tests
    hold the two to each other)."""
    return next(tag for prefix, tag in _AREAS if path.startswith(prefix))


def derived_answers(route: tuple[str, str], rule: Rule) -> dict[int, str]:
    """The statuses the access table implies: a keyed route 401 and 429 (before the handler), a
    route with roles or a region binding 403, a templated path 404 (a value the route does not
    match)."""
    out: dict[int, str] = {}
    if rule.key:
        out[401] = "`UNAUTHENTICATED`: no API key, or one that is unknown, disabled or expired"
        out[429] = ("`TOO_MANY_REQUESTS`: too many failed authentications from this address; `QUOTA_EXCEEDED`: "
                    "the key's request rate or daily volume is used up (see `Retry-After`)")
    if rule.roles or rule.region in (PATH, BODY, QUERY, RECORD):
        out[403] = "`FORBIDDEN`: the caller's role or region may not"
    if "{" in route[1]:
        out[404] = "`NOT_FOUND`: the path names nothing"
    return out


_RETRY_AFTER = {"Retry-After": {"description": "whole seconds to wait", "schema": {"type": "integer", "minimum": 0}}}
_REQUEST_ID_HEADER = {"X-Request-Id": {"$ref": "#/components/headers/RequestId"}}


_CONTENT_LANGUAGE = {"Content-Language": {"description": "the language of `message`: en or zh-CN, as "
                                                          "`Accept-Language` asked",
                                      "schema": {"enum": sorted(CONTENT_LANGUAGE.values())}}}


def _error_answer(status: int, text: str) -> dict:
    answer = {"description": text, "headers": {**_REQUEST_ID_HEADER, **_CONTENT_LANGUAGE}, **_json(_ref("Error"))}
    if status == 429:
        answer["headers"].update(_RETRY_AFTER)
    if status == 304:
        answer = {"description": text, "headers": dict(_REQUEST_ID_HEADER)}
    return answer


def _op(op_id: str, summary: str, route: tuple[str, str], *, ok: tuple[int, dict | None] = (200, None),
        body: dict | None = None, params: list | None = None, content: dict | None = None,
        description: str = "") -> dict:
    """One operation; ``route`` is its key in the access table (who may call it) and in
    :data:`ANSWERS` (what else it answers)."""
    rule = TABLE[route]
    text = f"Roles: {roles_text(rule)}." + (f" {description}" if description else "")
    success = {"description": "success", "headers": dict(_REQUEST_ID_HEADER),
               **(content or (_json(ok[1]) if ok[1] else {}))}
    answers = {**derived_answers(route, rule), **ANSWERS[route]}
    op: dict = {"operationId": op_id, "tags": [area(route[1])], "summary": summary, "description": text,
                "responses": {str(ok[0]): success,
                              **{str(s): _error_answer(s, answers[s]) for s in sorted(answers)}},
                "security": [{"bearer": []}] if rule.key else []}
    if body is not None:
        op["requestBody"] = {"required": True, **_json(body)}
    if params:
        op["parameters"] = params
    return op


def _path_param(name: str, description: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": schema or {"type": "string"},
            "description": description}


def _query(name: str, description: str, required: bool = False, schema: dict | None = None) -> dict:
    return {"name": name, "in": "query", "required": required, "schema": schema or {"type": "string"},
            "description": description}


_ID = _path_param("id", "credential id (unpadded base32 of the cti)")
_PURPOSE = _path_param("purpose", "what a verification is for", {"enum": [p.value for p in Purpose]})
_RULE_REGION = _path_param("region", "a caller's region, ISO 3166-2 (e.g. CN-SH), or `*` for callers bound to "
                                     "no region")
_CODE = _path_param("code", "region, ISO 3166-2 (e.g. CN-ZJ)")
_TEXTS = {"type": "array", "maxItems": MAX_RULE_ITEMS, "items": {"type": "string"}}
_TIME = {"type": ["string", "null"], "format": "date-time"}
_SET_TIME = {"type": "string", "format": "date-time"}
_HEX_KID = {"type": "string", "pattern": "^[0-9a-f]{16}$", "description": "16 hex digits"}
_INSTANT_IN = {"oneOf": [{"type": "string", "format": "date-time"},
                         {"type": "integer", "minimum": 0, "maximum": MAX_EPOCH}],
               "description": "RFC 3339 text, or (as before) epoch seconds"}
_PURPOSE_VALUE = {"enum": ["", *(p.value for p in Purpose)], "maxLength": MAX_PURPOSE,
                  "description": "what the check is for (GET /v1/purposes: the caller's); none: the role's default. "
                                 "An unknown one is 400 PURPOSE_UNKNOWN, one the role may not name 403 "
                                 "PURPOSE_NOT_ALLOWED"}
_REQUEST_ID = {"type": "string", "maxLength": MAX_REQUEST_ID}
_REGION_CODE = {"type": "string", "pattern": REGION_PATTERN, "description": "ISO 3166-2, e.g. CN-ZJ"}

SCHEMAS = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message", "request_id"],
        "properties": {
            "code": {"type": "string", "pattern": "^[A-Z][A-Z0-9_]*$", "description": "stable: act on this"},
            "message": {"type": "string", "description": "for people, in the language `Accept-Language` asks for "
                                                         "(Chinese or English)"},
            "request_id": {"type": "string", "description": "the answer's X-Request-Id"},
            "fields": {"type": "array", "items": {"type": "string"},
                       "description": "the request members to blame, when known (two fields that disagree, e.g. "
                                      "id_number and birth_date)"},
            "errors": {"type": "array", "maxItems": MAX_PROBLEMS,
                       "description": "every problem found (a 422 of the fields: all of them at once, "
                                      f"at most {MAX_PROBLEMS}), each with its field, item code and message",
                       "items": {"type": "object", "required": ["field", "code", "message"], "properties": {
                           "field": {"type": "string"}, "code": {"type": "string"},
                           "message": {"type": "string"}}}}}}}},
    "Key": {"type": "object", "required": ["kid", "alg", "status", "nbf", "exp"], "properties": {
        "kid": _HEX_KID, "alg": {"enum": ["ES256", "EdDSA"]},
        "status": {"enum": [s.value for s in KeyStatus]},
        "nbf": {**_TIME, "description": "the start of the key's window, RFC 3339"},
        "exp": {**_TIME, "description": "its end, RFC 3339"}}},
    "Region": {"type": "object", "required": ["code", "name", "keys"], "properties": {
        "code": {"type": "string"}, "name": {"type": "string"}, "keys": {"type": "array", "items": _ref("Key")}}},
    "CertificateType": {"type": "object", "required": ["id", "version", "name", "schema", "disclosure"],
                        "properties": {
        "id": {"type": "string"}, "version": {"type": "integer"}, "name": {"type": "string"},
        "schema": {"type": "object", "description": "JSON Schema draft 2020-12"},
        "disclosure": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}}},
    "CertificateTypeRequest": {"type": "object", "required": ["id", "name", "schema"], "properties": {
        "id": {"type": "string", "pattern": TYPE_ID_PATTERN, "minLength": 3, "maxLength": 64},
        "version": {"type": "integer", "minimum": 1, "maximum": MAX_TYPE_VERSION, "description": "default 1"},
        "name": {"type": "string", "minLength": 1, "maxLength": MAX_NAME},
        "schema": {"oneOf": [{"type": "object"}, {"type": "string"}],
                   "description": f"JSON Schema draft 2020-12, as an object or as its JSON text, at most "
                                  f"{_size(MAX_SCHEMA_BYTES)} as UTF-8 JSON"},
        "disclosure": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}}},
    "RecognitionRules": {
        "type": "object", "required": ["purposes", "recognition", "trust_list_version"],
        "description": "The rules the trust list carries (its `rules` member): for each purpose the certificate "
                       "type ids it accepts (a purpose absent accepts nothing), for each caller region (`*`: "
                       "callers bound to no region) the regions whose credentials it recognises (a region absent "
                       "recognises none). A credential outside them verifies as `NOT_ACCEPTED_FOR_PURPOSE`.",
        "properties": {
            "purposes": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
            "recognition": {"type": "object",
                            "additionalProperties": {"type": "array", "items": {"type": "string"}}},
            "trust_list_version": {"type": "integer", "description": "the trust list that carries these rules"}}},
    "IssueRequest": {"type": "object", "required": ["region", "type", "fields"], "properties": {
        "region": _REGION_CODE, "type": {"type": "string", "maxLength": 64},
        "version": {"type": "integer", "minimum": 0, "maximum": MAX_TYPE_VERSION,
                    "description": "0 or absent: the type's newest version"},
        "fields": {"type": "object", "description": f"at most {_size(MAX_FIELDS_BYTES)} as UTF-8 JSON"},
        "valid_days": {"type": "integer", "minimum": 1, "maximum": MAX_VALID_DAYS,
                       "description": "absent: the issuer's default (ECERT_DEFAULT_VALID_DAYS)"},
        "request_id": {**_REQUEST_ID, "description": "the same request_id sent again returns the same credential"}}},
    "Credential": {"type": "object", "required": ["id", "region", "type", "version", "qr_text", "issued_at",
                                                  "expires_at", "status", "fields", "kid"], "properties": {
        "id": {"type": "string"}, "qr_text": {"type": "string", "description": "EC1:..."},
        "issued_at": _TIME, "expires_at": _TIME,
        "status": {"enum": [s.value for s in CredentialStatus]}, "region": {"type": "string"},
        "type": {"type": "string"}, "version": {"type": "integer"}, "fields": {"type": "object"},
        "kid": {**_HEX_KID, "description": "the signing key's id, 16 hex digits"},
        "display_id": {"type": "string", "description": "the number printed on the document, when its type has one"}}},
    "StatusChange": {"type": "object", "required": ["id", "status"], "properties": {
        "id": {"type": "string"}, "status": {"enum": [s.value for s in CredentialStatus]}}},
    "PresentationRequest": {"type": "object", "properties": {
        "purpose": {"enum": ["", *(p.value for p in Purpose)],
                    "description": "the purpose the holder chose (none: any): a check for another purpose answers "
                                   "NOT_ACCEPTED_FOR_PURPOSE"}}},
    "Presentation": {"type": "object", "required": ["token", "token_id", "credential_id", "issued_at", "expires_at",
                                                    "expires_in", "qr_png_url"], "properties": {
        "token": {"type": "string", "description": "EP1:..., the show code's text; verified once, at most "
                                                   f"{MAX_TTL} s after it is made"},
        "token_id": {"type": "string", "pattern": "^[0-9a-f]{32}$", "description": "the token's cti, 32 hex digits"},
        "credential_id": {"type": "string"}, "issued_at": _TIME, "expires_at": _TIME,
        "expires_in": {"type": "integer", "minimum": 0, "maximum": MAX_TTL,
                       "description": "seconds it is valid from now (count down from the answer's arrival: no "
                                      "clock needs to agree)"},
        "purpose": {"enum": [p.value for p in Purpose], "description": "the purpose the holder chose, if any"},
        "qr_png_url": {"type": "string", "description": "where the code is drawn (with the same key) while it is "
                                                        "live"}}},
    "VerifyRequest": {"type": "object", "required": ["payload"], "properties": {
        "payload": {"type": "string", "maxLength": MAX_PAYLOAD_CHARS, "description": "EC1:... or EP1:..."},
        "purpose": _PURPOSE_VALUE}},
    "Verification": {"type": "object", "required": ["result", "credential", "fields", "warnings", "status_checked",
                                                    "status", "status_as_of", "trust_list_version",
                                                    "trust_list_stale", "trust_list_as_of", "checked_at", "purpose"],
                     "properties": {
        "result": {"enum": [o.value for o in Outcome], "description": "VALID, or the outcome code of "
                                                                     "credential-format.md's table"},
        "credential": {"oneOf": [{"type": "null"}, {
            "type": "object", "required": ["id", "type", "version", "region", "issued_at", "expires_at"],
            "properties": {
                "id": {"type": "string"}, "type": {"type": "string"}, "version": {"type": "integer"},
                "region": {"type": "string"}, "issued_at": _TIME, "expires_at": _TIME,
                "display_id": {"type": "string", "description": "the number printed on the document, given when "
                                                                "the type is known and has one"}}}]},
        "fields": {"type": "object", "description": "only the fields the caller's role may see; for an authentic "
                                                    "credential that is not current (REVOKED, SUSPENDED, EXPIRED, "
                                                    "NOT_YET_VALID, NOT_ACCEPTED_FOR_PURPOSE) those of them that "
                                                    "say who it names; otherwise none"},
        "warnings": {"type": "array", "description": "lapsed secondary dates of the document (e.g. a vehicle's "
                                                     "inspection) in fields the caller may see; the result stays VALID",
                     "items": {"type": "object", "required": ["code", "field", "since"], "properties": {
                         "code": {"type": "string"}, "field": {"type": "string"},
                         "since": {"type": "string", "format": "date", "description": "the date the field gives"}}}},
        "purpose": {"enum": [p.value for p in Purpose], "description": "the purpose the credential was judged for"},
        "detail": {"type": "string", "description": "the reason, for any result but VALID (and for a VALID one "
                                                    "whose status could not be checked)"},
        "document": {"type": "object", "required": ["field", "date"],
                     "description": "given exactly when the result is EXPIRED or NOT_YET_VALID because of the "
                                    "document's own validity dates (its type's `x-validity`): the field that decided "
                                    "it and its date, China time (the detail names the same); absent otherwise, "
                                    "e.g. for a credential whose own `exp` or `nbf` decided",
                     "properties": {"field": {"type": "string", "description": "e.g. valid_until, valid_from"},
                                    "date": {"type": "string", "format": "date"}}},
        "status_checked": {"type": "boolean", "description": "true only when a status list within its validity "
                                                            "was consulted (a credential without a status claim: "
                                                            "false, `status` not_tracked)"},
        "status": {"enum": [*(s.value for s in StatusAnswer), None],
                   "description": "what the status list said: valid, revoked, suspended; not_tracked: the "
                                  "credential has no status claim (it cannot be revoked); unknown: no status list "
                                  "within its validity (the result stays VALID, `detail` says so); null: the check "
                                  "did not reach the status"},
        "status_as_of": {**_TIME, "description": "freshness: the issue time (iat) of the status list consulted; "
                                                 "null: none"},
        "trust_list_version": {"type": "integer"},
        "trust_list_stale": {"type": "boolean", "description": "freshness: the trust list used is past its exp, "
                                                              "dated ahead of the verifier's clock beyond the skew, "
                                                              "or was not refreshed within the verifier's bound "
                                                              "(ECERT_TRUST_LIST_MAX_AGE)"},
        "trust_list_as_of": {**_TIME, "description": "freshness: the issue time (iat) of the trust list used; null: "
                                                     "none"},
        "checked_at": _TIME,
        "code_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$",
                        "description": "(picture input only) SHA-256 hex of the code's text, to tell codes apart "
                                       "without repeating them"},
        "results": {"type": "array", "items": _ref("Verification"),
                    "description": "(picture input only) one verification per code in the picture, in reading "
                                   "order (top to bottom, left to right); the top-level fields repeat the first"}}},
    "VerifyImageRequest": {"type": "object", "required": ["image"], "properties": {
        "image": {"type": "string", "contentMediaType": "image/*",
                  "description": "a photo or screenshot of the QR code(s): PNG, JPEG or WebP, "
                                 f"at most {_size(MAX_IMAGE_BYTES)}"},
        "purpose": _PURPOSE_VALUE}},
}


# -- the operations ------------------------------------------------------------------------------

def _verify_op() -> dict:
    op = _op("verify", "Verify an EC1 credential or EP1 token, as text or as a picture of its QR code",
             ("POST", "/v1/verifications"), body=_ref("VerifyRequest"), ok=(200, _ref("Verification")),
             description=f"JSON bodies are at most {_size(MAX_BODY)}. A multipart/form-data body (at most "
                         f"{_size(MAX_IMAGE_BYTES)} + {_size(MULTIPART_OVERHEAD)}) carries a picture in the part "
                         f"`image` (PNG, JPEG or WebP, at most {_size(MAX_IMAGE_BYTES)} and "
                         f"{_count(MAX_IMAGE_PIXELS)} pixels) and an optional `purpose`; every code in it is "
                         "verified (`results`), and a picture without a code answers `NO_CODE_FOUND`.")
    op["requestBody"]["content"]["multipart/form-data"] = {
        "schema": _ref("VerifyImageRequest"),
        "encoding": {"image": {"contentType": "image/png, image/jpeg, image/webp"}}}
    return op


def _presentation_op() -> dict:
    op = _op("createPresentation", "Make a show code (EP1) for a valid credential, on the holder's behalf",
             ("POST", "/v1/credentials/{id}/presentations"), params=[_ID], body=_ref("PresentationRequest"),
             ok=(201, _ref("Presentation")),
             description=f"Single use and valid at most {MAX_TTL} s: a screenshot cannot be replayed. Verifying it "
                         "(`POST /v1/verifications`) checks its signature and freshness offline, then the issuing "
                         "region resolves it once (`TOKEN_ALREADY_USED` after that, at any verifier) and judges the "
                         "credential's status at that moment. The body is optional. Answered with "
                         "`Cache-Control: no-store`.")
    op["requestBody"]["required"] = False
    return op


_DIGEST = _path_param("digest", "the photo's SHA-256, 64 hex digits (a credential's `photo` field)",
                      {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"})
_PHOTO = {"type": "object", "required": ["digest", "region", "media_type", "width", "height"], "properties": {
    "digest": {"type": "string", "pattern": "^[0-9a-f]{64}$",
               "description": "SHA-256 hex of the stored bytes: what a credential's `photo` names"},
    "region": {"type": "string"}, "media_type": {"const": "image/jpeg"},
    "width": {"type": "integer", "maximum": PHOTO_STORED_SIDE},
    "height": {"type": "integer", "maximum": PHOTO_STORED_SIDE}}}


def _photo_upload_op() -> dict:
    op = _op("uploadPhoto", "File a portrait in a region's photo library", ("POST", "/v1/photos"), ok=(201, _PHOTO),
             params=[_query("region", "the library's region (ISO 3166-2); an agency's own when it names none",
                            schema=_REGION_CODE)],
             description=(
        "The body is the picture itself (declared image/jpeg, image/png or application/octet-stream, or not "
        "declared; another Content-Type is 415 before the body is read), JPEG or PNG by its own magic bytes (else "
        f"415), at most {_size(MAX_PHOTO_BYTES)} and {_count(MAX_PHOTO_PIXELS)} pixels, a portrait: "
        f"{PHOTO_ASPECT[0]:g} to {PHOTO_ASPECT[1]:g} times as tall as wide, the shorter side at least "
        f"{MIN_PHOTO_SIDE} pixels (else 422 `PHOTO_NOT_PORTRAIT` / `PHOTO_TOO_SMALL`). It is re-encoded to a JPEG "
        "of the pixels alone (no EXIF or location, no ICC profile, no text; upright; at most "
        f"{PHOTO_STORED_SIDE} pixels on its longer side) and kept once under the SHA-256 of the stored bytes: 201 "
        "when new, 200 when the library held this picture already. A credential's `photo` names that digest (422 "
        "`PHOTO_UNKNOWN` for one its region does not hold), or `{\"reuse_for\": \"<citizen ID number>\"}` for the "
        "portrait on file for its holder (422 `PHOTO_NOT_ON_FILE`)."))
    binary = {"schema": {"type": "string", "format": "binary", "maxLength": MAX_PHOTO_BYTES}}
    op["requestBody"] = {"required": True, "content": {media: binary for media in UPLOAD_TYPES}}
    op["responses"]["200"] = {"description": "the library held this picture already",
                              "headers": dict(_REQUEST_ID_HEADER), **_json(_PHOTO)}
    return op


def _photo_get_op() -> dict:
    return _op("getPhoto", "A credential's portrait", ("GET", "/v1/photos/{digest}"), params=[
        _DIGEST, _query("credential", "the credential that names this photo (its id); none: the newest credential "
                                      "naming it whose type shows it to the caller"),
        _query("region", "the region that issued it (ISO 3166-2); none: every region is asked"),
        _query("purpose", "what the caller looks for (one of its role's; none: the default), for the holder's "
                          "access log", schema=_PURPOSE_VALUE),
        {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"},
         "description": "the ETag held (the digest, quoted): 304 after the same checks"}],
        content={"content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}},
        description=(
        "Only for a credential that names this photo, and a caller whose role is shown `photo` for the "
        "credential's type. With the digest alone every region is asked at once, and the first to serve it "
        "answers; each looks among its newest credentials naming it for one whose type shows it to the caller. "
        "`region` asks that region only, `credential` names the credential. Fetched from the issuing region "
        "through the suite; the bytes are checked against the digest before they are served (503 "
        "`PHOTO_MISMATCH` if they differ). Each access is recorded in the access log of the credential it was "
        "served for. `ETag` is the digest; `Cache-Control: private, max-age=86400, immutable`."))


_TRAIL_ENTRY = {"type": "object", "required": list(HOLDER_KEYS), "properties": {
    "seq": {"type": "integer", "description": "the entry's place in its region's trail (a hash chain)"},
    "at": _TIME, "action": {"enum": [a.value for a in TrailAction]},
    "actor_org": {"type": "string", "description": "the organisation whose API key made the use"},
    "actor_role": {"type": "string"}, "actor_region": {"type": "string", "description": "where (its region)"},
    "purpose": {"type": "string", "description": "what for (a purpose's name, or empty)"},
    "result": {"type": "string", "description": "the outcome (VALID, REVOKED, ...) or, for a status change, the "
                                                 "new status"},
    "hash": {"type": "string", "description": "SHA-256 hex of the region's full entry as canonical JSON ("
                                              f"{', '.join(HASHED_KEYS)}; `at` in epoch seconds), of which this "
                                              "view shows a part: only an auditor with the store can recompute it "
                                              "(`ecert audit verify`). A holder can only see that where two of its "
                                              "entries are consecutive (`seq`), the later's `prev_hash` is the "
                                              "earlier's `hash`"},
    "prev_hash": {"type": "string", "description": "the hash of the entry before it in the region's trail"}}}


def _access_log_op() -> dict:
    return _op(
        "getAccessLog", "Who used a credential: its access log", ("GET", "/v1/credentials/{id}/access-log"), params=[
            _ID, _query("after", "entries past this seq (the previous page's `next`); 0 or none: from the first",
                        schema={"type": "integer", "minimum": 0, "maximum": MAX_EPOCH}),
            _query("limit", f"entries in the page, 1 to {MAX_TRAIL_PAGE} (default {DEFAULT_TRAIL_PAGE})",
                   schema={"type": "integer", "minimum": 1, "maximum": MAX_TRAIL_PAGE})],
        ok=(200, {"type": "object", "required": ["credential_id", "region", "entries", "next"], "properties": {
            "credential_id": {"type": "string"}, "region": {"type": "string"},
            "entries": {"type": "array", "maxItems": MAX_TRAIL_PAGE, "items": _TRAIL_ENTRY},
            "next": {"type": ["integer", "null"], "description": "the seq to ask after for the next page; null "
                                                                 "after the last"}}}),
        description=(
        "Read on the holder's behalf: every issuance, status change, show code, photo access, verification (at any "
        "verifier, of any region) and resolution of the credential, oldest first as its issuing region recorded "
        "them (a check at a verifier that could not reach the region for a while comes when it was delivered, "
        "with its own time), with the organisation, role and region of whoever made it, the purpose and the "
        "outcome; never a key or another credential. Each entry carries its hash and the previous entry's "
        "(`ecert audit verify` walks the whole chain). Answered with `Cache-Control: no-store`."))


_KID = {"type": "object", "required": ["kid"], "properties": {"kid": _HEX_KID}}


def _key_op() -> dict:
    op = _op("registerKey", "Register a public key whose private half is held elsewhere",
             ("POST", "/v1/regions/{code}/keys"), params=[_CODE], ok=(201, _KID), body={
                 "type": "object", "required": ["alg", "spki"], "properties": {
                     "alg": {"enum": ["ES256", "EdDSA"]},
                     "spki": {"type": "string", "maxLength": _base64_chars(MAX_SPKI),
                              "description": f"base64 DER, at most {MAX_SPKI:,} bytes"},
                     "nbf": {**_INSTANT_IN, "description": "the key's window starts (RFC 3339, or epoch seconds); "
                                                           "absent: now"},
                     "exp": {**_INSTANT_IN, "description": "it ends, after nbf (RFC 3339, or epoch seconds); "
                                                           "absent: nbf + 10 years"}}})
    op["responses"]["200"] = {"description": "that exact key was registered already",
                              "headers": dict(_REQUEST_ID_HEADER), **_json(_KID)}
    return op


_ROTATED = {"type": "object", "required": ["kid", "retired_kid", "nbf", "exp"], "properties": {
    "kid": {**_HEX_KID, "description": "the key the region's issuer signs with from now on"},
    "retired_kid": {"type": ["string", "null"], "pattern": "^[0-9a-f]{16}$",
                    "description": "the key it replaced, now retired (it still verifies what it signed inside its "
                                   "window); null: none"},
    "nbf": {**_TIME, "description": "the new key's window starts, RFC 3339"},
    "exp": {**_TIME, "description": "its end as registered, RFC 3339: two key lifetimes "
                                    "(ECERT_KEY_LIFETIME_DAYS) from now, or the registry's default window when keys "
                                    "have no lifetime"}}}


def _rotate_op() -> dict:
    op = _op("rotateSigningKey", "Rotate a region's signing key", ("POST", "/v1/regions/{code}/signing-key:rotate"),
             params=[_CODE], body={"type": "object", "properties": {"request_id": {
                 **_REQUEST_ID, "description": "the same request_id sent again answers the same rotation, never a "
                                               "second one"}}},
             ok=(201, _ROTATED),
             description="The region's issuer makes a new key, registers it (valid from now), signs with it from "
                         "then on and retires the old one at the registry (a retired key's window ends within 300 s: "
                         "it verifies what it signed before, never what is signed later). A new trust-list version "
                         "is published. The body is optional.")
    op["requestBody"]["required"] = False
    return op


_ROOT_ROTATED = {"type": "object", "required": ["kid", "previous_kid", "trust_list_version", "alg", "spki"],
                 "properties": {
    "kid": {**_HEX_KID, "description": "the new root key's"},
    "previous_kid": {**_HEX_KID, "description": "the root it replaced"},
    "trust_list_version": {"type": "integer", "description": "the first trust list signed by the new root (the one "
                                                             "before it, signed by the old root, announces it)"},
    "alg": {"enum": ["ES256", "EdDSA"], "description": "the new root's"},
    "spki": {"type": "string", "description": "base64 DER of the new root's public key: what a verifier set up from "
                                              "now on pins (running verifiers follow the announcement)"}}}


_READY_CHECKS = {"type": "object", "required": ["store", "registry", "verifier"],
                 "additionalProperties": {"type": "string", "description": "`ok`, or `unavailable: <error name>`"}}


def _readyz_op() -> dict:
    ok = {"type": "object", "required": ["status", "checks"],
          "properties": {"status": {"const": "ready"}, "checks": _READY_CHECKS}}
    not_ready = {"type": "object", "required": ["error", "status", "checks"], "properties": {
        "error": SCHEMAS["Error"]["properties"]["error"], "status": {"const": "not ready"}, "checks": _READY_CHECKS}}
    op = _op("getReadiness", "Backends reachable", ("GET", "/readyz"), ok=(200, ok),
             description="Each probe has 2 s. Not ready is 503 with the error body (code `UNAVAILABLE`, the message "
                         "naming what failed) beside `status` and `checks`.")
    op["responses"]["503"].update(_json(not_ready))
    return op


_SUMMARY = {"type": "object", "required": ["id", "region", "type", "version", "status", "issued_at", "expires_at"],
            "properties": {k: SCHEMAS["Credential"]["properties"][k] for k in (
                "id", "region", "type", "version", "status", "issued_at", "expires_at", "display_id")}}


def _search_op() -> dict:
    instant = {"type": "string", "format": "date-time", "maxLength": 40}
    return _op(
        "searchCredentials", "Find a region's credentials", ("GET", "/v1/credentials"), params=[
            _query("region", "the region searched (ISO 3166-2); an agency's own when it names none (an admin names "
                             "one)", schema=_REGION_CODE),
            _query("type", "a certificate type id", schema={"type": "string", "pattern": TYPE_ID_PATTERN,
                                                            "maxLength": 64}),
            _query("status", "the credentials' status", schema={"enum": [s.value for s in CredentialStatus]}),
            _query("issued_after", "issued at or after this instant (RFC 3339 with its offset)", schema=instant),
            _query("issued_before", "issued before this instant (RFC 3339 with its offset)", schema=instant),
            _query("holder_id", "the holder's ID number, looked up by its keyed hash (never kept in clear)",
                   schema={"type": "string", "maxLength": MAX_HOLDER_ID}),
            _query("limit", f"credentials in the page, 1 to {MAX_SEARCH_PAGE} (default {DEFAULT_SEARCH_PAGE})",
                   schema={"type": "integer", "minimum": 1, "maximum": MAX_SEARCH_PAGE}),
            _query("cursor", "the previous page's `next_cursor`, with the same filters",
                   schema={"type": "string", "maxLength": MAX_CURSOR}),
            _query("purpose", "what the search is for, for the holders' access logs", schema=_PURPOSE_VALUE)],
        ok=(200, {"type": "object", "required": ["items", "next_cursor"], "properties": {
            "items": {"type": "array", "maxItems": MAX_SEARCH_PAGE, "items": _SUMMARY},
            "next_cursor": {"type": ["string", "null"], "description": "for the next page; null after the last"}}}),
        description="Newest first, a page at a time; no field of the documents, no QR text. Any other query "
                    "parameter is 400. Each credential a search returns is recorded in its access log (the "
                    "trail). Answered with `Cache-Control: no-store`.")


def _status_change_op() -> dict:
    action = _path_param("action", "what to do", {"enum": [a.value for a in StatusAction]})
    return _op("changeCredentialStatus", "Revoke, suspend or reinstate a credential",
               ("POST", "/v1/credentials/{id}:{action}"), params=[_ID, action], ok=(200, _ref("StatusChange")),
               description="`:revoke` is final; `:suspend` and `:reinstate` go between valid and suspended. The "
                           "verifiers learn it from the region's next status list. No body.")


_REVOKED = {"type": "object", "required": [*SCHEMAS["Key"]["required"], "revoked_at"], "properties": {
    **SCHEMAS["Key"]["properties"], "revoked_at": {**_TIME, "description": "when it was revoked (the first time), "
                                                                        "RFC 3339"}}}
_KEY_TIME = {**_TIME, "description": "RFC 3339; null: none"}
_API_KEY = {"type": "object", "required": ["id", "role", "region", "org", "label", "status", "created_at",
                                           "expires_at", "purposes", "quota", "last_used_at"], "properties": {
    "id": {"type": "string", "pattern": "^[0-9a-f]{12}$", "description": "the key's id (not its secret)"},
    "role": {"enum": [r.value for r in KEY_ROLES]}, "region": {"type": ["string", "null"]},
    "org": {"type": "string", "maxLength": MAX_ORG, "description": "the organisation holding it, as the trail names "
                                                                  "the checker"},
    "label": {"type": "string", "maxLength": MAX_KEY_LABEL},
    "status": {"enum": ["active", "disabled", "expired"]},
    "created_at": _KEY_TIME, "expires_at": _KEY_TIME, "last_used_at": {**_TIME, "description": "its last use, "
                                                                                              "RFC 3339 (to about a "
                                                                                              "minute); null: never"},
    "rotated_at": _KEY_TIME, "created_by": {"type": ["string", "null"], "description": "the id of the key that "
                                                                                       "created it"},
    "purposes": {"type": "array", "items": {"enum": [p.value for p in Purpose]},
                 "description": "the purposes it may verify for (empty: all of its role's)"},
    "quota": {"type": "object", "description": "its own quota (per_minute, per_day; 0: no limit), over its role's",
              "additionalProperties": {"type": "integer", "minimum": 0}}}}
_SECRET = {"key": {"type": "string", "description": "the secret: shown in this answer only, never again"},
           "secret": {"type": "string", "description": "the same as `key`"}}
_KEY_ID = _path_param("id", "the key's id (12 hex digits)")


def _api_key_ops() -> dict:
    create = _op("createApiKey", "Create an API key", ("POST", "/v1/api-keys"), body={
        "type": "object", "required": ["role"], "properties": {
            "role": {"enum": [r.value for r in KEY_ROLES]},
            "region": {**_REGION_CODE, "description": "the region it is bound to (an agency key needs one)"},
            "org": {"type": "string", "maxLength": MAX_ORG}, "label": {"type": "string", "maxLength": MAX_KEY_LABEL},
            "expires_at": {"type": "string", "format": "date-time", "description": "RFC 3339; none: never"},
            "purposes": {"type": "array", "minItems": 1, "items": {"enum": [p.value for p in Purpose]}},
            "quota": {"type": "object", "description": "its own quota (0: no limit); an agency's at most the "
                                                       "role's", "properties": {
                "per_minute": {"type": "integer", "minimum": 0, "maximum": MAX_QUOTA},
                "per_day": {"type": "integer", "minimum": 0, "maximum": MAX_QUOTA}}}}},
        ok=(201, {"type": "object", "required": [*_API_KEY["required"], "key"],
                  "properties": {**_API_KEY["properties"], **_SECRET}}),
        description="Admins create any key; an agency the agency keys of its own region. The secret is in this "
                    "answer only: the store keeps its hash.")
    listed = _op("listApiKeys", "The API keys the caller manages", ("GET", "/v1/api-keys"), params=[
        _query("limit", f"keys in the page, 1 to {MAX_KEYS_PAGE} (default {DEFAULT_KEYS_PAGE})",
               schema={"type": "integer", "minimum": 1, "maximum": MAX_KEYS_PAGE}),
        _query("cursor", "the previous page's `next_cursor`")],
        ok=(200, {"type": "object", "required": ["keys", "next_cursor"], "properties": {
            "keys": {"type": "array", "maxItems": MAX_KEYS_PAGE, "items": _API_KEY},
            "next_cursor": {"type": ["string", "null"], "description": "null on the last page"}}}),
        description="By id; never a secret.")
    action = _op("changeApiKey", "Disable, enable or rotate an API key", ("POST", "/v1/api-keys/{id}:{action}"),
                 params=[_KEY_ID, _path_param("action", "what to do", {"enum": ["disable", "enable", "rotate"]})],
                 ok=(200, _API_KEY),
                 description="A disabled key is refused within a second by every gateway process. `:rotate` answers "
                             "201 with a new secret; the old one keeps working for ECERT_API_KEY_ROTATE_OVERLAP "
                             "seconds (`previous_secret_expires_at`).")
    action["responses"]["201"] = {"description": "rotated: the new secret", "headers": dict(_REQUEST_ID_HEADER),
                                  **_json({"type": "object", "required": [*_API_KEY["required"], "key",
                                                                          "previous_secret_expires_at"],
                                           "properties": {**_API_KEY["properties"], **_SECRET,
                                                          "previous_secret_expires_at": _SET_TIME}})}
    delete = _op("deleteApiKey", "Delete an API key", ("DELETE", "/v1/api-keys/{id}"), params=[_KEY_ID], ok=(204, None),
                 description="It is refused from then on; its record is gone.")
    return {"/v1/api-keys": {"post": create, "get": listed}, "/v1/api-keys/{id}:{action}": {"post": action},
            "/v1/api-keys/{id}": {"delete": delete}}


_KIND = _path_param("kind", "the picture's format", {"enum": ["png", "svg"]})


def _offline_ops() -> dict:
    """What a page that verifies on its own needs, and its offline checks back (gateway/routes/offline.py)."""
    cbor_array = {"content": {"application/cbor": {"schema": {"type": "string", "contentMediaType": "application/cbor"}}}}
    check = {"type": "object", "additionalProperties": False,
             "required": ["id", "credential_id", "region", "result", "checked_at"], "properties": {
                 "id": {"type": "string", "format": "uuid", "maxLength": MAX_CLIENT_ID,
                        "description": "the page's own id for the check: the same id again is the same check"},
                 "credential_id": {"type": "string", "pattern": "^[A-Za-z2-7]{26}$"},
                 "region": _REGION_CODE,
                 "result": {"enum": [o.value for o in Outcome],
                            "description": "the outcome the page reached; those naming no credential (a forgery, "
                                           "an unreadable code) are answered as ignored, not recorded"},
                 "purpose": _PURPOSE_VALUE,
                 "checked_at": {"type": "string", "format": "date-time",
                                "description": f"when the page checked (the device's clock): at most "
                                               f"{MAX_OFFLINE_AGE // 86400} days ago; one ahead of the verifier's clock "
                                               "beyond its skew is recorded at its delivery"}}}
    return {
        "/scan/root-key.pem": {"get": _op(
            "getScannerRootKey", "The root public key the scanner page pins", ("GET", "/scan/root-key.pem"),
            content={"content": {"application/x-pem-file": {"schema": {"type": "string"}}}},
            description="The registry's root public key the verifier is pinned to (`ECERT_ROOT_PUBLIC_KEY`), as "
                        "SubjectPublicKeyInfo PEM, served with the page: the page checks the trust list's signature "
                        "against it (following `GET /v1/trust-list/root-chain.cbor`). ETag: its kid.")},
        "/v1/trust-list/root-chain.cbor": {"get": _op(
            "getRootChain", "The root rotations' announcements (a CBOR array)", ("GET", "/v1/trust-list/root-chain.cbor"),
            content=cbor_array,
            description="Every root rotation's announcement, oldest first: a CBOR array of byte strings, each a "
                        "trust list (COSE_Sign1) signed by the root before, naming the next in `next_root`; an empty "
                        "array when the root never rotated. ETag: the trust-list version.")},
        "/v1/status-lists": {"get": _op(
            "getStatusLists", "Signed status lists: one by its uri, or every shard of a region",
            ("GET", "/v1/status-lists"),
            params=[_query("uri", "a status list's uri (`urn:ecert:status:<region>:<shard>`), as a credential names it",
                           schema={"type": "string", "maxLength": 256}),
                    _query("region", "instead of `uri`: every shard of this region", schema=_REGION_CODE),
                    _query("since", "a region's: only the lists signed at or after this iat (epoch seconds)",
                           schema={"type": "integer", "minimum": 0, "maximum": MAX_EPOCH}),
                    _query("from_shard", "a region's: the first shard (what `ECert-Next-Shard` said)",
                           schema={"type": "integer", "minimum": 0, "maximum": 65536})],
            content={"content": {"application/cose": {"schema": {"type": "string",
                                                                 "contentMediaType": "application/cose"}},
                                 **cbor_array["content"]}},
            description="A uri's list: the COSE_Sign1 bytes as its region signed them (application/cose), `ETag` its "
                        "iat, `Cache-Control: private, max-age=<ttl>`; `If-None-Match` with the ETag held answers 304 "
                        "unless a newer one was signed. A region's: a CBOR array of byte strings, each a shard's "
                        "signed list (application/cbor), those signed at or after `since`; `ETag` the version of all "
                        "its shards (304 to `If-None-Match` while none was signed anew); at most "
                        f"{_size(MAX_REGION_LISTS_BYTES)} of lists an answer, the rest from the shard the "
                        "`ECert-Next-Shard` header names. Each list is checked by the verifier against the trust list "
                        "before it is passed on; the page checks it again.")},
        "/v1/verifications:offline": {"post": _op(
            "recordOfflineChecks", f"Deliver up to {MAX_OFFLINE_CHECKS} checks a page made offline to the trail",
            ("POST", "/v1/verifications:offline"),
            body={"type": "object", "required": ["checks"], "additionalProperties": False, "properties": {
                "checks": {"type": "array", "minItems": 1, "maxItems": MAX_OFFLINE_CHECKS, "items": check}}},
            ok=(200, {"type": "object", "required": ["accepted", "duplicates", "ignored"], "properties": {
                "accepted": {"type": "integer", "minimum": 0, "description": "entries new in the trails"},
                "duplicates": {"type": "integer", "minimum": 0,
                               "description": "checks the trails held already (sent before: a retry)"},
                "ignored": {"type": "integer", "minimum": 0,
                            "description": "checks of outcomes the trail does not keep (nobody's credential)"}}}),
            description="Each check becomes one `verify` entry in its issuing region's trail, with the caller's key "
                        "as the checker (organisation, role, region) and the time the page checked; its entry is "
                        "named by the caller's key and the check's id, so the same checks sent again record nothing "
                        "more. No personal data: a check names the credential by its id. All or nothing for the "
                        "checks' shape (400 names `checks[i].<member>`); a region that cannot be reached is 503, "
                        "and the page sends the same checks again.")},
    }


PATHS = {
    "/healthz": {"get": _op("getHealth", "Process alive", ("GET", "/healthz"), ok=(200, {
        "type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}}))},
    "/readyz": {"get": _readyz_op()},
    "/metrics": {"get": _op("getMetrics", "Prometheus metrics", ("GET", "/metrics"),
                            content={"content": {"text/plain": {"schema": {"type": "string"}}}})},
    "/openapi.json": {"get": _op("getOpenApi", "This document", ("GET", "/openapi.json"),
                                 ok=(200, {"type": "object", "required": ["openapi", "paths"]}))},
    "/scan": {"get": _op("getScannerPage", "The scanner page for hotel desks and roadside checks: camera, picture "
                         "upload and handheld-scanner input; it asks for the operator's API key once per browser "
                         "session", ("GET", "/scan"), content={"content": {"text/html": {}}})},
    "/scan/{name}": {"get": _op("getScannerAsset", "A file of the scanner page", ("GET", "/scan/{name}"),
                                params=[_path_param("name", "the file", {"enum": list(SCANNER_FILES)})],
                                content={"content": {kind: {} for kind in dict.fromkeys(SCANNER_FILES.values())}},
                                description="The page's files: its script and style, the web manifest and icons, "
                                            "and the built offline half (`scanner.js`, the service worker `sw.js`, "
                                            "served with `Service-Worker-Allowed: /scan`, and `zxing_reader.wasm`). "
                                            "Each with an ETag; `If-None-Match` answers 304")},
    "/v1/regions": {
        "get": _op("listRegions", "Regions and their keys", ("GET", "/v1/regions"), ok=(200, {
            "type": "object", "required": ["regions"], "properties": {
                "regions": {"type": "array", "items": _ref("Region")}}}),
            description="Sorted by code; each key's `kid` in hex and its window (`nbf`, `exp`) in RFC 3339."),
        "post": _op("createRegion", "Create a region", ("POST", "/v1/regions"), ok=(201, _ref("Region")), body={
            "type": "object", "required": ["code", "name"],
            "properties": {"code": _REGION_CODE, "name": {"type": "string", "minLength": 1, "maxLength": MAX_NAME}}})},
    "/v1/regions/{code}/keys": {"post": _key_op()},
    "/v1/regions/{code}/keys/{kid}:revoke": {"post": _op(
        "revokeKey", "Revoke a key", ("POST", "/v1/regions/{code}/keys/{kid}:revoke"),
        params=[_CODE, _path_param("kid", "hex key id (16 digits)")],
        ok=(200, _REVOKED),
        description="Permanent: the key verifies nothing from the verifiers' next trust-list refresh "
                    "(`KEY_REVOKED`). The region's issuer is told at once and stops signing with it (it rotates to "
                    "a new key, or answers 503 `SIGNING_KEY_UNAVAILABLE`); if it cannot be told, it learns it on its "
                    "own refresh.")},
    "/v1/regions/{code}/signing-key:rotate": {"post": _rotate_op()},
    "/v1/certificate-types": {
        "get": _op("listCertificateTypes", "Certificate types", ("GET", "/v1/certificate-types"), ok=(200, {
            "type": "object", "required": ["types"], "properties": {
                "types": {"type": "array", "items": _ref("CertificateType")}}})),
        "post": _op("publishCertificateType", "Publish a certificate type version", ("POST", "/v1/certificate-types"),
                    ok=(201, _ref("CertificateType")), body=_ref("CertificateTypeRequest"),
                    description="201 also when it is identical to one already stored.")},
    "/v1/trust-list": {"get": _op(
        "getTrustList", "The trust list as JSON", ("GET", "/v1/trust-list"),
        ok=(200, {"type": "object", "required": ["v", "iat", "exp", "regions", "types"]}),
        description="The signed payload (credential-format.md §6) as JSON, with its byte strings as base64, as the "
                    "contract has it: so here, and only here, a key's `kid` and `spki` are base64 and the times "
                    "(`iat`, `exp`, a key's `nbf`, `exp`, `revoked_at`) are epoch seconds, as signed. "
                    "`GET /v1/regions` gives the same keys with hex kids and RFC 3339 times.")},
    "/v1/trust-list/root-key:rotate": {"post": _op(
        "rotateRootKey", "Rotate the registry's root key", ("POST", "/v1/trust-list/root-key:rotate"),
        ok=(201, _ROOT_ROTATED),
        description="A new root key is made; one last trust list signed by the old root announces it "
                    "(`next_root`), and every list after is signed by the new one. Verifiers pinned to the old "
                    "root follow the announcement; the old private key is deleted. No body.")},
    "/v1/trust-list.cbor": {"get": _op(
        "getTrustListCbor", "The signed trust list (COSE_Sign1)", ("GET", "/v1/trust-list.cbor"), content={
            "content": {"application/cose": {"schema": {"type": "string", "contentMediaType": "application/cose"}}}})},
    "/v1/recognition-rules": {"get": _op(
        "getRecognitionRules", "The recognition rules", ("GET", "/v1/recognition-rules"),
        ok=(200, _ref("RecognitionRules")),
        description="Which certificate types each purpose accepts and whose credentials each region recognises, as "
                    "the current trust list carries them.")},
    "/v1/recognition-rules/purposes/{purpose}": {"put": _op(
        "setPurposeTypes", "Set the certificate types a purpose accepts",
        ("PUT", "/v1/recognition-rules/purposes/{purpose}"),
        params=[_PURPOSE], body={"type": "object", "required": ["types"], "properties": {"types": _TEXTS}},
        ok=(200, _ref("RecognitionRules")),
        description="Exactly these from now on (an empty list: none). Each change publishes a new trust-list "
                    "version; the same list again publishes none.")},
    "/v1/recognition-rules/regions/{region}": {"put": _op(
        "setRecognition", "Set whose credentials a region's callers recognise",
        ("PUT", "/v1/recognition-rules/regions/{region}"),
        params=[_RULE_REGION], body={"type": "object", "required": ["recognises"],
                                     "properties": {"recognises": _TEXTS}},
        ok=(200, _ref("RecognitionRules")),
        description="Exactly these regions' credentials from now on (an empty list: none). Each change publishes a "
                    "new trust-list version; the same list again publishes none.")},
    "/v1/purposes": {"get": _op(
        "listPurposes", "The purposes the caller may verify for", ("GET", "/v1/purposes"), ok=(200, {
            "type": "object", "required": ["purposes", "role"], "properties": {"purposes": {"type": "array", "items": {
                "type": "object", "required": ["id", "name", "default"], "properties": {
                    "id": {"enum": [p.value for p in Purpose]},
                    "name": {"type": "string", "description": "中文 / English"},
                    "default": {"type": "boolean", "description": "the one a verification naming none is for"}}}},
                "role": {"enum": [r.value for r in KEY_ROLES], "description": "the caller's role"},
                "region": {"type": ["string", "null"],
                           "description": "the caller's key's region (null: a key bound to none)"}}}),
        description="A verification's `purpose` is one of these (another is 403 `PURPOSE_NOT_ALLOWED`, an unknown "
                    "one 400 `PURPOSE_UNKNOWN`).")},
    "/v1/credentials": {"post": _op("issueCredential", "Issue a credential", ("POST", "/v1/credentials"),
                                    ok=(201, _ref("Credential")), body=_ref("IssueRequest")),
                        "get": _search_op()},
    "/v1/credentials/{id}": {"get": _op("getCredential", "A credential record", ("GET", "/v1/credentials/{id}"),
                                        params=[_ID], ok=(200, _ref("Credential")))},
    "/v1/credentials/{id}/qr.{kind}": {"get": _op(
        "getCredentialQr", "The credential's QR code (PNG or SVG)", ("GET", "/v1/credentials/{id}/qr.{kind}"),
        params=[_ID, _KIND], content={"content": {"image/png": {}, "image/svg+xml": {}}})},
    "/v1/credentials/{id}:{action}": {"post": _status_change_op()},
    "/v1/credentials/{id}/presentations": {"post": _presentation_op()},
    "/v1/credentials/{id}/presentations/{token_id}/qr.png": {"get": _op(
        "getPresentationQr", "A live show code as a QR code (PNG)",
        ("GET", "/v1/credentials/{id}/presentations/{token_id}/qr.png"),
        params=[_ID, _path_param("token_id", "the show code's token_id (32 hex digits)")],
        content={"content": {"image/png": {}}},
        description="Never cached (`Cache-Control: no-store`); 404 once it was verified or is past its "
                    "`expires_at`: make a fresh one.")},
    "/v1/credentials/{id}/access-log": {"get": _access_log_op()},
    "/v1/verifications": {"post": _verify_op()},
    "/v1/photos": {"post": _photo_upload_op()},
    "/v1/photos/{digest}": {"get": _photo_get_op()},
    "/v1/verifications:batch": {"post": _op(
        "verifyBatch", f"Verify up to {MAX_BATCH:,} payloads", ("POST", "/v1/verifications:batch"),
        body={"type": "object", "required": ["payloads"], "properties": {
            "payloads": {"type": "array", "maxItems": MAX_BATCH, "items": {"type": "string"}},
            "purpose": _PURPOSE_VALUE}},
        ok=(200, {"type": "object", "required": ["results"], "properties": {
            "results": {"type": "array", "maxItems": MAX_BATCH, "items": _ref("Verification")}}}),
        description="The results in the order of the payloads, each as `POST /v1/verifications` answers it.")},
    **_api_key_ops(),
    **_offline_ops(),
}


def _with_examples(paths: dict) -> dict:
    """``paths`` with each JSON answer's example (a real one) from :data:`EXAMPLES_FILE`."""
    examples = json.loads(EXAMPLES_FILE.read_text(encoding="utf-8")) if EXAMPLES_FILE.exists() else {}
    for item in paths.values():
        for op in item.values():
            for status, example in examples.get(op["operationId"], {}).items():
                answer = op["responses"].get(status, {})
                media = answer.get("content", {}).get("application/json")
                if media is not None:
                    media["example"] = example
    return paths


OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "E-certificate mutual recognition gateway", "version": "1.1.0",
             "description": "HTTP/JSON front door of the suite. Errors: {\"error\": {code, message, request_id}}. "
                            "Times are RFC 3339 text (UTC) and key ids hex, except in the signed trust list's JSON "
                            "view (`GET /v1/trust-list`), which keeps the signed encoding (base64 bytes, epoch "
                            "seconds) as the contract has it. Browsers may call from the origins configured in "
                            "ECERT_CORS_ORIGINS."},
    "servers": [{"url": "/", "description": "the gateway serving this document"}],
    "security": [{"bearer": []}],
    "tags": TAGS,
    "paths": _with_examples(PATHS),
    "components": {"schemas": SCHEMAS,
                   "headers": {"RequestId": {"description": "the request's id: the one sent (if it matches "
                                                            f"[A-Za-z0-9._:-]{{1,{MAX_REQUEST_ID}}}) or one made",
                                             "schema": {"type": "string"}}},
                   "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                                  "description": "API key from `ecert apikey create`"}}},
}
