"""Issues 4 and 11 in a real browser: Playwright drives Debian's Chromium against the suite's gateway.

Three ways in: a picture uploaded, the live camera (Chromium's fake camera plays a
YUV4MPEG2 video of a QR code) and a handheld scanner typing into the text box. The
browser is Debian's (`make test` installs it); Playwright never downloads one.

Issue 11: the page tells the truth at a glance. One validity line (the document's own, China
time, the region's name), warnings in amber, "not accepted for this purpose" in its own colour,
the identifying fields of an authentic credential that is not current, the purpose shown and
chosen (and sent on every path), and on a phone the verdict and the name on the first screen.
Screenshots go to ``ECERT_SCREENSHOT_DIR`` when it is set.
"""

from __future__ import annotations

import colorsys
import contextlib
import json
import os
import random
import re
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image

from ecert.format.keys import SigningKey
from ecert.rules.document import china_day
from testkit import photos
from testkit.samples import SAMPLES, driving_licence
from tests import forge
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
    """A driving licence (CN-ZJ) of ``name``."""
    return await issue_type(http, keys, "cn.driving_licence", driving_licence(name=name))


async def issue_id_card(http, keys, name: str, **overrides) -> dict:
    """A resident identity card (CN-ZJ) of ``name``: what a hotel checks in."""
    return await issue_type(http, keys, "cn.resident_id", {**SAMPLES["cn.resident_id"], "name": name, **overrides})


async def issue_type(http, keys, type_id: str, fields: dict) -> dict:
    r = await http.post("/v1/credentials", headers=bearer(keys["agency_zj"]), json={
        "region": "CN-ZJ", "type": type_id, "fields": fields})
    assert r.status == 201, await r.text()
    return await r.json()


async def forged_resident_card(http, keys, suite, name: str, **dates) -> str:
    """An EC1 text of a CN-ZJ resident card signed as before the document checks existed (a key
    only the test holds): its own dates outside their validity while the e-certificate is current."""
    key = SigningKey.generate()
    r = await http.post("/v1/regions/CN-ZJ/keys", headers=bearer(keys["agency_zj"]),
                        json={"alg": "ES256", "spki": forge.spki_b64(key)})
    assert r.status == 201, await r.text()
    await suite.refresh()
    fields = {**SAMPLES["cn.resident_id"], "name": name, **dates}
    return forge.sign(key, forge.claims("CN-ZJ", type_id="cn.resident_id", fields=fields))


OVERDUE_VEHICLE = {**SAMPLES["cn.vehicle_licence"], "owner": "沈明远", "inspection_valid_until": "2026-03-31"}
ID_UNTIL = SAMPLES["cn.resident_id"]["valid_until"]


@pytest.fixture(scope="module")
async def camera_credential(http, keys):
    return await issue(http, keys, "周若兰")


@contextlib.asynccontextmanager
async def camera_browser(qr_text: str, video: Path):
    """Headless Chromium whose fake camera films ``qr_text`` as a QR code (the frames written to ``video``)."""
    write_y4m(video, camera_frames(qr_text))
    async with playwright_api.async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}"])
        yield b
        await b.close()


@pytest.fixture(scope="module")
async def browser(camera_credential, tmp_path_factory):
    async with camera_browser(camera_credential["qr_text"], tmp_path_factory.mktemp("camera") / "qr.y4m") as b:
        yield b


async def open_scanner(browser, http, key: str, viewport=PHONE, context=None):
    context = context or await browser.new_context(viewport=viewport, locale="zh-CN")
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    await page.goto(str(http.make_url("/scan")))
    await page.locator("#key-input").fill(key)
    await page.keyboard.press("Enter")
    await page.locator("#scanner").wait_for(state="visible")
    return context, page


