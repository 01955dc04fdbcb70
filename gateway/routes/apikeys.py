"""API key routes: create, list, disable, enable, rotate, delete.

HTTP only: who may manage which key and every check of a request are the core's
(:mod:`ecert.rules.apikeys`), over the gateway's store; times are answered as RFC 3339.
"""

from __future__ import annotations

from aiohttp import web

from ecert.errors import InvalidRequest, NotFound
from ecert.limits import DEFAULT_KEYS_PAGE, MAX_KEYS_PAGE
from ecert.rules import apikeys

from .. import access
from ..answers import iso, json_response
from ..http import read_json
from ..keys import CONFIG, STORE, WALL_CLOCK

routes = web.RouteTableDef()
_TIMES = ("created_at", "expires_at", "last_used_at", "rotated_at")
_ACTIONS = ("disable", "enable", "rotate")


def _now(request: web.Request) -> int:
    return int(request.app[WALL_CLOCK]())


def key_json(record: dict) -> dict:
    """A key's record as answered: its times in RFC 3339 (null when unset)."""
    return {**record, **{name: iso(record[name]) if record.get(name) else None for name in _TIMES}}


@routes.post("/v1/api-keys")
async def create_key(request: web.Request) -> web.Response:
    """201 with the secret, shown only in this answer (``key``, the contract's name, and ``secret``)."""
    p = access.check(request)
    data = await read_json(request)
    now = _now(request)
    secret, doc = await apikeys.create_for(request.app[STORE], p, data, defaults=request.app[CONFIG].quotas, now=now)
    return json_response({**key_json(apikeys.public_record(doc, now)), "key": secret, "secret": secret}, 201)


@routes.get("/v1/api-keys")
async def list_keys(request: web.Request) -> web.Response:
    """The keys the caller manages, by id, a page at a time (``limit``, ``cursor``: the
    ``next_cursor`` of the page before; null on the last page)."""
    p = access.check(request)
    text = request.query.get("limit", "")
    if text and not (len(text) <= 8 and text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_KEYS_PAGE):
        raise InvalidRequest(f"limit must be from 1 to {MAX_KEYS_PAGE}", field="limit")
    cursor = request.query.get("cursor", "")
    keys, next_cursor = await apikeys.list_for(request.app[STORE], p, after=cursor,
                                               limit=int(text) if text else DEFAULT_KEYS_PAGE, now=_now(request))
    return json_response({"keys": [key_json(k) for k in keys], "next_cursor": next_cursor})


@routes.post("/v1/api-keys/{id:[^/:]+}:{action}")
async def key_action(request: web.Request) -> web.Response:
    """``:disable``, ``:enable`` (200, the record) and ``:rotate`` (201, the record, the new secret and
    when the one it replaces stops working)."""
    p = access.check(request)
    action = request.match_info["action"]
    if action not in _ACTIONS:
        raise NotFound(f"unknown action; an API key's actions are {', '.join(':' + a for a in _ACTIONS)}",
                       field="action")
    store, key_id, now = request.app[STORE], request.match_info["id"], _now(request)
    if action == "rotate":
        overlap = request.app[CONFIG].key_rotate_overlap
        secret, record = await apikeys.rotate(store, p, key_id, overlap=overlap, now=now)
        return json_response({**key_json(record), "key": secret, "secret": secret,
                              "previous_secret_expires_at": iso(now + overlap)}, 201)
    record = await apikeys.set_disabled(store, p, key_id, action == "disable", now=now)
    return json_response(key_json(record))


@routes.delete("/v1/api-keys/{id:[^/]+}")  # a ":" too: no key id has one (404, never 405)
async def delete_key(request: web.Request) -> web.Response:
    p = access.check(request)
    await apikeys.delete(request.app[STORE], p, request.match_info["id"])
    return web.Response(status=204)
