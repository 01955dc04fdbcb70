"""The registry's gRPC edge: protobuf to :class:`~services.registry.domain.Registry` calls and
back, and :func:`build`, which wires the process together."""

from __future__ import annotations

import base64
import json
import logging

from ecert.clock import Clock, system_clock
from ecert.format import keys
from ecert.rpc.convert import principal_from_pb
from ecert.rpc.links import Links
from ecert.rpc.server import create_server, rpc
from ecert.runtime import hsm
from ecert.runtime.config import RegistryConfig
from ecert.store import Store
from ecertpb.v1 import common_pb2, registry_pb2, registry_pb2_grpc

from .domain import PublishedRules, RegionKeys, Registry, RootRotation, SignedTrustList
from .rootkeys import RootKeyFiles, RootKeyToken, root_key_paths

__all__ = ["RegistryServicer", "build", "root_key_paths"]  # root_key_paths: where tests and tools find the files

log = logging.getLogger("ecert.registry")


NOT_MODIFIED = registry_pb2.TrustList(not_modified=True)
"""GetTrustList's answer to a caller that holds the current version already."""


def key_pb(k: dict) -> registry_pb2.KeyInfo:
    return registry_pb2.KeyInfo(kid=k["kid"], alg=keys.ALG_NAMES.get(k["alg"], str(k["alg"])), status=k["status"],
                                nbf=k["nbf"], exp=k["exp"], revoked_at=k.get("revoked_at") or 0,
                                spki=base64.b64decode(k["spki"]))


def region_pb(r: RegionKeys) -> registry_pb2.Region:
    region = r.region
    return registry_pb2.Region(code=region["code"], name=region["name"], endpoint=region.get("endpoint") or "",
                               keys=[key_pb(k) for k in r.keys])


def type_pb(t: dict) -> common_pb2.CertificateType:
    return common_pb2.CertificateType(id=t["id"], version=t["version"], name=t["name"], schema_json=t["schema"],
                                      disclosure_json=json.dumps(t["disclosure"], ensure_ascii=False))


def rules_pb(r: PublishedRules) -> registry_pb2.RecognitionRules:
    """The rules in their one written form (:meth:`~ecert.rules.acceptance.Rules.to_payload`: sorted)."""
    payload = r.rules.to_payload()
    return registry_pb2.RecognitionRules(
        purposes=[registry_pb2.PurposeTypes(purpose=k, types=v) for k, v in payload["purposes"].items()],
        recognition=[registry_pb2.Recognition(region=k, recognises=v) for k, v in payload["recognition"].items()],
        trust_list_version=r.version)


def root_key_pb(r: RootRotation) -> registry_pb2.RootKey:
    return registry_pb2.RootKey(kid=r.root.kid.hex(), alg=keys.ALG_NAMES.get(r.root.alg, str(r.root.alg)),
                                spki=r.root.spki, previous_kid=r.previous_kid,
                                trust_list_version=r.trust_list_version)


class RegistryServicer(registry_pb2_grpc.RegistryServiceServicer):
    def __init__(self, registry: Registry):
        self.r = registry
        self._trust: tuple[SignedTrustList, registry_pb2.TrustList] | None = None

    @rpc
    async def ListRegions(self, request, context):
        return registry_pb2.ListRegionsResponse(regions=[region_pb(r) for r in await self.r.regions()])

    @rpc
    async def CreateRegion(self, request, context):
        return region_pb(await self.r.create_region(principal_from_pb(request.principal), request.code, request.name))

    @rpc
    async def SetRegionEndpoint(self, request, context):
        return region_pb(await self.r.set_region_endpoint(principal_from_pb(request.principal), request.code,
                                                          request.endpoint))

    @rpc
    async def RegisterKey(self, request, context):
        doc, created = await self.r.register_key(principal_from_pb(request.principal), request.region, request.alg,
                                                 request.spki, request.nbf, request.exp)
        return registry_pb2.RegisterKeyResponse(kid=doc["kid"], created=created)

    @rpc
    async def RevokeKey(self, request, context):
        return key_pb(await self.r.revoke_key(principal_from_pb(request.principal), request.region, request.kid))

    @rpc
    async def RetireKey(self, request, context):
        return key_pb(await self.r.retire_key(principal_from_pb(request.principal), request.region, request.kid))

    @rpc
    async def ListCertificateTypes(self, request, context):
        return registry_pb2.ListCertificateTypesResponse(types=[type_pb(t) for t in await self.r.types()])

    @rpc
    async def PublishCertificateType(self, request, context):
        t = request.type
        return type_pb(await self.r.publish_type(principal_from_pb(request.principal), t.id, t.version, t.name,
                                                 t.schema_json, t.disclosure_json))

    @rpc
    async def GetTrustList(self, request, context):
        cur = await self.r.trust_list(request.known_version)
        if cur is None:
            return NOT_MODIFIED
        held = self._trust
        if held is None or held[0] is not cur:  # one message per published version, not per call
            held = self._trust = (cur, registry_pb2.TrustList(version=cur.version, signed=cur.signed, json=cur.json,
                                                              iat=cur.iat, exp=cur.exp,
                                                              root_chain=list(cur.root_chain)))
        return held[1]

    @rpc
    async def RotateRootKey(self, request, context):
        return root_key_pb(await self.r.rotate_root(principal_from_pb(request.principal)))

    @rpc
    async def GetRecognitionRules(self, request, context):
        return rules_pb(await self.r.rules())

    @rpc
    async def SetPurposeTypes(self, request, context):
        return rules_pb(await self.r.set_purpose_types(principal_from_pb(request.principal), request.purpose,
                                                       list(request.types)))

    @rpc
    async def SetRecognition(self, request, context):
        return rules_pb(await self.r.set_recognition(principal_from_pb(request.principal), request.region,
                                                     list(request.recognises)))


async def open_registry(store: Store, files: RootKeyFiles, *, ttl: int, now: Clock = system_clock) -> Registry:
    """The registry over ``store`` with the root key in ``files`` (created on first start), a
    rotation interrupted settled, then ``root-public.pem`` written for the root it settled on
    (missing, or naming the old root: a crash after the switch)."""
    root, _ = files.load()
    registry = Registry(store, root, ttl=ttl, now=now, keeper=files)
    await registry.open_root()
    files.write_public(registry.root)
    return registry


async def build(cfg: RegistryConfig, store: Store, *, now: Clock = system_clock):
    """Root key (:func:`open_registry`), seed data, first trust list and the bound server:
    returns ``(registry, server, port)``."""
    # the root key in a PKCS#11 token when one is configured (ECERT_PKCS11_*), else an encrypted file
    files = (RootKeyToken(cfg.var_dir, hsm.open_token(cfg.pkcs11)) if cfg.pkcs11 is not None
             else RootKeyFiles(cfg.var_dir, cfg.root_key_passphrase))
    registry = await open_registry(store, files, ttl=cfg.trust_list_ttl, now=now)
    if cfg.seed:
        await registry.seed()
    await registry.publish()
    server, port = create_server(
        cfg.listen, [lambda s: registry_pb2_grpc.add_RegistryServiceServicer_to_server(RegistryServicer(registry), s)],
        links=Links.from_config(cfg), service_names=["ecert.v1.RegistryService"],
        health_listen=cfg.health_listen)
    return registry, server, port
