"""The store's one-region-per-public-key rule (key squatting), over every backend: concurrent
claims and keys stored before owners were recorded. The basic case is in test_store_contract."""

from __future__ import annotations

import asyncio

import pytest

from ecert.errors import Conflict
from ecert.store import Store
from tests.test_store_contract import store  # noqa: F401 (the fixture over every backend)


async def test_a_public_key_claimed_by_two_regions_at_once_goes_to_one(store: Store):  # noqa: F811 (the imported fixture)
    results = await asyncio.gather(*(store.add_key(region, "e5f6", -8, "bmV3a2V5", 1, 2)
                                     for region in ("SH", "ZJ", "JS", "AH")), return_exceptions=True)
    won = [r for r in results if not isinstance(r, BaseException)]
    assert len(won) == 1 and won[0][1]
    assert all(isinstance(r, Conflict) and r.code == "KEY_IN_USE" for r in results if r not in won)
    assert [k["region"] for k in await store.list_keys()] == [won[0][0]["region"]]


async def test_a_key_stored_before_owners_were_recorded_is_not_squatted(store: Store):  # noqa: F811 (the imported fixture)
    legacy = {"_id": "ZJ:0102", "region": "ZJ", "kid": "0102", "alg": -7, "spki": "b2xk", "nbf": 1, "exp": 2,
              "status": "active", "revoked_at": None}
    await store.backend.insert("keys", legacy)  # as an older store holds it: no key_owners record
    with pytest.raises(Conflict) as err:
        await store.add_key("SH", "0102", -7, "b2xk", 1, 2)
    assert err.value.code == "KEY_IN_USE"
    assert (await store.add_key("ZJ", "0102", -7, "b2xk", 1, 2))[1] is False
