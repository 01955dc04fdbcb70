"""The compiled schema check answers exactly as jsonschema does (differential test)."""

from __future__ import annotations

import copy
import json
import random
from importlib import resources

import pytest

from ecert import fastschema, identifiers
from ecert.schema import TypeSchema
from tests.test_catalogue import SAMPLES

CATALOGUE = sorted(p.name for p in (resources.files("ecert") / "catalogue").iterdir() if p.name.endswith(".json"))

MUTATIONS = [None, "", "长期", 0, -1, 13, 1.5, True, False, "x" * 300, "1990-02-30", "1990-2-3", "2100-01-01",
             "330106199003071236", "33010619900307123X", "C1", "A2D", "Z9", "浙A12345", "浙AD12345",
             "91350100M000100Y43", "男", "女", "other", [], {}]


def _type(name: str) -> TypeSchema:
    doc = json.loads((resources.files("ecert") / "catalogue" / name).read_text("utf-8"))
    return TypeSchema(doc["id"], doc["version"], doc["name"], json.dumps(doc["schema"]), doc["disclosure"])


@pytest.mark.parametrize("name", CATALOGUE)
def test_every_catalogue_schema_compiles(name):
    assert _type(name)._fast is not None


@pytest.mark.parametrize("name", CATALOGUE)
def test_compiled_check_agrees_with_jsonschema(name):
    ts = _type(name)
    sample = SAMPLES[ts.id]
    rng = random.Random(name)
    cases = [sample]
    for _ in range(400):
        doc = copy.deepcopy(sample)
        for _ in range(rng.randint(1, 3)):
            op = rng.random()
            field = rng.choice(list(ts.schema["properties"]))
            if op < 0.15:
                doc.pop(field, None)
            elif op < 0.2:
                doc["unexpected_" + field] = "x"
            else:
                doc[field] = rng.choice(MUTATIONS)
        cases.append(doc)
    agree = [ts._fast(doc) == ts._validator.is_valid(doc) for doc in cases]
    assert all(agree), [c for c, ok in zip(cases, agree) if not ok][:3]
    valid = sum(ts._validator.is_valid(doc) for doc in cases)
    assert 0 < valid < len(cases)  # the mutations exercise both answers


def test_unsupported_keywords_fall_back():
    assert fastschema.compile_schema({"type": "object", "patternProperties": {"^a": {}}}) is None
    assert fastschema.compile_schema({"type": "object", "$ref": "#/x"}) is None
    assert fastschema.compile_schema({"type": "object", "properties": {"a": {"type": "string"}}}) is not None


def test_json_equality_rules():
    check = fastschema.compile_schema({"enum": [1, "a"]})
    assert check(1) and check(1.0) and check("a")
    assert not check(True) and not check("1")
    assert fastschema.compile_schema({"const": False})(False)
    assert not fastschema.compile_schema({"const": False})(0)


def test_formats_and_date_order():
    schema = {"type": "object", "properties": {"id": {"type": "string", "format": "cn-citizen-id"},
                                               "a": {"type": "string", "format": "date"},
                                               "b": {"type": "string", "format": "date"}},
              "x-date-order": [["a", "b"]]}
    check = fastschema.compile_schema(schema, identifiers.FORMAT_CHECKS)
    assert check({"id": "330106199003071236", "a": "2020-01-01", "b": "2020-01-01"})
    assert not check({"id": "330106199003071235"})
    assert not check({"a": "2020-01-02", "b": "2020-01-01"})
    assert not check({"a": "2020-02-30"})
