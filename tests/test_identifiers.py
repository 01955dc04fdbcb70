"""Identifier checkers, JSON Schema plug-ins and display identifiers (ecert.rules.identifiers)."""

from __future__ import annotations

import json
import random
from collections import deque
from pathlib import Path

import jsonschema
import pytest
from jsonschema import Draft202012Validator

from ecert.rules import identifiers as ids
from ecert.rules.identifiers import (
    FORMAT_CHECKS,
    KEYWORDS,
    REGION_ISSUER_CODES,
    citizen_id_valid,
    display_id,
    display_id_valid,
    driving_classes_valid,
    format_checker,
    issuer_code,
    mod37_36_check,
    mod37_36_valid,
    plate_valid,
    uscc_valid,
)

ALNUM36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


# --------------------------------------------------------------------------- citizen id

def with_id_check(base17: str) -> str:
    """Independent MOD 11-2: the check value c makes (sum + c) ≡ 1 (mod 11); 10 is written X."""
    weights = [pow(2, 17 - i, 11) for i in range(17)]  # 2**(18-i) mod 11 for positions 1..17
    assert weights == [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    c = (12 - sum(int(d) * w for d, w in zip(base17, weights)) % 11) % 11
    return base17 + ("X" if c == 10 else str(c))


@pytest.mark.parametrize("number", [
    "11010519491231002X",                      # the GB 11643-1999 example
    with_id_check("31010419900307123"),        # -> ...123X
    with_id_check("11010120000229002"),        # 29 Feb of a leap year
    with_id_check("53010219851107051"),
    with_id_check("65010219000101001"),        # year 1900 is the lower bound
    with_id_check("81000020100101003"),        # Hong Kong resident's residence permit
    with_id_check("83000019800101004"),        # Taiwan resident's residence permit
])
def test_citizen_id_valid(number):
    assert citizen_id_valid(number)


def test_computed_check_characters():
    assert with_id_check("31010419900307123") == "31010419900307123X"
    assert with_id_check("11010519491231002") == "11010519491231002X"


@pytest.mark.parametrize("number", [
    "110105194912310021",                      # wrong check character (X expected)
    "11010519491231002x",                      # lower-case x is not accepted
    with_id_check("31010419900307123")[:-1] + "1",
    with_id_check("11010519990230001"),        # 30 Feb 1999 is not a date
    with_id_check("11010519990229001"),        # 1999 is not a leap year
    with_id_check("11010519991301001"),        # month 13
    "440524188001010014",                      # GB 11643 example, correct check, but year 1880 < 1900
    with_id_check("11010521010101001"),        # year 2101 > 2100
    with_id_check("99010519900101001"),        # 99 is no provincial-level code
    with_id_check("00010519900101001"),
    "110105491231002",                         # 15-digit first-generation number
    "11010519491231002",                       # 17 characters
    "11010519491231002X0",                     # 19 characters
    "1101051949123100 X", "11010519491231002Ｘ", "", None, 11010519491231002,
])
def test_citizen_id_invalid(number):
    assert not citizen_id_valid(number)


# --------------------------------------------------------------------------- USCC

USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def with_uscc_check(base17: str) -> str:
    weights = [pow(3, i, 31) for i in range(17)]
    c = (31 - sum(USCC_CHARS.index(ch) * w for ch, w in zip(base17, weights)) % 31) % 31
    return base17 + USCC_CHARS[c]


def test_uscc_hand_computed():
    """91350100M000100Y43 worked by hand: values x weights, sum 1640, 1640 mod 31 = 28, 31 - 28 = 3."""
    values = [9, 1, 3, 5, 0, 1, 0, 0, 21, 0, 0, 0, 1, 0, 0, 30, 4]  # M = 21, Y = 30
    weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    assert weights == [pow(3, i, 31) for i in range(17)]
    assert [USCC_CHARS.index(c) for c in "91350100M000100Y4"] == values
    total = sum(v * w for v, w in zip(values, weights))
    assert total == 1640 and total % 31 == 28 and (31 - 28) % 31 == 3
    assert uscc_valid("91350100M000100Y43")


@pytest.mark.parametrize("code", [
    "91350100M000100Y43",      # commonly cited example
    "11100000000013338W",      # public codes of government bodies, as printed in national e-certificate ids
    "11430000006122244L",
    "11330105002500287C",
    "11370800MB28559184",
    "11110000000021135M",
    with_uscc_check("91310115MA1K3Y5B2"),
    with_uscc_check("92310000MA1FL0000"),   # individual business
])
def test_uscc_valid(code):
    assert uscc_valid(code)


@pytest.mark.parametrize("code", [
    "91350100M000100Y44",                   # wrong check character
    "91350100M000100Y4",                    # 17 characters
    "91350100M000100Y430",                  # 19 characters
    "91350100m000100y43",                   # lower case
    with_uscc_check("9135010AM000100Y4"),   # letter in the area code
    "91350100I000100Y43", "91350100O000100Y43", "91350100Z000100Y43",
    "91350100S000100Y43", "91350100V000100Y43",   # I O Z S V are not in the character set
    "", None,
])
def test_uscc_invalid(code):
    assert not uscc_valid(code)


def test_uscc_detects_every_single_substitution():
    code = "91350100M000100Y43"
    for i in range(18):
        for c in USCC_CHARS:
            if c != code[i]:
                assert not uscc_valid(code[:i] + c + code[i + 1:]), (i, c)


# --------------------------------------------------------------------------- plates

@pytest.mark.parametrize("plate", [
    "沪A12345", "京AB1234", "粤BZ8X9Y",        # ordinary
    "京AD12345", "沪AFA1234",  # small new-energy: D/F first
    "粤B12345D", "苏E54321F",                 # large new-energy: D/F last
    "沪A1234学", "京A0001警", "冀A1234挂", "粤Z1234港", "粤Z1A23澳",
    "琼A12345", "藏A12345", "新A12345",
])
def test_plate_valid(plate):
    assert plate_valid(plate)


@pytest.mark.parametrize("plate", [
    "沪I12345", "沪O12345",                   # office letter I / O
    "沪A1O234", "沪A12I45",                   # I / O in the serial
    "沪a12345",                               # lower case
    "沪A1234", "沪A1234567",                   # too short / too long
    "沪AA12345",                              # 6 characters, neither new-energy form
    "沪AD1A345", "沪A1234DF",                  # new-energy letter/digit positions wrong
    "港A12345", "AA12345",                     # not a province abbreviation
    "沪A12345学", "沪A123学",                   # suffix plates have exactly 4 characters before the suffix
    "沪A1234领",                              # consulate plates are not covered
    "沪A·12345", "沪A 12345", "", None,
])
def test_plate_invalid(plate):
    assert not plate_valid(plate)


# --------------------------------------------------------------------------- driving classes

@pytest.mark.parametrize("classes", ["C1", "C2", "A1", "A2D", "B1D", "C1E", "DE", "A1A2", "M", "N", "P", "C6"])
def test_driving_classes_valid(classes):
    assert driving_classes_valid(classes)


@pytest.mark.parametrize("classes", [
    "", "C", "A", "C7", "B3", "A4", "D1", "G", "c1", "C1C1", "DD", "C1 D", "C1,D", "C1/D", " C1", None,
])
def test_driving_classes_invalid(classes):
    assert not driving_classes_valid(classes)


# --------------------------------------------------------------------------- JSON Schema plug-ins

def test_format_checks_ignore_non_strings():
    assert set(FORMAT_CHECKS) == {"cn-citizen-id", "cn-uscc", "cn-plate", "cn-driving-classes"}
    for check in FORMAT_CHECKS.values():
        for instance in (None, 12, 1.5, [], {}, True):
            assert check(instance)
        assert not check("not valid")


def test_format_checker_adds_to_the_draft_checker():
    checker = format_checker()
    assert checker.conforms("2024-02-29", "date") and not checker.conforms("2023-02-29", "date")
    assert checker.conforms("11010519491231002X", "cn-citizen-id")
    assert not checker.conforms("110105194912310021", "cn-citizen-id")
    assert checker.conforms("91350100M000100Y43", "cn-uscc")
    assert checker.conforms("沪AD12345", "cn-plate") and not checker.conforms("沪I12345", "cn-plate")
    assert checker.conforms("A2D", "cn-driving-classes") and not checker.conforms("C7", "cn-driving-classes")
    assert checker.conforms(42, "cn-plate")
    # a fresh copy: the library's shared checker is not touched
    assert "cn-plate" not in Draft202012Validator.FORMAT_CHECKER.checkers
    assert format_checker() is not checker


Validator = jsonschema.validators.extend(Draft202012Validator, KEYWORDS)
DATED = {
    "type": "object",
    "properties": {
        "id_number": {"type": "string", "format": "cn-citizen-id"},
        "valid_from": {"type": "string", "format": "date"},
        "valid_until": {"anyOf": [{"type": "string", "format": "date"}, {"const": "长期"}]},
        "birth_date": {"type": "string", "format": "date"},
    },
    "x-date-order": [["birth_date", "valid_from"], ["valid_from", "valid_until"]],
}


def errors(schema, instance):
    Validator.check_schema(schema)
    return list(Validator(schema, format_checker=format_checker()).iter_errors(instance))


def test_date_order_accepts_ordered_equal_missing_and_long_term():
    for doc in ({"valid_from": "2020-01-01", "valid_until": "2030-01-01"},
                {"valid_from": "2020-01-01", "valid_until": "2020-01-01"},
                {"valid_from": "2020-01-01"},
                {"valid_until": "2000-01-01"},
                {"valid_from": "2020-01-01", "valid_until": "长期"},
                {"birth_date": "1990-03-07", "valid_from": "2010-05-01", "valid_until": "2030-05-01"}):
        assert errors(DATED, doc) == []


def test_date_order_names_the_later_field():
    [err] = errors(DATED, {"valid_from": "2020-01-02", "valid_until": "2020-01-01"})
    assert err.validator == "x-date-order"
    assert err.absolute_path == deque(["valid_until"])
    assert err.message == "valid_until must not be before valid_from"
    best = jsonschema.exceptions.best_match(
        Validator(DATED, format_checker=format_checker()).iter_errors(
            {"birth_date": "2011-01-01", "valid_from": "2010-05-01", "valid_until": "2030-05-01"}))
    assert list(best.absolute_path) == ["valid_from"]


def test_date_order_path_when_nested():
    schema = {"type": "object", "properties": {"licence": DATED}}
    [err] = errors(schema, {"licence": {"valid_from": "2021-01-01", "valid_until": "2020-12-31"}})
    assert err.absolute_path == deque(["licence", "valid_until"])


def test_date_order_ignores_non_objects_and_non_dates():
    assert errors({"x-date-order": [["a", "b"]]}, ["2020-01-02", "2020-01-01"]) == []
    # bad dates are the fields' own business (format "date"), not the ordering keyword's
    errs = errors(DATED, {"valid_from": "2020-01-02", "valid_until": 20200101})
    assert [e.validator for e in errs] == ["anyOf"]


def test_formats_through_the_extended_validator():
    [err] = errors(DATED, {"id_number": "110105194912310021"})
    assert err.validator == "format" and list(err.absolute_path) == ["id_number"]


# --------------------------------------------------------------------------- MOD 37,36

def test_mod37_36_known_values():
    # GRid (Global Release Identifier) uses ISO 7064 MOD 37,36: A1-2425G-ABC1234002-M
    assert mod37_36_check("A12425GABC1234002") == "M"
    assert mod37_36_valid("A12425GABC1234002M")
    assert not mod37_36_valid("A12425GABC1234002N")
    assert not mod37_36_valid("a12425gabc1234002m") and not mod37_36_valid("") and not mod37_36_valid(None)
    assert mod37_36_check("") in ALNUM36
    with pytest.raises(KeyError):
        mod37_36_check("A-1")


def random_strings(seed: int, n: int):
    rng = random.Random(seed)
    for _ in range(n):
        yield "".join(rng.choice(ALNUM36) for _ in range(rng.randint(1, 24)))


def test_mod37_36_detects_every_single_substitution():
    for s in random_strings(7064, 150):
        full = s + mod37_36_check(s)
        assert mod37_36_valid(full)
        for i in range(len(full)):
            for c in ALNUM36:
                if c != full[i]:
                    assert not mod37_36_valid(full[:i] + c + full[i + 1:]), (full, i, c)


def test_mod37_36_adjacent_transpositions():
    """Hybrid systems (MOD 11,10 / 27,26 / 37,36) do not catch *every* adjacent transposition:
    swapping two characters whose values differ by one goes unnoticed for one running state
    in 36. Everything else is caught; overall well over 99 % of random transpositions are."""
    tried = missed = 0
    for s in random_strings(3736, 1500):
        full = s + mod37_36_check(s)
        for i in range(len(full) - 1):
            a, b = full[i], full[i + 1]
            if a == b:
                continue
            tried += 1
            if mod37_36_valid(full[:i] + b + a + full[i + 2:]):
                missed += 1
                assert (ALNUM36.index(a) - ALNUM36.index(b)) % 36 in (1, 35), (full, i)
    assert missed / tried < 0.01
    # exhaustively over two characters: the blind spot exists and is exactly of that kind
    undetected = [(a, b) for a in ALNUM36 for b in ALNUM36
                  if a != b and mod37_36_valid(b + a + mod37_36_check(a + b))]
    assert undetected
    assert all((ALNUM36.index(a) - ALNUM36.index(b)) % 36 in (1, 35) for a, b in undetected)


# --------------------------------------------------------------------------- display ids

# Identifiers issued on the national platform (format references published in API docs).
NATIONAL_IDS = [
    "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.002.S",
    "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U",
    "1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0",
    "1.2.156.3005.2.11100000000013338W087.11370800MB28559184.37080001202411010001.001.3",
]


@pytest.mark.parametrize("text", NATIONAL_IDS)
def test_display_id_matches_national_identifiers(text):
    assert display_id_valid(text)
    *_, type_code, issuer, serial, version, _check = text.split(".")
    assert display_id(type_code, issuer, serial, int(version)) == text


def test_display_id_round_trip():
    text = display_id("EC001", issuer_code("CN-SH"), "0a1b2c3d", 1)
    assert text.startswith("1.2.156.3005.2.EC001.310000.0A1B2C3D.001.")
    assert display_id_valid(text)
    body = text[len(ids.DISPLAY_ID_PREFIX) + 1:].replace(".", "")
    assert mod37_36_valid(body)
    assert display_id("EC002", "SG01", "Z9", 12).split(".")[-2] == "012"
    for i, ch in enumerate(text):
        if ch == "." or i < len(ids.DISPLAY_ID_PREFIX):
            continue
        for c in ALNUM36:
            if c != ch:
                assert not display_id_valid(text[:i] + c + text[i + 1:]), (i, c)


@pytest.mark.parametrize("args", [
    ("EC-1", "310000", "1", 1), ("EC001", "", "1", 1), ("EC001", "310000", "a b", 1),
    ("EC001", "310000", "1", 0), ("EC001", "310000", "1", 1000), ("EC001", "310000", "1", "1"),
    ("EC001", "310000", "1", True),
])
def test_display_id_rejects_bad_parts(args):
    with pytest.raises(ValueError):
        display_id(*args)


@pytest.mark.parametrize("text", [
    None, "", "1.2.156.3005.2", "1.2.156.3005.3.EC001.310000.1.001.X",
    "1.2.156.3005.2.EC001.310000.1.001",            # no check character
    "1.2.156.3005.2.EC001.310000.1.1.X",            # version not three digits
    "1.2.156.3005.2.EC001.310000.1.000." + mod37_36_check("EC0013100001000"),
    "1.2.156.3005.2.ec001.310000.1.001.X",
    "1.2.156.3005.2.EC001..1.001.X",
    NATIONAL_IDS[0][:-1] + "T",
    NATIONAL_IDS[0] + "0",
])
def test_display_id_invalid(text):
    assert not display_id_valid(text)


# --------------------------------------------------------------------------- regions

def test_region_issuer_codes():
    assert len(REGION_ISSUER_CODES) == 34
    assert len(set(REGION_ISSUER_CODES.values())) == 34
    assert all(k.startswith("CN-") and len(k) == 5 for k in REGION_ISSUER_CODES)
    assert all(len(v) == 6 and v.isdigit() and v.endswith("0000") for v in REGION_ISSUER_CODES.values())
    expected = {"CN-BJ": "110000", "CN-SH": "310000", "CN-JS": "320000", "CN-ZJ": "330000",
                "CN-AH": "340000", "CN-GD": "440000", "CN-CQ": "500000", "CN-XJ": "650000",
                "CN-TW": "710000", "CN-HK": "810000", "CN-MO": "820000"}
    assert expected.items() <= REGION_ISSUER_CODES.items()


def test_issuer_code():
    assert issuer_code("CN-ZJ") == "330000"
    assert issuer_code("cn-ah") == "340000"
    assert issuer_code("SG-01") == "SG01"
    assert issuer_code("XX") == "XX"
    assert issuer_code("SG-01") == issuer_code("SG-01")
    with pytest.raises(ValueError):
        issuer_code("--")


def test_the_gbt2260_province_table_ships_as_data():
    path = Path(ids.__file__).parent / "data" / "gbt2260_provinces.json"
    table = json.loads(path.read_text(encoding="utf-8"))
    assert table == ids.GBT2260_PROVINCES and len(table) == 34
    assert all(len(c) == 6 and c.isdigit() and c.endswith("0000") for c in table)
    assert all(set(d) == {"iso", "name"} for d in table.values())
    assert [table[c]["name"] for c in ("310000", "330000", "710000", "810000", "820000")] == [
        "上海市", "浙江省", "台湾省", "香港特别行政区", "澳门特别行政区"]
    assert [table[c]["iso"] for c in ("310000", "330000", "710000", "810000", "820000")] == [
        "CN-SH", "CN-ZJ", "CN-TW", "CN-HK", "CN-MO"]
    assert REGION_ISSUER_CODES == {d["iso"]: c for c, d in table.items()}  # each issuer code from its row


def test_the_citizen_id_province_comes_from_the_table():
    """Every first two digits: accepted exactly when a GB/T 2260 province (or 83) starts so."""
    provinces = {code[:2] for code in ids.GBT2260_PROVINCES} | {"83"}
    for p in range(100):
        prefix = f"{p:02d}"
        assert citizen_id_valid(with_id_check(prefix + "010619900307123")) == (prefix in provinces), prefix
