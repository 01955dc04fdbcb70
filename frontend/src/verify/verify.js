// The verification recipe, EC1 text to the answer the gateway gives (ecert/rules/verify.py and
// services/verifier/domain.py, written as services/verifier/servicer.py and gateway/answers.py
// write it): the checks in the format contract's order, the first failure the answer, then the
// status, the recognition rules for the purpose, the warnings, and the fields the role may see.
import * as b45 from "./b45.js";
import { isInt, loads } from "./cbor.js";
import { CLAIM_IAT, CLAIM_ISS, parseClaims } from "./claims.js";
import { parseSign1 } from "./cose.js";
import { chinaDay } from "./document.js";
import { inflate, InflateError, TOO_LARGE } from "./zlib.js";
import { FormatError, Outcome } from "./outcomes.js";
import { OTHER_REGION_AGENCY } from "./schema.js";
import { parseShardUri, REVOKED, SUSPENDED } from "./statuslist.js";
import { ROLE_PURPOSES } from "./acceptance.js";
import { setOwn, toHex } from "./bytes.js";

export const PREFIX = "EC1:";
export const TOKEN_PREFIX = "EP1:";
export const MAX_TEXT = 4296;
export const MAX_COSE = 64 * 1024;
export const MAX_PAYLOAD_CHARS = 1024 * 1024;
export const DEFAULT_SKEW = 60;

const NOT_CURRENT = { REVOKED: "revoked by the issuer", SUSPENDED: "suspended by the issuer", EXPIRED: "expired",
  NOT_YET_VALID: "not yet valid" };
const IDENTIFYING = new Set(["REVOKED", "SUSPENDED", "EXPIRED", "NOT_YET_VALID", "NOT_ACCEPTED_FOR_PURPOSE"]);
const STALE = "status list unavailable or stale";

/** Thrown where the answer needs the gateway (a type whose schema cannot be checked here). */
class NeedsConnection extends Error {}

/** EC1 text to COSE_Sign1 bytes, with every size bound of the format contract. */
export function decodeText(text) {
  if (typeof text !== "string" || !text.startsWith(PREFIX)) {
    throw new FormatError(Outcome.PREFIX_UNKNOWN, "text does not start with a known prefix");
  }
  const body = text.slice(PREFIX.length);
  if (text.length > MAX_TEXT) {
    if (!b45.inAlphabet(body)) throw new FormatError(Outcome.BASE45_INVALID, "not valid Base45");
    throw new FormatError(Outcome.PAYLOAD_TOO_LARGE, `text is longer than ${MAX_TEXT} characters`);
  }
  let data;
  try {
    data = b45.decode(body);
  } catch (err) {
    throw new FormatError(Outcome.BASE45_INVALID, err.message);
  }
  try {
    return inflate(data, MAX_COSE);
  } catch (err) {
    if (err instanceof InflateError && err.kind === TOO_LARGE) {
      throw new FormatError(Outcome.PAYLOAD_TOO_LARGE, `decompressed COSE is over ${MAX_COSE} bytes`);
    }
    throw new FormatError(Outcome.DECOMPRESS_FAILED, err.message);
  }
}

function payloadMap(payload) {
  try {
    return loads(payload, Outcome.CLAIMS_MALFORMED);
  } catch {
    return null;
  }
}

async function verifiedKey(trust, kid, alg, signature, tbs, iss) {
  let candidates = trust.keysByKid.get(toHex(kid));
  if (!candidates || !candidates.length) throw new FormatError(Outcome.KID_UNKNOWN, `no key ${toHex(kid)} in trust list v${trust.version}`);
  if (candidates.length > 1 && iss !== null) {
    candidates = [...candidates.filter((k) => k.region === iss), ...candidates.filter((k) => k.region !== iss)];
  }
  let key = null;
  let algMatched = false;
  for (const k of candidates) {
    if (k.alg === alg) {
      algMatched = true;
      if (await k.public.verify(signature, tbs)) {
        key = k;
        break;
      }
    }
  }
  if (!algMatched) throw new FormatError(Outcome.ALG_NOT_ALLOWED, "algorithm does not match the key's registered one");
  if (key === null) throw new FormatError(Outcome.SIGNATURE_INVALID, "signature does not verify");
  if (key.status === "revoked") throw new FormatError(Outcome.KEY_REVOKED, `key ${toHex(key.kid)} of ${key.region} is revoked`);
  return key;
}

