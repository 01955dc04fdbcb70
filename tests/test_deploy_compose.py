"""deploy/compose.yaml, its MongoDB variant and deploy/Dockerfile, checked as files (fast; make test).

With Docker Compose v2 on the machine, ``docker compose config`` resolves both variants; without
it (Debian's engine has no compose plugin) the same files are read here: YAML with its anchors and
merge keys, the override merged as Compose merges mappings, and the structure checked against the
code: every service's command is a module of the suite, every ECERT_* setting one the code reads,
every named volume, secret and dependency declared, ports consistent between listen, advertise and
health check, the three secrets required, the image's user and read-only root everywhere. The
containers themselves are started by ``make deploy-test`` (tests/test_deploy_containers.py).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
SUITE = {"registry", "issuer-sh", "issuer-zj", "verifier", "gateway"}
SECRETS = ("ECERT_INTERNAL_TOKEN", "ECERT_ROOT_KEY_PASSPHRASE", "ECERT_SIGNING_KEY_PASSPHRASE")
SOURCES = [p for d in ("ecert", "services", "gateway") for p in (ROOT / d).rglob("*.py")]


def load(name: str) -> dict:
    return yaml.safe_load((DEPLOY / name).read_text())


def merge(base, over):
    """Compose's merge of an override file: mappings key by key, anything else replaced."""
    if isinstance(base, dict) and isinstance(over, dict):
        return {k: merge(base[k], v) if k in base else v for k, v in over.items()} | {
            k: v for k, v in base.items() if k not in over}
    return over


def variants() -> dict[str, dict]:
    sqlite = load("compose.yaml")
    return {"sqlite": sqlite, "mongo": merge(sqlite, load("compose.mongo.yaml"))}


def settings_read_by_code() -> set[str]:
    names: set[str] = set()
    for path in SOURCES:
        names |= set(re.findall(r"ECERT_[A-Z0-9_]+", path.read_text()))
    return names


def port_of(address: str) -> str:
    return address.rsplit(":", 1)[1]


@pytest.mark.parametrize("variant", ["sqlite", "mongo"])
def test_compose_file_structure(variant):
    doc = variants()[variant]
    services = doc["services"]
    assert set(services) == SUITE | ({"mongo"} if variant == "mongo" else set())
    known = settings_read_by_code()
    for name in SUITE:
        svc = services[name]
        # The suite's image, built from the Dockerfile with the base as an argument.
        assert svc["image"] == "ecert-suite:latest"
        assert (ROOT / "deploy" / svc["build"]["context"] / svc["build"]["dockerfile"]).resolve() == DEPLOY / "Dockerfile"
        assert "BASE" in svc["build"]["args"]
        # Non-root, read-only root, nothing extra.
        assert svc["user"] == "10001:10001" and svc["read_only"] is True
        assert any(t.split(":")[0] == "/tmp" for t in svc["tmpfs"]) and svc["cap_drop"] == ["ALL"]
        # The command is one of the suite's modules.
        assert svc["command"][:2] == ["python", "-m"]
        assert importlib.util.find_spec(svc["command"][2]) is not None, svc["command"]
        env = svc["environment"]
        assert set(env) <= known, f"{name}: settings no code reads: {sorted(set(env) - known)}"
        for secret in SECRETS:
            if secret in env:
                assert re.fullmatch(r"\$\{%s:\?.+\}" % secret, env[secret]), (name, secret)
        assert "ECERT_INTERNAL_TOKEN" in env and env["ECERT_VAR_DIR"] == "/var/lib/ecert"
        store = env["ECERT_STORE_URI"]
        assert (store.startswith("${ECERT_STORE_URI:-mongodb://mongo:27017/") if variant == "mongo"
                else store == "${ECERT_STORE_URI:-sqlite:////var/lib/ecert-store/ecert.db}"), store
        # Volumes, secrets and dependencies are declared; TLS files are this service's own secrets.
        for mount in svc.get("volumes", []):
            assert mount.split(":")[0] in doc["volumes"], (name, mount)
        if variant == "sqlite":
            assert "store:/var/lib/ecert-store" in svc["volumes"], name
        for secret in svc["secrets"]:
            assert secret in doc["secrets"]
        for var in ("ECERT_TLS_CA", "ECERT_TLS_CERT", "ECERT_TLS_KEY"):
            assert env[var].removeprefix("/run/secrets/") in svc["secrets"], (name, var)
        for dep, how in svc.get("depends_on", {}).items():
            assert dep in services and how == {"condition": "service_healthy"}, (name, dep)
            assert "healthcheck" in services[dep], dep
        if variant == "mongo":
            assert "mongo" in svc["depends_on"], name
        assert svc["healthcheck"]["test"][0] == "CMD"
    # The keys each process holds are the files ecert.runtime.pki writes (identity.pem, identity-key.pem).
    for secret, spec in doc["secrets"].items():
        identity = secret.removesuffix("-cert").removesuffix("-key")
        expected = "pki/ca.pem" if secret == "ecert-ca" else (
            f"pki/{identity}-key.pem" if secret.endswith("-key") else f"pki/{identity}.pem")
        assert spec["file"] == expected, secret
    # Ports: what each gRPC service listens on is what its health check and its clients dial.
    s = services
    for name, listen, peer in (("registry", "ECERT_REGISTRY_LISTEN", "registry"),
                               ("issuer-sh", "ECERT_ISSUER_LISTEN", "issuer"),
                               ("issuer-zj", "ECERT_ISSUER_LISTEN", "issuer"),
                               ("verifier", "ECERT_VERIFIER_LISTEN", "verifier")):
        port = port_of(s[name]["environment"][listen])
        assert s[name]["healthcheck"]["test"][-2:] == [f"127.0.0.1:{port}", peer], name
    assert port_of(s["registry"]["environment"]["ECERT_REGISTRY_LISTEN"]) == port_of(
        s["gateway"]["environment"]["ECERT_REGISTRY_TARGET"])
    assert port_of(s["verifier"]["environment"]["ECERT_VERIFIER_LISTEN"]) == port_of(
        s["gateway"]["environment"]["ECERT_VERIFIER_TARGET"])
    for name in ("issuer-sh", "issuer-zj"):
        env = s[name]["environment"]
        assert env["ECERT_ISSUER_ADVERTISE"] == f"{name}:{port_of(env['ECERT_ISSUER_LISTEN'])}"
    # Only the gateway is published, on its own port.
    assert [n for n in SUITE if s[n].get("ports")] == ["gateway"]
    assert s["gateway"]["ports"] == ["${ECERT_GATEWAY_PUBLISH:-8080}:" + s["gateway"]["environment"]["ECERT_GATEWAY_PORT"]]


