"""Reading QR codes from photo-like pictures, and verifying what they hold, one core, in-process.

The pictures are the test corpus's kind (tests/photos.py): JPEG photos of printed cards at
about 2.5 pixels per module, turned, slanted, blurred, noisy and unevenly lit, one of them
with two codes. ``scan_decode_per_s`` is pictures read per second (ecert.imaging.scan.decode_image);
``scan_verify_per_s`` is pictures read and every code in them verified (trust list and status
list in memory, as the verifier service holds them).
"""

from __future__ import annotations

import itertools
import time

from ecert.errors import Outcome
from ecert.imaging import scan
from ecert.rules import verify
from testkit import photos

from .pipeline import fixture, rate

PICTURES = 6


def measure(seconds: float = 2.0) -> dict:
    now = int(time.time())
    _, trust, texts, sl = fixture(now, n_credentials=PICTURES + 1)
    pictures = photos.corpus(texts, n=PICTURES, seed=11, pairs_every=PICTURES)
    lists = {sl.uri: sl}.get
    for p in pictures:  # every picture is read, and every code in it is valid
        assert scan.decode_image(p.data) == p.texts, "a benchmark picture did not decode"
        assert all(verify.verify(t, trust, now, status_lists=lists).outcome is Outcome.VALID for t in p.texts)
    data = itertools.cycle([p.data for p in pictures]).__next__

    def decode_and_verify() -> list[Outcome]:
        return [verify.verify(t, trust, now, status_lists=lists).outcome for t in scan.decode_image(data())]

    decode = rate(lambda: scan.decode_image(data()), seconds, batch=PICTURES)
    verified = rate(decode_and_verify, seconds, batch=PICTURES)
    return {"scan_decode_per_s": round(decode, 1), "scan_verify_per_s": round(verified, 1)}


if __name__ == "__main__":
    print(measure())
