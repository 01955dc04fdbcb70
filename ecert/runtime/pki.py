"""The suite's service identities and their TLS material; a development PKI made on first start.

Every gRPC link is TLS with mutual authentication (:mod:`ecert.rpc.peers`). Each process holds
the suite CA's certificate, its own certificate and its private key, named by configuration
(``ECERT_TLS_CA``, ``ECERT_TLS_CERT``, ``ECERT_TLS_KEY``). A certificate names its service
identity in its subject CN and, in lower case, as a DNS name (clients check the server's):

    registry    issuer-<REGION> (also the DNS name ``issuer``)    verifier    gateway

For development (``make run``, the tests, the benchmark) :func:`ensure_dev_pki` makes a CA and
one certificate per identity under ``var/pki/`` (folder 0700, every file 0600), ECDSA P-256,
and reuses them on later starts. Production brings its own CA and files.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..errors import ConfigError, InvalidRequest
from ..files import private_dir, write_private
from ..rules.schema import check_region_code

REGISTRY = "registry"
VERIFIER = "verifier"
GATEWAY = "gateway"
ISSUER = "issuer"
"""The DNS name every issuer's certificate carries besides its own (a client reaching an issuer
by a directory endpoint expects an issuer of the suite)."""

CA_DAYS = 3650
LEAF_DAYS = 397
RENEW_DAYS = 30
"""A development certificate this close to its end is made anew on start."""
PKI_DIR = "pki"


def issuer_identity(region: str) -> str:
    return f"{ISSUER}-{region}"


def check_identity(identity: str) -> str:
    """A service identity: ``registry``, ``verifier``, ``gateway`` or ``issuer-<REGION>`` with an
    ISO 3166-2 region code; ConfigError naming it otherwise (it becomes file and certificate names)."""
    if identity in (REGISTRY, VERIFIER, GATEWAY):
        return identity
    if identity.startswith(ISSUER + "-"):
        try:
            check_region_code(identity[len(ISSUER) + 1:])
            return identity
        except InvalidRequest:
            pass
    raise ConfigError(f"unknown service identity {identity[:40]!r}: registry, verifier, gateway or issuer-<REGION> "
                      "(e.g. issuer-CN-ZJ)")


def kind(identity: str) -> str:
    """``registry``, ``verifier``, ``gateway`` or ``issuer`` (for ``issuer-<REGION>``)."""
    return ISSUER if identity.startswith(ISSUER + "-") else identity


def region_of(identity: str) -> str:
    """The region of an issuer identity ("" for the others)."""
    return identity[len(ISSUER) + 1:] if kind(identity) == ISSUER else ""


def dns_names(identity: str) -> list[str]:
    names = [identity.lower()]
    if kind(identity) == ISSUER:
        names.append(ISSUER)
    return names


@dataclass(frozen=True)
class TlsFiles:
    """Where one process's TLS material is: the CA certificate, its certificate, its key (PEM)."""

    ca: Path
    cert: Path
    key: Path

    def load(self) -> "TlsMaterial":
        def read(what: str, path: Path) -> bytes:
            try:
                data = path.read_bytes()
            except OSError as err:
                raise ConfigError(f"TLS {what}: cannot read {path} ({err.strerror})") from err
            if b"-----BEGIN" not in data:
                raise ConfigError(f"TLS {what}: {path} is not PEM")
            return data

        ca, cert, key = read("CA certificate", self.ca), read("certificate", self.cert), read("key", self.key)
        try:
            identity = _identity(x509.load_pem_x509_certificate(cert))
        except ValueError as err:
            raise ConfigError(f"TLS certificate: {self.cert} is not a certificate") from err
        return TlsMaterial(ca, cert, key, identity)


@dataclass(frozen=True)
class TlsMaterial:
    """One process's TLS material (PEM bytes) and the identity its certificate names."""

    ca: bytes
    cert: bytes
    key: bytes
    identity: str

    def __repr__(self) -> str:  # never the key in a log line or a traceback
        return f"TlsMaterial(identity={self.identity!r})"


def _identity(cert: x509.Certificate) -> str:
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not cns:
        raise ConfigError("TLS certificate: no subject common name (the service identity)")
    return str(cns[0].value)


def files(folder: Path, identity: str) -> TlsFiles:
    """The development file names of ``identity`` in ``folder``."""
    return TlsFiles(folder / "ca.pem", folder / f"{identity}.pem", folder / f"{identity}-key.pem")


# -- making certificates -------------------------------------------------------------------------

