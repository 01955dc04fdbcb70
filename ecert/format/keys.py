"""Signing keys (hazardous layer): generation, key ids, SPKI, encrypted PKCS#8 files.

Two algorithms only: ES256 (COSE -7, ECDSA P-256 with SHA-256, raw r||s
signatures) and EdDSA (COSE -8, Ed25519). Private keys stay inside the process
that made them: they are written only as encrypted PKCS#8 and never logged
(``repr`` shows the kid alone).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from ..errors import ConfigError, InvalidRequest
from ..files import write_private

ES256 = -7
EDDSA = -8
ALG_NAMES = {ES256: "ES256", EDDSA: "EdDSA"}
ALG_IDS = {v: k for k, v in ALG_NAMES.items()}


def alg_id(name: str) -> int:
    try:
        return ALG_IDS[name]
    except KeyError:
        raise InvalidRequest(f"alg must be one of {sorted(ALG_IDS)}", code="ALG_NOT_ALLOWED") from None


def kid_of(spki: bytes) -> bytes:
    """Key id: the first 8 bytes of SHA-256 over the SubjectPublicKeyInfo DER."""
    return hashlib.sha256(spki).digest()[:8]


def ecdsa_der_py(signature: bytes) -> bytes:
    """A raw 64-byte r||s ES256 signature as the DER form cryptography verifies (reference)."""
    return encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))


try:
    from ._fast import ecdsa_der as _ecdsa_der
except ImportError:  # the optional C extension was not built: same bytes, slower
    _ecdsa_der = ecdsa_der_py


class PublicKey:
    """A verification key parsed once, with its kid and algorithm."""

    __slots__ = ("alg", "spki", "kid", "_key", "_ecdsa")

    def __init__(self, alg: int, spki: bytes):
        if alg not in ALG_NAMES:
            raise InvalidRequest("unsupported algorithm", code="ALG_NOT_ALLOWED")
        try:
            key = serialization.load_der_public_key(spki)
        except (ValueError, TypeError) as err:
            raise InvalidRequest("spki is not a DER SubjectPublicKeyInfo") from err
        if alg == ES256 and not (isinstance(key, ec.EllipticCurvePublicKey)
                                 and isinstance(key.curve, ec.SECP256R1)):
            raise InvalidRequest("ES256 needs a P-256 public key", code="ALG_NOT_ALLOWED")
        if alg == EDDSA and not isinstance(key, ed25519.Ed25519PublicKey):
            raise InvalidRequest("EdDSA needs an Ed25519 public key", code="ALG_NOT_ALLOWED")
        self.alg = alg
        self.spki = spki
        self.kid = kid_of(spki)
        self._key = key
        self._ecdsa = ec.ECDSA(hashes.SHA256())

    def verify(self, signature: bytes, message: bytes) -> bool:
        try:
            if self.alg == ES256:
                if len(signature) != 64:
                    return False
                self._key.verify(_ecdsa_der(signature), message, self._ecdsa)
            else:
                self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def __repr__(self) -> str:
        return f"PublicKey({ALG_NAMES[self.alg]}, kid={self.kid.hex()})"


@runtime_checkable
class Signer(Protocol):
    """Something that signs: a :class:`SigningKey` in this process, or a key held elsewhere (a
    PKCS#11 token, :mod:`ecert.runtime.hsm`) that never leaves it. COSE signing asks for no more.

    ``sign`` answers the signature as COSE carries it: raw ``r||s`` (64 bytes) for ES256, the
    64-byte Ed25519 signature for EdDSA."""

    alg: int
    public: PublicKey

    @property
    def kid(self) -> bytes: ...

    @property
    def spki(self) -> bytes: ...

    def sign(self, message: bytes) -> bytes: ...


class SigningKey:
    """A private key. Never serialised except as encrypted PKCS#8."""

    __slots__ = ("alg", "_key", "public")

    def __init__(self, alg: int, private_key):
        self.alg = alg
        self._key = private_key
        spki = private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.public = PublicKey(alg, spki)

    @classmethod
    def generate(cls, alg: int = ES256) -> "SigningKey":
        if alg == ES256:
            return cls(alg, ec.generate_private_key(ec.SECP256R1()))
        if alg == EDDSA:
            return cls(alg, ed25519.Ed25519PrivateKey.generate())
        raise InvalidRequest("unsupported algorithm", code="ALG_NOT_ALLOWED")

    @property
    def kid(self) -> bytes:
        return self.public.kid

    @property
    def spki(self) -> bytes:
        return self.public.spki

    def sign(self, message: bytes) -> bytes:
        if self.alg == ES256:
            r, s = decode_dss_signature(self._key.sign(message, ec.ECDSA(hashes.SHA256())))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return self._key.sign(message)

    def to_encrypted_pem(self, passphrase: bytes) -> bytes:
        if not passphrase:
            raise ConfigError("a passphrase is required to store a private key")
        return self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase))

    @classmethod
    def from_encrypted_pem(cls, pem: bytes, passphrase: bytes) -> "SigningKey":
        try:
            key = serialization.load_pem_private_key(pem, password=passphrase)
        except (ValueError, TypeError) as err:
            raise ConfigError("cannot decrypt the private key (wrong passphrase or damaged file)") from err
        if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
            return cls(ES256, key)
        if isinstance(key, ed25519.Ed25519PrivateKey):
            return cls(EDDSA, key)
        raise ConfigError("the key file holds neither a P-256 nor an Ed25519 key")

    def __repr__(self) -> str:
        return f"SigningKey({ALG_NAMES[self.alg]}, kid={self.kid.hex()})"


def load_or_create(path: Path, passphrase: bytes, alg: int = ES256) -> tuple[SigningKey, bool]:
    """Load the encrypted key at ``path``, or create it (mode 0600, new folders 0700) on first start."""
    if path.exists():
        return SigningKey.from_encrypted_pem(path.read_bytes(), passphrase), False
    key = SigningKey.generate(alg)
    write_private(path, key.to_encrypted_pem(passphrase))
    return key, True


def public_pem(key: PublicKey) -> bytes:
    return serialization.load_der_public_key(key.spki).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def public_from_pem(pem: bytes) -> PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError as err:
        raise ConfigError("not a PEM public key") from err
    spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    alg = EDDSA if isinstance(key, ed25519.Ed25519PublicKey) else ES256
    return PublicKey(alg, spki)
