"""A token key signs and does nothing else: no ECDH derivation (python-pkcs11's default for EC
keys), no decryption, unwrapping or signature with recovery (review of issue 16)."""

from __future__ import annotations

import pytest

from ecert.format import keys
from ecert.runtime import hsm
from testkit import softhsm

pytestmark = pytest.mark.asyncio(loop_scope="session")

WHY = softhsm.unavailable()


@pytest.fixture
def token(tmp_path, monkeypatch):
    soft = softhsm.make_token(tmp_path / "hsm")
    monkeypatch.setenv("SOFTHSM2_CONF", str(soft.conf))
    hsm.reset()
    yield soft
    hsm.reset()


@pytest.mark.skipif(WHY is not None, reason=WHY or "")
@pytest.mark.parametrize("alg", [keys.ES256, keys.EDDSA])
async def test_a_token_key_is_for_signing_only(token, alg):
    from pkcs11 import Attribute as A, ObjectClass

    t = hsm.open_token(hsm.Pkcs11Config(token.module, token.label, token.pin))
    if alg == keys.EDDSA and not t.supports_eddsa:
        pytest.skip("this SoftHSM2 has no CKM_EDDSA")
    key = t.generate(alg)
    with t._session.token.open() as s:
        (priv,) = s.get_objects({A.CLASS: ObjectClass.PRIVATE_KEY, A.ID: key.kid})
        (pub,) = s.get_objects({A.CLASS: ObjectClass.PUBLIC_KEY, A.ID: key.kid})
        assert priv[A.SIGN] is True and pub[A.VERIFY] is True
        for attr in (A.DERIVE, A.DECRYPT, A.UNWRAP, A.SIGN_RECOVER):
            assert priv[attr] is False, attr
        for attr in (A.ENCRYPT, A.WRAP, A.VERIFY_RECOVER):
            assert pub[attr] is False, attr
    assert key.public.verify(key.sign(b"m"), b"m")
