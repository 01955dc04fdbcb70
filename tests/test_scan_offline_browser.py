"""Issue 15 in a real browser: the scanner page keeps working with no network.

Playwright drives Debian's Chromium (as tests/test_scan_browser.py does) against the suite's gateway.
The page is opened online once and fetches its lists (the signed trust list, the root chain, the
pinned root key and every region's status lists, kept in IndexedDB) while the service worker keeps
its files; then the browser goes offline (``context.set_offline(True)``) and the page is reloaded:
it opens, and answers typed codes, an uploaded photo and the fake camera from its own lists, read
and verified on the device, each answer saying "checked offline, lists as of …". A show code (EP1)
needs a connection. The checks made offline reach the trail exactly once when the page is online
again, also when the first delivery's answer is lost. Past the lists' validity (the page's clock
moved with Playwright's clock, the test-only way to inject time: the page itself reads the device
clock) the notice turns amber.

The bytes the page downloads the first time and the verifications per second in headless
Chromium are printed (``-s`` shows them) and written to ``ECERT_BENCH_DIR`` when it is set.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import re
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from ecert.format.keys import SigningKey
from gateway import openapi
from gateway.routes import scanner
from testkit import photos
from testkit.samples import SAMPLES
from tests import forge
from tests.conftest import bearer
from tests.test_scan_browser import (
    TIMEOUT_MS,
    camera_browser,
    hue,
    issue_id_card,
    scan_text,
    shot,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

PHONE = {"width": 390, "height": 844}
BUILT = (scanner.APP_DIR / "scanner.js").exists() and (scanner.APP_DIR / "sw.js").exists()
needs_build = pytest.mark.skipif(not BUILT, reason="the front end is not built: `make frontend` (make test builds it)")


@pytest.fixture(scope="module")
async def offline_credential(http, keys):
    """A Zhejiang resident card a hotel checks offline: typed, photographed and held to the camera."""
    return await issue_id_card(http, keys, "司马清风")


@pytest.fixture(scope="module")
async def browser(offline_credential, tmp_path_factory):
    video = tmp_path_factory.mktemp("camera") / "offline-qr.y4m"
    async with camera_browser(offline_credential["qr_text"], video) as b:
        yield b


def report(name: str, figures: dict) -> None:
    print(f"\n{name}: {json.dumps(figures)}")
    folder = os.environ.get("ECERT_BENCH_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / f"{name}.json").write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


async def until(page, script: str, arg=None) -> None:
    await page.wait_for_function(script, arg=arg, timeout=TIMEOUT_MS)


async def verdict(page, kind: str) -> str:
    """The answer's verdict (``ok``, ``bad``, ``na``) once shown: its outcome code."""
    box = page.locator(f".verdict.{kind}")
    await box.wait_for()
    return await box.get_attribute("data-result")


async def offline_note(page) -> tuple[str, str]:
    note = page.locator("#result .offline-note")
    await note.wait_for()
    return await note.inner_text(), await note.get_attribute("data-stale")


async def clear(page, name: str | None = None) -> None:
    await page.locator("#clear").click()
    await page.locator("#result").wait_for(state="hidden")
    if name:
        assert name not in await page.content()


async def nothing_personal_stored(page, names: list[str]) -> None:
    """Storage holds the key (this session only) and the lists and queue: no name, no ID number."""
    assert await page.evaluate("Object.keys(sessionStorage)") == ["ecert.scanner.apiKey"]
    assert await page.evaluate("localStorage.length") == 0
    dump = await page.evaluate("""async () => {
        const db = await new Promise((ok, bad) => { const r = indexedDB.open("ecert-scanner"); r.onsuccess = () => ok(r.result); r.onerror = bad; });
        const out = {};
        for (const name of db.objectStoreNames) {
            out[name] = await new Promise((ok) => { const r = db.transaction(name).objectStore(name).getAll(); r.onsuccess = () => ok(r.result); });
        }
        db.close();
        const text = (v) => v instanceof Uint8Array ? new TextDecoder("utf-8", {fatal: false}).decode(v) : JSON.stringify(v);
        return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.map((r) => Object.values(r).map(text).join(" ")).join("\\n")]));
    }""")
    assert set(dump) == {"lists", "status", "profiles", "queue"}
    everything = "\n".join(dump.values())
    for name in names:
        assert name not in everything
    key = await page.evaluate("sessionStorage.getItem('ecert.scanner.apiKey')")
    assert key and key not in everything  # the key only by its digest


