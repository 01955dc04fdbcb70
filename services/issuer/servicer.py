"""The issuer's gRPC edge: protobuf to :class:`~services.issuer.domain.Issuer` calls and back,
and :func:`build`, which wires the process together."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from ecert.clock import Clock, system_clock
from ecert.format import keys
from ecert.rpc import streams
from ecert.rpc.client import channel
from ecert.rpc.convert import document_pb, principal_from_pb
from ecert.rpc.links import Links
from ecert.errors import InvalidRequest, NotFound
from ecert.rpc.server import create_server, rpc
from ecert.rules import trail
from ecert.rules.shards import Signed
from ecert.runtime import hsm, pki
from ecert.runtime.config import IssuerConfig
from ecert.store import Store
from ecert.vocab import StatusAction
from ecertpb.v1 import issuer_pb2, issuer_pb2_grpc

from .domain import Issuer
from .keyring import Keyring, TokenVault
from .presentations import Shown
from .registry_cache import FILE as REGISTRY_CACHE_FILE
from .registry_cache import RegistryCache
from .search import Query, open_search_key
from .signing import KeyInfo
from .upstream import RegistryClient

log = logging.getLogger("ecert.issuer")

_ACTIONS = {issuer_pb2.REVOKE: StatusAction.REVOKE, issuer_pb2.SUSPEND: StatusAction.SUSPEND,
            issuer_pb2.REINSTATE: StatusAction.REINSTATE}


def credential_pb(doc: dict, fields: dict | None = None) -> issuer_pb2.Credential:
    """A credential record as protobuf (``fields``: only these, e.g. what a role may see)."""
    return issuer_pb2.Credential(
        id=doc["_id"], region=doc["region"], type=doc["type"], version=doc["version"], qr_text=doc["qr_text"],
        issued_at=doc["issued_at"], expires_at=doc["expires_at"], status=doc["status"], kid=doc.get("kid", ""),
        fields_json=json.dumps(doc["fields"] if fields is None else fields, ensure_ascii=False),
        display_id=doc.get("display_id", ""))


def summary_pb(doc: dict) -> issuer_pb2.CredentialSummary:
    """What a search answers of a record (:data:`.search.SUMMARY`)."""
    return issuer_pb2.CredentialSummary(
        id=doc["_id"], region=doc["region"], type=doc["type"], version=doc["version"], issued_at=doc["issued_at"],
        expires_at=doc["expires_at"], status=doc["status"], display_id=doc.get("display_id") or "")


def key_info_pb(info: KeyInfo) -> issuer_pb2.SigningKeyInfo:
    return issuer_pb2.SigningKeyInfo(kid=info.kid, retired_kid=info.retired_kid, nbf=info.nbf, exp=info.exp,
                                     status=info.status)


def status_list_pb(s: Signed) -> issuer_pb2.StatusList:
    return issuer_pb2.StatusList(uri=s.uri, signed=s.signed, iat=s.iat)


def presentation_pb(shown: Shown) -> issuer_pb2.Presentation:
    return issuer_pb2.Presentation(token=shown.token, expires_at=shown.expires_at, token_id=shown.token_id,
                                   purpose=shown.purpose, issued_at=shown.issued_at,
                                   credential_id=shown.credential_id)


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
                                                        _ACTIONS.get(request.action, "")))

    @rpc
    async def GetStatusList(self, request, context):
        return status_list_pb(await self.i.signed_status_list(request.uri))

    @rpc
    async def GetStatusLists(self, request, context):
        if request.all:
            lists, next_shard, version = await self.i.region_status_lists(request.since, request.from_shard)
            return issuer_pb2.StatusLists(lists=[status_list_pb(s) for s in lists], next_shard=next_shard,
                                          version=version)
        lists, unknown = await self.i.status_lists([(h.uri, h.iat) for h in request.held])
        return issuer_pb2.StatusLists(lists=[status_list_pb(s) for s in lists], unknown=unknown)

    @rpc
    async def RotateSigningKey(self, request, context):
        if request.region != self.i.region:  # the gateway reached another region's issuer
            raise NotFound(f"this issuer signs for {self.i.region}, not {request.region[:20] or '(none)'}",
                           field="region")
        return key_info_pb(await self.i.rotate(principal_from_pb(request.principal), request.request_id))

    @rpc
    async def RefreshKeys(self, request, context):
        return key_info_pb(await self.i.refresh_keys(principal_from_pb(request.principal)))

    @rpc
    async def CreatePresentation(self, request, context):
        return presentation_pb(await self.i.show(principal_from_pb(request.principal), request.id, request.purpose))

    @rpc
    async def GetPresentation(self, request, context):
        return presentation_pb(await self.i.shown(principal_from_pb(request.principal), request.id, request.token_id))

    @rpc
    async def ResolvePresentation(self, request, context):
        r = await self.i.resolve(principal_from_pb(request.principal), request.token_cti, request.credential_cti,
                                 request.purpose)
        return issuer_pb2.ResolvePresentationResponse(result=r.outcome, credential=credential_pb(r.record, r.fields),
                                                      detail=r.detail, document=document_pb(r.document))

    @rpc
    async def PutPhoto(self, request, context):
        stored, created = await self.i.photos.put(principal_from_pb(request.principal), request.image)
        return issuer_pb2.PhotoRef(digest=stored.digest, created=created, media_type=stored.media_type,
                                   width=stored.width, height=stored.height)

    @rpc
    async def GetPhoto(self, request, context):
        photo = await self.i.photos.get(principal_from_pb(request.principal), request.digest, request.credential_id,
                                        without_image=request.without_image, purpose=request.purpose)
        return issuer_pb2.Photo(digest=photo["digest"], media_type=photo["media_type"], image=photo["bytes"],
                                width=photo["width"], height=photo["height"])

    @rpc
    async def RecordAccess(self, request, context):
        got = await self.i.trail.record_delivered(principal_from_pb(request.principal), delivered_records(request))
        return issuer_pb2.RecordAccessResponse(recorded=got.recorded, duplicates=got.duplicates, refused=got.refused)

    @rpc
    async def ListAccess(self, request, context):
        page = await self.i.trail.access_log(principal_from_pb(request.principal), request.credential_id,
                                             request.after, request.limit)
        return issuer_pb2.ListAccessResponse(entries=[trail_entry_pb(e) for e in page.entries],
                                             next=page.next or 0, more=page.next is not None)

    @rpc
    async def ListCredentials(self, request, context):
        r = request
        page = await self.i.find(principal_from_pb(r.principal), Query(
            type=r.type, status=r.status, issued_from=r.issued_from, issued_before=r.issued_before,
            holder_id=r.holder_id, limit=r.limit, cursor=r.cursor, purpose=r.purpose))
        return issuer_pb2.ListCredentialsResponse(credentials=[summary_pb(d) for d in page.items],
                                                  next_cursor=page.next_cursor)


def trail_entry_pb(e: dict) -> issuer_pb2.TrailEntry:
    return issuer_pb2.TrailEntry(**{k: e[k] for k in trail.ENTRY_KEYS if k in e})


def delivered_records(request: issuer_pb2.RecordAccessRequest) -> list[trail.Record]:
    """A verifier's delivery as trail records, one per check (each check's record shares its request's actor)."""
    out = []
    Record = trail.Record
    for rec in request.records:
        a = rec.actor
        action, org, key_id, role, region, purpose = rec.action, a.org, a.key_id, a.role, a.region, rec.purpose
        ids, creds, results, ats = rec.ids, rec.credential_ids, rec.results, rec.ats
        if not len(ids) == len(creds) == len(results) == len(ats):
            raise InvalidRequest("a record's checks have as many ids, credential ids, results and times",
                                 field="records")
        out.extend(Record(i, c, at, action, org, key_id, role, region, purpose, res)
                   for i, c, res, at in zip(ids, creds, results, ats))
    return out


