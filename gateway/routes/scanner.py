"""The scanner page (open: the page asks for the operator's key and keeps it in sessionStorage).

The page is an installable offline app (issue 15): ``scan.html``, ``scan.js`` and ``scan.css``
beside this package, a web manifest and its icons, and what ``frontend/`` builds into
``static/app/`` (``make run`` / ``make test`` run the build): ``scanner.js``, the in-browser
verifier and its lists, ``sw.js``, the service worker that keeps the page for use with no
network, and ``zxing_reader.wasm``, zxing-cpp's QR reader. All are served under ``/scan/`` by
one route, from a fixed table of names: nothing else is ever read from disk.

The worker is served at ``/scan/sw.js`` but controls ``/scan`` itself (a scope outside the
folder it is served from): ``Service-Worker-Allowed: /scan`` allows that. Every file carries an
ETag (its SHA-256) and ``Cache-Control: no-cache``: a browser asks again each time and is
answered 304 when it holds the same bytes, so the worker's copy and the page's stay current. Text
and the WebAssembly reader go gzip-compressed to a browser that accepts it (``Vary:
Accept-Encoding``; the ETag of the packed form is its own).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
from pathlib import Path

from aiohttp import web

from ecert.errors import NotFound

from ..http import etag_matches

routes = web.RouteTableDef()

STATIC_DIR = Path(__file__).parent.parent / "static"
APP_DIR = STATIC_DIR / "app"
"""The built files (frontend/build.mjs writes them; never committed)."""

SW_SCOPE = "/scan"

_TEXT = frozenset({"text/html", "text/css", "application/javascript", "application/manifest+json"})
_ASSETS: dict[str, tuple[Path, str]] = {
    "scan.js": (STATIC_DIR / "scan.js", "application/javascript"),
    "scan.css": (STATIC_DIR / "scan.css", "text/css"),
    "manifest.webmanifest": (STATIC_DIR / "manifest.webmanifest", "application/manifest+json"),
    "icon-192.png": (STATIC_DIR / "icon-192.png", "image/png"),
    "icon-512.png": (STATIC_DIR / "icon-512.png", "image/png"),
    "scanner.js": (APP_DIR / "scanner.js", "application/javascript"),
    "sw.js": (APP_DIR / "sw.js", "application/javascript"),
    "zxing_reader.wasm": (APP_DIR / "zxing_reader.wasm", "application/wasm"),
}
ASSET_NAMES = tuple(_ASSETS)
"""The names ``/scan/{name}`` serves (the OpenAPI document lists them)."""

_HEADERS = {
    # 'wasm-unsafe-eval': the QR reader is WebAssembly, compiled from the page's own file (never eval);
    # worker-src and manifest-src: the service worker and the manifest, from the page's origin only.
    "Content-Security-Policy": "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
                               "img-src 'self' data: blob:; media-src 'self' blob: mediastream:; connect-src 'self'; "
                               "worker-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; "
                               "frame-ancestors 'none'",
    "Permissions-Policy": "camera=(self)",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


_PACKED = _TEXT | {"application/wasm"}
"""Types sent gzip-compressed to a browser that accepts it (the QR reader: 947 KB, 410 KB packed)."""


@functools.cache
def _read(path: Path, packed: bool = False) -> tuple[bytes, str]:
    """A file of the page (gzip-compressed when ``packed``) and its ETag, read once (only the
    table's paths are ever asked for); a missing one (the front end not built) is 404, and looked
    for again when next asked for."""
    try:
        body = path.read_bytes()
    except FileNotFoundError:
        raise NotFound("no such file") from None
    etag = hashlib.sha256(body).hexdigest()[:32]
    if packed:
        return gzip.compress(body, compresslevel=9, mtime=0), f'"{etag}-gz"'
    return body, f'"{etag}"'


def _accepts_gzip(header: str) -> bool:
    """Whether ``Accept-Encoding`` admits gzip (named, or ``*``, without ``q=0``)."""
    for part in header.lower().split(","):
        name, _, params = part.strip().partition(";")
        if name.strip() in ("gzip", "*"):
            q = params.replace(" ", "")
            try:
                return not q.startswith("q=") or float(q[2:7]) > 0
            except ValueError:
                return False
    return False


def _static(request: web.Request, path: Path, content_type: str, **extra: str) -> web.Response:
    packed = content_type in _PACKED and _accepts_gzip(request.headers.get("Accept-Encoding", ""))
    body, etag = _read(path, packed)
    headers = {**_HEADERS, "Cache-Control": "no-cache", "ETag": etag, "Vary": "Accept-Encoding", **extra}
    if packed:
        headers["Content-Encoding"] = "gzip"
    if etag_matches(request, etag):
        return web.Response(status=304, headers=headers)
    charset = "utf-8" if content_type in _TEXT else None
    return web.Response(body=body, content_type=content_type, charset=charset, headers=headers)


@routes.get("/scan")
async def scanner_page(request: web.Request) -> web.Response:
    return _static(request, STATIC_DIR / "scan.html", "text/html")


@routes.get("/scan/{name}")
async def scanner_asset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in _ASSETS:
        raise NotFound("no such file")
    path, kind = _ASSETS[name]
    extra = {"Service-Worker-Allowed": SW_SCOPE} if name == "sw.js" else {}
    return _static(request, path, kind, **extra)
