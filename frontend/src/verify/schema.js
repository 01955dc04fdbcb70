// Certificate-type schemas as the trust list carries them (ecert/rules/schema.py, fastschema.py):
// parsed and checked once, compiled to a validity check of the fields' JSON form (byte strings as
// lower-case hex), with the type's disclosure, x-identify lists, document rules and display ids.
//
// The check interprets JSON Schema draft 2020-12 for what a credential's fields can be (an object
// of text, integers and booleans), with the formats asserted: date, email and the cn-* formats,
// and the keyword x-date-order. A schema using something whose meaning here could differ from the
// Python verifier's (remote or anchor $refs, unevaluatedProperties, $dynamicRef, a format checked
// by a library, a pattern Python reads otherwise) is not checked offline: `offline` is false and a
// credential of that type answers "needs a connection".
import { parseDocumentRules } from "./document.js";
import { displayId, issuerCode, STRING_FORMAT_CHECKS } from "./identifiers.js";
import { compilePattern } from "./regex.js";
import { setOwn } from "./bytes.js";

export const KEY_ROLES = ["admin", "agency", "hotel", "traffic_police", "integrator"];
export const OTHER_REGION_AGENCY = "other_region_agency";
const OTHER_REGION_ROLES = ["hotel", "traffic_police", "integrator"];
const FIELD_TYPES = new Set(["string", "integer", "boolean"]);
const MAX_SCHEMA_BYTES = 64 * 1024;
const CODE_RE = /^[0-9A-Z]{1,24}$/;

export class SchemaError extends Error {
  constructor(message) {
    super(message);
    this.code = "SCHEMA_MALFORMED";
  }
}

class Unsupported extends Error {}

const isObj = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

function wellFormed(value) {
  if (typeof value === "string") return value.isWellFormed();
  if (Array.isArray(value)) return value.every(wellFormed);
  if (isObj(value)) return Object.entries(value).every(([k, v]) => k.isWellFormed() && wellFormed(v));
  return true;
}

function fieldTypes(prop, found = new Set()) {
  if (!isObj(prop)) return found;
  const t = prop.type;
  if (typeof t === "string") found.add(t);
  else if (Array.isArray(t)) t.forEach((x) => found.add(x));
  for (const key of ["anyOf", "oneOf", "allOf"]) {
    if (Array.isArray(prop[key])) prop[key].forEach((sub) => fieldTypes(sub, found));
  }
  return found;
}

/** JSON Schema text to the schema object, checked as ecert/rules/schema.py `parse_schema` checks it. */
export function parseSchema(text) {
  if (typeof text !== "string" || new TextEncoder().encode(text).length > MAX_SCHEMA_BYTES) {
    throw new SchemaError("schema must be JSON text of at most 64 KiB");
  }
  let schema;
  try {
    schema = JSON.parse(text);
  } catch {
    throw new SchemaError("schema is not JSON");
  }
  if (!wellFormed(schema)) throw new SchemaError("schema holds a lone surrogate");
  if (!isObj(schema)) throw new SchemaError("schema must be a JSON object");
  if (schema.type !== "object" || !isObj(schema.properties)) throw new SchemaError("schema must describe an object with properties");
  for (const prop of Object.values(schema.properties)) {
    for (const t of fieldTypes(prop)) {
      if (!FIELD_TYPES.has(t)) throw new SchemaError("a credential field cannot be of that type");
    }
  }
  return schema;
}

// -------------------------------------------------------------------------- the validity check

function jsonType(x) {
  if (x === null) return "null";
  if (typeof x === "string") return "string";
  if (typeof x === "boolean") return "boolean";
  if (typeof x === "bigint") return "integer";
  if (typeof x === "number") return Number.isInteger(x) ? "integer" : "number";
  if (Array.isArray(x)) return "array";
  return "object";
}

const isNum = (x) => typeof x === "number" || typeof x === "bigint";

