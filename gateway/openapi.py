"""The OpenAPI 3.1 description of the gateway, served at ``GET /openapi.json``.

Who may call each operation (``Roles: …`` and ``security``) is :data:`gateway.access.TABLE`'s
word; every number is :mod:`ecert.limits`'.
"""

from __future__ import annotations

from ecert.errors import Outcome
from ecert.format.presentation import MAX_TTL
from ecert.imaging.portrait import UPLOAD_TYPES
from ecert.limits import (
    DEFAULT_TRAIL_PAGE,
    MAX_BATCH,
    MAX_BODY,
    MAX_EPOCH,
    MAX_IMAGE_BYTES,
    MAX_IMAGE_PIXELS,
    MAX_PHOTO_BYTES,
    MAX_PHOTO_PIXELS,
    MAX_PHOTO_UPLOADS_WAITING,
    MAX_REQUEST_ID,
    MAX_RULE_ITEMS,
    MAX_TRAIL_PAGE,
    MAX_TYPE_VERSION,
    MAX_VALID_DAYS,
    MIN_PHOTO_SIDE,
    MULTIPART_OVERHEAD,
    PHOTO_ASPECT,
    PHOTO_STORED_SIDE,
)
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

from .access import TABLE, roles_text


def _size(n: int) -> str:
    """Bytes as the document says them: ``10 MiB``, ``64 KiB``."""
    for unit, factor in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n % factor == 0:
            return f"{n // factor} {unit}"
    return f"{n:,} bytes"


def _count(n: int) -> str:
    return f"{n // 1_000_000} million" if n % 1_000_000 == 0 else f"{n:,}"


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict) -> dict:
    return {"content": {"application/json": {"schema": schema}}}


_ERRORS = {str(code): {"description": text, **_json(_ref("Error"))} for code, text in (
    (400, "malformed request"), (401, "no or bad API key"), (403, "role or region not allowed"),
    (404, "unknown id"), (405, "the path names a resource without this method (see `Allow`)"),
    (409, "conflict"), (413, "too large"), (422, "against the rules"),
    (429, "too many failed authentications from this address (see `Retry-After`)"),
    (503, "a backend is unavailable or did not answer in time"))}


def _error(status: int, text: str) -> dict:
    """The answer ``status`` with ``text``: what it means for this operation (the codes it gives)."""
    return {str(status): {"description": text, **_json(_ref("Error"))}}


_UNAVAILABLE = _ERRORS["503"]["description"]
_TRAIL_BUSY = _error(503, f"{_UNAVAILABLE}; `TRAIL_BUSY`: the issuing region's trail was contended on every try "
                          "(the entry this call appends could not be written): send it again")


def _op(summary: str, route: tuple[str, str], *, ok: tuple[int, dict | None] = (200, None),
        body: dict | None = None, params: list | None = None, content: dict | None = None) -> dict:
    """One operation; ``route`` is its key in the access table, which says who may call it."""
    rule = TABLE[route]
    op: dict = {"summary": summary, "description": f"Roles: {roles_text(rule)}.",
                "responses": {str(ok[0]): {"description": "success",
                                           **(content or (_json(ok[1]) if ok[1] else {}))}, **_ERRORS}}
    if body is not None:
        op["requestBody"] = {"required": True, **_json(body)}
    if params:
        op["parameters"] = params
    if not rule.key:
        op["security"] = []
    return op


def _with(op: dict, responses: dict) -> dict:
    """``op`` with ``responses`` said more precisely than the generic errors."""
    op["responses"].update(responses)
    return op


def _described(op: dict, text: str) -> dict:
    """``op`` with ``text`` said after who may call it."""
    op["description"] += " " + text
    return op


def _path_param(name: str, description: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}, "description": description}


_ID = _path_param("id", "credential id (unpadded base32 of the cti)")
_PURPOSE = {**_path_param("purpose", "what a verification is for"), "schema": {"enum": [p.value for p in Purpose]}}
_RULE_REGION = _path_param("region", "a caller's region, ISO 3166-2 (e.g. CN-SH), or `*` for callers bound to "
                                     "no region")