/** CBOR-form fields (a Map) to the JSON form: byte strings as lower-case hex. */
function jsonFields(d) {
  const out = {};
  for (const [k, v] of d) setOwn(out, k, v instanceof Uint8Array ? toHex(v) : v);
  return out;
}

function typedFields(trust, claims) {
  const ts = trust.type(claims.typeId, claims.typeVersion);
  if (!ts) throw new FormatError(Outcome.TYPE_UNKNOWN, `type ${claims.typeId} v${claims.typeVersion} is unknown`);
  for (const [name, value] of claims.fields) {
    if ((value instanceof Uint8Array) !== ts.bytesFields.has(name)) {
      throw new FormatError(Outcome.CLAIMS_MALFORMED, ts.bytesFields.has(name) ? `field ${name} must be a byte string`
        : `field ${name} must not be a byte string`);
    }
  }
  if (!ts.offline) throw new NeedsConnection(`the schema of ${claims.typeId} v${claims.typeVersion} is not checked offline`);
  const fields = jsonFields(claims.fields);
  if (!ts.isValid(fields)) throw new FormatError(Outcome.SCHEMA_INVALID, "fields do not satisfy the type's schema");
  return [ts, fields];
}

function times(claims, key, now, skew) {
  if (claims.iss !== key.region) throw new FormatError(Outcome.ISSUER_MISMATCH, `iss is not the key's region ${key.region}`);
  if ((claims.nbf !== null && now < claims.nbf) || claims.iat > now + skew) throw new FormatError(Outcome.NOT_YET_VALID, NOT_CURRENT.NOT_YET_VALID);
  if (now >= claims.exp) throw new FormatError(Outcome.EXPIRED, NOT_CURRENT.EXPIRED);
}

/** Every offline check up to the document's own validity: {outcome, detail, claims, key, type, fields, document}. */
export async function checkCredential(text, trust, now, skew = DEFAULT_SKEW) {
  const res = { outcome: Outcome.VALID, detail: "", claims: null, key: null, type: null, fields: null, document: null,
    status: "", statusChecked: false, statusAsOf: 0, warnings: [], purpose: "" };
  try {
    const s1 = parseSign1(decodeText(text));
    const raw = payloadMap(s1.payload);
    const rawIss = raw instanceof Map ? raw.get(CLAIM_ISS) : undefined;
    const key = await verifiedKey(trust, s1.kid, s1.alg, s1.signature, s1.toBeSigned(), typeof rawIss === "string" ? rawIss : null);
    const iat = raw instanceof Map ? raw.get(CLAIM_IAT) : undefined;
    if (isInt(iat) && !(key.nbf <= iat && iat < key.exp)) {
      throw new FormatError(Outcome.KEY_NOT_VALID_AT_IAT, "iat is outside the signing key's validity");
    }
    res.key = key;
    const claims = parseClaims(raw);
    res.claims = claims;
    times(claims, key, now, skew);
    const [ts, fields] = typedFields(trust, claims);
    res.type = ts;
    res.fields = fields;
    const outside = ts.document.check(fields, chinaDay(now));
    if (outside !== null) Object.assign(res, outside);
  } catch (err) {
    if (!(err instanceof FormatError)) throw err;
    res.outcome = err.outcome;
    res.detail = err.message;
    if ((err.outcome === Outcome.EXPIRED || err.outcome === Outcome.NOT_YET_VALID) && res.claims !== null) {
      let typed = null;
      try {
        typed = typedFields(trust, res.claims);
      } catch (inner) {
        if (!(inner instanceof FormatError)) throw inner;
      }
      if (typed !== null) {
        [res.type, res.fields] = typed;
        const outside = res.type.document.check(res.fields, chinaDay(now));
        if (outside !== null && outside.outcome === res.outcome) {
          res.detail = outside.detail;
          res.document = outside.document;
        } else {
          res.detail = NOT_CURRENT[res.outcome];
        }
      }
    }
  }
  return res;
}