def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ecert suite"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def make_ca(cn: str = "ecert development CA", days: int = CA_DAYS) -> tuple[bytes, bytes]:
    """A self-signed CA: ``(certificate PEM, key PEM)``."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn)).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256()))
    return _cert_pem(cert), _key_pem(key)


def make_leaf(ca_cert_pem: bytes, ca_key_pem: bytes, identity: str, days: int = LEAF_DAYS) -> tuple[bytes, bytes]:
    """A certificate for ``identity`` signed by the CA: ``(certificate PEM, key PEM)``. Client and
    server use; DNS names :func:`dns_names`, ``localhost`` and the address 127.0.0.1."""
    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem)
    ca_key = serialization.load_pem_private_key(ca_key_pem, None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    sans = [x509.DNSName(n) for n in (*dns_names(identity), "localhost")]
    sans.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    cert = (x509.CertificateBuilder().subject_name(_name(identity)).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return _cert_pem(cert), _key_pem(key)




def _usable(ca_cert: x509.Certificate, path: Path, key_path: Path, identity: str) -> bool:
    """An existing leaf of this CA, for this identity, not near its end, with its key beside it."""
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), None)
        cert.verify_directly_issued_by(ca_cert)
        named = _identity(cert) == identity
    except (OSError, ValueError, TypeError, InvalidSignature, ConfigError):  # missing, unreadable, not this CA's
        return False
    fresh = cert.not_valid_after_utc - _now() > datetime.timedelta(days=RENEW_DAYS)
    return fresh and named and _pair(cert, key)


def _pair(cert: x509.Certificate, key) -> bool:
    """The certificate is for this private key."""
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return cert.public_key().public_bytes(*spki) == key.public_key().public_bytes(*spki)


def ensure_dev_pki(folder: Path, identities: Iterable[str]) -> dict[str, TlsFiles]:
    """The development CA and one certificate per identity in ``folder``: made where missing,
    not this CA's, or near their end; reused otherwise. Folder 0700, files 0600."""
    identities = [check_identity(i) for i in identities]
    private_dir(folder)
    ca_path, ca_key_path = folder / "ca.pem", folder / "ca-key.pem"
    ca_cert = None
    try:
        ca_cert_pem, ca_key_pem = ca_path.read_bytes(), ca_key_path.read_bytes()
        ca_cert = x509.load_pem_x509_certificate(ca_cert_pem)
        if (not _pair(ca_cert, serialization.load_pem_private_key(ca_key_pem, None))
                or ca_cert.not_valid_after_utc - _now() <= datetime.timedelta(days=RENEW_DAYS)):
            ca_cert = None
    except (OSError, ValueError, TypeError):
        ca_cert = None
    if ca_cert is None:
        ca_cert_pem, ca_key_pem = make_ca()
        write_private(ca_key_path, ca_key_pem)
        write_private(ca_path, ca_cert_pem)
        ca_cert = x509.load_pem_x509_certificate(ca_cert_pem)
    out = {}
    for identity in identities:
        f = files(folder, identity)
        if not _usable(ca_cert, f.cert, f.key, identity):
            cert_pem, key_pem = make_leaf(ca_cert_pem, ca_key_pem, identity)
            write_private(f.key, key_pem)
            write_private(f.cert, cert_pem)
        out[identity] = f
    for path in folder.iterdir():  # files of earlier versions or hands keep to the rule too
        if path.is_file():
            os.chmod(path, 0o600)
    return out


def dev_identities(regions: Iterable[str]) -> list[str]:
    """Every identity of a suite with these issuer regions."""
    return [REGISTRY, *(issuer_identity(r) for r in regions), VERIFIER, GATEWAY]


def main(argv: list[str] | None = None) -> int:
    """``python -m ecert.runtime.pki FOLDER IDENTITY...``: make (or keep) a CA and these identities'
    certificates in FOLDER, as ``make run`` does (e.g. for ``deploy/compose.yaml``)."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2:
        print("usage: python -m ecert.runtime.pki FOLDER IDENTITY...  (registry, issuer-CN-ZJ, verifier, gateway)",
              file=sys.stderr)
        return 2
    try:
        made = ensure_dev_pki(Path(args[0]), args[1:])
    except ConfigError as err:
        print(f"ecert.runtime.pki: {err}", file=sys.stderr)
        return 2
    for identity, f in made.items():
        print(f"{identity}: ECERT_TLS_CA={f.ca} ECERT_TLS_CERT={f.cert} ECERT_TLS_KEY={f.key}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
