"""A document's own validity, its secondary dates and the agreement of its fields, as its type's
schema declares them.

A credential is only as valid as the document it carries. Each type's JSON Schema names:

* ``x-validity`` ``{"from": field, "until": field, "open_end": text}``: the document's MAIN
  validity (either member optional). Outside it the document is invalid: verification answers
  ``EXPIRED`` / ``NOT_YET_VALID`` and the issuer refuses it. ``open_end`` is the text meaning
  "no end" (``"长期"``).
* ``x-deadlines`` ``[{"field": name, "code": "UPPER_SNAKE"}]``: secondary dates (a vehicle's
  inspection, a business term). A lapsed one leaves the answer VALID with a warning.
* ``x-consistency``: rules between fields checked at issuance (see :data:`RULES`).
* ``x-date-order`` ``[[earlier, later], ...]``: pairs of fields whose dates are in that order
  (checked with the schema itself: :mod:`ecert.rules.identifiers`).

All document dates are ``YYYY-MM-DD`` calendar days in China Standard Time (UTC+8, no daylight
saving). A document valid until day D is valid through the whole of D in China: up to (D+1)
00:00 +08:00. ISO date text compares correctly as text, so the verification hot path
(:meth:`DocumentRules.check`, :meth:`DocumentRules.warnings`) compares strings against
:func:`china_day` and never parses a date.

No value of a field ever reaches an error message: fields are named, their values are not
(a document's own validity date in a verification detail excepted: it is not personal data;
and the ``errors[]`` item of a birth date that disagrees with the ID number, which shows the
caller both dates of the holder they issue for, and is never logged).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, NamedTuple

from ..errors import FieldProblem, InvalidRequest, Outcome, RuleViolation

__all__ = ["CST_OFFSET", "RULES", "DocumentDate", "DocumentRules", "Outside", "Warning", "china_day", "day_end",
           "day_start", "parse_document_rules"]

CST_OFFSET = 8 * 3600
"""China Standard Time is UTC+8 all year."""
DAY = 86400
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_CODE_RE = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*")
_MAX_CODE = 64
_MAX_OPEN_END = 32
_MAX_YEARS = 150

# The CST day china_day computed last: (first second, first second of the next day, "YYYY-MM-DD").
_last_day: tuple[int, int, str] = (0, 0, "")


def china_day(now: int) -> str:
    """The calendar day of epoch second ``now`` in China Standard Time, as ``YYYY-MM-DD``.

    Called on every verification: the day last computed is kept, so all but one call a day
    cost two comparisons."""
    global _last_day
    start, end, text = _last_day
    if start <= now < end:
        return text
    days = (int(now) + CST_OFFSET) // DAY
    text = date.fromordinal(_EPOCH_ORDINAL + days).isoformat()
    start = days * DAY - CST_OFFSET
    _last_day = (start, start + DAY, text)
    return text


def day_start(d: str) -> int:
    """Epoch second of day ``d`` (``YYYY-MM-DD``) at 00:00 China time."""
    return (date.fromisoformat(d).toordinal() - _EPOCH_ORDINAL) * DAY - CST_OFFSET


def day_end(d: str) -> int:
    """Epoch second of the day after ``d`` at 00:00 China time: the exclusive end of day ``d``."""
    return day_start(d) + DAY


class Warning(NamedTuple):  # the answers' member name (it shadows the builtin only here)
    """A lapsed secondary date: ``code`` (e.g. ``INSPECTION_OVERDUE``), the field, and its date."""

    code: str
    field: str
    since: str


class DocumentDate(NamedTuple):
    """The document's own date that decided an answer ``EXPIRED`` / ``NOT_YET_VALID``: the
    ``x-validity`` field and its date (``YYYY-MM-DD``), the answers' member ``document``."""

    field: str
    date: str


class Outside(NamedTuple):
    """A document outside its main validity (:meth:`DocumentRules.check`): the outcome, the
    detail naming the field and its date (``outcome, detail = outside[:2]``), and the two as data."""

    outcome: Outcome
    detail: str
    document: DocumentDate


