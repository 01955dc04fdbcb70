"""``python -m ecert.cli.devsuite`` (``make run``): the whole suite on this machine, for development.

Starts the registry, one issuer per development region, the verifier and the HTTP gateway as
separate processes on loopback, all sharing the embedded SQLite store (``var/ecert.db``).
Each child's output is appended to ``var/log/<name>.log``, after a line giving the time it
started. If a child dies, the terminal is told (with the tail of its log) and that child alone
is started again after a back-off: 1, 2, 4 … up to 30 s, back to 1 s once it had run for a
minute (:mod:`ecert.cli.children`). Ctrl-C or SIGTERM stops them all (SIGTERM, then SIGKILL
after a grace period). ``var/`` and its folders are 0700, every file in them 0600.

Every gRPC link is TLS with mutual authentication: on first start a development CA and one
certificate per process (``registry``, ``issuer-<REGION>``, ``verifier``, ``gateway``) are made
in ``var/pki/`` (:func:`ecert.runtime.pki.ensure_dev_pki`; reused on later starts) and each child
is given its own through ``ECERT_TLS_CA``, ``ECERT_TLS_CERT`` and ``ECERT_TLS_KEY``.

Development secrets (internal token, key passphrases) that are not set in the environment
are generated once and kept in ``var/dev-secrets.env`` (mode 0600), so that a restart can
decrypt the keys it made before. Production sets these variables itself.

Ports (defaults in brackets): ``ECERT_REGISTRY_PORT`` [50051], ``ECERT_ISSUER_PORT_CN_SH``
[50061], ``ECERT_ISSUER_PORT_CN_ZJ`` [50062], ``ECERT_VERIFIER_PORT`` [50071],
``ECERT_GATEWAY_PORT`` [8080]; ``ECERT_VAR_DIR`` [var] and ``ECERT_STORE_URI``
[sqlite:///var/ecert.db] are honoured too.

Replicas: ``ECERT_VERIFIERS=N`` [1] starts N verifier processes (``verifier-1`` ... on consecutive
ports from ``ECERT_VERIFIER_PORT``, sharing ``var/verifier/``: each writes its own outbox files),
all given to the gateway as one comma-separated ``ECERT_VERIFIER_TARGET``, which spreads the calls
over them (:mod:`gateway.replicas`); ``ECERT_GATEWAYS=N`` [1] starts N gateway processes
(``gateway-1`` ...) on the one port with ``SO_REUSEPORT`` (``ECERT_GATEWAY_REUSE_PORT``): the
kernel spreads the connections, the store gives them one view of keys and quotas.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ecert.cli.children import Child
from ecert.files import private_dir, write_private
from ecert.runtime import pki
from ecert.store import default_uri, open_store

REGIONS = ("CN-SH", "CN-ZJ")
HOST = "127.0.0.1"
SECRET_VARS = ("ECERT_INTERNAL_TOKEN", "ECERT_ROOT_KEY_PASSPHRASE", "ECERT_SIGNING_KEY_PASSPHRASE")
SECRETS_FILE = "dev-secrets.env"
MAX_REPLICAS = 16
"""The most processes of one kind ``ECERT_VERIFIERS`` / ``ECERT_GATEWAYS`` may ask for."""
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
_PROJECT_ROOT = Path(__file__).resolve().parents[2]


class SuiteError(Exception):
    """The suite could not start, or a child died."""


class _Stop(BaseException):
    """Raised by the signal handler to leave whatever the main thread is doing."""


# -- configuration -------------------------------------------------------------------------------

def _issuer_port_var(region: str) -> str:
    return "ECERT_ISSUER_PORT_" + region.replace("-", "_")


@dataclass(frozen=True)
class Ports:
    registry: int = 50051
    issuers: Mapping[str, int] = field(default_factory=lambda: {"CN-SH": 50061, "CN-ZJ": 50062})
    verifier: int = 50071
    gateway: int = 8080

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "Ports":
        d = cls()

        def port(name: str, default: int) -> int:
            raw = env.get(name) or ""
            if not raw:
                return default
            if not raw.isdigit() or not 0 < int(raw) < 65536:
                raise SuiteError(f"{name}={raw!r} is not a port number")
            return int(raw)

        return cls(registry=port("ECERT_REGISTRY_PORT", d.registry),
                   issuers={r: port(_issuer_port_var(r), p) for r, p in d.issuers.items()},
                   verifier=port("ECERT_VERIFIER_PORT", d.verifier),
                   gateway=port("ECERT_GATEWAY_PORT", d.gateway))

    def all(self) -> dict[str, int]:
        return {"registry": self.registry, **{f"issuer-{r}": p for r, p in self.issuers.items()},
                "verifier": self.verifier, "gateway": self.gateway}

    def verifiers(self, n: int) -> list[int]:
        """The ports of ``n`` verifier replicas: consecutive from :attr:`verifier`."""
        return [self.verifier + i for i in range(n)]


def replica_count(name: str, env: Mapping[str, str] = os.environ) -> int:
    """How many processes ``ECERT_VERIFIERS`` / ``ECERT_GATEWAYS`` (``name``) asks for: 1 unless set."""
    raw = (env.get(name) or "1").strip()
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_REPLICAS:
        raise SuiteError(f"{name}={raw!r} is not a number of processes from 1 to {MAX_REPLICAS}")
    return int(raw)


def replica_names(kind: str, n: int) -> list[str]:
    """The children's names: ``kind`` alone for one, ``kind-1`` ... ``kind-n`` for several."""
    return [kind] if n == 1 else [f"{kind}-{i}" for i in range(1, n + 1)]


