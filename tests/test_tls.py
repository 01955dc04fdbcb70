"""Every gRPC link is TLS with mutual authentication, and each service answers only the callers its
role needs (ecert.rpc.links, ecert.rpc.peers, ecert.runtime.pki)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import stat

import grpc
import pytest
from cryptography import x509
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ecert.errors import ConfigError, PermissionDenied, Unauthenticated, Unavailable
from ecert.rpc import client as rpc_client
from ecert.rpc import server as rpc_server
from ecert.rpc.convert import principal_to_pb, service_principal_pb
from ecert.rpc.links import Links
from ecert.rpc.peers import CALLERS, principal_fits
from ecert.rules.access import Principal
from ecert.runtime import pki
from ecert.runtime.config import GatewayConfig
from ecertpb.v1 import (
    common_pb2,
    issuer_pb2,
    issuer_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
    verifier_pb2,
    verifier_pb2_grpc,
)
from services.issuer.domain import status_uri
from testkit.samples import driving_licence

aio = pytest.mark.asyncio(loop_scope="session")

HEALTH = health_pb2.HealthCheckRequest(service="")
WAIT = 10  # seconds a refused call may take at most (it is refused at once)


@pytest.fixture(scope="module")
def foreign():
    """A CA that is not the suite's, and a 'gateway' certificate it signed."""
    ca, ca_key = pki.make_ca("someone else's CA")
    cert, key = pki.make_leaf(ca, ca_key, pki.GATEWAY)
    return ca, cert, key


def _ports(suite) -> dict[str, int]:
    return {"registry": suite.registry_port, **{f"issuer-{r}": p for r, p in suite.issuer_ports.items()},
            "verifier": suite.verifier_port}


async def _health(ch: grpc.aio.Channel) -> int:
    return (await health_pb2_grpc.HealthStub(ch).Check(HEALTH, timeout=WAIT)).status


# -- the transport -------------------------------------------------------------------------------

@aio
async def test_plaintext_is_refused_on_every_grpc_port(suite):
    for name, port in _ports(suite).items():
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await _health(ch)
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE, name
        peer = "issuer" if name.startswith("issuer-") else name
        ch = suite.channel(port, peer, pki.VERIFIER)  # the same call over TLS, by any peer of the suite: served
        try:
            assert await _health(ch) == health_pb2.HealthCheckResponse.SERVING, name
        finally:
            await ch.close()


@aio
async def test_a_client_without_a_certificate_is_refused(suite):
    creds = grpc.ssl_channel_credentials(root_certificates=suite.links().tls.ca)
    options = [("grpc.ssl_target_name_override", "verifier")]
    async with grpc.aio.secure_channel(f"127.0.0.1:{suite.verifier_port}", creds, options=options) as ch:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await _health(ch)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE


@aio
async def test_a_client_certificate_of_another_ca_is_refused(suite, foreign):
    _, cert, key = foreign
    own = suite.links()
    links = Links(own.token, pki.TlsMaterial(own.tls.ca, cert, key, pki.GATEWAY))  # right name and token
    ch = rpc_client.channel(f"127.0.0.1:{suite.verifier_port}", links, peer=pki.VERIFIER)
    stub = verifier_pb2_grpc.VerifierServiceStub(ch)
    try:
        with pytest.raises(Unavailable):
            await rpc_client.call(stub.Verify(verifier_pb2.VerifyRequest(
                principal=common_pb2.Principal(role="hotel"), payload="HC1:"), timeout=WAIT))
    finally:
        await ch.close()


@aio
async def test_the_client_checks_the_servers_certificate(suite, foreign):
    ca, cert, key = foreign
    impostor, port = rpc_server.create_server(  # a registry with a certificate of another CA
        "127.0.0.1:0", [], links=Links(suite.token, pki.TlsMaterial(ca, cert, key, pki.GATEWAY)),
        service_names=[])
    await rpc_server.start(impostor)
    try:
        ch = suite.channel(port, pki.REGISTRY)
        try:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await _health(ch)
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        finally:
            await ch.close()
    finally:
        await rpc_server.stop(impostor, 0)
    # a server of the suite that is not the one the client means to reach: refused too
    ch = suite.channel(suite.verifier_port, pki.REGISTRY)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await _health(ch)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await ch.close()


@aio
async def test_the_internal_token_is_still_checked(suite):
    links = dataclasses.replace(suite.links(), token="not-the-token")
    ch = rpc_client.channel(f"127.0.0.1:{suite.registry_port}", links, peer=pki.REGISTRY)
    try:
        with pytest.raises(Unauthenticated):
            await rpc_client.call(registry_pb2_grpc.RegistryServiceStub(ch).GetTrustList(
                registry_pb2.GetTrustListRequest(), timeout=WAIT))
    finally:
        await ch.close()


