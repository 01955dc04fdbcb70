"""Reading requests: bodies within bounds, JSON objects, typed fields, multipart pictures.

Every limit is :mod:`ecert.limits`'s; every refusal is a domain error (400 or 413 through
:mod:`gateway.errors`), never a 500. A client that goes away before its body is read raises
:class:`ClientGone` (nobody to answer: counted, not logged as an error). No refusal echoes what
the client sent.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from ecert.errors import InvalidRequest, TooLarge
from ecert.limits import MAX_IMAGE_BYTES, MAX_MULTIPART, MAX_PURPOSE_PART
from ecert.rpc.convert import principal_to_pb
from ecert.rules.access import purpose_for
from ecert.rules.requests import check_purpose
from ecertpb.v1 import common_pb2

from .keys import CONFIG, PRINCIPAL

CHUNK = 64 * 1024
_PART_NAMES = ("image", "purpose")


class ClientGone(Exception):
    """The client closed the connection before its request was read: there is nobody to answer."""


def etag_matches(request: web.Request, etag: str) -> bool:
    """Whether the request's ``If-None-Match`` names ``etag`` (weak or strong): the client holds it."""
    header = request.headers.get("If-None-Match", "")
    return etag in (t.strip().removeprefix("W/") for t in header.split(","))


def pb_principal(request: web.Request) -> common_pb2.Principal:
    """The caller, as the services take it."""
    return principal_to_pb(request[PRINCIPAL])


# -- bodies ------------------------------------------------------------------------------------

