"""The differential run in the browser: headless Chromium and the Python verifier, the same answers.

tests/test_js_verifier_diff.py holds the JavaScript verifier (frontend/src/verify/) to the Python
one in Node; this runs the same cases (tests/js_cases.py: every EC1, trust-list and status-list
conformance vector, generated credentials valid and damaged in every layer, zlib streams around
the output bound) in Debian's Chromium, which Playwright drives, as the scanner page runs them:
the core is bundled by the front end's esbuild with the page's settings (ES modules, chrome120,
minified) and the page is served over loopback HTTP (a secure context: WebCrypto) from a
temporary folder, so the gateway serves nothing made for a test. Every answer must be the
Python verifier's: the outcome, the credential, the status members, the document date, the
purpose and, for every role, the fields and warnings. ``ECERT_JS_DIFF_CASES`` sets how many
credentials are generated (default 500); the agreement and the verifications per second in
headless Chromium are printed (``-s``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from aiohttp import web

from tests.js_cases import FRONTEND, Cases, add_generated, add_vectors, add_zlib, compare

playwright_api = pytest.importorskip("playwright.async_api", reason="the Python package playwright is not installed")

CHROMIUM = os.environ.get("ECERT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM}: `make test` installs Debian's (apt-get install chromium)",
                allow_module_level=True)
if shutil.which("node") is None or not all((FRONTEND / "node_modules" / p).is_dir() for p in ("esbuild", "cborg", "pako")):
    pytest.skip("node or the front end's packages are not installed (make test installs them)", allow_module_level=True)

pytestmark = pytest.mark.asyncio(loop_scope="session")

GENERATED = int(os.environ.get("ECERT_JS_DIFF_CASES", "500"))
SEED = int(os.environ.get("ECERT_JS_DIFF_SEED", "15"))
ZLIB_CASES = max(500, GENERATED // 2)
ENTRY = FRONTEND / "src" / "verify" / "run-cases-browser.js"
PAGE = "<!doctype html><meta charset=utf-8><title>verifier</title><script type=module src=runner.js></script>\n"
# The page's bundle settings (frontend/build.mjs), for the runner's entry.
BUNDLE = """
import { build } from "esbuild";
await build({ entryPoints: [process.argv[1]], bundle: true, format: "esm", target: ["chrome120"], minify: true,
  sourcemap: false, outfile: process.argv[2], logLevel: "warning" });
"""


def bundle(folder: Path) -> None:
    proc = subprocess.run(["node", "--input-type=module", "-e", BUNDLE, str(ENTRY), str(folder / "runner.js")],
                          cwd=FRONTEND, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.fixture(scope="module")
def cases() -> Cases:
    c = Cases()
    add_vectors(c)
    add_generated(c, GENERATED, SEED)
    add_zlib(c, ZLIB_CASES, SEED)
    return c


@pytest.fixture(scope="module")
async def site(cases, tmp_path_factory):
    """The runner's page, its bundle and the cases, served from a temporary folder on loopback."""
    folder = tmp_path_factory.mktemp("jsbrowser")
    bundle(folder)
    (folder / "index.html").write_text(PAGE, "utf-8")
    (folder / "cases.json").write_text(json.dumps(cases.spec(), ensure_ascii=False), "utf-8")
    app = web.Application()
    app.router.add_static("/", folder)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture(scope="module")
async def answers(site):
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"])
        try:
            page = await browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda err: errors.append(str(err)))
            await page.goto(f"{site}/index.html")
            await page.wait_for_function("typeof globalThis.ecertRunCases === 'function'", timeout=30_000)
            text = await page.evaluate("""async () => {
                const spec = await (await fetch("cases.json")).json();
                return await globalThis.ecertRunCases(spec);
            }""")
            agent = await page.evaluate("navigator.userAgent")
        finally:
            await browser.close()
    assert not errors, errors
    return json.loads(text), agent


async def test_every_answer_in_chromium_is_the_python_verifiers(cases, answers):
    out, agent = answers
    disagree = {}
    for case_id, expected in cases.expected.items():
        diffs = compare(expected, out["cases"][case_id])
        if diffs:
            disagree[case_id] = (diffs, expected["result"], out["cases"][case_id].get("result"))
    total = len(cases.expected)
    chrome = next((p for p in agent.split() if p.startswith(("HeadlessChrome/", "Chrome/"))), agent)
    print(f"\nJS verifier in {chrome}: {total - len(disagree)}/{total} answers identical "
          f"({len(cases.vector_outcomes)} vectors, {total - len(cases.vector_outcomes)} generated); "
          f"{out['per_second']:.0f} verifications/s")
    assert not disagree, dict(list(disagree.items())[:20])
    assert {vid: out["cases"][vid]["result"] for vid in cases.vector_outcomes} == cases.vector_outcomes


async def test_zlib_in_chromium_inflates_as_pythons_zlib(cases, answers):
    out, _ = answers
    disagree = {z: (e, out["zlib_cases"][z]) for z, e in cases.zlib_expected.items() if out["zlib_cases"][z] != e}
    assert not disagree, dict(list(disagree.items())[:20])
    assert {e["kind"] for e in cases.zlib_expected.values()} == {"ok", "too large", "failed"}


async def test_trust_and_status_list_vectors_in_chromium(cases, answers):
    out, _ = answers
    for t in cases.trust_cases:
        exp, got = cases.trust_expected[t["id"]], out["trust_cases"][t["id"]]
        assert got["accepted"] is exp["accepted"], (t["id"], got)
        if exp["accepted"]:
            assert got["version"] == exp["version"], t["id"]
            assert got["next_root"] == (exp["next_root"]["kid"] if exp["next_root"] else None), t["id"]
    for s in cases.status_cases:
        exp, got = cases.status_expected[s["id"]], out["status_cases"][s["id"]]
        assert got["accepted"] is exp["accepted"], (s["id"], got)
        if exp["accepted"]:
            assert {k: got[k] for k in ("uri", "iat", "exp", "ttl", "stale", "size_bytes", "values")} == \
                {k: exp[k] for k in ("uri", "iat", "exp", "ttl", "stale", "size_bytes", "values")}, s["id"]
