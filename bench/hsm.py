"""Issuance with the signing key in a PKCS#11 token (SoftHSM2) against the encrypted key file.

Two copies of the suite run as processes (``make run``'s way): one keeping its keys in files,
one in a fresh SoftHSM2 token (``ECERT_PKCS11_*``). Issuance through the issuer's gRPC service
(64 clients, each answer after the credential is synced to disk: :func:`bench.load._issue`) is
measured in alternating rounds (which goes first alternates too), so both see the same noisy
machine; the ratio is the median of the rounds' token/file ratios, its spread the lowest and
highest. The bare signatures (one key in this process, one in the token) are measured the same way.

``ECERT_BENCH_ONLY=hsm .venv/bin/python -m bench`` (skipped, saying why, without SoftHSM2).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from ecert.format import keys
from ecert.rpc.links import Links
from ecert.runtime import hsm, pki
from ecert.store import open_store
from testkit import photos, softhsm

from . import load

ROUNDS = 4


def _sign_rate(key: keys.Signer, seconds: float) -> float:
    message = b"\x84\x6aSignature1" + bytes(200)  # about a credential's Sig_structure
    n, t0 = 0, time.perf_counter()
    stop = t0 + seconds
    while time.perf_counter() < stop:
        for _ in range(50):
            key.sign(message)
        n += 50
    return n / (time.perf_counter() - t0)


def _alternate(measure_file, measure_token, seconds: float) -> tuple[list[float], list[float]]:
    files, tokens = [], []
    for i in range(ROUNDS):
        if i % 2 == 0:
            files.append(measure_file(seconds / ROUNDS))
            tokens.append(measure_token(seconds / ROUNDS))
        else:
            tokens.append(measure_token(seconds / ROUNDS))
            files.append(measure_file(seconds / ROUNDS))
    return files, tokens


def _figures(name: str, files: list[float], tokens: list[float]) -> dict:
    ratios = [t / f for f, t in zip(files, tokens)]
    return {f"hsm_{name}_file_per_s": round(statistics.median(files)),
            f"hsm_{name}_token_per_s": round(statistics.median(tokens)),
            f"hsm_{name}_ratio": round(statistics.median(ratios), 3),
            f"hsm_{name}_ratio_low": round(min(ratios), 3), f"hsm_{name}_ratio_high": round(max(ratios), 3)}


async def _hold_photos(store_uri: str) -> None:
    store = await open_store(store_uri)
    try:
        await photos.hold_sample_photos(store, ["CN-ZJ"])  # the photo driving_licence() names
    finally:
        await store.close()


async def _issue_rounds(file_suite, token_suite, seconds: float) -> dict:
    """The issuance rounds, alternating, in one event loop (its gRPC channels live in it)."""
    def target(suite):
        var_dir, _, env, ports = suite
        links = Links.from_files(env["ECERT_INTERNAL_TOKEN"], pki.files(var_dir / pki.PKI_DIR, pki.GATEWAY))
        return f"127.0.0.1:{ports.issuers['CN-ZJ']}", links

    f, t = target(file_suite), target(token_suite)
    await load._issue(*f, 0.5)  # warm-up
    await load._issue(*t, 0.5)
    files, tokens = [], []
    for i in range(ROUNDS):
        order = [(files, f), (tokens, t)] if i % 2 == 0 else [(tokens, t), (files, f)]
        for rates, (where, links) in order:
            rates.append((await load._issue(where, links, seconds / ROUNDS))["issue_per_s"])
    return _figures("issue", files, tokens)


def measure(seconds: float = 5.0) -> dict:
    why = softhsm.unavailable()
    if why is not None:
        print(f"# hsm: skipped: {why}", file=sys.stderr, flush=True)
        return {}
    folder = Path(tempfile.mkdtemp(prefix="ecert-bench-hsm-"))
    suites = []
    try:
        token = softhsm.make_token(folder)
        os.environ["SOFTHSM2_CONF"] = str(token.conf)  # this process's own signatures
        hsm.reset()
        in_token = hsm.open_token(hsm.Pkcs11Config(token.module, token.label, token.pin)).generate(keys.ES256)
        in_memory = keys.SigningKey.generate(keys.ES256)
        out = _figures("sign", *_alternate(lambda s: _sign_rate(in_memory, s), lambda s: _sign_rate(in_token, s),
                                           seconds))

        file_suite = load.start_suite("ecert-bench-hsm-file-")
        suites.append(file_suite)
        token_suite = load.start_suite("ecert-bench-hsm-token-", **token.env())
        suites.append(token_suite)
        if not list((token_suite[0] / "issuer" / "CN-ZJ" / "keys").glob("*.token")):
            raise RuntimeError("the suite given the token did not keep its keys there")

        for suite in (file_suite, token_suite):
            asyncio.run(_hold_photos(suite[1].store_uri))
        out.update(asyncio.run(_issue_rounds(file_suite, token_suite, seconds * 2)))
        return out
    finally:
        for var_dir, suite, _, _ in suites:
            suite.stop()
            shutil.rmtree(var_dir, ignore_errors=True)
        hsm.reset()
        shutil.rmtree(folder, ignore_errors=True)