# --------------------------------------------------------------------------- consistency rules

_SEXES = {"男": 1, "女": 0}  # GB 11643: the 17th character is odd for a man, even for a woman


def _disagree(a: str, b: str, why: str, problem: FieldProblem) -> RuleViolation:
    """FIELDS_INCONSISTENT naming both fields; its English text names fields only, the item
    (``problem``, an ``errors[]`` entry) may say more (the two birth dates) to the caller."""
    return RuleViolation(f"fields {a} and {b} disagree: {why}", code="FIELDS_INCONSISTENT", fields=(a, b),
                         key="FIELDS_INCONSISTENT.pair", params={"field": a, "other": b}, problems=(problem,))


def _citizen_id_birth_date(id_field: str, field: str) -> Callable[[Mapping[str, Any]], None]:
    def check(fields: Mapping[str, Any]) -> None:
        number, birth = fields.get(id_field), fields.get(field)
        if (type(number) is str and type(birth) is str and len(number) == 18
                and number[6:14] != birth[:4] + birth[5:7] + birth[8:10]):
            problem = FieldProblem(field, "BIRTH_DATE_MISMATCH", {
                "given": birth, "from_id": f"{number[6:10]}-{number[10:12]}-{number[12:14]}", "id_field": id_field})
            raise _disagree(id_field, field, f"the date of birth within {id_field} is not {field}", problem)
    return check


def _citizen_id_sex(id_field: str, field: str) -> Callable[[Mapping[str, Any]], None]:
    def check(fields: Mapping[str, Any]) -> None:
        number, sex = fields.get(id_field), fields.get(field)
        if (type(number) is str and type(sex) is str and len(number) == 18 and number[16].isdigit()
                and _SEXES.get(sex) != int(number[16]) % 2):
            raise _disagree(id_field, field, f"the sex within {id_field} is not {field}",
                            FieldProblem(field, "SEX_MISMATCH", {"id_field": id_field}))
    return check


def _min_age(birth_field: str, at_field: str, years: int) -> Callable[[Mapping[str, Any]], None]:
    def check(fields: Mapping[str, Any]) -> None:
        birth, at = fields.get(birth_field), fields.get(at_field)
        # The birthday `years` on, as text (29 February: the holder is of age on 1 March).
        if (type(birth) is str and type(at) is str and len(birth) == 10 and birth[:4].isdigit()
                and at < f"{int(birth[:4]) + years:04d}{birth[4:]}"):
            raise _disagree(birth_field, at_field,
                            f"{at_field} is before the holder's {_ordinal(years)} birthday ({birth_field})",
                            FieldProblem(at_field, "UNDER_AGE", {"years": years, "birth_field": birth_field}))
    return check


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


RULES = {
    "citizen-id-birth-date": ("id", "field"),
    "citizen-id-sex": ("id", "field"),
    "min-age": ("birth", "at", "years"),
}
"""The ``x-consistency`` rules and their members (besides ``rule``):

* ``citizen-id-birth-date``: the date of birth inside the GB 11643 number ``id`` equals ``field``;
* ``citizen-id-sex``: the sex inside ``id`` (odd 17th digit: 男, even: 女) equals ``field``;
* ``min-age``: date ``at`` is on or after the ``years``-th birthday of date of birth ``birth``.

Each is checked when both its fields are present."""


# --------------------------------------------------------------------------- the rules of a type

