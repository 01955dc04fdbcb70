"""Signing keys in a PKCS#11 token (SoftHSM2): made inside it and never readable, credentials
signed through it verify, rotation and restarts work as with key files, a wrong PIN is a clear
ConfigError and the PIN is never logged.

Each test makes its own token in a folder of its own (``testkit.softhsm``). Skipped, saying why,
where SoftHSM2 or python-pkcs11 is missing (``make test`` installs Debian's softhsm2 as root).
"""

from __future__ import annotations

import json
import logging

import pytest

from ecert.errors import ConfigError
from ecert.format import cose, keys
from ecert.rules.access import Principal
from ecert.runtime import hsm
from ecert.runtime.config import IssuerConfig, RegistryConfig
from services.issuer.keyring import KEYS_DIR, Keyring, TokenVault
from services.registry.rootkeys import RootKeyToken, root_key_paths
from testkit import softhsm
from testkit.samples import driving_licence
from tests.harness import start_suite

pytestmark = pytest.mark.asyncio(loop_scope="session")

WHY = softhsm.unavailable()
needs_token = pytest.mark.skipif(WHY is not None, reason=WHY or "")

ZJ = Principal("agency", "CN-ZJ")
ADMIN = Principal("admin")
POLICE = Principal("traffic_police", "CN-JS")
DL = "cn.driving_licence"


@pytest.fixture
def token(tmp_path, monkeypatch):
    """A fresh SoftHSM2 token of this test's own; the module initialised again to see it."""
    soft = softhsm.make_token(tmp_path / "hsm")
    monkeypatch.setenv("SOFTHSM2_CONF", str(soft.conf))
    hsm.reset()
    yield soft
    hsm.reset()


def _cfg(soft: softhsm.SoftToken, pin: str | None = None) -> hsm.Pkcs11Config:
    return hsm.Pkcs11Config(soft.module, soft.label, soft.pin if pin is None else pin)


def _key_env(soft: softhsm.SoftToken) -> dict[str, str]:
    """The token's settings, and no passphrases: nothing is encrypted into a file."""
    return {**soft.env(), "ECERT_ROOT_KEY_PASSPHRASE": "", "ECERT_SIGNING_KEY_PASSPHRASE": ""}


async def _issue(suite, region: str = "CN-ZJ") -> dict:
    return await suite.issuers[region].issue(Principal("agency", region), DL, 0, json.dumps(driving_licence()), 0, "")


async def _outcome(suite, issued: dict) -> str:
    return (await suite.verifier.verify(POLICE, issued["qr_text"])).res.outcome


# -- the token itself --------------------------------------------------------------------------

@needs_token
@pytest.mark.parametrize("alg", [keys.ES256, keys.EDDSA])
async def test_a_key_made_in_the_token_signs_there_and_cannot_be_read_out(token, alg, tmp_path):
    import pkcs11
    from pkcs11 import Attribute, ObjectClass

    t = hsm.open_token(_cfg(token))
    if alg == keys.EDDSA and not t.supports_eddsa:
        pytest.skip("this SoftHSM2 has no CKM_EDDSA")
    key = t.generate(alg)
    assert isinstance(key, keys.Signer) and not isinstance(key, keys.SigningKey)
    message = b"the Sig_structure of a credential"
    signature = key.sign(message)
    assert len(signature) == 64 and key.public.verify(signature, message)  # r||s as COSE carries it (ES256)
    assert not key.public.verify(signature, message + b"!")
    assert keys.PublicKey(alg, key.spki).kid == key.kid == keys.kid_of(key.spki)

    with t._session.token.open() as s:  # another session (logged in already): what the token stores
        (priv,) = s.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.ID: key.kid})
        assert priv.label == key.kid.hex()
        assert priv[Attribute.SENSITIVE] is True and priv[Attribute.EXTRACTABLE] is False
        assert priv[Attribute.TOKEN] is True
        with pytest.raises(pkcs11.exceptions.AttributeSensitive):
            priv[Attribute.VALUE]
    assert t.find(key.kid).spki == key.spki
    signed = cose.parse_sign1(cose.sign1(key, b"payload"))  # the format layer signs through the token
    assert signed.alg == alg and signed.kid == key.kid
    assert key.public.verify(signed.signature, signed.to_be_signed())

    ring = Keyring.open(tmp_path / "issuer", b"", alg, vault=TokenVault(t))  # a region's first key, in the token
    assert isinstance(ring.current, hsm.TokenKey) and ring.current.alg == alg
    assert (tmp_path / "issuer" / KEYS_DIR / f"{ring.current_kid}.token").exists()
    t.destroy(key.kid)
    assert t.find(key.kid) is None