_TEXTS = {"type": "array", "maxItems": MAX_RULE_ITEMS, "items": {"type": "string"}}
_CODE = _path_param("code", "region, ISO 3166-2 (e.g. CN-ZJ)")
_TIME = {"type": ["string", "null"], "format": "date-time"}
_PURPOSE_VALUE = {"enum": ["", *(p.value for p in Purpose)],
                  "description": "what the check is for (GET /v1/purposes: the caller's); none: the role's default. "
                                 "An unknown one is 400 PURPOSE_UNKNOWN, one the role may not name 403 "
                                 "PURPOSE_NOT_ALLOWED"}

SCHEMAS = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message", "request_id"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "request_id": {"type": "string"},
                       "fields": {"type": "array", "items": {"type": "string"},
                                  "description": "the request members to blame, when known (two fields that "
                                                 "disagree, e.g. id_number and birth_date)"}}}}},
    "Key": {"type": "object", "properties": {
        "kid": {"type": "string", "description": "hex"}, "alg": {"enum": ["ES256", "EdDSA"]},
        "status": {"enum": [s.value for s in KeyStatus]}, "nbf": {"type": "integer"}, "exp": {"type": "integer"}}},
    "Region": {"type": "object", "properties": {
        "code": {"type": "string"}, "name": {"type": "string"}, "keys": {"type": "array", "items": _ref("Key")}}},
    "CertificateType": {"type": "object", "required": ["id", "version", "name", "schema"], "properties": {
        "id": {"type": "string"}, "version": {"type": "integer"}, "name": {"type": "string"},
        "schema": {"type": "object", "description": "JSON Schema draft 2020-12"},
        "disclosure": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}}},
    "CertificateTypeRequest": {"type": "object", "required": ["id", "name", "schema"], "properties": {
        "id": {"type": "string"}, "version": {"type": "integer", "minimum": 1, "maximum": MAX_TYPE_VERSION,
                                              "description": "default 1"},
        "name": {"type": "string"},
        "schema": {"oneOf": [{"type": "object"}, {"type": "string"}],
                   "description": "JSON Schema draft 2020-12, as an object or as its JSON text"},
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
        "region": {"type": "string"}, "type": {"type": "string"},
        "version": {"type": "integer", "minimum": 0, "maximum": MAX_TYPE_VERSION,
                    "description": "0 or absent: the type's newest version"},
        "fields": {"type": "object"}, "valid_days": {"type": "integer", "minimum": 1, "maximum": MAX_VALID_DAYS},
        "request_id": {"type": "string", "maxLength": MAX_REQUEST_ID,
                       "description": "the same request_id sent again returns the same credential"}}},
    "Credential": {"type": "object", "properties": {
        "id": {"type": "string"}, "qr_text": {"type": "string"}, "issued_at": _TIME, "expires_at": _TIME,
        "status": {"enum": [s.value for s in CredentialStatus]}, "region": {"type": "string"},
        "type": {"type": "string"}, "version": {"type": "integer"}, "fields": {"type": "object"},
        "kid": {"type": "string", "description": "the signing key's id, hex"}, "display_id": {"type": "string"}}},
    "PresentationRequest": {"type": "object", "properties": {
        "purpose": {"enum": ["", *(p.value for p in Purpose)],
                    "description": "the purpose the holder chose (none: any): a check for another purpose answers "
                                   "NOT_ACCEPTED_FOR_PURPOSE"}}},
    "Presentation": {"type": "object", "required": ["token", "token_id", "expires_at", "qr_png_url"], "properties": {
        "token": {"type": "string", "description": "EP1:..., the show code's text; verified once, at most "
                                                   f"{MAX_TTL} s after it is made"},
        "token_id": {"type": "string", "description": "the token's cti, 32 hex digits"},
        "credential_id": {"type": "string"}, "issued_at": _TIME, "expires_at": _TIME,
        "expires_in": {"type": "integer", "description": "seconds it is valid from now (count down from the "
                                                         "answer's arrival: no clock needs to agree)"},
        "purpose": {"enum": [p.value for p in Purpose], "description": "the purpose the holder chose, if any"},
        "qr_png_url": {"type": "string", "description": "where the code is drawn (with the same key) while it is "
                                                        "live"}}},
    "VerifyRequest": {"type": "object", "required": ["payload"], "properties": {
        "payload": {"type": "string", "description": "EC1:... or EP1:..."}, "purpose": _PURPOSE_VALUE}},
    "Verification": {"type": "object", "required": ["result", "credential", "fields", "warnings", "status_checked",
                                                    "status", "status_as_of", "trust_list_version",
                                                    "trust_list_stale", "trust_list_as_of", "checked_at", "purpose"],
                     "properties": {
        "result": {"enum": [o.value for o in Outcome]},
        "credential": {"oneOf": [{"type": "null"}, {"type": "object", "properties": {
            "id": {"type": "string"}, "type": {"type": "string"}, "version": {"type": "integer"},
            "region": {"type": "string"}, "issued_at": _TIME, "expires_at": _TIME,
            "display_id": {"type": "string", "description": "given when the type is known"}}}]},
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
        "detail": {"type": "string", "description": "the reason, for any result but VALID"},
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
        "status_as_of": {**_TIME, "description": "the issue time (iat) of the status list consulted; null: none"},
        "trust_list_version": {"type": "integer"},
        "trust_list_stale": {"type": "boolean", "description": "the trust list used is past its exp, dated ahead "
                                                              "of the verifier's clock beyond the skew, or was not "
                                                              "refreshed within the verifier's bound "
                                                              "(ECERT_TRUST_LIST_MAX_AGE)"},
        "trust_list_as_of": {**_TIME, "description": "the issue time (iat) of the trust list used; null: none"},
        "checked_at": _TIME,
        "code_sha256": {"type": "string", "description": "(picture input only) SHA-256 hex of the code's text, "
                                                         "to tell codes apart without repeating them"},
        "results": {"type": "array", "items": _ref("Verification"),
                    "description": "(picture input only) one verification per code in the picture, in reading "
                                   "order (top to bottom, left to right); the top-level fields repeat the first"}}},
    "VerifyImageRequest": {"type": "object", "required": ["image"], "properties": {
        "image": {"type": "string", "contentMediaType": "image/*",
                  "description": "a photo or screenshot of the QR code(s): PNG, JPEG or WebP, "
                                 f"at most {_size(MAX_IMAGE_BYTES)}"},
        "purpose": _PURPOSE_VALUE}},
}

