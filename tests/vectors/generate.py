"""Write the conformance vectors in ``tests/vectors/`` with the project's own code.

    .venv/bin/python -m tests.vectors.generate      (or: .venv/bin/python tests/vectors/generate.py)

Everything is fixed: keys come from fixed seeds (Ed25519) and fixed private numbers (P-256),
ES256 signatures are deterministic (RFC 6979), times are fixed and every credential id is
derived from the vector's name. So a run writes the same files, byte for byte, every time
(``tests/test_vectors.py`` checks that the committed files are what this writes). Every vector
is checked against the project's verification before it is written: a forging mistake stops
the run.

The committed files are the vectors; ``tests/test_vectors.py`` reads them.
"""


from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.vectors.common import VECTORS
from tests.vectors.ec1 import build_ec1
from tests.vectors.others import build_ep1, build_status_lists, build_trust_lists

KINDS = ("ec1", "ep1", "status-list", "trust-list")


def build() -> dict[str, str]:
    """Every vector as the text of its file: ``{"ec1/valid-es256-driving-licence.json": text, ...}``."""
    VECTORS.clear()
    build_ec1()
    build_ep1()
    build_status_lists()
    build_trust_lists()
    files: dict[str, str] = {}
    for vec in VECTORS:
        name = f"{vec['id']}.json"
        assert name not in files, vec["id"]
        files[name] = json.dumps(vec, ensure_ascii=False, indent=2) + "\n"
    return files


def main() -> None:
    files = build()
    for kind in KINDS:
        folder = HERE / kind
        folder.mkdir(exist_ok=True)
        for old in folder.glob("*.json"):
            old.unlink()
    for name, text in files.items():
        (HERE / name).write_text(text, encoding="utf-8")
    counts: dict[str, int] = {}
    for vec in VECTORS:
        counts[vec["kind"]] = counts.get(vec["kind"], 0) + 1
    print("wrote", ", ".join(f"{n} {k}" for k, n in counts.items()), "vectors to", HERE)


if __name__ == "__main__":
    main()
