"""The typed keys of the gateway's application and request state (one place, so every module
reads the same ones and none imports the app factory for them)."""

from __future__ import annotations

from aiohttp import web

from ecert.rules.access import Principal
from ecert.runtime.cache import BoundedCache
from ecert.runtime.config import GatewayConfig
from ecert.store import Store

from . import metrics
from .clients import Backends
from .throttle import AuthThrottle, Quotas

CONFIG = web.AppKey("config", GatewayConfig)
STORE = web.AppKey("store", Store)
BACKENDS = web.AppKey("backends", Backends)
METRICS = web.AppKey("metrics", metrics.Metrics)
KEYRING = web.AppKey("keyring", object)
"""The API keys this process accepted lately, checked against the store's every second
(:class:`gateway.auth.Keyring`)."""
LAST_USE = web.AppKey("last_use", object)
"""Each key's last use, written to the store at most once a minute (:class:`gateway.auth.LastUse`)."""
QUOTAS = web.AppKey("quotas", Quotas)
"""Each key's requests in its windows, shared with the other gateways through the store (:mod:`gateway.throttle`)."""
WALL_CLOCK = web.AppKey("wall_clock", object)
"""Epoch seconds (a callable; tests pass a fake): keys' expiry, quota windows, the times recorded."""
QR_CACHE = web.AppKey("qr_cache", BoundedCache)
"""(credential id, "png" | "svg") -> the drawn QR code."""
AUTH_THROTTLE = web.AppKey("auth_throttle", AuthThrottle)
"""Failed authentications per client address (:mod:`gateway.throttle`)."""
ACCESS = web.AppKey("access", dict)
"""Each registered route -> its :class:`gateway.access.Rule` (bound when the app is made)."""

REQUEST_ID = web.RequestKey("request_id", str)
PRINCIPAL = web.RequestKey("principal", Principal)