async def read_body(request: web.Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to be over ``limit`` bytes. (The app-wide
    ``client_max_size`` admits multipart pictures; every other body is bounded here.)"""
    if request.content_length is not None and request.content_length > limit:
        raise TooLarge(f"the body is over {limit} bytes")
    body = bytearray()
    try:
        async for chunk in request.content.iter_chunked(CHUNK):
            body += chunk
            if len(body) > limit:
                raise TooLarge(f"the body is over {limit} bytes")
    except ConnectionResetError as err:
        raise ClientGone() from err
    except HttpProcessingError as err:  # e.g. a broken chunked encoding
        raise InvalidRequest("the body's transfer encoding is malformed") from err
    return bytes(body)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} is out of range")
    return value


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
"""A ``\\uD800``-``\\uDFFF`` escape: half of a pair (an emoji), or a lone surrogate, which is no text."""
_SURROGATE = re.compile("[\ud800-\udfff]")


def _lone_surrogate(value: Any) -> bool:
    """Whether a string in ``value`` (a member name or a value, at any depth) holds a lone surrogate."""
    todo = [value]  # a loop, not recursion: the body may be nested as deeply as the JSON reader allows
    while todo:
        v = todo.pop()
        if isinstance(v, str):
            if _SURROGATE.search(v) is not None:
                return True
        elif isinstance(v, dict):
            todo.extend(v.keys())
            todo.extend(v.values())
        elif isinstance(v, list):
            todo.extend(v)
    return False


def _check_text(data: dict) -> None:
    """Refuse a lone surrogate (``"\\ud800"`` unpaired) anywhere in the body, naming the member: Python's
    JSON reader accepts one, but it is no Unicode text and could not be sent on (protobuf, UTF-8)."""
    for name, value in data.items():
        if _lone_surrogate(name):
            raise InvalidRequest("malformed JSON: a member name holds a lone surrogate (\\ud800-\\udfff)",
                                 code="MALFORMED_JSON")
        if _lone_surrogate(value):
            name = name if len(name) <= 64 and name.isidentifier() else "a member"
            raise InvalidRequest(f"malformed JSON: {name} holds a lone surrogate (\\ud800-\\udfff), which is "
                                 "not Unicode text", code="MALFORMED_JSON", field=name)


async def read_json(request: web.Request) -> dict:
    """The body as a JSON object of UTF-8 text, at most ``cfg.max_body`` bytes; no NaN, no
    infinities, no lone surrogates."""
    body = await read_body(request, request.app[CONFIG].max_body)
    if not body:
        raise InvalidRequest("a JSON body is required")
    try:
        text = body.decode("utf-8-sig")  # strict: json.loads(bytes) would pass raw surrogates through
        data = json.loads(text, parse_float=_finite_float, parse_constant=_no_constant)
    except UnicodeDecodeError as err:
        raise InvalidRequest(f"malformed JSON: not UTF-8 text (byte {err.start})", code="MALFORMED_JSON") from err
    except ValueError as err:
        raise InvalidRequest(f"malformed JSON: {err}", code="MALFORMED_JSON") from err
    except RecursionError as err:
        raise InvalidRequest("malformed JSON: nested too deeply", code="MALFORMED_JSON") from err
    if not isinstance(data, dict):
        raise InvalidRequest("the body must be a JSON object", code="MALFORMED_JSON")
    if "\\u" in text and _SURROGATE_ESCAPE.search(text):  # only escapes make surrogates: the common body skips the walk
        _check_text(data)
    return data


# -- fields ------------------------------------------------------------------------------------

def get(data: dict, name: str, kind: type | tuple, default: Any = None, required: bool = False) -> Any:
    """Field ``name`` of type ``kind`` (a bool is not an int); absent or null: ``default``, or 400
    if ``required``."""
    value = data.get(name, default)
    if value is None:
        if required:
            raise InvalidRequest(f"{name} is required", field=name, key="field.REQUIRED")
        return default
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        kinds = kind if isinstance(kind, tuple) else (kind,)
        raise InvalidRequest(f"{name} has the wrong type", field=name, key="field.WRONG_TYPE",
                             params={"type": [_JSON_TYPES.get(k, "object") for k in kinds]})
    return value


_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean", list: "array", dict: "object"}


def get_int(data: dict, name: str, default: int, low: int, high: int) -> int:
    """An optional integer field within ``[low, high]`` (absent: ``default``)."""
    value = get(data, name, int, None)
    if value is None:
        return default
    if not low <= value <= high:
        raise InvalidRequest(f"{name} must be from {low} to {high}", field=name, key="field.OUT_OF_RANGE",
                             params={"min": low, "max": high})
    return value


def judged_purpose(request: web.Request, purpose: str) -> str:
    """The purpose a verification is judged for: the one named, checked for the caller's role
    (400 PURPOSE_UNKNOWN, 403 PURPOSE_NOT_ALLOWED), or the role's default."""
    return purpose_for(request[PRINCIPAL], check_purpose(purpose)).value


def get_purpose(request: web.Request, data: dict) -> str:
    return judged_purpose(request, get(data, "purpose", str, ""))


# -- multipart ---------------------------------------------------------------------------------

async def _read_part(part, limit: int, total: list[int], keep: bool = True) -> bytes:
    """One multipart part, at most ``limit`` bytes, counting toward the body's total."""
    data = bytearray()
    seen = 0
    while chunk := await part.read_chunk(CHUNK):
        seen += len(chunk)
        total[0] += len(chunk)
        if keep:
            data += chunk
        if seen > limit:
            name = part.name if part.name in _PART_NAMES else "other"  # a client's name is not echoed
            raise TooLarge(f"the {name} part is over {limit} bytes", field=name)
        if total[0] > MAX_MULTIPART:
            raise TooLarge(f"the body is over {MAX_MULTIPART} bytes")
    return bytes(data)


async def read_image_form(request: web.Request) -> tuple[bytes, str]:
    """The ``image`` and optional ``purpose`` parts of a multipart/form-data body, each bounded."""
    if request.content_length is not None and request.content_length > MAX_MULTIPART:
        raise TooLarge(f"the body is over {MAX_MULTIPART} bytes (a picture may be up to {MAX_IMAGE_BYTES})")
    image: bytes | None = None
    purpose = b""
    total = [0]
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise InvalidRequest("nested multipart bodies are not accepted")
            if part.name == "image" and image is None:
                image = await _read_part(part, MAX_IMAGE_BYTES, total)
            elif part.name == "purpose":
                purpose = await _read_part(part, MAX_PURPOSE_PART, total)
            else:
                await _read_part(part, MAX_MULTIPART, total, keep=False)  # dropped, but counted
    except ConnectionResetError as err:
        raise ClientGone() from err
    except HttpProcessingError as err:  # a part's header with a control byte, without a colon, ...
        raise InvalidRequest("malformed multipart body: a part's header is unreadable",
                             code="MALFORMED_MULTIPART") from err
    except (ValueError, AssertionError, RuntimeError, LookupError) as err:
        # aiohttp's messages quote the client's bytes: they are neither echoed nor logged
        raise InvalidRequest("malformed multipart body", code="MALFORMED_MULTIPART") from err
    if image is None:
        raise InvalidRequest("a multipart verification needs a part named image", field="image")
    try:
        text = purpose.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InvalidRequest("purpose must be UTF-8 text", field="purpose") from err
    return image, judged_purpose(request, text)
