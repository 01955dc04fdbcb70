"""Who may call what between the suite's processes: the caller table, and the server's guard.

The caller is known twice over: by the internal token (every call but health checks) and by
its TLS certificate (:mod:`ecert.rpc.links`), whose subject names a service identity
(:mod:`ecert.runtime.pki`). A method answers only the identities its role needs (:data:`CALLERS`);
the rest get ``PERMISSION_DENIED`` before the servicer runs. Health checks answer any caller
with a certificate of the suite (the gateway's ``/readyz``).

The principal a unary request names must fit its caller too: an issuer acts only as its own
region's service principal, and only that issuer acts as it. The verifier passes on the
principal it verifies for; the gateway, the key holder's.
"""

from __future__ import annotations

import hmac
import inspect
import logging
from collections.abc import Mapping

import grpc

from ..runtime.pki import GATEWAY, ISSUER, VERIFIER, kind, region_of
from ..vocab import Role

log = logging.getLogger("ecert.grpc")

TOKEN_HEADER = "x-ecert-internal-token"
OPEN_PREFIXES = ("/grpc.health.v1.Health/",)

_R, _I, _V = "/ecert.v1.RegistryService/", "/ecert.v1.IssuerService/", "/ecert.v1.VerifierService/"
_GW, _GW_ISSUERS, _GW_VERIFIER = frozenset({GATEWAY}), frozenset({GATEWAY, ISSUER}), frozenset({GATEWAY, VERIFIER})

CALLERS: Mapping[str, frozenset[str]] = {
    # the registry: the gateway (directory, admin and agency requests, the recognition rules),
    # issuers (their key, endpoint, the types they issue and the recognition rules their show codes
    # are judged by), the verifier (the trust list, which carries the rules)
    _R + "ListRegions": _GW_ISSUERS,  # an issuer: its region's keys and their statuses
    _R + "CreateRegion": _GW,
    _R + "SetRegionEndpoint": frozenset({ISSUER}),
    _R + "RegisterKey": _GW_ISSUERS,
    _R + "RevokeKey": _GW,
    _R + "RetireKey": _GW_ISSUERS,  # an issuer: the key its rotation replaced
    _R + "ListCertificateTypes": _GW_ISSUERS,
    _R + "PublishCertificateType": _GW,
    _R + "GetTrustList": _GW_VERIFIER,
    _R + "RotateRootKey": _GW,  # an admin's, through the gateway
    _R + "GetRecognitionRules": _GW_ISSUERS,
    _R + "SetPurposeTypes": _GW,
    _R + "SetRecognition": _GW,
    # an issuer: the gateway (issuance, records, status changes), the verifier (status lists, presentations)
    _I + "IssueCredential": _GW,
    _I + "IssueStream": _GW,
    _I + "GetCredential": _GW,
    _I + "ChangeStatus": _GW,
    _I + "CreatePresentation": _GW,
    _I + "GetPresentation": _GW,
    _I + "PutPhoto": _GW,
    _I + "GetPhoto": _GW,
    _I + "GetStatusList": frozenset({VERIFIER}),
    _I + "GetStatusLists": frozenset({VERIFIER}),  # the lists it holds, changed ones back (conditional)
    _I + "ResolvePresentation": frozenset({VERIFIER}),
    _I + "RecordAccess": frozenset({VERIFIER}),  # the checks it recorded, delivered to the issuing region
    _I + "ListAccess": _GW,  # a credential's access log
    _I + "ListCredentials": _GW,  # an agency's search of its region's credentials
    _I + "RotateSigningKey": _GW,  # an admin's or the region's agency's, through the gateway
    _I + "RefreshKeys": _GW,  # after a key revocation, through the gateway
    # the verifier: the gateway alone
    _V + "Verify": _GW,
    _V + "VerifyBatch": _GW,
    _V + "VerifyImage": _GW,
    _V + "VerifyStream": _GW,
    _V + "GetCacheState": _GW,
    _V + "FetchStatusLists": _GW,  # for the scanner page, which verifies on its own
    _V + "RecordOfflineChecks": _GW,  # the checks that page made offline
}
"""Full method name -> the identity kinds (``issuer`` for every ``issuer-<REGION>``) that may call it.
A method not named here answers nobody."""


