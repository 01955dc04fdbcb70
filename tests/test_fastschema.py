"""The compiled schema check answers exactly as jsonschema does (differential test)."""

from __future__ import annotations

import copy
import io
import json
import keyword
import random
import re
import tokenize
import types
from datetime import date
from importlib import resources

import pytest

from ecert.rules import fastschema, identifiers
from ecert.rules.schema import FORMAT_CHECKER, TypeSchema, Validator
from testkit.samples import SAMPLES

CATALOGUE = sorted(p.name for p in (resources.files("ecert.rules") / "catalogue").iterdir() if p.name.endswith(".json"))

MUTATIONS = [None, "", "长期", 0, -1, 13, 1.5, True, False, "x" * 300, "1990-02-30", "1990-2-3", "2100-01-01",
             "330106199003071236", "33010619900307123X", "C1", "A2D", "Z9", "浙A12345", "浙AD12345",
             "91350100M000100Y43", "男", "女", "other", [], {}]


def _type(name: str) -> TypeSchema:
    doc = json.loads((resources.files("ecert.rules") / "catalogue" / name).read_text("utf-8"))
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


def test_type_schema_compiles_with_the_string_only_format_checks():
    ts = _type("cn.driving_licence.v1.json")
    doc = dict(SAMPLES[ts.id], id_number=330106199003071236, licence_class=["C1"])
    assert not ts.is_valid(doc) and not ts._validator.is_valid(doc)


# --------------------------------------------------------------------------- object level

PROPERTY_SCHEMAS = [
    {"type": "string", "minLength": 1, "maxLength": 4},
    {"maxLength": 3, "type": "string", "pattern": "^[a-z]+$"},      # keywords before "type"
    {"format": "date", "type": "string"},
    {"anyOf": [{"type": "string", "format": "date", "maxLength": 10}, {"const": "长期"}]},
    {"type": "string", "format": "cn-citizen-id"},
    {"type": "integer", "minimum": 0, "maximum": 12},
    {"minimum": 0, "exclusiveMaximum": 10},                          # numbers only, any type passes
    {"type": ["string", "integer"], "maxLength": 2, "exclusiveMinimum": -1},
    {"enum": ["男", "女"]}, {"enum": [1, "1", None]}, {"const": True},
    {"oneOf": [{"type": "string"}, {"maxLength": 1}]}, {"not": {"type": "boolean"}},
    {"type": "boolean"}, True, False, {}, {"title": "annotation only"},
]
EXTRA_SCHEMAS = [None, True, False, {}, {"type": "string"}, {"type": "integer", "maximum": 5}, {"not": {}}]
NAMES = ["a", "b", "c", "d", "e"]
VALUES = [None, True, False, 0, 1, 3, -1, 12, 13, 1.0, 2.5, -0.5, float("nan"), float("inf"), "", "a", "ab", "abc",
          "abcd", "ABC", "1", "男", "长期", "2020-01-01", "2020-01-02", "2019-12-31", "2020-02-30", "2020-1-01",
          "2020-01-01\n", "２０２０-01-01", "0000-01-01", "11010519491231002X", "11010519491231002x", [], {}, ["a"]]


def _random_schema(rng: random.Random) -> dict:
    props = {n: rng.choice(PROPERTY_SCHEMAS) for n in rng.sample(NAMES, rng.randint(0, 4))}
    schema: dict = {"type": "object", "properties": props}
    if rng.random() < 0.8:
        schema["required"] = rng.sample(list(props) + ["e"], rng.randint(0, len(props)))
    extra = rng.choice(EXTRA_SCHEMAS)
    if extra is not None:
        schema["additionalProperties"] = extra
    if rng.random() < 0.6:
        schema["x-date-order"] = [rng.sample(NAMES, 2) for _ in range(rng.randint(1, 3))]
    return schema


def _random_instance(rng: random.Random) -> object:
    if rng.random() < 0.05:
        return rng.choice([None, [], "x", 1])
    return {n: rng.choice(VALUES) for n in rng.sample(NAMES + ["zz"], rng.randint(0, 6))}


def test_object_checks_agree_with_jsonschema_on_random_schemas():
    """Required, additionalProperties (false, true or a schema) and x-date-order at the object level."""
    rng = random.Random(7)
    answers = []
    for _ in range(400):
        schema = _random_schema(rng)
        check = fastschema.compile_schema(schema, identifiers.STRING_FORMAT_CHECKS)
        assert check is not None, schema
        validator = Validator(schema, format_checker=FORMAT_CHECKER)
        for _ in range(40):
            doc = _random_instance(rng)
            expected = validator.is_valid(doc)
            assert check(doc) == expected, (schema, doc)
            answers.append(expected)
    assert 1000 < sum(answers) < len(answers) - 1000