async def trail_entries(http, keys, suite, cred: dict) -> list[dict]:
    await suite.deliver_trail()
    r = await http.get(f"/v1/credentials/{cred['id']}/access-log", headers=bearer(keys["agency_zj"]))
    assert r.status == 200, await r.text()
    return [e for e in (await r.json())["entries"] if e["action"] != "issue" and e["actor_role"] == "hotel"]


async def test_the_page_and_its_files_are_served_for_an_offline_app():
    """The names the route serves and their types are the ones the OpenAPI document lists."""
    assert {name: kind for name, (_, kind) in scanner._ASSETS.items()} == openapi.SCANNER_FILES
    manifest = json.loads((scanner.STATIC_DIR / "manifest.webmanifest").read_text(encoding="utf-8"))
    assert manifest["start_url"] == manifest["scope"] == "/scan" and manifest["display"] == "standalone"
    assert {i["sizes"] for i in manifest["icons"]} == {"192x192", "512x512"}
    for icon in manifest["icons"]:
        assert icon["src"].removeprefix("/scan/") in scanner._ASSETS


@needs_build
async def test_the_files_have_their_types_etags_and_the_workers_scope(http):
    for name, kind in openapi.SCANNER_FILES.items():
        r = await http.get(f"/scan/{name}")
        assert r.status == 200 and r.content_type == kind, name
        etag = r.headers["ETag"]
        again = await http.get(f"/scan/{name}", headers={"If-None-Match": etag})
        assert again.status == 304 and not await again.read()
    sw = await http.get("/scan/sw.js")
    assert sw.headers["Service-Worker-Allowed"] == "/scan"
    page = await http.get("/scan")
    csp = page.headers["Content-Security-Policy"]
    assert "'wasm-unsafe-eval'" in csp and "worker-src 'self'" in csp and "manifest-src 'self'" in csp
    html = await page.text()
    assert '<script type="module" src="/scan/scanner.js">' in html and "/scan/manifest.webmanifest" in html
    assert "unsafe-inline" not in csp and "//cdn" not in await (await http.get("/scan/scanner.js")).text()