async def shot(page, name: str) -> None:
    """The whole page, and on a phone also the first screen as the operator sees it."""
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(Path(SHOTS) / name), full_page=True)
        if page.viewport_size == PHONE:
            await page.evaluate("window.scrollTo(0, 0)")
            await page.screenshot(path=str(Path(SHOTS) / name.replace(".png", "-first-screen.png")))


async def assert_cleared(page, name: str) -> None:
    await page.locator("#clear").click()
    await page.locator("#result").wait_for(state="hidden")
    assert name not in await page.content()
    assert await page.evaluate("Object.keys(sessionStorage)") == ["ecert.scanner.apiKey"]
    assert await page.evaluate("localStorage.length") == 0


def record_verifications(page) -> list:
    """The answers to the page's verification requests, as they come."""
    answers = []
    page.on("response", lambda r: answers.append(r) if r.url.endswith("/v1/verifications") else None)
    return answers


def sent_purpose(response) -> str | None:
    """The ``purpose`` member of a JSON verification request (None: it sent none); "multipart"
    for a picture (Playwright shows no body holding a file: the answer's purpose tells)."""
    request = response.request
    if "multipart/form-data" in (request.headers.get("content-type") or ""):
        return "multipart"
    return json.loads(request.post_data).get("purpose")


async def judged(responses) -> list[str | None]:
    """The purpose each answer (a camera's empty frames aside) was judged for: its ``purpose`` member."""
    out = []
    for response in responses:
        body = await response.json()
        if body.get("result") != "NO_CODE_FOUND":
            out.append(body.get("purpose"))
    return out


async def on_first_screen(page, selector: str) -> None:
    """The element is on a phone's first screen: inside the top PHONE height of the page, no scrolling."""
    bottom = await page.locator(selector).first.evaluate("e => e.getBoundingClientRect().bottom + window.scrollY")
    assert 0 < bottom <= PHONE["height"], (selector, bottom)


async def hue(page, selector: str, prop: str = "backgroundColor") -> float:
    """The hue (degrees) of an element's computed colour."""
    text = await page.locator(selector).first.evaluate(f"e => getComputedStyle(e).{prop}")
    r, g, b = (int(x) / 255 for x in re.findall(r"\d+", text)[:3])
    return colorsys.rgb_to_hsv(r, g, b)[0] * 360


async def scan_text(page, text: str) -> None:
    """What a handheld scanner does: type the code into the box, then Enter."""
    await page.locator("#code-input").focus()
    await page.keyboard.type(text)
    await page.keyboard.press("Enter")


async def field_values(page) -> list[str]:
    return await page.locator(".details dd").all_inner_texts()


async def test_uploading_a_photo_shows_valid_and_the_holders_name(browser, http, keys, tmp_path):
    cred = await issue_id_card(http, keys, "吴家乐")
    picture = tmp_path / "card.jpg"
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
        assert "姓名" in text and await page.locator(".details .portrait").count() == 1  # hotels are shown the portrait
        assert "签发机关" not in text  # a hotel does not see the issuing authority
        # One validity line, the card's own (the hotel sees its end), in China time, with the
        # issuing region's name; the date is not repeated in the list of fields.
        line = page.locator(".details .validity")
        assert await line.count() == 1
        line_text = await line.inner_text()
        assert f"有效期至 {ID_UNTIL}" in line_text and f"Valid until {ID_UNTIL}" in line_text
        assert "China time (UTC+8)" in line_text and "浙江省 / Zhejiang" in line_text
        assert "CN-ZJ" not in text and ID_UNTIL not in await field_values(page)
        # The hotel's one purpose is shown; there is nothing to choose.
        assert "Hotel check-in" in await page.locator("#purpose-name").inner_text()
        assert await page.locator("#purpose-select").is_hidden()
        assert await page.locator("#scan-next").is_hidden()  # only after a camera scan
        # A phone-sized screen: nothing wider than the screen; the verdict and the name on the first screen.
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        await on_first_screen(page, ".verdict.ok")
        await on_first_screen(page, ".details dd.name")
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
        licence = driving_licence()
        assert f"有效期 {licence['valid_from']} 至 {licence['valid_until']}" in \
            await page.locator(".details .validity").inner_text()  # police see both ends
        assert await page.locator("#camera").is_hidden()  # the camera stops once an answer is shown
        assert await page.locator("#scan-next").is_visible()
        await shot(page, "scan-desktop-camera.png")
        await assert_cleared(page, "周若兰")
        # The vehicle check does not take a driving licence: the camera's frames carry the choice.
        answers = record_verifications(page)
        await page.locator("#purpose-select").select_option("roadside_vehicle_check")
        await page.locator("#camera-button").click()
        await page.locator(".verdict.na").wait_for()
        assert await page.locator(".details dd.name").inner_text() == "周若兰"  # genuine: the officer sees who
        assert await judged(answers) == ["roadside_vehicle_check"]
        await shot(page, "scan-desktop-camera-not-accepted.png")
    finally:
        await context.close()


