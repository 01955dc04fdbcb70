"""Photo-like pictures of QR codes, made with Pillow, for the scan tests and benchmark; and
portraits for the photo library (:func:`portrait`, :func:`hold_sample_photos`).

A picture is what a phone camera or a desk scanner sees: one or more printed cards
with a QR code on a textured desk, turned by any angle, seen at a slant (perspective),
sampled down to about 2.5 pixels per module, unevenly lit, slightly out of focus,
noisy and JPEG-compressed. Everything is drawn from a seeded ``random.Random``, so a
corpus is the same on every run.
"""

from __future__ import annotations

import functools
import hashlib
import io
import math
import random
import time
from dataclasses import dataclass
from statistics import NormalDist

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from ecert.format import credential
from ecert.format.keys import EDDSA, SigningKey
from ecert.imaging import qr
from testkit.samples import (
    PHOTO,
    PHOTO_BYTES,
    SAMPLE_PHOTO,
    SAMPLE_PHOTO_BYTES,
    driving_licence,
)

SUPER = 5  # pixels per module while drawing at high resolution, before sampling down


@dataclass(frozen=True)
class Shot:
    """The degradations of one picture."""

    ppm: float = 2.5  # pixels per module in the final picture
    angle: float = 0.0  # degrees
    slant: float = 0.0  # perspective: how far (fraction of the card size) the corners move
    blur: float = 0.0  # Gaussian radius in final pixels
    noise: float = 0.0  # sigma of Gaussian noise, in grey levels
    light: float = 0.0  # depth of the lighting gradient, 0..1
    quality: int = 80  # JPEG quality
    kind: str = "jpeg"  # jpeg | png | webp


@functools.lru_cache(maxsize=64)
def qr_image(text: str, module: int = SUPER) -> Image.Image:
    """Black on white, ``module`` pixels per module, the 4-module quiet zone included (drawing a
    code takes about 0.1 s: kept; callers must not change the image)."""
    matrix = qr.make(text).matrix
    n = len(matrix)
    small = Image.new("L", (n + 8, n + 8), 255)
    px = small.load()
    for y, row in enumerate(matrix):
        for x, bit in enumerate(row):
            if bit:
                px[x + 4, y + 4] = 0
    return small.resize(((n + 8) * module, (n + 8) * module), Image.Resampling.NEAREST)