_STATUS = {"type": "object", "properties": {"id": {"type": "string"}, "status": {"type": "string"}}}


_TRAIL_UNAVAILABLE = ("`TRAIL_UNAVAILABLE`: the verifier cannot record the check (it is stopping, or its outbox "
                      "cannot be written), and gives no answer unrecorded: try again")


def _verify_op() -> dict:
    op = _op("Verify an EC1 credential or EP1 token, as text or as a picture of its QR code",
             ("POST", "/v1/verifications"), body=_ref("VerifyRequest"), ok=(200, _ref("Verification")))
    op["description"] += (f" JSON bodies are at most {_size(MAX_BODY)}. A multipart/form-data body (at most "
                          f"{_size(MAX_IMAGE_BYTES)} + {_size(MULTIPART_OVERHEAD)}) carries a picture in the part "
                          f"`image` (PNG, JPEG or WebP, at most {_size(MAX_IMAGE_BYTES)} and "
                          f"{_count(MAX_IMAGE_PIXELS)} pixels) and an optional `purpose`; every code in it is "
                          "verified (`results`), and a picture without a code answers `NO_CODE_FOUND`.")
    op["requestBody"]["content"]["multipart/form-data"] = {
        "schema": _ref("VerifyImageRequest"),
        "encoding": {"image": {"contentType": "image/png, image/jpeg, image/webp"}}}
    op["responses"]["400"] = {"description": "malformed request; `IMAGE_CORRUPT` for a truncated or corrupt picture",
                              **_json(_ref("Error"))}
    op["responses"]["413"] = {"description": "body or picture too large (bytes or pixels)", **_json(_ref("Error"))}
    op["responses"]["415"] = {"description": "the picture is not PNG, JPEG or WebP", **_json(_ref("Error"))}
    op["responses"].update(_error(503, f"{_UNAVAILABLE}; `BUSY`: too many pictures are waiting to be read; "
                                       f"{_TRAIL_UNAVAILABLE}"))
    return op

