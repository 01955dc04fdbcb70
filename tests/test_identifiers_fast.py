"""The fast identifier checkers answer exactly as the straightforward ones did.

``ecert.rules.identifiers`` replaced per-character Python loops with C-level tricks
(base-13 / base-34 ``int`` parsing, a month-day table, one regex). The original
implementations are kept here as references, and each fast checker is compared
with its reference over random, mutated and edge-case inputs.
"""

from __future__ import annotations

import datetime
import itertools
import random
import re

import pytest

from ecert.rules import identifiers as ids

# --------------------------------------------------------------------------- references (the old code)

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_PROVINCES = frozenset(code[:2] for code in ids.REGION_ISSUER_CODES.values()) | {"83"}
_ID_RE = re.compile(r"[0-9]{17}[0-9X]", re.ASCII)


def ref_real_date(yyyymmdd: str, min_year: int = 1900, max_year: int = 2100) -> bool:
    try:
        d = datetime.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return False
    return min_year <= d.year <= max_year


def ref_citizen_id_valid(s: str) -> bool:
    if not isinstance(s, str) or not _ID_RE.fullmatch(s):
        return False
    if s[:2] not in _ID_PROVINCES or not ref_real_date(s[6:14]):
        return False
    total = sum(int(c) * w for c, w in zip(s, _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == s[17]


_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_RE = re.compile(r"[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}", re.ASCII)


def ref_uscc_valid(s: str) -> bool:
    if not isinstance(s, str) or not _USCC_RE.fullmatch(s):
        return False
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(s, _USCC_WEIGHTS))
    return _USCC_CHARS[(31 - total % 31) % 31] == s[17]


_DRIVING_CLASSES = frozenset("A1 A2 A3 B1 B2 C1 C2 C3 C4 C5 C6 D E F M N P".split())


def ref_driving_classes_valid(s: str) -> bool:
    if not isinstance(s, str) or not s:
        return False
    seen: set[str] = set()
    i = 0
    while i < len(s):
        cls = s[i:i + 2] if s[i] in "ABC" else s[i]
        if cls not in _DRIVING_CLASSES or cls in seen:
            return False
        seen.add(cls)
        i += len(cls)
    return True


# --------------------------------------------------------------------------- the arithmetic identities

def test_citizen_id_weights_are_powers_of_two_and_base13_sum():
    assert _ID_WEIGHTS == tuple(pow(2, 17 - i, 11) for i in range(17))
    rng = random.Random(1)
    digits = ["0" * 17, "9" * 17, *("".join(rng.choices("0123456789", k=17)) for _ in range(20000))]
    for s in digits:
        assert sum(int(c) * w for c, w in zip(s, _ID_WEIGHTS)) % 11 == 2 * int(s, 13) % 11, s


def test_uscc_weights_are_powers_of_three_and_base34_sum():
    assert _USCC_WEIGHTS == tuple(pow(3, i, 31) for i in range(17))
    rng = random.Random(2)
    for _ in range(20000):
        s = "".join(rng.choices(_USCC_CHARS, k=17))
        total = sum(_USCC_CHARS.index(c) * w for c, w in zip(s, _USCC_WEIGHTS))
        assert total % 31 == int(s[::-1].translate(ids._USCC_BASE34), 34) % 31, s


# --------------------------------------------------------------------------- citizen id

def _with_check(base17: str) -> str:
    total = sum(int(c) * w for c, w in zip(base17, _ID_WEIGHTS))
    return base17 + _ID_CHECK[total % 11]


def _citizen_ids(rng: random.Random) -> list:
    provinces = sorted(_ID_PROVINCES)
    out: list = ["", "X", "x", None, 11010519491231002, b"11010519491231002X", "11010519491231002X",
                 "11010519491231002x", "11010519491231002Ｘ", "１１010519491231002X", "1101051949123100 X",
                 "11010519491231002X\n", "\n11010519491231002X", "11010519491231002X0", "110105491231002"]
    dates = ["19000229", "20000229", "21000229", "19960229", "19990229", "20240229", "18991231", "19000101",
             "21001231", "21010101", "00000101", "99991231", "19900001", "19900100", "19900431", "19900631",
             "19901131", "19901231", "19901301", "19900132", "19900230"]
    for date in dates:
        for p in ("11", "31", "65", "83", "99", "00"):
            base = _with_check(f"{p}0105{date}123")
            out += [base, base[:-1] + ("x" if base[-1] == "X" else base[-1])]
    for p in (f"{i:02d}" for i in range(100)):
        out.append(_with_check(f"{p}010519900307123"))
    for _ in range(3000):
        year = rng.choice([rng.randint(1890, 2110), rng.randint(0, 9999)])
        date = f"{year:04d}{rng.randint(0, 13):02d}{rng.randint(0, 32):02d}"
        p = rng.choice(provinces) if rng.random() < 0.9 else f"{rng.randint(0, 99):02d}"
        good = _with_check(f"{p}{rng.randint(0, 9999):04d}{date}{rng.randint(0, 999):03d}")
        out.append(good)
        i = rng.randrange(18)
        out.append(good[:i] + rng.choice("0123456789X") + good[i + 1:])      # one character changed
        j = rng.randrange(17)
        out.append(good[:j] + good[j + 1] + good[j] + good[j + 2:])           # adjacent swap
        out.append(good.lower())
        out.append(good[:rng.randrange(19)])
        out.append("".join(rng.choices("0123456789Xx -٣", k=rng.randint(0, 20))))
    return out


def test_citizen_id_valid_matches_reference():
    cases = _citizen_ids(random.Random(3))
    answers = [ref_citizen_id_valid(s) for s in cases]
    assert [ids.citizen_id_valid(s) for s in cases] == answers
    assert 1000 < sum(answers) < len(cases) - 1000  # both answers are well exercised


def test_citizen_id_birth_dates_match_reference_on_every_month_day():
    years = [0, 1, 1600, 1896, 1899, 1900, 1904, 1996, 2000, 2024, 2099, 2100, 2101, 2400, 9999]
    cases = [_with_check(f"110105{year:04d}{mmdd:04d}123") for year in years for mmdd in range(10000)]
    answers = [ref_citizen_id_valid(s) for s in cases]
    assert [ids.citizen_id_valid(s) for s in cases] == answers
    assert sum(answers) == 366 * 4 + 365 * 3  # leap 1904 1996 2000 2024; not leap 1900 2099 2100


# --------------------------------------------------------------------------- USCC

def _with_uscc_check(base17: str) -> str:
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(base17, _USCC_WEIGHTS))
    return base17 + _USCC_CHARS[(31 - total % 31) % 31]


