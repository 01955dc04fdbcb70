"""Configuration from the environment: one typed object per process, loud on a missing value."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..format import keys
from ..limits import MAX_BODY
from ..rules.apikeys import DEFAULT_QUOTAS, Quota
from ..store import default_uri
from .hsm import Pkcs11Config

_REQUIRED = object()


class _Env:
    def __init__(self, env: Mapping[str, str]):
        self.env = env
        self.missing: list[str] = []

    def get(self, name: str, default: Any = _REQUIRED, cast=str):
        raw = self.env.get(name)
        if raw is None or raw == "":
            if default is _REQUIRED:
                self.missing.append(name)
                return None
            return default
        try:
            return cast(raw)
        except ValueError as err:
            raise ConfigError(f"{name}={raw!r} is not a valid {cast.__name__}") from err

    def done(self, what: str) -> None:
        if self.missing:
            raise ConfigError(f"{what}: missing required environment variable(s): {', '.join(self.missing)}")


def _bool(raw: str) -> bool:
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


def _seconds(raw: str) -> float:
    """A positive, finite number of seconds."""
    value = float(raw)
    if not 0 < value < float("inf"):
        raise ValueError(raw)
    return value


_seconds.__name__ = "positive number of seconds"  # as a refusal names it


def _count(raw: str) -> int:
    """A whole number, 0 or more."""
    value = int(raw)
    if value < 0:
        raise ValueError(raw)
    return value


_count.__name__ = "whole number, 0 or more"


def _positive(raw: str) -> int:
    """A whole number above 0."""
    value = int(raw)
    if value <= 0:
        raise ValueError(raw)
    return value


_positive.__name__ = "whole number above 0"

MAX_KEY_LIFETIME_DAYS = 36500
"""A signing key's lifetime, at most (its registered window, two lifetimes, stays far inside MAX_EPOCH)."""


def _lifetime_days(raw: str) -> int:
    value = _count(raw)
    if value > MAX_KEY_LIFETIME_DAYS:
        raise ValueError(raw)
    return value


_lifetime_days.__name__ = f"whole number of days from 0 to {MAX_KEY_LIFETIME_DAYS}"

_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?|https?://\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?")


def _origins(raw: str) -> tuple[str, ...]:
    """Browser origins (``scheme://host[:port]``, no path, no ``*``), comma-separated; none: ()."""
    origins = tuple(dict.fromkeys(o.strip().lower() for o in raw.split(",") if o.strip()))
    if not all(_ORIGIN.fullmatch(o) for o in origins):
        raise ValueError(raw)
    return origins


_origins.__name__ = "comma-separated list of origins such as https://desk.example.cn"


def _log_format(raw: str) -> str:
    if raw.lower() not in ("text", "json"):
        raise ValueError(raw)
    return raw.lower()


_log_format.__name__ = "log format: text or json"


def _secret(raw: str) -> bytes:
    return raw.encode()


def _pkcs11(e: _Env) -> Pkcs11Config | None:
    """The PKCS#11 token that holds the signing keys, when ``ECERT_PKCS11_MODULE`` names one
    (then the token's label and its user PIN are required too); None: encrypted key files."""
    module = e.get("ECERT_PKCS11_MODULE", "")
    if not module:
        return None
    return Pkcs11Config(module=module, token_label=e.get("ECERT_PKCS11_TOKEN_LABEL"),
                        pin=e.get("ECERT_PKCS11_PIN"))


@dataclass(frozen=True)
class Common:
    store_uri: str
    var_dir: Path
    internal_token: str
    log_level: str
    tls_ca: Path
    tls_cert: Path
    tls_key: Path
    log_format: str
    otlp_endpoint: str
    health_listen: str
    """A plaintext address answering the gRPC health service alone (ECERT_HEALTH_LISTEN; "" none),
    for Kubernetes' grpc probe, which speaks no TLS. The gateway has /healthz and /readyz instead."""


def _common(e: _Env) -> dict:
    var = Path(e.get("ECERT_VAR_DIR", "var"))
    return dict(
        store_uri=e.get("ECERT_STORE_URI", default_uri(var)),
        var_dir=var,
        internal_token=e.get("ECERT_INTERNAL_TOKEN"),
        log_level=e.get("ECERT_LOG_LEVEL", "INFO"),
        # "text" (one line per event) or "json" (one object per line, with the request id: ecert.runtime.logs)
        log_format=e.get("ECERT_LOG_FORMAT", "text", _log_format),
        # traces over OTLP/gRPC when set (ecert.runtime.tracing); none exported otherwise
        otlp_endpoint=e.get("ECERT_OTLP_ENDPOINT", e.env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "")),
        # every gRPC link is TLS with mutual authentication: the suite's CA, this process's certificate and key
        tls_ca=e.get("ECERT_TLS_CA", cast=Path),
        tls_cert=e.get("ECERT_TLS_CERT", cast=Path),
        tls_key=e.get("ECERT_TLS_KEY", cast=Path),
        # the health service alone, plaintext, for an orchestrator's gRPC probe ("" none)
        health_listen=e.get("ECERT_HEALTH_LISTEN", ""),
    )


