"""Signing keys kept in a PKCS#11 token (a hardware security module, or SoftHSM2 in tests).

A key is generated inside the token (``CKA_TOKEN``, ``CKA_SENSITIVE`` true, ``CKA_EXTRACTABLE``
false: its private value can never be read out) and labelled with its kid: ``CKA_LABEL`` the kid
in hex, ``CKA_ID`` the kid's 8 bytes (the first 8 bytes of SHA-256 over the SubjectPublicKeyInfo,
as :func:`ecert.format.keys.kid_of` makes it). A :class:`TokenKey` signs through the token and is
a :class:`ecert.format.keys.Signer`, so the format layer signs with it as with a key in memory:

- ES256: ``CKM_ECDSA`` over the SHA-256 digest of the message, which answers ``r||s`` (64 bytes)
  as COSE carries it;
- EdDSA: ``CKM_EDDSA`` (Ed25519) over the message, where the token has the mechanism (SoftHSM2
  2.6 does); a token without it is refused at :meth:`Token.generate` with a ConfigError.

The token is chosen by ``ECERT_PKCS11_MODULE`` (the vendor's library), ``ECERT_PKCS11_TOKEN_LABEL``
and ``ECERT_PKCS11_PIN`` (the user PIN, from the environment). The PIN is never logged nor put in
an error message. One session per process, used under a lock (PKCS#11 sessions are not
thread-safe).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from ..errors import ConfigError
from ..format import keys

log = logging.getLogger("ecert.hsm")

P256_OID = "secp256r1"
ED25519_OID = "1.3.101.112"


@dataclass(frozen=True)
class Pkcs11Config:
    """Which token holds the keys (``pin`` kept out of ``repr``)."""

    module: str
    token_label: str
    pin: str = field(repr=False)


def _pkcs11():
    try:
        import pkcs11  # python-pkcs11: imported only where a token is configured
    except ImportError as err:  # pragma: no cover - a dependency of the suite
        raise ConfigError("ECERT_PKCS11_MODULE is set but python-pkcs11 is not installed") from err
    return pkcs11


class TokenKey:
    """A private key inside the token: signs there, never leaves it (``repr``: the kid alone)."""

    __slots__ = ("alg", "public", "_priv", "_token")

    def __init__(self, token: Token, alg: int, spki: bytes, priv):
        self.alg = alg
        self.public = keys.PublicKey(alg, spki)
        self._priv = priv
        self._token = token

    @property
    def kid(self) -> bytes:
        return self.public.kid

    @property
    def spki(self) -> bytes:
        return self.public.spki

    def sign(self, message: bytes) -> bytes:
        mech = _pkcs11().Mechanism
        with self._token.lock:
            if self.alg == keys.ES256:
                return bytes(self._priv.sign(hashlib.sha256(message).digest(), mechanism=mech.ECDSA))
            return bytes(self._priv.sign(message, mechanism=mech.EDDSA))

    def __repr__(self) -> str:
        return f"TokenKey({keys.ALG_NAMES[self.alg]}, kid={self.kid.hex()})"


class Token:
    """An open session on the token :class:`Pkcs11Config` names (logged in as its user)."""

    def __init__(self, cfg: Pkcs11Config):
        p11 = _pkcs11()
        exc = p11.exceptions
        self.label = cfg.token_label
        self.lock = threading.RLock()
        if not os.path.isfile(cfg.module):
            raise ConfigError(f"ECERT_PKCS11_MODULE={cfg.module}: no such library")
        lib = _library(cfg.module)
        try:
            token = lib.get_token(token_label=cfg.token_label)
        except (exc.NoSuchToken, exc.TokenNotPresent, exc.TokenNotRecognised):
            raise ConfigError(f"ECERT_PKCS11_TOKEN_LABEL={cfg.token_label!r}: no such token in "
                              f"{cfg.module}") from None
        except exc.MultipleTokensReturned:
            raise ConfigError(f"ECERT_PKCS11_TOKEN_LABEL={cfg.token_label!r}: several tokens have that label") from None
        try:
            self._session = token.open(user_pin=cfg.pin, rw=True)
        except (exc.PinIncorrect, exc.PinInvalid, exc.PinLenRange):
            raise ConfigError(f"ECERT_PKCS11_PIN is not the user PIN of token {cfg.token_label!r}") from None
        except exc.PinLocked:
            raise ConfigError(f"token {cfg.token_label!r}: the user PIN is locked (too many wrong PINs)") from None
        except exc.PKCS11Error as err:
            raise ConfigError(f"token {cfg.token_label!r} cannot be opened: {type(err).__name__}") from None
        self._mechanisms = set(token.slot.get_mechanisms())
        log.info("PKCS#11 token %r opened (%s)", cfg.token_label, cfg.module)

    @property
    def supports_eddsa(self) -> bool:
        return _pkcs11().Mechanism.EDDSA in self._mechanisms

    # -- keys --------------------------------------------------------------------------------
    def generate(self, alg: int = keys.ES256) -> TokenKey:
        """A new key pair made in the token, stored there, its private half sensitive and never
        extractable, labelled by its kid."""
        p11 = _pkcs11()
        from pkcs11.util.ec import encode_named_curve_parameters
        A, KT = p11.Attribute, p11.KeyType
        if alg == keys.ES256:
            key_type, curve = KT.EC, P256_OID
        elif alg == keys.EDDSA:
            if not self.supports_eddsa:
                raise ConfigError(f"token {self.label!r} has no CKM_EDDSA mechanism: use ECERT_KEY_ALG=ES256")
            key_type, curve = KT.EC_EDWARDS, ED25519_OID
        else:
            raise ConfigError("a token key is ES256 or EdDSA")
        temp = os.urandom(8)  # until the kid is known (it hashes the public key)
        with self.lock:
            params = self._session.create_domain_parameters(
                key_type, {A.EC_PARAMS: encode_named_curve_parameters(curve)}, local=True)
            # signing only: python-pkcs11's default capabilities for EC keys include DERIVE
            # (ECDH), which would let the session use the signing key for key agreement
            pub, priv = params.generate_keypair(
                store=True, id=temp, label=temp.hex(),
                capabilities=p11.MechanismFlag.SIGN | p11.MechanismFlag.VERIFY,
                public_template={A.TOKEN: True, A.VERIFY: True, A.ENCRYPT: False, A.WRAP: False,
                                 A.VERIFY_RECOVER: False, A.DERIVE: False},
                private_template={A.TOKEN: True, A.PRIVATE: True, A.SIGN: True, A.SENSITIVE: True,
                                  A.EXTRACTABLE: False, A.DERIVE: False, A.DECRYPT: False,
                                  A.UNWRAP: False, A.SIGN_RECOVER: False})
            spki = _spki(alg, pub)
            kid = keys.kid_of(spki)
            for obj in (pub, priv):
                obj[A.ID] = kid
                obj[A.LABEL] = kid.hex()
        key = TokenKey(self, alg, spki, priv)
        log.info("signing key %s generated in token %r", kid.hex(), self.label)
        return key

    def find(self, kid: bytes) -> TokenKey | None:
        """The token's key of ``kid``, or None."""
        p11 = _pkcs11()
        A, OC = p11.Attribute, p11.ObjectClass
        with self.lock:
            privs = list(self._session.get_objects({A.CLASS: OC.PRIVATE_KEY, A.ID: kid}))
            pubs = list(self._session.get_objects({A.CLASS: OC.PUBLIC_KEY, A.ID: kid}))
            if not privs or not pubs:
                return None
            alg = keys.ES256 if pubs[0].key_type == p11.KeyType.EC else keys.EDDSA
            spki = _spki(alg, pubs[0])
        if keys.kid_of(spki) != kid:
            raise ConfigError(f"token {self.label!r}: the key with id {kid.hex()} is not the key of that kid")
        return TokenKey(self, alg, spki, privs[0])

    def key(self, kid: bytes) -> TokenKey:
        """The token's key of ``kid``; ConfigError when the token lacks it."""
        key = self.find(kid)
        if key is None:
            raise ConfigError(f"signing key {kid.hex()} is not in token {self.label!r}")
        return key

    def destroy(self, kid: bytes) -> None:
        """Delete both halves of the key ``kid`` from the token (nothing if it is not there)."""
        A = _pkcs11().Attribute
        with self.lock:
            for obj in list(self._session.get_objects({A.ID: kid})):
                obj.destroy()

    def close(self) -> None:
        with self.lock:
            self._session.close()


