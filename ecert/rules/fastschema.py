"""A compiler from a JSON Schema subset to generated Python functions.

Verification checks every credential's fields against its type's schema, and the
general ``jsonschema`` validator costs more than the signature check itself.
Credential schemas are flat: an object whose properties are text, integers or
booleans constrained by a small set of keywords. Such a schema compiles to a
single generated function: required and allowed names are settled by two set
comparisons on the keys, then each property's test (an ``and`` chain) is inlined
on the value fetched for it, then the ``x-date-order`` pairs are compared; there
is no call or dispatch per property. It answers the same yes/no far faster. A
schema using anything outside the subset is not compiled (:func:`compile_schema`
returns None) and callers fall back to ``jsonschema``; a differential test keeps
the two in agreement.

Only constants chosen by the compiler appear in the generated source; every
value taken from a schema (property names, patterns, strings, numbers) is passed
in through the function's namespace as ``_c<n>``, never pasted into code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

Check = Callable[[Any], bool]
_MISSING: Any = object()  # generated code: "property absent", distinct from every value

# Keywords that never affect validity.
_ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "title", "description", "examples", "default",
                          "contentEncoding", "contentMediaType", "deprecated", "readOnly", "writeOnly"})
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


class Unsupported(Exception):
    """The schema uses something outside the compiled subset."""


_fromisoformat = date.fromisoformat


def _is_date_py(s: str) -> bool:
    """``format: date`` as jsonschema checks it: ``YYYY-MM-DD`` in ASCII digits, a real date.

    jsonschema matches a regex and then calls ``date.fromisoformat``. A regex call
    costs more than the parse, so here a plain shape test (length, ASCII, the two
    dashes) comes first and the digits are left to ``fromisoformat``, which takes
    only ``0``-``9`` at the other eight positions of such a string (a test checks
    every ASCII character at every position against the regex).
    """
    if len(s) != 10 or s[4] != "-" or s[7] != "-" or not s.isascii():
        return False
    try:
        _fromisoformat(s)
    except ValueError:
        return False
    return True


try:
    from ..format._fast import (
        is_date as _is_date,  # every credential has several dates: the C check is 5x faster
    )
except ImportError:  # the optional C extension was not built: same answers
    _is_date = _is_date_py


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
    """Builds boolean expressions over ``x`` and the namespace they run in."""

    def __init__(self, formats: Mapping[str, Callable[[str], bool]]):
        self.formats = formats
        self.ns: dict[str, Any] = {"_NUM": (int, float), "_Mapping": Mapping, "_json_equal": _json_equal,
                                   "_json_in": _json_in, "_DATE": _DATE_RE.fullmatch, "_MISSING": _MISSING}

    def const(self, value: Any) -> str:
        """The namespace name under which generated code reads ``value``."""
        name = f"_c{len(self.ns)}"
        self.ns[name] = value
        return name

    def length(self, value: Any) -> str:
        """A ``minLength``/``maxLength`` bound; the meta-schema wants a non-negative integer."""
        if type(value) is int or (type(value) is float and value.is_integer()):
            return self.const(value)
        raise Unsupported("string length bounds must be integers")

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

        if "type" in schema:  # first, so that tests relying on only_string never see a non-string
            names = [t] if isinstance(t, str) else list(t)
            parts.append("(" + " or ".join(_TYPE_TESTS[n] for n in names) + ")")
        for key, value in schema.items():
            if key in _ANNOTATIONS or key.startswith("x-") or key == "type":
                continue
            if key == "maxLength":
                parts.append(when_string(f"len(x) <= {self.length(value)}"))
            elif key == "minLength":
                parts.append(when_string(f"len(x) >= {self.length(value)}"))
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
            elif key in _BOUNDS:
                if type(value) not in (int, float):
                    raise Unsupported(f"{key} must be a number")
                # The comparison jsonschema makes, negated: the same answer even for NaN.
                parts.append(f"(type(x) not in _NUM or not x {_BOUNDS[key]} {self.const(value)})")
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


# What jsonschema rejects for each bound: ``instance < minimum`` and so on.
_BOUNDS = {"minimum": "<", "maximum": ">", "exclusiveMinimum": "<=", "exclusiveMaximum": ">="}
_OBJECT_KEYWORDS = frozenset({"type", "properties", "required", "additionalProperties", "x-date-order"})


def _strings(value: Any, what: str) -> list[str]:
    if not isinstance(value, (list, tuple)) or not all(type(s) is str for s in value):
        raise Unsupported(f"{what} must be a list of strings")
    return list(value)


def _object_source(schema: Mapping, gen: _Gen) -> str:
    """Source of ``_check(v)``: the whole object check as one function.

    Every property's expression is inlined (no call or dict lookup per property),
    presence is settled with two set comparisons on ``v.keys()``, and property
    names reach the code only as namespace constants.
    """
    for key in schema:
        if key not in _OBJECT_KEYWORDS and key not in _ANNOTATIONS and not key.startswith("x-"):
            raise Unsupported(key)
    if schema.get("type") != "object":
        raise Unsupported("the top level must be an object")
    props = schema.get("properties", {})
    if not isinstance(props, Mapping) or not all(type(k) is str for k in props):
        raise Unsupported("properties must be an object")
    required = frozenset(_strings(schema.get("required", []), "required"))
    pairs = [_strings(pair, "an x-date-order pair") for pair in schema.get("x-date-order", [])]
    if not all(len(pair) == 2 for pair in pairs):
        raise Unsupported("x-date-order pairs must have two names")

    lines = ["def _check(v):",
             "    if type(v) is not dict and not isinstance(v, _Mapping):",
             "        return False",
             "    keys = v.keys()"]
    if required:
        lines += [f"    if not {gen.const(required)} <= keys:", "        return False"]
    extra = gen.expr(schema.get("additionalProperties", True))
    if extra == "False":
        lines += [f"    if not keys <= {gen.const(frozenset(props))}:", "        return False"]
    elif extra != "True":
        lines += ["    for k, x in v.items():",
                  f"        if k not in {gen.const(frozenset(props))} and not ({extra}):",
                  "            return False"]
    fetched: dict[str, str] = {}  # property name -> local holding its value (or _MISSING)
    for name, sub in props.items():
        test = gen.expr(sub)
        if test == "True":
            continue
        local = fetched[name] = f"p{len(fetched)}"
        if name in required:  # known present by now
            lines += [f"    x = {local} = v[{gen.const(name)}]", f"    if not ({test}):", "        return False"]
        else:
            lines += [f"    x = {local} = v.get({gen.const(name)}, _MISSING)",
                      f"    if x is not _MISSING and not ({test}):", "        return False"]
    for earlier, later in pairs:
        # A fetched value is reused; _MISSING, like the None of v.get, is not a str.
        a = fetched.get(earlier) or f"v.get({gen.const(earlier)})"
        b = fetched.get(later) or f"v.get({gen.const(later)})"
        lines += [f"    a, b = {a}, {b}",
                  "    if type(a) is str and type(b) is str and b < a and _DATE(a) and _DATE(b):",
                  "        return False"]
    lines.append("    return True")
    return "\n".join(lines) + "\n"


def _source(schema: Any, gen: _Gen) -> str:
    """Source of ``_check``, the generated function for ``schema``."""
    if isinstance(schema, Mapping) and schema.get("type") == "object":
        return _object_source(schema, gen)
    return f"def _check(x):\n    return {gen.expr(schema)}\n"


def compile_schema(schema: Any, formats: Mapping[str, Callable[[str], bool]] | None = None) -> Check | None:
    """A fast validity check for a flat object ``schema``, or None if it is outside the subset.

    ``formats`` maps format names to checks; they are only ever called on ``str``.
    """
    gen = _Gen(formats or {})
    try:
        source = _source(schema, gen)
        exec(source, gen.ns)  # noqa: S102 - source built from fixed fragments and namespace names
    except (Unsupported, KeyError, TypeError, ValueError, re.error, SyntaxError, RecursionError):
        return None
    return gen.ns["_check"]
