"""Drawing QR codes of credentials and tokens (alphanumeric mode, error correction Q).

Drawing takes tens of milliseconds: callers keep the result and never draw on the
issuing or verifying hot path.
"""

from __future__ import annotations

import io

import segno


def make(text: str) -> segno.QRCode:
    return segno.make_qr(text, error="q", mode="alphanumeric", boost_error=False)


def png(text: str, scale: int = 4, border: int = 4) -> bytes:
    buf = io.BytesIO()
    make(text).save(buf, kind="png", scale=scale, border=border)
    return buf.getvalue()


def svg(text: str, scale: int = 4, border: int = 4) -> bytes:
    buf = io.BytesIO()
    make(text).save(buf, kind="svg", scale=scale, border=border)
    return buf.getvalue()


def terminal(text: str) -> str:
    buf = io.StringIO()
    make(text).terminal(out=buf, compact=True)
    return buf.getvalue()