@pytest.mark.parametrize("doc, ok", [
    ({"a": "2020-01-01", "b": "2020-01-02", "c": 1}, True),
    ({"a": "2020-01-01", "c": 1}, False),                             # b is required
    ({"a": "2020-01-01", "b": "2020-01-01", "c": 1, "d": "x"}, False),  # d is not a property
    ({"a": "2020-01-02", "b": "2020-01-01", "c": 1}, False),          # b before a
    ({"a": "2020-01-02", "b": "长期", "c": 1}, True),                  # not a date: not ordered
    ({"b": "2020-01-01", "c": 0}, True),                              # a absent
    ({"b": "2020-01-01", "c": 13}, False),
    ({"b": "2020-01-01", "c": 1.0}, True),
    ({"b": "2020-01-01", "c": True}, False),
])
def test_object_level_cases(doc, ok):
    schema = {"type": "object", "additionalProperties": False, "required": ["b", "c"],
              "properties": {"a": {"type": "string", "format": "date"},
                             "b": {"anyOf": [{"type": "string", "format": "date"}, {"const": "长期"}]},
                             "c": {"type": "integer", "minimum": 0, "maximum": 12}},
              "x-date-order": [["a", "b"]]}
    assert fastschema.compile_schema(schema)(doc) is ok
    assert Validator(schema, format_checker=FORMAT_CHECKER).is_valid(doc) is ok


def test_additional_properties_schema_checks_only_the_extra_names():
    check = fastschema.compile_schema({"type": "object", "properties": {"a": {"type": "integer"}},
                                       "additionalProperties": {"type": "string"}})
    assert check({"a": 1, "b": "x"}) and check({"b": "x", "c": ""}) and check({})
    assert not check({"a": "x"}) and not check({"a": 1, "b": 2})


def test_a_value_of_the_wrong_type_is_invalid_not_an_error():
    check = fastschema.compile_schema({"type": "object", "properties": {
        "a": {"maxLength": 3, "pattern": "^a", "format": "cn-plate", "type": "string"}}},
        identifiers.STRING_FORMAT_CHECKS)
    for value in (5, None, True, [], {}):
        assert check({"a": value}) is False


def test_any_mapping_is_checked_like_a_dict():
    ts = _type("cn.driving_licence.v1.json")
    doc = SAMPLES[ts.id]
    assert ts._fast(types.MappingProxyType(doc)) and ts._fast(doc)
    assert not ts._fast(types.MappingProxyType(dict(doc, extra="x")))
    assert not ts._fast(types.MappingProxyType({k: v for k, v in doc.items() if k != "name"}))


def test_bounds_compare_as_jsonschema_does_even_for_nan():
    for schema in ({"minimum": 0}, {"maximum": 0}, {"exclusiveMinimum": 0}, {"exclusiveMaximum": 0}):
        check = fastschema.compile_schema(schema)
        validator = Validator(schema)
        for value in (float("nan"), -1, 0, 0.0, 1, float("inf"), "x"):
            assert check(value) == validator.is_valid(value), (schema, value)


def test_format_checks_are_only_called_on_strings():
    seen = []

    def strict(s: str) -> bool:
        assert type(s) is str
        seen.append(s)
        return s.startswith("ok")

    formats = {"f": strict}
    for prop in ({"type": "string", "format": "f"}, {"format": "f", "type": "string"}, {"format": "f"},
                 {"type": ["integer", "string"], "format": "f"}, {"anyOf": [{"format": "f"}, {"type": "integer"}]}):
        check = fastschema.compile_schema({"type": "object", "properties": {"a": prop}}, formats)
        for value in VALUES:
            check({"a": value})
        assert check({"a": "ok"}) and not check({"a": "no"})
    assert seen


@pytest.mark.parametrize("schema", [
    {"type": "object", "properties": []},
    {"type": "object", "required": "a"},
    {"type": "object", "required": [1]},
    {"type": "object", "x-date-order": [["a"]]},
    {"type": "object", "x-date-order": ["ab"]},
    {"type": "object", "properties": {"a": {"maxLength": 1.5}}},
    {"type": "object", "properties": {"a": {"maxLength": "3"}}},
    {"type": "object", "properties": {"a": {"minimum": "3"}}},
    {"type": "object", "properties": {"a": {"pattern": "("}}},
    {"type": "object", "properties": {"a": {"type": "nothing"}}},
])
def test_malformed_schemas_are_not_compiled(schema):
    assert fastschema.compile_schema(schema) is None


# --------------------------------------------------------------------------- generated source

HOSTILE = ['"); __import__("os").system("echo owned"); ("', "'\n    return True\n#", "a\\", "x", "v", "keys",
           "_MISSING", "_c1", "p0", "名字", "1e9", "None", "__class__"]

# Names the compiler itself writes: Python keywords, a few builtins and its locals and namespace entries.
_COMPILER_NAMES = set(keyword.kwlist) | {"type", "len", "isinstance", "str", "int", "float", "bool", "dict", "list",
                                         "is_integer", "get", "keys", "items", "x", "v", "k", "a", "b", "_check",
                                         "_NUM", "_Mapping", "_json_equal", "_json_in", "_DATE", "_MISSING"}


