"""The registry's root key rotates: the new root is announced in a list signed by the old one
(the root chain), every list after is signed by the new root alone, the key files switch with no
moment without a usable root, and a restart (or a crash in the middle) keeps the new root.

Domain level over a real SQLite store and the real key files in a temporary folder, a fixed
clock; then the registry's gRPC edge in a suite of its own (a rotation would leave the shared
suite's verifier on a root it has left)."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import os
import stat

import pytest
import pytest_asyncio

from ecert.clock import FixedClock
from ecert.errors import ConfigError, DuplicateKey, PermissionDenied
from ecert.format import keys, trustlist
from ecert.rpc import client as rpc_client
from ecert.rpc import server as rpc_server
from ecert.rules.access import Principal, service_principal
from ecert.rules.trust import TrustList, TrustListError
from ecert.store import default_uri, open_store
from ecertpb.v1 import common_pb2, registry_pb2, registry_pb2_grpc
from services.registry.domain import Registry
from services.registry.rootkeys import RootKeyFiles, root_key_paths
from services.registry.servicer import open_registry
from services.verifier import servicer as verifier_servicer
from testkit.samples import driving_licence
from tests.harness import start_suite

pytestmark = pytest.mark.asyncio(loop_scope="session")

T0 = 1_800_000_000
TTL = 3600
PASS = b"root passphrase"
ADMIN = Principal("admin")


class Crash(Exception):
    """The process stops here (a test's stand-in for kill -9)."""


class CrashingFiles(RootKeyFiles):
    """The key files, with the process stopping just before the switch (the staged key written,
    the announcement recorded, root-key.pem still the old key)."""

    def commit(self, key):
        raise Crash()


@pytest_asyncio.fixture
async def store(tmp_path):
    s = await open_store(default_uri(tmp_path))
    await s.create_region("CN-ZJ", "Zhejiang")
    yield s
    await s.close()


async def _registry(store, var_dir, clock=None, files_class=RootKeyFiles) -> Registry:
    """A registry as :func:`services.registry.servicer.build` starts one (:func:`open_registry`),
    its first list published."""
    r = await open_registry(store, files_class(var_dir, PASS), ttl=TTL, now=clock or FixedClock(T0))
    await r.publish()
    return r


def _signed_by(signed: bytes, root: keys.PublicKey) -> TrustList:
    return TrustList.from_signed(signed, root)


def _same(a: keys.PublicKey | None, b: keys.PublicKey) -> bool:
    return a is not None and (a.alg, a.spki) == (b.alg, b.spki)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


async def _stored_lists(store) -> dict[int, bytes]:
    return {d["version"]: base64.b64decode(d["signed"]) for d in await store.backend.find("trust_lists", {})}


async def test_rotation_announces_the_new_root_in_a_list_signed_by_the_old(store, tmp_path):
    clock = FixedClock(T0)
    r = await _registry(store, tmp_path, clock)
    files: RootKeyFiles = r.keeper  # type: ignore[assignment]
    old = r.root.public
    before = (await r.current()).version
    clock.advance(7)

    rot = await r.rotate_root(ADMIN)

    assert rot.previous_kid == old.kid.hex() and rot.root.kid != old.kid and rot.root.alg == old.alg
    assert rot.trust_list_version == before + 2  # before + 1 is the announcement
    chain = await r.root_chain()
    assert len(chain) == 1
    announcement = _signed_by(chain[0], old)  # signed by the old root ...
    assert announcement.version == before + 1 and _same(announcement.next_root, rot.root)  # ... naming the new one
    with pytest.raises(TrustListError):
        _signed_by(chain[0], rot.root)
    [doc] = await store.root_chain()
    assert (doc["version"], doc["old_kid"], doc["new_kid"], doc["at"]) == (before + 1, old.kid.hex(),
                                                                           rot.root.kid.hex(), T0 + 7)
    cur = await r.current()
    assert cur.version == rot.trust_list_version and cur.root_chain == chain
    tl = _signed_by(cur.signed, rot.root)  # the new root signs the lists from now on
    assert tl.next_root is None and "next_root" not in cur.json
    with pytest.raises(TrustListError):
        _signed_by(cur.signed, old)
    root, followed = trustlist.follow_roots(old, chain)
    assert _same(root, rot.root) and [f.version for f in followed] == [before + 1]

    # the files: the new key in root-key.pem (0600), its public half in root-public.pem, nothing staged
    assert keys.SigningKey.from_encrypted_pem(files.key_path.read_bytes(), PASS).kid == rot.root.kid
    assert _mode(files.key_path) == 0o600
    assert _same(keys.public_from_pem(files.public_path.read_bytes()), rot.root)
    assert not files.next_path.exists()
    assert not any(p.name.endswith(".tmp") for p in files.key_path.parent.iterdir())

    clock.advance(TTL // 2)  # re-signed once half its validity has passed: by the new root
    again = await r.current()
    assert again.version == cur.version + 1 and again.root_chain == chain
    _signed_by(again.signed, rot.root)
    lists = await _stored_lists(store)
    for version, signed in lists.items():  # the old root signed nothing after its announcement
        _signed_by(signed, old if version <= before + 1 else rot.root)


async def test_two_rotations_chain(store, tmp_path):
    r = await _registry(store, tmp_path)
    first = r.root.public
    second = (await r.rotate_root(ADMIN)).root
    third = (await r.rotate_root(ADMIN)).root
    chain = await r.root_chain()
    assert len(chain) == 2 and (await r.current()).root_chain == chain
    assert _same(_signed_by(chain[0], first).next_root, second)
    assert _same(_signed_by(chain[1], second).next_root, third)
    assert _same(trustlist.follow_roots(first, chain)[0], third)  # pinned to the first root
    assert _same(trustlist.follow_roots(second, chain)[0], third)  # pinned to the second
    assert trustlist.follow_roots(third, chain)[1] == []
    assert _same(trustlist.follow_roots(first, chain[1:])[0], first)  # a link missing: nothing followed
    _signed_by((await r.current()).signed, third)
    assert [(d["old_kid"], d["new_kid"]) for d in await store.root_chain()] == [
        (first.kid.hex(), second.kid.hex()), (second.kid.hex(), third.kid.hex())]


async def test_only_an_admin_rotates_the_root(store, tmp_path):
    r = await _registry(store, tmp_path)
    files: RootKeyFiles = r.keeper  # type: ignore[assignment]
    root, version, key_file = r.root, (await r.current()).version, files.key_path.read_bytes()
    for p in (Principal("agency", "CN-ZJ"), service_principal(), service_principal("CN-ZJ"), Principal("hotel"),
              Principal("")):
        with pytest.raises(PermissionDenied):
            await r.rotate_root(p)
    assert r.root is root and (await r.current()).version == version
    assert await r.root_chain() == () and await store.root_chain() == []
    assert files.key_path.read_bytes() == key_file and not files.next_path.exists()


async def test_a_conditional_fetch_of_the_version_held_is_not_modified(store, tmp_path):
    r = await _registry(store, tmp_path)
    cur = await r.current()
    assert await r.trust_list(cur.version) is None
    assert await r.trust_list(0) is cur and await r.trust_list(cur.version - 1) is cur
    assert await r.trust_list(cur.version + 5) is cur  # not the current one: the list
    rot = await r.rotate_root(ADMIN)
    after = await r.trust_list(cur.version)  # a holder of the old root's last list gets the new one and the chain
    assert after is not None and after.version == rot.trust_list_version and len(after.root_chain) == 1
    assert await r.trust_list(rot.trust_list_version) is None


async def test_a_restarted_registry_signs_with_the_new_root_and_serves_the_chain(store, tmp_path):
    r = await _registry(store, tmp_path)
    old = r.root.public
    rot = await r.rotate_root(ADMIN)
    chain = await r.root_chain()

    again = await _registry(store, tmp_path, FixedClock(T0 + 60))  # a new process: the same store and files
    assert again.root.kid == rot.root.kid
    cur = await again.current()
    assert cur.version > rot.trust_list_version and cur.root_chain == chain
    _signed_by(cur.signed, rot.root)
    assert _same(trustlist.follow_roots(old, cur.root_chain)[0], rot.root)


async def test_rotations_and_publishes_at_once_never_sign_with_a_root_left_behind(store, tmp_path):
    r = await _registry(store, tmp_path)
    first = r.root.public
    results = await asyncio.gather(r.publish(), r.rotate_root(ADMIN), r.publish(), r.publish(),
                                   r.rotate_root(ADMIN), r.publish())
    rotations = [x for x in results if not hasattr(x, "signed")]
    docs = await store.root_chain()
    assert len(docs) == 2 and {d["new_kid"] for d in docs} == {x.root.kid.hex() for x in rotations}
    announced = {d["version"]: d for d in docs}
    by_kid = {first.kid.hex(): first, **{x.root.kid.hex(): x.root for x in rotations}}
    kid = first.kid.hex()
    for version, signed in sorted((await _stored_lists(store)).items()):
        _signed_by(signed, by_kid[kid])  # every list by the root of its time, never one left behind
        if version in announced:
            assert announced[version]["old_kid"] == kid
            kid = announced[version]["new_kid"]
    assert kid == r.root.kid.hex()


async def test_a_key_staged_but_never_announced_is_discarded_at_start(store, tmp_path):
    r = await _registry(store, tmp_path)
    files: RootKeyFiles = r.keeper  # type: ignore[assignment]
    files.stage(keys.SigningKey.generate())  # the process stopped before the announcement was recorded
    assert _mode(files.next_path) == 0o600
    again = await _registry(store, tmp_path)
    assert again.root.kid == r.root.kid and not files.next_path.exists()
    assert await again.root_chain() == ()


async def test_a_rotation_interrupted_after_its_announcement_is_completed_at_start(store, tmp_path):
    with pytest.raises(Crash):
        r = await _registry(store, tmp_path, files_class=CrashingFiles)
        old = r.root.public
        await r.rotate_root(ADMIN)
    files = RootKeyFiles(tmp_path, PASS)
    [doc] = await store.root_chain()
    assert keys.SigningKey.from_encrypted_pem(files.key_path.read_bytes(), PASS).kid == old.kid  # not switched
    assert files.staged().kid.hex() == doc["new_kid"]

    again = await _registry(store, tmp_path)
    assert again.root.kid.hex() == doc["new_kid"]
    assert keys.SigningKey.from_encrypted_pem(files.key_path.read_bytes(), PASS).kid == again.root.kid
    assert _same(keys.public_from_pem(files.public_path.read_bytes()), again.root.public)
    assert not files.next_path.exists()
    cur = await again.current()
    _signed_by(cur.signed, again.root.public)
    assert _same(trustlist.follow_roots(old, cur.root_chain)[0], again.root.public)


async def test_a_registry_holding_a_root_the_chain_left_refuses_to_start(store, tmp_path):
    with pytest.raises(Crash):
        r = await _registry(store, tmp_path, files_class=CrashingFiles)
        await r.rotate_root(ADMIN)
    files = RootKeyFiles(tmp_path, PASS)
    files.next_path.unlink()  # the staged key lost: only the old root is left on disk
    with pytest.raises(ConfigError) as err:
        await _registry(store, tmp_path)
    assert "never signs with a root it has left" in err.value.message


async def test_root_public_pem_follows_the_key_after_a_crash_before_it_was_written(store, tmp_path):
    r = await _registry(store, tmp_path)
    files: RootKeyFiles = r.keeper  # type: ignore[assignment]
    old_public = files.public_path.read_bytes()
    await r.rotate_root(ADMIN)
    files.public_path.write_bytes(old_public)  # as if the process stopped between the two files
    again = await _registry(store, tmp_path)
    assert _same(keys.public_from_pem(files.public_path.read_bytes()), again.root.public)


class FailingFiles(RootKeyFiles):
    """The key files, the switch failing (a full disk) while the process runs on, until ``fail`` is
    False."""

    fail = True

    def commit(self, key):
        if self.fail:
            raise OSError("No space left on device")
        super().commit(key)


async def test_an_announcement_stored_but_its_list_not_makes_the_next_publish_switch(store, tmp_path, monkeypatch):
    r = await _registry(store, tmp_path)
    old = r.root.public
    save = store.save_trust_list

    async def lost(*args):  # the announcement recorded in the chain, its list not stored
        raise OSError("database is locked")
    monkeypatch.setattr(store, "save_trust_list", lost)
    with pytest.raises(OSError):
        await r.rotate_root(ADMIN)
    monkeypatch.setattr(store, "save_trust_list", save)
    [doc] = await store.root_chain()

    cur = await r.publish()  # never the old root again: the rotation is completed from the staged key
    assert r.root.kid.hex() == doc["new_kid"] and len(cur.root_chain) == 1
    _signed_by(cur.signed, r.root.public)
    assert _same(trustlist.follow_roots(old, cur.root_chain)[0], r.root.public)
    files = RootKeyFiles(tmp_path, PASS)
    assert keys.SigningKey.from_encrypted_pem(files.key_path.read_bytes(), PASS).kid == r.root.kid
    assert not files.next_path.exists()


async def test_an_announcement_never_stored_leaves_the_old_root(store, tmp_path, monkeypatch):
    r = await _registry(store, tmp_path)
    old = r.root

    async def down(*args):
        raise OSError("database is locked")
    monkeypatch.setattr(store, "add_root_announcement", down)
    with pytest.raises(OSError):
        await r.rotate_root(ADMIN)
    monkeypatch.undo()
    cur = await r.publish()
    assert r.root is old and cur.root_chain == () and await store.root_chain() == []
    _signed_by(cur.signed, old.public)
    assert not RootKeyFiles(tmp_path, PASS).next_path.exists()  # the staged key, never announced: gone


async def test_a_switch_that_failed_keeps_the_new_key_through_a_later_failed_rotation(store, tmp_path, monkeypatch):
    r = await _registry(store, tmp_path, files_class=FailingFiles)
    with pytest.raises(OSError):
        await r.rotate_root(ADMIN)  # announced, the new root signing; root-key.pem still the old key
    new = r.root
    _signed_by((await r.current()).signed, new.public)

    async def down(*args):
        raise OSError("database is locked")
    r.keeper.fail = False  # the disk has room again; the store fails the next rotation's announcement
    monkeypatch.setattr(store, "add_root_announcement", down)
    with pytest.raises(OSError):
        await r.rotate_root(ADMIN)
    monkeypatch.undo()

    again = await _registry(store, tmp_path)  # a restart: the key the chain names is on disk
    assert again.root.kid == new.kid
    _signed_by((await again.current()).signed, new.public)


async def test_a_lost_root_key_file_is_refused_and_root_public_pem_kept(store, tmp_path):
    r = await _registry(store, tmp_path)
    await r.rotate_root(ADMIN)
    files = RootKeyFiles(tmp_path, PASS)
    public = files.public_path.read_bytes()
    files.key_path.unlink()
    with pytest.raises(ConfigError):
        await _registry(store, tmp_path)
    assert files.public_path.read_bytes() == public  # never a key the chain does not name, for new verifiers


async def test_the_store_keeps_the_chain_oldest_first(store):
    await store.add_root_announcement(12, "Yg==", "bb", "cc", T0 + 1)
    await store.add_root_announcement(9, "YQ==", "aa", "bb", T0)
    with pytest.raises(DuplicateKey):
        await store.add_root_announcement(9, "YQ==", "aa", "bb", T0)
    assert [(d["version"], d["old_kid"], d["new_kid"]) for d in await store.root_chain()] == [
        (9, "aa", "bb"), (12, "bb", "cc")]


# -- over gRPC, in a suite of its own -------------------------------------------------------------------------

async def test_root_rotation_over_grpc(tmp_path_factory):
    suite = await start_suite(tmp_path_factory.mktemp("root-rotation"))
    gw = suite.channel(suite.registry_port, "registry")
    as_verifier = suite.channel(suite.registry_port, "registry", "verifier")
    stub, verifier_stub = registry_pb2_grpc.RegistryServiceStub(gw), registry_pb2_grpc.RegistryServiceStub(as_verifier)
    police = Principal("traffic_police", "CN-JS")
    try:
        pub_path = root_key_paths(suite.var_dir)[1]
        old = keys.public_from_pem(pub_path.read_bytes())
        issued = await suite.issuers["CN-ZJ"].issue(Principal("agency", "CN-ZJ"), "cn.driving_licence", 0,
                                                   json.dumps(driving_licence()), 0, "")
        assert (await suite.verifier.verify(police, issued["qr_text"])).res.outcome == "VALID"
        held = await stub.GetTrustList(registry_pb2.GetTrustListRequest())
        assert not held.not_modified and list(held.root_chain) == []
        same = await stub.GetTrustList(registry_pb2.GetTrustListRequest(known_version=held.version))
        assert same.not_modified and not same.signed and not same.json and same.version == 0

        for principal in (common_pb2.Principal(role="agency", region="CN-ZJ"), common_pb2.Principal(role="hotel")):
            with pytest.raises(PermissionDenied):
                await rpc_client.call(stub.RotateRootKey(registry_pb2.RotateRootKeyRequest(principal=principal)))
        with pytest.raises(PermissionDenied):  # only the gateway calls it, whatever principal it names
            await rpc_client.call(verifier_stub.RotateRootKey(registry_pb2.RotateRootKeyRequest(
                principal=common_pb2.Principal(role="admin"))))

        rk = await rpc_client.call(stub.RotateRootKey(registry_pb2.RotateRootKeyRequest(
            principal=common_pb2.Principal(role="admin"))))
        new = keys.PublicKey(keys.alg_id(rk.alg), rk.spki)
        assert rk.kid == new.kid.hex() and rk.previous_kid == old.kid.hex() and rk.alg == "ES256"
        assert _same(keys.public_from_pem(pub_path.read_bytes()), new)  # what an operator gives new verifiers

        after = await stub.GetTrustList(registry_pb2.GetTrustListRequest(known_version=held.version))
        assert not after.not_modified and after.version == rk.trust_list_version
        assert len(after.root_chain) == 1
        assert _same(trustlist.follow_roots(old, list(after.root_chain))[0], new)
        _signed_by(after.signed, new)
        assert (await verifier_stub.GetTrustList(registry_pb2.GetTrustListRequest(
            known_version=rk.trust_list_version))).not_modified

        # the running verifier, pinned to the old root, follows on its next refresh and keeps verifying
        assert await suite.verifier.cache.refresh_trust()
        assert suite.verifier.cache.root.kid == new.kid
        verdict = await suite.verifier.verify(police, issued["qr_text"])
        assert verdict.res.outcome == "VALID" and verdict.version == rk.trust_list_version
        # and so does one started afresh (nothing on disk) with the old root pinned
        cfg = dataclasses.replace(suite.verifier_config, listen="127.0.0.1:0",
                                  var_dir=tmp_path_factory.mktemp("fresh-verifier"),
                                  root_public_key_pem=keys.public_pem(old))
        fresh, server, _ = await verifier_servicer.build(cfg)
        try:
            await fresh.cache.refresh_trust()
            assert fresh.cache.root.kid == new.kid
            assert (await fresh.verify(police, issued["qr_text"])).res.outcome == "VALID"
        finally:
            await fresh.cache.close()
            await rpc_server.stop(server, 0)
    finally:
        await gw.close()
        await as_verifier.close()
        await suite.close()
