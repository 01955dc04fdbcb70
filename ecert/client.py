"""A small typed client of the gateway's HTTP API, for integrators' code and the ``ecert`` command.

    from ecert.client import Client, ApiError, Unreachable

    gw = Client("http://127.0.0.1:8080", key)          # or Client.from_env(): $ECERT_URL, $ECERT_API_KEY
    c = gw.issue("CN-ZJ", "cn.driving_licence", fields)  # a request_id is always sent; timeouts retried with it
    r = gw.verify(c["qr_text"])                          # r["result"] == "VALID"
    gw.revoke(c["id"])

Blocking (the standard library's ``urllib``, nothing else to install): each call waits at most
``timeout`` seconds for the gateway, and is abandoned once ``timeout`` has passed since it started
while its answer trickles in; an answer is read up to :data:`MAX_ANSWER_BYTES`. Answers are the
gateway's JSON as plain ``dict``/``list`` (the ``TypedDict``\\ s below name their main members;
docs/gateway-api.md has all of them).

Errors, one hierarchy (:class:`ClientError`):

- :class:`ApiError` — the gateway answered with an error: ``status``, ``code`` (stable,
  UPPER_SNAKE), ``message`` (in the language asked for with ``language=``), ``request_id`` (the
  gateway's, to quote to its operators), ``fields`` and ``errors`` when the body names them.
  Subclasses by status: :class:`AuthError` (401, 403), :class:`NotFoundError` (404),
  :class:`QuotaExceeded` (429, ``retry_after``), :class:`ServerError` (5xx).
- :class:`Unreachable` — no answer: connection refused or reset, a name that does not resolve,
  a timeout (``timed_out``).
- :class:`BadAnswer` — an answer that is not what the gateway gives (e.g. a proxy's HTML page).
- :class:`BadInput` — a call that cannot be sent as given (text that is not UTF-8, a key that
  cannot go in a header); :class:`BadUrl` — a gateway URL that is not ``http(s)://host[:port]``.

:meth:`Client.issue` is safe to retry: it always sends a ``request_id`` (a new one when none is
given) and retries a timeout, a dropped connection and a 502/503/504 with the same id, a few times
with back-off, so a retried issuance never makes a second credential.
"""

from __future__ import annotations

import functools
import http.client
import json
import os
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypedDict, TypeVar

DEFAULT_URL = "http://127.0.0.1:8080"
DEFAULT_TIMEOUT = 30.0
"""Seconds a call may take (the gateway's own deadlines to its backends are shorter)."""
PHOTO_TIMEOUT = 35.0
"""Seconds a photo call may take (an upload is decoded and re-encoded by the region's issuer)."""
MAX_ANSWER_BYTES = 32 * 1024 * 1024
"""Bytes of an answer read at most (a page of credentials or a portrait is far less)."""
ISSUE_ATTEMPTS = 3
BACKOFF = 0.5
"""Seconds before the second attempt of an issuance; doubled before each next one."""
_RETRY_STATUSES = frozenset({502, 503, 504})
_CHUNK = 64 * 1024

T = TypeVar("T")


# -- errors ----------------------------------------------------------------------------------------

class ClientError(Exception):
    """Anything that kept a call from giving its answer."""


class BadInput(ClientError, ValueError):
    """The call cannot be made as given: text that is not UTF-8 (a lone surrogate, what invalid
    bytes on a command line decode to), a key that cannot go in a header. Nothing was sent."""


class BadUrl(BadInput):
    """The gateway URL is not ``http(s)://host[:port][/prefix]``."""


class Unreachable(ClientError):
    """The gateway gave no answer: ``url`` (its base), ``reason`` (readable), ``timed_out``."""

    def __init__(self, url: str, reason: str, *, timed_out: bool = False, retriable: bool = False):
        super().__init__(reason)
        self.url, self.reason, self.timed_out = url, reason, timed_out
        self.retriable = retriable or timed_out
        """The request may have arrived (timeout, dropped connection): sending it again is only
        safe when it is idempotent (an issuance with its ``request_id``)."""


class BadAnswer(ClientError):
    """The gateway's answer is not what it gives (not JSON, too large): a proxy, or not a gateway."""


