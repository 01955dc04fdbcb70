"""Portraits for a region's photo library: checked, then re-encoded so nothing but the picture is kept.

:func:`reencode` is the one place that turns an uploaded portrait (untrusted JPEG or PNG bytes)
into what a library stores: a baseline JPEG of the pixels alone, upright, at most
:data:`~ecert.limits.PHOTO_STORED_SIDE` pixels on its longer side. Nothing of the upload's
metadata survives: no EXIF (so no GPS location, camera or time), no ICC profile, no XMP, no
comments or PNG text chunks; the picture is decoded and drawn anew. The same upload always
gives the same bytes, so a library that keys photos by the SHA-256 of what it stores keeps the
same picture once. It is CPU-bound (tens of milliseconds): callers on an event loop run it in a
thread. Every hostile input ends in a named error:

- not JPEG or PNG by its magic bytes → :class:`UnsupportedMedia` (415);
- over :data:`~ecert.limits.MAX_PHOTO_BYTES`, or declaring more pixels than
  :data:`~ecert.limits.MAX_PHOTO_PIXELS` or a side over :data:`~ecert.limits.MAX_PHOTO_SIDE`
  (from the header, before any pixel is decoded: decompression bombs), or a PNG text chunk
  that inflates past Pillow's bound → :class:`TooLarge` (413);
- not shaped like a portrait (height over width outside :data:`~ecert.limits.PHOTO_ASPECT`)
  → :class:`RuleViolation` ``PHOTO_NOT_PORTRAIT``; a shorter side under
  :data:`~ecert.limits.MIN_PHOTO_SIDE` → ``PHOTO_TOO_SMALL`` (422);
- truncated or corrupt → :class:`InvalidRequest` ``IMAGE_CORRUPT`` (400).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from PIL import Image

from ..errors import RuleViolation, TooLarge
from ..limits import (
    MAX_PHOTO_BYTES,
    MAX_PHOTO_PIXELS,
    MAX_PHOTO_SIDE,
    MIN_PHOTO_SIDE,
    PHOTO_ASPECT,
    PHOTO_STORED_SIDE,
)
from . import pictures

MEDIA_TYPE = "image/jpeg"
"""What a library stores and serves."""
MEDIA_TYPES = ("image/jpeg", "image/png")
"""The pictures a portrait is taken from."""
UPLOAD_TYPES = (*MEDIA_TYPES, "application/octet-stream")
"""What an upload may be declared as (none declared: ``application/octet-stream``): the bytes' own
magic decides whether they are a JPEG or PNG."""
QUALITY = 90

KINDS = ("jpeg", "png")
_TRANSPOSED = (5, 6, 7, 8)  # EXIF orientations that swap width and height


@dataclass(frozen=True, slots=True)
class Portrait:
    """A re-encoded portrait: the JPEG bytes, their size in pixels and their SHA-256 (hex)."""

    data: bytes
    width: int
    height: int
    digest: str
    media_type: str = MEDIA_TYPE


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(0x0112, 1)
    except Exception:  # an unreadable EXIF block: the picture is taken as it is stored
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def check_shape(width: int, height: int) -> None:
    """A portrait ``width`` × ``height`` (upright) is within the bounds, else the named refusal."""
    if width * height > MAX_PHOTO_PIXELS:
        raise TooLarge(f"the portrait has {width}×{height} pixels, over {MAX_PHOTO_PIXELS:,}", field="image")
    if max(width, height) > MAX_PHOTO_SIDE:
        raise TooLarge(f"the portrait's longer side is over {MAX_PHOTO_SIDE} pixels", field="image")
    if min(width, height) < MIN_PHOTO_SIDE:
        raise RuleViolation(f"the portrait is {width}×{height} pixels: its shorter side must be at least "
                            f"{MIN_PHOTO_SIDE}", code="PHOTO_TOO_SMALL", field="image")
    low, high = PHOTO_ASPECT
    if not low <= height / width <= high:
        raise RuleViolation(f"the portrait is {width}×{height} pixels: a portrait is {low:g} to {high:g} times as "
                            "tall as it is wide (crop it to the head and shoulders)", code="PHOTO_NOT_PORTRAIT",
                            field="image")


def reencode(data: bytes) -> Portrait:
    """Check an uploaded portrait and re-encode it (module docs): the picture alone, as a JPEG."""

    def clean(kind: str, im: Image.Image) -> Image.Image:
        width, height = im.size
        if width * height > MAX_PHOTO_PIXELS or max(width, height) > MAX_PHOTO_SIDE:
            check_shape(width, height)  # refused from the header, before any pixel is decoded
        orientation = _orientation(im)
        upright = (height, width) if orientation in _TRANSPOSED else (width, height)
        check_shape(*upright)
        if kind == "jpeg":
            # Decode at a reduced scale (1/2, 1/4, 1/8) where the stored size allows: a large
            # photo costs a fraction of its full decode. The bound is never below the stored side.
            scale = max(1.0, max(width, height) / PHOTO_STORED_SIDE)
            im.draft("RGB" if im.mode != "L" else "L", (int(width / scale), int(height / scale)))
        im.load()
        pixels = _transpose(pictures.plain(im), orientation)  # upright, as the camera meant it
        # A new image holding the pixels alone: no info (EXIF, ICC, XMP, text, dpi) can follow it.
        return Image.frombytes(pixels.mode, pixels.size, pixels.tobytes())

    picture = pictures.decoded(data, kinds=KINDS, max_bytes=MAX_PHOTO_BYTES, what="portrait",
                               refusal="a portrait must be a JPEG or PNG picture", use=clean)
    if max(picture.size) > PHOTO_STORED_SIDE:
        picture.thumbnail((PHOTO_STORED_SIDE, PHOTO_STORED_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=QUALITY, optimize=False, progressive=False)
    stored = out.getvalue()
    return Portrait(stored, picture.width, picture.height, digest(stored))


_TRANSPOSE_METHODS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _transpose(im: Image.Image, orientation: int) -> Image.Image:
    method = _TRANSPOSE_METHODS.get(orientation)
    return im if method is None else im.transpose(method)

