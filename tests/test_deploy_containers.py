"""The suite built as an image and run in containers (``make deploy-test``; marker ``deploy``).

Makes a base image from Debian's own packages (``debootstrap --variant=minbase bookworm`` with
``python3`` and ``python3-venv``, then ``docker import``: no public image registry is reached),
builds ``deploy/Dockerfile`` on it (``BASE`` build argument; pip reaches PyPI, apt Debian), and
starts the registry, the issuers of CN-SH and CN-ZJ, the verifier and the gateway as five
containers with host networking on free loopback ports, every one as the image's non-root user
with a read-only root file system and a tmpfs on /tmp, on SQLite in a volume they share (and
each stateful service's own var volume). Through the gateway container's port it issues and
verifies a credential; then it restarts the CN-ZJ issuer's container and checks nothing was
lost: the credential is still there and verifies, a second issuance with the same request_id
answers the same id, signed with the same key. At the end every container, volume, image and
folder the run made is removed, and the test checks none is left.

``ECERT_DEPLOY_BASE=IMAGE`` skips debootstrap and builds on that image instead (e.g.
``python:3.11-slim`` where a registry of images can be reached). Skipped, saying why, where no
engine can be had (not root, ``docker.io`` missing, dockerd does not start).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from testkit import photos
from testkit.ports import free_ports
from testkit.samples import SAMPLES
from tests.engine import Made, Unavailable, engine

pytestmark = pytest.mark.deploy

ROOT = Path(__file__).resolve().parent.parent
UID = "10001"
READY_TIMEOUT = 90.0
STORE = "sqlite:////var/lib/ecert-store/ecert.db"
PKI = "/run/ecert-pki"
REGISTRY_VAR = "/run/ecert-registry"


def _local_ca_certs() -> str:
    """The CA certificates added on this host (Debian's /usr/local/share/ca-certificates/, or the
    file ECERT_DEPLOY_BUILD_CA names), for pip inside the build behind a TLS-inspecting proxy."""
    named = os.environ.get("ECERT_DEPLOY_BUILD_CA")
    files = [Path(named)] if named else sorted(Path("/usr/local/share/ca-certificates").rglob("*.crt"))
    return "".join(f.read_text() for f in files if f.is_file())


def _http(method: str, url: str, key: str | None = None, body: bytes | dict | None = None,
          content_type: str = "application/json") -> tuple[int, dict | bytes]:
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    req = urllib.request.Request(url, data=data, method=method)
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    if data is not None:
        req.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            status, raw, kind = resp.status, resp.read(), resp.headers.get_content_type()
    except urllib.error.HTTPError as err:
        status, raw, kind = err.code, err.read(), err.headers.get_content_type()
    return status, json.loads(raw) if kind == "application/json" else raw


class Suite:
    """The five containers of one run: names, ports, and how to reach and wait for them."""

    def __init__(self, made: Made, image: str, pki: Path):
        self.made, self.docker, self.image, self.pki = made, made.docker, image, pki
        registry, sh, zj, verifier, gateway = free_ports(5)
        self.ports = {"registry": registry, "issuer-sh": sh, "issuer-zj": zj, "verifier": verifier,
                      "gateway": gateway}
        self.url = f"http://127.0.0.1:{gateway}"
        self.secrets = {name: secrets.token_urlsafe(32) for name in (
            "ECERT_INTERNAL_TOKEN", "ECERT_ROOT_KEY_PASSPHRASE", "ECERT_SIGNING_KEY_PASSPHRASE")}

    def name(self, service: str) -> str:
        return f"ecert-{self.made.run}-{service}"

    def volume(self, what: str) -> str:
        name = self.name(what)
        self.docker.run("volume", "create", "--label", self.made.label, name)
        return name

    def start(self, service: str, module: str, identity: str, env: dict[str, str],
              volumes: list[str]) -> None:
        common = {"ECERT_STORE_URI": STORE, "ECERT_VAR_DIR": "/var/lib/ecert",
                  "ECERT_INTERNAL_TOKEN": self.secrets["ECERT_INTERNAL_TOKEN"],
                  "ECERT_REGISTRY_TARGET": f"127.0.0.1:{self.ports['registry']}",
                  "ECERT_VERIFIER_TARGET": f"127.0.0.1:{self.ports['verifier']}",
                  "ECERT_TLS_CA": f"{PKI}/ca.pem", "ECERT_TLS_CERT": f"{PKI}/{identity}.pem",
                  "ECERT_TLS_KEY": f"{PKI}/{identity}-key.pem"}
        args = ["run", "-d", "--name", self.name(service), "--label", self.made.label, "--network", "host",
                "--read-only", "--tmpfs", "/tmp:rw,nosuid,nodev,size=64m", "--cap-drop", "ALL",
                "--security-opt", "no-new-privileges", "-v", f"{self.pki}:{PKI}:ro"]
        for v in volumes:
            args += ["-v", v]
        for k, v in {**common, **env}.items():
            args += ["-e", f"{k}={v}"]
        self.docker.run(*args, self.image, "python", "-m", module)

    def logs(self) -> str:
        out = []
        for service in self.ports:
            proc = self.docker.run("logs", "--tail", "30", self.name(service), check=False)
            out.append(f"--- {service}\n{(proc.stdout + proc.stderr).decode(errors='replace')}")
        return "\n".join(out)

    def wait(self, what: str, ready) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while not ready():
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} was not ready within {READY_TIMEOUT:.0f} s\n{self.logs()}")
            time.sleep(0.5)

    def probe(self, service: str, peer: str) -> bool:
        """The compose file's health check for a gRPC service: ecert.rpc.probe inside its container."""
        return self.docker.run("exec", self.name(service), "python", "-m", "ecert.rpc.probe",
                               f"127.0.0.1:{self.ports[service]}", peer, check=False, timeout=30).returncode == 0

    def ready(self) -> bool:
        try:
            return _http("GET", self.url + "/readyz")[0] == 200
        except OSError:
            return False

    def up(self) -> None:
        store, registry_var = self.volume("store"), self.volume("registry")
        self.start("registry", "services.registry", "registry", {
            "ECERT_REGISTRY_LISTEN": f"127.0.0.1:{self.ports['registry']}",
            "ECERT_ROOT_KEY_PASSPHRASE": self.secrets["ECERT_ROOT_KEY_PASSPHRASE"]},
            [f"{store}:/var/lib/ecert-store", f"{registry_var}:/var/lib/ecert"])
        self.wait("the registry", lambda: self.probe("registry", "registry"))
        for region, service in (("CN-SH", "issuer-sh"), ("CN-ZJ", "issuer-zj")):
            addr = f"127.0.0.1:{self.ports[service]}"
            self.start(service, "services.issuer", f"issuer-{region}", {
                "ECERT_REGION": region, "ECERT_ISSUER_LISTEN": addr, "ECERT_ISSUER_ADVERTISE": addr,
                "ECERT_SIGNING_KEY_PASSPHRASE": self.secrets["ECERT_SIGNING_KEY_PASSPHRASE"]},
                [f"{store}:/var/lib/ecert-store", f"{self.volume(service)}:/var/lib/ecert"])
        for service in ("issuer-sh", "issuer-zj"):
            self.wait(f"the {service}", lambda s=service: self.probe(s, "issuer"))
        root_pub = f"{REGISTRY_VAR}/registry/root-public.pem"
        self.start("verifier", "services.verifier", "verifier", {
            "ECERT_VERIFIER_LISTEN": f"127.0.0.1:{self.ports['verifier']}", "ECERT_ROOT_PUBLIC_KEY": root_pub},
            [f"{store}:/var/lib/ecert-store", f"{self.volume('verifier')}:/var/lib/ecert",
             f"{registry_var}:{REGISTRY_VAR}:ro"])
        self.wait("the verifier", lambda: self.probe("verifier", "verifier"))
        self.start("gateway", "gateway", "gateway", {
            "ECERT_GATEWAY_HOST": "127.0.0.1", "ECERT_GATEWAY_PORT": str(self.ports["gateway"]),
            "ECERT_ROOT_PUBLIC_KEY": root_pub},
            [f"{store}:/var/lib/ecert-store", f"{registry_var}:{REGISTRY_VAR}:ro"])
        self.wait("the gateway (/readyz)", self.ready)

    def api_key(self, *args: str) -> str:
        """A key made the documented way: ``ecert apikey create`` in the gateway's container."""
        return self.docker.out("exec", self.name("gateway"), "ecert", "apikey", "create", *args).splitlines()[-1]