def peer_identity(context: grpc.aio.ServicerContext) -> str:
    """The service identity of the caller's certificate (its subject CN); "" without one."""
    names = context.auth_context().get("x509_common_name")
    return names[0].decode("utf-8", "replace") if names else ""


def principal_fits(identity: str, request) -> bool:
    """The principal ``request`` names may be asserted by ``identity``."""
    p = getattr(request, "principal", None)
    if p is None:
        return True
    if kind(identity) == ISSUER:
        return p.role == Role.SERVICE and p.region == region_of(identity)
    return not (p.role == Role.SERVICE and p.region)


class Guard(grpc.aio.ServerInterceptor):
    """The internal token (checked on the call's metadata), then the caller's certificate and the
    principal it asserts (checked as the handler starts: only it sees the TLS peer)."""

    def __init__(self, token: str, callers: Mapping[str, frozenset[str]] = CALLERS):
        self._token = token.encode()
        self._callers = callers

        async def deny(request, context):
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "internal token missing or wrong")

        async def deny_stream(request_iterator, context):
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "internal token missing or wrong")
            yield  # an async generator, as stream handlers are

        self._deny = grpc.unary_unary_rpc_method_handler(deny)
        self._deny_stream = grpc.stream_stream_rpc_method_handler(deny_stream)

    def _token_ok(self, details) -> bool:
        for key, value in details.invocation_metadata or ():
            if key == TOKEN_HEADER:
                given = value.encode() if isinstance(value, str) else value
                return hmac.compare_digest(given, self._token)
        return False

    async def intercept_service(self, continuation, details):
        method = details.method
        if method.startswith(OPEN_PREFIXES):
            return await continuation(details)
        handler = await continuation(details)
        if handler is None:
            return None  # UNIMPLEMENTED
        if not self._token_ok(details):
            return self._deny_stream if handler.request_streaming or handler.response_streaming else self._deny
        return _guarded(handler, method, self._callers.get(method, frozenset()))


async def _refuse(context, method: str, identity: str, why: str) -> None:
    log.warning("refused %s from %s: %s", method, identity or "(no certificate identity)", why)
    await context.abort(grpc.StatusCode.PERMISSION_DENIED, f"this caller may not call {method.rsplit('/', 1)[-1]}")


def _guarded(handler: grpc.RpcMethodHandler, method: str, allowed: frozenset[str]) -> grpc.RpcMethodHandler:
    if handler.unary_unary is not None:
        inner = handler.unary_unary

        async def unary(request, context):
            identity = peer_identity(context)
            if kind(identity) not in allowed:
                await _refuse(context, method, identity, "not in the caller table")
            if not principal_fits(identity, request):
                await _refuse(context, method, identity, "the principal does not fit the caller")
            answer = inner(request, context)
            return await answer if inspect.isawaitable(answer) else answer

        return grpc.unary_unary_rpc_method_handler(unary, request_deserializer=handler.request_deserializer,
                                                   response_serializer=handler.response_serializer)
    if handler.stream_stream is not None:
        inner_stream = handler.stream_stream

        async def stream(request_iterator, context):
            identity = peer_identity(context)
            if kind(identity) not in allowed:
                await _refuse(context, method, identity, "not in the caller table")
            answers = inner_stream(request_iterator, context)
            if inspect.isawaitable(answers):  # a handler that writes with context.write
                await answers
                return
            async for answer in answers:
                yield answer

        return grpc.stream_stream_rpc_method_handler(stream, request_deserializer=handler.request_deserializer,
                                                     response_serializer=handler.response_serializer)
    # the suite has no unary-stream or stream-unary methods: answer nobody rather than unchecked
    return _refused_handler(handler, method)


def _refused_handler(handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
    async def refuse_unary_in(request, context):
        await _refuse(context, method, peer_identity(context), "no guard for this kind of method")

    if handler.unary_stream is not None:
        async def refuse_unary_stream(request, context):
            await refuse_unary_in(request, context)
            yield
        return grpc.unary_stream_rpc_method_handler(refuse_unary_stream, handler.request_deserializer,
                                                    handler.response_serializer)
    return grpc.stream_unary_rpc_method_handler(refuse_unary_in, handler.request_deserializer,
                                                handler.response_serializer)
