"""Certificate-type schemas: checking fields, converting them, and disclosure.

Fields travel as JSON at the edges and as CBOR inside credentials. The only
difference is byte strings (e.g. ``photo``, a SHA-256 digest): a schema marks
them with ``"contentEncoding": "base16"``; in JSON they are lower-case hex, in
CBOR raw bytes. Validation always runs on the JSON form, so issuer and verifier
check exactly the same thing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator

from .. import messages
from ..errors import MAX_PROBLEMS, FieldProblem, InvalidRequest, RuleViolation
from ..limits import MAX_FIELDS_BYTES, MAX_SCHEMA_BYTES
from ..vocab import KEY_ROLES, Role
from . import fastschema, identifiers
from .access import OTHER_REGION_AGENCY
from .document import DocumentRules, parse_document_rules

_TYPE_ID_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._")
_CODE_RE = re.compile(r"[0-9A-Z]{1,24}")
# Field values a credential may carry (format spec, section 3): no arrays, objects or floats.
FIELD_TYPES = frozenset({"string", "integer", "boolean"})
# The roles a type may name for an agency of another region: any but those that see the full record.
OTHER_REGION_ROLES = tuple(r for r in KEY_ROLES if r not in (Role.AGENCY, Role.ADMIN))

# Draft 2020-12 plus the suite's identifier formats (cn-citizen-id, ...) and x-date-order.
Validator = jsonschema.validators.extend(Draft202012Validator, identifiers.KEYWORDS)
FORMAT_CHECKER = identifiers.format_checker()


def check_type_id(type_id: str, field: str = "type") -> str:
    """A certificate type id (dotted lower case), else 400 naming ``field``."""
    if (not isinstance(type_id, str) or not 3 <= len(type_id) <= 64 or not set(type_id) <= _TYPE_ID_CHARS
            or "." not in type_id or type_id.startswith(".") or type_id.endswith(".")):
        raise InvalidRequest("type id must be dotted lower-case, e.g. cn.driving_licence", field=field,
                             key="field.TYPE_ID")
    return type_id


class TypeSchema:
    """A parsed certificate-type schema with its compiled validator."""

    __slots__ = ("id", "version", "name", "schema_text", "schema", "disclosure", "type_code", "document",
                 "_validator", "_fast", "_bytes_fields", "_display_ids", "_views", "_identify_views")

    def __init__(self, type_id: str, version: int, name: str, schema_text: str,
                 disclosure: Mapping[str, list[str]]):
        self.id = type_id
        self.version = version
        self.name = name
        self.schema_text = schema_text
        self.schema = parse_schema(schema_text)
        self.disclosure = {role: list(fields) for role, fields in disclosure.items()}
        self._views = _disclosure_views(self.disclosure)
        self.document: DocumentRules = parse_document_rules(self.schema)
        """The document's own validity, secondary dates and field agreement (``x-validity`` ...)."""
        self._identify_views = _identify_views(parse_identify(self.schema), self.disclosure, self._views)
        code = self.schema.get("x-ecert-type-code")
        self.type_code = code if isinstance(code, str) and _CODE_RE.fullmatch(code) else \
            re.sub("[^0-9A-Z]", "", type_id.upper())[:24]
        self._validator = Validator(self.schema, format_checker=FORMAT_CHECKER)
        self._fast = fastschema.compile_schema(self.schema, identifiers.STRING_FORMAT_CHECKS)
        props = self.schema.get("properties", {}) if isinstance(self.schema, dict) else {}
        self._bytes_fields = frozenset(
            name for name, p in props.items() if isinstance(p, dict) and p.get("contentEncoding") == "base16")
        self._display_ids: dict[str, Callable[[str], str]] = {}

    def validate(self, fields: Mapping[str, Any]) -> None:
        """Raise :class:`RuleViolation` ``SCHEMA_INVALID`` listing every failing field at once
        (``problems``: one :class:`FieldProblem` each, with a stable item code such as
        ``REQUIRED`` or ``CHECK_CHARACTER``); when only ``x-date-order`` pairs fail,
        ``FIELDS_INCONSISTENT`` naming both fields of the first (and listing every pair).
        (Issuance; verification asks :meth:`is_valid`, where a wrong order is SCHEMA_INVALID.)"""
        if self.is_valid(fields):
            return
        problems = schema_problems(self._validator, self.schema, fields)
        if problems and all(p.code == "DATE_ORDER" for p in problems):
            first = problems[0]
            earlier, later = first.params["earlier"], first.field
            raise RuleViolation(f"fields {earlier} and {later} disagree: {later} must not be before {earlier}",
                                code="FIELDS_INCONSISTENT", fields=(earlier, later),
                                key="field.DATE_ORDER" if len(problems) == 1 else "FIELDS_INCONSISTENT.many",
                                params={"field": later, "earlier": earlier, "count": len(problems)},
                                problems=problems)
        raise schema_invalid(problems)

    @property
    def bytes_fields(self) -> frozenset[str]:
        """The properties marked ``"contentEncoding": "base16"``: byte strings in CBOR."""
        return self._bytes_fields

    def is_valid(self, fields: Mapping[str, Any]) -> bool:
        """The verification hot path: the compiled check when the schema allowed one."""
        if self._fast is not None:
            return self._fast(fields)
        return self._validator.is_valid(fields)

    def to_cbor(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """JSON-form fields (already validated) to the CBOR form carried in a credential."""
        out = dict(fields)
        for name in self._bytes_fields & out.keys():
            out[name] = bytes.fromhex(out[name])
        return out

    def display_id(self, region: str, cred_id: str) -> str:
        """The national-style identifier ``1.2.156.3005.2.{type}.{issuer}.{serial}.{version}.{check}``."""
        make = self._display_ids.get(region)
        if make is None:
            make = identifiers.display_id_maker(self.type_code, identifiers.issuer_code(region), self.version)
            if len(self._display_ids) < 256:  # one per region of the trust list; bounded all the same
                self._display_ids[region] = make
        return make(cred_id)

    def disclosed(self, role: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """The fields ``role`` sees: a role of the disclosure, or :data:`OTHER_REGION_AGENCY` (the
        fields of the role the type names for it). Give it ``access.disclosure_role(p, iss)``."""
        allowed = self._views.get(role, ())
        return {k: fields[k] for k in allowed if k in fields}

    def identified(self, role: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """The fields ``role`` is shown of a credential that is authentic but not current (revoked,
        suspended, expired, not yet valid, not accepted for the purpose): the type's ``x-identify``
        list for the role (always within what the role may see), so the operator knows who
        presented it. ``role`` as for :meth:`disclosed`."""
        allowed = self._identify_views.get(role, ())
        return {k: fields[k] for k in allowed if k in fields}

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "version": self.version, "name": self.name,
                "schema": self.schema, "disclosure": self.disclosure}


def _disclosure_views(disclosure: Mapping[str, list[str]]) -> dict[str, tuple[str, ...]]:
    """Entry (role, or OTHER_REGION_AGENCY) to the fields it sees. The other-region entry gets the
    named role's fields; unnamed, or naming a role that sees the full record, it sees none."""
    views = {role: tuple(fields) for role, fields in disclosure.items() if role != OTHER_REGION_AGENCY}
    named = disclosure.get(OTHER_REGION_AGENCY)
    if isinstance(named, list) and len(named) == 1 and named[0] in OTHER_REGION_ROLES:
        views[OTHER_REGION_AGENCY] = views.get(named[0], ())
    return views


def _short(value: Any) -> str:
    text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


_MAX_NAME = 64  # a field name longer than this (a client's unknown member) is cut in an item


def _name(path: str) -> str:
    return path if len(path) <= _MAX_NAME else path[:_MAX_NAME - 3] + "..."


def schema_invalid(problems: list[FieldProblem]) -> RuleViolation:
    """The 422 ``SCHEMA_INVALID`` for ``problems`` (at least one): one problem's message as the
    error's own, or "N fields are invalid"; every problem in ``problems``, the fields in ``fields``."""
    if not problems:
        return RuleViolation("fields do not satisfy the type's schema", code="SCHEMA_INVALID")
    blamed = tuple(dict.fromkeys(p.field for p in problems if p.field))
    if len(problems) == 1:
        p = problems[0]
        message = messages.problem_message(p.field, p.code, p.params, "en", p.key)
        return RuleViolation(message, code="SCHEMA_INVALID", field=p.field or None, key=p.message_key,
                             params={**p.params, "field": p.field}, problems=tuple(problems))
    return RuleViolation(f"{len(problems)} fields are invalid: {_short(list(blamed))}", code="SCHEMA_INVALID",
                         field=blamed[0] if blamed else None, fields=blamed[:MAX_PROBLEMS] if len(blamed) > 1 else (),
                         key="SCHEMA_INVALID.many", params={"count": len(problems)}, problems=tuple(problems))


def schema_problems(validator: Any, schema: Mapping[str, Any], fields: Mapping[str, Any]) -> list[FieldProblem]:
    """Every failure of ``fields`` against the schema, one :class:`FieldProblem` per field and
    rule broken, in the order of the schema's properties (unknown fields last), at most
    :data:`MAX_PROBLEMS`. Messages name the schema's terms, never the value sent."""
    props = schema.get("properties", {}) if isinstance(schema, Mapping) else {}
    out: list[FieldProblem] = []
    seen_required = False
    for err in validator.iter_errors(fields):
        path = ".".join(str(p) for p in err.absolute_path)
        if err.validator == "required" and not path:
            if seen_required:  # jsonschema yields one error per missing name: list them once
                continue
            seen_required = True
            out += [FieldProblem(_name(f), "REQUIRED") for f in err.validator_value
                    if isinstance(f, str) and f not in fields]
        elif err.validator == "additionalProperties" and not path:
            out += [FieldProblem(_name(str(f)), "NOT_ALLOWED") for f in fields if f not in props]
        else:
            out.append(_problem(_name(path) or "(root)", err))
    titled = []
    for p in out:  # the schema's own title of a field (姓名): a Chinese message shows it by the name
        title = props.get(p.field, {}).get("title") if isinstance(props.get(p.field), Mapping) else None
        titled.append(p._replace(params={**p.params, "title": title[:32]}) if isinstance(title, str) else p)
    out = titled
    order = {name: i for i, name in enumerate(props)}
    out.sort(key=lambda p: order.get(p.field, len(order)))  # stable: the schema's order, then as found
    return out


_BOUND_PROBLEMS = {"maxLength": ("TOO_LONG", "max", ""), "minLength": ("TOO_SHORT", "min", ""),
                   "maximum": ("ABOVE_MAXIMUM", "max", ""), "minimum": ("BELOW_MINIMUM", "min", ""),
                   "exclusiveMaximum": ("ABOVE_MAXIMUM", "max", "field.ABOVE_MAXIMUM.exclusive"),
                   "exclusiveMinimum": ("BELOW_MINIMUM", "min", "field.BELOW_MINIMUM.exclusive"),
                   "maxItems": ("TOO_MANY", "max", "")}


def _problem(field: str, err: jsonschema.exceptions.ValidationError) -> FieldProblem:
    """One schema error as a :class:`FieldProblem` (its params: the schema's, never the value)."""
    kind, value = str(err.validator), err.validator_value
    if kind == "type":
        return FieldProblem(field, "WRONG_TYPE", {"type": value if isinstance(value, (str, list)) else str(value)})
    if kind in _BOUND_PROBLEMS:
        code, name, key = _BOUND_PROBLEMS[kind]
        return FieldProblem(field, code, {name: value}, key)
    if kind == "pattern":
        return FieldProblem(field, "PATTERN", {"pattern": _short(value)})
    if kind == "enum":
        return FieldProblem(field, "ENUM", {"options": [_short(v) for v in value[:20]]})
    if kind == "const":
        return FieldProblem(field, "CONST", {"value": _short(value)})
    if kind == "format":
        found = identifiers.what_is_wrong(str(value), err.instance)
        if found is None:
            return FieldProblem(field, "FORMAT", {"format": _short(value)})
        code, params, key = found
        return FieldProblem(field, code, params, key)
    if kind == "x-date-order":
        earlier = next((e for e, later in value if later == field), "") if isinstance(value, list) else ""
        return FieldProblem(field, "DATE_ORDER", {"earlier": earlier})
    if kind in ("anyOf", "oneOf"):
        return _no_form(field, err)
    return FieldProblem(field, "INVALID", {"rule": kind})


def _no_form(field: str, err: jsonschema.exceptions.ValidationError) -> FieldProblem:
    """An ``anyOf``/``oneOf`` that failed: a date or fixed texts (``"长期"``) said as such; one
    typed branch (the rest constants) diagnosed as that branch; else "matches none of the forms"."""
    branches = err.validator_value if isinstance(err.validator_value, list) else []
    consts = [b["const"] for b in branches if isinstance(b, dict) and isinstance(b.get("const"), str)]
    typed = [b for b in branches if not (isinstance(b, dict) and "const" in b)]
    if len(typed) == 1 and isinstance(typed[0], dict) and len(consts) == len(branches) - 1:
        if typed[0].get("format") == "date" and consts:
            return FieldProblem(field, "INVALID_DATE", {"options": consts}, "field.INVALID_DATE.or")
        inner = [e for e in err.context if e.validator != "const"]
        if inner and not consts:
            return _problem(field, jsonschema.exceptions.best_match(inner))
    return FieldProblem(field, "NO_FORM")


def _identify_views(identify: Mapping[str, tuple[str, ...]], disclosure: Mapping[str, list[str]],
                    views: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """Entry (role, or OTHER_REGION_AGENCY) to the identifying fields it is shown: the role's
    ``x-identify`` list, never beyond its disclosure; the other-region entry gets the named role's."""
    out = {role: tuple(f for f in names if f in views.get(role, ())) for role, names in identify.items()}
    named = disclosure.get(OTHER_REGION_AGENCY)
    if OTHER_REGION_AGENCY in views and isinstance(named, list) and named:
        out[OTHER_REGION_AGENCY] = tuple(f for f in out.get(named[0], ()) if f in views[OTHER_REGION_AGENCY])
    return out


def parse_identify(schema: dict) -> dict[str, tuple[str, ...]]:
    """The schema's ``x-identify``: ``{role: [field, ...]}``, the fields each role is shown when a
    credential is authentic but not current. Roles absent are shown nothing; an agency of another
    region is shown the list of the role the disclosure names for it. InvalidRequest
    ``SCHEMA_MALFORMED`` on an unknown role or field."""
    identify = schema.get("x-identify", {})
    if not isinstance(identify, dict):
        raise InvalidRequest("schema x-identify must map roles to field lists", code="SCHEMA_MALFORMED",
                             field="schema")
    props = schema.get("properties", {})
    out = {}
    for role, names in identify.items():
        if role not in KEY_ROLES:
            shown = f"{role!r}" if len(role) <= 64 else "(a long name)"
            raise InvalidRequest(f"schema x-identify names unknown role {shown} (an agency of another region "
                                 f"is shown the list of the role named by {OTHER_REGION_AGENCY})",
                                 code="SCHEMA_MALFORMED", field="schema")
        if not isinstance(names, list) or not all(isinstance(f, str) for f in names):
            raise InvalidRequest(f"schema x-identify for {role} must be a list of field names",
                                 code="SCHEMA_MALFORMED", field="schema")
        unknown = [f for f in names if f not in props]
        if unknown:
            raise InvalidRequest(f"schema x-identify for {role} names unknown field {unknown[0][:64]!r}",
                                 code="SCHEMA_MALFORMED", field="schema")
        if len(set(names)) != len(names):
            raise InvalidRequest(f"schema x-identify for {role} names a field twice", code="SCHEMA_MALFORMED",
                                 field="schema")
        out[role] = tuple(names)
    return out


def check_identify(schema: dict, disclosure: Mapping[str, list[str]]) -> dict[str, tuple[str, ...]]:
    """:func:`parse_identify`, and each role's list within that role's disclosure (a role is never
    shown of a credential that is not current what it would not see of a valid one)."""
    identify = parse_identify(schema)
    for role, names in identify.items():
        beyond = [f for f in names if f not in disclosure.get(role, ())]
        if beyond:
            raise InvalidRequest(f"schema x-identify for {role} names field {beyond[0]!r}, which the disclosure "
                                 f"does not let {role} see", code="SCHEMA_MALFORMED", field="schema")
    return identify


def pick_type(types: Mapping[tuple[str, int], TypeSchema], type_id: str, version: int = 0) -> TypeSchema | None:
    """Type ``type_id`` at ``version``, or its newest version when ``version`` is 0."""
    if version:
        return types.get((type_id, version))
    versions = [v for (t, v) in types if t == type_id]
    return types[(type_id, max(versions))] if versions else None


def to_json_fields(d: Mapping[str, Any]) -> dict[str, Any]:
    """CBOR-form fields to JSON form (byte strings become lower-case hex)."""
    return {k: (v.hex() if isinstance(v, bytes) else v) for k, v in d.items()}


_NOT_TEXT = "schema holds a lone surrogate (\\ud800-\\udfff), which is not Unicode text"


def parse_schema(schema_text: str) -> dict:
    """Parse and check a JSON Schema (draft 2020-12) for a certificate type: JSON text of Unicode
    text only (a lone surrogate, raw or escaped, could be neither stored nor sent on)."""
    if not isinstance(schema_text, str):
        raise InvalidRequest("schema must be JSON text of at most 64 KiB", code="SCHEMA_MALFORMED", field="schema")
    try:
        size = len(schema_text.encode())
    except UnicodeEncodeError as err:
        raise InvalidRequest(_NOT_TEXT, code="SCHEMA_MALFORMED", field="schema") from err
    if size > MAX_SCHEMA_BYTES:
        raise InvalidRequest("schema must be JSON text of at most 64 KiB", code="SCHEMA_MALFORMED", field="schema")
    try:
        schema = json.loads(schema_text)
        if "\\u" in schema_text:  # only an escape can make one out of text that encodes
            json.dumps(schema, ensure_ascii=False).encode()
    except UnicodeEncodeError as err:
        raise InvalidRequest(_NOT_TEXT, code="SCHEMA_MALFORMED", field="schema") from err
    except (ValueError, RecursionError) as err:
        raise InvalidRequest(f"schema is not JSON: {err}", code="SCHEMA_MALFORMED", field="schema") from err
    if not isinstance(schema, dict):
        raise InvalidRequest("schema must be a JSON object", code="SCHEMA_MALFORMED", field="schema")
    try:
        Validator.check_schema(schema)
    except jsonschema.exceptions.SchemaError as err:
        raise InvalidRequest(f"schema is not a valid JSON Schema: {err.message}",
                             code="SCHEMA_MALFORMED", field="schema") from err
    except RecursionError as err:
        raise InvalidRequest("schema is nested too deeply", code="SCHEMA_MALFORMED", field="schema") from err
    if schema.get("type") != "object" or not isinstance(schema.get("properties"), dict):
        raise InvalidRequest("schema must describe an object with properties", code="SCHEMA_MALFORMED",
                             field="schema")
    for name, prop in schema["properties"].items():
        bad = _field_types(prop) - FIELD_TYPES
        if bad:
            raise InvalidRequest(f"field {name}: a credential field cannot be of type {sorted(bad)[0]} "
                                 "(text, integer, boolean, date text or hex bytes only)",
                                 code="SCHEMA_MALFORMED", field="schema")
    return schema


def _field_types(prop: Any) -> set[str]:
    """The JSON types a property schema names, including inside anyOf/oneOf/allOf."""
    if not isinstance(prop, dict):
        return set()
    t = prop.get("type")
    found = {t} if isinstance(t, str) else set(t) if isinstance(t, list) else set()
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in prop.get(key, ()) if isinstance(prop.get(key), list) else ():
            found |= _field_types(sub)
    return found


def check_disclosure(disclosure: Any, schema: dict) -> dict[str, list[str]]:
    """``{role: [field, ...]}``, and optionally ``"other_region_agency": [role]``: the one role
    (not agency or admin) whose fields an agency sees in another region's credentials."""
    if not isinstance(disclosure, dict):
        raise InvalidRequest("disclosure must map roles to field lists", field="disclosure")
    props = schema.get("properties", {})
    out = {}
    for role, fields in disclosure.items():
        if role == OTHER_REGION_AGENCY:
            if not (isinstance(fields, list) and len(fields) == 1 and fields[0] in OTHER_REGION_ROLES):
                raise InvalidRequest(f"disclosure {OTHER_REGION_AGENCY} must name one role whose fields an agency "
                                     f"of another region sees: [{' | '.join(OTHER_REGION_ROLES)}]",
                                     field="disclosure")
            out[role] = list(fields)
            continue
        if role not in KEY_ROLES:
            raise InvalidRequest(f"unknown role {role!r} in disclosure", field="disclosure")
        if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
            raise InvalidRequest(f"disclosure for {role} must be a list of field names", field="disclosure")
        unknown = [f for f in fields if f not in props]
        if unknown:
            raise InvalidRequest(f"disclosure for {role} names unknown fields {unknown}", field="disclosure")
        out[role] = fields
    return out


def parse_fields_json(text: str) -> dict[str, Any]:
    if len(text.encode()) > MAX_FIELDS_BYTES:
        raise InvalidRequest("fields are over 16 KiB", field="fields", key="field.TOO_BIG",
                             params={"max": MAX_FIELDS_BYTES})
    try:
        fields = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise InvalidRequest("fields are not JSON", field="fields", key="field.NOT_JSON") from err
    if not isinstance(fields, dict):
        raise InvalidRequest("fields must be a JSON object", field="fields", key="field.WRONG_TYPE",
                             params={"type": "object"})
    return fields


_REGION_RE = re.compile(r"[A-Z]{2}-[A-Z0-9]{1,3}")


def is_region_code(text: object) -> bool:
    """Whether ``text`` is an ISO 3166-2 subdivision code such as ``CN-ZJ``."""
    return isinstance(text, str) and _REGION_RE.fullmatch(text) is not None


def check_region_code(code: str, field: str = "region") -> str:
    """An ISO 3166-2 subdivision code such as ``CN-ZJ``."""
    if not is_region_code(code):
        raise InvalidRequest("region must be an ISO 3166-2 code such as CN-ZJ", field=field, key="field.REGION_FORMAT")
    return code


_ENDPOINT_RE = re.compile(r"[A-Za-z0-9.\-]{1,253}:[0-9]{1,5}|\[[0-9A-Fa-f:.]{2,45}\]:[0-9]{1,5}")


def check_endpoint(endpoint: str) -> str:
    """An issuer's gRPC address, ``host:port`` (or empty: no issuer online)."""
    if endpoint and not _ENDPOINT_RE.fullmatch(endpoint):
        raise InvalidRequest("endpoint must be host:port", field="endpoint", key="field.ENDPOINT")
    return endpoint
