"""A Docker engine for ``make deploy-test`` (tests/test_deploy_containers.py), and what it made.

:func:`engine` finds the Docker client and daemon, starts ``dockerd`` when none answers (and
stops it afterwards: only the one it started), and says why it cannot when it cannot (not root,
``docker.io`` not installed, the daemon does not start), for the test to skip with that reason.
:class:`Made` keeps every container, volume, image and folder a run makes, labelled with the
run's own name, and removes them all at the end, checking that none is left.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

START_TIMEOUT = 60.0
LABEL = "ecert.deploy-test"


class Unavailable(Exception):
    """No engine can be had here; the message says why."""


@dataclass
class Docker:
    """The client, run with a deadline on every call (legacy builder: this client may have no buildx)."""

    client: str

    def run(self, *args: str, timeout: float = 120.0, check: bool = True, input: bytes | None = None,
            stdin=None) -> subprocess.CompletedProcess:
        env = dict(os.environ, DOCKER_BUILDKIT="0")
        proc = subprocess.run([self.client, *args], input=input, stdin=stdin, capture_output=True, env=env,
                              timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"docker {' '.join(args[:3])} … exited {proc.returncode}:\n"
                                 f"{proc.stderr.decode(errors='replace')[-4000:]}")
        return proc

    def out(self, *args: str, **kw) -> str:
        return self.run(*args, **kw).stdout.decode().strip()

    def answers(self) -> bool:
        try:
            return self.run("info", "--format", "{{.ServerVersion}}", timeout=20, check=False).returncode == 0
        except subprocess.TimeoutExpired:
            return False


def _client(dockerd: str) -> str | None:
    """The client beside the daemon (the same release) if there is one, else the first on PATH."""
    beside = Path(dockerd).with_name("docker")
    if beside.is_file():
        return str(beside)
    for folder in ("/usr/bin", "/bin"):
        if Path(folder, "docker").is_file():
            return str(Path(folder, "docker"))
    return shutil.which("docker")


@contextmanager
def engine(log: Path) -> Iterator[Docker]:
    """A Docker engine that answers; started here (its output in ``log``) and stopped after if
    none was running. Unavailable (with the reason) when there can be none."""
    dockerd = shutil.which("dockerd") or next(
        (p for p in ("/usr/sbin/dockerd", "/usr/bin/dockerd") if Path(p).is_file()), None)
    client = _client(dockerd) if dockerd else shutil.which("docker")
    if client is None:
        raise Unavailable("no Docker client (Debian's docker.io; `make deploy-test` installs it as root)")
    docker = Docker(client)
    if docker.answers():
        yield docker
        return
    if dockerd is None:
        raise Unavailable("no Docker engine answers and dockerd is not installed "
                          "(Debian's docker.io; `make deploy-test` installs it as root)")
    if os.geteuid() != 0:
        raise Unavailable("no Docker engine answers, and starting dockerd needs root")
    with open(log, "ab") as out:
        proc = subprocess.Popen([dockerd], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not docker.answers():
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace").splitlines()[-15:]
                raise Unavailable("dockerd did not start:\n" + "\n".join(tail))
            time.sleep(0.5)
        yield docker
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@dataclass
class Made:
    """What one run made, removed by :meth:`remove` (containers, volumes, images, folders)."""

    docker: Docker
    run: str
    images: list[str] = field(default_factory=list)
    folders: list[Path] = field(default_factory=list)
    images_before: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.images_before = self._all_images()

    @property
    def label(self) -> str:
        return f"{LABEL}={self.run}"

    def _all_images(self) -> set[str]:
        return set(self.docker.out("images", "-a", "-q", "--no-trunc").split())

    def containers(self) -> list[str]:
        return self.docker.out("ps", "-a", "-q", "--filter", f"label={self.label}").split()

    def volumes(self) -> list[str]:
        return self.docker.out("volume", "ls", "-q", "--filter", f"label={self.label}").split()

    def left(self) -> list[str]:
        """Whatever of this run is still there (empty after :meth:`remove`)."""
        tags = set(self.docker.out("images", "--format", "{{.Repository}}:{{.Tag}}").split())
        return ([f"container {c}" for c in self.containers()] + [f"volume {v}" for v in self.volumes()]
                + [f"image {i}" for i in self.images if i in tags]
                + [f"image {i[:19]}" for i in self._all_images() - self.images_before]
                + [f"folder {f}" for f in self.folders if f.exists()])

    def remove(self) -> list[str]:
        """Remove everything; returns what could not be removed."""
        if ids := self.containers():
            self.docker.run("rm", "-f", "-v", *ids, check=False, timeout=120)
        if ids := self.volumes():
            self.docker.run("volume", "rm", "-f", *ids, check=False)
        for image in self.images:
            self.docker.run("rmi", "-f", image, check=False)
        # the build's intermediate images (its first stage), which carry no tag
        if new := sorted(self._all_images() - self.images_before):
            self.docker.run("rmi", "-f", *new, check=False)
        for folder in self.folders:
            shutil.rmtree(folder, ignore_errors=True)
        return self.left()