class ApiError(ClientError):
    """The gateway refused the call: its error body ``{"error": {"code", "message", "request_id"}}``."""

    def __init__(self, status: int, code: str, message: str, request_id: str = "", *,
                 fields: list[str] | None = None, errors: list[dict] | None = None,
                 retry_after: float | None = None):
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message, self.request_id = status, code, message, request_id
        self.fields = fields or []
        self.errors = errors or []
        """Every failure when the gateway lists them (``[{"field", "code", "message"}]``)."""
        self.retry_after = retry_after

    @property
    def could_not_ask(self) -> bool:
        """The question was not judged: not allowed (401, 403), over a quota (429) or the suite
        failed (5xx), as opposed to a request the gateway judged wrong (the other 4xx)."""
        return self.status in (401, 403, 429) or self.status >= 500

    @classmethod
    def from_answer(cls, status: int, raw: bytes, headers: Mapping[str, str]) -> ApiError:
        """The error an answer with ``status`` (4xx, 5xx) and body ``raw`` is."""
        kind = _ERROR_CLASSES.get(status) or (ServerError if status >= 500 else ApiError)
        retry_after = _seconds(headers.get("Retry-After"))
        try:
            err = json.loads(raw)["error"]
            code, message = str(err["code"]), str(err["message"])
        except (ValueError, KeyError, TypeError):
            text = " ".join(raw.decode("utf-8", "replace").split())
            return kind(status, "HTTP_ERROR", f"HTTP {status}" + (f": {text[:300]}" if text else ""),
                        headers.get("X-Request-Id", ""), retry_after=retry_after)
        return kind(status, code, message, str(err.get("request_id") or headers.get("X-Request-Id", "")),
                    fields=[f for f in err.get("fields") or () if isinstance(f, str)],
                    errors=[e for e in err.get("errors") or () if isinstance(e, dict)], retry_after=retry_after)


class AuthError(ApiError):
    """401: no key, or one the gateway does not take (unknown, disabled, expired); 403: the key's
    role or region may not do this."""


class NotFoundError(ApiError):
    """404: no such credential, type, key or route."""


class QuotaExceeded(ApiError):
    """429: the key's rate or daily volume is used up; ``retry_after`` seconds until it is not."""


class ServerError(ApiError):
    """5xx: the suite could not answer (a region unavailable, the gateway overloaded)."""


_ERROR_CLASSES: dict[int, type[ApiError]] = {401: AuthError, 403: AuthError, 404: NotFoundError,
                                             429: QuotaExceeded}