@needs_token
async def test_a_wrong_pin_or_token_is_a_config_error_that_never_shows_the_pin(token, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-" + token.pin
    with pytest.raises(ConfigError) as err:
        hsm.open_token(_cfg(token, wrong))
    assert "ECERT_PKCS11_PIN is not the user PIN" in err.value.message and wrong not in str(err.value)
    with pytest.raises(ConfigError, match="no such token"):
        hsm.open_token(hsm.Pkcs11Config(token.module, "no-such-label", token.pin))
    with pytest.raises(ConfigError, match="no such library"):
        hsm.open_token(hsm.Pkcs11Config("/nonexistent/libpkcs11.so", token.label, token.pin))
    assert hsm.open_token(_cfg(token)).label == token.label  # the right PIN still opens it
    assert token.pin not in caplog.text and wrong not in caplog.text


async def test_the_token_settings_come_together_and_the_pin_stays_out_of_repr():
    base = {"ECERT_INTERNAL_TOKEN": "t", "ECERT_TLS_CA": "ca", "ECERT_TLS_CERT": "c", "ECERT_TLS_KEY": "k"}
    with pytest.raises(ConfigError, match="ECERT_PKCS11_TOKEN_LABEL, ECERT_PKCS11_PIN"):
        RegistryConfig.from_env({**base, "ECERT_PKCS11_MODULE": "/usr/lib/softhsm/libsofthsm2.so"})
    with pytest.raises(ConfigError, match="ECERT_SIGNING_KEY_PASSPHRASE"):  # files need their passphrase
        IssuerConfig.from_env({**base, "ECERT_REGION": "CN-ZJ"})
    cfg = IssuerConfig.from_env({**base, "ECERT_REGION": "CN-ZJ", "ECERT_PKCS11_MODULE": "/m.so",
                                 "ECERT_PKCS11_TOKEN_LABEL": "ecert", "ECERT_PKCS11_PIN": "s3cret-pin"})
    assert cfg.pkcs11 == hsm.Pkcs11Config("/m.so", "ecert", "s3cret-pin") and cfg.signing_key_passphrase == b""
    assert "s3cret-pin" not in repr(cfg)


# -- the suite on the token --------------------------------------------------------------------

@needs_token
async def test_the_suite_signs_with_the_token_rotates_and_restarts_on_its_keys(token, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    var = tmp_path / "var"
    suite = await start_suite(var, key_env=_key_env(token))
    try:
        zj = suite.issuers["CN-ZJ"]
        assert isinstance(zj.key, hsm.TokenKey) and isinstance(suite.registry.root, hsm.TokenKey)
        folder = var / "issuer" / "CN-ZJ" / KEYS_DIR
        assert sorted(p.name for p in folder.glob("*.token")) == [f"{zj.signer.keyring.current_kid}.token"]
        assert not list(folder.glob("*.pem"))  # no private key on disk
        root_file, public_file = root_key_paths(var)
        assert not root_file.exists() and (var / "registry" / "root-key.token").exists()
        assert keys.public_from_pem(public_file.read_bytes()).kid == suite.registry.root.kid

        before = await _issue(suite)
        assert await _outcome(suite, before) == "VALID"
        assert await _outcome(suite, await _issue(suite, "CN-SH")) == "VALID"

        # rotation: a new key made in the token signs, what the old one signed still verifies
        old_kid = zj.signer.keyring.current_kid
        info = await zj.rotate(ZJ)
        assert info.retired_kid == old_kid and info.kid != old_kid and isinstance(zj.key, hsm.TokenKey)
        assert sorted(p.stem for p in folder.glob("*.token")) == sorted([old_kid, info.kid])
        await suite.refresh()
        after = await _issue(suite)
        assert after["kid"] == info.kid and before["kid"] == old_kid
        assert await _outcome(suite, before) == "VALID" and await _outcome(suite, after) == "VALID"

        # the root rotates in the token too: the old root key is destroyed there, verifiers follow
        old_root = suite.registry.root.kid
        t = hsm.open_token(_cfg(token))
        rotation = await suite.registry.rotate_root(ADMIN)
        assert rotation.root.kid == suite.registry.root.kid != old_root
        assert t.find(old_root) is None and t.find(suite.registry.root.kid) is not None
        assert await suite.verifier.cache.refresh_trust()
        assert await _outcome(suite, before) == "VALID" and await _outcome(suite, after) == "VALID"
        kid_now, root_now = zj.signer.keyring.current_kid, suite.registry.root.kid
    finally:
        await suite.close()

    # a restart (the module initialised anew, as in a new process) signs with the token's keys
    hsm.reset()
    t = hsm.open_token(_cfg(token))
    ring = Keyring.open(var / "issuer" / "CN-ZJ", b"", keys.ES256, vault=TokenVault(t))
    assert ring.current_kid == kid_now and not ring.created and isinstance(ring.current, hsm.TokenKey)
    assert ring.current.public.verify(ring.current.sign(b"m"), b"m")
    root, created = RootKeyToken(var, t).load()
    assert root.kid == root_now and not created
    assert token.pin not in caplog.text  # never logged, whatever was logged at DEBUG


@needs_token
async def test_an_issuer_with_a_wrong_pin_does_not_start(token, tmp_path):
    with pytest.raises(ConfigError) as err:
        await start_suite(tmp_path / "var", key_env={**_key_env(token), "ECERT_PKCS11_PIN": "0000"})
    assert "ECERT_PKCS11_PIN" in err.value.message and "0000" not in err.value.message
