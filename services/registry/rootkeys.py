"""The root key's files under ``var/registry/``: the registry's side of
:class:`~services.registry.domain.RootKeeper`.

- ``root-key.pem``: the root key, encrypted PKCS#8, 0600 (created on first start);
- ``root-public.pem``: its public half, which verifiers pin (``ECERT_ROOT_PUBLIC_KEY``; 0600 like
  everything in ``var/``: an operator copies it out to the verifiers);
- ``root-key.next.pem``: while a root rotation is under way, the new key (encrypted, 0600), kept
  before its announcement is published, so that a key the trust list names always exists on disk.

A rotation stages the new key, records the announcement in the store, then commits: the staged
file is renamed over ``root-key.pem`` (one atomic step: the old private key is gone and the new
one in its place, never neither) and ``root-public.pem`` is rewritten. A crash anywhere in between
is settled at the next start (:meth:`~services.registry.domain.Registry.open_root`): an
announcement recorded completes the switch from the staged file, a staged key never announced is
deleted.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ecert.errors import ConfigError
from ecert.files import write_private
from ecert.format import keys

log = logging.getLogger("ecert.registry")

def root_key_paths(var_dir: Path) -> tuple[Path, Path]:
    """The root key (encrypted PEM) and its public half, which verifiers pin."""
    return var_dir / "registry" / "root-key.pem", var_dir / "registry" / "root-public.pem"


def _sync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (where the platform allows opening a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class RootKeyFiles:
    """The root key kept in ``var_dir/registry/`` (module docs), encrypted with ``passphrase``."""

    def __init__(self, var_dir: Path, passphrase: bytes):
        self.key_path, self.public_path = root_key_paths(var_dir)
        self.next_path = self.key_path.with_name("root-key.next.pem")
        self._passphrase = passphrase

    def load(self) -> tuple[keys.SigningKey, bool]:
        """The root key (created on first start) and whether it was created. ``root-public.pem`` is
        not touched: the key held may be one the root chain has left (a rotation to settle first),
        so the caller writes it (:meth:`write_public`) once the root is settled."""
        root, created = keys.load_or_create(self.key_path, self._passphrase)
        if created:
            log.info("root key %s created", root.kid.hex())
        return root, created

    def write_public(self, key: keys.SigningKey) -> None:
        """``root-public.pem`` as ``key``'s public half, unless it is that already."""
        pem = keys.public_pem(key.public)
        try:
            if self.public_path.read_bytes() == pem:
                return
        except OSError:
            pass
        write_private(self.public_path, pem)  # public, but var/ holds 0600 files only
        _sync_dir(self.public_path.parent)
        log.info("root key %s: verifiers pin %s", key.kid.hex(), self.public_path)

    # -- RootKeeper -----------------------------------------------------------------------
    def staged(self) -> keys.SigningKey | None:
        """The key a rotation staged and never committed, or None (none, or unreadable: logged)."""
        try:
            pem = self.next_path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            return keys.SigningKey.from_encrypted_pem(pem, self._passphrase)
        except ConfigError as err:
            log.warning("the staged root key %s cannot be read: %s", self.next_path, err.message)
            return None

    def stage(self, key: keys.SigningKey) -> None:
        """Keep ``key`` durably beside the root, not yet as the root."""
        write_private(self.next_path, key.to_encrypted_pem(self._passphrase))
        _sync_dir(self.next_path.parent)

    def commit(self, key: keys.SigningKey) -> None:
        """Make ``key`` the root on disk: the staged file renamed over ``root-key.pem`` (the old
        private key gone in the same step), then ``root-public.pem``."""
        staged = self.staged()
        if staged is not None and staged.kid == key.kid:
            os.replace(self.next_path, self.key_path)
        else:  # staged elsewhere or lost: written whole, in place
            write_private(self.key_path, key.to_encrypted_pem(self._passphrase))
            self.next_path.unlink(missing_ok=True)
        _sync_dir(self.key_path.parent)
        self.write_public(key)

    def discard(self) -> None:
        """Delete a staged key that was never announced."""
        self.next_path.unlink(missing_ok=True)
        _sync_dir(self.next_path.parent)