def default_store_uri(var_dir: Path) -> str:
    """The suite's default store for ``var_dir`` (:func:`ecert.store.default_uri`)."""
    return default_uri(var_dir)


def dev_secrets(var_dir: Path, env: Mapping[str, str] = os.environ) -> tuple[dict[str, str], Path | None]:
    """The three secrets: from the environment where set, else from (or newly into) the secrets file.

    Returns the values and the file's path if any value came from it (None if all were in ``env``).
    """
    values = {name: env[name] for name in SECRET_VARS if env.get(name)}
    if len(values) == len(SECRET_VARS):
        return values, None
    path = var_dir / SECRETS_FILE
    stored: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, sep, value = line.strip().partition("=")
            if sep and not name.startswith("#"):
                stored[name.strip()] = value.strip()
    missing = [name for name in SECRET_VARS if name not in stored]
    if missing:
        stored.update({name: secrets.token_urlsafe(32) for name in missing})
        text = ("# Development secrets made by `make run` (ecert.cli.devsuite); keep them with the keys in this\n"
                "# folder, which they decrypt. Production sets these variables itself.\n"
                + "".join(f"{name}={stored[name]}\n" for name in SECRET_VARS))
        write_private(path, text.encode())
    os.chmod(path, 0o600)
    for name in SECRET_VARS:
        values.setdefault(name, stored[name])
    return values, path


# -- children ------------------------------------------------------------------------------------