function jsonEqual(a, b) {
  if ((typeof a === "boolean") !== (typeof b === "boolean")) return false;
  if (isNum(a) && isNum(b)) return a == b; // eslint-disable-line eqeqeq -- 1 == 1n == 1.0, as in JSON
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  if (isObj(a) && isObj(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
  }
  return a === b;
}

function codePoints(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdbff || i + 1 >= s.length) n++;
    else {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
      n++;
    }
  }
  return n;
}

function isDateText(s) {
  if (s.length !== 10 || s[4] !== "-" || s[7] !== "-") return false;
  if (!/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/.test(s)) return false;
  const y = Number(s.slice(0, 4));
  const m = Number(s.slice(5, 7));
  const d = Number(s.slice(8, 10));
  if (y < 1 || m < 1 || m > 12 || d < 1) return false;
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1];
  return d <= days;
}

const FORMATS = { ...STRING_FORMAT_CHECKS, date: isDateText, email: (s) => s.includes("@"), "idn-email": (s) => s.includes("@") };
// Formats the Python verifier checks with a library: not checked offline.
const LIBRARY_FORMATS = new Set(["date-time", "time", "ipv4", "ipv6", "regex", "uuid", "idn-hostname", "hostname",
  "uri", "uri-reference", "iri", "iri-reference", "uri-template", "json-pointer", "relative-json-pointer", "duration"]);
const DATE_RE = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/;
const UNSUPPORTED_KEYWORDS = new Set(["unevaluatedProperties", "unevaluatedItems", "$dynamicRef", "$recursiveRef"]);