def region_dir(cfg: IssuerConfig) -> Path:
    """The region's folder: its keyring (``keys/``), the registry cache and the search key."""
    return cfg.var_dir / "issuer" / cfg.region


async def build(cfg: IssuerConfig, store: Store, *, now: Clock = system_clock, listen: str | None = None):
    """Open the region's keyring (a first key made, or the legacy key adopted), bind the server:
    returns ``(issuer, server, port, registry_channel)``. Call :meth:`Issuer.register` once the
    server is started."""
    folder = region_dir(cfg)
    # the keys in a PKCS#11 token when one is configured (ECERT_PKCS11_*), else encrypted files
    vault = TokenVault(hsm.open_token(cfg.pkcs11)) if cfg.pkcs11 is not None else None
    keyring = Keyring.open(folder, cfg.signing_key_passphrase, keys.alg_id(cfg.key_alg), vault=vault)
    links = Links.from_config(cfg)
    registry_channel = channel(cfg.registry_target, links, peer=pki.REGISTRY)
    issuer = Issuer(cfg.region, store, keyring, RegistryClient(registry_channel, cfg.region),
                    default_valid_days=cfg.default_valid_days, status_ttl=cfg.status_ttl, now=now,
                    key_lifetime_days=cfg.key_lifetime_days, auto_rotate=cfg.key_auto_rotate,
                    cache=RegistryCache(folder / REGISTRY_CACHE_FILE), status_list_validity=cfg.status_list_validity,
                    search_key=open_search_key(folder))
    server, port = create_server(
        listen or cfg.listen, [lambda s: issuer_pb2_grpc.add_IssuerServiceServicer_to_server(IssuerServicer(issuer), s)],
        links=links, service_names=["ecert.v1.IssuerService"], health_listen=cfg.health_listen)
    return issuer, server, port, registry_channel
