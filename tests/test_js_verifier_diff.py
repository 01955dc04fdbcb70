"""The scanner page's JavaScript verifier (frontend/src/verify/) held to the Python one, in Node.

Every EC1, trust-list and status-list conformance vector (tests/vectors/), a few thousand
generated credentials valid and damaged in every layer, and zlib streams around the output bound
(tests/js_cases.py builds them all, with the Python answers) are written to a file; ``node`` runs
the JavaScript verifier over them (frontend/src/verify/run-cases.mjs); every answer must be the
Python verifier's: the outcome code, the credential, the status members, the document date, the
purpose and, for every role, the fields and warnings it is shown. ``ECERT_JS_DIFF_CASES`` sets
how many credentials are generated (default 2,500, a few seconds; ``make bench``-sized runs take
more). The agreement figures and the verifications per second are printed (``-s``). The same
cases are run in headless Chromium by tests/test_js_verifier_browser.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ecert.errors import Outcome
from tests.js_cases import FRONTEND, ROOT, Cases, add_generated, add_vectors, add_zlib, compare

RUNNER = FRONTEND / "src" / "verify" / "run-cases.mjs"
GENERATED = int(os.environ.get("ECERT_JS_DIFF_CASES", "2500"))
SEED = int(os.environ.get("ECERT_JS_DIFF_SEED", "15"))
ZLIB_CASES = max(1500, GENERATED // 2)

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (FRONTEND / "node_modules" / "pako").is_dir(),
    reason="node or the frontend's packages are not installed (make test installs them)")


# -- the run ---------------------------------------------------------------------------------------

def _run(cases: Cases, tmp_path: Path) -> dict:
    spec_path, out_path = tmp_path / "cases.json", tmp_path / "answers.json"
    spec_path.write_text(json.dumps(cases.spec(), ensure_ascii=False), "utf-8")
    proc = subprocess.run(["node", str(RUNNER), str(spec_path), str(out_path)], cwd=FRONTEND, capture_output=True,
                          text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out_path.read_text("utf-8"))


@pytest.fixture(scope="module")
def answers(tmp_path_factory):
    cases = Cases()
    add_vectors(cases)
    add_generated(cases, GENERATED, SEED)
    add_zlib(cases, ZLIB_CASES, SEED)
    return cases, _run(cases, tmp_path_factory.mktemp("jsdiff"))


def test_every_answer_is_the_python_verifiers(answers):
    cases, out = answers
    disagree = {}
    outcomes: dict[str, int] = {}
    for case_id, expected in cases.expected.items():
        diffs = compare(expected, out["cases"][case_id])
        outcomes[expected["result"]] = outcomes.get(expected["result"], 0) + 1
        if diffs:
            disagree[case_id] = (diffs, expected["result"], out["cases"][case_id].get("result"))
    total = len(cases.expected)
    print(f"\nJS verifier: {total - len(disagree)}/{total} answers identical "
          f"({len(cases.vector_outcomes)} vectors, {total - len(cases.vector_outcomes)} generated); "
          f"{out['per_second']:.0f} verifications/s in node; outcomes {dict(sorted(outcomes.items()))}")
    assert not disagree, dict(list(disagree.items())[:20])


def test_zlib_streams_inflate_as_pythons_zlib(answers):
    """Around the output bound, valid and damaged (bit flips, cuts, bytes after the end, other
    headers, gzip, raw deflate, a preset dictionary, spliced blocks): the same outcome, ok with the
    same bytes, too large, or failed."""
    cases, out = answers
    disagree = {z: (e, out["zlib_cases"][z]) for z, e in cases.zlib_expected.items() if out["zlib_cases"][z] != e}
    kinds: dict[str, int] = {}
    for e in cases.zlib_expected.values():
        kinds[e["kind"]] = kinds.get(e["kind"], 0) + 1
    print(f"\nzlib: {len(cases.zlib_expected) - len(disagree)}/{len(cases.zlib_expected)} identical; {kinds}")
    assert not disagree, dict(list(disagree.items())[:20])
    assert set(kinds) == {"ok", "too large", "failed"}


def test_the_vectors_outcomes(answers):
    """Beside agreeing with the Python verifier, every EC1 vector gets its written outcome."""
    cases, out = answers
    got = {vid: out["cases"][vid].get("result") for vid in cases.vector_outcomes}
    assert got == cases.vector_outcomes


def test_generated_cases_reach_every_offline_outcome(answers):
    """The generated credentials are no walk in the park: they reach every outcome an EC1 can get offline."""
    cases, _ = answers
    reached = {e["result"] for cid, e in cases.expected.items() if cid.startswith("gen/")}
    offline = {o.value for o in Outcome} - {"TOKEN_ALREADY_USED", "REGION_UNAVAILABLE", "NO_CODE_FOUND"}
    if GENERATED >= 2000:
        assert reached == offline, offline - reached


def test_trust_list_vectors(answers):
    cases, out = answers
    for t in cases.trust_cases:
        exp, got = cases.trust_expected[t["id"]], out["trust_cases"][t["id"]]
        assert got["accepted"] is exp["accepted"], (t["id"], got)
        if exp.get("root_reached") and got["accepted"]:
            assert got["root_kid"] == exp["root_reached"] or got["next_root"] == exp["root_reached"], t["id"]
        if exp["accepted"]:
            assert got["version"] == exp["version"]
            assert got["types"] == [[x["id"], x["v"]] for x in exp["types"]]
            assert [r[0] for r in got["regions"]] == [r["code"] for r in exp["regions"]]
            assert got["next_root"] == (exp["next_root"]["kid"] if exp["next_root"] else None)


def test_status_list_vectors(answers):
    cases, out = answers
    for s in cases.status_cases:
        exp, got = cases.status_expected[s["id"]], out["status_cases"][s["id"]]
        assert got["accepted"] is exp["accepted"], (s["id"], got)
        if exp["accepted"]:
            assert {k: got[k] for k in ("uri", "iat", "exp", "ttl", "stale", "size_bytes")} == \
                {k: exp[k] for k in ("uri", "iat", "exp", "ttl", "stale", "size_bytes")}
            assert got["values"] == {k: v for k, v in exp["values"].items()}


def test_the_shipped_tables_are_the_pythons():
    """The JavaScript copies of the GB/T 2260 table and the shipped agreement are the data files'."""
    script = ("import('./src/verify/index.js').then(m => console.log(JSON.stringify("
              "{codes: m.REGION_ISSUER_CODES, rules: m.DEFAULT_RULES, purposes: m.ROLE_PURPOSES})))")
    proc = subprocess.run(["node", "-e", script], cwd=FRONTEND, capture_output=True, text=True, timeout=60, check=True)
    got = json.loads(proc.stdout)
    data = ROOT / "ecert" / "rules" / "data"
    provinces = json.loads((data / "gbt2260_provinces.json").read_text("utf-8"))
    assert got["codes"] == {d["iso"]: code for code, d in provinces.items()}
    agreement = json.loads((data / "agreement.json").read_text("utf-8"))
    assert got["rules"] == {"purposes": agreement["purposes"], "recognition": agreement["recognition"]}
    from ecert.vocab import ROLE_PURPOSES
    assert got["purposes"] == {str(r): [str(p) for p in ps] for r, ps in ROLE_PURPOSES.items() if str(r) != "service"}
