// A document's own validity and secondary dates, as its type's schema declares them
// (ecert/rules/document.py): `x-validity` {from, until, open_end} decides EXPIRED / NOT_YET_VALID,
// `x-deadlines` [{field, code}] gives warnings on a VALID answer. Dates are calendar days in China
// Standard Time (UTC+8): ISO date text compares as text against `chinaDay(now)`. The members are
// checked as the Python reader checks them (`x-consistency` too, which only issuance applies), so a
// trust list the Python verifier refuses is refused here.

export const CST_OFFSET = 8 * 3600;
const DAY = 86400;

/** The calendar day of epoch second `now` in China Standard Time, as YYYY-MM-DD. */
export function chinaDay(now) {
  const days = Math.floor((now + CST_OFFSET) / DAY);
  return new Date(days * DAY * 1000).toISOString().slice(0, 10);
}

const CODE_RE = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$/;
const RULES = { "citizen-id-birth-date": ["id", "field"], "citizen-id-sex": ["id", "field"], "min-age": ["birth", "at", "years"] };
const SEXES = ["男", "女"];

class SchemaMalformed extends Error {
  constructor(message) {
    super(`schema ${message}`);
    this.code = "SCHEMA_MALFORMED";
  }
}

const isObj = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

function dateValues(prop) {
  // the non-date texts a date property also allows, or null when it is no date property
  if (!isObj(prop)) return null;
  if (prop.format === "date" && (prop.type === undefined ? "string" : prop.type) === "string") return new Set();
  for (const key of ["anyOf", "oneOf"]) {
    const branches = prop[key];
    if (!Array.isArray(branches) || branches.length === 0) continue;
    const consts = new Set();
    let dated = false;
    for (const b of branches) {
      if (isObj(b) && b.format === "date" && (b.type === undefined ? "string" : b.type) === "string") dated = true;
      else if (isObj(b) && typeof b.const === "string" && Object.keys(b).every((k) => ["const", "title", "description"].includes(k))) consts.add(b.const);
      else return null;
    }
    return dated ? consts : null;
  }
  return null;
}

function members(obj, where, required, optional = []) {
  if (!isObj(obj)) throw new SchemaMalformed(`${where} must be a JSON object`);
  for (const k of Object.keys(obj)) {
    if (!required.includes(k) && !optional.includes(k)) throw new SchemaMalformed(`${where} has an unknown member`);
  }
  for (const m of required) if (!Object.hasOwn(obj, m)) throw new SchemaMalformed(`${where} needs member ${m}`);
  return obj;
}

function fieldName(props, where, name) {
  if (typeof name !== "string" || !Object.hasOwn(props, name)) throw new SchemaMalformed(`${where} names an unknown field`);
  return name;
}

function dateField(props, where, name, never) {
  name = fieldName(props, where, name);
  const values = dateValues(props[name]);
  if (values === null) throw new SchemaMalformed(`${where} names field ${name}, which is not a date`);
  for (const v of values) never.add(v);
  return name;
}

function consistencyRule(props, where, entry) {
  const rule = isObj(entry) ? entry.rule : undefined;
  if (typeof rule !== "string" || !Object.hasOwn(RULES, rule)) throw new SchemaMalformed(`${where} rule is unknown`);
  const e = members(entry, where, ["rule", ...RULES[rule]]);
  if (rule === "min-age") {
    const birth = dateField(props, `${where} birth`, e.birth, new Set());
    const at = dateField(props, `${where} at`, e.at, new Set());
    if (typeof e.years !== "number" || !Number.isInteger(e.years) || e.years < 1 || e.years > 150) {
      throw new SchemaMalformed(`${where} years must be an integer from 1 to 150`);
    }
    if (birth === at) throw new SchemaMalformed(`${where} birth and at must be two fields`);
    return;
  }
  const id = fieldName(props, `${where} id`, e.id);
  if (!isObj(props[id]) || props[id].format !== "cn-citizen-id") throw new SchemaMalformed(`${where} id is no citizen id`);
  if (rule === "citizen-id-birth-date") {
    dateField(props, `${where} field`, e.field, new Set());
    return;
  }
  const field = fieldName(props, `${where} field`, e.field);
  const allowed = isObj(props[field]) ? props[field].enum : undefined;
  if (!Array.isArray(allowed) || !allowed.length || !allowed.every((a) => typeof a === "string" && SEXES.includes(a))) {
    throw new SchemaMalformed(`${where} field must be an enum of 男 / 女`);
  }
}

