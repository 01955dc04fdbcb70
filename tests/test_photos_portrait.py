"""Issue 12, the photo library: a portrait is checked and re-encoded to the picture alone
(ecert.imaging.portrait), and the store keeps it once per region (both backends)."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib

import pytest
from PIL import Image, PngImagePlugin

from ecert.errors import InvalidRequest, RuleViolation, TooLarge, UnsupportedMedia
from ecert.imaging import pictures, portrait
from ecert.limits import MAX_PHOTO_BYTES, MAX_PHOTO_PIXELS, MAX_PHOTO_SIDE, MIN_PHOTO_SIDE, PHOTO_STORED_SIDE
from ecert.store import Store
from testkit import photos
from tests.test_store_contract import store  # noqa: F401  (the store on each backend)


def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` × ``height`` and holds one tiny compressed row: a bomb's header."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b"")


def _jpeg(im: Image.Image, **options) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", **options)
    return buf.getvalue()


# -- what is kept ---------------------------------------------------------------------------------

def test_a_jpeg_with_gps_exif_comes_back_without_any_metadata():
    sent = photos.portrait(1, gps=True, icc=True, text="taken at the Bund")
    before = Image.open(io.BytesIO(sent))
    assert before.getexif().get_ifd(0x8825)[2] == photos.GPS_SHANGHAI[2]  # the upload does carry a location
    assert "icc_profile" in before.info and before.info["comment"] == b"taken at the Bund"
    kept = portrait.reencode(sent)
    after = Image.open(io.BytesIO(kept.data))
    assert after.format == "JPEG" and (after.width, after.height) == (kept.width, kept.height) == before.size
    assert len(after.getexif()) == 0 and not after.getexif().get_ifd(0x8825)
    assert not {"exif", "icc_profile", "comment", "xmp", "photoshop"} & set(after.info)
    assert b"Exif" not in kept.data and b"ExampleCam" not in kept.data and b"Bund" not in kept.data
    assert kept.digest == hashlib.sha256(kept.data).hexdigest() and kept.media_type == "image/jpeg"


def test_a_png_loses_its_text_chunks_and_becomes_a_jpeg():
    sent = photos.portrait(2, kind="png", text="holder: 王小明")
    assert Image.open(io.BytesIO(sent)).text == {"Comment": "holder: 王小明"}
    kept = portrait.reencode(sent)
    assert kept.data.startswith(b"\xff\xd8\xff") and "王小明".encode() not in kept.data
    assert Image.open(io.BytesIO(kept.data)).size == (358, 441)


def test_the_same_picture_gives_the_same_bytes_and_another_picture_other_bytes():
    a, b = portrait.reencode(photos.portrait(3)), portrait.reencode(photos.portrait(3))
    assert a.data == b.data and a.digest == b.digest
    assert portrait.reencode(photos.portrait(4)).digest != a.digest
    # the same pixels with and without a location are one picture... (the metadata is not kept)
    assert portrait.reencode(photos.portrait(3, gps=True)).digest == a.digest


def test_a_picture_turned_by_its_exif_orientation_is_stored_upright():
    sideways = Image.new("RGB", (440, 360), (200, 190, 180))  # stored on its side: 6 = turn 90° clockwise
    sideways.paste((10, 10, 10), (0, 0, 40, 40))  # a dark corner, top left as stored
    exif = Image.Exif()
    exif[0x0112] = 6
    kept = portrait.reencode(_jpeg(sideways, exif=exif.tobytes()))
    assert (kept.width, kept.height) == (360, 440)  # upright: a portrait
    upright = Image.open(io.BytesIO(kept.data)).convert("L")
    assert upright.getpixel((350, 10)) < 60 and upright.getpixel((10, 10)) > 150  # now top right
    # the same picture without the tag is refused: it is not a portrait
    with pytest.raises(RuleViolation) as err:
        portrait.reencode(_jpeg(sideways))
    assert err.value.code == "PHOTO_NOT_PORTRAIT"


def test_a_large_photo_is_stored_at_most_the_stored_side():
    kept = portrait.reencode(photos.portrait(5, size=(3000, 4000)))
    assert (kept.width, kept.height) == (PHOTO_STORED_SIDE * 3 // 4, PHOTO_STORED_SIDE)


def test_transparency_cmyk_and_sixteen_bit_grey_are_made_plain():
    rgba = Image.new("RGBA", (300, 400), (0, 0, 0, 0))
    buf = io.BytesIO()
    rgba.save(buf, "PNG")
    kept = Image.open(io.BytesIO(portrait.reencode(buf.getvalue()).data))
    assert kept.mode == "RGB" and min(kept.getpixel((150, 200))) > 245  # put on white
    cmyk = _jpeg(Image.new("CMYK", (300, 400), (0, 100, 100, 0)))
    assert Image.open(io.BytesIO(portrait.reencode(cmyk).data)).mode == "RGB"
    grey16 = Image.new("I;16", (300, 400), 40000)
    buf = io.BytesIO()
    grey16.save(buf, "PNG")
    kept = Image.open(io.BytesIO(portrait.reencode(buf.getvalue()).data))
    assert kept.mode == "L" and 150 < kept.getpixel((10, 10)) < 160  # 40000 / 256, not clipped to 255


@pytest.mark.parametrize(("mode", "colour", "rgb", "grey"), [
    ("RGBA", (0, 0, 0, 0), (255, 255, 255), 255),  # transparent: white
    ("PA", (0, 0), (255, 255, 255), 255),
    ("LA", (0, 255), (0, 0, 0), 0),  # opaque: as it is
    ("I", 40000, (156, 156, 156), 156),  # 16-bit grey: 40000 / 256, not clipped to 255
    ("I;16", 40000, (156, 156, 156), 156),
    ("L", 77, (77, 77, 77), 77),  # grey stays grey
    ("RGB", (200, 100, 0), (200, 100, 0), 118),
    ("CMYK", (0, 255, 255, 0), (255, 0, 0), 76),
])
def test_pixels_are_made_plain_for_portraits_and_for_scanning(mode, colour, rgb, grey):
    """One plain form for both uses (ecert.imaging.pictures.plain): 8-bit grey or RGB for a portrait,
    grey for the QR scanner, transparency on white."""
    im = Image.new(mode, (4, 4), colour)
    kept = pictures.plain(im)
    assert kept.mode in ("L", "RGB")
    assert kept.getpixel((1, 1)) == (rgb[0] if kept.mode == "L" else rgb)
    gray = pictures.plain(im, gray=True)
    assert gray.mode == "L" and abs(gray.getpixel((1, 1)) - grey) <= 1


def test_a_palette_with_a_transparent_entry_is_put_on_white():
    im = Image.new("P", (4, 4), 1)
    im.putpalette([0, 0, 0, 9, 9, 9] + [0] * 762)
    im.info["transparency"] = 1
    assert pictures.plain(im).getpixel((0, 0)) == (255, 255, 255)
    assert pictures.plain(im, gray=True).getpixel((0, 0)) == 255
    del im.info["transparency"]
    assert pictures.plain(im).getpixel((0, 0)) == (9, 9, 9)


# -- what is refused ---------------------------------------------------------------------------------

@pytest.mark.parametrize("data", [
    b"", b"not a picture at all", b"%PDF-1.7\n", b"GIF89a" + b"\0" * 100,
    b"RIFF\0\0\0\0WEBPVP8 " + b"\0" * 100,  # WebP: a scanner's picture, not a library's portrait
    b"<svg xmlns='http://www.w3.org/2000/svg'/>",
])
def test_what_is_no_jpeg_or_png_is_unsupported(data):
    with pytest.raises(UnsupportedMedia) as err:
        portrait.reencode(data)
    assert err.value.field == "image"


def test_a_decompression_bomb_is_refused_from_its_header():
    bomb = _png_header(20_000, 20_000)  # 400 million pixels declared in a few hundred bytes
    assert len(bomb) < 200
    with pytest.raises(TooLarge, match="pixels"):
        portrait.reencode(bomb)
    assert 2000 * (MAX_PHOTO_SIDE + 1) < MAX_PHOTO_PIXELS  # within the pixels, but a side over the bound
    with pytest.raises(TooLarge, match="side"):
        portrait.reencode(_png_header(2000, MAX_PHOTO_SIDE + 1))


def test_a_png_text_chunk_that_inflates_without_bound_is_too_large():
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "x" * (8 * 1024 * 1024), zip=True)  # 8 MiB of text in a few KiB
    buf = io.BytesIO()
    Image.new("RGB", (300, 400)).save(buf, "PNG", pnginfo=info)
    assert len(buf.getvalue()) < MAX_PHOTO_BYTES
    with pytest.raises(TooLarge):
        portrait.reencode(buf.getvalue())


def test_too_many_bytes_are_refused_before_anything_is_read():
    with pytest.raises(TooLarge, match="bytes"):
        portrait.reencode(b"\xff\xd8\xff" + b"\0" * MAX_PHOTO_BYTES)


@pytest.mark.parametrize("size, code", [
    ((480, 360), "PHOTO_NOT_PORTRAIT"),  # landscape
    ((300, 600), "PHOTO_NOT_PORTRAIT"),  # 2:1, a strip
    ((MIN_PHOTO_SIDE - 1, 120), "PHOTO_TOO_SMALL"),
])
def test_a_picture_not_shaped_like_a_portrait_is_refused(size, code):
    with pytest.raises(RuleViolation) as err:
        portrait.reencode(photos.portrait(6, size=size))
    assert err.value.code == code and err.value.field == "image"


@pytest.mark.parametrize("size", [(358, 358), (358, 441), (300, 480)])
def test_square_to_tall_portraits_are_accepted(size):
    kept = portrait.reencode(photos.portrait(7, size=size))
    assert (kept.width, kept.height) == size


def test_a_truncated_or_corrupt_picture_is_named_so():
    whole = photos.portrait(8)
    for broken in (whole[: len(whole) // 2], whole[:20], b"\x89PNG\r\n\x1a\n" + b"\0" * 40):
        with pytest.raises(InvalidRequest) as err:
            portrait.reencode(broken)
        assert err.value.code == "IMAGE_CORRUPT"


# -- the store ------------------------------------------------------------------------------------------

async def test_the_library_keeps_a_photo_once_per_region(store: Store):  # noqa: F811
    kept = portrait.reencode(photos.portrait(9))
    assert await store.add_photo("CN-ZJ", kept.digest, kept.media_type, kept.data, kept.width, kept.height, 100)
    assert not await store.add_photo("CN-ZJ", kept.digest, kept.media_type, kept.data, kept.width, kept.height, 200)
    assert await store.add_photo("CN-SH", kept.digest, kept.media_type, kept.data, kept.width, kept.height, 300)
    doc = await store.get_photo("CN-ZJ", kept.digest)
    assert doc["bytes"] == kept.data and doc["at"] == 100 and doc["region"] == "CN-ZJ"
    assert (doc["width"], doc["height"], doc["media_type"]) == (358, 441, "image/jpeg")
    assert await store.has_photo("CN-SH", kept.digest) and not await store.has_photo("CN-JS", kept.digest)
    assert await store.get_photo("CN-JS", kept.digest) is None


async def test_the_portrait_on_file_is_the_newest(store: Store):  # noqa: F811
    assert await store.get_photo_owner("CN-ZJ", "h1") is None
    await store.set_photo_owner("CN-ZJ", "h1", "a" * 64, "CRED1", 100)
    await store.set_photo_owner("CN-ZJ", "h1", "b" * 64, "CRED2", 200)
    await store.set_photo_owner("CN-ZJ", "h1", "c" * 64, "CRED0", 50)  # an older issuance, seen late: kept out
    held = await store.get_photo_owner("CN-ZJ", "h1")
    assert (held["digest"], held["credential_id"], held["at"]) == ("b" * 64, "CRED2", 200)
    assert await store.get_photo_owner("CN-SH", "h1") is None  # per region
    await store.set_photo_owner("CN-ZJ", "h1", "e" * 64, "CRED4", 300, order=8)  # the same second: the later issuance
    await store.set_photo_owner("CN-ZJ", "h1", "d" * 64, "CRED3", 300, order=7)
    await store.set_photo_owner("CN-ZJ", "h1", "d" * 64, "CRED3", 300, order=7)  # asked again: nothing new
    assert (await store.get_photo_owner("CN-ZJ", "h1"))["credential_id"] == "CRED4"
    assert await store.get_photo_owner("CN-ZJ", "h") is None  # a prefix of another hash is not it
