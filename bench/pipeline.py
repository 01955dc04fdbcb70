"""Raw ECDSA P-256 verification against the full EC1 pipeline, one core."""

from __future__ import annotations

import itertools
import json
import statistics
import time
from collections.abc import Callable
from importlib import resources

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from ecert import cose, credential, statuslist, trustlist, verify
from ecert.errors import Outcome
from ecert.keys import SigningKey
from tests.samples import driving_licence


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


def fixture(now: int, n_keys: int = 1, n_status: int = 1000, n_credentials: int = 1):
    """A signed trust list, realistic distinct credentials and their status list."""
    root, key = SigningKey.generate(), SigningKey.generate()
    doc = json.loads((resources.files("ecert") / "catalogue" / "cn.driving_licence.v1.json").read_text("utf-8"))
    extra = [SigningKey.generate() for _ in range(n_keys - 1)]
    key_entries = [{"kid": k.kid, "alg": k.alg, "spki": k.spki, "nbf": now - 10, "exp": now + 10**8,
                    "status": "active"} for k in [key, *extra]]
    payload = {"v": 1, "iat": now, "exp": now + 3600,
               "regions": [{"code": "CN-ZJ", "name": "Zhejiang", "endpoint": "", "keys": key_entries}],
               "types": [{"id": doc["id"], "v": doc["version"], "name": doc["name"],
                          "schema": json.dumps(doc["schema"], ensure_ascii=False), "disclosure": doc["disclosure"]}]}
    trust = trustlist.TrustList.from_signed(trustlist.sign(root, payload), root.public)
    uri = "urn:ecert:status:CN-ZJ:1"
    ts = trust.types[(doc["id"], 1)]
    texts = [credential.issue(key, iss="CN-ZJ", iat=now, exp=now + 86400 * 365, cti=credential.new_cti(),
                              type_id=doc["id"], type_version=1,
                              fields=ts.to_cbor(driving_licence(file_number=f"3301{i:08d}")),
                              status_uri=uri, status_idx=7 + 3 * i + 1)
             for i in range(n_credentials)]
    bits = statuslist.build_bits([(i, 1) for i in range(0, n_status, 3)], n_status)
    sl = statuslist.parse(statuslist.sign(key, uri=uri, bits=bits, iat=now, exp=now + 3600, ttl=10),
                          expected_uri=uri, region_keys=trust.keys_by_kid)
    return key, trust, texts, sl


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
    assert all(verify.verify(t, trust, now, status_lists=lists).outcome is Outcome.VALID for t in texts)
    text = texts[0]
    cycle = itertools.cycle(texts).__next__

    raw = raw_verify_call(key, cose.parse_sign1(credential.decode_text(text)).to_be_signed())
    # The machine is shared: measure the two in alternating short rounds, so both see the same
    # conditions, and take medians.
    raws, pipes = [], []
    for _ in range(ROUNDS):
        raws.append(rate(raw, seconds / ROUNDS))
        pipes.append(rate(lambda: verify.verify(cycle(), trust, now, status_lists=lists), seconds / ROUNDS))
    ratio = statistics.median(p / r for p, r in zip(pipes, raws))
    return {"credential_chars": len(text), "raw_verify_per_s": round(statistics.median(raws)),
            "pipeline_verify_per_s": round(statistics.median(pipes)), "pipeline_ratio": round(ratio, 3)}