@pytest.mark.parametrize("variant", ["sqlite", "mongo"])
def test_compose_services_settings(variant):
    services = variants()[variant]["services"]
    if variant == "mongo":
        assert services["mongo"]["image"] == "mongo:8" and "healthcheck" in services["mongo"]
    for name, region in (("issuer-sh", "CN-SH"), ("issuer-zj", "CN-ZJ")):
        env = services[name]["environment"]
        assert env["ECERT_REGION"] == region and env["ECERT_ISSUER_LISTEN"].startswith("0.0.0.0:")
        assert {"ECERT_STATUS_TTL", "ECERT_KEY_LIFETIME_DAYS"} <= set(env)  # the issuer settings merged in
    verifier, gateway = services["verifier"], services["gateway"]
    assert "registry-var:/run/ecert-registry:ro" in verifier["volumes"]
    assert verifier["environment"]["ECERT_ROOT_PUBLIC_KEY"] == "/run/ecert-registry/registry/root-public.pem"
    # the scanner page pins the same root key (/scan/root-key.pem)
    assert gateway["environment"]["ECERT_ROOT_PUBLIC_KEY"] == verifier["environment"]["ECERT_ROOT_PUBLIC_KEY"]
    assert "registry-var:/run/ecert-registry:ro" in gateway["volumes"]


def test_mongo_variant_says_it_cannot_start_here():
    text = (DEPLOY / "compose.mongo.yaml").read_text()
    assert "cannot start on the development machines" in text
    assert "compose.mongo.yaml" in (DEPLOY / "compose.yaml").read_text()


def test_dockerfile_takes_its_base_and_runs_as_a_user():
    lines = [ln.strip() for ln in (DEPLOY / "Dockerfile").read_text().splitlines()
             if ln.strip() and not ln.lstrip().startswith("#")]
    first_from = next(i for i, ln in enumerate(lines) if ln.startswith("FROM"))
    assert "ARG BASE=python:3.11-slim" in lines[:first_from]
    froms = [ln for ln in lines if ln.startswith("FROM")]
    assert len(froms) == 2 and all(ln.split()[1] == "${BASE}" for ln in froms)
    users = [ln for ln in lines if ln.startswith("USER")]
    assert users == ["USER 10001:10001"]  # the last word: the image runs as it
    assert lines.index(users[0]) > lines.index(froms[1])
    # Every package the project ships is copied into the image; setup.py builds the optional C speed-up.
    for package in ("ecert", "ecertpb", "services", "gateway"):
        assert f"COPY {package} ./{package}" in lines
    assert "COPY pyproject.toml setup.py ./" in lines
    assert not any(re.search(r"PASSPHRASE|TOKEN|_KEY=", ln) for ln in lines if ln.startswith(("ENV", "ARG")))
    # The build context carries only what the image installs (no .venv, var/ or keys).
    ignore = (ROOT / ".dockerignore").read_text().split()
    assert ignore[ignore.index("*") if "*" in ignore else 0] == "*"
    assert {"!pyproject.toml", "!setup.py", "!ecert", "!ecertpb", "!services", "!gateway"} <= set(ignore)


def _compose_v2() -> str | None:
    docker = shutil.which("docker")
    if docker is None:
        return None
    try:
        ok = subprocess.run([docker, "compose", "version"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return None
    return docker if ok else None


@pytest.mark.skipif(_compose_v2() is None, reason="no Docker Compose v2 here (Debian's docker.io has no compose "
                                                   "plugin): the files are checked by the tests above instead")
@pytest.mark.parametrize("files", [["compose.yaml"], ["compose.yaml", "compose.mongo.yaml"]])
def test_docker_compose_config_accepts_it(files, tmp_path):
    env = dict(os.environ, **{name: "x" * 32 for name in SECRETS})
    args = [a for f in files for a in ("-f", str(DEPLOY / f))]
    proc = subprocess.run([_compose_v2(), "compose", *args, "config", "-q"], env=env, capture_output=True,
                          timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr.decode()
