"""Issue 12, the photo library on the scanner page, in a real browser (Debian's Chromium, as in
tests/test_scan_browser.py): the holder's portrait large beside the name, fetched with the key
from the gateway (never from another host), shown only once its SHA-256 is the digest the
signed credential names, and cleared with the answer."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest

from ecert.imaging import portrait
from testkit import photos
from testkit.samples import SAMPLES
from tests.test_photos_gateway import HOLDER, upload
from tests.test_scan_browser import (  # noqa: F401  (browser and camera_credential are fixtures)
    PHONE,
    browser,
    camera_credential,
    issue_type,
    on_first_screen,
    open_scanner,
    scan_text,
    shot,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def card_with_portrait(http, keys, seed: int, name: str) -> tuple[dict, str]:
    answer = await upload(http, keys["agency_zj"], photos.portrait(seed, gps=True))
    card = await issue_type(http, keys, "cn.resident_id", {**HOLDER, "name": name, "photo": answer["digest"]})
    return card, answer["digest"]


async def test_a_shanghai_hotel_sees_the_zhejiang_holders_portrait_beside_the_name(browser, http, keys, suite):  # noqa: F811
    card, digest = await card_with_portrait(http, keys, 201, "林晓雯")
    hotel = await suite.api_key("hotel", "CN-SH")
    context, page = await open_scanner(browser, http, hotel)
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    try:
        await scan_text(page, card["qr_text"])
        await page.locator(".verdict.ok").wait_for()
        img = page.locator(".details .portrait.checked img")
        await img.wait_for()
        assert await img.evaluate("i => i.naturalWidth") == 358 and await img.evaluate("i => i.naturalHeight") == 441
        assert (await img.get_attribute("src")).startswith("blob:")
        assert "照片已核对" in await page.locator(".details .portrait").inner_text()
        # large, and beside the name: the same row, to its left
        picture, name = await img.bounding_box(), await page.locator(".details dd.name").bounding_box()
        assert picture["width"] >= 130 and picture["x"] + picture["width"] <= name["x"]
        assert picture["y"] <= name["y"] < picture["y"] + picture["height"]
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        await on_first_screen(page, ".verdict.ok")
        await on_first_screen(page, ".details dd.name")
        await shot(page, "scan-phone-portrait.png")
        # fetched from the gateway itself, with the credential, its region and the purpose judged
        origin = str(http.make_url("/")).rstrip("/")
        assert all(url.startswith(origin) or url.startswith("blob:") or url.startswith("data:") for url in requests)
        asked = [u for u in requests if "/v1/photos/" in u]
        assert len(asked) == 1 and urlsplit(asked[0]).path == f"/v1/photos/{digest}"
        assert parse_qs(urlsplit(asked[0]).query) == {"credential": [card["id"]], "region": ["CN-ZJ"],
                                                      "purpose": ["hotel_check_in"]}
        # cleared with the answer: the picture, and its blob URL
        url = await img.get_attribute("src")
        await page.locator("#clear").click()
        await page.locator("#result").wait_for(state="hidden")
        assert await page.locator(".portrait").count() == 0
        assert await page.evaluate("u => fetch(u).then(() => 'kept', () => 'revoked')", url) == "revoked"
    finally:
        await context.close()


async def test_bytes_that_do_not_match_the_digest_show_a_warning_not_the_picture(browser, http, keys):  # noqa: F811
    card, _ = await card_with_portrait(http, keys, 202, "何雨桐")
    someone_else = portrait.reencode(photos.portrait(203)).data
    context, page = await open_scanner(browser, http, keys["hotel"])
    try:
        # what a compromised path between the region and the page would hand over
        await page.route("**/v1/photos/**", lambda route: route.fulfill(status=200, body=someone_else,
                                                                       content_type="image/jpeg"))
        await scan_text(page, card["qr_text"])
        frame = page.locator(".details .portrait.mismatch")
        await frame.wait_for()
        assert await frame.locator("img").count() == 0
        text = await frame.inner_text()
        assert "照片与证照记录不符" in text and "does not match" in text
        assert await page.locator(".verdict.ok").count() == 1  # the credential itself is still valid
    finally:
        await context.close()


async def test_a_photo_the_gateway_does_not_serve_says_so_and_the_answer_stays(browser, http, keys, suite):  # noqa: F811
    fields = {**SAMPLES["cn.resident_id"], "name": "钱一鸣",
              "photo": hashlib.sha256(b"filed before the library").hexdigest()}
    await suite.store.add_photo("CN-ZJ", fields["photo"], "image/jpeg", b"filed before the library", 0, 0, 0)
    card = await issue_type(http, keys, "cn.resident_id", fields)
    await suite.store.backend.update("photos", f"CN-ZJ:{fields['photo']}", {"bytes": "AAAA"})  # now it is not
    context, page = await open_scanner(browser, http, keys["hotel"])
    try:
        await scan_text(page, card["qr_text"])
        frame = page.locator(".details .portrait.unavailable")
        await frame.wait_for()
        assert "照片暂不可用" in await frame.inner_text()
        assert await page.locator(".details dd.name").inner_text() == "钱一鸣"
    finally:
        await context.close()
