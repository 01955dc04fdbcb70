// The CWT claims of an EC1 credential, checked as ecert/format/credential.py `parse_claims` checks
// them (CLAIMS_MALFORMED otherwise), in the same order.
import { base32 } from "./bytes.js";
import { isBytes, isInt } from "./cbor.js";
import { FormatError, Outcome } from "./outcomes.js";

export const CLAIM_ISS = 1;
export const CLAIM_SUB = 2;
export const CLAIM_EXP = 4;
export const CLAIM_NBF = 5;
export const CLAIM_IAT = 6;
export const CLAIM_CTI = 7;
export const CLAIM_STATUS = 65535;
export const CLAIM_ECERT = -70000;

export const MAX_TIME = 253402300799; // the last second of the year 9999 (UTC)
export const MAX_STATUS_IDX = 4 * 16 * 1024 * 1024 - 1;
export const MAX_TYPE_VERSION = 10000;

/** A claim time: a CBOR integer (not a float or bool) of epoch seconds in 1970..9999. */
export function isTime(v) {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= MAX_TIME;
}

function bad(message) {
  return new FormatError(Outcome.CLAIMS_MALFORMED, message);
}

function isFieldValue(v) {
  const t = typeof v;
  return t === "string" || t === "boolean" || t === "bigint" || (t === "number" && Number.isInteger(v)) || isBytes(v);
}

/** The checked claims: {iss, iat, exp, nbf, cti, id, typeId, typeVersion, fields (Map), statusUri, statusIdx}. */
export function parseClaims(obj) {
  if (!(obj instanceof Map)) throw bad("payload is not a CBOR map");
  const iss = obj.get(CLAIM_ISS);
  const exp = obj.get(CLAIM_EXP);
  const iat = obj.get(CLAIM_IAT);
  const nbf = obj.get(CLAIM_NBF);
  const cti = obj.get(CLAIM_CTI);
  if (typeof iss !== "string" || !iss) throw bad("iss must be text");
  if (!isTime(exp) || !isTime(iat)) throw bad("exp and iat must be integer epoch seconds (1970 to 9999)");
  if (obj.has(CLAIM_NBF) && !isTime(nbf)) throw bad("nbf must be integer epoch seconds (1970 to 9999) when present");
  if (!isBytes(cti) || cti.length !== 16) throw bad("cti must be 16 bytes");
  const ec = obj.get(CLAIM_ECERT);
  if (!(ec instanceof Map)) throw bad("the ecert claim (-70000) is missing");
  const t = ec.get("t");
  const v = ec.get("v");
  const d = ec.get("d");
  if (typeof t !== "string" || !isInt(v) || !(d instanceof Map)) throw bad("ecert claim must be {t: text, v: int, d: map}");
  if (!(v >= 1 && v <= MAX_TYPE_VERSION)) throw bad(`the type version must be 1 to ${MAX_TYPE_VERSION}`);
  for (const [k, val] of d) {
    if (typeof k !== "string" || !isFieldValue(val)) {
      throw bad("fields must map text names to text, integers, booleans or byte strings");
    }
  }
  let uri = null;
  let idx = null;
  if (obj.has(CLAIM_STATUS)) {
    const st = obj.get(CLAIM_STATUS);
    const sl = st instanceof Map ? st.get("status_list") : undefined;
    if (!(sl instanceof Map)) throw bad("status claim must hold a status_list map");
    uri = sl.get("uri");
    idx = sl.get("idx");
    if (typeof uri !== "string" || !isInt(idx) || !(idx >= 0 && idx <= MAX_STATUS_IDX)) {
      throw bad(`status_list must be {idx: 0 to ${MAX_STATUS_IDX}, uri: text}`);
    }
    idx = Number(idx);
  }
  return { iss, iat, exp, nbf: obj.has(CLAIM_NBF) ? nbf : null, cti, id: base32(cti), typeId: t, typeVersion: Number(v),
    fields: d, statusUri: uri, statusIdx: idx };
}
