"""Run the whole suite in one event loop (tests, benchmarks): real gRPC servers on
port 0 with TLS and mutual authentication (a development PKI in the folder's ``pki/``), a real
SQLite store in a folder, and the gateway app. Not used in production."""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from ecert.clock import OffsetClock
from ecert.rpc import client as rpc_client
from ecert.rpc import server as rpc_server
from ecert.rpc.links import Links
from ecert.rules import apikeys
from ecert.rules.apikeys import Quota
from ecert.runtime import pki
from ecert.runtime.config import (
    GatewayConfig,
    IssuerConfig,
    RegistryConfig,
    VerifierConfig,
)
from ecert.store import Store, default_uri, open_store
from services.issuer import servicer as issuer_servicer
from services.issuer.domain import Issuer
from services.registry import servicer as registry_servicer
from services.registry.domain import Registry
from services.verifier import servicer as verifier_servicer
from services.verifier.domain import Verifier
from testkit import photos


@dataclass
class Suite:
    var_dir: Path
    store: Store
    token: str
    registry: Registry
    registry_port: int
    issuers: dict[str, Issuer]
    issuer_ports: dict[str, int]
    verifier: Verifier
    verifier_port: int
    verifier_clock: OffsetClock
    verifier_config: VerifierConfig
    gateway_config: GatewayConfig
    tls: dict[str, pki.TlsFiles] = field(default_factory=dict)  # by service identity
    servers: list[grpc.aio.Server] = field(default_factory=list)
    channels: list = field(default_factory=list)

    def links(self, identity: str = pki.GATEWAY) -> Links:
        """The internal token and the TLS material of a service identity (the gateway's by default:
        most tests call the services as the gateway does); a certificate of the suite's CA is made
        for an identity it has none for yet (``issuer-CN-AH``)."""
        if identity not in self.tls:
            self.tls.update(pki.ensure_dev_pki(self.var_dir / pki.PKI_DIR, [identity]))
        return Links.from_files(self.token, self.tls[identity])

    def channel(self, port: int, peer: str, identity: str = pki.GATEWAY) -> grpc.aio.Channel:
        """A channel to the service on ``port`` (which is ``peer``), calling as ``identity``."""
        return rpc_client.channel(f"127.0.0.1:{port}", self.links(identity), peer=peer)

    async def api_key(self, role: str, region: str | None = None) -> str:
        key, _ = await apikeys.create_api_key(self.store, role, region)
        return key

    async def refresh(self) -> None:
        """What the background refresh does within seconds under ``make run``, now."""
        await self.verifier.cache.refresh_all()
        for issuer in self.issuers.values():
            issuer.expire_types()
            await issuer.types()
        await self.deliver_trail()

    async def deliver_trail(self) -> int:
        """What the verifier's background delivery does within a second: its outbox to the regions' trails."""
        return await self.verifier.trail.deliver() if self.verifier.trail is not None else 0

    async def close(self) -> None:
        if self.verifier.trail is not None:
            await self.verifier.trail.close()
        await self.verifier.cache.close()
        for server in self.servers:
            await rpc_server.stop(server, 0)
        for ch in self.channels:
            await ch.close()
        await self.store.close()


def _env(var_dir: Path, token: str, tls: pki.TlsFiles, **extra: str) -> dict[str, str]:
    return {"ECERT_VAR_DIR": str(var_dir), "ECERT_STORE_URI": default_uri(var_dir),
            "ECERT_INTERNAL_TOKEN": token, "ECERT_TLS_CA": str(tls.ca), "ECERT_TLS_CERT": str(tls.cert),
            "ECERT_TLS_KEY": str(tls.key), **extra}


async def start_suite(var_dir: Path, regions=("CN-SH", "CN-ZJ"), *, verifier_refresh: float = 0,
                      key_env: dict[str, str] | None = None) -> Suite:
    """The suite in this loop. ``key_env``: more settings of the registry and the issuers (where
    they keep keys: ``ECERT_PKCS11_*``, tests/test_hsm.py)."""
    token = secrets.token_hex(16)
    passphrase = secrets.token_hex(8)
    store = await open_store(default_uri(var_dir))
    await photos.hold_sample_photos(store, regions)  # the photos the sample fields name (testkit.photos)
    servers, channels = [], []
    tls = pki.ensure_dev_pki(var_dir / pki.PKI_DIR, pki.dev_identities(regions))

    rcfg = RegistryConfig.from_env(_env(var_dir, token, tls[pki.REGISTRY], **{
        "ECERT_ROOT_KEY_PASSPHRASE": passphrase, "ECERT_REGISTRY_LISTEN": "127.0.0.1:0", **(key_env or {})}))
    registry, rserver, rport = await registry_servicer.build(rcfg, store)
    await rpc_server.start(rserver)
    servers.append(rserver)
    registry_target = f"127.0.0.1:{rport}"

    issuers, ports = {}, {}
    for region in regions:
        icfg = IssuerConfig.from_env(_env(var_dir, token, tls[pki.issuer_identity(region)], **{
            "ECERT_REGION": region, "ECERT_SIGNING_KEY_PASSPHRASE": passphrase,
            "ECERT_REGISTRY_TARGET": registry_target, "ECERT_ISSUER_LISTEN": "127.0.0.1:0", **(key_env or {})}))
        issuer, iserver, iport, ich = await issuer_servicer.build(icfg, store)
        await rpc_server.start(iserver)
        await issuer.register(f"127.0.0.1:{iport}")
        servers.append(iserver)
        channels.append(ich)
        issuers[region], ports[region] = issuer, iport

    _, pub_path = registry_servicer.root_key_paths(var_dir)
    clock = OffsetClock()
    latest = await store.latest_trust_list()  # as make run does: no list older than the registry's current one
    vcfg = VerifierConfig.from_env(_env(var_dir, token, tls[pki.VERIFIER], ECERT_ROOT_PUBLIC_KEY=str(pub_path),
                                        ECERT_REGISTRY_TARGET=registry_target, ECERT_VERIFIER_LISTEN="127.0.0.1:0",
                                        ECERT_TRUST_LIST_MIN_VERSION=str(latest["version"])))
    verifier, vserver, vport = await verifier_servicer.build(vcfg, now=clock)
    await rpc_server.start(vserver)
    servers.append(vserver)
    await verifier.cache.refresh_trust()

    gcfg = GatewayConfig.from_env(_env(var_dir, token, tls[pki.GATEWAY], ECERT_REGISTRY_TARGET=registry_target,
                                       ECERT_VERIFIER_TARGET=f"127.0.0.1:{vport}",
                                       ECERT_ROOT_PUBLIC_KEY=str(pub_path)))  # the verifier's, for the scanner page
    # The session's tests share keys for minutes on end: quotas high enough never to decide one of
    # theirs (tests/test_quotas.py sets its own).
    gcfg = dataclasses.replace(gcfg, quotas={role: Quota(10**6, 10**9) if q.per_minute or q.per_day else q
                                             for role, q in gcfg.quotas.items()})
    return Suite(var_dir, store, token, registry, rport, issuers, ports, verifier, vport, clock, vcfg, gcfg,
                 tls, servers, channels)
