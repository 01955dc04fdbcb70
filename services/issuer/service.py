"""Regional issuer: issues, revokes, suspends and reinstates that region's credentials,
publishes its status list, and answers presentation-token look-ups.

Its private key lives only here, as an encrypted PKCS#8 file; the registry gets
the public half. The servicer translates protobuf to :class:`Issuer` calls, and
the issuer uses the core library for every format.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time

from ecert.clock import Clock, system_clock
from ecert.errors import (
    Conflict,
    DuplicateKey,
    InvalidRequest,
    NotFound,
    RuleViolation,
    Unavailable,
)
from ecert.format import credential, keys, presentation, statuslist
from ecert.rpc import streams
from ecert.rpc.client import call, channel
from ecert.rpc.convert import principal_from_pb
from ecert.rpc.convert import service_principal_pb as service_principal
from ecert.rpc.server import create_server, rpc
from ecert.rules.access import Principal, require_region, require_role
from ecert.rules.schema import TypeSchema, parse_fields_json, pick_type
from ecert.runtime.config import IssuerConfig
from ecert.store import Store
from ecertpb.v1 import issuer_pb2, issuer_pb2_grpc, registry_pb2, registry_pb2_grpc

log = logging.getLogger("ecert.issuer")

MAX_VALID_DAYS = 20 * 365
MAX_REQUEST_ID = 128
TYPES_REFRESH = 10.0
TYPES_RETRY = 2.0
STATUS_LIST_VALIDITY = 3600
_TRANSITIONS = {  # action -> (allowed from, to)
    issuer_pb2.REVOKE: (("valid", "suspended"), "revoked"),
    issuer_pb2.SUSPEND: (("valid",), "suspended"),
    issuer_pb2.REINSTATE: (("suspended",), "valid"),
}


def status_uri(region: str) -> str:
    return f"urn:ecert:status:{region}:1"


class Issuer:
    """One region's issuing logic over a store, a signing key and the registry's types."""

    def __init__(self, region: str, store: Store, key: keys.SigningKey, registry: registry_pb2_grpc.RegistryServiceStub,
                 *, default_valid_days: int, status_ttl: int, now: Clock = system_clock):
        self.region = region
        self.store = store
        self.key = key
        self.registry = registry
        self.default_valid_days = default_valid_days
        self.status_ttl = status_ttl
        self.now = now
        self._types: dict[tuple[str, int], TypeSchema] = {}
        self._types_at = 0.0
        self._types_lock = asyncio.Lock()
        self._status: tuple[int, bytes] | None = None  # (iat, signed)
        self._status_lock = asyncio.Lock()

    # -- registry ----------------------------------------------------------------------------
    async def register(self, advertise: str, attempts: int = 60) -> str:
        """Register the public key and this issuer's endpoint; waits for the registry to come up."""
        req = registry_pb2.RegisterKeyRequest(principal=service_principal(self.region), region=self.region,
                                              alg=keys.ALG_NAMES[self.key.alg], spki=self.key.spki)
        for attempt in range(attempts):
            try:
                resp = await call(self.registry.RegisterKey(req, timeout=5))
                await call(self.registry.SetRegionEndpoint(
                    registry_pb2.SetRegionEndpointRequest(code=self.region, endpoint=advertise), timeout=5))
                return resp.kid
            except Unavailable:
                if attempt == attempts - 1:
                    raise
                await asyncio.sleep(0.5)
        raise Unavailable("registry unreachable")

    async def types(self, force: bool = False) -> dict[tuple[str, int], TypeSchema]:
        """The registry's certificate types, refreshed every TYPES_REFRESH seconds (``force``: now,
        but at most every TYPES_RETRY seconds). While the registry is unreachable the types
        already known are used; with none yet, the call fails with 503."""
        async with self._types_lock:
            age = time.monotonic() - self._types_at
            if not self._types or age > TYPES_REFRESH or (force and age > TYPES_RETRY):
                try:
                    resp = await call(self.registry.ListCertificateTypes(
                        registry_pb2.ListCertificateTypesRequest(principal=service_principal(self.region)),
                        timeout=5))
                except Unavailable:
                    if not self._types:
                        raise
                    self._types_at = time.monotonic() - TYPES_REFRESH + TYPES_RETRY
                else:
                    self._types = {(t.id, t.version): TypeSchema(t.id, t.version, t.name, t.schema_json,
                                                                 json.loads(t.disclosure_json or "{}"))
                                   for t in resp.types}
                    self._types_at = time.monotonic()
            return self._types

    def expire_types(self) -> None:
        """Make the next look-up fetch the types from the registry."""
        self._types_at = 0.0

    async def type_schema(self, type_id: str, version: int) -> TypeSchema:
        for force in (False, True):  # a type published moments ago: look once more
            ts = pick_type(await self.types(force), type_id, version)
            if ts is not None:
                return ts
        raise RuleViolation(f"certificate type {type_id} v{version or 'latest'} is unknown",
                            code="TYPE_UNKNOWN", field="type")

    # -- issuing -----------------------------------------------------------------------------
    async def issue(self, p: Principal, type_id: str, version: int, fields_json: str, valid_days: int,
                    request_id: str) -> dict:
        require_role(p, "agency", "admin")
        require_region(p, self.region)
        if len(request_id) > MAX_REQUEST_ID:
            raise InvalidRequest("request_id is over 128 characters", field="request_id")
        valid_days = valid_days or self.default_valid_days
        if not 1 <= valid_days <= MAX_VALID_DAYS:
            raise InvalidRequest(f"valid_days must be 1..{MAX_VALID_DAYS}", field="valid_days")
        fields = parse_fields_json(fields_json)
        request_hash = None
        if request_id:
            request_hash = hashlib.sha256(json.dumps([type_id, version, fields, valid_days], sort_keys=True,
                                                     ensure_ascii=False).encode()).hexdigest()
            existing = await self.store.find_credential_by_request(self.region, request_id)
            if existing is not None:
                return self._same_request(existing, request_hash)
        ts = await self.type_schema(type_id, version)
        ts.validate(fields)
        now = self.now()
        cti = credential.new_cti()
        idx = await self.store.next_status_index(self.region)
        exp = now + valid_days * 86400
        qr_text = credential.issue(self.key, iss=self.region, iat=now, exp=exp, cti=cti, type_id=ts.id,
                                   type_version=ts.version, fields=ts.to_cbor(fields),
                                   status_uri=status_uri(self.region), status_idx=idx)
        doc = {"_id": credential.cti_to_id(cti), "region": self.region, "type": ts.id, "version": ts.version,
               "kid": self.key.kid.hex(), "qr_text": qr_text, "issued_at": now, "expires_at": exp,
               "status": "valid", "status_idx": idx, "status_uri": status_uri(self.region), "fields": fields,
               "request_id": request_id or None, "request_hash": request_hash,
               "display_id": ts.display_id(self.region, credential.cti_to_id(cti))}
        try:
            await self.store.insert_credential(doc)
        except DuplicateKey:
            existing = await self.store.find_credential_by_request(self.region, request_id) if request_id else None
            if existing is None:
                raise
            return self._same_request(existing, request_hash)
        log.info("issued %s (%s v%d)", doc["_id"], ts.id, ts.version)
        return doc

    @staticmethod
    def _same_request(existing: dict, request_hash: str) -> dict:
        if existing.get("request_hash") != request_hash:
            raise Conflict("request_id was already used for a different request", code="REQUEST_ID_REUSED",
                           field="request_id")
        return existing

    async def get(self, p: Principal, cred_id: str) -> dict:
        require_region(p, self.region)
        doc = await self.store.get_credential(cred_id) if credential.id_to_cti(cred_id) else None
        if doc is None or doc["region"] != self.region:
            raise NotFound(f"no credential {cred_id[:40]} in {self.region}")
        return doc

    async def change_status(self, p: Principal, cred_id: str, action: int) -> dict:
        require_role(p, "agency", "admin")
        if action not in _TRANSITIONS:
            raise InvalidRequest("action must be revoke, suspend or reinstate")
        allowed_from, target = _TRANSITIONS[action]
        for _ in range(5):
            doc = await self.get(p, cred_id)
            if doc["status"] == target:
                return doc  # repeating a change is harmless
            if doc["status"] not in allowed_from:
                raise Conflict(f"a {doc['status']} credential cannot become {target}", code="STATUS_CONFLICT")
            if await self.store.set_credential_status(cred_id, target, doc["status"], self.now()):
                self._status = None
                log.info("credential %s is now %s", cred_id, target)
                return await self.get(p, cred_id)
        raise Conflict("the credential changed concurrently, try again", code="STATUS_CONFLICT")

    # -- status list -------------------------------------------------------------------------
    async def status_list(self, uri: str) -> bytes:
        if uri != status_uri(self.region):
            raise NotFound(f"no status list {uri[:100]}")
        async with self._status_lock:
            now = self.now()
            cur = self._status
            if cur is None or now >= cur[0] + self.status_ttl:
                entries = [(idx, statuslist.STATUS_VALUES[s]) for idx, s in await self.store.status_entries(self.region)]
                bits = statuslist.build_bits(entries)
                signed = statuslist.sign(self.key, uri=uri, bits=bits, iat=now, exp=now + STATUS_LIST_VALIDITY,
                                         ttl=self.status_ttl)
                cur = self._status = (now, signed)
            return cur[1]

    # -- presentations -----------------------------------------------------------------------
    async def present(self, p: Principal, cred_id: str) -> tuple[str, int]:
        require_role(p, "agency", "admin")
        doc = await self.get(p, cred_id)
        if doc["status"] != "valid":
            raise Conflict(f"a {doc['status']} credential cannot be presented", code="STATUS_CONFLICT")
        token, claims = presentation.issue(self.key, iss=self.region, credential_cti=credential.id_to_cti(cred_id),
                                           now=self.now())
        return token, claims.exp

    async def resolve(self, p: Principal, token_cti: bytes, credential_cti: bytes) -> tuple[str, dict | None, dict]:
        """Answer a presentation token once. Returns (result, record, disclosed fields)."""
        require_role(p, "admin", "agency", "hotel", "traffic_police", "integrator")
        if len(token_cti) != 16 or len(credential_cti) != 16:
            raise InvalidRequest("token and credential ids are 16 bytes")
        doc = await self.store.get_credential(credential.cti_to_id(credential_cti))
        if doc is None or doc["region"] != self.region:
            raise NotFound("no such credential")
        if not await self.store.mark_token_used(token_cti.hex(), self.now()):
            return "TOKEN_ALREADY_USED", doc, {}
        if doc["status"] == "revoked":
            return "REVOKED", doc, {}
        if doc["status"] == "suspended":
            return "SUSPENDED", doc, {}
        if self.now() >= doc["expires_at"]:
            return "EXPIRED", doc, {}
        ts = await self.type_schema(doc["type"], doc["version"])
        return "VALID", doc, ts.disclosed(p.role, doc["fields"])


