"""The EC1 fuzz target (tests/fuzz/fuzz_ec1.py), run for a bounded time: the C fast path and the
Python reference give the same answers and neither crashes. ``make fuzz`` runs it longer."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("atheris", reason="atheris is not installed: the coverage-guided EC1 fuzz run is skipped")

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "tests" / "fuzz" / "fuzz_ec1.py"
SECONDS = int(os.environ.get("ECERT_FUZZ_SECONDS", "10"))
SEED = int(os.environ.get("ECERT_FUZZ_SEED") or 1)  # fixed: the run in `make test` is the same run each time (`make fuzz` is not)


def test_the_seed_corpus_is_one_input_per_mode_and_replays():
    from tests.fuzz import fuzz_ec1

    held = {p.name: p.read_bytes() for p in (ROOT / "tests" / "fuzz" / "corpus").iterdir()}
    assert held == fuzz_ec1.seeds()  # regenerate the files if the target's seeds change
    outcomes = {name: fuzz_ec1.check(fuzz_ec1.text_of(data)).value for name, data in held.items()}
    assert outcomes == {"text": "VALID", "cose": "VALID", "claims": "VALID", "protected": "VALID",
                        "splice": "CLAIMS_MALFORMED"}


def test_a_disagreement_is_a_crash(monkeypatch):
    """The target fails when the paths differ (so that a run that passes means something)."""
    from ecert.rules import verify
    from tests.fuzz import fuzz_ec1

    if fuzz_ec1.FAST is None:
        pytest.skip("the optional C extension is not built")
    text = fuzz_ec1.text_of(fuzz_ec1.seeds()["cose"])
    real = fuzz_ec1.FAST

    def lying(t):
        out = real(t)
        return None if out is None or out[5] is None else out[:5] + ((out[5][0] + "X",) + out[5][1:],)

    monkeypatch.setattr(fuzz_ec1, "FAST", lying)
    try:
        with pytest.raises(AssertionError):
            fuzz_ec1.check(text)
        assert verify._decode_ec1 is lying  # check() leaves the fast path as it found it
    finally:
        verify._decode_ec1 = real


def test_bounded_fuzz_run(tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "tests" / "fuzz" / "corpus", corpus)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, str(TARGET), f"-max_total_time={SECONDS}", f"-seed={SEED}", "-timeout=20", "-rss_limit_mb=2048",
         f"-artifact_prefix={tmp_path}/", str(corpus)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=SECONDS + 120, check=False)
    tail = "\n".join(line for line in proc.stderr.splitlines() if not line.startswith("INFO: Instrumenting"))[-3000:]
    assert proc.returncode == 0, tail
    assert "Done " in proc.stderr and not list(tmp_path.glob("crash-*")), tail