def card(text: str, rng: random.Random) -> Image.Image:
    """A printed card: off-white paper, the code, and a few lines of 'text' beside it."""
    code = qr_image(text)
    s = code.width
    w, h = int(s * 1.6), int(s * 1.15)
    paper = rng.randint(225, 250)
    im = Image.new("L", (w, h), paper)
    draw = ImageDraw.Draw(im)
    for i in range(7):  # text lines on the right
        y = int(h * 0.12) + i * int(h * 0.1)
        x0 = s + int(w * 0.04)
        draw.rectangle([x0, y, x0 + rng.randint(int(w * 0.15), int(w * 0.33)), y + int(h * 0.035)],
                       fill=rng.randint(40, 110))
    im.paste(code, (int(s * 0.02), (h - s) // 2))
    return im


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (8×8: no numpy needed)."""
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for c in range(n):
        p = max(range(c, n), key=lambda r: abs(m[r][c]))
        m[c], m[p] = m[p], m[c]
        for r in range(n):
            if r != c and m[r][c]:
                f = m[r][c] / m[c][c]
                m[r] = [x - f * y for x, y in zip(m[r], m[c])]
    return [m[i][n] / m[i][i] for i in range(n)]


def perspective_coeffs(dst: list[tuple[float, float]], src: list[tuple[float, float]]) -> list[float]:
    """Pillow's PERSPECTIVE data mapping output points ``dst`` to input points ``src``."""
    a, b = [], []
    for (x, y), (u, v) in zip(dst, src):
        a.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        b.append(u)
        a.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        b.append(v)
    return _solve(a, b)


def noise(size: tuple[int, int], sigma: float, rng: random.Random) -> Image.Image:
    """Gaussian noise around 128, drawn from ``rng`` (Pillow's effect_noise is not seedable)."""
    dist = NormalDist(128, sigma)
    lut = [max(0, min(255, round(dist.inv_cdf((v + 0.5) / 256)))) for v in range(256)]
    return Image.frombytes("L", size, rng.randbytes(size[0] * size[1])).point(lut)


def _desk(size: tuple[int, int], rng: random.Random) -> Image.Image:
    base = rng.randint(70, 170)
    im = Image.linear_gradient("L").resize(size).rotate(rng.uniform(0, 360), expand=False, fillcolor=128)
    im = im.point(lambda v: base + (v - 128) * 0.25)
    grain = noise((size[0] // 16 + 1, size[1] // 16 + 1), 25, rng).resize(size, Image.Resampling.BICUBIC)
    return ImageChops.add(im, grain, 1.0, -128)


def photo(texts: list[str], rng: random.Random, shot: Shot) -> bytes:
    """A photo-like picture of one card per text, side by side, encoded as ``shot.kind``."""
    cards = [card(t, rng) for t in texts]
    scale = SUPER / shot.ppm  # high-resolution pixels per final pixel
    cw = max(c.width for c in cards)
    ch = max(c.height for c in cards)
    diag = math.hypot(cw, ch)
    gap = diag * 0.15
    W = int(len(cards) * diag * (1 + 2 * shot.slant) + (len(cards) + 1) * gap)
    H = int(diag * (1 + 2 * shot.slant) + 2 * gap)
    canvas = _desk((W, H), rng)
    for i, c in enumerate(cards):
        cx = gap + diag * (1 + 2 * shot.slant) * (i + 0.5) + gap * i
        cy = H / 2
        theta = math.radians(shot.angle + rng.uniform(-8, 8) * (i > 0))
        cos, sin = math.cos(theta), math.sin(theta)
        corners = [(-c.width / 2, -c.height / 2), (c.width / 2, -c.height / 2),
                   (c.width / 2, c.height / 2), (-c.width / 2, c.height / 2)]
        dst = []
        for x, y in corners:
            x += rng.uniform(-shot.slant, shot.slant) * c.width
            y += rng.uniform(-shot.slant, shot.slant) * c.height
            dst.append((cx + x * cos - y * sin, cy + x * sin + y * cos))
        src = [(0, 0), (c.width, 0), (c.width, c.height), (0, c.height)]
        coeffs = perspective_coeffs(dst, src)
        warped = c.transform((W, H), Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR)
        mask = Image.new("L", c.size, 255).transform((W, H), Image.Transform.PERSPECTIVE, coeffs,
                                                     Image.Resampling.BILINEAR)
        canvas.paste(warped, (0, 0), mask)
    # The camera: the sensor integrates light over each pixel (a box filter).
    size = (max(1, round(W / scale)), max(1, round(H / scale)))
    im = canvas.resize(size, Image.Resampling.BOX)
    if shot.light:
        light = Image.linear_gradient("L").resize(size).rotate(rng.uniform(0, 360), fillcolor=128)
        light = light.point(lambda v: int(255 * (1 - shot.light * v / 255)))
        im = ImageChops.multiply(im, light)
        im = im.point(lambda v: min(255, int(v / (1 - shot.light / 2))))
    if shot.blur:
        im = im.filter(ImageFilter.GaussianBlur(shot.blur))
    if shot.noise:
        im = ImageChops.add(im, noise(size, shot.noise, rng), 1.0, -128)
    tint = (rng.uniform(0.9, 1.05), 1.0, rng.uniform(0.85, 1.0))
    rgb = Image.merge("RGB", [im.point(lambda v, t=t: min(255, int(v * t))) for t in tint])
    buf = io.BytesIO()
    if shot.kind == "jpeg":
        rgb.save(buf, "JPEG", quality=shot.quality)
    elif shot.kind == "webp":
        rgb.save(buf, "WEBP", quality=shot.quality)
    else:
        rgb.save(buf, "PNG")
    return buf.getvalue()


def corpus_shot(i: int, rng: random.Random) -> Shot:
    """The i-th picture's degradations: every picture has several at once."""
    return Shot(
        ppm=rng.uniform(2.3, 2.8),
        angle=rng.uniform(0, 360) if i % 4 else rng.uniform(-5, 5),
        slant=rng.uniform(0.03, 0.12),
        blur=rng.uniform(0.4, 1.0),
        noise=rng.uniform(4, 14),
        light=rng.uniform(0.2, 0.6),
        quality=rng.randint(45, 85),
        kind="webp" if i % 10 == 7 else ("png" if i % 10 == 9 else "jpeg"),
    )


FIXED_NOW = 1_800_000_000  # credentials of a fixed key and time: the same corpus on every run


def credentials(n: int, key: SigningKey | None = None, now: int | None = None) -> list[str]:
    """``n`` real EC1 driving licences of CN-ZJ (distinct file numbers). Without ``key`` they are
    signed by a fixed Ed25519 key (deterministic signatures) at ``FIXED_NOW``: the same texts,
    hence the same pictures, on every run."""
    if key is None:
        key = SigningKey(EDDSA, Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"scan corpus").digest()))
        now = now or FIXED_NOW
    now = now or int(time.time())
    return [credential.issue(key, iss="CN-ZJ", iat=now, exp=now + 365 * 86400,
                             cti=hashlib.sha256(b"cti %d %d" % (now, i)).digest()[:16],
                             type_id="cn.driving_licence", type_version=1,
                             fields={**driving_licence(file_number=f"3301{i:08d}"), "photo": bytes.fromhex(PHOTO)},
                             status_uri="urn:ecert:status:CN-ZJ:1", status_idx=i)
            for i in range(n)]


@dataclass(frozen=True)
class Picture:
    texts: list[str]  # the codes shown, in reading order
    data: bytes
    shot: Shot


def corpus(texts: list[str], n: int = 48, seed: int = 4, pairs_every: int = 6) -> list[Picture]:
    """``n`` photo-like pictures of ``texts`` (cycled); every ``pairs_every``-th shows two codes."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        k = 2 if pairs_every and i % pairs_every == pairs_every - 1 else 1
        shown = [texts[(i + j) % len(texts)] for j in range(k)]
        shot = corpus_shot(i, rng)
        out.append(Picture(shown, photo(shown, rng, shot), shot))
    return out


# -- portraits for the photo library -----------------------------------------------------------

GPS_SHANGHAI = {1: "N", 2: (31.0, 13.0, 48.0), 3: "E", 4: (121.0, 28.0, 12.0)}
"""An EXIF GPS block (a spot in Shanghai): what a phone writes into every picture it takes."""


def portrait(seed: int = 0, size: tuple[int, int] = (358, 441), kind: str = "jpeg", *, gps: bool = False,
             orientation: int = 1, icc: bool = False, text: str = "") -> bytes:
    """A portrait-like picture (a face and shoulders on a plain background), different for each
    ``seed``, ``size`` as stored (358 × 441 is a resident ID card's photo). ``gps``: with an EXIF
    GPS block (and the camera's make); ``orientation``: the EXIF orientation written (the pixels
    stay as given); ``icc``: with an sRGB ICC profile; ``text``: a PNG text chunk or JPEG comment."""
    rng = random.Random(seed)
    w, h = size
    bg = tuple(rng.randint(150, 235) for _ in range(3))
    im = Image.new("RGB", size, bg)
    draw = ImageDraw.Draw(im)
    skin = (rng.randint(200, 240), rng.randint(160, 200), rng.randint(130, 170))
    cx = w / 2 + rng.uniform(-0.03, 0.03) * w
    draw.ellipse([cx - 0.45 * w, 0.72 * h, cx + 0.45 * w, 1.4 * h], fill=tuple(rng.randint(20, 90) for _ in range(3)))
    draw.ellipse([cx - 0.22 * w, 0.18 * h, cx + 0.22 * w, 0.7 * h], fill=skin)
    hair = tuple(rng.randint(10, 60) for _ in range(3))
    draw.chord([cx - 0.24 * w, 0.12 * h, cx + 0.24 * w, 0.5 * h], 180, 360, fill=hair)
    for dx in (-0.08, 0.08):
        draw.ellipse([cx + dx * w - 0.025 * w, 0.4 * h, cx + dx * w + 0.025 * w, 0.43 * h], fill=(30, 30, 30))
    draw.line([cx - 0.06 * w, 0.58 * h, cx + 0.06 * w, 0.58 * h], fill=(150, 60, 60), width=max(1, w // 90))
    im = im.filter(ImageFilter.GaussianBlur(0.6))
    options: dict = {}
    exif = Image.Exif()
    if gps:
        exif[0x010F] = "ExampleCam"  # Make
        exif[0x0110] = "Model 7"  # Model
        exif[0x8825] = GPS_SHANGHAI  # GPSInfo
    if orientation != 1:
        exif[0x0112] = orientation
    if len(exif):
        options["exif"] = exif.tobytes()
    if icc:
        from PIL import ImageCms
        options["icc_profile"] = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buf = io.BytesIO()
    if kind == "png":
        if text:
            from PIL import PngImagePlugin
            info = PngImagePlugin.PngInfo()
            info.add_text("Comment", text)
            options["pnginfo"] = info
        im.save(buf, "PNG", **options)
    else:
        if text:
            options["comment"] = text.encode("utf-8")
        im.save(buf, "JPEG", quality=92, **options)
    return buf.getvalue()


SAMPLE_LIBRARY = {SAMPLE_PHOTO: SAMPLE_PHOTO_BYTES, PHOTO: PHOTO_BYTES}
"""The photos the sample fields name (:data:`testkit.samples.SAMPLE_PHOTO`, :data:`~testkit.samples.PHOTO`),
by digest: placeholders whose SHA-256 is the digest, not pictures (the conformance vectors fix
these digests). A suite that issues the samples holds them in every region's library
(:func:`hold_sample_photos`); a test of the photos themselves uploads :func:`portrait` pictures."""
PLACEHOLDER_MEDIA_TYPE = "application/octet-stream"


async def hold_sample_photos(store, regions, at: int = 0) -> None:
    """Put the :data:`SAMPLE_LIBRARY` placeholders into each region's library in ``store`` (an
    :class:`ecert.store.Store`), as if uploaded: issuing the sample fields then passes the
    library check. Idempotent."""
    for region in regions:
        for digest, data in SAMPLE_LIBRARY.items():
            await store.add_photo(region, digest, PLACEHOLDER_MEDIA_TYPE, data, 0, 0, at)


class HeldReencoding:
    """Portrait re-encoding held back until :meth:`release` (``monkeypatch`` replaces
    :func:`ecert.imaging.portrait.reencode`): ``entered`` is set once one has begun; ``real`` is the
    re-encoder itself."""

    def __init__(self, monkeypatch):
        import threading

        from ecert.imaging import portrait

        self.entered, self._release = threading.Event(), threading.Event()
        self.real = portrait.reencode

        def held_back(data: bytes):
            self.entered.set()
            assert self._release.wait(10)
            return self.real(data)

        monkeypatch.setattr(portrait, "reencode", held_back)

    def release(self) -> None:
        self._release.set()