# -- the caller table ----------------------------------------------------------------------------

@aio
async def test_each_service_answers_only_the_callers_its_role_needs(suite, http):
    port = suite.issuer_ports["CN-ZJ"]
    as_verifier, as_gateway = suite.channel(port, "issuer", pki.VERIFIER), suite.channel(port, "issuer")
    as_issuer = suite.channel(suite.verifier_port, pki.VERIFIER, pki.issuer_identity("CN-SH"))
    issue = issuer_pb2.IssueCredentialRequest(
        principal=principal_to_pb(Principal("agency", "CN-ZJ")), type="cn.driving_licence",
        fields_json=json.dumps(driving_licence()), request_id="tls-caller-table")
    status_list = issuer_pb2.GetStatusListRequest(uri=status_uri("CN-ZJ"))
    try:
        v_stub, g_stub = issuer_pb2_grpc.IssuerServiceStub(as_verifier), issuer_pb2_grpc.IssuerServiceStub(as_gateway)
        with pytest.raises(PermissionDenied) as err:  # the verifier issues nothing
            await rpc_client.call(v_stub.IssueCredential(issue, timeout=WAIT))
        assert "may not call IssueCredential" in err.value.message
        with pytest.raises(PermissionDenied):  # the gateway has no business with status lists
            await rpc_client.call(g_stub.GetStatusList(status_list, timeout=WAIT))
        with pytest.raises(PermissionDenied):  # an issuer verifies nothing
            await rpc_client.call(verifier_pb2_grpc.VerifierServiceStub(as_issuer).Verify(
                verifier_pb2.VerifyRequest(principal=common_pb2.Principal(role="hotel"), payload="HC1:"), timeout=WAIT))
        # streams too: the verifier may not open the issuance stream
        call = v_stub.IssueStream(metadata=rpc_client.token_metadata(suite.links(pki.VERIFIER)), timeout=WAIT)
        await call.write(issuer_pb2.IssueStreamRequest(items=[issuer_pb2.IssueStreamItem(id=1, request=issue)]))
        with pytest.raises(grpc.aio.AioRpcError) as rpc_err:
            async for _ in call:
                pass
        assert rpc_err.value.code() == grpc.StatusCode.PERMISSION_DENIED
        # and the callers the table names are served
        assert (await rpc_client.call(v_stub.GetStatusList(status_list, timeout=WAIT))).signed
        assert (await rpc_client.call(g_stub.IssueCredential(issue, timeout=WAIT))).region == "CN-ZJ"
    finally:
        for ch in (as_verifier, as_gateway, as_issuer):
            await ch.close()


@aio
async def test_a_principal_must_fit_its_caller(suite):
    """An issuer acts only as its own region's service principal, and only it acts as that."""
    as_zj = suite.channel(suite.registry_port, pki.REGISTRY, pki.issuer_identity("CN-ZJ"))
    as_gateway = suite.channel(suite.registry_port, pki.REGISTRY)
    try:
        for ch, principal in ((as_zj, service_principal_pb("CN-SH")), (as_zj, common_pb2.Principal(role="admin")),
                              (as_gateway, service_principal_pb("CN-ZJ"))):
            with pytest.raises(PermissionDenied) as err:
                await rpc_client.call(registry_pb2_grpc.RegistryServiceStub(ch).ListCertificateTypes(
                    registry_pb2.ListCertificateTypesRequest(principal=principal), timeout=WAIT))
            assert "may not call ListCertificateTypes" in err.value.message
        for ch, principal in ((as_zj, service_principal_pb("CN-ZJ")), (as_gateway, service_principal_pb())):
            resp = await rpc_client.call(registry_pb2_grpc.RegistryServiceStub(ch).ListCertificateTypes(
                registry_pb2.ListCertificateTypesRequest(principal=principal), timeout=WAIT))
            assert resp.types
    finally:
        await as_zj.close()
        await as_gateway.close()


def test_principal_fits():
    sh, zj = service_principal_pb("CN-SH"), service_principal_pb("CN-ZJ")
    req = registry_pb2.RegisterKeyRequest
    assert principal_fits("issuer-CN-SH", req(principal=sh))
    assert not principal_fits("issuer-CN-SH", req(principal=zj))
    assert not principal_fits("issuer-CN-SH", req(principal=common_pb2.Principal(role="agency", region="CN-SH")))
    assert not principal_fits("issuer-CN-SH", req())
    assert not principal_fits("gateway", req(principal=sh))
    assert principal_fits("gateway", req(principal=common_pb2.Principal(role="agency", region="CN-SH")))
    assert principal_fits("gateway", req(principal=service_principal_pb()))
    assert principal_fits("verifier", registry_pb2.GetTrustListRequest())  # no principal in the request


