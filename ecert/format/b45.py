"""Base45 (RFC 9285), with a table-driven decoder.

The decoder maps each three-character group straight to its two bytes through a
precomputed table (built once, ~65k entries), which makes decoding a 570-character
credential several times faster than a per-character loop.
"""

from __future__ import annotations

import re

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_INDEX = {c: i for i, c in enumerate(ALPHABET)}


class Base45Error(ValueError):
    """The text is not valid Base45."""


def encode_py(data: bytes) -> str:
    """Encode bytes as Base45 text (reference implementation)."""
    out = []
    a = ALPHABET
    n = len(data)
    for i in range(0, n - 1, 2):
        v = (data[i] << 8) | data[i + 1]
        v, c = divmod(v, 45)
        e, d = divmod(v, 45)
        out.append(a[c] + a[d] + a[e])
    if n % 2:
        d, c = divmod(data[-1], 45)
        out.append(a[c] + a[d])
    return "".join(out)


def _build_tables() -> tuple[dict[str, bytes], dict[str, bytes]]:
    a = ALPHABET
    three: dict[str, bytes] = {}
    for v in range(65536):
        rest, c = divmod(v, 45)
        e, d = divmod(rest, 45)
        three[a[c] + a[d] + a[e]] = v.to_bytes(2, "big")
    two: dict[str, bytes] = {}
    for v in range(256):
        d, c = divmod(v, 45)
        two[a[c] + a[d]] = bytes((v,))
    return three, two


_THREE, _TWO = _build_tables()
_GROUPS = re.compile("...", re.S)
_ONLY_ALPHABET = re.compile("[0-9A-Z $%*+\\-./:]*")


def in_alphabet(text: str) -> bool:
    """True if every character of ``text`` belongs to the Base45 alphabet."""
    return _ONLY_ALPHABET.fullmatch(text) is not None


def decode_py(text: str) -> bytes:
    """Decode Base45 text (reference implementation); raises :class:`Base45Error`."""
    n = len(text)
    if n % 3 == 1:
        raise Base45Error("Base45 text length leaves a single character")
    full = n - n % 3
    try:
        body = b"".join(map(_THREE.__getitem__, _GROUPS.findall(text, 0, full)))
        if full != n:
            body += _TWO[text[full:]]
    except KeyError as err:
        raise Base45Error(f"invalid Base45 group {err.args[0]!r}") from None
    return body


try:
    from ._fast import decode as _decode_c
    from ._fast import encode as _encode_c
except ImportError:  # the optional C extension was not built: same answers, slower
    _decode_c = _encode_c = None


def encode(data: bytes) -> str:
    """Encode bytes as Base45 text."""
    return encode_py(data) if _encode_c is None else _encode_c(data)


def decode(text: str) -> bytes:
    """Decode Base45 text; raises :class:`Base45Error` on any invalid input."""
    if _decode_c is None:
        return decode_py(text)
    try:
        return _decode_c(text)
    except ValueError as err:
        raise Base45Error(str(err)) from None
