"""Issue 4 in a real browser: Playwright drives Debian's Chromium against the suite's gateway.

Three ways in: a picture uploaded, the live camera (Chromium's fake camera plays a
YUV4MPEG2 video of a QR code) and a handheld scanner typing into the text box. The
browser is Debian's (`make test` installs it); Playwright never downloads one.
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import pytest
from PIL import Image

from testkit import photos
from testkit.samples import driving_licence
from tests.conftest import bearer

playwright_api = pytest.importorskip("playwright.async_api", reason="the Python package playwright is not installed")

CHROMIUM = os.environ.get("ECERT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM}: `make test` installs Debian's (apt-get install chromium)",
                allow_module_level=True)

pytestmark = pytest.mark.asyncio(loop_scope="session")

PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 20_000
SHOTS = os.environ.get("ECERT_SCREENSHOT_DIR")  # where to keep screenshots to look at (optional)


def write_y4m(path: Path, frames: list[Image.Image], fps: int = 10) -> None:
    """YUV4MPEG2, 4:2:0 (C420jpeg): the format Chromium's fake camera plays (in a loop)."""
    w, h = frames[0].size
    with path.open("wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            y, cb, cr = frame.convert("YCbCr").split()
            f.write(b"FRAME\n")
            f.write(y.tobytes())
            f.write(cb.resize((w // 2, h // 2), Image.Resampling.BOX).tobytes())
            f.write(cr.resize((w // 2, h // 2), Image.Resampling.BOX).tobytes())


def camera_frames(text: str, n: int = 20) -> list[Image.Image]:
    """A card held in front of the camera: the code (3 px per module) drifting a little on a grey desk."""
    code = photos.qr_image(text, 3).convert("RGB")
    rng = random.Random(9)
    frames = []
    for i in range(n):
        frame = Image.new("RGB", (640, 480), (118, 112, 104))
        x = (640 - code.width) // 2 + rng.randint(-12, 12)
        y = (480 - code.height) // 2 + rng.randint(-8, 8)
        frame.paste(code, (x, y))
        frames.append(frame)
    return frames


async def issue(http, keys, name: str) -> dict:
    r = await http.post("/v1/credentials", headers=bearer(keys["agency_zj"]), json={
        "region": "CN-ZJ", "type": "cn.driving_licence", "fields": driving_licence(name=name)})
    assert r.status == 201, await r.text()
    return await r.json()


@pytest.fixture(scope="module")
async def camera_credential(http, keys):
    return await issue(http, keys, "周若兰")


@pytest.fixture(scope="module")
async def browser(camera_credential, tmp_path_factory):
    video = tmp_path_factory.mktemp("camera") / "qr.y4m"
    write_y4m(video, camera_frames(camera_credential["qr_text"]))
    async with playwright_api.async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}"])
        yield b
        await b.close()


async def open_scanner(browser, http, key: str, viewport=PHONE):
    context = await browser.new_context(viewport=viewport, locale="zh-CN")
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    await page.goto(str(http.make_url("/scan")))
    await page.locator("#key-input").fill(key)
    await page.keyboard.press("Enter")
    await page.locator("#scanner").wait_for(state="visible")
    return context, page


async def shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(Path(SHOTS) / name), full_page=True)


async def assert_cleared(page, name: str) -> None:
    await page.locator("#clear").click()
    await page.locator("#result").wait_for(state="hidden")
    assert name not in await page.content()
    assert await page.evaluate("Object.keys(sessionStorage)") == ["ecert.scanner.apiKey"]
    assert await page.evaluate("localStorage.length") == 0


async def test_uploading_a_photo_shows_valid_and_the_holders_name(browser, http, keys, tmp_path):
    cred = await issue(http, keys, "吴家乐")
    picture = tmp_path / "licence.jpg"
    picture.write_bytes(photos.photo([cred["qr_text"]], random.Random(21),
                                     photos.Shot(ppm=3.0, angle=12, slant=0.04, blur=0.4, noise=4, quality=80)))
    context, page = await open_scanner(browser, http, keys["hotel"])
    try:
        await page.locator("#file-input").set_input_files(str(picture))
        verdict = page.locator(".verdict.ok")
        await verdict.wait_for()
        assert "有效" in await verdict.inner_text() and "VALID" in await verdict.inner_text()
        assert await page.locator(".details dd.name").inner_text() == "吴家乐"
        text = await page.locator("#result").inner_text()
        assert "姓名" in text and "照片摘要" in text  # labels from the type's schema; hotels see the photo digest
        assert "准驾车型" not in text  # a hotel does not see the licence class
        assert await page.locator("#scan-next").is_hidden()  # only after a camera scan
        # A phone-sized screen: nothing wider than the screen.
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        await shot(page, "scan-phone-valid.png")
        await assert_cleared(page, "吴家乐")
    finally:
        await context.close()


async def test_the_camera_scans_a_code_live(browser, http, keys, camera_credential):
    context, page = await open_scanner(browser, http, keys["police"], viewport={"width": 1024, "height": 768})
    try:
        await page.locator("#camera-button").click()
        await page.locator(".verdict.ok").wait_for()
        assert await page.locator(".details dd.name").inner_text() == "周若兰"
        assert "准驾车型" in await page.locator("#result").inner_text()  # police see the licence class
        assert await page.locator("#camera").is_hidden()  # the camera stops once an answer is shown
        assert await page.locator("#scan-next").is_visible()
        await shot(page, "scan-desktop-camera.png")
        await assert_cleared(page, "周若兰")
    finally:
        await context.close()


async def test_a_handheld_scanner_typing_into_the_box_verifies(browser, http, keys, suite):
    cred = await issue(http, keys, "郑海峰")
    revoked = await issue(http, keys, "冯青青")
    r = await http.post(f"/v1/credentials/{revoked['id']}:revoke", headers=bearer(keys["agency_zj"]))
    assert r.status == 200
    await suite.refresh()
    context, page = await open_scanner(browser, http, keys["hotel"])
    try:
        # The box has the focus: the scanner just types, then Enter.
        assert await page.evaluate("document.activeElement.id") == "code-input"
        await page.keyboard.type(cred["qr_text"])
        await page.keyboard.press("Enter")
        await page.locator(".verdict.ok").wait_for()
        assert await page.locator(".details dd.name").inner_text() == "郑海峰"
        await assert_cleared(page, "郑海峰")
        # A failure is red, with the reason in Chinese and English, and no personal fields.
        await page.locator("#code-input").focus()
        await page.keyboard.type(revoked["qr_text"])
        await page.keyboard.press("Enter")
        bad = page.locator(".verdict.bad")
        await bad.wait_for()
        text = await bad.inner_text()
        assert "证照已被吊销" in text and "revoked" in text and "REVOKED" in text
        assert "冯青青" not in await page.content()
        await shot(page, "scan-phone-revoked.png")
    finally:
        await context.close()


async def test_a_wrong_key_is_refused_and_asked_again(browser, http):
    context = await browser.new_context(viewport=PHONE)
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        await page.goto(str(http.make_url("/scan")))
        await page.locator("#key-input").fill("ek_not_a_real_key")
        await page.keyboard.press("Enter")
        await page.locator("#key-error").filter(has_text="API key").wait_for()
        assert await page.locator("#scanner").is_hidden()
        assert await page.evaluate("sessionStorage.length") == 0
    finally:
        await context.close()