@needs_build
async def test_text_and_the_qr_reader_go_compressed_to_a_browser_that_accepts_gzip(http):
    plain = await http.get("/scan/zxing_reader.wasm", headers={"Accept-Encoding": "identity"})
    packed = await http.get("/scan/zxing_reader.wasm", headers={"Accept-Encoding": "gzip, br"}, auto_decompress=False)
    assert "Content-Encoding" not in plain.headers and packed.headers["Content-Encoding"] == "gzip"
    assert packed.headers["Vary"] == "Accept-Encoding" and packed.headers["ETag"] != plain.headers["ETag"]
    raw = await packed.read()
    assert gzip.decompress(raw) == await plain.read() and len(raw) < len(await plain.read()) // 2
    again = await http.get("/scan/zxing_reader.wasm", headers={"Accept-Encoding": "gzip",
                                                               "If-None-Match": packed.headers["ETag"]})
    assert again.status == 304
    icon = await http.get("/scan/icon-192.png", headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
    assert "Content-Encoding" not in icon.headers  # a PNG is compressed already


@needs_build
async def test_offline_the_page_opens_and_answers_from_its_own_lists(browser, http, keys, suite, offline_credential,
                                                                     tmp_path):
    cred = offline_credential
    revoked = await issue_id_card(http, keys, "欧阳修远")
    r = await http.post(f"/v1/credentials/{revoked['id']}:revoke", headers=bearer(keys["agency_zj"]))
    assert r.status == 200
    await suite.refresh()
    tampered = forge.tamper_signature(cred["qr_text"])
    shown = await http.post(f"/v1/credentials/{cred['id']}/presentations", headers=bearer(keys["agency_zj"]), json={})
    assert shown.status == 201
    show_code = (await shown.json())["token"]
    assert show_code.startswith("EP1:")
    picture = tmp_path / "card.jpg"
    picture.write_bytes(photos.photo([cred["qr_text"]], random.Random(31),
                                     photos.Shot(ppm=3.0, angle=8, slant=0.03, blur=0.3, noise=3, quality=85)))
    online = await (await http.post("/v1/verifications", headers=bearer(keys["hotel"]),
                                    json={"payload": cred["qr_text"]})).json()  # what the gateway shows a hotel
    assert online["result"] == "VALID" and "issuing_authority" not in online["fields"]
    before = len(await trail_entries(http, keys, suite, cred))

    context = await browser.new_context(viewport=PHONE, locale="zh-CN")
    try:
        page = await context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        # -- online, once: the key, the lists, the worker ------------------------------------------
        started = time.perf_counter()
        await page.goto(str(http.make_url("/scan")))
        await page.locator("#key-input").fill(keys["hotel"])
        await page.keyboard.press("Enter")
        await page.locator("#scanner").wait_for(state="visible")
        await until(page, "() => document.getElementById('lists-state').dataset.ready === 'true'"
                          " && Number(document.getElementById('lists-state').dataset.statusLists) >= 1")
        assert await page.evaluate("navigator.serviceWorker.ready.then((r) => Boolean(r.active))")
        kept = await page.evaluate("""async () => { const names = await caches.keys();
            const c = await caches.open(names.find((n) => n.startsWith('ecert-scan-')));
            return (await c.keys()).map((r) => new URL(r.url).pathname); }""")
        assert set(kept) == {"/scan", *(f"/scan/{n}" for n in scanner.ASSET_NAMES if n != "sw.js")}
        ready_s = time.perf_counter() - started
        state = await page.locator("#lists-state").inner_text()
        assert "可离线核验" in state and "Ready offline" in state
        # What the first visit downloaded: the page's own requests (the page, its files, the lists)
        # and the worker's (the files it keeps, the QR reader's WebAssembly among them), as the
        # browser's resource timing counts them (bytes over the wire, headers included).
        transferred = "() => performance.getEntries().filter((e) => 'transferSize' in e).map((e) => [e.name, e.transferSize])"
        page_bytes = sum(n for _, n in await page.evaluate(transferred))
        worker_bytes = sum(n for _, n in await context.service_workers[0].evaluate(transferred))

        # -- offline: the page opens from the worker, the key from this session -------------------
        await context.set_offline(True)
        assert await page.evaluate("navigator.onLine") is False
        probe = "fetch('/healthz', {cache: 'no-store'}).then(() => 'reached', () => 'no network')"
        assert await context.service_workers[0].evaluate(probe) == "no network"  # the worker is offline too
        # a key of CN-ZJ registered now: the lists the page holds have never seen it
        unseen = SigningKey.generate()
        r = await http.post("/v1/regions/CN-ZJ/keys", headers=bearer(keys["agency_zj"]),
                            json={"alg": "ES256", "spki": forge.spki_b64(unseen)})
        assert r.status == 201, await r.text()
        stranger = forge.sign(unseen, forge.claims("CN-ZJ", type_id="cn.resident_id",
                                                   fields={**SAMPLES["cn.resident_id"], "name": "陌生人"}))
        await page.reload()
        await page.locator("#scanner").wait_for(state="visible")
        assert await page.evaluate("navigator.serviceWorker.controller !== null")
        assert await page.locator("#key-panel").is_hidden()
        assert "Hotel check-in" in await page.locator("#purpose-name").inner_text()

        # typed: VALID with the hotel's fields, and the plain notice
        await scan_text(page, cred["qr_text"])
        assert await verdict(page, "ok") == "VALID"
        assert await page.locator(".details dd.name").inner_text() == "司马清风"
        text = await page.locator("#result").inner_text()
        assert "签发机关" not in text  # a hotel does not see the issuing authority
        shown = set(await page.locator(".details dd").all_inner_texts())
        assert shown == {str(v) for k, v in online["fields"].items() if k not in ("photo", "valid_until")}
        assert "浙江省 / Zhejiang" in text  # the region's name, from the trust list
        note, stale = await offline_note(page)
        assert stale == "false" and "离线核验 · 名单截至 " in note
        assert re.search(r"Checked offline, lists as of \d{4}-\d{2}-\d{2} \d{2}:\d{2}", note), note
        assert await page.locator("#offline").is_hidden()  # not the server's stale banner
        await shot(page, "scan-offline-valid.png")
        await clear(page, "司马清风")

        # an uploaded photo, read on the device
        await page.locator("#file-input").set_input_files(str(picture))
        assert await verdict(page, "ok") == "VALID"
        assert await page.locator(".details dd.name").inner_text() == "司马清风"
        assert "Checked offline" in (await offline_note(page))[0]
        await clear(page, "司马清风")

        # the fake camera, read on the device
        await page.locator("#camera-button").click()
        assert await verdict(page, "ok") == "VALID"
        assert await page.locator(".details dd.name").inner_text() == "司马清风"
        assert "Checked offline" in (await offline_note(page))[0]
        assert await page.locator("#camera").is_hidden()
        await clear(page, "司马清风")

        # tampered, revoked before going offline, and a key the page has never seen
        await scan_text(page, tampered)
        assert await verdict(page, "bad") == "SIGNATURE_INVALID"
        assert await page.locator(".details dd").count() == 0 and "Checked offline" in (await offline_note(page))[0]
        await clear(page)
        await scan_text(page, revoked["qr_text"])
        assert await verdict(page, "bad") == "REVOKED"
        assert await page.locator(".details dd.name").inner_text() == "欧阳修远"  # the name only, to identify
        assert "证照已被吊销" in await page.locator("#result").inner_text()
        await clear(page, "欧阳修远")
        await scan_text(page, stranger)
        assert await verdict(page, "bad") == "KID_UNKNOWN"
        await clear(page, "陌生人")

        # a show code needs its issuing region
        await scan_text(page, show_code)
        status = page.locator("#status.error")
        await status.wait_for()
        assert "needs a connection" in await status.inner_text() and "需联网" in await status.inner_text()
        assert await page.locator("#result").is_hidden()
        await nothing_personal_stored(page, ["司马清风", "欧阳修远", cred["fields"]["id_number"]])
        assert await page.locator("#lists-state").get_attribute("data-pending") == "4"  # 3 VALID, 1 REVOKED

        # -- online again: the queued checks reach the trail exactly once ------------------------
        delivered = []

        async def lose_first_answer(route):
            """The gateway gets the first delivery, its answer is lost: the page sends it again."""
            response = await route.fetch()
            delivered.append(response.status)
            if len(delivered) == 1:
                await route.abort("connectionreset")
            else:
                await route.fulfill(response=response)

        await context.route("**/v1/verifications:offline", lose_first_answer)
        await context.set_offline(False)
        await until(page, "() => document.getElementById('lists-state').dataset.pending === '0'")
        assert delivered == [200, 200]
        entries = await trail_entries(http, keys, suite, cred)
        fresh = entries[before:]
        assert [e["result"] for e in fresh] == ["VALID", "VALID", "VALID"], fresh
        assert {e["purpose"] for e in fresh} == {"hotel_check_in"}
        assert [e["result"] for e in await trail_entries(http, keys, suite, revoked)][-1:] == ["REVOKED"]
        await page.evaluate("window.ecertOffline.deliver()")  # nothing left to send
        assert len(await trail_entries(http, keys, suite, cred)) == len(entries)

        # -- past the lists' validity: the notice in amber ----------------------------------------
        await context.set_offline(True)
        await page.clock.install(time=datetime.now() + timedelta(hours=2))  # the status lists' validity: an hour
        await page.reload()
        await page.locator("#scanner").wait_for(state="visible")
        await scan_text(page, cred["qr_text"])
        assert await verdict(page, "ok") == "VALID"
        note, stale = await offline_note(page)
        assert stale == "true" and "past their validity" in note and "名单已过有效期" in note
        assert 25 <= await hue(page, "#result .offline-note", "color") <= 50  # amber
        assert "未能确认吊销状态" in await page.locator("#result").inner_text()
        await shot(page, "scan-offline-stale.png")
        await clear(page, "司马清风")

        # -- how big and how fast (reported, never asserted) --------------------------------------
        speed = await page.evaluate("(t) => window.ecertOffline.measure(t, 300)", cred["qr_text"])
        assert speed["result"] == "VALID"
        report("scan-offline", {
            "first_visit_bytes": page_bytes + worker_bytes, "page_bytes": page_bytes, "worker_bytes": worker_bytes,
            "ready_offline_seconds": round(ready_s, 2),
            "verifications_per_second": round(speed["n"] / speed["seconds"], 1),
        })
    finally:
        await context.close()


async def kept_root_key(page) -> str:
    return await page.evaluate("""async () => {
        const db = await new Promise((ok, bad) => { const r = indexedDB.open("ecert-scanner"); r.onsuccess = () => ok(r.result); r.onerror = bad; });
        const got = await new Promise((ok) => { const r = db.transaction("lists").objectStore("lists").get("root-key"); r.onsuccess = () => ok(r.result); });
        db.close();
        return got ? got.text : null;
    }""")


@needs_build
async def test_the_pinned_root_stays_and_a_captive_portal_breaks_nothing(browser, http, keys, offline_credential):
    """The root key is pinned on first use: the gateway serving another one later (not led to by the
    root chain) does not swap it, and the page says so; answers of 200 that are not the lists (a
    hotel Wi-Fi's login page) are stored nowhere, so the lists held still open and answer offline."""
    context = await browser.new_context(viewport=PHONE, locale="zh-CN")
    try:
        page = await context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        await page.goto(str(http.make_url("/scan")))
        await page.locator("#key-input").fill(keys["hotel"])
        await page.keyboard.press("Enter")
        await page.locator("#scanner").wait_for(state="visible")
        await until(page, "() => document.getElementById('lists-state').dataset.ready === 'true'")
        pinned = await kept_root_key(page)
        assert pinned and "BEGIN PUBLIC KEY" in pinned

        b64 = forge.spki_b64(SigningKey.generate())
        other = "-----BEGIN PUBLIC KEY-----\n" + "\n".join(b64[i:i + 64] for i in range(0, len(b64), 64)) + \
                "\n-----END PUBLIC KEY-----\n"

        async def other_root(route):
            await route.fulfill(status=200, body=other, content_type="application/x-pem-file")

        await context.route("**/scan/root-key.pem", other_root)
        await page.evaluate("window.ecertOffline.refresh()")
        assert await kept_root_key(page) == pinned
        assert await page.evaluate("window.ecertOffline.state().root_key_changed") is True
        line = page.locator("#lists-state")
        assert await line.get_attribute("data-root-key-changed") == "true"
        assert "root key is not the one this device pinned" in await line.inner_text()
        await context.unroute("**/scan/root-key.pem", other_root)

        async def portal(route):
            await route.fulfill(status=200, body="<html><body>请登录 Wi-Fi</body></html>", content_type="text/html")

        for pattern in ("**/scan/root-key.pem", "**/v1/**"):
            await context.route(pattern, portal)
        await page.evaluate("window.ecertOffline.refresh()")
        assert await kept_root_key(page) == pinned
        for pattern in ("**/scan/root-key.pem", "**/v1/**"):
            await context.unroute(pattern, portal)

        await context.set_offline(True)
        await page.reload()
        await page.locator("#scanner").wait_for(state="visible")
        await until(page, "() => document.getElementById('lists-state').dataset.ready === 'true'")
        await scan_text(page, offline_credential["qr_text"])
        assert await verdict(page, "ok") == "VALID"
        await clear(page)
    finally:
        await context.close()
