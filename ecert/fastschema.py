"""A compiler from a JSON Schema subset to generated Python functions.

Verification checks every credential's fields against its type's schema, and the
general ``jsonschema`` validator costs more than the signature check itself.
Credential schemas are flat: an object whose properties are text, integers or
booleans constrained by a small set of keywords. Such a schema compiles to one
generated function per property (an ``and`` chain of tests) plus one for the
object, answering the same yes/no far faster. A schema using anything outside
the subset is not compiled (:func:`compile_schema` returns None) and callers
fall back to ``jsonschema``; a differential test keeps the two in agreement.

Only constants chosen by the compiler appear in the generated source; every
value taken from a schema (patterns, strings, numbers, names) is passed in
through the function's namespace, never pasted into code.
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


def _json_equal(a: Any, b: Any) -> bool:
    """JSON equality: booleans are not numbers; 1 == 1.0."""
    if (type(a) is bool) != (type(b) is bool):
        return False
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if type(a) in (int, float) and type(b) in (int, float):
        return a == b
    return type(a) is type(b) and a == b


def _json_in(v: Any, options: tuple) -> bool:
    return any(_json_equal(v, o) for o in options)


_TYPE_TESTS = {
    "string": "type(x) is str",
    "integer": "(type(x) is int or (type(x) is float and x.is_integer()))",
    "number": "type(x) in _NUM",
    "boolean": "type(x) is bool",
    "null": "x is None",
    "object": "isinstance(x, _Mapping)",
    "array": "type(x) is list",
}


class _Gen:
    def __init__(self, formats: Mapping[str, Callable[[str], bool]]):
        self.formats = formats
        self.ns: dict[str, Any] = {"_NUM": (int, float), "_Mapping": Mapping, "_json_equal": _json_equal,
                                   "_json_in": _json_in, "_DATE": _DATE_RE.fullmatch}

    def const(self, value: Any) -> str:
        name = f"_c{len(self.ns)}"
        self.ns[name] = value
        return name

    def expr(self, schema: Any) -> str:
        """A boolean expression over ``x`` for a property schema."""
        if schema is True:
            return "True"
        if schema is False:
            return "False"
        if not isinstance(schema, Mapping):
            raise Unsupported("schema must be an object or a boolean")
        t = schema.get("type")
        only_string = t == "string"
        parts: list[str] = []

        def when_string(test: str) -> str:
            return test if only_string else f"(type(x) is not str or {test})"

        for key, value in schema.items():
            if key in _ANNOTATIONS or key.startswith("x-"):
                continue
            if key == "type":
                names = [value] if isinstance(value, str) else list(value)
                parts.append("(" + " or ".join(_TYPE_TESTS[n] for n in names) + ")")
            elif key == "maxLength":
                parts.append(when_string(f"len(x) <= {int(value)}"))
            elif key == "minLength":
                parts.append(when_string(f"len(x) >= {int(value)}"))
            elif key == "pattern":
                parts.append(when_string(f"{self.const(re.compile(value).search)}(x) is not None"))
            elif key == "format":
                test = self.formats.get(value) or ({"date": _is_date}.get(value))
                if test is not None:  # unknown formats are annotations, as in jsonschema
                    parts.append(when_string(f"{self.const(test)}(x)"))
            elif key == "enum":
                options = tuple(value)
                if all(type(o) is str for o in options):
                    parts.append(f"(type(x) is str and x in {self.const(frozenset(options))})")
                else:
                    parts.append(f"_json_in(x, {self.const(options)})")
            elif key == "const":
                if type(value) is str:
                    parts.append(f"(type(x) is str and x == {self.const(value)})")
                else:
                    parts.append(f"_json_equal(x, {self.const(value)})")
            elif key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
                if type(value) not in (int, float):
                    raise Unsupported(f"{key} must be a number")
                op = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}[key]
                parts.append(f"(type(x) not in _NUM or x {op} {self.const(value)})")
            elif key in ("anyOf", "oneOf", "allOf"):
                subs = [f"({self.expr(s)})" for s in value]
                if not subs:
                    raise Unsupported(f"empty {key}")
                if key == "anyOf":
                    parts.append("(" + " or ".join(subs) + ")")
                elif key == "allOf":
                    parts.append("(" + " and ".join(subs) + ")")
                else:
                    parts.append("((" + ") + (".join(subs) + ") == 1)")
            elif key == "not":
                parts.append(f"(not ({self.expr(value)}))")
            else:
                raise Unsupported(key)
        return " and ".join(parts) or "True"

    def function(self, expr: str) -> Check:
        name = f"_f{len(self.ns)}"
        exec(f"def {name}(x):\n    return {expr}\n", self.ns)  # noqa: S102 - source built from fixed fragments
        return self.ns[name]


def _compile_object(schema: Mapping, formats: Mapping[str, Callable[[str], bool]]) -> Check:
    allowed = {"type", "properties", "required", "additionalProperties", "x-date-order"}
    for key in schema:
        if key not in allowed and key not in _ANNOTATIONS and not key.startswith("x-"):
            raise Unsupported(key)
    if schema.get("type") != "object":
        raise Unsupported("the top level must be an object")
    gen = _Gen(formats)
    props = {name: gen.function(gen.expr(s)) for name, s in schema.get("properties", {}).items()}
    extra = schema.get("additionalProperties", True)
    extra_check = None if extra is False else gen.function(gen.expr(extra))
    required = frozenset(schema.get("required", ()))
    pairs = tuple((a, b) for a, b in schema.get("x-date-order", ()))
    date_match = _DATE_RE.fullmatch

    def check(v: Any) -> bool:
        if not isinstance(v, Mapping):
            return False
        if not required <= v.keys():
            return False
        for k, x in v.items():
            f = props.get(k)
            if f is None:
                if extra_check is None or not extra_check(x):
                    return False
            elif not f(x):
                return False
        for a, b in pairs:
            x, y = v.get(a), v.get(b)
            if type(x) is str and type(y) is str and y < x and date_match(x) and date_match(y):
                return False
        return True

    return check


def compile_schema(schema: Any, formats: Mapping[str, Callable[[str], bool]] | None = None) -> Check | None:
    """A fast validity check for a flat object ``schema``, or None if it is outside the subset."""
    try:
        if isinstance(schema, Mapping) and schema.get("type") == "object":
            return _compile_object(schema, formats or {})
        gen = _Gen(formats or {})
        return gen.function(gen.expr(schema))
    except (Unsupported, KeyError, TypeError, ValueError, re.error, SyntaxError, RecursionError):
        return None