@dataclass
class SuiteProcesses:
    """Handle on the running children (in start order)."""

    var_dir: Path
    store_uri: str
    gateway_url: str
    secrets_file: Path | None = None
    children: list[Child] = field(default_factory=list)

    def supervise(self, now: float | None = None) -> list[str]:
        """Start again each child that died, after its back-off; returns what to tell the terminal.
        Call it often (the launcher: every 0.2 s); ``now`` is ``time.monotonic()`` unless given."""
        now = time.monotonic() if now is None else now
        return [m for m in (c.supervise(now) for c in self.children) if m]

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM every child (gateway first), wait up to ``timeout``, then SIGKILL the stragglers."""
        for c in reversed(self.children):
            if c.proc.poll() is None:
                try:
                    c.proc.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + timeout
        for c in reversed(self.children):
            try:
                c.proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"{c.name} did not stop within {timeout:.0f} s: killing it", file=sys.stderr, flush=True)
                c.proc.kill()
                c.proc.wait()


def _port_open(port: int, host: str = HOST) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _child_env(base: Mapping[str, str], **values: str) -> dict[str, str]:
    env = dict(base)
    env.update(values)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_PROJECT_ROOT), base.get("PYTHONPATH", "")) if p)
    return env


def _spawn(suite: SuiteProcesses, name: str, module: str, env: dict[str, str], address: str) -> Child:
    child = Child.start(name, module, env, suite.var_dir / "log" / f"{name}.log", address)
    suite.children.append(child)
    return child


def _wait(child: Child, ready: Callable[[], bool], deadline: float, what: str) -> None:
    while True:
        if child.proc.poll() is not None:
            raise SuiteError(f"{child.name} exited with code {child.proc.returncode} while starting; "
                             f"last lines of {child.log_path}:\n{child.tail()}")
        if ready():
            return
        if time.monotonic() > deadline:
            raise SuiteError(f"{child.name} was not ready ({what}) before the startup timeout; "
                             f"last lines of {child.log_path}:\n{child.tail()}")
        time.sleep(0.1)


def start_suite_processes(var_dir: Path | str = "var", ports: Ports | None = None, *,
                          env: Mapping[str, str] | None = None,
                          timeout: float = STARTUP_TIMEOUT) -> SuiteProcesses:
    """Start every process of the suite and wait until the gateway is ready.

    ``env`` (default ``os.environ``) is the base environment: its ``ECERT_STORE_URI``, the three
    secrets, ``ECERT_VERIFIERS`` and ``ECERT_GATEWAYS`` are honoured. On any failure the children
    already started are stopped and :class:`SuiteError` is raised.
    """
    base = dict(os.environ if env is None else env)
    var_dir = Path(var_dir)
    ports = ports or Ports()
    n_verifiers, n_gateways = replica_count("ECERT_VERIFIERS", base), replica_count("ECERT_GATEWAYS", base)
    verifier_ports = ports.verifiers(n_verifiers)
    wanted = {**ports.all(), **{f"verifier {i + 1}": p for i, p in enumerate(verifier_ports[1:], 1)}}
    for name, port in wanted.items():
        if not 0 < port < 65536:
            raise SuiteError(f"port {port} for the {name} is not a port number")
        if _port_open(port):
            raise SuiteError(f"port {port} for the {name} is already in use (is the suite running already?); "
                             f"choose another with {_port_env_name(name)}=PORT")
    private_dir(var_dir)
    private_dir(var_dir / "log")
    values, secrets_file = dev_secrets(var_dir, base)
    # TLS with mutual authentication on every gRPC link: a development CA and one certificate per service
    tls = pki.ensure_dev_pki(var_dir / pki.PKI_DIR, pki.dev_identities(ports.issuers))
    store_uri = base.get("ECERT_STORE_URI") or default_store_uri(var_dir)
    registry = f"{HOST}:{ports.registry}"
    verifiers = [f"{HOST}:{p}" for p in verifier_ports]
    common = dict(values, ECERT_VAR_DIR=str(var_dir), ECERT_STORE_URI=store_uri,
                  ECERT_REGISTRY_TARGET=registry, ECERT_VERIFIER_TARGET=",".join(verifiers))
    gateway_host = base.get("ECERT_GATEWAY_HOST") or HOST
    url_host = HOST if gateway_host in ("0.0.0.0", "::") else gateway_host
    suite = SuiteProcesses(var_dir, store_uri, f"http://{url_host}:{ports.gateway}", secrets_file)
    deadline = time.monotonic() + timeout
    try:
        # The registry first: it writes the root public key the verifier pins, and seeds the store.
        root_pub = var_dir / "registry" / "root-public.pem"
        c = _spawn(suite, "registry", "services.registry",
                   _child_env(base, **common, **_tls_env(tls[pki.REGISTRY]), ECERT_REGISTRY_LISTEN=registry),
                   registry)
        _wait(c, lambda: root_pub.is_file() and _port_open(ports.registry), deadline, "listening")

        # Issuers register their signing key and endpoint with the registry, then say so in their log.
        issuers = []
        for region, port in ports.issuers.items():
            addr = f"{HOST}:{port}"
            issuers.append(_spawn(suite, f"issuer-{region}", "services.issuer", _child_env(
                base, **common, **_tls_env(tls[pki.issuer_identity(region)]), ECERT_REGION=region,
                ECERT_ISSUER_LISTEN=addr, ECERT_ISSUER_ADVERTISE=addr), addr))
        for c in issuers:
            _wait(c, lambda c=c: c.log_contains("listening on"), deadline, "registered with the registry")

        # Each verifier loads the trust list (now with every issuer's key) before it listens, and
        # refuses any older than the registry's current one (an old genuine list replayed to it).
        min_version = str(current_trust_version(store_uri))
        started = []
        for name, port, addr in zip(replica_names("verifier", n_verifiers), verifier_ports, verifiers):
            c = _spawn(suite, name, "services.verifier", _child_env(
                base, **common, **_tls_env(tls[pki.VERIFIER]), ECERT_VERIFIER_LISTEN=addr,
                ECERT_ROOT_PUBLIC_KEY=str(root_pub), ECERT_TRUST_LIST_MIN_VERSION=min_version), addr)
            started.append((c, port))
        for c, port in started:
            _wait(c, lambda c=c, port=port: c.log_contains("listening on") and _port_open(port), deadline, "listening")

        # Several gateways share the port (SO_REUSEPORT); each says when it listens.
        reuse = {"ECERT_GATEWAY_REUSE_PORT": "1"} if n_gateways > 1 else {}
        gateways = [_spawn(suite, name, "gateway", _child_env(
            base, **common, **_tls_env(tls[pki.GATEWAY]), **reuse, ECERT_GATEWAY_HOST=gateway_host,
            ECERT_GATEWAY_PORT=str(ports.gateway), ECERT_ROOT_PUBLIC_KEY=str(root_pub)), suite.gateway_url)
            for name in replica_names("gateway", n_gateways)]
        for c in gateways:
            _wait(c, lambda c=c: c.log_contains("gateway listening on"), deadline, "listening")
        _wait(gateways[0], lambda: _http_ok(suite.gateway_url + "/readyz"), deadline, "/readyz answering 200")
    except BaseException:
        suite.stop()
        raise
    return suite


def current_trust_version(store_uri: str) -> int:
    """The version of the newest trust list the registry has published in the store (0: none),
    which a verifier started now may take as the oldest it accepts
    (``ECERT_TRUST_LIST_MIN_VERSION``). Read in a thread of its own: the caller may be inside an
    event loop."""
    async def read() -> int:
        store = await open_store(store_uri)
        try:
            latest = await store.latest_trust_list()
            return 0 if latest is None else int(latest["version"])
        finally:
            await store.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, read()).result(timeout=30)


def _tls_env(files: pki.TlsFiles) -> dict[str, str]:
    """One child's TLS configuration: the suite CA, its own certificate and key."""
    return {"ECERT_TLS_CA": str(files.ca), "ECERT_TLS_CERT": str(files.cert), "ECERT_TLS_KEY": str(files.key)}


