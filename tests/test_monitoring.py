"""Issue 16, part 5: the alert rules and the dashboard (deploy/monitoring/) name only metrics that
a running suite's gateway exposes on /metrics. The expressions are read without promtool: each
metric name (``ecert_...``) is taken out with a regular expression and looked for."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import bearer

pytestmark = pytest.mark.asyncio(loop_scope="session")

MONITORING = Path(__file__).resolve().parent.parent / "deploy" / "monitoring"
NAME = re.compile(r"\becert_[a-z0-9_]+\b")
SUFFIXES = ("_total", "_created", "_bucket", "_sum", "_count")


def rule_expressions() -> list[str]:
    doc = yaml.safe_load((MONITORING / "alerts.yaml").read_text())
    rules = [r for g in doc["groups"] for r in g["rules"]]
    assert rules and all(r.get("alert") and r.get("expr") for r in rules)
    return [str(r["expr"]) for r in rules]


def dashboard_expressions() -> list[str]:
    doc = json.loads((MONITORING / "dashboard.json").read_text())
    return [t["expr"] for p in doc["panels"] for t in p.get("targets", [])]


def exposed_names(text: str) -> set[str]:
    """Every name a query may use: each sample's, and each family's with its suffixes (a labelled
    family without samples yet still shows its HELP and TYPE lines)."""
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE ") or line.startswith("# HELP "):
            family = line.split()[2]
            base = family.removesuffix("_total")
            names |= {family, base, *(base + s for s in SUFFIXES)}
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


async def test_every_metric_the_alerts_and_the_dashboard_name_is_exposed(http, keys):
    r = await http.post("/v1/verifications", headers=bearer(keys["hotel"]), json={"payload": "EC1:NOPE"})
    assert r.status < 500  # one request counted, so the labelled families have samples too
    text = await (await http.get("/metrics")).text()
    exposed = exposed_names(text)
    used = {name for e in rule_expressions() + dashboard_expressions() for name in NAME.findall(e)}
    # the signals the issue asks for are all watched
    for signal in ("ecert_http_requests_total", "ecert_verifications_total", "ecert_http_request_seconds_bucket",
                   "ecert_verifier_trust_list_stale", "ecert_verifier_outbox_pending_bytes",
                   "ecert_gateway_throttled_total"):
        assert signal in used, signal
    missing = sorted(used - exposed)
    assert not missing, f"named in deploy/monitoring but not on /metrics: {missing}"


async def test_the_check_would_catch_a_misspelt_metric(http):
    text = await (await http.get("/metrics")).text()
    exposed = exposed_names(text)
    assert "ecert_http_requests_total" in exposed and "ecert_http_request_total" not in exposed
    assert "ecert_verifier_outbox_pending_bytes" in exposed  # the trail's backlog, from the verifier


async def test_the_dashboard_is_grafana_json_with_a_prometheus_source():
    doc = json.loads((MONITORING / "dashboard.json").read_text())
    assert doc["uid"] and doc["panels"] and all(p["targets"] and p["gridPos"] for p in doc["panels"])
    assert len({p["id"] for p in doc["panels"]}) == len(doc["panels"])
    assert all(t["datasource"]["type"] == "prometheus" for p in doc["panels"] for t in p["targets"])