/** The status stage (verify.apply_status): `sl` the list held for the credential's uri, or null. */
export function applyStatus(res, sl, now, skew = DEFAULT_SKEW) {
  const claims = res.claims;
  if (res.outcome !== Outcome.VALID || claims === null) return res;
  res.statusChecked = false;
  if (claims.statusUri === null) {
    res.status = "not_tracked";
    return res;
  }
  if (!sl) {
    res.status = "unknown";
    res.detail = STALE;
    return res;
  }
  res.statusAsOf = sl.iat;
  if (!(sl.iat - skew <= now && now < sl.exp)) {
    res.status = "unknown";
    res.detail = STALE;
    return res;
  }
  res.statusChecked = true;
  const value = sl.get(claims.statusIdx);
  if (value === REVOKED || value === SUSPENDED) {
    res.outcome = value === REVOKED ? Outcome.REVOKED : Outcome.SUSPENDED;
    res.status = value === REVOKED ? "revoked" : "suspended";
    res.detail = NOT_CURRENT[res.outcome];
  } else {
    res.status = "valid";
  }
  return res;
}

function addWarnings(res, now) {
  if (res.outcome === Outcome.VALID && res.type !== null && res.fields !== null) {
    res.warnings = res.type.document.warnings(res.fields, chinaDay(now));
  }
  return res;
}

/** The recognition rules for `purpose` and a caller of `callerRegion` ("": none), then the warnings. */
export function applyAcceptance(res, rules, purpose, callerRegion, now) {
  res.purpose = purpose;
  if (res.outcome !== Outcome.VALID || res.claims === null || res.type === null || res.fields === null) return res;
  const refusal = rules.refusal(purpose, res.claims.typeId, callerRegion, res.claims.iss);
  if (refusal !== null) {
    res.outcome = Outcome.NOT_ACCEPTED_FOR_PURPOSE;
    res.detail = refusal;
    return res;
  }
  return addWarnings(res, now);
}