def _port_env_name(name: str) -> str:
    if name.startswith("issuer-"):
        return _issuer_port_var(name[len("issuer-"):])
    return f"ECERT_{name.upper()}_PORT"


# -- the command ---------------------------------------------------------------------------------

def _banner(suite: SuiteProcesses) -> str:
    cli_default = os.environ.get("ECERT_STORE_URI") or default_uri("var")  # what `ecert` uses
    store_opt = "" if suite.store_uri == cli_default else f" --store '{suite.store_uri}'"
    lines = ["", "The e-certificate suite is running (development mode).", ""]
    for c in suite.children:
        lines.append(f"  {c.name:<14} {c.address:<24} pid {c.proc.pid:<8} log {c.log_path}")
    lines += [
        "",
        f"  Gateway:  {suite.gateway_url}   (API description: {suite.gateway_url}/openapi.json)",
        f"  Store:    {suite.store_uri}",
        f"  Logs:     {suite.var_dir / 'log'}/<name>.log",
        "",
        f"  Get an API key:  .venv/bin/ecert apikey create --role admin{store_opt}",
        "                   (or --role agency --region CN-ZJ, --role hotel, ...)",
    ]
    if suite.secrets_file is not None:
        lines += ["",
                  f"  Development secrets are kept in {suite.secrets_file} (mode 0600), generated on the first run",
                  "  so restarts can decrypt the keys made before. Production sets "
                  + ", ".join(SECRET_VARS) + " itself."]
    lines += ["", "Press Ctrl-C to stop.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    def on_signal(signum, frame):
        for sig in old:  # a second Ctrl-C must not interrupt the orderly stop
            signal.signal(sig, signal.SIG_IGN)
        raise _Stop(signum)

    old = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    suite: SuiteProcesses | None = None
    try:
        var_dir = Path(os.environ.get("ECERT_VAR_DIR") or "var")
        print(f"Starting the e-certificate suite (state in {var_dir}/, logs in {var_dir / 'log'}/) ...", flush=True)
        suite = start_suite_processes(var_dir, Ports.from_env())  # ECERT_VERIFIERS, ECERT_GATEWAYS: from the environment
        print(_banner(suite), flush=True)
        while True:
            for message in suite.supervise():
                print(f"\n{message}", file=sys.stderr, flush=True)
            time.sleep(0.2)
    except _Stop:
        if suite is None:  # interrupted while starting: start_suite_processes stopped what it had started
            print("Interrupted while starting; all processes stopped.", flush=True)
            return 0
        print("\nStopping the suite ...", flush=True)
        suite.stop()
        print("All processes stopped.", flush=True)
        return 0
    except SuiteError as err:
        print(f"\nThe suite could not start: {err}", file=sys.stderr, flush=True)
        return 1
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())