class DocumentRules:
    """What a type's schema says about its document's dates and field agreement (immutable,
    one per type; :func:`parse_document_rules` builds it)."""

    __slots__ = ("_consistency", "_never", "date_order", "deadlines", "open_end", "valid_from", "valid_until")

    valid_from: str | None
    valid_until: str | None
    open_end: str | None
    deadlines: tuple[tuple[str, str], ...]
    date_order: tuple[tuple[str, str], ...]

    def __init__(self, valid_from: str | None = None, valid_until: str | None = None, open_end: str | None = None,
                 deadlines: tuple[tuple[str, str], ...] = (),
                 consistency: tuple[Callable[[Mapping[str, Any]], None], ...] = (),
                 never: frozenset[str] = frozenset(), date_order: tuple[tuple[str, str], ...] = ()):
        set_ = object.__setattr__
        set_(self, "valid_from", valid_from)
        set_(self, "valid_until", valid_until)
        set_(self, "open_end", open_end)
        set_(self, "deadlines", tuple(deadlines))
        set_(self, "date_order", tuple(date_order))
        set_(self, "_consistency", tuple(consistency))
        # Values of the dated fields that are no date (open_end, a schema's "长期"): never lapse.
        set_(self, "_never", frozenset(never) | ({open_end} if open_end else frozenset()))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("DocumentRules are immutable")

    def __repr__(self) -> str:
        return (f"DocumentRules(valid_from={self.valid_from!r}, valid_until={self.valid_until!r}, "
                f"open_end={self.open_end!r}, deadlines={self.deadlines!r}, date_order={self.date_order!r})")

    @property
    def has_validity(self) -> bool:
        """Whether the type names a main validity at all."""
        return self.valid_from is not None or self.valid_until is not None

    def check(self, fields: Mapping[str, Any], today: str) -> Outside | None:
        """None when ``today`` (``YYYY-MM-DD``, China time: :func:`china_day`) is inside the
        document's main validity, or the type names none; else :class:`Outside` (``EXPIRED`` |
        ``NOT_YET_VALID``, the detail, the field and its date). ``fields`` already satisfy the schema.

        The verification hot path: a dictionary look-up and a string comparison per bound."""
        name = self.valid_until
        if name is not None:
            v = fields.get(name)
            if type(v) is str and v < today and v not in self._never:
                return Outside(Outcome.EXPIRED, f"the document's {name} ({v}) has passed", DocumentDate(name, v))
        name = self.valid_from
        if name is not None:
            v = fields.get(name)
            if type(v) is str and v > today and v not in self._never:
                return Outside(Outcome.NOT_YET_VALID, f"the document's {name} ({v}) has not come yet",
                               DocumentDate(name, v))
        return None

    def warnings(self, fields: Mapping[str, Any], today: str) -> tuple[Warning, ...]:
        """The secondary dates (``x-deadlines``) that have lapsed by ``today``: ``()`` when none.

        The verification hot path, like :meth:`check`."""
        found: list[Warning] | None = None
        for name, code in self.deadlines:
            v = fields.get(name)
            if type(v) is str and v < today and v not in self._never:
                if found is None:
                    found = []
                found.append(Warning(code, name, v))
        return () if found is None else tuple(found)

    def check_issuance(self, fields: Mapping[str, Any], now: int) -> int | None:
        """Before a credential is issued for ``fields`` (already valid against the schema):
        refuse a document outside its main validity (RuleViolation ``DOCUMENT_EXPIRED`` /
        ``DOCUMENT_NOT_YET_VALID`` naming the field) or whose fields disagree
        (``FIELDS_INCONSISTENT`` naming both). Returns the latest ``exp`` the credential may
        carry: the end, in China time, of the document's last valid day; None when it has no end."""
        today = china_day(now)
        outside = self.check(fields, today)
        if outside is not None:
            name = outside.document.field
            if outside.outcome is Outcome.EXPIRED:
                raise RuleViolation(f"the document's {name} is before today ({today}, China time): "
                                    "a document past its validity is not issued", code="DOCUMENT_EXPIRED",
                                    field=name)
            raise RuleViolation(f"the document's {name} is after today ({today}, China time): "
                                "a document not yet valid is not issued", code="DOCUMENT_NOT_YET_VALID",
                                field=name)
        disagree = []
        for rule in self._consistency:  # every pair that disagrees, not only the first
            try:
                rule(fields)
            except RuleViolation as err:
                disagree.append(err)
        if len(disagree) == 1:
            raise disagree[0]
        if disagree:
            pairs = "; ".join(" and ".join(err.blamed) for err in disagree)
            raise RuleViolation(f"{len(disagree)} pairs of fields disagree: {pairs}", code="FIELDS_INCONSISTENT",
                                fields=tuple(dict.fromkeys(f for err in disagree for f in err.blamed)),
                                key="FIELDS_INCONSISTENT.many", params={"count": len(disagree)},
                                problems=tuple(p for err in disagree for p in err.problems))
        if self.valid_until is None:
            return None
        v = fields.get(self.valid_until)
        if type(v) is not str or v in self._never:
            return None
        return day_end(v)