async def test_a_handheld_scanner_typing_into_the_box_verifies(browser, http, keys, suite):
    cred = await issue_id_card(http, keys, "郑海峰")
    revoked = await issue_id_card(http, keys, "冯青青")
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
        # A revoked card is red, with the reason in Chinese and English, and the holder's name
        # (all a hotel may see of it) under the verdict, marked as for identification only.
        await scan_text(page, revoked["qr_text"])
        bad = page.locator(".verdict.bad")
        await bad.wait_for()
        text = await bad.inner_text()
        assert "证照已被吊销" in text and "revoked" in text and "REVOKED" in text
        assert await page.locator(".details dd.name").inner_text() == "冯青青"
        assert "仅用于识别" in await page.locator(".details .who").inner_text()
        line = await page.locator(".details .validity").inner_text()
        assert "浙江省 / Zhejiang" in line and "有效期" not in line  # no "valid until" under a revoked verdict
        assert await field_values(page) == ["冯青青"]  # the name only, for a hotel
        assert revoked["fields"]["id_number"] not in await page.content()
        verdict_box = await bad.bounding_box()
        name_box = await page.locator(".details dd.name").bounding_box()
        assert name_box["y"] >= verdict_box["y"] + verdict_box["height"]  # under the verdict
        await on_first_screen(page, ".verdict.bad")
        await on_first_screen(page, ".details dd.name")
        await shot(page, "scan-phone-revoked.png")
        await assert_cleared(page, "冯青青")
        # A code that is no credential at all shows the verdict and nothing else.
        await scan_text(page, "EC1:NOT A CREDENTIAL")
        await page.locator(".verdict.bad").wait_for()
        assert await page.locator(".details").count() == 0
    finally:
        await context.close()


async def test_a_hotel_is_told_a_vehicle_licence_is_genuine_but_not_for_check_in(browser, http, keys):
    vehicle = await issue_type(http, keys, "cn.vehicle_licence", OVERDUE_VEHICLE)
    context, page = await open_scanner(browser, http, keys["hotel"])
    try:
        answers = record_verifications(page)
        await scan_text(page, vehicle["qr_text"])
        verdict = page.locator(".verdict.na")
        await verdict.wait_for()
        text = await verdict.inner_text()
        assert "证照真实有效，但不适用于此核验用途" in text and "Genuine, but not accepted for this purpose" in text
        assert "不适用" in text and "NOT ACCEPTED" in text and "有效 VALID" not in text
        purpose_name = await page.locator("#purpose-name").inner_text()
        assert "Hotel check-in" in purpose_name and purpose_name in text  # the purpose it was judged for
        # Its own colour: neither the green of VALID nor the red of a forged or revoked one.
        assert 200 <= await hue(page, ".verdict.na") <= 320
        assert not await page.locator(".verdict.ok, .verdict.bad, .warnings").count()
        result = await page.locator("#result").inner_text()
        assert "机动车行驶证" in result and "浙江省 / Zhejiang" in result and "CN-ZJ" not in result
        for value in ("沈明远", OVERDUE_VEHICLE["plate_number"], OVERDUE_VEHICLE["vin"], "2026-03-31"):
            assert value not in await page.content()  # a hotel sees nothing of a vehicle, nor its inspection
        assert [sent_purpose(a) for a in answers] == ["hotel_check_in"]
        assert await judged(answers) == ["hotel_check_in"]
        await on_first_screen(page, ".verdict.na")
        await shot(page, "scan-phone-hotel-not-accepted.png")
    finally:
        await context.close()