def _seconds(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


# -- the answers' main members ---------------------------------------------------------------------

class Credential(TypedDict, total=False):
    id: str
    region: str
    type: str
    version: int
    qr_text: str
    issued_at: str
    expires_at: str
    status: str  # valid, suspended, revoked
    fields: dict[str, Any]
    kid: str
    display_id: str


class CredentialPage(TypedDict):
    items: list[Credential]
    next_cursor: str | None


class Verification(TypedDict, total=False):
    result: str  # VALID, REVOKED, EXPIRED, NOT_ACCEPTED_FOR_PURPOSE, ... (docs/gateway-api.md)
    detail: str
    credential: dict[str, Any] | None
    fields: dict[str, Any]
    warnings: list[dict[str, Any]]
    status_checked: bool
    status: str
    trust_list_version: int
    checked_at: str
    purpose: str


class Presentation(TypedDict, total=False):
    token: str
    token_id: str
    credential_id: str
    issued_at: str
    expires_at: str
    expires_in: int
    purpose: str
    qr_png_url: str


class CertificateType(TypedDict):
    id: str
    version: int
    name: str
    schema: dict[str, Any]
    disclosure: dict[str, list[str]]


class Region(TypedDict):
    code: str
    name: str
    keys: list[dict[str, Any]]


class Rules(TypedDict):
    purposes: dict[str, list[str]]
    recognition: dict[str, list[str]]
    trust_list_version: int


class ApiKey(TypedDict, total=False):
    id: str
    role: str
    region: str
    org: str
    label: str
    status: str
    created_at: str
    expires_at: str | None
    last_used_at: str | None
    purposes: list[str]


class CreatedKey(ApiKey, total=False):
    secret: str  # shown once


def new_request_id() -> str:
    """A fresh issuance ``request_id`` (random, 32 hex digits)."""
    return uuid.uuid4().hex


_NOT_UTF8 = "cannot send text that is not UTF-8 (bytes a terminal or a file did not decode as UTF-8?)"


def _path(text: str, safe: str = "") -> str:
    """One path segment, every reserved character escaped (a ``/`` or ``:`` in an id stays in it)."""
    try:
        return urllib.parse.quote(str(text), safe=safe)
    except UnicodeEncodeError:
        raise BadInput(_NOT_UTF8) from None


# -- the client ------------------------------------------------------------------------------------

class Client:
    """The gateway at ``url`` called with API key ``key`` (sent as ``Authorization: Bearer``).

    ``timeout``: seconds each call may take. ``language``: sent as ``Accept-Language`` (e.g.
    ``"zh-CN"``), the language of the errors' ``message``. ``issue_attempts`` and ``backoff``: how
    often and how patiently :meth:`issue` retries; ``sleep`` is injectable (tests)."""

    def __init__(self, url: str = DEFAULT_URL, key: str | None = None, *, timeout: float = DEFAULT_TIMEOUT,
                 language: str | None = None, issue_attempts: int = ISSUE_ATTEMPTS, backoff: float = BACKOFF,
                 sleep: Callable[[float], None] = time.sleep):
        self.url = _check_url(url)
        if key is not None and not (key.isascii() and key.isprintable() and " " not in key):
            raise BadInput("an API key is printable ASCII text without spaces (ek_...)")
        self.key = key
        self.timeout = timeout
        self.language = language
        self.issue_attempts = max(1, issue_attempts)
        self.backoff = backoff
        self._sleep = sleep

    @classmethod
    def from_env(cls, **options: Any) -> Client:
        """A client of ``$ECERT_URL`` (default :data:`DEFAULT_URL`) with key ``$ECERT_API_KEY``."""
        options.setdefault("url", os.environ.get("ECERT_URL") or DEFAULT_URL)
        options.setdefault("key", os.environ.get("ECERT_API_KEY") or None)
        return cls(**options)

    # -- transport ---------------------------------------------------------------------------------

    def send(self, method: str, path: str, *, query: Mapping[str, Any] | None = None, body: Any = None,
             data: bytes | None = None, content_type: str | None = None, accept: str = "application/json",
             timeout: float | None = None) -> tuple[int, bytes]:
        """One call: ``(status, body)`` of a 2xx answer. ``body`` is sent as JSON, ``data`` as it is
        (with ``content_type``); ``query`` members that are None are left out."""
        try:
            if body is not None:
                data, content_type = json.dumps(body, ensure_ascii=False).encode("utf-8"), "application/json"
            url = self.url + path
            if query:
                pairs = [(k, _query_value(v)) for k, v in query.items() if v is not None]
                if pairs:
                    url += "?" + urllib.parse.urlencode(pairs)
        except UnicodeEncodeError:
            raise BadInput(_NOT_UTF8) from None
        headers = {"Accept": accept}
        if content_type:
            headers["Content-Type"] = content_type
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        if self.language:
            headers["Accept-Language"] = self.language
        limit = self.timeout if timeout is None else timeout
        deadline = _Deadline(limit)
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        opener = urllib.request.build_opener(_HTTPHandler(deadline), _HTTPSHandler(deadline))
        try:
            with opener.open(req, timeout=limit) as resp:
                raw = self._read(resp, deadline, limit)
                if deadline.passed:  # the watchdog cut the connection: what was read may be cut short
                    raise self._timed_out(limit)
                return resp.status, raw
        except urllib.error.HTTPError as err:
            try:
                raw = self._read(err, deadline, limit) if err.fp is not None else b""
            finally:
                err.close()
            if deadline.passed:
                raise self._timed_out(limit) from None
            raise ApiError.from_answer(err.code, raw, err.headers or {}) from None
        except urllib.error.URLError as err:
            raise (self._timed_out(limit) if deadline.passed else self._unreachable(err.reason, limit)) from err
        except (OSError, http.client.HTTPException) as err:  # a timeout or reset past the headers
            raise (self._timed_out(limit) if deadline.passed else self._unreachable(err, limit)) from err
        except ValueError as err:  # e.g. a header that cannot be sent
            raise BadInput(f"cannot send this request to {self.url}: {err}") from None
        finally:
            deadline.cancel()

    def _timed_out(self, limit: float) -> Unreachable:
        return Unreachable(self.url, f"the gateway at {self.url} did not answer within {limit:g} s", timed_out=True)

    def _read(self, resp, deadline: _Deadline, limit: float) -> bytes:
        """The body, in the pieces as they come (``read1``: a piece never waits for a full chunk),
        the deadline checked between them."""
        read = getattr(resp, "read1", None) or resp.read
        parts, size = [], 0
        while True:
            if deadline.passed:
                raise self._timed_out(limit)
            chunk = read(_CHUNK)
            if not chunk:
                return b"".join(parts)
            size += len(chunk)
            if size > MAX_ANSWER_BYTES:
                raise BadAnswer(f"the answer from {self.url} is over {MAX_ANSWER_BYTES} bytes")
            parts.append(chunk)

    def _unreachable(self, reason: object, limit: float) -> Unreachable:
        base = self.url
        if isinstance(reason, (socket.timeout, TimeoutError)):
            return Unreachable(base, f"the gateway at {base} did not answer within {limit:g} s", timed_out=True)
        if isinstance(reason, ConnectionRefusedError):
            return Unreachable(base, f"cannot reach the gateway at {base}: connection refused")
        if isinstance(reason, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError,
                               http.client.RemoteDisconnected, http.client.IncompleteRead)):
            return Unreachable(base, f"the gateway at {base} closed the connection before answering",
                               retriable=True)
        if isinstance(reason, socket.gaierror):
            return Unreachable(base, f"cannot reach the gateway at {base}: the name does not resolve")
        text = getattr(reason, "strerror", None) or str(reason)
        return Unreachable(base, f"cannot reach the gateway at {base}: {text}")

    def call(self, method: str, path: str, body: Any = None, *, query: Mapping[str, Any] | None = None,
             timeout: float | None = None) -> Any:
        """One JSON call (:meth:`send`): the answer parsed (an empty one: None)."""
        _, raw = self.send(method, path, query=query, body=body, timeout=timeout)
        return self._json(raw)

    def _json(self, raw: bytes) -> Any:
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            raise BadAnswer(f"the gateway answered something that is not JSON: {raw[:200]!r}") from None

    def _retrying(self, attempt: Callable[[], T]) -> T:
        """``attempt()``, again after a timeout, a dropped connection or a 502/503/504, at most
        :attr:`issue_attempts` times, waiting :attr:`backoff` seconds, then twice as long, ..."""
        wait = self.backoff
        for n in range(1, self.issue_attempts + 1):
            try:
                return attempt()
            except Unreachable as err:
                if not err.retriable or n == self.issue_attempts:
                    raise
            except ServerError as err:
                if err.status not in _RETRY_STATUSES or n == self.issue_attempts:
                    raise
            self._sleep(wait)
            wait *= 2
        raise AssertionError("unreachable")

    # -- operations --------------------------------------------------------------------------------

    def ready(self) -> dict:
        """``GET /readyz`` (no key needed): ``{"status": "ready", "checks"}``; a suite that is not
        ready is a :class:`ServerError` (503) naming what does not answer."""
        return self.call("GET", "/readyz")

    # -- credentials -------------------------------------------------------------------------------

    def issue(self, region: str, type: str, fields: Mapping[str, Any], *, version: int | None = None,
              valid_days: int | None = None, request_id: str | None = None) -> Credential:
        """``POST /v1/credentials`` (an agency of ``region``, or admin): the credential, 201.

        ``request_id`` (default: :func:`new_request_id`) makes it idempotent: the same id answers
        the same credential, so a timeout is retried with it (:meth:`_retrying`)."""
        body: dict[str, Any] = {"region": region, "type": type, "fields": dict(fields),
                                "request_id": request_id or new_request_id()}
        if version is not None:
            body["version"] = version
        if valid_days is not None:
            body["valid_days"] = valid_days
        return self._retrying(lambda: self.call("POST", "/v1/credentials", body))

    def credential(self, credential_id: str) -> Credential:
        """``GET /v1/credentials/{id}``: the record, from whichever region the caller may read holds it."""
        return self.call("GET", f"/v1/credentials/{_path(credential_id)}")

    def credentials(self, *, region: str | None = None, type: str | None = None, status: str | None = None,
                    issued_after: str | None = None, issued_before: str | None = None, holder_id: str | None = None,
                    purpose: str | None = None, limit: int | None = None, cursor: str | None = None) -> CredentialPage:
        """``GET /v1/credentials`` (a region's agencies: their own; admin: names ``region``): one
        page of the region's credentials, newest first, as summaries (no fields: :meth:`credential`
        has them); ``next_cursor`` (None after the last page) asks for the next with the same filters.
        ``issued_after`` (inclusive) / ``issued_before`` (exclusive): RFC 3339 instants;
        ``holder_id``: the holder's ID number (matched by the region's keyed hash); ``purpose``: why
        (recorded in the trail with each credential answered)."""
        return self.call("GET", "/v1/credentials", query={
            "region": region, "type": type, "status": status, "issued_after": issued_after,
            "issued_before": issued_before, "holder_id": holder_id, "purpose": purpose, "limit": limit,
            "cursor": cursor})

    def iter_credentials(self, **filters: Any) -> Iterator[Credential]:
        """Every credential :meth:`credentials` finds with ``filters``, page after page."""
        cursor = filters.pop("cursor", None)
        while True:
            page = self.credentials(cursor=cursor, **filters)
            yield from page.get("items") or ()
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def _change_status(self, credential_id: str, action: str) -> dict:
        return self.call("POST", f"/v1/credentials/{_path(credential_id)}:{action}")

    def revoke(self, credential_id: str) -> dict:
        """``POST /v1/credentials/{id}:revoke`` (its issuing agency, admin): ``{"id", "status"}``.
        Final: a revoked credential is never valid again."""
        return self._change_status(credential_id, "revoke")

    def suspend(self, credential_id: str) -> dict:
        """``POST /v1/credentials/{id}:suspend``: not valid until reinstated."""
        return self._change_status(credential_id, "suspend")

    def reinstate(self, credential_id: str) -> dict:
        """``POST /v1/credentials/{id}:reinstate``: a suspended credential valid again."""
        return self._change_status(credential_id, "reinstate")

    def credential_qr(self, credential_id: str, kind: str = "png") -> bytes:
        """``GET /v1/credentials/{id}/qr.png`` (or ``svg``): the QR code's picture."""
        _, data = self.send("GET", f"/v1/credentials/{_path(credential_id)}/qr.{kind}",
                            accept="image/svg+xml" if kind == "svg" else "image/png")
        return data

    def access_log(self, credential_id: str, *, after: int | None = None, limit: int | None = None) -> dict:
        """``GET /v1/credentials/{id}/access-log``: who used it, oldest first; ``next``: the ``after`` of the next page."""
        return self.call("GET", f"/v1/credentials/{_path(credential_id)}/access-log",
                         query={"after": after, "limit": limit})

    def present(self, credential_id: str, purpose: str | None = None) -> Presentation:
        """``POST /v1/credentials/{id}/presentations``: a single-use show code (EP1), optionally
        for one purpose only."""
        return self.call("POST", f"/v1/credentials/{_path(credential_id)}/presentations",
                         {"purpose": purpose} if purpose else {})

    # -- verification ------------------------------------------------------------------------------

    def verify(self, payload: str, purpose: str | None = None) -> Verification:
        """``POST /v1/verifications``: the verdict on an ``EC1:``/``EP1:`` text. A credential that
        fails is still an answer (``result`` says why), not an error."""
        body = {"payload": payload}
        if purpose:
            body["purpose"] = purpose
        return self.call("POST", "/v1/verifications", body)

    def verify_batch(self, payloads: list[str], purpose: str | None = None) -> dict:
        """``POST /v1/verifications:batch``: ``{"results": [...]}`` in the order given."""
        body: dict[str, Any] = {"payloads": list(payloads)}
        if purpose:
            body["purpose"] = purpose
        return self.call("POST", "/v1/verifications:batch", body)

    # -- photos ------------------------------------------------------------------------------------

    def _photo_timeout(self, timeout: float | None) -> float:
        return max(self.timeout, PHOTO_TIMEOUT) if timeout is None else timeout

    def upload_photo(self, data: bytes, content_type: str, region: str | None = None, *,
                     timeout: float | None = None) -> tuple[dict, bool]:
        """``POST /v1/photos``: a JPEG or PNG portrait filed in a region's library; the answer
        (``digest``: what a credential's ``photo`` names) and whether it is new (201) or was held.
        ``timeout``: default at least :data:`PHOTO_TIMEOUT`."""
        status, raw = self.send("POST", "/v1/photos", query={"region": region}, data=data,
                                content_type=content_type, timeout=self._photo_timeout(timeout))
        return self._json(raw), status == 201

    def photo(self, digest: str, *, credential: str | None = None, region: str | None = None,
              purpose: str | None = None, timeout: float | None = None) -> bytes:
        """``GET /v1/photos/{digest}``: a credential's portrait (JPEG), for those its type shows it to."""
        _, data = self.send("GET", f"/v1/photos/{_path(digest)}", accept="image/jpeg",
                            query={"credential": credential, "region": region, "purpose": purpose},
                            timeout=self._photo_timeout(timeout))
        return data

    # -- registry ----------------------------------------------------------------------------------

    def types(self) -> list[CertificateType]:
        """``GET /v1/certificate-types``: every published certificate type, each version."""
        return self.call("GET", "/v1/certificate-types")["types"]

    def type(self, type_id: str, version: int | None = None) -> CertificateType | None:
        """One certificate type (its latest version, or ``version``) from :meth:`types`; None if none."""
        found = [t for t in self.types() if t["id"] == type_id and (version is None or t["version"] == version)]
        return max(found, key=lambda t: t["version"]) if found else None

    def publish_type(self, doc: Mapping[str, Any]) -> CertificateType:
        """``POST /v1/certificate-types`` (admin): ``{"id", "version", "name", "schema", "disclosure"}``."""
        return self.call("POST", "/v1/certificate-types", dict(doc))

    def regions(self) -> list[Region]:
        """``GET /v1/regions``: the regions and their signing keys."""
        return self.call("GET", "/v1/regions")["regions"]

    # -- recognition rules -------------------------------------------------------------------------

    def rules(self) -> Rules:
        """``GET /v1/recognition-rules``: which types each purpose accepts, whom each region recognises."""
        return self.call("GET", "/v1/recognition-rules")

    def set_purpose_types(self, purpose: str, types: list[str]) -> Rules:
        """``PUT /v1/recognition-rules/purposes/{purpose}`` (admin): exactly these types accepted."""
        return self.call("PUT", f"/v1/recognition-rules/purposes/{_path(purpose)}", {"types": list(types)})

    def set_recognition(self, region: str, recognises: list[str]) -> Rules:
        """``PUT /v1/recognition-rules/regions/{region}`` (admin; ``*``: callers bound to no region)."""
        return self.call("PUT", f"/v1/recognition-rules/regions/{_path(region, '*')}",
                         {"recognises": list(recognises)})

    def purposes(self) -> dict:
        """``GET /v1/purposes``: the purposes the caller's role may name, its default first."""
        return self.call("GET", "/v1/purposes")

    # -- API keys ----------------------------------------------------------------------------------

    def create_api_key(self, role: str, *, region: str | None = None, org: str | None = None,
                       label: str | None = None, expires_at: str | None = None,
                       purposes: list[str] | None = None) -> CreatedKey:
        """``POST /v1/api-keys`` (admin; an agency for its region's agencies): the key with its
        ``secret``, shown only in this answer."""
        body: dict[str, Any] = {"role": role}
        for name, value in (("region", region), ("org", org), ("label", label), ("expires_at", expires_at),
                            ("purposes", purposes)):
            if value is not None:
                body[name] = value
        return self.call("POST", "/v1/api-keys", body)

    def api_keys(self, *, limit: int | None = None, cursor: str | None = None) -> dict:
        """``GET /v1/api-keys``: one page of the keys the caller manages (never a secret),
        ``{"keys", "next_cursor"}`` (None after the last page)."""
        return self.call("GET", "/v1/api-keys", query={"limit": limit, "cursor": cursor})

    def iter_api_keys(self) -> Iterator[ApiKey]:
        """Every key :meth:`api_keys` lists, page after page."""
        cursor = None
        while True:
            page = self.api_keys(cursor=cursor)
            yield from page.get("keys") or ()
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def disable_api_key(self, key_id: str) -> ApiKey:
        """``POST /v1/api-keys/{id}:disable``: refused from now on, by every gateway process."""
        return self.call("POST", f"/v1/api-keys/{_path(key_id)}:disable")

    def enable_api_key(self, key_id: str) -> ApiKey:
        """``POST /v1/api-keys/{id}:enable``: a disabled key taken again."""
        return self.call("POST", f"/v1/api-keys/{_path(key_id)}:enable")

    def rotate_api_key(self, key_id: str) -> CreatedKey:
        """``POST /v1/api-keys/{id}:rotate``: a new ``secret`` (shown once); the old one is still
        taken until ``previous_secret_expires_at`` (the gateway's configured overlap)."""
        return self.call("POST", f"/v1/api-keys/{_path(key_id)}:rotate")

    def delete_api_key(self, key_id: str) -> None:
        """``DELETE /v1/api-keys/{id}``: the key gone for good."""
        self.call("DELETE", f"/v1/api-keys/{_path(key_id)}")


