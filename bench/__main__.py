"""``make bench``: a human table, then one JSON line with every figure of this run."""

from __future__ import annotations

import json
import os
import platform
import sys

from . import pipeline


def main() -> int:
    seconds = float(os.environ.get("ECERT_BENCH_SECONDS", "3"))
    results = {}
    print(f"# ecert benchmark on {platform.machine()}, Python {platform.python_version()}, "
          f"{os.cpu_count()} cores, {seconds:g} s per figure", flush=True)
    results.update(pipeline.measure(seconds))
    rows = [
        ("raw ECDSA P-256 verify (cryptography, 1 core)", f"{results['raw_verify_per_s']:,} /s"),
        (f"EC1 pipeline, text to verified claims ({results['credential_chars']} chars, 1 core)",
         f"{results['pipeline_verify_per_s']:,} /s"),
        ("pipeline / raw", f"{results['pipeline_ratio']:.3f}"),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value:>12}")
    print(json.dumps(results), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