async def test_police_choose_the_vehicle_check_and_see_an_overdue_inspection_in_amber(browser, http, keys, tmp_path):
    vehicle = await issue_type(http, keys, "cn.vehicle_licence", OVERDUE_VEHICLE)
    context, page = await open_scanner(browser, http, keys["police"])
    try:
        answers = record_verifications(page)
        select = page.locator("#purpose-select")
        assert await select.is_visible()  # the officer's role has three purposes
        options = await select.locator("option").evaluate_all("os => os.map(o => o.value)")
        assert options == ["roadside_driver_check", "roadside_vehicle_check", "transport_inspection"]
        assert await select.input_value() == "roadside_driver_check"  # the role's default
        # The driver check does not take a vehicle licence.
        await scan_text(page, vehicle["qr_text"])
        await page.locator(".verdict.na").wait_for()
        assert await page.locator(".details dd.name").inner_text() == "沈明远"  # the officer sees whose it is
        # The vehicle check: VALID, the lapsed inspection in amber with its reason and date.
        await select.select_option("roadside_vehicle_check")
        await page.locator("#result").wait_for(state="hidden")  # an answer for another purpose goes
        await scan_text(page, vehicle["qr_text"])
        await page.locator(".verdict.ok").wait_for()
        warning = page.locator(".warnings .warning")
        assert await warning.count() == 1
        text = await warning.inner_text()
        assert "机动车检验已逾期" in text and "Vehicle inspection overdue" in text and "2026-03-31" in text
        assert await warning.get_attribute("data-code") == "INSPECTION_OVERDUE"
        assert 25 <= await hue(page, ".warnings .warning", "color") <= 50  # amber
        assert 25 <= await hue(page, ".warnings") <= 55
        assert await page.locator(".details dd.name").inner_text() == "沈明远"
        assert await page.locator(".details dd.lapsed").inner_text() == "2026-03-31"
        # No main validity of its own: the e-certificate's, as a China date (the day of its last second),
        # and the region's name.
        line = await page.locator(".details .validity").inner_text()
        last_day = china_day(int(datetime.fromisoformat(vehicle["expires_at"]).timestamp()) - 1)
        assert f"电子证照有效期至 {last_day} " in line and f"E-certificate valid until {last_day}" in line
        assert "浙江省 / Zhejiang" in line
        await on_first_screen(page, ".verdict.ok")
        await on_first_screen(page, ".warnings")
        await on_first_screen(page, ".details dd.name")
        await shot(page, "scan-phone-police-overdue.png")
        # A picture carries the purpose too.
        picture = tmp_path / "vehicle.png"
        picture.write_bytes(photos.photo([vehicle["qr_text"]], random.Random(5), photos.Shot(ppm=4.0, angle=3)))
        await page.locator("#clear").click()
        await page.locator("#file-input").set_input_files(str(picture))
        await page.locator(".verdict.ok").wait_for()
        assert await page.locator(".warnings .warning").count() == 1
        assert [sent_purpose(a) for a in answers] == ["roadside_driver_check", "roadside_vehicle_check", "multipart"]
        assert await judged(answers) == ["roadside_driver_check", "roadside_vehicle_check", "roadside_vehicle_check"]
    finally:
        await context.close()