def credential_pb(doc: dict, fields: dict | None = None) -> issuer_pb2.Credential:
    return issuer_pb2.Credential(
        id=doc["_id"], region=doc["region"], type=doc["type"], version=doc["version"], qr_text=doc["qr_text"],
        issued_at=doc["issued_at"], expires_at=doc["expires_at"], status=doc["status"], kid=doc.get("kid", ""),
        fields_json=json.dumps(doc["fields"] if fields is None else fields, ensure_ascii=False),
        display_id=doc.get("display_id", ""))


class IssuerServicer(issuer_pb2_grpc.IssuerServiceServicer):
    def __init__(self, issuer: Issuer):
        self.i = issuer

    async def _issue(self, request) -> issuer_pb2.Credential:
        doc = await self.i.issue(principal_from_pb(request.principal), request.type, request.version,
                                 request.fields_json, request.valid_days, request.request_id)
        return credential_pb(doc)

    @rpc
    async def IssueCredential(self, request, context):
        return await self._issue(request)

    async def IssueStream(self, request_iterator, context):
        """Issue over one long-lived stream (see :mod:`ecert.rpc.streams`)."""
        async for resp in streams.serve(request_iterator, self._issue, issuer_pb2.IssueStreamAnswer,
                                        issuer_pb2.IssueStreamResponse, "IssueStream"):
            yield resp

    @rpc
    async def GetCredential(self, request, context):
        return credential_pb(await self.i.get(principal_from_pb(request.principal), request.id))

    @rpc
    async def ChangeStatus(self, request, context):
        return credential_pb(await self.i.change_status(principal_from_pb(request.principal), request.id,
                                                        request.action))

    @rpc
    async def GetStatusList(self, request, context):
        return issuer_pb2.StatusList(uri=request.uri, signed=await self.i.status_list(request.uri))

    @rpc
    async def CreatePresentation(self, request, context):
        token, exp = await self.i.present(principal_from_pb(request.principal), request.id)
        return issuer_pb2.Presentation(token=token, expires_at=exp)

    @rpc
    async def ResolvePresentation(self, request, context):
        result, doc, fields = await self.i.resolve(principal_from_pb(request.principal), request.token_cti,
                                                   request.credential_cti)
        return issuer_pb2.ResolvePresentationResponse(result=result, credential=credential_pb(doc, fields))


def key_path(cfg: IssuerConfig):
    return cfg.var_dir / "issuer" / cfg.region / "signing-key.pem"


async def build(cfg: IssuerConfig, store: Store, *, now: Clock = system_clock, listen: str | None = None):
    """Load or create the signing key, bind the server. Call :meth:`Issuer.register` once it is started."""
    key, created = keys.load_or_create(key_path(cfg), cfg.signing_key_passphrase, keys.alg_id(cfg.key_alg))
    if created:
        log.info("signing key %s created for %s", key.kid.hex(), cfg.region)
    registry_channel = channel(cfg.registry_target, cfg.internal_token)
    issuer = Issuer(cfg.region, store, key, registry_pb2_grpc.RegistryServiceStub(registry_channel),
                    default_valid_days=cfg.default_valid_days, status_ttl=cfg.status_ttl, now=now)
    server, port = create_server(
        listen or cfg.listen, [lambda s: issuer_pb2_grpc.add_IssuerServiceServicer_to_server(IssuerServicer(issuer), s)],
        internal_token=cfg.internal_token, service_names=["ecert.v1.IssuerService"])
    return issuer, server, port, registry_channel
