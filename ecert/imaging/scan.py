"""Reading QR codes from pictures: photos and screenshots in PNG, JPEG or WebP.

:func:`decode_image` is the one place that turns untrusted picture bytes into code
texts. It is CPU-bound (tens of milliseconds, more for hard pictures): callers on an
event loop run it in a thread. Every hostile input ends in a named error:

- not PNG, JPEG or WebP by its magic bytes → :class:`UnsupportedMedia` (415);
- over the byte limit, or declaring more pixels than ``max_pixels`` (checked from
  the header, before any pixel is decoded: decompression bombs) → :class:`TooLarge` (413);
- truncated or corrupt → :class:`InvalidRequest` ``IMAGE_CORRUPT`` (400).

Decoding runs zxing-cpp on the picture as it is; when that finds nothing, it
retries on a few prepared variants (contrast stretched, small pictures upscaled
and sharpened, binarised), stopping at the first that finds a code. Codes found at
low resolution (under ``LOW_RES`` pixels per module) may have neighbours missed at that
resolution, so the upscaled variant is read once more and its codes merged. The
variants are made from a copy bounded to ``WORK_PIXELS`` (upscaled to at most
``UPSCALED_PIXELS``), so the extra work is bounded too: at most five decoder passes.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import zxingcpp
from PIL import (
    Image,
    ImageFilter,
    ImageOps,
)

from ..errors import TooLarge
from ..limits import MAX_CODES_PER_IMAGE, MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS
from . import pictures

MAX_BYTES = MAX_IMAGE_BYTES
MAX_PIXELS = MAX_IMAGE_PIXELS
WORK_PIXELS = 4_000_000  # the prepared variants are made from a copy at most this large
UPSCALED_PIXELS = 8_000_000  # and a low-resolution picture is upscaled to at most this
MAX_CODES = MAX_CODES_PER_IMAGE
LOW_RES = 3.5  # pixels per module under which the codes found are looked for again, upscaled

_QR = zxingcpp.BarcodeFormat.QRCode


sniff = pictures.sniff


def open_image(data: bytes, *, max_pixels: int = MAX_PIXELS, max_bytes: int = MAX_BYTES) -> Image.Image:
    """The picture as a loaded 8-bit grayscale image, after the type, size and pixel checks."""

    def gray(kind: str, im: Image.Image) -> Image.Image:
        width, height = im.size
        if width * height > max_pixels:
            raise TooLarge(f"the picture has {width}×{height} pixels, over {max_pixels:,}", field="image")
        if kind == "jpeg":
            im.draft("L", im.size)  # let the JPEG decoder produce grayscale directly
        im.load()
        return pictures.plain(im, gray=True)

    return pictures.decoded(data, kinds=pictures.READERS, max_bytes=max_bytes, what="picture",
                            refusal="the picture must be PNG, JPEG or WebP", use=gray)


@dataclass(slots=True)
class _Found:
    text: str
    cx: float  # centre and height in the original picture's pixels
    cy: float
    height: float
    area: float
    module: float  # pixels per module


def _read(im: Image.Image, scale: float = 1.0, **options) -> list[_Found]:
    out = []
    options.setdefault("try_downscale", True)
    for b in zxingcpp.read_barcodes(im, formats=_QR, try_rotate=True, **options):
        if not (b.valid and b.text):
            continue
        p = b.position
        xs = [q.x / scale for q in (p.top_left, p.top_right, p.bottom_right, p.bottom_left)]
        ys = [q.y / scale for q in (p.top_left, p.top_right, p.bottom_right, p.bottom_left)]
        side = sum(math.dist((xs[i], ys[i]), (xs[i - 1], ys[i - 1])) for i in range(4)) / 4
        area = abs(sum(xs[i - 1] * ys[i] - xs[i] * ys[i - 1] for i in range(4))) / 2
        try:
            modules = 17 + 4 * int(b.extra.get("Version", 0))
        except (TypeError, ValueError, AttributeError):
            modules = 0
        out.append(_Found(b.text, (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2, max(ys) - min(ys), area,
                          side / modules if modules > 17 else side / 21))
    return out


def _bounded(im: Image.Image) -> tuple[Image.Image, float]:
    w, h = im.size
    if w * h <= WORK_PIXELS:
        return im, 1.0
    f = (WORK_PIXELS / (w * h)) ** 0.5
    return im.resize((max(1, int(w * f)), max(1, int(h * f))), Image.Resampling.BOX), f


class _Variants:
    """Prepared versions of a picture, made on demand from a copy of at most WORK_PIXELS."""

    def __init__(self, im: Image.Image):
        self.base, self.scale = _bounded(im)
        self._contrast: Image.Image | None = None
        self._sharp: tuple[Image.Image, float] | None = None

    @property
    def contrast(self) -> Image.Image:
        if self._contrast is None:
            self._contrast = ImageOps.autocontrast(self.base, cutoff=1)
        return self._contrast

    def upscaled(self) -> tuple[Image.Image, float] | None:
        """Low resolution (2–3 pixels per module): upscaled smoothly and sharpened, so that the
        sampling grid falls inside the modules rather than on their edges. None if too large."""
        w, h = self.base.size
        factor = min(3.0, (UPSCALED_PIXELS / (w * h)) ** 0.5)
        if factor < 1.5:
            return None
        if self._sharp is None:
            big = self.contrast.resize((round(w * factor), round(h * factor)), Image.Resampling.LANCZOS)
            self._sharp = (big.filter(ImageFilter.UnsharpMask(radius=1.5 * factor, percent=250, threshold=0)),
                           self.scale * factor)
        return self._sharp

    def passes(self) -> Iterator[tuple[Image.Image, float, dict]]:
        """(picture, its scale to the original, decoder options), cheapest first."""
        yield self.contrast, self.scale, {}
        up = self.upscaled()
        if up is not None:
            yield up[0], up[1], {"try_downscale": False}
            yield up[0], up[1], {"try_downscale": False, "binarizer": zxingcpp.Binarizer.GlobalHistogram}
        else:
            sharp = self.contrast.filter(ImageFilter.UnsharpMask(radius=2, percent=160, threshold=2))
            yield sharp, self.scale, {}
        yield self.contrast, self.scale, {"binarizer": zxingcpp.Binarizer.GlobalHistogram}


def _merge(found: list[_Found], more: list[_Found]) -> list[_Found]:
    seen = {f.text for f in found}
    return found + [f for f in more if f.text not in seen and not seen.add(f.text)]


def _reading_order(found: list[_Found]) -> list[_Found]:
    """Top to bottom, then left to right within a row (codes whose centres are less than
    half a code apart vertically share a row)."""
    rows: list[list[_Found]] = []
    for f in sorted(found, key=lambda f: f.cy):
        if rows and abs(f.cy - rows[-1][0].cy) < max(f.height, rows[-1][0].height) / 2:
            rows[-1].append(f)
        else:
            rows.append([f])
    return [f for row in rows for f in sorted(row, key=lambda f: f.cx)]


def _room_for_another(found: list[_Found], size: tuple[int, int]) -> bool:
    """Whether the picture has room for one more code as large as the smallest one found."""
    return size[0] * size[1] - sum(f.area for f in found) >= min(f.area for f in found)


def decode_gray(im: Image.Image, *, variants: bool = True) -> list[str]:
    """The distinct QR texts of a loaded grayscale picture, in reading order.

    The picture as it is first; if nothing is found, the prepared variants until one finds
    a code. If the codes found are of low resolution and leave room for another, one beside
    them may have been missed at that resolution: the upscaled variant is read once more
    and merged.
    """
    found = _merge([], _read(im))
    prepared: _Variants | None = None
    tried_up = False
    if variants and not found:
        prepared = _Variants(im)
        for picture, scale, options in prepared.passes():
            found = _merge([], _read(picture, scale, **options))
            tried_up = tried_up or scale > prepared.scale
            if found:
                break
    if variants and found and not tried_up and min(f.module for f in found) < LOW_RES \
            and _room_for_another(found, im.size):
        up = (prepared or _Variants(im)).upscaled()
        if up is not None:
            found = _merge(found, _read(up[0], up[1], try_downscale=False))
    return [f.text for f in _reading_order(found)][:MAX_CODES]


def decode_image(data: bytes, *, max_pixels: int = MAX_PIXELS, max_bytes: int = MAX_BYTES) -> list[str]:
    """The distinct QR texts in a PNG, JPEG or WebP picture, in reading order ([] if none)."""
    return decode_gray(open_image(data, max_pixels=max_pixels, max_bytes=max_bytes))