def _base_image(made: Made, work: Path) -> tuple[str, float]:
    """The base image: ECERT_DEPLOY_BASE, or one made here from Debian's packages."""
    if named := os.environ.get("ECERT_DEPLOY_BASE"):
        return named, 0.0
    if shutil.which("debootstrap") is None:
        pytest.skip("debootstrap is not installed (Debian's debootstrap; `make deploy-test` installs it as root)")
    started = time.monotonic()
    rootfs = work / "rootfs"
    made.folders.append(rootfs)
    proc = subprocess.run(["debootstrap", "--variant=minbase", "--include=python3,python3-venv", "bookworm",
                           str(rootfs), "http://deb.debian.org/debian"], capture_output=True, timeout=900)
    assert proc.returncode == 0, proc.stdout.decode(errors="replace")[-3000:] + proc.stderr.decode(errors="replace")
    shutil.rmtree(rootfs / "var" / "cache" / "apt" / "archives", ignore_errors=True)
    tag = f"ecert-base:test-{made.run}"
    made.images.append(tag)
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    made.docker.run("import", "-", tag, stdin=tar.stdout, timeout=300)
    assert tar.wait(60) == 0
    shutil.rmtree(rootfs)
    return tag, time.monotonic() - started


@pytest.fixture
def made(tmp_path):
    try:
        with engine(tmp_path / "dockerd.log") as docker:
            run = secrets.token_hex(4)
            made = Made(docker, run)
            made.folders.append(tmp_path / "pki")
            try:
                yield made
            finally:
                left = made.remove()
                assert not left, f"left behind: {left}"
    except Unavailable as why:
        pytest.skip(f"no Docker engine here: {why}")


