"""The region's signing keys on disk: every key it has signed with, and which one signs now.

``<folder>/keys/<kid hex>.pem`` holds each key as encrypted PKCS#8 (0600, the configured
passphrase), ``<folder>/keys/current`` the kid (hex) of the one signing now, replaced whole
(:func:`ecert.files.write_private`) so a crash leaves the old pointer or the new, never half of
one. A folder from before keys rotated holds one key, ``<folder>/signing-key.pem``: it is adopted
as the first key (moved into ``keys/``). ``keys/rotations.json`` remembers the rotations asked for
with a request id, so the same id again answers the first rotation.

Several issuer processes of one region may share the folder: changes are made under an exclusive
lock on ``keys/.lock``, and :meth:`Keyring.reload` picks up a switch another process made.
Private keys never leave this process; logs name kids only.

Where the private keys live is the keyring's :class:`KeyVault`: encrypted files (:class:`FileVault`,
``keys/<kid>.pem``) or a PKCS#11 token (:class:`TokenVault`: the key generated and kept in the
token, ``keys/<kid>.token`` a marker naming it, with no secret in it). The pointer, the lock, the
rotations and the times keys were made (the entries' mtimes) are the same files either way, so
rotation works alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Protocol

from ecert.errors import ConfigError
from ecert.files import private_dirs, write_private
from ecert.format import keys
from ecert.runtime import hsm

log = logging.getLogger("ecert.issuer")

KEYS_DIR = "keys"
CURRENT = "current"
LEGACY_FILE = "signing-key.pem"
"""The one key of a folder written before keys rotated."""
ROTATIONS = "rotations.json"
ROTATIONS_KEPT = 1000
"""Rotations remembered by request id (the oldest forgotten first)."""
LOCK_POLL = 0.05
"""Seconds between attempts at the folder's lock while another process holds it."""
_KID = re.compile(r"[0-9a-f]{16}\Z")
_ROTATION_FIELDS = {"kid", "retired_kid", "nbf", "exp", "status", "at"}
"""What a record of ``rotations.json`` holds (a rotation's :class:`~.signing.KeyInfo` and when)."""


class KeyVault(Protocol):
    """Where a keyring's private keys are kept: each key has an entry ``keys/<kid><suffix>``."""

    suffix: str

    def generate(self, alg: int) -> keys.Signer:
        """A new key of ``alg`` (not yet written)."""

    def save(self, path: Path, key: keys.Signer) -> None:
        """Write ``key``'s entry at ``path`` (0600)."""

    def load(self, path: Path, kid: str) -> keys.Signer:
        """The key of the entry ``path``; ConfigError naming what is wrong otherwise."""


class FileVault:
    """Each key encrypted PKCS#8 in its entry, with the region's passphrase."""

    suffix = ".pem"

    def __init__(self, passphrase: bytes):
        self._passphrase = passphrase

    def generate(self, alg: int) -> keys.Signer:
        return keys.SigningKey.generate(alg)

    def save(self, path: Path, key: keys.Signer) -> None:
        assert isinstance(key, keys.SigningKey)
        write_private(path, key.to_encrypted_pem(self._passphrase))

    def load(self, path: Path, kid: str) -> keys.Signer:
        return _decrypt(path, path.read_bytes(), self._passphrase)


class TokenVault:
    """Each key generated in a PKCS#11 token and kept there (never extractable); its entry a
    marker naming the token and the kid (the token's CKA_LABEL and CKA_ID)."""

    suffix = ".token"

    def __init__(self, token: hsm.Token):
        self.token = token

    def generate(self, alg: int) -> keys.Signer:
        return self.token.generate(alg)

    def save(self, path: Path, key: keys.Signer) -> None:
        write_private(path, f"pkcs11 token={self.token.label} kid={key.kid.hex()}\n".encode())

    def load(self, path: Path, kid: str) -> keys.Signer:
        return self.token.key(bytes.fromhex(kid))


