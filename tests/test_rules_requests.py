"""The request checks every entry point shares (ecert.rules.access, ecert.rules.requests) and the
schema text's own check (ecert.rules.schema.parse_schema): one rule, one code, one message."""

from __future__ import annotations

import json

import pytest

from ecert.errors import InvalidRequest, PermissionDenied
from ecert.limits import MAX_RULE_ITEMS
from ecert.rules.access import Principal, parse_purpose, purpose_for
from ecert.rules.catalogue import builtin_types, load_type_document
from ecert.rules.requests import check_rule_items, check_shown_purpose
from ecert.rules.schema import parse_schema
from ecert.vocab import Purpose, Role

UNKNOWN_PURPOSE = f"purpose must be one of {', '.join(Purpose)}"


def _refusal(call, *args) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as err:
        call(*args)
    return err.value


def test_every_purpose_parses_to_itself():
    for purpose in Purpose:
        assert parse_purpose(purpose.value) is purpose


@pytest.mark.parametrize("text", ["sightseeing", "", "HOTEL_CHECK_IN", " general", "general\n", "\ud800"])
def test_an_unknown_purpose_is_one_refusal_wherever_it_is_named(text):
    refusals = [_refusal(parse_purpose, text)]
    if text:  # "" is the role's default for a verification, and "any" for a show code
        refusals += [_refusal(purpose_for, Principal(Role.ADMIN), text), _refusal(check_shown_purpose, text)]
    for err in refusals:
        assert (err.code, err.field, err.message) == ("PURPOSE_UNKNOWN", "purpose", UNKNOWN_PURPOSE)


def test_a_show_code_takes_any_purpose_or_none_whoever_makes_it():
    assert check_shown_purpose("") == ""
    for purpose in Purpose:
        assert check_shown_purpose(purpose.value) == purpose.value
    with pytest.raises(PermissionDenied):  # a verification, by contrast, is judged for the role
        purpose_for(Principal(Role.HOTEL), "roadside_driver_check")


def test_a_rule_list_is_bounded_text_each_counted_once():
    assert check_rule_items(["cn.a", "cn.b", "cn.a"], "types") == frozenset({"cn.a", "cn.b"})
    assert check_rule_items([], "recognises") == frozenset()
    assert check_rule_items(["CN-SH"] * MAX_RULE_ITEMS, "recognises") == {"CN-SH"}
    too_many = _refusal(check_rule_items, ["CN-SH"] * (MAX_RULE_ITEMS + 1), "recognises")
    assert (too_many.code, too_many.field) == ("INVALID_REQUEST", "recognises")
    assert str(MAX_RULE_ITEMS) in too_many.message
    for bad in ([5], ["cn.a", None], [["cn.a"]]):
        err = _refusal(check_rule_items, bad, "types")
        assert (err.code, err.field, err.message) == ("INVALID_REQUEST", "types", "types must be a list of text")


SCHEMA = {"type": "object", "properties": {"name": {"type": "string", "title": "姓名"}}}


@pytest.mark.parametrize("text", [
    '{"type": "object", "title": "\\ud800", "properties": {}}',  # an escaped lone high surrogate
    '{"type": "object", "properties": {"\\udc00": {"type": "string"}}}',  # a low one, as a member name
    '{"type": "object", "title": "\\ude00\\ud83d", "properties": {}}',  # a pair the wrong way round
    '{"type": "object", "title": "\ud800", "properties": {}}',  # raw in the text itself
])
def test_a_schema_with_a_lone_surrogate_is_malformed(text):
    err = _refusal(parse_schema, text)
    assert (err.code, err.field) == ("SCHEMA_MALFORMED", "schema")
    assert "lone surrogate" in err.message
    err.message.encode()  # the refusal itself is text


def test_a_schema_with_a_lone_surrogate_is_refused_as_a_type_document_too():
    """What the registry's publish does with a schema sent as an object (or as text it parsed)."""
    doc = {"id": "cn.x", "version": 1, "name": "x", "schema": {**SCHEMA, "title": "\ud800"}}
    err = _refusal(load_type_document, doc)
    assert (err.code, err.field) == ("SCHEMA_MALFORMED", "schema")


@pytest.mark.parametrize("title", ["\\ud83d\\ude00", "\\\\ud800", "\\u59d3\\u540d", "😀"])
def test_a_schema_with_escapes_that_are_text_is_taken(title):
    text = '{"type": "object", "title": "%s", "properties": {}}' % title
    assert parse_schema(text)["title"] == json.loads(text)["title"]


def test_the_built_in_catalogue_still_parses():
    for t in builtin_types():
        assert parse_schema(t["schema"])["type"] == "object"