@dataclass(frozen=True)
class RegistryConfig(Common):
    listen: str
    root_key_passphrase: bytes
    trust_list_ttl: int
    seed: bool
    pkcs11: Pkcs11Config | None = None  # the root key in a token rather than an encrypted file

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "RegistryConfig":
        e = _Env(env)
        token = _pkcs11(e)
        cfg = dict(
            _common(e),
            listen=e.get("ECERT_REGISTRY_LISTEN", "127.0.0.1:50051"),
            # no file to encrypt when the root key is in a token
            root_key_passphrase=e.get("ECERT_ROOT_KEY_PASSPHRASE", b"" if token else _REQUIRED, _secret),
            pkcs11=token,
            trust_list_ttl=e.get("ECERT_TRUST_LIST_TTL", 86400, int),
            seed=e.get("ECERT_SEED", True, _bool),
        )
        e.done("registry")
        return cls(**cfg)


@dataclass(frozen=True)
class IssuerConfig(Common):
    region: str
    listen: str
    advertise: str
    registry_target: str
    signing_key_passphrase: bytes
    key_alg: str
    status_ttl: int
    default_valid_days: int
    key_lifetime_days: int = 365
    key_auto_rotate: bool = True
    status_list_validity: int = 3600
    pkcs11: Pkcs11Config | None = None  # the signing keys in a token rather than encrypted files

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "IssuerConfig":
        e = _Env(env)
        token = _pkcs11(e)
        listen = e.get("ECERT_ISSUER_LISTEN", "127.0.0.1:50061")
        cfg = dict(
            _common(e),
            region=e.get("ECERT_REGION"),
            listen=listen,
            advertise=e.get("ECERT_ISSUER_ADVERTISE", listen),
            registry_target=e.get("ECERT_REGISTRY_TARGET", "127.0.0.1:50051"),
            # no files to encrypt when the keys are in a token
            signing_key_passphrase=e.get("ECERT_SIGNING_KEY_PASSPHRASE", b"" if token else _REQUIRED, _secret),
            pkcs11=token,
            key_alg=e.get("ECERT_KEY_ALG", "ES256"),
            status_ttl=e.get("ECERT_STATUS_TTL", 10, int),
            # seconds from a status list's iat to its exp (a verifier trusts it that long); signed anew at half
            status_list_validity=e.get("ECERT_STATUS_LIST_VALIDITY", 3600, _positive),
            default_valid_days=e.get("ECERT_DEFAULT_VALID_DAYS", 365 * 6, int),
            # days a signing key signs before it is rotated (0: never for its age); registered for two
            key_lifetime_days=e.get("ECERT_KEY_LIFETIME_DAYS", 365, _lifetime_days),
            # a revoked, retired or expired current key is replaced at once (false: 503 SIGNING_KEY_UNAVAILABLE)
            key_auto_rotate=e.get("ECERT_KEY_AUTO_ROTATE", True, _bool),
        )
        e.done("issuer")
        if cfg["status_list_validity"] <= cfg["status_ttl"]:
            raise ConfigError(f"ECERT_STATUS_LIST_VALIDITY={cfg['status_list_validity']} must be longer than "
                              f"ECERT_STATUS_TTL={cfg['status_ttl']}: a list would expire before a verifier asks again")
        return cls(**cfg)


@dataclass(frozen=True)
class VerifierConfig(Common):
    listen: str
    registry_target: str
    root_public_key_pem: bytes
    refresh_seconds: float
    clock_skew: int
    resolve_timeout: float
    trail: bool = True
    trust_list_max_age: float = 300.0
    trust_list_min_version: int = 0
    trust_list_min_iat: int = 0
    status_cache_bytes: int = 256 << 20

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "VerifierConfig":
        e = _Env(env)
        root = e.get("ECERT_ROOT_PUBLIC_KEY")  # PEM text, or a path to a PEM file
        cfg = dict(
            _common(e),
            listen=e.get("ECERT_VERIFIER_LISTEN", "127.0.0.1:50071"),
            registry_target=e.get("ECERT_REGISTRY_TARGET", "127.0.0.1:50051"),
            root_public_key_pem=_pem(root) if root else None,
            refresh_seconds=e.get("ECERT_REFRESH_SECONDS", 10.0, float),
            clock_skew=e.get("ECERT_CLOCK_SKEW", 60, int),
            # seconds the issuing region has to resolve a show code (EP1) before REGION_UNAVAILABLE
            resolve_timeout=e.get("ECERT_RESOLVE_TIMEOUT", 2.0, _seconds),
            # each check recorded in an outbox (var/verifier/outbox/) and delivered to its issuing region's
            # trail; 0 only to measure what that costs (the holder's access log then misses the checks)
            trail=e.get("ECERT_TRAIL", True, _bool),
            # seconds without a successful trust-list refresh after which answers say the list is stale
            trust_list_max_age=e.get("ECERT_TRUST_LIST_MAX_AGE", 300.0, _seconds),
            # the oldest trust list a verifier may start from (version; iat, epoch seconds): set by `make run`
            # and the deployment from the registry's current list, so an old genuine list cannot be replayed
            trust_list_min_version=e.get("ECERT_TRUST_LIST_MIN_VERSION", 0, _count),
            trust_list_min_iat=e.get("ECERT_TRUST_LIST_MIN_IAT", 0, _count),
            # memory the status lists held may take, bytes (the rest is reloaded from disk when asked)
            status_cache_bytes=e.get("ECERT_STATUS_CACHE_BYTES", 256 << 20, _count),
        )
        e.done("verifier")
        return cls(**cfg)


