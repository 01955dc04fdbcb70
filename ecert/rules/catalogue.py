"""The common catalogue of certificate types shipped with the suite (``catalogue/*.json``)."""

from __future__ import annotations

import functools
import hashlib
import json
from importlib import resources
from typing import Any

from ..errors import InvalidRequest
from ..limits import MAX_NAME, MAX_TYPE_VERSION
from .schema import (
    TypeSchema,
    check_disclosure,
    check_identify,
    check_type_id,
    parse_schema,
)


def load_type_document(doc: Any) -> dict[str, Any]:
    """Check a type document ``{"id", "version", "name", "schema", "disclosure"}``. ``disclosure``
    maps roles to the fields they see, and ``"other_region_agency": [role]`` names the role whose
    fields an agency sees in another region's credentials (without it: none). The schema's
    ``x-validity``, ``x-deadlines``, ``x-consistency``, ``x-date-order`` (:mod:`ecert.rules.document`)
    and ``x-identify`` (each role's list within its disclosure) are checked too: InvalidRequest
    ``SCHEMA_MALFORMED`` naming the problem. Last, the type is built as every reader of a trust
    list builds it (:class:`TypeSchema`), so a type accepted here never breaks a trust list.

    Returns it normalised, with ``schema`` as JSON text; raises InvalidRequest naming the problem.
    """
    if not isinstance(doc, dict):
        raise InvalidRequest("a certificate type must be a JSON object")
    type_id = check_type_id(doc.get("id"))
    version = doc.get("version", 1)
    if type(version) is not int or not 1 <= version <= MAX_TYPE_VERSION:
        raise InvalidRequest("version must be an integer from 1", field="version")
    name = doc.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME:
        raise InvalidRequest(f"name is required (at most {MAX_NAME} characters)", field="name")
    schema = doc.get("schema")
    schema_text = schema if isinstance(schema, str) else json.dumps(schema, ensure_ascii=False, sort_keys=True)
    parsed = parse_schema(schema_text)
    disclosure = check_disclosure(doc.get("disclosure", {}), parsed)
    check_identify(parsed, disclosure)
    try:
        TypeSchema(type_id, version, name, schema_text, disclosure)  # the document members too
    except (KeyError, TypeError, ValueError) as err:  # what a trust list's reader would refuse the list for
        raise InvalidRequest(f"schema cannot be compiled: {type(err).__name__}", code="SCHEMA_MALFORMED",
                             field="schema") from err
    return {"id": type_id, "version": version, "name": name, "schema": schema_text, "disclosure": disclosure}


def content_digest(name: str, schema_text: str, disclosure: dict) -> str:
    """A stored type version's content as one SHA-256 (hex): what :func:`superseded_digests` lists."""
    text = json.dumps([name, schema_text, disclosure], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@functools.cache
def superseded_digests() -> dict[tuple[str, int], frozenset[str]]:
    """``(type id, version)`` -> the digests of the built-in catalogue's earlier texts of it
    (``data/superseded_types.json``): a stored copy with one of them may be replaced by the
    current text, since it is the suite's own type, not an admin's."""
    doc = json.loads((resources.files("ecert.rules") / "data" / "superseded_types.json").read_text("utf-8"))
    out = {}
    for key, digests in doc["types"].items():
        type_id, _, version = key.rpartition("@")
        out[(type_id, int(version))] = frozenset(digests)
    return out


def builtin_types() -> list[dict[str, Any]]:
    folder = resources.files("ecert.rules") / "catalogue"
    docs = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            docs.append(load_type_document(json.loads(entry.read_text(encoding="utf-8"))))
    return docs


DEFAULT_REGIONS = {
    "CN-SH": "上海市 / Shanghai",
    "CN-ZJ": "浙江省 / Zhejiang",
    "CN-JS": "江苏省 / Jiangsu",
    "CN-AH": "安徽省 / Anhui",
}