def test_uscc_valid_matches_reference():
    rng = random.Random(4)
    cases: list = ["", None, 91350100, "91350100M000100Y43", "91350100m000100y43", "91350100M000100Y4",
                   "91350100M000100Y430", "91350100M000100Y43\n"]
    for _ in range(4000):
        base = "".join(rng.choices(_USCC_CHARS, k=2)) + "".join(rng.choices("0123456789", k=6)) \
            + "".join(rng.choices(_USCC_CHARS, k=9))
        good = _with_uscc_check(base)
        cases.append(good)
        i = rng.randrange(18)
        cases.append(good[:i] + rng.choice(_USCC_CHARS + "IOSVZa") + good[i + 1:])
        j = rng.randrange(17)
        cases.append(good[:j] + good[j + 1] + good[j] + good[j + 2:])
        cases.append(good.lower())
        cases.append("".join(rng.choices(_USCC_CHARS + "IOSVZ-", k=rng.choice([17, 18, 18, 19]))))
    answers = [ref_uscc_valid(s) for s in cases]
    assert [ids.uscc_valid(s) for s in cases] == answers
    assert 1000 < sum(answers) < len(cases) - 1000


# --------------------------------------------------------------------------- driving classes

def test_driving_classes_valid_matches_reference():
    rng = random.Random(5)
    classes = sorted(_DRIVING_CLASSES)
    junk = ["A", "B", "C", "A4", "B3", "C7", "C0", "G", "a1", "c1", "d", "1", "AA", "\n", " ", "Ａ1", "١"]
    cases: list = ["", None, 1, ["C1"], "".join(classes), "".join(classes) + "D", "".join(classes) + "Q" * 1000,
                   "D" + "E" * 1000, "A1" * 500]
    cases += ["".join(p) for p in itertools.permutations(["A1", "D", "C1", "M"])]
    cases += classes + junk + [a + b for a in classes + junk for b in classes + junk]
    for _ in range(20000):
        n = rng.randint(1, 20)
        tokens = [rng.choice(classes) if rng.random() < 0.9 else rng.choice(junk) for _ in range(n)]
        if rng.random() < 0.5:  # mostly distinct classes, so long valid strings occur too
            tokens = rng.sample(classes, k=min(n, len(classes)))
        cases.append("".join(tokens))
    answers = [ref_driving_classes_valid(s) for s in cases]
    assert [ids.driving_classes_valid(s) for s in cases] == answers
    assert 1000 < sum(answers) < len(cases) - 1000


@pytest.mark.parametrize("check", [ids.citizen_id_valid, ids.uscc_valid, ids.driving_classes_valid])
def test_hostile_lengths_are_rejected(check):
    for s in ("A1A2A3B1B2C1C2C3C4C5C6DEFMN" + "Q" * 200000, "D" + "E" * 200000, "1" * 200000):
        assert not check(s)


def test_display_id_maker_agrees_with_display_id_and_checks_its_parts():
    import random

    from ecert.rules import identifiers as ids
    rng = random.Random(5)
    alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    for _ in range(2000):
        t, i, s = ("".join(rng.choice(alnum) for _ in range(rng.randrange(1, 12))) for _ in range(3))
        v = rng.randrange(1, 1000)
        made = ids.display_id_maker(t, i, v)(s)
        assert made == ids.display_id(t, i, s, v)
        assert ids.display_id_valid(made)
    make = ids.display_id_maker("EC002", "330000", 1)
    for bad in ("", "A-B", "Ä", "١٢", "A B"):
        with pytest.raises(ValueError):
            make(bad)
    for args in (("", "330000", 1), ("EC002", "33-00", 1), ("EC002", "330000", 0), ("EC002", "330000", True)):
        with pytest.raises(ValueError):
            ids.display_id_maker(*args)