async def test_an_open_ended_document_says_so(browser, http, keys):
    card = await issue_id_card(http, keys, "陆晓彤", valid_until="长期")
    context, page = await open_scanner(browser, http, keys["police"])
    try:
        await scan_text(page, card["qr_text"])
        await page.locator(".verdict.ok").wait_for()
        line = await page.locator(".details .validity").inner_text()
        valid_from = SAMPLES["cn.resident_id"]["valid_from"]
        assert f"有效期 {valid_from} 至 长期" in line and f"Valid from {valid_from}, no end date" in line
        assert "电子证照" not in line  # the document's own validity, not the e-certificate's
        assert "长期" not in await field_values(page) and valid_from not in await field_values(page)
        await on_first_screen(page, ".details dd.name")
        await shot(page, "scan-phone-police-open-ended.png")
    finally:
        await context.close()


async def test_a_card_past_its_own_end_says_expired_and_the_date_that_decided(browser, http, keys, suite):
    text = await forged_resident_card(http, keys, suite, "秦思远", valid_from="2005-01-01", valid_until="2015-01-01")
    context, page = await open_scanner(browser, http, keys["hotel"])
    answers = record_verifications(page)
    try:
        await scan_text(page, text)
        bad = page.locator(".verdict.bad")
        await bad.wait_for()
        assert "证照已过期" in await bad.inner_text() and "valid_until" in await bad.inner_text()
        assert (await answers[-1].json())["document"] == {"field": "valid_until", "date": "2015-01-01"}
        # The hotel sees only the name of it, yet the line gives the card's own end, the verifier's reason.
        line = await page.locator(".details .validity").inner_text()
        assert "有效期至 2015-01-01" in line and "电子证照" not in line and "浙江省 / Zhejiang" in line
        assert await field_values(page) == ["秦思远"]
        await on_first_screen(page, ".details dd.name")
        await shot(page, "scan-phone-expired-document.png")
    finally:
        await context.close()


async def test_a_card_before_its_own_start_says_not_yet_valid_and_the_date_that_decided(browser, http, keys, suite):
    start = "2031-04-15"
    text = await forged_resident_card(http, keys, suite, "严书宁", valid_from=start, valid_until="2051-04-15")
    context, page = await open_scanner(browser, http, keys["hotel"])

    async def reworded(route):  # the detail is for people: the page reads the date from `document`
        response = await route.fetch()
        body = await response.json()
        assert start in body["detail"]
        await route.fulfill(response=response, json={**body, "detail": "reworded"})

    await context.route("**/v1/verifications", reworded)
    answers = record_verifications(page)
    try:
        await scan_text(page, text)
        bad = page.locator(".verdict.bad")
        await bad.wait_for()
        assert "证照尚未生效" in await bad.inner_text() and "reworded" in await bad.inner_text()
        assert (await answers[-1].json())["document"] == {"field": "valid_from", "date": start}
        # Only the name is shown to a hotel: the line's date is the answer's, the card's own start.
        line = await page.locator(".details .validity").inner_text()
        assert line.startswith(f"自 {start} 起有效 Valid from {start}") and "电子证照" not in line, line
        assert "浙江省 / Zhejiang" in line and await field_values(page) == ["严书宁"]
    finally:
        await context.close()


