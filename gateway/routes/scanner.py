"""The scanner page (open: the page asks for the operator's key and keeps it in sessionStorage)."""

from __future__ import annotations

import functools
from pathlib import Path

from aiohttp import web

from ecert.errors import NotFound

routes = web.RouteTableDef()

STATIC_DIR = Path(__file__).parent.parent / "static"
_ASSETS = {"scan.js": "application/javascript", "scan.css": "text/css"}
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
                               "media-src 'self' blob: mediastream:; connect-src 'self'; base-uri 'none'; "
                               "form-action 'none'; frame-ancestors 'none'",
    "Permissions-Policy": "camera=(self)",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


@functools.cache
def _read(name: str) -> bytes:
    """A file of the page (a few KiB), read once; only the names above are ever asked for."""
    return (STATIC_DIR / name).read_bytes()


def _static(name: str, content_type: str) -> web.Response:
    return web.Response(body=_read(name), content_type=content_type, charset="utf-8",
                        headers={**_HEADERS, "Cache-Control": "no-cache"})


@routes.get("/scan")
async def scanner_page(request: web.Request) -> web.Response:
    return _static("scan.html", "text/html")


@routes.get("/scan/{name}")
async def scanner_asset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in _ASSETS:
        raise NotFound("no such file")
    return _static(name, _ASSETS[name])
