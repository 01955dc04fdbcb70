"""Registry: regions, their keys and certificate types, published as a signed trust list.

The servicer translates protobuf to store and core calls; the trust list itself
is built and signed by :mod:`ecert.format.trustlist`. Every change publishes a new
version; a published list is also re-signed (new version) once half its
validity has passed, so verifiers never see it expire while the registry runs.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from pathlib import Path

from ecert.clock import Clock, system_clock
from ecert.errors import Conflict, InvalidRequest, NotFound
from ecert.format import keys, trustlist
from ecert.rpc.convert import principal_from_pb
from ecert.rpc.server import create_server, rpc
from ecert.rules.access import require_region, require_role
from ecert.rules.catalogue import DEFAULT_REGIONS, builtin_types, load_type_document
from ecert.rules.schema import check_endpoint, check_region_code
from ecert.runtime.config import RegistryConfig
from ecert.store import Store
from ecert.vocab import KeyStatus
from ecertpb.v1 import common_pb2, registry_pb2, registry_pb2_grpc

log = logging.getLogger("ecert.registry")

DEFAULT_KEY_YEARS = 10
MAX_NAME = 200
MAX_SPKI = 1024


def root_key_paths(var_dir: Path) -> tuple[Path, Path]:
    return var_dir / "registry" / "root-key.pem", var_dir / "registry" / "root-public.pem"


class Registry:
    """Registry logic over a store and the root key."""

    def __init__(self, store: Store, root: keys.SigningKey, *, ttl: int, now: Clock = system_clock):
        self.store = store
        self.root = root
        self.ttl = ttl
        self.now = now
        self._current: registry_pb2.TrustList | None = None
        self._lock = asyncio.Lock()

    async def seed(self) -> None:
        for code, name in DEFAULT_REGIONS.items():
            await self.store.create_region(code, name)
        for t in builtin_types():
            await self.store.put_type(t["id"], t["version"], t["name"], t["schema"], t["disclosure"])

    async def publish(self) -> registry_pb2.TrustList:
        """Sign and store a new trust-list version from what the store holds now."""
        async with self._lock:
            version = await self.store.next_trust_version()
            iat = self.now()
            payload = trustlist.build_payload(
                version=version, iat=iat, exp=iat + self.ttl,
                regions=await self.store.list_regions(), keys=await self.store.list_keys(),
                types=await self.store.list_types())
            signed = trustlist.sign(self.root, payload)
            await self.store.save_trust_list(version, base64.b64encode(signed).decode(), iat, iat + self.ttl)
            self._current = registry_pb2.TrustList(version=version, signed=signed, json=trustlist.to_json(payload),
                                                   iat=iat, exp=iat + self.ttl)
            log.info("published trust list v%d", version)
            return self._current

    async def keep_current(self) -> None:
        """Re-sign before half the validity has passed (a background task)."""
        while True:
            await asyncio.sleep(min(60, self.ttl / 4))
            await self.current()

    async def current(self) -> registry_pb2.TrustList:
        cur = self._current
        if cur is None or self.now() >= cur.iat + self.ttl // 2:
            cur = await self.publish()
        return cur


def _key_pb(k: dict) -> registry_pb2.KeyInfo:
    return registry_pb2.KeyInfo(kid=k["kid"], alg=keys.ALG_NAMES.get(k["alg"], str(k["alg"])), status=k["status"],
                                nbf=k["nbf"], exp=k["exp"], revoked_at=k.get("revoked_at") or 0,
                                spki=base64.b64decode(k["spki"]))


def _type_pb(t: dict) -> common_pb2.CertificateType:
    return common_pb2.CertificateType(id=t["id"], version=t["version"], name=t["name"], schema_json=t["schema"],
                                      disclosure_json=json.dumps(t["disclosure"], ensure_ascii=False))


class RegistryServicer(registry_pb2_grpc.RegistryServiceServicer):
    def __init__(self, registry: Registry):
        self.r = registry
        self.store = registry.store

    def _region_pb(self, region: dict, all_keys: list[dict]) -> registry_pb2.Region:
        return registry_pb2.Region(code=region["code"], name=region["name"], endpoint=region.get("endpoint") or "",
                                   keys=[_key_pb(k) for k in all_keys if k["region"] == region["code"]])

    @rpc
    async def ListRegions(self, request, context):
        all_keys = await self.store.list_keys()
        return registry_pb2.ListRegionsResponse(
            regions=[self._region_pb(r, all_keys) for r in await self.store.list_regions()])

    @rpc
    async def CreateRegion(self, request, context):
        require_role(principal_from_pb(request.principal), "admin")
        code = check_region_code(request.code, "code")
        if not 1 <= len(request.name) <= MAX_NAME:
            raise InvalidRequest("name is required (at most 200 characters)", field="name")
        if not await self.store.create_region(code, request.name):
            raise Conflict(f"region {code} exists", code="REGION_EXISTS")
        await self.r.publish()
        return self._region_pb(await self.store.get_region(code), [])

    @rpc
    async def SetRegionEndpoint(self, request, context):
        check_region_code(request.code, "code")
        region = await self.store.get_region(request.code)
        if region is None:
            raise NotFound(f"no region {request.code}")
        if region.get("endpoint") != check_endpoint(request.endpoint):
            await self.store.set_region_endpoint(request.code, request.endpoint)
            await self.r.publish()
        return self._region_pb(await self.store.get_region(request.code), await self.store.list_keys(request.code))

    @rpc
    async def RegisterKey(self, request, context):
        region = check_region_code(request.region)
        require_region(principal_from_pb(request.principal), region)
        if await self.store.get_region(region) is None:
            raise NotFound(f"no region {region}")
        alg = keys.alg_id(request.alg)
        if len(request.spki) > MAX_SPKI:
            raise InvalidRequest("spki is too long for a P-256 or Ed25519 key", field="spki")
        public = keys.PublicKey(alg, request.spki)  # rejects a malformed or mismatched key
        nbf = request.nbf or self.r.now()
        exp = request.exp or nbf + DEFAULT_KEY_YEARS * 365 * 86400
        if exp <= nbf:
            raise InvalidRequest("exp must be after nbf", field="exp")
        doc, created = await self.store.add_key(region, public.kid.hex(), alg,
                                                base64.b64encode(public.spki).decode(), nbf, exp)
        if created:
            await self.r.publish()
        return registry_pb2.RegisterKeyResponse(kid=doc["kid"], created=created)

    async def _set_status(self, request, status: str, *roles: str):
        p = principal_from_pb(request.principal)
        require_role(p, *roles)
        require_region(p, check_region_code(request.region))
        kid = request.kid.lower()
        doc = await self.store.set_key_status(request.region, kid, status, self.r.now())
        await self.r.publish()
        return _key_pb(doc)

    @rpc
    async def RevokeKey(self, request, context):
        return await self._set_status(request, KeyStatus.REVOKED, "admin")

    @rpc
    async def RetireKey(self, request, context):
        return await self._set_status(request, KeyStatus.RETIRED, "admin", "agency", "service")

    @rpc
    async def ListCertificateTypes(self, request, context):
        return registry_pb2.ListCertificateTypesResponse(types=[_type_pb(t) for t in await self.store.list_types()])

    @rpc
    async def PublishCertificateType(self, request, context):
        require_role(principal_from_pb(request.principal), "admin")
        t = request.type
        try:
            schema = json.loads(t.schema_json)
            disclosure = json.loads(t.disclosure_json or "{}")
        except (ValueError, RecursionError) as err:
            raise InvalidRequest("schema and disclosure must be JSON", code="SCHEMA_MALFORMED") from err
        doc = load_type_document({"id": t.id, "version": t.version, "name": t.name, "schema": schema,
                                  "disclosure": disclosure})
        if await self.store.put_type(doc["id"], doc["version"], doc["name"], doc["schema"], doc["disclosure"]):
            await self.r.publish()
        return _type_pb(doc)

    @rpc
    async def GetTrustList(self, request, context):
        return await self.r.current()


async def build(cfg: RegistryConfig, store: Store, *, now: Clock = system_clock):
    """Root key (created on first start), seed data, first trust list and the bound server."""
    key_path, pub_path = root_key_paths(cfg.var_dir)
    root, created = keys.load_or_create(key_path, cfg.root_key_passphrase)
    if created or not pub_path.exists():
        pub_path.write_bytes(keys.public_pem(root.public))
        log.info("root key %s created; verifiers pin %s", root.kid.hex(), pub_path)
    registry = Registry(store, root, ttl=cfg.trust_list_ttl, now=now)
    if cfg.seed:
        await registry.seed()
    await registry.publish()
    server, port = create_server(
        cfg.listen, [lambda s: registry_pb2_grpc.add_RegistryServiceServicer_to_server(RegistryServicer(registry), s)],
        internal_token=cfg.internal_token, service_names=["ecert.v1.RegistryService"])
    return registry, server, port