def test_the_caller_table_names_every_method_and_only_those():
    methods = {f"/{svc.full_name}/{m.name}"
               for module in (registry_pb2, issuer_pb2, verifier_pb2)
               for svc in module.DESCRIPTOR.services_by_name.values() for m in svc.methods}
    assert set(CALLERS) == methods
    kinds = {pki.REGISTRY, pki.ISSUER, pki.VERIFIER, pki.GATEWAY}
    assert all(callers and callers <= kinds for callers in CALLERS.values())
    assert not any(pki.REGISTRY in callers for callers in CALLERS.values())  # the registry calls nobody


# -- the development PKI and the configuration ---------------------------------------------------

def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_dev_pki_is_private_and_reused(tmp_path):
    folder = tmp_path / "pki"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    made = pki.ensure_dev_pki(folder, pki.dev_identities(["CN-SH"]))
    assert set(made) == {"registry", "issuer-CN-SH", "verifier", "gateway"}
    assert _mode(folder) == 0o700
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["ca.pem", "ca-key.pem"] + [f"{i}{s}" for i in made for s in (".pem", "-key.pem")])
    assert all(_mode(p) == 0o600 for p in folder.iterdir())
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert pki.ensure_dev_pki(folder, made) == made
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # reused, not made anew
    cert = x509.load_pem_x509_certificate(made["issuer-CN-SH"].cert.read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["issuer-cn-sh", "issuer", "localhost"]
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert made["issuer-CN-SH"].load().identity == "issuer-CN-SH"
    # a certificate that is not this CA's is made anew; the others stay
    other_ca, other_key = pki.make_ca("other")
    stray, stray_key = pki.make_leaf(other_ca, other_key, "gateway")
    made["gateway"].cert.write_bytes(stray)
    made["gateway"].key.write_bytes(stray_key)
    pki.ensure_dev_pki(folder, made)
    assert made["gateway"].cert.read_bytes() not in (stray, before["gateway.pem"])
    assert made["verifier"].cert.read_bytes() == before["verifier.pem"]


def test_tls_files_are_required_and_never_shown(tmp_path, suite):
    env = {"ECERT_INTERNAL_TOKEN": "t"}
    with pytest.raises(ConfigError) as err:
        GatewayConfig.from_env(env)
    assert all(name in str(err.value) for name in ("ECERT_TLS_CA", "ECERT_TLS_CERT", "ECERT_TLS_KEY"))
    cfg = GatewayConfig.from_env(dict(env, ECERT_TLS_CA=str(tmp_path / "no-ca.pem"),
                                      ECERT_TLS_CERT=str(tmp_path / "c.pem"), ECERT_TLS_KEY=str(tmp_path / "k.pem")))
    with pytest.raises(ConfigError) as err:
        Links.from_config(cfg)
    assert "no-ca.pem" in str(err.value)
    links = suite.links()
    assert links.identity == "gateway"
    assert "PRIVATE KEY" not in repr(links) and links.token not in repr(links)


@aio
async def test_the_container_health_probe_speaks_tls(suite, monkeypatch):
    from ecert.rpc import probe
    files = suite.tls[pki.GATEWAY]
    for name, path in (("ECERT_TLS_CA", files.ca), ("ECERT_TLS_CERT", files.cert), ("ECERT_TLS_KEY", files.key)):
        monkeypatch.setenv(name, str(path))
    target = f"127.0.0.1:{suite.verifier_port}"
    assert await asyncio.to_thread(probe.main, [target, pki.VERIFIER]) == 0
    assert await asyncio.to_thread(probe.main, [target, pki.REGISTRY]) == 1  # not the registry


def test_the_pki_refuses_identities_that_are_no_service(tmp_path, capsys):
    from ecert.errors import ConfigError
    for bad in ("bad identity!", "issuer-", "issuer-zj", "../registry", "Registry"):
        with pytest.raises(ConfigError):
            pki.ensure_dev_pki(tmp_path / "pki", [bad])
    assert not list((tmp_path / "pki").glob("*.pem")) if (tmp_path / "pki").exists() else True
    assert pki.main([str(tmp_path / "cli"), "bad identity!"]) == 2
    assert "unknown service identity" in capsys.readouterr().err
    assert set(pki.ensure_dev_pki(tmp_path / "ok", ["registry", "issuer-CN-ZJ"])) == {"registry", "issuer-CN-ZJ"}