class _Deadline:
    """One call's deadline, ``seconds`` from now: past it, the call's connections are shut down
    (a server that trickles its status line or its headers, a byte before each socket timeout,
    would otherwise hold the call for hours: ``timeout=`` bounds each read, not the call)."""

    def __init__(self, seconds: float):
        self._end = time.monotonic() + seconds
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._fired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    @property
    def passed(self) -> bool:
        return self._fired or time.monotonic() >= self._end

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            fired = self._fired
        if fired:
            _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self._fired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)

    def cancel(self) -> None:
        self._timer.cancel()


def _shut(sock: socket.socket) -> None:
    """Both directions of ``sock`` shut, from any thread: its blocked read returns at once. The
    plain socket's call, also for a TLS one (whose own ``shutdown`` changes state its reader uses)."""
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except (OSError, ValueError):
        pass  # closed already


class _Watched:
    """An ``http.client`` connection whose socket its call's :class:`_Deadline` may shut."""

    def __init__(self, *args: Any, deadline: _Deadline, **kw: Any):
        super().__init__(*args, **kw)
        self._deadline = deadline

    def connect(self) -> None:
        super().connect()
        self._deadline.watch(self.sock)


class _WatchedHTTP(_Watched, http.client.HTTPConnection):
    pass


class _WatchedHTTPS(_Watched, http.client.HTTPSConnection):
    pass


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: _Deadline):
        super().__init__()
        self._deadline = deadline

    def http_open(self, req):
        return self.do_open(functools.partial(_WatchedHTTP, deadline=self._deadline), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: _Deadline):
        super().__init__()
        self._deadline = deadline

    def https_open(self, req):
        return self.do_open(functools.partial(_WatchedHTTPS, deadline=self._deadline), req, context=self._context)


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _check_url(url: str) -> str:
    """``url`` without its trailing ``/``; a :class:`BadUrl` unless it is http(s) with a host."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises for a port that is not a number
    except ValueError as err:
        raise BadUrl(f"bad gateway URL {url!r}: {err}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadUrl(f"bad gateway URL {url!r}: give http://HOST[:PORT], e.g. {DEFAULT_URL}")
    if parts.query or parts.fragment:
        raise BadUrl(f"bad gateway URL {url!r}: no query or fragment")
    return url.rstrip("/")
