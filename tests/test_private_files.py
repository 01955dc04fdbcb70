"""Finding 6, data at rest: the SQLite store (holders' personal data), its -wal and -shm files and
every secret file are created 0600, and the folders the suite makes 0700, whatever the umask
(here the usual 022, which made them 0644 and 0755 before)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ecert.cli import devsuite
from ecert.clock import FixedClock
from ecert.files import private_dir
from ecert.format import keys
from ecert.store import default_uri, open_store
from services.verifier.domain import TrustCache
from tests.test_verifier_domain import ROOT, T0, FakeUpstream, signed_list


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask():
    old = os.umask(0o022)
    yield
    os.umask(old)


async def test_the_store_and_its_wal_and_shm_files_are_0600(tmp_path):
    var = tmp_path / "var" / "state"  # neither folder exists yet
    store = await open_store(default_uri(var))
    try:
        assert await store.put_type("cn.private_test", 1, "Private", '{"type": "object"}', {"hotel": []})
        db = var / "ecert.db"
        files = [db, Path(f"{db}-wal"), Path(f"{db}-shm")]
        assert all(f.is_file() for f in files)
        assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
        assert mode(var) == mode(var.parent) == 0o700
    finally:
        await store.close()


async def test_a_store_made_world_readable_before_is_tightened(tmp_path):
    db = tmp_path / "ecert.db"
    store = await open_store(default_uri(tmp_path))
    await store.put_type("cn.private_test", 1, "Private", '{"type": "object"}', {})
    await store.close()
    for f in tmp_path.iterdir():
        f.chmod(0o644)
    store = await open_store(default_uri(tmp_path))
    try:
        assert await store.put_type("cn.private_test", 2, "Private", '{"type": "object"}', {})
        assert mode(db) == 0o600 and mode(Path(f"{db}-wal")) == mode(Path(f"{db}-shm")) == 0o600
    finally:
        await store.close()


def test_signing_keys_are_0600_in_new_folders_0700(tmp_path):
    path = tmp_path / "var" / "issuer" / "CN-ZJ" / "signing-key.pem"
    keys.load_or_create(path, b"passphrase")
    assert mode(path) == 0o600
    assert mode(path.parent) == mode(path.parent.parent) == mode(tmp_path / "var") == 0o700


async def test_the_verifier_s_trust_list_cache_is_0600(tmp_path):
    up = FakeUpstream(signed_list(1))
    cache = TrustCache(ROOT.public, up, tmp_path / "verifier", now=FixedClock(T0))
    list_file, state_file = cache.lists.list_file, cache.lists.state_file
    assert await cache.refresh_trust()
    assert list_file.read_bytes() == up.signed
    assert mode(list_file) == mode(state_file) == 0o600 and mode(tmp_path / "verifier") == 0o700
    stale = list_file.with_suffix(".tmp")  # left over by a crash, with a loose mode
    stale.write_bytes(b"half a list")
    stale.chmod(0o644)
    up.signed = signed_list(2)
    assert await cache.refresh_trust()
    assert list_file.read_bytes() == up.signed and mode(list_file) == mode(state_file) == 0o600


def test_the_launcher_s_folders_and_secrets_are_private(tmp_path):
    var = tmp_path / "var"
    values, path = devsuite.dev_secrets(var, {})
    assert path == var / devsuite.SECRETS_FILE and set(values) == set(devsuite.SECRET_VARS)
    assert mode(path) == 0o600 and mode(var) == 0o700
    var.chmod(0o755)  # a var/ made by an older version
    private_dir(var)
    assert mode(var) == 0o700
    private_dir(var / "log" / "deeper")
    assert mode(var / "log") == mode(var / "log" / "deeper") == 0o700