def _presentation_op() -> dict:
    op = _described(_op(
        "Make a show code (EP1) for a valid credential, on the holder's behalf",
        ("POST", "/v1/credentials/{id}/presentations"), params=[_ID], body=_ref("PresentationRequest"),
        ok=(201, _ref("Presentation"))),
        f"Single use and valid at most {MAX_TTL} s: a screenshot cannot be replayed. Verifying it "
        "(`POST /v1/verifications`) checks its signature and freshness offline, then the issuing region resolves "
        "it once (`TOKEN_ALREADY_USED` after that, at any verifier) and judges the credential's status at that "
        "moment. The body is optional. 409 `STATUS_CONFLICT` for a credential that is not valid, "
        "`CREDENTIAL_EXPIRED` for one past its `expires_at`. Answered with `Cache-Control: no-store`.")
    op["requestBody"]["required"] = False
    op["responses"].update(_TRAIL_BUSY)
    return op


_DIGEST = {**_path_param("digest", "the photo's SHA-256, 64 hex digits (a credential's `photo` field)"),
           "schema": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"}}
_PHOTO = {"type": "object", "required": ["digest"], "properties": {
    "digest": {"type": "string", "description": "SHA-256 hex of the stored bytes: what a credential's `photo` names"},
    "region": {"type": "string"}, "media_type": {"const": "image/jpeg"},
    "width": {"type": "integer"}, "height": {"type": "integer"}}}


def _query(name: str, description: str, required: bool = False, schema: dict | None = None) -> dict:
    return {"name": name, "in": "query", "required": required, "schema": schema or {"type": "string"},
            "description": description}


def _photo_upload_op() -> dict:
    op = _op("File a portrait in a region's photo library", ("POST", "/v1/photos"), ok=(201, _PHOTO), params=[
        _query("region", "the library's region (ISO 3166-2); an agency's own when it names none")])
    op["description"] += (
        " The body is the picture itself (declared image/jpeg, image/png or application/octet-stream, or not "
        "declared; another Content-Type is 415 before the body is read), JPEG or PNG by its own magic bytes (else "
        f"415), at most {_size(MAX_PHOTO_BYTES)} and {_count(MAX_PHOTO_PIXELS)} pixels, a portrait: {PHOTO_ASPECT[0]:g} to {PHOTO_ASPECT[1]:g} times as "
        f"tall as wide, the shorter side at least {MIN_PHOTO_SIDE} pixels (else 422 `PHOTO_NOT_PORTRAIT` / "
        "`PHOTO_TOO_SMALL`). It is re-encoded to a JPEG of the pixels alone (no EXIF or location, no ICC profile, "
        f"no text; upright; at most {PHOTO_STORED_SIDE} pixels on its longer side) and kept once under the SHA-256 "
        "of the stored bytes: 201 when new, 200 when the library held this picture already. A credential's `photo` "
        "names that digest (422 `PHOTO_UNKNOWN` for one its region does not hold), or "
        '`{"reuse_for": "<citizen ID number>"}` for the portrait on file for its holder (422 `PHOTO_NOT_ON_FILE`).')
    binary = {"schema": {"type": "string", "format": "binary"}}
    op["requestBody"] = {"required": True, "content": {media: binary for media in UPLOAD_TYPES}}
    op["responses"]["200"] = {"description": "the library held this picture already", **_json(_PHOTO)}
    op["responses"]["400"] = {"description": "malformed request; `IMAGE_CORRUPT` for a truncated or corrupt picture",
                              **_json(_ref("Error"))}
    op["responses"]["413"] = {"description": "over the bytes or pixels a portrait may have (a decompression bomb)",
                              **_json(_ref("Error"))}
    op["responses"]["415"] = {"description": "not a JPEG or PNG picture", **_json(_ref("Error"))}
    op["responses"].update(_error(503, f"{_UNAVAILABLE}; `BUSY`: the region's issuer holds "
                                       f"{MAX_PHOTO_UPLOADS_WAITING} uploads already (nothing is filed)"))
    return op


def _photo_get_op() -> dict:
    op = _op("A credential's portrait", ("GET", "/v1/photos/{digest}"), params=[
        _DIGEST, _query("credential", "the credential that names this photo (its id); none: the newest credential "
                                      "naming it whose type shows it to the caller"),
        _query("region", "the region that issued it (ISO 3166-2); none: every region is asked"),
        _query("purpose", "what the caller looks for (one of its role's; none: the default), for the holder's "
                          "access log", schema=_PURPOSE_VALUE),
        {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"},
         "description": "the ETag held (the digest, quoted): 304 after the same checks"}],
        content={"content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}})
    op["description"] += (
        " Only for a credential that names this photo, and a caller whose role is shown `photo` for the "
        "credential's type. With the digest alone every region is asked at once, and the first to serve it "
        "answers; each looks among its newest credentials naming it for one whose type shows it to the caller. "
        "`region` asks that region only, `credential` names the credential. Fetched from the issuing region "
        "through the suite; the bytes are checked against the digest before they are served (503 "
        "`PHOTO_MISMATCH` if they differ). Each access is recorded in the access log of the credential it was "
        "served for. `ETag` is the digest; `Cache-Control: private, max-age=86400, immutable`.")
    op["responses"]["304"] = {"description": "the caller holds these bytes (If-None-Match); no body"}
    op["responses"].update(_error(403, "the caller's role is shown the photo of no credential naming it (of the "
                                       "credential named)"))
    op["responses"].update(_error(404, "no credential naming this photo (or the credential named is unknown, or "
                                       "names another photo)"))
    op["responses"].update(_error(503, f"{_TRAIL_BUSY['503']['description']}; `PHOTO_MISMATCH`: the bytes a "
                                       "region sent do not hash to the digest; `REGION_UNAVAILABLE`: a region "
                                       "asked could not answer and no other served the photo"))
    return op


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
    return _described(_op(
        "Who used a credential: its access log", ("GET", "/v1/credentials/{id}/access-log"), params=[
            _ID, _query("after", "entries past this seq (the previous page's `next`); 0 or none: from the first",
                        schema={"type": "integer", "minimum": 0, "maximum": MAX_EPOCH}),
            _query("limit", f"entries in the page, 1 to {MAX_TRAIL_PAGE} (default {DEFAULT_TRAIL_PAGE})",
                   schema={"type": "integer", "minimum": 1, "maximum": MAX_TRAIL_PAGE})],
        ok=(200, {"type": "object", "required": ["credential_id", "region", "entries", "next"], "properties": {
            "credential_id": {"type": "string"}, "region": {"type": "string"},
            "entries": {"type": "array", "items": _TRAIL_ENTRY},
            "next": {"type": ["integer", "null"], "description": "the seq to ask after for the next page; null "
                                                                 "after the last"}}})),
        "Read on the holder's behalf: every issuance, status change, show code, photo access, verification (at any "
        "verifier, of any region) and resolution of the credential, oldest first as its issuing region recorded "
        "them (a check at a verifier that could not reach the region for a while comes when it was delivered, "
        "with its own time), with the organisation, role and region of whoever made it, the purpose and the "
        "outcome; never a key or another credential. Each entry carries its hash and the previous entry's "
        "(`ecert audit verify` walks the whole chain). Answered with `Cache-Control: no-store`.")


_KID = {"type": "object", "required": ["kid"], "properties": {"kid": {"type": "string", "description": "hex"}}}


def _key_op() -> dict:
    op = _op("Register a public key whose private half is held elsewhere", ("POST", "/v1/regions/{code}/keys"),
             params=[_CODE], ok=(201, _KID), body={
                 "type": "object", "required": ["alg", "spki"], "properties": {
                     "alg": {"enum": ["ES256", "EdDSA"]}, "spki": {"type": "string", "description": "base64 DER"},
                     "nbf": {"type": "integer"}, "exp": {"type": "integer"}}})
    op["responses"]["200"] = {"description": "that exact key was registered already", **_json(_KID)}
    op["responses"].update(_error(409, "`CONFLICT`: the same kid with another SPKI; `KEY_IN_USE`: another region "
                                       "holds this public key (whoever asks)"))
    return op


_ROTATED = {"type": "object", "required": ["kid", "retired_kid", "nbf", "exp"], "properties": {
    "kid": {"type": "string", "description": "hex: the key the region's issuer signs with from now on"},
    "retired_kid": {"type": ["string", "null"], "description": "hex: the key it replaced, now retired (it still "
                                                              "verifies what it signed inside its window); null: none"},
    "nbf": {"type": "integer", "description": "the new key's window, epoch seconds"},
    "exp": {"type": "integer", "description": "its end as registered, epoch seconds: two key "
                                             "lifetimes (ECERT_KEY_LIFETIME_DAYS) from now, or the registry's "
                                             "default window when keys have no lifetime"}}}
_SIGNING_KEY_UNAVAILABLE = ("`SIGNING_KEY_UNAVAILABLE`: the region's issuer has no key it may sign with (its current "
                            "one revoked or retired and no new one could be made)")


def _rotate_op() -> dict:
    op = _described(_op(
        "Rotate a region's signing key", ("POST", "/v1/regions/{code}/signing-key:rotate"), params=[_CODE],
        body={"type": "object", "properties": {"request_id": {
            "type": "string", "maxLength": MAX_REQUEST_ID,
            "description": "the same request_id sent again answers the same rotation, never a second one"}}},
        ok=(201, _ROTATED)),
        "The region's issuer makes a new key, registers it (valid from now), signs with it from then on and "
        "retires the old one at the registry (a retired key's window ends within 300 s: it verifies what it signed "
        "before, never what is signed later). A new trust-list version is published. The body is optional.")
    op["requestBody"]["required"] = False
    op["responses"].update(_error(404, "`REGION_UNKNOWN`: no such region"))
    op["responses"].update(_error(503, f"{_UNAVAILABLE}; `REGION_UNAVAILABLE`: the region's issuer is offline or did "
                                       f"not answer in time; {_SIGNING_KEY_UNAVAILABLE}"))
    return op


_ROOT_ROTATED = {"type": "object", "required": ["kid", "previous_kid", "trust_list_version", "alg", "spki"],
                 "properties": {
    "kid": {"type": "string", "description": "hex: the new root key's"},
    "previous_kid": {"type": "string", "description": "hex: the root it replaced"},
    "trust_list_version": {"type": "integer", "description": "the first trust list signed by the new root (the one "
                                                             "before it, signed by the old root, announces it)"},
    "alg": {"enum": ["ES256", "EdDSA"], "description": "the old root's"},
    "spki": {"type": "string", "description": "base64 DER of the new root's public key: what a verifier set up from "
                                              "now on pins (running verifiers follow the announcement)"}}}


def _root_rotate_op() -> dict:
    return _described(_op("Rotate the registry's root key", ("POST", "/v1/trust-list/root-key:rotate"),
                           ok=(201, _ROOT_ROTATED)),
                       "A new root key is made; one last trust list signed by the old root announces it "
                       "(`next_root`), and every list after is signed by the new one. Verifiers pinned to the old "
                       "root follow the announcement; the old private key is deleted. No body.")


_READY_CHECKS = {"type": "object", "required": ["store", "registry", "verifier"],
                 "additionalProperties": {"type": "string", "description": "`ok`, or `unavailable: <error name>`"}}


def _readyz_op() -> dict:
    ok = {"type": "object", "required": ["status", "checks"],
          "properties": {"status": {"const": "ready"}, "checks": _READY_CHECKS}}
    not_ready = {"type": "object", "required": ["error", "status", "checks"], "properties": {
        "error": SCHEMAS["Error"]["properties"]["error"], "status": {"const": "not ready"}, "checks": _READY_CHECKS}}
    op = _described(_op("Backends reachable", ("GET", "/readyz"), ok=(200, ok)),
                    "Each probe has 2 s. Not ready is 503 with the error body (code `UNAVAILABLE`, the message "
                    "naming what failed) beside `status` and `checks`.")
    op["responses"] = {"200": op["responses"]["200"],
                       "503": {"description": "a backend or the store is not reachable", **_json(not_ready)}}
    return op


PATHS = {
    "/healthz": {"get": _op("Process alive", ("GET", "/healthz"))},
    "/readyz": {"get": _readyz_op()},
    "/metrics": {"get": _op("Prometheus metrics", ("GET", "/metrics"),
                            content={"content": {"text/plain": {"schema": {"type": "string"}}}})},
    "/openapi.json": {"get": _op("This document", ("GET", "/openapi.json"))},
    "/scan": {"get": _op("The scanner page for hotel desks and roadside checks: camera, picture upload and "
                         "handheld-scanner input; it asks for the operator's API key once per browser session",
                         ("GET", "/scan"), content={"content": {"text/html": {}}})},
    "/v1/regions": {
        "get": _op("Regions and their keys", ("GET", "/v1/regions"), ok=(200, {"type": "object", "properties": {
            "regions": {"type": "array", "items": _ref("Region")}}})),
        "post": _op("Create a region", ("POST", "/v1/regions"), ok=(201, _ref("Region")), body={
            "type": "object", "required": ["code", "name"],
            "properties": {"code": {"type": "string"}, "name": {"type": "string"}}})},
    "/v1/regions/{code}/keys": {"post": _key_op()},
    "/v1/regions/{code}/keys/{kid}:revoke": {"post": _described(_op(
        "Revoke a key", ("POST", "/v1/regions/{code}/keys/{kid}:revoke"),
        params=[_CODE, _path_param("kid", "hex key id")], ok=(200, _ref("Key"))),
        "Permanent: the key verifies nothing from the verifiers' next trust-list refresh (`KEY_REVOKED`). The "
        "region's issuer is told at once and stops signing with it (it rotates to a new key, or answers 503 "
        "`SIGNING_KEY_UNAVAILABLE`); if it cannot be told, it learns it on its own refresh.")},
    "/v1/regions/{code}/signing-key:rotate": {"post": _rotate_op()},
    "/v1/certificate-types": {
        "get": _op("Certificate types", ("GET", "/v1/certificate-types"), ok=(200, {"type": "object", "properties": {
            "types": {"type": "array", "items": _ref("CertificateType")}}})),
        "post": _op("Publish a certificate type version", ("POST", "/v1/certificate-types"),
                    ok=(201, _ref("CertificateType")), body=_ref("CertificateTypeRequest"))},
    "/v1/trust-list": {"get": _op("The trust list as JSON (bytes as base64)", ("GET", "/v1/trust-list"),
                                  ok=(200, {"type": "object"}))},
    "/v1/trust-list/root-key:rotate": {"post": _root_rotate_op()},
    "/v1/trust-list.cbor": {"get": _op("The signed trust list (COSE_Sign1)", ("GET", "/v1/trust-list.cbor"), content={
        "content": {"application/cose": {"schema": {"type": "string", "contentMediaType": "application/cose"}}}})},
    "/v1/recognition-rules": {"get": _described(_op(
        "The recognition rules", ("GET", "/v1/recognition-rules"), ok=(200, _ref("RecognitionRules"))),
        "Which certificate types each purpose accepts and whose credentials each region recognises, as the "
        "current trust list carries them.")},
    "/v1/recognition-rules/purposes/{purpose}": {"put": _described(_op(
        "Set the certificate types a purpose accepts", ("PUT", "/v1/recognition-rules/purposes/{purpose}"),
        params=[_PURPOSE], body={"type": "object", "required": ["types"], "properties": {"types": _TEXTS}},
        ok=(200, _ref("RecognitionRules"))),
        "Exactly these from now on (an empty list: none). Each change publishes a new trust-list version; the "
        "same list again publishes none. An unknown purpose is 400 `PURPOSE_UNKNOWN`; a type of which no version "
        "is published, 422 `TYPE_UNKNOWN`.")},
    "/v1/recognition-rules/regions/{region}": {"put": _described(_op(
        "Set whose credentials a region's callers recognise", ("PUT", "/v1/recognition-rules/regions/{region}"),
        params=[_RULE_REGION], body={"type": "object", "required": ["recognises"],
                                     "properties": {"recognises": _TEXTS}},
        ok=(200, _ref("RecognitionRules"))),
        "Exactly these regions' credentials from now on (an empty list: none). Each change publishes a new "
        "trust-list version; the same list again publishes none. A region that does not exist is "
        "`REGION_UNKNOWN`: 404 for the path's, 422 for one in the list.")},
    "/v1/purposes": {"get": _described(_op(
        "The purposes the caller may verify for", ("GET", "/v1/purposes"), ok=(200, {
            "type": "object", "required": ["purposes"], "properties": {"purposes": {"type": "array", "items": {
                "type": "object", "required": ["id", "name", "default"], "properties": {
                    "id": {"enum": [p.value for p in Purpose]},
                    "name": {"type": "string", "description": "中文 / English"},
                    "default": {"type": "boolean", "description": "the one a verification naming none is for"}}}},
                "role": {"enum": [r.value for r in KEY_ROLES], "description": "the caller's role"}}})),
        "A verification's `purpose` is one of these (another is 403 `PURPOSE_NOT_ALLOWED`, an unknown one 400 "
        "`PURPOSE_UNKNOWN`).")},
    "/v1/credentials": {"post": _with(_op("Issue a credential", ("POST", "/v1/credentials"),
                                          ok=(201, _ref("Credential")), body=_ref("IssueRequest")), _TRAIL_BUSY)},
    "/v1/credentials/{id}": {"get": _op("A credential record", ("GET", "/v1/credentials/{id}"), params=[_ID],
                                        ok=(200, _ref("Credential")))},
    **{f"/v1/credentials/{{id}}/qr.{kind}": {"get": _op(
        f"The credential's QR code ({kind.upper()})", ("GET", "/v1/credentials/{id}/qr.{kind}"), params=[_ID],
        content={"content": {media: {}}})} for kind, media in (("png", "image/png"), ("svg", "image/svg+xml"))},
    **{f"/v1/credentials/{{id}}:{action}": {"post": _with(_op(
        f"{action.capitalize()} a credential", ("POST", "/v1/credentials/{id}:{action}"), params=[_ID],
        ok=(200, _STATUS)), _TRAIL_BUSY)} for action in StatusAction},
    "/v1/credentials/{id}/presentations": {"post": _presentation_op()},
    "/v1/credentials/{id}/presentations/{token_id}/qr.png": {"get": _described(_op(
        "A live show code as a QR code (PNG)", ("GET", "/v1/credentials/{id}/presentations/{token_id}/qr.png"),
        params=[_ID, _path_param("token_id", "the show code's token_id (32 hex digits)")],
        content={"content": {"image/png": {}}}),
        "Never cached (`Cache-Control: no-store`). 404 `PRESENTATION_USED` once it was verified, "
        "`PRESENTATION_EXPIRED` past its `expires_at`: make a fresh one; 409 once the credential is not valid.")},
    "/v1/credentials/{id}/access-log": {"get": _access_log_op()},
    "/v1/verifications": {"post": _verify_op()},
    "/v1/photos": {"post": _photo_upload_op()},
    "/v1/photos/{digest}": {"get": _photo_get_op()},
    "/v1/verifications:batch": {"post": _with(_op(
        f"Verify up to {MAX_BATCH:,} payloads", ("POST", "/v1/verifications:batch"),
        body={"type": "object", "required": ["payloads"], "properties": {
            "payloads": {"type": "array", "maxItems": MAX_BATCH, "items": {"type": "string"}},
            "purpose": _PURPOSE_VALUE}},
        ok=(200, {"type": "object", "properties": {"results": {"type": "array", "items": _ref("Verification")}}})),
        _error(503, f"{_UNAVAILABLE}; {_TRAIL_UNAVAILABLE}"))},
}

OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "E-certificate mutual recognition gateway", "version": "1.0.0",
             "description": "HTTP/JSON front door of the suite. Errors: {\"error\": {code, message, request_id}}."},
    "servers": [{"url": "http://127.0.0.1:8080"}],
    "security": [{"bearer": []}],
    "paths": PATHS,
    "components": {"schemas": SCHEMAS,
                   "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                                  "description": "API key from `ecert apikey create`"}}},
}
