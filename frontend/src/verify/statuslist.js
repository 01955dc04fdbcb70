// Status lists (ecert/format/statuslist.py): a region's signed CWT of 2-bit entries, accepted only
// when signed by a non-revoked key of that region (a retired key too; the key window is not
// checked), its `sub` a text, its times integer epoch seconds, its ttl an integer >= 0, bits 2 and
// lst inflating to at most 16 MiB (STATUS_LIST_INVALID otherwise). Entry idx is in byte idx >> 2 at
// bit offset 2 * (idx & 3); an index past the end reads 0 (valid).
import { isBytes, isInt, loads } from "./cbor.js";
import { CLAIM_EXP, CLAIM_IAT, CLAIM_SUB, isTime } from "./claims.js";
import { parseSign1 } from "./cose.js";
import { inflate } from "./zlib.js";
import { FormatError, Outcome, StatusListError } from "./outcomes.js";
import { toHex } from "./bytes.js";

export const VALID = 0;
export const REVOKED = 1;
export const SUSPENDED = 2;
const CLAIM_TTL = 65534;
const CLAIM_LIST = 65533;
export const MAX_LIST_BYTES = 16 * 1024 * 1024;
const DEFAULT_SKEW = 60;
const SHARD_URI = /^urn:ecert:status:([A-Za-z0-9][A-Za-z0-9_-]{0,31}):([1-9][0-9]{0,5})$/;

/** [region, n] of a shard uri as the issuer writes it, or null for any other text. */
export function parseShardUri(uri) {
  const m = typeof uri === "string" ? SHARD_URI.exec(uri) : null;
  if (m === null || Number(m[2]) > 65536) return null;
  return [m[1], Number(m[2])];
}

export class StatusList {
  constructor(uri, iat, exp, ttl, kid, bits) {
    this.uri = uri;
    this.iat = iat;
    this.exp = exp;
    this.ttl = ttl;
    this.kid = kid;
    this.bits = bits;
  }

  get(idx) {
    const byte = idx >> 2;
    if (byte >= this.bits.length) return VALID;
    return (this.bits[byte] >> ((idx & 3) << 1)) & 3;
  }

  isStale(now) {
    return now >= this.exp;
  }
}

/**
 * A signed status list checked against the keys of its region in `trust` (the region of
 * `options.region`, else of the shard uri its payload names), and against `options.expectedUri`
 * when given; its uri must be a shard uri of that region, its iat no more than `options.skew`
 * (60) seconds ahead of `options.now` (default: the device clock). Throws StatusListError.
 */
export async function parseStatusList(signed, trust, options = {}) {
  let s1;
  try {
    s1 = parseSign1(signed);
  } catch (err) {
    if (err instanceof FormatError) throw new StatusListError(`status list is not a COSE_Sign1: ${err.message}`);
    throw err;
  }
  let obj;
  try {
    obj = loads(s1.payload, Outcome.COSE_MALFORMED);
  } catch {
    obj = null;
  }
  let region = options.region;
  if (region === undefined) {
    const named = obj instanceof Map ? parseShardUri(obj.get(CLAIM_SUB)) : null;
    region = named === null ? null : named[0];
  }
  const held = region === null ? null : trust.regions.get(region);
  const candidates = held ? held.keys.filter((k) => k.public.kidHex === toHex(s1.kid)) : [];
  let key = null;
  for (const k of candidates) {
    if (k.alg === s1.alg && k.status !== "revoked" && (await k.public.verify(s1.signature, s1.toBeSigned()))) {
      key = k;
      break;
    }
  }
  if (key === null) throw new StatusListError("status list is not signed by a key of its region");
  if (!(obj instanceof Map)) throw new StatusListError("malformed status list: the payload is not a map of the subset");
  const need = [CLAIM_SUB, CLAIM_IAT, CLAIM_EXP, CLAIM_TTL, CLAIM_LIST];
  if (!need.every((k) => obj.has(k))) throw new StatusListError("malformed status list: a claim is missing");
  const [sub, iat, exp, ttl, lst] = need.map((k) => obj.get(k));
  if (typeof sub !== "string" || (options.expectedUri !== undefined && sub !== options.expectedUri)) {
    throw new StatusListError("status list is not the one asked for");
  }
  if (!isTime(iat) || !isTime(exp) || !isInt(ttl) || ttl < 0) throw new StatusListError("status list times must be integer epoch seconds");
  // As the verifier service holds them (services/verifier/status.py `_check`): a list is its
  // signing region's own (another region's key never answers for this region's credentials), and
  // one dated beyond the skew ahead of the clock is refused (held, it would keep out every
  // genuine list with an earlier iat).
  const shard = parseShardUri(sub);
  if (shard === null || shard[0] !== region) throw new StatusListError("status list is not a list of the region that signed it");
  const now = options.now ?? Math.floor(Date.now() / 1000);
  if (iat - now > (options.skew ?? DEFAULT_SKEW)) throw new StatusListError("status list is dated ahead of the clock");
  if (!(lst instanceof Map) || !lst.has("bits") || !lst.has("lst")) throw new StatusListError("malformed status list: no list");
  const bits = lst.get("bits");
  if (!isInt(bits) || bits != 2) throw new StatusListError("only 2-bit status lists are used"); // eslint-disable-line eqeqeq
  if (!isBytes(lst.get("lst"))) throw new StatusListError("lst must be a byte string");
  let entries;
  try {
    entries = inflate(lst.get("lst"), MAX_LIST_BYTES);
  } catch (err) {
    throw new StatusListError(`malformed status list: ${err.message}`);
  }
  return new StatusList(sub, iat, exp, Number(ttl), s1.kid, entries);
}

/** The status lists held, by uri: a list never replaces one with a later iat. */
export class StatusStore {
  constructor(trust = null) {
    this.trust = trust;
    this.lists = new Map();
  }

  /** Check `signed` (against the trust list given here or at construction) and hold it; returns
   *  the StatusList (the one held when it is newer). Throws StatusListError. */
  async addStatusList(signed, options = {}) {
    const trust = options.trust || this.trust;
    if (!trust) throw new StatusListError("no trust list to check the status list against");
    const sl = await parseStatusList(signed, trust, options);
    const held = this.lists.get(sl.uri);
    if (held && held.iat > sl.iat) return held;
    this.lists.set(sl.uri, sl);
    return sl;
  }

  get(uri) {
    return this.lists.get(uri) || null;
  }

  /** Every uri held with its iat: what a conditional fetch names. */
  held() {
    return [...this.lists.values()].map((sl) => ({ uri: sl.uri, iat: sl.iat }));
  }
}