class Keyring:
    """The region's keys: on disk under ``keys_dir`` (:meth:`open`), or in memory only (:meth:`of`,
    for a key made elsewhere: nothing is written, rotated keys live as long as the process)."""

    def __init__(self, keys_dir: Path | None, passphrase: bytes, alg: int = keys.ES256,
                 vault: KeyVault | None = None):
        self.dir = keys_dir
        self.vault: KeyVault = vault or FileVault(passphrase)
        self.alg = alg
        self._keys: dict[str, keys.Signer] = {}  # by kid hex, as loaded or made
        self._current: keys.Signer | None = None
        self.current_kid = ""
        self._rotations: dict[str, dict] = {}  # in memory only (no folder)
        self.created = False  # whether :meth:`open` made the first key

    # -- opening -----------------------------------------------------------------------------
    @classmethod
    def open(cls, folder: Path, passphrase: bytes, alg: int = keys.ES256, *, vault: KeyVault | None = None) -> Keyring:
        """The keyring of the region folder ``folder`` (``var/issuer/<region>``): its current key,
        the legacy ``signing-key.pem`` adopted, or a first key made (in ``vault``: files encrypted
        with ``passphrase`` by default)."""
        ring = cls(folder / KEYS_DIR, passphrase, alg, vault)
        private_dirs(ring.dir)
        with ring._locked_sync():
            legacy = folder / LEGACY_FILE
            if ring._pointer() is not None:
                ring._use(ring._load(ring._pointer()))
            elif legacy.exists() and isinstance(ring.vault, FileVault):
                pem = legacy.read_bytes()
                key = _decrypt(legacy, pem, passphrase)  # it decrypts before it moves
                write_private(ring._file(key.kid.hex()), pem)
                made = legacy.stat().st_mtime
                os.utime(ring._file(key.kid.hex()), (made, made))  # when it was made, as :meth:`made_at` says
                ring._point(key)
                legacy.unlink()
                log.info("signing key %s adopted from %s", key.kid.hex(), LEGACY_FILE)
            else:
                ring._point(ring._make())
                ring.created = True
                log.info("signing key %s created", ring.current_kid)
        return ring

    @classmethod
    def of(cls, key: keys.Signer) -> Keyring:
        """A keyring in memory whose current key is ``key``."""
        ring = cls(None, b"", key.alg)
        ring._keys[key.kid.hex()] = key
        ring._use(key)
        return ring

    # -- the keys ----------------------------------------------------------------------------
    @property
    def current(self) -> keys.Signer:
        """The key signing now."""
        return self._current  # type: ignore[return-value]

    def kids(self) -> list[str]:
        """The kids (hex) of every key held."""
        if self.dir is None:
            return sorted(self._keys)
        return sorted(p.stem for p in self.dir.glob("*" + self.vault.suffix) if _KID.match(p.stem))

    def made_at(self, kid: str) -> int | None:
        """When the key ``kid`` was made (its file's time), as a bound on what it may have signed;
        None for a keyring in memory."""
        if self.dir is None:
            return None
        try:
            return int(self._file(kid).stat().st_mtime)
        except OSError:
            return None

    def create(self) -> keys.Signer:
        """A new key of the keyring's algorithm, written (it does not sign until :meth:`switch`)."""
        return self._make()

    def switch(self, key: keys.Signer) -> None:
        """Sign with ``key`` (made by :meth:`create`) from now on, in every process of the region."""
        self._point(key)

    def reload(self) -> bool:
        """Take up the current key another process of the region switched to; True if it changed.
        A pointer that cannot be read is reported and the key in hand kept."""
        if self.dir is None:
            return False
        try:
            kid = self._pointer()
            if kid is None or kid == self.current_kid:
                return False
            self._use(self._load(kid))
        except (ConfigError, OSError) as err:
            log.warning("the signing key named by %s/%s cannot be loaded, keeping %s: %s", KEYS_DIR, CURRENT,
                        self.current_kid, err)
            return False
        log.info("signing with key %s, switched to by another process of the region", self.current_kid)
        return True

    # -- rotations by request id -------------------------------------------------------------
    def rotation(self, request_id: str) -> dict | None:
        """The rotation made for ``request_id``, if one was."""
        return self._read_rotations().get(request_id)

    def record_rotation(self, request_id: str, record: dict) -> None:
        rotations = self._read_rotations()
        rotations[request_id] = record
        kept = dict(sorted(rotations.items(), key=lambda kv: kv[1]["at"])[-ROTATIONS_KEPT:])
        if self.dir is None:
            self._rotations = kept
        else:
            write_private(self.dir / ROTATIONS, json.dumps(kept, sort_keys=True).encode())

    def _read_rotations(self) -> dict[str, dict]:
        if self.dir is None:
            return dict(self._rotations)
        path = self.dir / ROTATIONS
        if not path.exists():
            return {}
        try:
            data = json.loads(path.read_bytes())
            if not isinstance(data, dict):
                raise ValueError("not an object")
        except (ValueError, RecursionError, OSError) as err:
            log.warning("%s/%s cannot be read, starting it again: %s", KEYS_DIR, ROTATIONS, err)
            return {}
        kept = {rid: r for rid, r in data.items()
                if isinstance(r, dict) and _ROTATION_FIELDS <= r.keys() and type(r["at"]) is int}
        if len(kept) < len(data):
            log.warning("%s/%s: %d damaged records ignored", KEYS_DIR, ROTATIONS, len(data) - len(kept))
        return kept

    # -- the lock ----------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        """Hold the folder's lock (no other process of the region changes the keyring meanwhile)."""
        if self.dir is None:
            yield
            return
        fd = os.open(self.dir / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    await asyncio.sleep(LOCK_POLL)
            yield
        finally:
            os.close(fd)  # releases the lock

    @contextlib.contextmanager
    def _locked_sync(self) -> Iterator[None]:
        assert self.dir is not None
        fd = os.open(self.dir / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    # -- files -------------------------------------------------------------------------------
    def _file(self, kid: str) -> Path:
        assert self.dir is not None
        return self.dir / f"{kid}{self.vault.suffix}"

    def _pointer(self) -> str | None:
        path = self.dir / CURRENT  # type: ignore[operator]
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        kid = raw.strip().decode("ascii", "replace")
        if not _KID.match(kid):
            raise ConfigError(f"{path} does not name a key id (16 hex digits): write the kid of the key to sign "
                              f"with into it, or remove it to start with a new key")
        return kid

    def _load(self, kid: str) -> keys.Signer:
        key = self._keys.get(kid)
        if key is None:
            path = self._file(kid)
            if not path.exists():
                raise ConfigError(f"signing key {kid} is named current but {path.name} is missing"
                                  + (" (a key kept elsewhere than this keyring's vault: rotate, or remove "
                                     f"{CURRENT} to start with a new key)"
                                     if any(self.dir.glob(f"{kid}.*")) else ""))  # type: ignore[union-attr]
            key = self.vault.load(path, kid)
            if key.kid.hex() != kid:
                raise ConfigError(f"{path.name} holds another key than its name says")
            self._keys[kid] = key
        return key

    def _make(self) -> keys.Signer:
        key = self.vault.generate(self.alg)
        kid = key.kid.hex()
        if self.dir is not None:
            self.vault.save(self._file(kid), key)
        self._keys[kid] = key
        return key

    def _point(self, key: keys.Signer) -> None:
        if self.dir is not None:
            write_private(self.dir / CURRENT, key.kid.hex().encode() + b"\n")
        self._use(key)

    def _use(self, key: keys.Signer) -> None:
        self._current = key
        self.current_kid = key.kid.hex()


def _decrypt(path: Path, pem: bytes, passphrase: bytes) -> keys.SigningKey:
    """The key in the file ``path`` (its bytes ``pem``); ConfigError naming the file otherwise."""
    try:
        return keys.SigningKey.from_encrypted_pem(pem, passphrase)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err} (ECERT_SIGNING_KEY_PASSPHRASE)") from err
