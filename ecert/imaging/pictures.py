"""What every picture the suite is given goes through first, whatever it is for (a photo of a QR
code to read, a portrait to file): its kind from the magic bytes, its size in bytes, Pillow's reader
for that kind built directly, one translation of what a truncated or hostile file raises, and the
decoded pixels made plain (:func:`plain`).

The reader is built directly rather than by ``Image.open``: it reads the header only, and Pillow's
process-wide bomb check (a warning, or a failure on its own terms) is left to each caller's own,
stricter bound on the pixels the header declares.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable, Collection
from typing import TypeVar

from PIL import Image, JpegImagePlugin, PngImagePlugin, WebPImagePlugin

from ..errors import EcertError, InvalidRequest, TooLarge, UnsupportedMedia

READERS = {"png": PngImagePlugin.PngImageFile, "jpeg": JpegImagePlugin.JpegImageFile,
           "webp": WebPImagePlugin.WebPImageFile}
DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, IndexError, KeyError, TypeError, struct.error,
                 zlib.error, MemoryError)
"""What Pillow raises for a truncated, corrupt or hostile file (while reading the header or the pixels)."""

T = TypeVar("T")


def sniff(data: bytes) -> str | None:
    """``"png"``, ``"jpeg"`` or ``"webp"`` from the magic bytes, else None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def corrupt(kind: str, what: str = "picture") -> InvalidRequest:
    return InvalidRequest(f"the {kind.upper()} {what} is truncated or corrupt", code="IMAGE_CORRUPT",
                          field="image")


def decoded(data: bytes, *, kinds: Collection[str], max_bytes: int, refusal: str, what: str,
            use: Callable[[str, Image.Image], T]) -> T:
    """``use(kind, reader)`` for a picture of one of ``kinds`` of at most ``max_bytes``, its reader
    holding the header only (a size of at least 1×1). ``use`` bounds the pixels and decodes; every
    decoding failure becomes the named error: 413 for a bomb or a chunk inflating past Pillow's
    bound, 400 ``IMAGE_CORRUPT`` for the rest. ``refusal``: the 415 message for another kind."""
    if len(data) > max_bytes:
        raise TooLarge(f"the {what} is over {max_bytes} bytes", field="image")
    kind = sniff(data)
    if kind is None or kind not in kinds:
        raise UnsupportedMedia(refusal, field="image")
    try:
        im = READERS[kind](io.BytesIO(data))
        width, height = im.size
        if width <= 0 or height <= 0:
            raise corrupt(kind, what)
        return use(kind, im)
    except Image.DecompressionBombError as err:
        raise TooLarge(f"the {what} declares too many pixels", field="image") from err
    except EcertError:
        raise
    except DECODE_ERRORS as err:
        if isinstance(err, ValueError) and "too large" in str(err).lower():  # a text or ICC chunk
            raise TooLarge(f"the {what} holds a chunk that inflates past the bound", field="image") from err
        raise corrupt(kind, what) from err


_TRANSPARENT = ("RGBA", "LA", "PA")  # the modes with alpha the PNG and WebP readers give


def plain(im: Image.Image, *, gray: bool = False) -> Image.Image:
    """The decoded picture as plain 8-bit grey ("L") or RGB pixels (grey only, with ``gray``),
    transparency put on white (as a screen shows it), 16- and 32-bit grey scaled down (not clipped)."""
    target = "L" if gray else "RGB"
    if im.mode == "L" or im.mode == target:
        return im
    if im.mode in _TRANSPARENT or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert(target)
    if im.mode.startswith("I;16") or im.mode == "I":
        return im.convert("I").point(lambda v: v / 256).convert("L")  # convert("L") would clip
    return im.convert(target)  # CMYK, YCbCr, P, 1, F ...
