"""The launcher's children (``make run``, :mod:`ecert.cli.devsuite`): each started with its output
appended to its own log, and started again after a back-off when it dies.

Everything the suite keeps is private to its user: the folders it makes are 0700 and the
children run with umask 077, so each file they create is 0600 (the store, the keys and the
verifier's cache also set their modes themselves, for production, where no launcher runs).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

RESTART_FIRST = 1.0
"""Seconds before a child that died is started again; doubled at each death in a row ..."""
RESTART_MAX = 30.0
"""... up to this."""
RESTART_RESET_AFTER = 60.0
"""A child that ran this long before dying is not in a crash loop: its back-off starts again."""
CHILD_UMASK = 0o077


def popen(name: str, module: str, env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """Start ``python -m module``, its output appended to ``log_path`` (0600) after a line giving
    the time it started: a crash's traceback survives the restart."""
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, f"\n===== {name} started {time.strftime('%Y-%m-%d %H:%M:%S %z')} =====\n".encode())
        return subprocess.Popen([sys.executable, "-m", module], env=env, stdin=subprocess.DEVNULL,
                                stdout=fd, stderr=subprocess.STDOUT, umask=CHILD_UMASK,
                                process_group=0)  # Ctrl-C reaches the launcher only: it stops them in order
    finally:
        os.close(fd)


@dataclass
class Child:
    name: str
    proc: subprocess.Popen
    log_path: Path
    address: str
    module: str = ""
    env: dict[str, str] = field(default_factory=dict, repr=False)
    started: float = 0.0  # time.monotonic() of the last start
    delay: float = 0.0  # the last back-off (0: it never died)
    restart_at: float | None = None  # set while a dead child waits for its back-off
    restarts: int = 0

    @classmethod
    def start(cls, name: str, module: str, env: dict[str, str], log_path: Path, address: str) -> Child:
        return cls(name, popen(name, module, env, log_path), log_path, address, module, env, time.monotonic())

    def restart(self, now: float | None = None) -> None:
        """Start the (dead) child again as it was first started, its log appended to."""
        self.proc = popen(self.name, self.module, self.env, self.log_path)
        self.started, self.restart_at = time.monotonic() if now is None else now, None
        self.restarts += 1

    def supervise(self, now: float) -> str | None:
        """If the child died, when to start it again; once that time has come, start it. Returns
        what to tell the terminal, if anything."""
        if self.restart_at is None:
            if self.proc.poll() is None:
                return None
            ran = now - self.started
            self.delay = RESTART_FIRST if not self.delay or ran >= RESTART_RESET_AFTER else min(
                self.delay * 2, RESTART_MAX)
            self.restart_at = now + self.delay
            return (f"{self.name} exited with code {self.proc.returncode} after {ran:.0f} s; restarting it in "
                    f"{self.delay:.0f} s. Last lines of {self.log_path}:\n{self.tail(10)}")
        if now < self.restart_at:
            return None
        self.restart(now)
        return f"{self.name} restarted (pid {self.proc.pid}, restart {self.restarts})."

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.rstrip().splitlines()[-lines:]) or "(empty log)"

    def log_contains(self, needle: str) -> bool:
        """Whether the log says ``needle`` since this child last started (not in an earlier run's lines)."""
        try:
            return needle in self.log_path.read_text(errors="replace").rpartition("\n===== ")[2]
        except OSError:
            return False
