"""Writing answers: instants, JSON responses, credential records and verification answers.

The verification answers (:func:`verification_text` and the bodies built from it) are on the
hot path and written directly as text; ``tests/test_verification_text.py`` holds them to the
text ``json.dumps(..., ensure_ascii=False)`` gives for the same answer's dict.
"""

from __future__ import annotations

import functools
import json
import json.encoder
import time
from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from ecert.format.jsontext import json_text

_ISO_FAST_END = 253_402_300_800  # 10000-01-01: from here on datetime refuses the year


@functools.lru_cache(maxsize=8192)  # answers repeat the same few instants (checked_at, issued_at)
def iso(ts: int) -> str | None:
    """An instant (Unix seconds) as RFC 3339 UTC text; 0, or one outside years 1-9999 that no
    RFC 3339 text can hold: None (null)."""
    if not ts:
        return None
    if 0 < ts < _ISO_FAST_END:  # the same text as below at half the cost: every credential has its own instants
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
    try:
        return datetime.fromtimestamp(int(ts), timezone.utc).isoformat().replace("+00:00", "Z")  # year 0001 in 4 digits
    except (ValueError, OverflowError, OSError):  # out of datetime's range: never a 500 for a signed number
        return None


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(text=json_text(data), status=status, content_type="application/json")


def credential_json(c) -> dict:
    out = {"id": c.id, "region": c.region, "type": c.type, "version": c.version, "qr_text": c.qr_text,
           "issued_at": iso(c.issued_at), "expires_at": iso(c.expires_at), "status": c.status,
           "fields": json.loads(c.fields_json or "{}"), "kid": c.kid}
    if c.display_id:
        out["display_id"] = c.display_id
    return out


# -- verification answers --------------------------------------------------------------------------

_js = json.encoder.encode_basestring  # a str as json.dumps(..., ensure_ascii=False) writes it, quotes included


@functools.lru_cache(maxsize=8192)
def _iso_text(ts: int) -> str:
    """``iso(ts)`` as JSON text: a quoted instant, or null."""
    text = iso(ts)
    return "null" if text is None else f'"{text}"'


def _fields_text(fields_json: str) -> str:
    """The verifier's ``fields_json`` as it goes into an answer. The verifier (trusted, like the
    issuer whose text it may pass on) writes it with ``json.dumps(..., ensure_ascii=False)``,
    so parsing it and writing it again would only give back the same text: an object's text is
    used as it is. Anything else takes the parse-and-write path (and fails as it did)."""
    if fields_json[:1] == "{" and fields_json[-1:] == "}":
        return fields_json
    return json_text(json.loads(fields_json or "{}"))


def verification_text(r) -> str:
    """One verification answer (the spec's shape) as JSON text, written directly.

    A batch answer holds up to 1,000 of these: building dicts, parsing ``fields_json`` and
    encoding it all again cost about 9 µs a result; this costs about 3. The text is what
    ``json.dumps(..., ensure_ascii=False)`` gives for the answer's dict: same keys, order,
    separators and escaping (``tests/test_verification_text.py`` holds the two to each other).

    Every answer says how fresh it is: ``status`` (``valid``, ``revoked``, ``suspended``,
    ``not_tracked``, ``unknown``; null when the check never reached the status) and
    ``status_as_of`` (the ``iat`` of the status list consulted, or null), ``trust_list_stale``
    and ``trust_list_as_of`` (the ``iat`` of the trust list used, or null).
    """
    if r.HasField("credential"):
        c = r.credential
        display_id = c.display_id
        cred = (f'{{"id": {_js(c.id)}, "type": {_js(c.type)}, "version": {c.version}, "region": {_js(c.region)}, '
                f'"issued_at": {_iso_text(c.issued_at)}, "expires_at": {_iso_text(c.expires_at)}'
                f'{_DISPLAY_ID + _js(display_id) if display_id else ""}}}')
    else:
        cred = "null"
    detail, code_sha256, purpose, status = r.detail, r.code_sha256, r.purpose, r.status
    return (f'{{"result": {_js(r.result)}, "credential": {cred}, "fields": {_fields_text(r.fields_json)}, '
            f'"warnings": {_warnings_text(r.warnings) if r.warnings else "[]"}, '
            f'"status_checked": {"true" if r.status_checked else "false"}, '
            f'"status": {_js(status) if status else "null"}, "status_as_of": {_iso_text(r.status_as_of)}, '
            f'"trust_list_version": {r.trust_list_version}, '
            f'"trust_list_stale": {"true" if r.trust_list_stale else "false"}, '
            f'"trust_list_as_of": {_iso_text(r.trust_list_as_of)}, "checked_at": {_iso_text(r.checked_at)}'
            f'{_PURPOSE + _js(purpose) if purpose else ""}'
            f'{_DETAIL + _js(detail) if detail else ""}'
            f'{_document_text(r.document) if r.HasField("document") else ""}'
            f'{_CODE_SHA256 + _js(code_sha256) if code_sha256 else ""}}}')


_DISPLAY_ID, _DETAIL, _CODE_SHA256, _PURPOSE = ', "display_id": ', ', "detail": ', ', "code_sha256": ', ', "purpose": '


def _document_text(d) -> str:
    """The answer's ``document`` member: ``{"field", "date"}``, the document's own date that
    decided EXPIRED / NOT_YET_VALID (the verifier sets it only then)."""
    return f', "document": {{"field": {_js(d.field)}, "date": {_js(d.date)}}}'


def _warnings_text(warnings) -> str:
    """The answer's ``warnings``: ``[{"code", "field", "since"}, ...]``."""
    return "[" + ", ".join(f'{{"code": {_js(w.code)}, "field": {_js(w.field)}, "since": {_js(w.since)}}}'
                           for w in warnings) + "]"


def verifications_response(results) -> web.Response:
    """``{"results": [...]}`` as :func:`json_response` would write it, each result by
    :func:`verification_text`."""
    body = '{"results": [' + ", ".join(map(verification_text, results)) + "]}"
    return web.Response(text=body, content_type="application/json")


def first_and_all_response(results) -> web.Response:
    """``{**first, "results": [...]}`` for a picture's answers (at least one): the first answer's
    members at the top level, as for a single verification, then all of them in reading order."""
    texts = [verification_text(r) for r in results]
    body = texts[0][:-1] + ', "results": [' + ", ".join(texts) + "]}"
    return web.Response(text=body, content_type="application/json")
