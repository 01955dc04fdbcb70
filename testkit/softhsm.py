"""SoftHSM2 tokens for the PKCS#11 tests and benchmark: each in a folder of its own.

:func:`make_token` writes a ``softhsm2.conf`` whose token directory is inside the folder,
initialises a token there with ``softhsm2-util`` and answers the environment that points the
suite at it (``SOFTHSM2_CONF`` and ``ECERT_PKCS11_*``). SoftHSM2 reads ``SOFTHSM2_CONF`` when
it is initialised, so a process that already loaded it calls :func:`ecert.runtime.hsm.reset`
after setting the variable. :func:`unavailable` says why tokens cannot be made here, or None.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

MODULES = ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so")


def module() -> str | None:
    """SoftHSM2's PKCS#11 library, where Debian's ``softhsm2`` puts it."""
    return next((m for m in MODULES if os.path.isfile(m)), None)


def unavailable() -> str | None:
    """Why no SoftHSM2 token can be made here (None: one can)."""
    try:
        import pkcs11  # noqa: F401
    except ImportError:
        return "python-pkcs11 is not installed"
    if shutil.which("softhsm2-util") is None or module() is None:
        return "SoftHSM2 is not installed (Debian's softhsm2: make test installs it when run as root)"
    return None


@dataclass(frozen=True)
class SoftToken:
    conf: Path
    module: str
    label: str
    pin: str

    def env(self) -> dict[str, str]:
        """What a process of the suite needs to keep its keys in this token."""
        return {"SOFTHSM2_CONF": str(self.conf), "ECERT_PKCS11_MODULE": self.module,
                "ECERT_PKCS11_TOKEN_LABEL": self.label, "ECERT_PKCS11_PIN": self.pin}


def make_token(folder: Path, label: str = "ecert-test") -> SoftToken:
    """A fresh token labelled ``label`` under ``folder`` (a random user PIN)."""
    tokens = folder / "tokens"
    tokens.mkdir(parents=True, exist_ok=True)
    conf = folder / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    pin = secrets.token_hex(6)
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label, "--so-pin", secrets.token_hex(6),
                    "--pin", pin], env=dict(os.environ, SOFTHSM2_CONF=str(conf)), check=True, capture_output=True,
                   timeout=60)
    return SoftToken(conf, module() or "", label, pin)