def _spki(alg: int, pub) -> bytes:
    """The SubjectPublicKeyInfo DER of a token public key (as :mod:`cryptography` writes it)."""
    if alg == keys.ES256:
        from pkcs11.util.ec import encode_ec_public_key
        return bytes(encode_ec_public_key(pub))
    from asn1crypto.core import OctetString
    point = OctetString.load(bytes(pub[_pkcs11().Attribute.EC_POINT])).native
    return ed25519.Ed25519PublicKey.from_public_bytes(point).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


_libs: dict[str, object] = {}
_open: dict[tuple[str, str, bytes], Token] = {}  # by module, label and the PIN's digest
_open_lock = threading.RLock()


def _library(module: str):
    """The module loaded and initialised once per process (C_Initialize may run once)."""
    with _open_lock:
        lib = _libs.get(module)
        if lib is None:
            try:
                lib = _libs[module] = _pkcs11().lib(module)
            except RuntimeError as err:  # python-pkcs11's PKCS11Error for a library it cannot load
                raise ConfigError(f"ECERT_PKCS11_MODULE={module} cannot be loaded as a PKCS#11 module") from err
        return lib


def reset() -> None:
    """Close every session and initialise the modules again (C_Finalize, C_Initialize): a module
    reads its configuration anew (SoftHSM2's ``SOFTHSM2_CONF``: tests make a token each)."""
    with _open_lock:
        for token in _open.values():
            try:
                token.close()
            except RuntimeError:
                pass
        _open.clear()
        for lib in _libs.values():
            lib.reinitialize()


def open_token(cfg: Pkcs11Config) -> Token:
    """The process's session on the token (one per module and label: the registry and an issuer
    in one process, as in tests, share it)."""
    with _open_lock:
        at = (cfg.module, cfg.token_label, hashlib.sha256(cfg.pin.encode()).digest())
        token = _open.get(at)
        if token is None:
            token = _open[at] = Token(cfg)
        return token