@dataclass(frozen=True)
class GatewayConfig(Common):
    host: str
    port: int
    registry_target: str
    verifier_target: str
    max_body: int
    backend_timeout: float
    bulk_timeout: float
    auth_failures_per_minute: int
    quotas: Mapping[str, Quota] = field(default_factory=lambda: dict(DEFAULT_QUOTAS))
    """Each key role's quota (ECERT_QUOTA_<ROLE>_PER_MINUTE / _PER_DAY; 0: no limit); a key may have its own."""
    key_rotate_overlap: int = 86400
    """Seconds a rotated API key's old secret keeps working (ECERT_API_KEY_ROTATE_OVERLAP)."""
    cors_origins: tuple[str, ...] = ()
    """The browser origins whose pages may call the gateway (ECERT_CORS_ORIGINS; none by default)."""
    root_public_key_pem: bytes | None = None
    """The registry's root public key the verifier is pinned to (ECERT_ROOT_PUBLIC_KEY), served with the
    scanner page (``/scan/root-key.pem``) for the page to pin; None: not configured, the page cannot verify
    on its own."""
    verifier_probe_every: float = 1.0
    """Seconds between two health checks of each verifier replica (ECERT_VERIFIER_PROBE_EVERY)."""
    reuse_port: bool = False
    """Listen with SO_REUSEPORT, so several gateway processes share the port (ECERT_GATEWAY_REUSE_PORT)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "GatewayConfig":
        e = _Env(env)
        cfg = dict(
            _common(e),
            host=e.get("ECERT_GATEWAY_HOST", "127.0.0.1"),
            port=e.get("ECERT_GATEWAY_PORT", 8080, int),
            registry_target=e.get("ECERT_REGISTRY_TARGET", "127.0.0.1:50051"),
            verifier_target=e.get("ECERT_VERIFIER_TARGET", "127.0.0.1:50071"),
            max_body=e.get("ECERT_MAX_BODY", MAX_BODY, int),
            # seconds any one call to a backend may take (a batch or a picture: bulk_timeout)
            backend_timeout=e.get("ECERT_BACKEND_TIMEOUT", 5.0, _seconds),
            bulk_timeout=e.get("ECERT_BACKEND_BULK_TIMEOUT", 30.0, _seconds),
            # failed authentications one client address may make in a minute (0: no limit)
            auth_failures_per_minute=e.get("ECERT_AUTH_FAILURES_PER_MINUTE", 30, _count),
            # requests an API key may make in a minute and in a day, by role (a key may have its own)
            quotas={role: Quota(e.get(f"ECERT_QUOTA_{role.upper()}_PER_MINUTE", q.per_minute, _count),
                                e.get(f"ECERT_QUOTA_{role.upper()}_PER_DAY", q.per_day, _count))
                    for role, q in DEFAULT_QUOTAS.items()},
            # seconds the old secret of a rotated API key keeps working
            key_rotate_overlap=e.get("ECERT_API_KEY_ROTATE_OVERLAP", 86400, _count),
            # the origins whose pages may call from a browser (CORS), comma-separated
            cors_origins=e.get("ECERT_CORS_ORIGINS", (), _origins),
            # the root public key the verifier pins (PEM text or a file), for the scanner page to pin too
            root_public_key_pem=_root_pem(root) if (root := e.get("ECERT_ROOT_PUBLIC_KEY", "")) else None,
            # ECERT_VERIFIER_TARGET may name several verifier replicas (a comma-separated list, or dns:///name:port);
            # each is health-checked this often and taken out while it fails
            verifier_probe_every=e.get("ECERT_VERIFIER_PROBE_EVERY", 1.0, _seconds),
            # several gateway processes on one port (the kernel spreads the connections)
            reuse_port=e.get("ECERT_GATEWAY_REUSE_PORT", False, _bool),
        )
        e.done("gateway")
        return cls(**cfg)


def _root_pem(value: str) -> bytes:
    """:func:`_pem`, checked to be a public key the suite uses (a ConfigError at start, not at a request)."""
    pem = _pem(value)
    keys.public_from_pem(pem)
    return pem


def _pem(value: str) -> bytes:
    if value.lstrip().startswith("-----BEGIN"):
        return value.encode()
    path = Path(value)
    if not path.is_file():
        raise ConfigError(f"ECERT_ROOT_PUBLIC_KEY: no PEM text and no file at {value}")
    return path.read_bytes()

