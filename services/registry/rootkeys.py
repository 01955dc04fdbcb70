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

With a PKCS#11 token (``ECERT_PKCS11_*``), :class:`RootKeyToken` keeps the same steps: the root
key is generated in the token (never extractable, labelled by its kid), and ``root-key.token`` /
``root-key.next.token`` name the kid of the root and of the staged key (no secret in them). A
commit renames the staged marker over the root's, then destroys the old root key in the token.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ecert.errors import ConfigError
from ecert.files import write_private
from ecert.format import keys
from ecert.runtime import hsm

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

    def generate(self, alg: int) -> keys.Signer:
        return keys.SigningKey.generate(alg)

    def load(self) -> tuple[keys.SigningKey, bool]:
        """The root key (created on first start) and whether it was created. ``root-public.pem`` is
        not touched: the key held may be one the root chain has left (a rotation to settle first),
        so the caller writes it (:meth:`write_public`) once the root is settled."""
        root, created = keys.load_or_create(self.key_path, self._passphrase)
        if created:
            log.info("root key %s created", root.kid.hex())
        return root, created

    def write_public(self, key: keys.Signer) -> None:
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

    def stage(self, key: keys.Signer) -> None:
        """Keep ``key`` durably beside the root, not yet as the root."""
        assert isinstance(key, keys.SigningKey)
        write_private(self.next_path, key.to_encrypted_pem(self._passphrase))
        _sync_dir(self.next_path.parent)

    def commit(self, key: keys.Signer) -> None:
        """Make ``key`` the root on disk: the staged file renamed over ``root-key.pem`` (the old
        private key gone in the same step), then ``root-public.pem``."""
        staged = self.staged()
        if staged is not None and staged.kid == key.kid:
            os.replace(self.next_path, self.key_path)
        else:  # staged elsewhere or lost: written whole, in place
            assert isinstance(key, keys.SigningKey)
            write_private(self.key_path, key.to_encrypted_pem(self._passphrase))
            self.next_path.unlink(missing_ok=True)
        _sync_dir(self.key_path.parent)
        self.write_public(key)

    def discard(self) -> None:
        """Delete a staged key that was never announced."""
        self.next_path.unlink(missing_ok=True)
        _sync_dir(self.next_path.parent)


class RootKeyToken(RootKeyFiles):
    """The root key in a PKCS#11 token (module docs): the same steps as the files, the private
    key generated and kept in the token, the files naming its kid."""

    def __init__(self, var_dir: Path, token: hsm.Token):
        super().__init__(var_dir, b"")
        self.token = token
        self.key_path = self.key_path.with_name("root-key.token")
        self.next_path = self.key_path.with_name("root-key.next.token")

    def generate(self, alg: int) -> keys.Signer:
        return self.token.generate(alg)

    def _named(self, path: Path) -> bytes:
        raw = path.read_bytes().strip()
        try:
            kid = bytes.fromhex(raw.decode("ascii"))
        except ValueError:
            kid = b""
        if len(kid) != 8:
            raise ConfigError(f"{path} does not name a key id (16 hex digits)")
        return kid

    def _mark(self, path: Path, key: keys.Signer) -> None:
        write_private(path, key.kid.hex().encode() + b"\n")
        _sync_dir(path.parent)

    def load(self) -> tuple[keys.Signer, bool]:
        if self.key_path.exists():
            return self.token.key(self._named(self.key_path)), False
        if (self.key_path.with_name("root-key.pem")).exists():
            raise ConfigError(f"a root key file {self.key_path.with_name('root-key.pem')} exists but the root is "
                              f"configured in token {self.token.label!r}: a new root would not verify against "
                              f"what verifiers pin (unset ECERT_PKCS11_MODULE, or start from a new var/)")
        root = self.token.generate(keys.ES256)
        self._mark(self.key_path, root)
        log.info("root key %s created in token %r", root.kid.hex(), self.token.label)
        return root, True

    def staged(self) -> keys.Signer | None:
        try:
            kid = self._named(self.next_path)
        except FileNotFoundError:
            return None
        except ConfigError as err:
            log.warning("the staged root key cannot be read: %s", err.message)
            return None
        key = self.token.find(kid)
        if key is None:
            log.warning("the staged root key %s is not in token %r", kid.hex(), self.token.label)
        return key

    def stage(self, key: keys.Signer) -> None:
        self._mark(self.next_path, key)

    def commit(self, key: keys.Signer) -> None:
        """The staged marker renamed over the root's (or written), then the old root's key
        destroyed in the token."""
        try:
            old = self._named(self.key_path)
        except (OSError, ConfigError):
            old = None
        staged = self.staged()
        if staged is not None and staged.kid == key.kid:
            os.replace(self.next_path, self.key_path)
        else:
            self._mark(self.key_path, key)
            self.next_path.unlink(missing_ok=True)
        _sync_dir(self.key_path.parent)
        if old is not None and old != key.kid:
            self.token.destroy(old)
            log.info("old root key %s destroyed in token %r", old.hex(), self.token.label)
        self.write_public(key)

    def discard(self) -> None:
        staged = self.staged()
        if staged is not None:
            try:
                current = self._named(self.key_path)
            except (OSError, ConfigError):
                current = None
            if staged.kid != current:
                self.token.destroy(staged.kid)
        super().discard()
