"""The registry's certificate types and recognition rules as the issuer last fetched them, kept on
disk (``var/issuer/<region>/registry-cache.json``, 0600) so an issuer started while the registry is
down issues and judges show codes from them. A file that cannot be read or parsed is ignored with
a warning (the issuer then waits for the registry, as with none).

The file is written whole (:func:`ecert.files.write_private`) and only when what it holds changed.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from ecert.errors import EcertError
from ecert.files import write_private
from ecert.rules.acceptance import Rules
from ecert.rules.schema import TypeSchema

log = logging.getLogger("ecert.issuer")

FILE = "registry-cache.json"
FORMAT = 1
"""The file's layout: ``{"format", "types": [{id, version, name, schema, disclosure}], "rules"}``
(``rules``: :meth:`Rules.to_payload`, or null when none was fetched yet)."""

Types = dict[tuple[str, int], TypeSchema]


class RegistryCache:
    """The file at ``path``: :meth:`load` at start, :meth:`save_types` / :meth:`save_rules` after
    each fetch."""

    def __init__(self, path: Path):
        self.path = path
        self._doc: dict = {"format": FORMAT, "types": [], "rules": None}
        self._written = b""

    def load(self) -> tuple[Types | None, Rules | None]:
        """The types and rules on disk (None for either not held, or for both when the file is damaged)."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None, None
        except OSError as err:
            log.warning("%s cannot be read, ignored: %s", self.path.name, err)
            return None, None
        try:
            doc = json.loads(raw)
            if not isinstance(doc, dict) or doc.get("format") != FORMAT:
                raise ValueError("not a registry cache of this version")
            types = {(t.id, t.version): t for t in (
                TypeSchema(d["id"], int(d["version"]), d["name"], d["schema"], d["disclosure"]) for d in doc["types"])}
            rules = None if doc["rules"] is None else Rules.from_payload(doc["rules"])
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError, EcertError) as err:
            log.warning("%s is damaged, ignored: %s", self.path.name, err)
            return None, None
        self._doc = doc
        self._written = raw
        log.info("%d certificate types%s from %s, until the registry answers", len(types),
                 " and the recognition rules" if rules is not None else "", self.path.name)
        return (types or None), rules

    def save_types(self, types: Types) -> None:
        self._doc["types"] = [{"id": t.id, "version": t.version, "name": t.name, "schema": t.schema_text,
                               "disclosure": t.disclosure} for t in sorted(types.values(), key=lambda t: (t.id, t.version))]
        self._write()

    def save_rules(self, rules: Rules) -> None:
        self._doc["rules"] = rules.to_payload()
        self._write()

    def _write(self) -> None:
        data = json.dumps(self._doc, sort_keys=True, ensure_ascii=False).encode()
        if data == self._written:
            return
        try:
            write_private(self.path, data)
        except OSError as err:  # the copy in memory serves; the next fetch writes again
            log.warning("%s cannot be written: %s", self.path.name, err)
            return
        self._written = data