async def test_a_stale_answer_raises_the_offline_banner_until_a_fresh_one(browser, http, keys):
    """Issue 13: an answer whose trust list is stale or whose status could not be checked against a
    current list raises an amber "offline since" banner naming the lists' as-of times (China time);
    it stays through Clear and goes with the next fresh answer. A credential without a status claim
    gets a neutral note. The gateway's answers are made stale on their way (``page.route``)."""
    cred = await issue_id_card(http, keys, "温雅琴")
    context = await browser.new_context(viewport=PHONE, locale="zh-CN")
    members: dict = {}  # what the answers are changed to say

    async def as_if(route):
        response = await route.fetch()
        await route.fulfill(response=response, json={**await response.json(), **members})

    await context.route("**/v1/verifications", as_if)
    try:
        _, page = await open_scanner(browser, http, keys["hotel"], context=context)
        banner = page.locator("#offline")
        assert await banner.is_hidden()
        members.update(trust_list_stale=True, trust_list_as_of="2026-05-01T06:03:00Z", status="unknown",
                       status_as_of="2026-05-01T05:30:00Z", status_checked=False)
        await scan_text(page, cred["qr_text"])
        await page.locator(".verdict.ok").wait_for()
        await banner.wait_for()
        text = await banner.inner_text()
        assert "离线 · 自 2026-05-01 13:30 起" in text and "Offline since 2026-05-01 13:30" in text  # the older
        assert "信任列表截至 2026-05-01 14:03" in text and "Trust list as of 2026-05-01 14:03" in text
        assert "吊销状态截至 2026-05-01 13:30" in text and "Revocation status as of 2026-05-01 13:30" in text
        assert "China time (UTC+8)" in text
        assert await banner.get_attribute("data-since") == "2026-05-01T05:30:00.000Z"
        assert 25 <= await hue(page, "#offline", "color") <= 50 and 25 <= await hue(page, "#offline") <= 55  # amber
        assert "未能确认吊销状态" in await page.locator("#result").inner_text()
        await on_first_screen(page, "#offline")
        await on_first_screen(page, ".verdict.ok")
        await shot(page, "scan-phone-offline.png")
        # Clear takes the answer, not the banner: the verifier is still as offline as it said.
        await assert_cleared(page, "温雅琴")
        assert await banner.is_visible()
        # Only the trust list stale, its time unknown: said so, without a time.
        members.update(trust_list_as_of=None, status="valid", status_as_of="2026-05-01T06:00:00Z",
                       status_checked=True)
        await scan_text(page, cred["qr_text"])
        await page.locator(".verdict.ok").wait_for()
        await page.wait_for_function("() => !document.getElementById('offline').dataset.since")
        text = await banner.inner_text()
        assert "离线" in text and "Offline" in text and "since" not in text
        assert "信任列表未能更新" in text and "吊销状态" not in text
        await page.locator("#clear").click()
        # A fresh answer clears it; a credential that has no status claim says so, neutrally.
        members.clear()
        members.update(trust_list_stale=False, status="not_tracked", status_as_of=None, status_checked=False)
        await scan_text(page, cred["qr_text"])
        await page.locator(".verdict.ok").wait_for()
        await banner.wait_for(state="hidden")
        note = page.locator(".details .status-note")
        assert "不登记吊销状态" in await note.inner_text() and "no revocation status" in await note.inner_text()
        assert await page.locator(".details .warn").count() == 0  # not a warning: nothing can revoke it
    finally:
        await context.close()


async def test_without_a_purposes_list_the_page_sends_no_purpose(browser, http, keys):
    cred = await issue(http, keys, "钱一鸣")
    context = await browser.new_context(viewport=PHONE, locale="zh-CN")
    await context.route("**/v1/purposes", lambda route: route.fulfill(
        status=404, content_type="application/json", body='{"error": {"code": "NOT_FOUND", "message": "no"}}'))
    try:
        _, page = await open_scanner(browser, http, keys["police"], context=context)
        assert await page.locator("#purpose-bar").is_hidden()
        answers = record_verifications(page)
        await scan_text(page, cred["qr_text"])
        await page.locator(".verdict.ok").wait_for()  # the role's default purpose takes a driving licence
        assert [sent_purpose(a) for a in answers] == [None]
        assert await judged(answers) == ["roadside_driver_check"]
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