def _source_tokens(schema: dict) -> list[tokenize.TokenInfo]:
    gen = fastschema._Gen(identifiers.STRING_FORMAT_CHECKS)
    source = fastschema._source(schema, gen)
    return list(tokenize.generate_tokens(io.StringIO(source).readline))


def test_schema_values_never_appear_in_the_generated_source():
    """Names, patterns, strings and numbers from the schema reach the code only as _c<n> names."""
    props = {name: {"type": "string", "pattern": "^" + re.escape(name) + "$", "const": name, "maxLength": 99,
                    "enum": [name, "长期"]} for name in HOSTILE}
    props["n"] = {"type": "integer", "minimum": 123456, "maximum": 654321.5, "enum": [7, "x"], "const": 7}
    schema = {"type": "object", "properties": props, "required": HOSTILE[:5],
              "additionalProperties": {"const": "extra"}, "x-date-order": [HOSTILE[:2], ["n", "zzz"]]}
    for tok in _source_tokens(schema):
        assert tok.type != tokenize.STRING, tok
        if tok.type == tokenize.NUMBER:
            assert tok.string == "1", tok  # only the oneOf count
        if tok.type == tokenize.NAME:
            assert tok.string in _COMPILER_NAMES or re.fullmatch(r"_c[0-9]+|p[0-9]+", tok.string), tok
    check = fastschema.compile_schema(schema)
    validator = Validator(schema)
    doc = {name: name for name in HOSTILE}
    assert check(doc) and validator.is_valid(doc)
    for name in HOSTILE[:5]:
        broken = dict(doc)
        del broken[name]
        assert not check(broken) and not validator.is_valid(broken)
    assert not check(dict(doc, extra_name="nope")) and check(dict(doc, extra_name="extra"))


def test_catalogue_sources_use_only_compiler_vocabulary():
    for name in CATALOGUE:
        ts = _type(name)
        for tok in _source_tokens(ts.schema):
            assert tok.type != tokenize.STRING and tok.type != tokenize.NUMBER, (name, tok)
            if tok.type == tokenize.NAME:
                assert tok.string in _COMPILER_NAMES or re.fullmatch(r"_c[0-9]+|p[0-9]+", tok.string), tok


# --------------------------------------------------------------------------- format: date

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)  # the regex jsonschema uses


def _reference_is_date(s: str) -> bool:
    if not _ISO_DATE.fullmatch(s):
        return False
    try:
        date.fromisoformat(s)
    except ValueError:
        return False
    return True


def test_is_date_matches_regex_and_fromisoformat():
    cases = ["", "2020-01-01", "2020-01-01\n", "20200101", "2020-W01-1", "2020-W011", "2020-001", "0000-01-01",
             "0001-01-01", "9999-12-31", "+020-01-01", "2020-01-1 ", " 2020-01-1", "2020-1-011", "２０２０-01-01",
             "2020\u201101\u201101", "2020-01-01T00:00", "2020-01-0\ud800"]
    for pos in (0, 1, 2, 3, 5, 6, 8, 9):  # every ASCII character and some others at every digit position
        for code in [*range(128), 0x660, 0x669, 0xFF10, 0xFF19, 0x1D7CE, 0xD800]:
            cases.append("2020-01-31"[:pos] + chr(code) + "2020-01-31"[pos + 1:])
    for pos in (4, 7):
        for code in range(128):
            cases.append("2020-01-31"[:pos] + chr(code) + "2020-01-31"[pos + 1:])
    for year in (0, 1, 1900, 1999, 2000, 2024, 2100, 9999):
        for mmdd in range(0, 10000):
            cases.append(f"{year:04d}-{mmdd // 100:02d}-{mmdd % 100:02d}")
    answers = [_reference_is_date(s) for s in cases]
    assert [fastschema._is_date_py(s) for s in cases] == answers
    assert [fastschema._is_date(s) for s in cases] == answers  # the C check when it is built
    assert 366 * 2 + 365 * 5 < sum(answers) < len(answers) - 10000  # years 1 1900 1999 2000 2024 2100 9999


def test_document_members_are_annotations_for_the_compiler():
    """x-validity, x-deadlines, x-identify and x-consistency change nothing the compiled check answers."""
    base = {"type": "object", "required": ["d"], "additionalProperties": False,
            "properties": {"d": {"type": "string", "format": "date"}, "n": {"type": "string", "maxLength": 3}}}
    marked = dict(base, **{"x-validity": {"until": "d"}, "x-deadlines": [{"field": "d", "code": "X"}],
                           "x-identify": {"hotel": ["n"]},
                           "x-consistency": [{"rule": "min-age", "birth": "d", "at": "d", "years": 1}]})
    plain, annotated = fastschema.compile_schema(base), fastschema.compile_schema(marked)
    assert plain is not None and annotated is not None
    for doc in ({"d": "2020-01-01"}, {"d": "2020-02-30"}, {"d": "2020-01-01", "n": "abcd"}, {}, {"d": 1},
                {"d": "2020-01-01", "x": 1}):
        assert annotated(doc) == plain(doc) == Validator(marked, format_checker=FORMAT_CHECKER).is_valid(doc), doc
