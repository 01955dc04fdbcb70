"""Raw ECDSA P-256 verification against the full EC1 pipeline, one core."""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from ecert.errors import Outcome
from ecert.format import cose, credential
from ecert.format.keys import SigningKey
from ecert.rules import verify
from testkit.fixtures import fixture

ROUNDS = 10


def rate(fn: Callable[[], object], seconds: float = 2.0, batch: int = 200) -> float:
    """Calls per second of ``fn`` over about ``seconds`` (after a short warm-up)."""
    for _ in range(batch):
        fn()
    n = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(batch):
            fn()
        n += batch
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start)


def raw_verify_call(key: SigningKey | None = None, tbs: bytes | None = None) -> Callable[[], object]:
    """One raw ECDSA P-256 check with cryptography, as a call: a fixed signature over ``tbs``
    (by default 600 bytes, the size of a credential's signed structure)."""
    key = key or SigningKey.generate()
    tbs = bytes(range(256)) * 2 + bytes(88) if tbs is None else tbs
    der = key._key.sign(tbs, ec.ECDSA(hashes.SHA256()))
    pub = key._key.public_key()
    algo = ec.ECDSA(hashes.SHA256())
    return lambda: pub.verify(der, tbs, algo)


def measure(seconds: float = 2.0) -> dict:
    now = int(time.time())
    key, trust, texts, sl = fixture(now, n_credentials=1000)
    lists = {sl.uri: sl}.get
    # Judged as a Jiangsu traffic officer's roadside check is: the document's own validity, the
    # warnings and the recognition rules are part of the figure.
    judged = {"purpose": "roadside_driver_check", "caller_region": "CN-JS"}
    assert all(verify.verify(t, trust, now, status_lists=lists, **judged).outcome is Outcome.VALID for t in texts)
    text = texts[0]
    cycle = itertools.cycle(texts).__next__

    raw = raw_verify_call(key, cose.parse_sign1(credential.decode_text(text)).to_be_signed())
    # The machine is shared: measure the two in alternating short rounds, so both see the same
    # conditions, and take medians.
    raws, pipes = [], []
    for _ in range(ROUNDS):
        raws.append(rate(raw, seconds / ROUNDS))
        pipes.append(rate(lambda: verify.verify(cycle(), trust, now, status_lists=lists, **judged), seconds / ROUNDS))
    ratio = statistics.median(p / r for p, r in zip(pipes, raws))
    return {"credential_chars": len(text), "raw_verify_per_s": round(statistics.median(raws)),
            "pipeline_verify_per_s": round(statistics.median(pipes)), "pipeline_ratio": round(ratio, 3)}
