"""A compiler from a JSON Schema subset to plain Python closures.

Verification checks every credential's fields against its type's schema; the
general ``jsonschema`` validator costs more than the signature check itself. The
catalogue's schemas use a small, flat subset of draft 2020-12, which compiles
to a handful of closures answering the same yes/no far faster. A schema using
any keyword outside the subset is not compiled (:func:`compile_schema` returns
None) and the caller falls back to ``jsonschema``; a differential test keeps the
two in agreement.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

Check = Callable[[Any], bool]

# Keywords that never affect validity.
_ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "title", "description", "examples", "default",
                          "contentEncoding", "contentMediaType", "deprecated", "readOnly", "writeOnly"})
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


class Unsupported(Exception):
    """The schema uses something outside the compiled subset."""


def _is_date(s: str) -> bool:
    if not _DATE_RE.fullmatch(s):
        return False
    try:
        date.fromisoformat(s)
    except ValueError:
        return False
    return True


_BUILTIN_FORMATS: dict[str, Callable[[str], bool]] = {"date": _is_date}

_TYPES: dict[str, Check] = {
    "string": lambda v: type(v) is str,
    "integer": lambda v: type(v) is int or (type(v) is float and v.is_integer()),
    "number": lambda v: type(v) in (int, float),
    "boolean": lambda v: type(v) is bool,
    "null": lambda v: v is None,
    "object": lambda v: isinstance(v, Mapping),
    "array": lambda v: isinstance(v, list),
}


def _json_equal(a: Any, b: Any) -> bool:
    """JSON equality: booleans are not numbers; 1 == 1.0."""
    if (type(a) is bool) != (type(b) is bool):
        return False
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b or (type(a) in (int, float) and type(b) in (int, float) and a == b)


def _compile(schema: Any, formats: Mapping[str, Callable[[str], bool]]) -> Check:
    if schema is True:
        return lambda v: True
    if schema is False:
        return lambda v: False
    if not isinstance(schema, Mapping):
        raise Unsupported("schema must be an object or a boolean")
    checks: list[Check] = []
    for key, value in schema.items():
        if key in _ANNOTATIONS or (key.startswith("x-") and key != "x-date-order"):
            continue
        checks.append(_keyword(key, value, schema, formats))
    if not checks:
        return lambda v: True
    if len(checks) == 1:
        return checks[0]
    checks_t = tuple(checks)
    return lambda v: all(c(v) for c in checks_t)


def _keyword(key: str, value: Any, schema: Mapping, formats) -> Check:  # noqa: C901 - a flat dispatch
    if key == "type":
        names = [value] if isinstance(value, str) else list(value)
        tests = tuple(_TYPES[n] for n in names)
        return tests[0] if len(tests) == 1 else (lambda v: any(t(v) for t in tests))
    if key == "enum":
        options = list(value)
        return lambda v: any(_json_equal(v, o) for o in options)
    if key == "const":
        return lambda v: _json_equal(v, value)
    if key in ("maxLength", "minLength"):
        n = int(value)
        if key == "maxLength":
            return lambda v: type(v) is not str or len(v) <= n
        return lambda v: type(v) is not str or len(v) >= n
    if key == "pattern":
        search = re.compile(value).search
        return lambda v: type(v) is not str or search(v) is not None
    if key == "format":
        test = formats.get(value) or _BUILTIN_FORMATS.get(value)
        if test is None:
            return lambda v: True  # unknown formats are annotations, as in jsonschema
        return lambda v: type(v) is not str or test(v)
    if key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        bound = value
        number = _TYPES["number"]
        op = {"minimum": lambda v: v >= bound, "maximum": lambda v: v <= bound,
              "exclusiveMinimum": lambda v: v > bound, "exclusiveMaximum": lambda v: v < bound}[key]
        return lambda v: not number(v) or op(v)
    if key in ("anyOf", "oneOf", "allOf"):
        subs = tuple(_compile(s, formats) for s in value)
        if key == "anyOf":
            return lambda v: any(s(v) for s in subs)
        if key == "allOf":
            return lambda v: all(s(v) for s in subs)
        return lambda v: sum(1 for s in subs if s(v)) == 1
    if key == "not":
        sub = _compile(value, formats)
        return lambda v: not sub(v)
    if key == "required":
        names = tuple(value)
        return lambda v: not isinstance(v, Mapping) or all(n in v for n in names)
    if key == "properties":
        props = {name: _compile(s, formats) for name, s in value.items()}
        return lambda v: not isinstance(v, Mapping) or all(props[k](x) for k, x in v.items() if k in props)
    if key == "additionalProperties":
        if "patternProperties" in schema:
            raise Unsupported("patternProperties")
        known = frozenset(schema.get("properties", {}))
        sub = _compile(value, formats)
        return lambda v: not isinstance(v, Mapping) or all(sub(x) for k, x in v.items() if k not in known)
    if key in ("maxProperties", "minProperties"):
        n = int(value)
        if key == "maxProperties":
            return lambda v: not isinstance(v, Mapping) or len(v) <= n
        return lambda v: not isinstance(v, Mapping) or len(v) >= n
    if key == "x-date-order":
        pairs = tuple((a, b) for a, b in value)

        def ordered(v: Any) -> bool:
            if not isinstance(v, Mapping):
                return True
            for a, b in pairs:
                x, y = v.get(a), v.get(b)
                if (type(x) is str and type(y) is str and y < x and _DATE_RE.fullmatch(x)
                        and _DATE_RE.fullmatch(y)):
                    return False
            return True

        return ordered
    raise Unsupported(key)


def compile_schema(schema: Any, formats: Mapping[str, Callable[[str], bool]] | None = None) -> Check | None:
    """A fast validity check for ``schema``, or None if it uses keywords outside the subset."""
    try:
        return _compile(schema, formats or {})
    except (Unsupported, KeyError, TypeError, ValueError, re.error):
        return None