def test_suite_in_containers_issues_verifies_and_keeps_state_over_a_restart(made, tmp_path):
    docker = made.docker
    base, base_seconds = _base_image(made, tmp_path)

    # The suite's image on that base (the frontend built before: make deploy-test depends on it).
    image = f"ecert-suite:test-{made.run}"
    made.images.append(image)
    started = time.monotonic()
    docker.run("build", "--force-rm", "--network", "host", "-f", str(ROOT / "deploy" / "Dockerfile"), "--build-arg", f"BASE={base}",
               "--build-arg", f"BUILD_CA_CERTS={_local_ca_certs()}", "-t", image, str(ROOT), timeout=1500)
    build_seconds = time.monotonic() - started
    size = int(docker.out("image", "inspect", "-f", "{{.Size}}", image))
    base_size = int(docker.out("image", "inspect", "-f", "{{.Size}}", base))
    print(f"\ndeploy-test: base image {base} {base_size / 1e6:.0f} MB made in {base_seconds:.0f} s; "
          f"suite image {size / 1e6:.0f} MB built in {build_seconds:.0f} s", file=sys.stderr)

    # TLS material made on the host, readable by the image's user only, mounted read-only.
    pki = tmp_path / "pki"
    subprocess.run([sys.executable, "-m", "ecert.runtime.pki", str(pki), "registry", "issuer-CN-SH",
                    "issuer-CN-ZJ", "verifier", "gateway"], check=True, capture_output=True, cwd=ROOT, timeout=60)
    for path in [pki, *pki.iterdir()]:
        os.chown(path, int(UID), int(UID))

    suite = Suite(made, image, pki)
    suite.up()

    # Every container: the image's non-root user, a read-only root file system.
    for service in suite.ports:
        name = suite.name(service)
        assert docker.out("exec", name, "id", "-u") == UID
        assert docker.out("inspect", "-f", "{{.HostConfig.ReadonlyRootfs}}", name) == "true"
    assert docker.run("exec", suite.name("gateway"), "touch", "/opt/ecert/x", check=False).returncode != 0

    agency = suite.api_key("--role", "agency", "--region", "CN-ZJ")
    hotel = suite.api_key("--role", "hotel")
    status, photo = _http("POST", suite.url + "/v1/photos", agency, photos.portrait(1), "image/jpeg")
    assert status == 201, photo
    request = {"region": "CN-ZJ", "type": "cn.resident_id", "request_id": f"deploy-test-{made.run}",
               "fields": {**SAMPLES["cn.resident_id"], "photo": photo["digest"]}}
    status, cred = _http("POST", suite.url + "/v1/credentials", agency, request)
    assert status == 201, cred
    verification = {"payload": cred["qr_text"], "purpose": "hotel_check_in"}
    status, answer = _http("POST", suite.url + "/v1/verifications", hotel, verification)
    assert status == 200 and answer["result"] == "VALID", answer
    assert answer["credential"]["id"] == cred["id"] and answer["status_checked"] is True
    # The scanner page's built scripts are in the image.
    assert _http("GET", suite.url + "/scan/scanner.js")[0] == 200

    # Restart the CN-ZJ issuer's container: its keys and the credentials are on volumes.
    docker.run("restart", "-t", "10", suite.name("issuer-zj"), timeout=60)
    suite.wait("the issuer-zj after its restart", lambda: suite.probe("issuer-zj", "issuer"))
    status, kept = _http("GET", f"{suite.url}/v1/credentials/{cred['id']}", agency)
    assert status == 200 and kept["id"] == cred["id"] and kept["status"] == "valid", kept
    deadline = time.monotonic() + 30
    while True:  # the gateway's channel to the issuer reconnects on its own
        status, again = _http("POST", suite.url + "/v1/credentials", agency, request)
        if status in (200, 201) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert status in (200, 201) and again["id"] == cred["id"] and again["kid"] == cred["kid"], again
    status, answer = _http("POST", suite.url + "/v1/verifications", hotel, verification)
    assert status == 200 and answer["result"] == "VALID", answer
