"""Files that hold keys, secrets or holders' personal data: 0600, in folders 0700, written whole
or not at all. Plain standard library, usable from every layer."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def private_dirs(folder: Path) -> None:
    """Make ``folder`` and each missing parent 0700; folders that exist already are left as they are
    (they may be the operator's, such as the working directory)."""
    for d in reversed([d for d in (folder, *folder.parents) if not d.exists()]):
        d.mkdir(mode=0o700, exist_ok=True)


def private_dir(folder: Path) -> None:
    """:func:`private_dirs`, and ``folder`` itself tightened to 0700 if it is looser: for the folders
    the suite owns (``var/`` and its parts)."""
    private_dirs(folder)
    if stat.S_IMODE(folder.stat().st_mode) & 0o077:
        folder.chmod(0o700)


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` as 0600, whole or not at all (a temporary file, synced, then
    renamed over ``path``); missing folders are made 0700."""
    private_dirs(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o600)  # a left-over temporary file keeps its mode through O_CREAT
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