# --------------------------------------------------------------------------- parsing

def _malformed(message: str) -> InvalidRequest:
    return InvalidRequest(f"schema {message}", code="SCHEMA_MALFORMED", field="schema")


def _date_values(prop: Any) -> frozenset[str] | None:
    """The non-date texts a date property also allows (``{"const": "长期"}`` in an anyOf), or None
    when the property is not a date: ``"format": "date"`` itself, or an anyOf/oneOf of such and
    text constants."""
    if not isinstance(prop, dict):
        return None
    if prop.get("format") == "date" and prop.get("type", "string") == "string":
        return frozenset()
    for key in ("anyOf", "oneOf"):
        branches = prop.get(key)
        if not isinstance(branches, list) or not branches:
            continue
        consts: set[str] = set()
        dated = False
        for b in branches:
            if isinstance(b, dict) and b.get("format") == "date" and b.get("type", "string") == "string":
                dated = True
            elif isinstance(b, dict) and isinstance(b.get("const"), str) and set(b) <= {"const", "title",
                                                                                        "description"}:
                consts.add(b["const"])
            else:
                return None
        return frozenset(consts) if dated else None
    return None


def _members(obj: Any, where: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict:
    if not isinstance(obj, dict):
        raise _malformed(f"{where} must be a JSON object")
    unknown = sorted(set(obj) - set(required) - set(optional))
    if unknown:
        raise _malformed(f"{where} has unknown member {unknown[0]!r} (members: {', '.join(required + optional)})")
    missing = [m for m in required if m not in obj]
    if missing:
        raise _malformed(f"{where} needs member {missing[0]!r}")
    return obj


def _field_name(props: dict, where: str, name: Any) -> str:
    if not isinstance(name, str) or name not in props:
        shown = repr(name) if isinstance(name, str) and len(name) <= 64 else "a value that is no field name"
        raise _malformed(f"{where} names unknown field {shown}")
    return name


def _date_field(props: dict, where: str, name: Any, never: set[str]) -> str:
    name = _field_name(props, where, name)
    values = _date_values(props[name])
    if values is None:
        raise _malformed(f"{where} names field {name!r}, which is not a date (format: date)")
    never |= values
    return name


def parse_document_rules(schema: dict) -> DocumentRules:
    """The :class:`DocumentRules` of a type schema (already a checked JSON Schema with
    ``properties``), from its ``x-validity``, ``x-deadlines``, ``x-consistency`` and
    ``x-date-order``. Raises InvalidRequest ``SCHEMA_MALFORMED`` naming the problem: an unknown
    field, a field that is no date where a date is needed, a bad code, rule or pair."""
    props = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(props, dict):
        raise _malformed("must describe an object with properties")
    never: set[str] = set()
    valid_from = valid_until = open_end = None
    if "x-validity" in schema:
        v = _members(schema["x-validity"], "x-validity", (), ("from", "until", "open_end"))
        if "from" not in v and "until" not in v:
            raise _malformed("x-validity must name a field 'from' or 'until' (or both)")
        if "from" in v:
            valid_from = _date_field(props, "x-validity from", v["from"], never)
        if "until" in v:
            until_values: set[str] = set()
            valid_until = _date_field(props, "x-validity until", v["until"], until_values)
            never |= until_values
        if valid_from is not None and valid_from == valid_until:
            raise _malformed("x-validity from and until must be two fields")
        if "open_end" in v:
            open_end = v["open_end"]
            if valid_until is None:
                raise _malformed("x-validity open_end needs an 'until' field")
            if not isinstance(open_end, str) or not 1 <= len(open_end) <= _MAX_OPEN_END:
                raise _malformed(f"x-validity open_end must be text of 1 to {_MAX_OPEN_END} characters")
            if open_end not in until_values:
                raise _malformed(f"x-validity open_end is not a value field {valid_until!r} allows")
    deadlines: list[tuple[str, str]] = []
    if "x-deadlines" in schema:
        entries = schema["x-deadlines"]
        if not isinstance(entries, list):
            raise _malformed("x-deadlines must be a list of {\"field\", \"code\"} objects")
        for i, entry in enumerate(entries):
            where = f"x-deadlines[{i}]"
            e = _members(entry, where, ("field", "code"))
            name = _date_field(props, where, e["field"], never)
            code = e["code"]
            if not isinstance(code, str) or len(code) > _MAX_CODE or not _CODE_RE.fullmatch(code):
                raise _malformed(f"{where} code must be UPPER_SNAKE_CASE text of at most {_MAX_CODE} characters,"
                                 " e.g. INSPECTION_OVERDUE")
            if name in (valid_from, valid_until) or any(name == f for f, _ in deadlines):
                raise _malformed(f"{where} names field {name!r} twice")
            deadlines.append((name, code))
    consistency = []
    if "x-consistency" in schema:
        entries = schema["x-consistency"]
        if not isinstance(entries, list):
            raise _malformed("x-consistency must be a list of rules")
        for i, entry in enumerate(entries):
            consistency.append(_consistency_rule(props, f"x-consistency[{i}]", entry))
    return DocumentRules(valid_from, valid_until, open_end, tuple(deadlines), tuple(consistency), frozenset(never),
                         _date_order(props, schema.get("x-date-order", [])))


def _date_order(props: dict, pairs: Any) -> tuple[tuple[str, str], ...]:
    """``x-date-order``: a list of ``[earlier, later]`` pairs, each naming two fields of the type."""
    if not isinstance(pairs, list):
        raise _malformed('x-date-order must be a list of ["earlier", "later"] field pairs')
    out = []
    for i, pair in enumerate(pairs):
        where = f"x-date-order[{i}]"
        if not isinstance(pair, list) or len(pair) != 2:
            raise _malformed(f'{where} must be a pair of field names ["earlier", "later"]')
        earlier = _field_name(props, where, pair[0])
        later = _field_name(props, where, pair[1])
        if earlier == later:
            raise _malformed(f"{where} must name two fields")
        out.append((earlier, later))
    return tuple(out)


def _consistency_rule(props: dict, where: str, entry: Any) -> Callable[[Mapping[str, Any]], None]:
    rule = entry.get("rule") if isinstance(entry, dict) else None
    if not isinstance(rule, str) or rule not in RULES:
        raise _malformed(f"{where} rule must be one of {', '.join(RULES)}")
    e = _members(entry, where, ("rule", *RULES[rule]))
    if rule == "min-age":
        birth = _date_field(props, f"{where} birth", e["birth"], set())
        at = _date_field(props, f"{where} at", e["at"], set())
        years = e["years"]
        if type(years) is not int or not 1 <= years <= _MAX_YEARS:
            raise _malformed(f"{where} years must be an integer from 1 to {_MAX_YEARS}")
        if birth == at:
            raise _malformed(f"{where} birth and at must be two fields")
        return _min_age(birth, at, years)
    id_field = _field_name(props, f"{where} id", e["id"])
    if not isinstance(props[id_field], dict) or props[id_field].get("format") != "cn-citizen-id":
        raise _malformed(f"{where} id names field {id_field!r}, which is not a citizen identity number "
                         "(format: cn-citizen-id)")
    if rule == "citizen-id-birth-date":
        field = _date_field(props, f"{where} field", e["field"], set())
        return _citizen_id_birth_date(id_field, field)
    field = _field_name(props, f"{where} field", e["field"])
    allowed = props[field].get("enum") if isinstance(props[field], dict) else None
    if not isinstance(allowed, list) or not allowed or not all(isinstance(a, str) and a in _SEXES for a in allowed):
        raise _malformed(f"{where} field {field!r} must be an enum of {' / '.join(_SEXES)}")
    return _citizen_id_sex(id_field, field)