/** A compiled check `(x) => boolean` of `schema` (root `root`), or throws Unsupported. */
function compile(schema, root, seen = new Map()) {
  if (schema === true) return () => true;
  if (schema === false) return () => false;
  if (!isObj(schema)) throw new Unsupported("schema must be an object or a boolean");
  if (seen.has(schema)) return (x) => seen.get(schema)(x);
  const tests = [];
  const self = (x) => tests.every((t) => t(x));
  seen.set(schema, self);
  const sub = (s) => compile(s, root, seen);
  const strings = (t) => (x) => typeof x !== "string" || t(x);
  const numbers = (t) => (x) => !isNum(x) || t(x);
  const objects = (t) => (x) => !isObj(x) || t(x);
  for (const [key, value] of Object.entries(schema)) {
    if (UNSUPPORTED_KEYWORDS.has(key)) throw new Unsupported(key);
    switch (key) {
      case "type": {
        const names = Array.isArray(value) ? value : [value];
        tests.push((x) => {
          const t = jsonType(x);
          return names.some((n) => n === t || (n === "number" && t === "integer"));
        });
        break;
      }
      case "enum":
        if (!Array.isArray(value)) throw new Unsupported("enum");
        tests.push((x) => value.some((o) => jsonEqual(x, o)));
        break;
      case "const":
        tests.push((x) => jsonEqual(x, value));
        break;
      case "minLength":
        tests.push(strings((x) => codePoints(x) >= value));
        break;
      case "maxLength":
        tests.push(strings((x) => codePoints(x) <= value));
        break;
      case "pattern": {
        const search = compilePattern(value);
        if (search === null) throw new Unsupported("pattern");
        tests.push(strings(search));
        break;
      }
      case "format": {
        if (LIBRARY_FORMATS.has(value)) throw new Unsupported(`format ${value}`);
        const check = Object.hasOwn(FORMATS, value) ? FORMATS[value] : null;
        if (check) tests.push(strings(check));
        break;
      }
      case "minimum":
        tests.push(numbers((x) => !(x < value)));
        break;
      case "maximum":
        tests.push(numbers((x) => !(x > value)));
        break;
      case "exclusiveMinimum":
        tests.push(numbers((x) => !(x <= value)));
        break;
      case "exclusiveMaximum":
        tests.push(numbers((x) => !(x >= value)));
        break;
      case "multipleOf":
        if (!Number.isInteger(value)) throw new Unsupported("multipleOf");
        tests.push(numbers((x) => BigInt(x) % BigInt(value) === 0n));
        break;
      case "allOf": case "anyOf": case "oneOf": {
        if (!Array.isArray(value) || !value.length) throw new Unsupported(key);
        const subs = value.map(sub);
        if (key === "allOf") tests.push((x) => subs.every((t) => t(x)));
        else if (key === "anyOf") tests.push((x) => subs.some((t) => t(x)));
        else tests.push((x) => subs.filter((t) => t(x)).length === 1);
        break;
      }
      case "not": {
        const t = sub(value);
        tests.push((x) => !t(x));
        break;
      }
      case "if": {
        const cond = sub(value);
        const then = Object.hasOwn(schema, "then") ? sub(schema.then) : () => true;
        const other = Object.hasOwn(schema, "else") ? sub(schema.else) : () => true;
        tests.push((x) => (cond(x) ? then(x) : other(x)));
        break;
      }
      case "$ref": {
        if (typeof value !== "string" || !(value === "#" || value.startsWith("#/"))) throw new Unsupported("$ref");
        let target = root;
        for (const part of value.slice(2).split("/").filter((p, i, all) => value !== "#" || all.length > 1)) {
          const name = decodeURIComponent(part).replace(/~1/g, "/").replace(/~0/g, "~");
          if (target === null || typeof target !== "object" || !Object.hasOwn(target, name)) throw new Unsupported("$ref");
          target = target[name];
        }
        tests.push((x) => compile(target, root, seen)(x));
        break;
      }
      case "required":
        if (!Array.isArray(value)) throw new Unsupported("required");
        tests.push(objects((x) => value.every((k) => Object.hasOwn(x, k))));
        break;
      case "properties": {
        if (!isObj(value)) throw new Unsupported("properties");
        const props = Object.entries(value).map(([k, s]) => [k, sub(s)]);
        tests.push(objects((x) => props.every(([k, t]) => !Object.hasOwn(x, k) || t(x[k]))));
        break;
      }
      case "patternProperties": {
        if (!isObj(value)) throw new Unsupported("patternProperties");
        const pats = Object.entries(value).map(([p, s]) => {
          const search = compilePattern(p);
          if (search === null) throw new Unsupported("patternProperties");
          return [search, sub(s)];
        });
        tests.push(objects((x) => Object.keys(x).every((k) => pats.every(([m, t]) => !m(k) || t(x[k])))));
        break;
      }
      case "additionalProperties": {
        const t = sub(value);
        const named = isObj(schema.properties) ? schema.properties : {};
        const pats = isObj(schema.patternProperties) ? Object.keys(schema.patternProperties).map(compilePattern) : [];
        if (pats.includes(null)) throw new Unsupported("patternProperties");
        tests.push(objects((x) => Object.keys(x).every((k) => Object.hasOwn(named, k) || pats.some((m) => m(k)) || t(x[k]))));
        break;
      }
      case "propertyNames": {
        const t = sub(value);
        tests.push(objects((x) => Object.keys(x).every((k) => t(k))));
        break;
      }
      case "minProperties":
        tests.push(objects((x) => Object.keys(x).length >= value));
        break;
      case "maxProperties":
        tests.push(objects((x) => Object.keys(x).length <= value));
        break;
      case "dependentRequired":
        if (!isObj(value)) throw new Unsupported(key);
        tests.push(objects((x) => Object.entries(value).every(([k, req]) => !Object.hasOwn(x, k) || req.every((r) => Object.hasOwn(x, r)))));
        break;
      case "dependentSchemas": {
        if (!isObj(value)) throw new Unsupported(key);
        const deps = Object.entries(value).map(([k, s]) => [k, sub(s)]);
        tests.push(objects((x) => deps.every(([k, t]) => !Object.hasOwn(x, k) || t(x))));
        break;
      }
      case "x-date-order":
        if (!Array.isArray(value)) throw new Unsupported(key);
        tests.push(objects((x) => value.every(([earlier, later]) => {
          const a = x[earlier];
          const b = x[later];
          return !(typeof a === "string" && typeof b === "string" && Object.hasOwn(x, earlier) && Object.hasOwn(x, later)
            && DATE_RE.test(a) && DATE_RE.test(b) && b < a);
        })));
        break;
      default:
        break; // annotations, array keywords (no field is an array), then/else (with if), unknown keywords
    }
  }
  return self;
}

// -------------------------------------------------------------------------- the type