/** The document rules of a checked type schema; throws (SCHEMA_MALFORMED) as the Python reader does. */
export function parseDocumentRules(schema) {
  const props = isObj(schema) ? schema.properties : undefined;
  if (!isObj(props)) throw new SchemaMalformed("must describe an object with properties");
  const never = new Set();
  let validFrom = null;
  let validUntil = null;
  let openEnd = null;
  if (Object.hasOwn(schema, "x-validity")) {
    const v = members(schema["x-validity"], "x-validity", [], ["from", "until", "open_end"]);
    if (!Object.hasOwn(v, "from") && !Object.hasOwn(v, "until")) throw new SchemaMalformed("x-validity must name from or until");
    if (Object.hasOwn(v, "from")) validFrom = dateField(props, "x-validity from", v.from, never);
    let untilValues = new Set();
    if (Object.hasOwn(v, "until")) {
      validUntil = dateField(props, "x-validity until", v.until, untilValues);
      for (const x of untilValues) never.add(x);
    }
    if (validFrom !== null && validFrom === validUntil) throw new SchemaMalformed("x-validity from and until must be two fields");
    if (Object.hasOwn(v, "open_end")) {
      openEnd = v.open_end;
      if (validUntil === null) throw new SchemaMalformed("x-validity open_end needs an until field");
      if (typeof openEnd !== "string" || [...openEnd].length < 1 || [...openEnd].length > 32) {
        throw new SchemaMalformed("x-validity open_end must be text of 1 to 32 characters");
      }
      if (!untilValues.has(openEnd)) throw new SchemaMalformed("x-validity open_end is not a value the field allows");
    }
  }
  const deadlines = [];
  if (Object.hasOwn(schema, "x-deadlines")) {
    const entries = schema["x-deadlines"];
    if (!Array.isArray(entries)) throw new SchemaMalformed("x-deadlines must be a list");
    entries.forEach((entry, i) => {
      const where = `x-deadlines[${i}]`;
      const e = members(entry, where, ["field", "code"]);
      const name = dateField(props, where, e.field, never);
      if (typeof e.code !== "string" || [...e.code].length > 64 || !CODE_RE.test(e.code)) {
        throw new SchemaMalformed(`${where} code must be UPPER_SNAKE_CASE`);
      }
      if (name === validFrom || name === validUntil || deadlines.some(([f]) => f === name)) {
        throw new SchemaMalformed(`${where} names a field twice`);
      }
      deadlines.push([name, e.code]);
    });
  }
  if (Object.hasOwn(schema, "x-consistency")) {
    const entries = schema["x-consistency"];
    if (!Array.isArray(entries)) throw new SchemaMalformed("x-consistency must be a list of rules");
    entries.forEach((entry, i) => consistencyRule(props, `x-consistency[${i}]`, entry));
  }
  const pairs = Object.hasOwn(schema, "x-date-order") ? schema["x-date-order"] : [];
  if (!Array.isArray(pairs)) throw new SchemaMalformed("x-date-order must be a list of pairs");
  pairs.forEach((pair, i) => {
    const where = `x-date-order[${i}]`;
    if (!Array.isArray(pair) || pair.length !== 2) throw new SchemaMalformed(`${where} must be a pair of field names`);
    const a = fieldName(props, where, pair[0]);
    const b = fieldName(props, where, pair[1]);
    if (a === b) throw new SchemaMalformed(`${where} must name two fields`);
  });
  if (openEnd !== null) never.add(openEnd);
  return new DocumentRules(validFrom, validUntil, deadlines, never);
}

export class DocumentRules {
  constructor(validFrom, validUntil, deadlines, never) {
    this.validFrom = validFrom;
    this.validUntil = validUntil;
    this.deadlines = deadlines;
    this.never = never;
  }

  /** null inside the main validity on `today`; else {outcome, detail, document: {field, date}}. */
  check(fields, today) {
    let name = this.validUntil;
    if (name !== null) {
      const v = fields[name];
      if (typeof v === "string" && v < today && !this.never.has(v)) {
        return { outcome: "EXPIRED", detail: `the document's ${name} (${v}) has passed`, document: { field: name, date: v } };
      }
    }
    name = this.validFrom;
    if (name !== null) {
      const v = fields[name];
      if (typeof v === "string" && v > today && !this.never.has(v)) {
        return { outcome: "NOT_YET_VALID", detail: `the document's ${name} (${v}) has not come yet`, document: { field: name, date: v } };
      }
    }
    return null;
  }

  /** The secondary dates lapsed by `today`: [{code, field, since}], in x-deadlines order. */
  warnings(fields, today) {
    const out = [];
    for (const [name, code] of this.deadlines) {
      const v = fields[name];
      if (typeof v === "string" && v < today && !this.never.has(v)) out.push({ code, field: name, since: v });
    }
    return out;
  }
}