async def test_an_agency_shows_a_code_that_counts_down_and_is_refreshed_before_it_runs_out(browser, http, keys,
                                                                                          suite):
    """Issue 12: for an agency's key, the 出示码 / Show code panel draws a single-use code (EP1) of a
    holder's credential, counts down to its end and fetches a fresh one before it runs out (the
    page's clock moved by Playwright); a Shanghai hotel checks the resident in with the code drawn."""
    from ecert.imaging import scan

    cred = await issue_id_card(http, keys, "欧阳晓彤")
    revoked = await issue_id_card(http, keys, "钟文博")
    assert (await http.post(f"/v1/credentials/{revoked['id']}:revoke", headers=bearer(keys["agency_zj"]))).status == 200
    hotel_sh = await suite.api_key("hotel", "CN-SH")
    context = await browser.new_context(viewport=PHONE, locale="zh-CN")
    try:
        page = await context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        await page.clock.install()
        made = []  # the page's requests for show codes, as they are answered
        page.on("response", lambda r: made.append(r) if r.url.endswith("/presentations") else None)
        await page.goto(str(http.make_url("/scan")))
        await page.locator("#key-input").fill(keys["agency_zj"])
        await page.keyboard.press("Enter")
        await page.locator("#show-panel").wait_for(state="visible")
        assert await page.locator("#show-code").is_hidden()
        options = await page.locator("#show-purpose option").evaluate_all("os => os.map(o => o.value)")
        assert options[0] == "" and "hotel_check_in" in options  # any purpose, or the one the holder chose

        await page.locator("#show-id").fill(cred["id"].lower())
        await page.locator("#show-purpose").select_option("hotel_check_in")
        await page.locator("#show-form button[type=submit]").click()
        drawn = "() => { const i = document.getElementById('show-qr'); return i.complete && i.naturalWidth > 0 }"
        await page.wait_for_function(drawn)
        first = await made[0].json()
        assert made[0].status == 201 and first["purpose"] == "hotel_check_in"
        assert await page.locator("#show-qr").get_attribute("data-token-id") == first["token_id"]
        left = int(await page.locator("#show-countdown").get_attribute("data-left"))
        assert 295 <= left <= 300
        assert re.search(r"剩余 [45]:\d\d", await page.locator("#show-countdown").inner_text())
        seen = await page.locator("#show-qr").screenshot()  # what the screen shows is the code itself
        assert scan.decode_image(seen) == [first["token"]]
        assert "欧阳晓彤" not in await page.content()
        await shot(page, "scan-phone-show-code.png")

        # 281 s on: 20 s before the end a fresh code replaces it, and the countdown starts again.
        await page.clock.fast_forward("04:41")
        await page.wait_for_function(
            f"() => document.getElementById('show-qr').dataset.tokenId !== '{first['token_id']}'")
        await page.wait_for_function(drawn)
        second = await made[1].json()
        assert second["token"] != first["token"] and second["purpose"] == "hotel_check_in"
        assert await page.locator("#show-qr").get_attribute("data-token-id") == second["token_id"]
        assert int(await page.locator("#show-countdown").get_attribute("data-left")) >= 295

        # The Shanghai hotel reads the code on the screen and checks the resident in.
        r = await http.post("/v1/verifications", headers=bearer(hotel_sh), json={"payload": second["token"]})
        answer = await r.json()
        assert answer["result"] == "VALID" and answer["fields"]["name"] == "欧阳晓彤"
        assert answer["purpose"] == "hotel_check_in" and answer["credential"]["region"] == "CN-ZJ"

        # Stopped: the code leaves the page; a revoked credential is not shown at all.
        await page.locator("#show-stop").click()
        await page.locator("#show-code").wait_for(state="hidden")
        assert await page.locator("#show-qr").get_attribute("src") is None
        await page.locator("#show-id").fill(revoked["id"])
        await page.locator("#show-form button[type=submit]").click()
        await page.locator("#show-status.error").wait_for()
        assert "不能出示" in await page.locator("#show-status").inner_text()
        assert await page.locator("#show-code").is_hidden()
    finally:
        await context.close()
    # A hotel's key has no such panel.
    context, page = await open_scanner(browser, http, keys["hotel"])
    try:
        assert await page.locator("#show-panel").is_hidden()
    finally:
        await context.close()