/** RFC 3339 UTC text of an instant, null for 0 (gateway/answers.py `iso`). */
export function iso(ts) {
  const n = Number(ts);
  if (!n || !(n > 0 && n < 253402300800)) return null;
  return new Date(n * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

function shownValue(v) {
  if (typeof v === "bigint") return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  return v;
}

/** The fields `role` (of `callerRegion`) is shown for the result (verify.Result.shown). */
function shown(res, role, callerRegion) {
  if (res.type === null || res.fields === null || res.claims === null) return {};
  const entry = role === "agency" && callerRegion !== res.claims.iss ? OTHER_REGION_AGENCY : role;
  let out = {};
  if (res.outcome === Outcome.VALID) out = res.type.disclosed(entry, res.fields);
  else if (IDENTIFYING.has(res.outcome)) out = res.type.identified(entry, res.fields);
  for (const k of Object.keys(out)) setOwn(out, k, shownValue(out[k]));
  return out;
}

function freshness(trust, now, skew, ctx) {
  if (!trust) return { trust_list_version: 0, trust_list_stale: true, trust_list_as_of: null };
  const refreshedAt = ctx.refreshedAt ?? trust.refreshedAt ?? null;
  return { trust_list_version: Number(trust.version), trust_list_stale: trust.isStale(now, skew, refreshedAt, ctx.maxAge ?? null),
    trust_list_as_of: iso(trust.iat) };
}

/** The answer (the gateway's verification answer's shape) for a result. */
export function answer(res, ctx, trust, now, skew) {
  const c = res.claims;
  let credential = null;
  if (c !== null) {
    credential = { id: c.id, type: c.typeId, version: c.typeVersion, region: c.iss, issued_at: iso(c.iat), expires_at: iso(c.exp) };
    const display = res.type !== null ? res.type.displayId(c.iss, c.id) : null;
    if (display) credential.display_id = display;
  }
  const fields = c !== null && res.fields !== null ? shown(res, ctx.role, ctx.region || "") : {};
  const warnings = res.warnings.length ? res.warnings.filter((w) => Object.hasOwn(fields, w.field)) : [];
  const out = { result: res.outcome, credential, fields, warnings, status_checked: res.statusChecked,
    status: res.status || null, status_as_of: iso(res.statusAsOf), ...freshness(trust, now, skew, ctx),
    checked_at: iso(now) };
  if (res.purpose) out.purpose = res.purpose;
  if (res.detail) out.detail = res.detail;
  if (res.document) out.document = { field: res.document.field, date: res.document.date };
  out.offline = true;
  return out;
}

/**
 * Verify an EC1 text on the device. `ctx`: {trustList (a TrustStore), statusLists (a StatusStore, or
 * anything with get(uri)), role, region (the caller's region, "" for none), purpose (undefined or "":
 * the role's default; null: no recognition rules judged), now (epoch seconds, the device clock),
 * skew (default 60), refreshedAt and maxAge (optional: a list not refreshed within maxAge is stale)}.
 * An EP1 text is not verified here: the answer is {needs_connection: true, reason}. So is an EC1 of a
 * type whose schema uses what is not checked offline.
 */
export async function verifyEC1(text, ctx) {
  const found = await verifyResult(text, ctx);
  if (found.needs_connection) return found;
  return answer(found.res, ctx, found.trust, found.now, found.skew);
}

/** verifyEC1's result before it is written as an answer: {res, trust, now, skew}, or the
 *  needs-connection marker. `answer(res, {...ctx, role}, trust, now, skew)` writes it for a role. */
export async function verifyResult(text, ctx) {
  const now = Math.floor(ctx.now ?? Date.now() / 1000);
  const skew = ctx.skew ?? DEFAULT_SKEW;
  const trust = ctx.trustList || null;
  const empty = () => ({ outcome: Outcome.VALID, detail: "", claims: null, type: null, fields: null, document: null,
    status: "", statusChecked: false, statusAsOf: 0, warnings: [], purpose: "" });
  if (typeof text === "string" && text.length > MAX_PAYLOAD_CHARS) {  // whatever its prefix, as the verifier
    return { res: { ...empty(), outcome: Outcome.PAYLOAD_TOO_LARGE }, trust, now, skew };
  }
  if (typeof text === "string" && text.startsWith(TOKEN_PREFIX)) {
    return { needs_connection: true, reason: "a show code (EP1) is resolved by its issuing region", checked_at: iso(now) };
  }
  if (!trust) {
    return { res: { ...empty(), outcome: Outcome.REGION_UNAVAILABLE, detail: "no trust list yet" }, trust: null, now, skew };
  }
  let res;
  try {
    res = await checkCredential(text, trust, now, skew);
  } catch (err) {
    if (err instanceof NeedsConnection) return { needs_connection: true, reason: err.message, checked_at: iso(now) };
    throw err;
  }
  if (res.outcome === Outcome.VALID && res.claims !== null && res.claims.statusUri !== null) {
    const shard = parseShardUri(res.claims.statusUri);
    const lists = ctx.statusLists;
    const sl = shard !== null && shard[0] === res.claims.iss && lists ? lists.get(res.claims.statusUri) : null;
    applyStatus(res, sl, now, skew);
  } else {
    applyStatus(res, null, now, skew);
  }
  let purpose = ctx.purpose;
  if (purpose === undefined || purpose === "") purpose = (ROLE_PURPOSES[ctx.role] || ["general"])[0];
  if (purpose !== null) applyAcceptance(res, trust.acceptance, purpose, ctx.region || "", now);
  else addWarnings(res, now);
  return { res, trust, now, skew };
}
