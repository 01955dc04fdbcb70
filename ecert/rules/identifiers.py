"""Chinese identifier checks, JSON Schema plug-ins and display identifiers.

Pure functions, no I/O. Three groups:

* Checkers for identifiers printed on PRC documents: citizen identity numbers
  (GB 11643-1999), unified social credit codes (GB 32100-2015), motor-vehicle
  plates (GA 36) and driving-licence classes. Each takes a ``str`` and returns a
  ``bool``; all accept only the canonical compact, upper-case form.
* JSON Schema plug-ins: :data:`FORMAT_CHECKS` / :func:`format_checker` for the
  formats ``cn-citizen-id``, ``cn-uscc``, ``cn-plate`` and
  ``cn-driving-classes`` (:data:`STRING_FORMAT_CHECKS` for compiled schemas),
  and :data:`KEYWORDS` for the keyword ``x-date-order``.
  Use them as::

      Validator = jsonschema.validators.extend(Draft202012Validator, KEYWORDS)
      Validator(schema, format_checker=format_checker())

* Display identifiers in the national e-certificate style
  ``1.2.156.3005.2.{type}.{issuer}.{serial}.{version:03}.{check}`` with an
  ISO/IEC 7064 MOD 37,36 check character, and the region -> issuer-code table.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from importlib import resources

from jsonschema import Draft202012Validator, FormatChecker, ValidationError

__all__ = [
    "citizen_id_valid", "uscc_valid", "plate_valid", "driving_classes_valid",
    "FORMAT_CHECKS", "STRING_FORMAT_CHECKS", "format_checker", "what_is_wrong", "citizen_id_problem",
    "uscc_problem", "plate_problem", "driving_classes_problem", "citizen_id_birth_date", "date_order", "date_order_failures", "KEYWORDS",
    "mod37_36_check", "mod37_36_valid", "display_id", "display_id_maker", "display_id_valid",
    "DISPLAY_ID_PREFIX", "REGION_ISSUER_CODES", "GBT2260_PROVINCES", "issuer_code",
]

# --------------------------------------------------------------------------- regions

#: GB/T 2260 six-digit code -> ``{"iso": ISO 3166-2:CN code, "name": name}`` of the 34
#: provincial-level divisions, shipped as data (``data/gbt2260_provinces.json``): the province of
#: a citizen identity number and the issuer codes of display identifiers both come from it.
GBT2260_PROVINCES: dict[str, dict[str, str]] = json.loads(
    (resources.files("ecert.rules") / "data" / "gbt2260_provinces.json").read_text(encoding="utf-8"))

#: ISO 3166-2:CN code -> GB/T 2260 six-digit code of all 34 provincial-level divisions.
REGION_ISSUER_CODES: dict[str, str] = {d["iso"]: code for code, d in GBT2260_PROVINCES.items()}


def issuer_code(region: str) -> str:
    """Issuer code used in display identifiers for a region such as ``"CN-SH"``.

    Known Chinese regions get their GB/T 2260 code (``"CN-SH"`` -> ``"310000"``).
    Any other region gets a stable fallback: the code upper-cased with everything
    outside ``[0-9A-Z]`` (the ``-``) removed, e.g. ``"SG-01"`` -> ``"SG01"``.
    """
    key = region.strip().upper()
    if key in REGION_ISSUER_CODES:
        return REGION_ISSUER_CODES[key]
    code = re.sub(r"[^0-9A-Z]", "", key)
    if not code:
        raise ValueError(f"region {region!r} gives no issuer code")
    return code


# --------------------------------------------------------------------------- citizen id

_ID_CHECK = "10X98765432"
# First two digits: a provincial-level division of the GB/T 2260 table, plus 83 (Taiwan
# residents' residence permits, which carry numbers of the same form).
_ID_PROVINCES = frozenset(code[:2] for code in GBT2260_PROVINCES) | {"83"}
# One regex settles the shape, the province, the birth year (1900..2100), the month
# (01..12) and the day (01..31); only days 29..31 need a further look (_late_day_ok).
_ID_RE = re.compile(
    f"(?:{'|'.join(sorted(_ID_PROVINCES))})[0-9]{{4}}"
    "(?:19[0-9]{2}|20[0-9]{2}|2100)(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
    "[0-9]{3}[0-9X]", re.ASCII)
_MONTHS_WITH_31 = frozenset({"01", "03", "05", "07", "08", "10", "12"})


def _late_day_ok(yyyymmdd: str) -> bool:
    """Day 29, 30 or 31 of a month 01..12 and a year 1900..2100 is a real date."""
    month, day = yyyymmdd[4:6], yyyymmdd[6:]
    if day == "31":
        return month in _MONTHS_WITH_31
    if month != "02":
        return True
    if day == "30":
        return False
    year = int(yyyymmdd[:4])
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def citizen_id_valid(s: str) -> bool:
    """18-character PRC citizen identity number (GB 11643-1999).

    Checks: 6-digit area code starting with a provincial-level division of the GB/T 2260
    table (:data:`GBT2260_PROVINCES`, 11..82) or 83,
    8-digit birth date that is a real date with year 1900..2100, 3-digit sequence,
    and the ISO 7064 MOD 11-2 check character. Only upper-case ``X`` is accepted
    as check character (the form printed on cards); ``x`` is rejected, so callers
    must normalise user input first.

    This runs on every credential verified, so it avoids Python loops and
    ``datetime``: the regex does the shape and ranges, and the check character is
    ``"10X98765432"[sum(d[i] * w[i]) % 11]`` with weights ``w[i] = 2**(17-i) mod
    11``. Since 13 = 2 (mod 11), the 17 digits read as a base-13 number are
    ``sum(d[i] * 2**(16-i))`` modulo 11, so the weighted sum is
    ``2 * int(s[:17], 13)`` modulo 11: one C-level call.
    """
    if not isinstance(s, str) or not _ID_RE.fullmatch(s):
        return False
    if s[12:14] > "28" and not _late_day_ok(s[6:14]):
        return False
    return _ID_CHECK[2 * int(s[:17], 13) % 11] == s[17]


# --------------------------------------------------------------------------- USCC

_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: no I O S V Z
# The i-th character (value v[i], 0..30) weighs 3**i mod 31. Since 34 = 3 (mod 31), the
# 17 characters read backwards as a base-34 number give that weighted sum modulo 31;
# str.translate maps each character to the base-34 digit of its value.
_USCC_BASE34 = str.maketrans(_USCC_CHARS, "0123456789ABCDEFGHIJKLMNOPQRSTU")
_USCC_RE = re.compile(r"[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}", re.ASCII)


def uscc_valid(s: str) -> bool:
    """18-character unified social credit code (统一社会信用代码, GB 32100-2015).

    Layout: registration-authority code (1), organisation-type code (1), GB/T 2260
    area code (6 digits), organisation code (9), check character (1), all from the
    31-character set ``0-9`` plus ``ABCDEFGHJKLMNPQRTUWXY``. Check character:
    ``(31 - sum(value * weight) % 31) % 31`` with weights ``3**i mod 31``. The
    authority and type codes are only checked against the character set because
    their tables have grown since 2015; the embedded organisation code's own
    GB 11714 check is not enforced.
    """
    if not isinstance(s, str) or not _USCC_RE.fullmatch(s):
        return False
    total = int(s[16::-1].translate(_USCC_BASE34), 34)
    return _USCC_CHARS[-total % 31] == s[17]


# --------------------------------------------------------------------------- plates

_PROVINCE_CHARS = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_L = "[A-HJ-NP-Z]"      # letter, no I or O
_AN = "[0-9A-HJ-NP-Z]"  # digit or such a letter
_PLATE_RE = re.compile(
    f"[{_PROVINCE_CHARS}]{_L}"
    f"(?:{_AN}{{5}}"                 # ordinary: 沪A12345, 沪AB1234
    f"|[DF]{_AN}[0-9]{{4}}"          # small new-energy: 沪AD12345, 沪AFA1234
    f"|[0-9]{{5}}[DF]"               # large new-energy: 沪A12345D
    f"|{_AN}{{4}}[学警挂港澳])")       # coach, police, trailer, HK/Macao: 沪A1234学


def plate_valid(s: str) -> bool:
    """PRC motor-vehicle plate number, compact form without ``·`` or spaces.

    Province abbreviation, issuing-office letter (A-Z except I, O), then one of:
    5 alphanumerics (ordinary, letters without I/O); 6 for new-energy plates, small
    (``D``/``F`` first, then an alphanumeric and 4 digits) or large (5 digits then
    ``D``/``F``); or 4 alphanumerics plus 学, 警, 挂, 港 or 澳. Embassy/consulate
    (使/领), military and armed-police plates are not covered.
    """
    return isinstance(s, str) and _PLATE_RE.fullmatch(s) is not None


# --------------------------------------------------------------------------- driving classes

# One or more classes; the lookahead after each class rejects it if it occurs again
# later. The classes form a prefix code (A, B and C always take a digit), so a class
# found later in a string that matches at all is a repeated class. All 17 classes
# together take 28 characters, so longer strings are rejected before the regex
# (whose lookaheads would otherwise scan long hostile input up to 17 times).
_DRIVING_RE = re.compile(r"(?:(A[123]|B[12]|C[1-6]|[DEFMNP])(?!.*\1))+", re.DOTALL)
_DRIVING_MAX_LEN = 28
# Most licences carry one class ("C1"): a set lookup answers those without the regex.
_DRIVING_CLASSES = frozenset("A1 A2 A3 B1 B2 C1 C2 C3 C4 C5 C6 D E F M N P".split())


def driving_classes_valid(s: str) -> bool:
    """Permitted driving classes (准驾车型), concatenated without separators.

    One or more of A1 A2 A3 B1 B2 C1 C2 C3 C4 C5 C6 D E F M N P, no repeats, in
    any order, upper case: ``"C1"``, ``"A2D"``, ``"B1D"``, ``"C1E"``.
    """
    if not isinstance(s, str):
        return False
    return s in _DRIVING_CLASSES or (len(s) <= _DRIVING_MAX_LEN and _DRIVING_RE.fullmatch(s) is not None)


# --------------------------------------------------------------------------- what is wrong

# A diagnosis: (item code, message params, message key or "" for "field." + code). It names the
# position and the rule broken, never the value (a check character is a digit, not the number).
Problem = tuple[str, dict, str]


def citizen_id_birth_date(s: str) -> str:
    """The birth date inside an 18-character citizen identity number, as ``YYYY-MM-DD``."""
    return f"{s[6:10]}-{s[10:12]}-{s[12:14]}"


def _check_character_problem(expected: str, actual: str) -> Problem:
    return "CHECK_CHARACTER", {"expected": expected, "actual": actual}, ""


def citizen_id_problem(s: str) -> Problem | None:
    """What is wrong with ``s`` as a citizen identity number (None: nothing): its length, its
    characters, the province code, the birth date or the check character. Off the hot path:
    called only for a value :func:`citizen_id_valid` refused."""
    if not isinstance(s, str):
        return "WRONG_TYPE", {"type": "string"}, ""
    if len(s) != 18:
        return "LENGTH", {"expected": 18, "actual": len(s)}, ""
    if not (s[:17].isascii() and s[:17].isdigit()):
        return "CHARACTERS", {}, "field.CHARACTERS.cn-citizen-id"
    if s[17] == "x":
        return "CHARACTERS", {}, "field.CHARACTERS.lower-x"
    if not (s[17] == "X" or (s[17].isascii() and s[17].isdigit())):
        return "CHARACTERS", {}, "field.CHARACTERS.cn-citizen-id"
    if s[:2] not in _ID_PROVINCES:
        return "REGION_CODE", {}, ""
    birth = s[6:14]
    if not ("1900" <= birth[:4] <= "2100" and "01" <= birth[4:6] <= "12" and "01" <= birth[6:] <= "31"
            and (birth[6:] <= "28" or _late_day_ok(birth))):
        return "BIRTH_DATE_INVALID", {}, ""
    expected = _ID_CHECK[2 * int(s[:17], 13) % 11]
    if expected != s[17]:
        return _check_character_problem(expected, s[17])
    return None


def uscc_problem(s: str) -> Problem | None:
    """What is wrong with ``s`` as a unified social credit code (None: nothing)."""
    if not isinstance(s, str):
        return "WRONG_TYPE", {"type": "string"}, ""
    if len(s) != 18:
        return "LENGTH", {"expected": 18, "actual": len(s)}, ""
    if not all(c in _USCC_CHARS for c in s):
        return "CHARACTERS", {}, "field.CHARACTERS.cn-uscc"
    if not s[2:8].isdigit():
        return "CHARACTERS", {}, "field.CHARACTERS.cn-uscc-area"
    expected = _USCC_CHARS[-int(s[16::-1].translate(_USCC_BASE34), 34) % 31]
    if expected != s[17]:
        return _check_character_problem(expected, s[17])
    return None


def plate_problem(s: str) -> Problem | None:
    """What is wrong with ``s`` as a plate number (None: nothing)."""
    if not isinstance(s, str):
        return "WRONG_TYPE", {"type": "string"}, ""
    if len(s) not in (7, 8):
        return "LENGTH", {"actual": len(s)}, "field.LENGTH.cn-plate"
    if s[0] not in _PROVINCE_CHARS:
        return "PLATE_PROVINCE", {}, ""
    if not re.fullmatch(_L, s[1]):
        return "PLATE_OFFICE", {}, ""
    if not plate_valid(s):
        return "PLATE_FORMAT", {}, ""
    return None


def driving_classes_problem(s: str) -> Problem | None:
    """What is wrong with ``s`` as permitted driving classes (None: nothing)."""
    if not isinstance(s, str):
        return "WRONG_TYPE", {"type": "string"}, ""
    if not s or len(s) > _DRIVING_MAX_LEN:
        return "DRIVING_CLASS_UNKNOWN", {}, ""
    found = re.findall(r"A[123]|B[12]|C[1-6]|[DEFMNP]|.", s, re.DOTALL)
    if not all(c in _DRIVING_CLASSES for c in found):
        return "DRIVING_CLASS_UNKNOWN", {}, ""
    if len(set(found)) != len(found):
        return "DRIVING_CLASS_REPEATED", {}, ""
    return None


_PROBLEMS: dict[str, Callable[[str], Problem | None]] = {
    "cn-citizen-id": citizen_id_problem,
    "cn-uscc": uscc_problem,
    "cn-plate": plate_problem,
    "cn-driving-classes": driving_classes_problem,
}


def what_is_wrong(format_name: str, value: object) -> Problem | None:
    """The diagnosis of a value that failed format ``format_name`` (a ``cn-*`` format or ``date``),
    or None when the format has no finer diagnosis (the caller says "not a valid ...")."""
    if format_name == "date":
        return "INVALID_DATE", {}, ""
    diagnose = _PROBLEMS.get(format_name)
    if diagnose is None or not isinstance(value, str):
        return None
    return diagnose(value) or ("FORMAT", {"format": format_name}, "")


# --------------------------------------------------------------------------- JSON Schema plug-ins

def _strings_only(check: Callable[[str], bool]) -> Callable[[object], bool]:
    """JSON Schema formats constrain strings only: other instances pass."""
    def checker(instance: object) -> bool:
        return not isinstance(instance, str) or check(instance)
    checker.__name__ = f"is_{check.__name__}"
    checker.__doc__ = check.__doc__
    return checker


#: The ``cn-*`` checks themselves, for callers that only pass strings (the compiled
#: schemas of :mod:`ecert.rules.fastschema` test the type first and save a call per field).
STRING_FORMAT_CHECKS: dict[str, Callable[[str], bool]] = {
    "cn-citizen-id": citizen_id_valid,
    "cn-uscc": uscc_valid,
    "cn-plate": plate_valid,
    "cn-driving-classes": driving_classes_valid,
}

FORMAT_CHECKS: dict[str, Callable[[object], bool]] = {
    name: _strings_only(check) for name, check in STRING_FORMAT_CHECKS.items()}


def format_checker() -> FormatChecker:
    """A fresh copy of the draft 2020-12 format checker plus the ``cn-*`` formats."""
    checker = FormatChecker(formats=())
    checker.checkers = dict(Draft202012Validator.FORMAT_CHECKER.checkers)
    for name, func in FORMAT_CHECKS.items():
        checker.checks(name)(func)
    return checker


_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def date_order_failures(pairs, instance) -> Iterator[tuple[str, str]]:
    """The ``[earlier, later]`` pairs of ``pairs`` that ``instance`` breaks: both fields present,
    both ``YYYY-MM-DD`` text, and the later one before the earlier (equal is allowed)."""
    for earlier, later in pairs:
        a, b = instance.get(earlier), instance.get(later)
        if (isinstance(a, str) and isinstance(b, str) and _DATE_RE.fullmatch(a)
                and _DATE_RE.fullmatch(b) and b < a):
            yield earlier, later


def date_order(validator, value, instance, schema) -> Iterator[ValidationError]:
    """Keyword ``x-date-order``: a list of ``[earlier, later]`` field-name pairs.

    For each pair where both fields are present and are ``YYYY-MM-DD`` strings,
    the later date must not be before the earlier one (equal is allowed). Other
    values (e.g. ``"长期"``, long-term) are left to the fields' own schemas. The
    error's path names the later field.
    """
    if not isinstance(instance, dict):
        return
    for earlier, later in date_order_failures(value, instance):
        yield ValidationError(f"{later} must not be before {earlier}", path=[later])


KEYWORDS = {"x-date-order": date_order}


# --------------------------------------------------------------------------- display ids

_ALNUM36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ALNUM36_VALUE = {c: i for i, c in enumerate(_ALNUM36)}
_PART_RE = re.compile(r"[0-9A-Z]+", re.ASCII)

#: Fixed root of national e-certificate identifiers (电子证照根代码).
DISPLAY_ID_PREFIX = "1.2.156.3005.2"


try:
    from ..format._fast import (
        mod37_36 as _mod37_36_c,  # None for characters outside [0-9A-Z]
    )
except ImportError:  # the optional C extension was not built: the loop below, slower
    _mod37_36_c = None


def _mod37_36_state(s: str) -> int:
    p = 36
    for c in s:
        p = (p + _ALNUM36_VALUE[c]) % 36 or 36
        p = p * 2 % 37
    return p


def mod37_36_check(s: str) -> str:
    """ISO/IEC 7064 MOD 37,36 (hybrid system) check character for ``[0-9A-Z]*``.

    Detects every single-character substitution and almost every adjacent
    transposition; like all hybrid systems it misses a transposition of two
    characters whose values differ by one when the running state makes them
    commute (about 0.2 % of random transpositions). Raises ``KeyError`` for
    characters outside ``0-9A-Z``.
    """
    check = _mod37_36_c(s) if _mod37_36_c is not None and type(s) is str else None
    return _ALNUM36[(37 - _mod37_36_state(s)) % 36] if check is None else check


def mod37_36_valid(s_with_check: str) -> bool:
    """True if the last character is the MOD 37,36 check character of the rest."""
    if not isinstance(s_with_check, str) or not _PART_RE.fullmatch(s_with_check):
        return False
    return mod37_36_check(s_with_check[:-1]) == s_with_check[-1]


def display_id_maker(type_code: str, issuer_code: str, version: int) -> Callable[[str], str]:
    """:func:`display_id` with the type, issuer and version checked once: a function of the
    serial alone (a verifier shows the identifier in every answer; see ``TypeSchema.display_id``)."""
    parts = [str(p).upper() for p in (type_code, issuer_code)]
    # isascii + isalnum after upper(): exactly [0-9A-Z]+, without a regex call per part.
    if not all(p.isascii() and p.isalnum() for p in parts):
        raise ValueError("display id parts must be letters and digits")
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= 999:
        raise ValueError("version must be an integer 1..999")
    head = ".".join([DISPLAY_ID_PREFIX, *parts, ""])
    checked_head = "".join(parts)
    tail = f".{version:03d}."
    checked_tail = f"{version:03d}"

    def make(serial: str) -> str:
        serial = str(serial).upper()
        if not (serial.isascii() and serial.isalnum()):
            raise ValueError("display id parts must be letters and digits")
        return head + serial + tail + mod37_36_check(checked_head + serial + checked_tail)

    return make


def display_id(type_code: str, issuer_code: str, serial: str, version: int) -> str:
    """National-style display identifier, e.g.
    ``1.2.156.3005.2.EC001.310000.0A1B2C.001.I``.

    The parts are upper-cased (so a hex serial is fine) and must then be
    ``[0-9A-Z]+``; ``version`` is 1..999 and written with three digits. As in the
    identifiers issued by the national platform, the check character covers the
    parts after the fixed root ``1.2.156.3005.2``, dots removed.
    """
    return display_id_maker(type_code, issuer_code, version)(serial)


def display_id_valid(s: object) -> bool:
    """True if ``s`` is a well-formed display identifier with a correct check character."""
    if not isinstance(s, str) or not s.startswith(DISPLAY_ID_PREFIX + "."):
        return False
    parts = s[len(DISPLAY_ID_PREFIX) + 1:].split(".")
    if len(parts) != 5 or not all(_PART_RE.fullmatch(p) for p in parts):
        return False
    *body, version, check = parts
    if not re.fullmatch(r"[0-9]{3}", version) or version == "000" or len(check) != 1:
        return False
    return mod37_36_check("".join(body) + version) == check
