"""Write the conformance vectors in ``tests/vectors/`` with the project's own code.

    .venv/bin/python tests/vectors/generate.py

Keys come from fixed seeds (Ed25519) and fixed private numbers (P-256), times are fixed and
every credential id is derived from the vector's name, so a run gives the same keys, texts and
expectations every time. ECDSA signatures are randomised: ES256 signatures (and so the texts of
ES256 vectors and the signed trust list) change from run to run, which is fine, since the files
are committed. Every vector is checked against the project's verification before it is written:
a forging mistake stops the run.

The committed files are the vectors; ``tests/test_vectors.py`` reads them and never runs this.
"""


from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.vectors.common import VECTORS  # noqa: E402
from tests.vectors.ec1 import build_ec1  # noqa: E402
from tests.vectors.others import build_ep1, build_status_lists, build_trust_lists  # noqa: E402

# ---------------------------------------------------------------------------------- main

def main() -> None:
    build_ec1()
    build_ep1()
    build_status_lists()
    build_trust_lists()
    for kind in ("ec1", "ep1", "status-list", "trust-list"):
        folder = HERE / kind
        folder.mkdir(exist_ok=True)
        for old in folder.glob("*.json"):
            old.unlink()
    ids = set()
    for vec in VECTORS:
        assert vec["id"] not in ids, vec["id"]
        ids.add(vec["id"])
        path = HERE / f"{vec['id']}.json"
        path.write_text(json.dumps(vec, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    counts: dict[str, int] = {}
    for vec in VECTORS:
        counts[vec["kind"]] = counts.get(vec["kind"], 0) + 1
    print("wrote", ", ".join(f"{n} {k}" for k, n in counts.items()), "vectors to", HERE)


if __name__ == "__main__":
    main()