function disclosureViews(disclosure) {
  const views = new Map();
  for (const [role, fields] of Object.entries(disclosure)) if (role !== OTHER_REGION_AGENCY) views.set(role, fields);
  const named = disclosure[OTHER_REGION_AGENCY];
  if (Array.isArray(named) && named.length === 1 && OTHER_REGION_ROLES.includes(named[0])) {
    views.set(OTHER_REGION_AGENCY, views.get(named[0]) || []);
  }
  return views;
}

function parseIdentify(schema) {
  const identify = Object.hasOwn(schema, "x-identify") ? schema["x-identify"] : {};
  if (!isObj(identify)) throw new SchemaError("schema x-identify must map roles to field lists");
  const props = schema.properties;
  const out = new Map();
  for (const [role, names] of Object.entries(identify)) {
    if (!KEY_ROLES.includes(role)) throw new SchemaError("schema x-identify names an unknown role");
    if (!Array.isArray(names) || !names.every((f) => typeof f === "string")) throw new SchemaError("x-identify lists field names");
    if (!names.every((f) => Object.hasOwn(props, f))) throw new SchemaError("schema x-identify names an unknown field");
    if (new Set(names).size !== names.length) throw new SchemaError("schema x-identify names a field twice");
    out.set(role, names);
  }
  return out;
}

function identifyViews(identify, disclosure, views) {
  const out = new Map();
  for (const [role, names] of identify) {
    const seen = views.get(role) || [];
    out.set(role, names.filter((f) => seen.includes(f)));
  }
  const named = disclosure[OTHER_REGION_AGENCY];
  if (views.has(OTHER_REGION_AGENCY) && Array.isArray(named) && named.length) {
    const agency = views.get(OTHER_REGION_AGENCY);
    out.set(OTHER_REGION_AGENCY, (out.get(named[0]) || []).filter((f) => agency.includes(f)));
  }
  return out;
}

function pick(fields, names) {
  const out = {};
  for (const k of names) if (Object.hasOwn(fields, k)) setOwn(out, k, fields[k]);
  return out;
}

/** A certificate type of the trust list: id, version, name, checks and views. */
export class TypeSchema {
  constructor(id, version, name, schemaText, disclosure) {
    this.id = id;
    this.version = version;
    this.name = name;
    this.schema = parseSchema(schemaText);
    this.disclosure = {};
    for (const [role, fields] of Object.entries(disclosure)) {
      if (!Array.isArray(fields)) throw new SchemaError("disclosure must map roles to field lists");
      setOwn(this.disclosure, role, [...fields]);
    }
    this.views = disclosureViews(this.disclosure);
    this.document = parseDocumentRules(this.schema);
    this.identifyViews = identifyViews(parseIdentify(this.schema), this.disclosure, this.views);
    const code = this.schema["x-ecert-type-code"];
    this.typeCode = typeof code === "string" && CODE_RE.test(code) ? code : id.toUpperCase().replace(/[^0-9A-Z]/g, "").slice(0, 24);
    const props = this.schema.properties;
    this.bytesFields = new Set(Object.keys(props).filter((k) => isObj(props[k]) && props[k].contentEncoding === "base16"));
    try {
      this._check = compile(this.schema, this.schema);
      this.offline = true;
    } catch (err) {
      if (!(err instanceof Unsupported)) throw err;
      this._check = null;
      this.offline = false; // not checked offline: a credential of this type needs a connection
    }
  }

  isValid(fields) {
    return this._check(fields);
  }

  /** The fields `role` (or OTHER_REGION_AGENCY) may see of a VALID credential. */
  disclosed(role, fields) {
    return pick(fields, this.views.get(role) || []);
  }

  /** The fields `role` is shown of an authentic credential that is not current (x-identify). */
  identified(role, fields) {
    return pick(fields, this.identifyViews.get(role) || []);
  }

  /** The national-style display identifier, or null where none can be made (a version over 999). */
  displayId(region, credentialId) {
    try {
      return displayId(this.typeCode, issuerCode(region), credentialId, this.version);
    } catch {
      return null;
    }
  }
}
