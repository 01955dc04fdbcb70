// The signed trust list (ecert/format/trustlist.py, ecert/rules/trust.py): checked against the
// pinned root key, or the root a root chain's announcements lead to from it, then read as the
// Python reader reads it (TRUST_LIST_INVALID otherwise): every member of its type, every key's kid
// SHA-256(spki)[:8] and its SPKI a key of its algorithm, every type's schema readable (its document
// rules included), `rules` and `next_root` of their shape.
import { equal, setOwn, toHex } from "./bytes.js";
import { isBytes, isInt, loads } from "./cbor.js";
import { parseSign1 } from "./cose.js";
import { Rules, DEFAULT_RULES } from "./acceptance.js";
import { algOfSpki, PublicKey, spkiOf } from "./keys.js";
import { FormatError, Outcome, TrustListError } from "./outcomes.js";
import { TypeSchema } from "./schema.js";

function text(v) {
  if (typeof v !== "string") throw new TypeError("where text is expected");
  return v;
}

function bytes(v) {
  if (!isBytes(v)) throw new TypeError("where a byte string is expected");
  return v;
}

function int(v) {
  if (!isInt(v)) throw new TypeError("where an integer is expected");
  return v;
}

function get(map, key) {
  if (!(map instanceof Map)) throw new TypeError("a map is expected");
  if (!map.has(key)) throw new TypeError(`member ${key} is missing`);
  return map.get(key);
}

function list(v) {
  if (!Array.isArray(v)) throw new TypeError("a list is expected");
  return v;
}

/** CBOR value to the JSON-able value the Python side's dict() / json would see (maps: text keys). */
function plain(v) {
  if (v instanceof Map) {
    const out = {};
    for (const [k, x] of v) setOwn(out, String(k), plain(x));
    return out;
  }
  if (Array.isArray(v)) return v.map(plain);
  return v;
}

function textSets(obj, what) {
  if (!(obj instanceof Map)) throw new TypeError(`rules ${what} is not a map`);
  const out = new Map();
  for (const [key, items] of obj) {
    if (typeof key !== "string" || !key) throw new TypeError(`rules ${what}: a key that is not text`);
    if (!Array.isArray(items)) throw new TypeError(`rules ${what}: not a list`);
    const values = new Set(items.map(text));
    if (values.size !== items.length) throw new TypeError(`rules ${what}: an item repeated`);
    out.set(key, values);
  }
  return out;
}

function parseRules(obj) {
  if (!(obj instanceof Map)) throw new TypeError("rules is not a map");
  if (!obj.has("purposes") || !obj.has("recognition")) throw new TypeError("rules needs purposes and recognition");
  return new Rules(textSets(obj.get("purposes"), "purposes"), textSets(obj.get("recognition"), "recognition"));
}

async function parseRoot(obj) {
  if (!(obj instanceof Map)) throw new TypeError("next_root is not a map");
  const key = await PublicKey.from(int(get(obj, "alg")), bytes(get(obj, "spki")));
  if (!equal(key.kid, bytes(get(obj, "kid")))) throw new TypeError("next_root kid does not match its key");
  return key;
}

/** A verified, indexed trust list: what verification reads. */
export class TrustStore {
  /** `root`: the PublicKey the list was checked against. Use `loadTrustList` to make one. */
  static async fromPayload(payload, signed, root) {
    const s = new TrustStore();
    try {
      s.version = int(get(payload, "v"));
      s.iat = int(get(payload, "iat"));
      s.exp = int(get(payload, "exp"));
      s.regions = new Map();
      s.keysByKid = new Map();
      for (const r of list(get(payload, "regions"))) {
        const code = text(get(r, "code"));
        const region = { code, name: text(get(r, "name")), endpoint: text(r.has("endpoint") ? r.get("endpoint") : ""), keys: [] };
        for (const k of list(get(r, "keys"))) {
          const alg = int(get(k, "alg"));
          let pub;
          try {
            pub = await PublicKey.from(alg, bytes(get(k, "spki")));
          } catch (err) {
            throw new TypeError(err.message);
          }
          const status = text(get(k, "status"));
          const nbf = int(get(k, "nbf"));
          const exp = int(get(k, "exp"));
          const rev = k.has("revoked_at") ? k.get("revoked_at") : null;
          const entry = { region: code, public: pub, kid: pub.kid, alg, status, nbf, exp,
            revokedAt: rev === null ? null : int(rev) };
          if (!equal(pub.kid, bytes(get(k, "kid")))) throw new TrustListError(`kid ${toHex(k.get("kid"))} does not match its key`);
          region.keys.push(entry);
          const held = s.keysByKid.get(pub.kidHex);
          if (held) held.push(entry);
          else s.keysByKid.set(pub.kidHex, [entry]);
        }
        s.regions.set(code, region);
      }
      s.types = new Map();
      for (const t of list(get(payload, "types"))) {
        const disclosure = get(t, "disclosure");
        if (!(disclosure instanceof Map)) throw new TypeError("disclosure is not a map");
        const ts = new TypeSchema(text(get(t, "id")), int(get(t, "v")), text(get(t, "name")), text(get(t, "schema")),
          plain(disclosure));
        s.types.set(`${ts.id}\u0000${ts.version}`, ts);
      }
      s.rules = payload.has("rules") ? parseRules(payload.get("rules")) : null;
      s.nextRoot = payload.has("next_root") ? await parseRoot(payload.get("next_root")) : null;
    } catch (err) {
      if (err instanceof TrustListError) throw err;
      throw new TrustListError(`malformed trust list: ${err.message}`);
    }
    s.acceptance = s.rules === null ? Rules.fromPlain(DEFAULT_RULES) : s.rules;
    s.signed = signed;
    s.root = root;
    s.payload = payload;
    return s;
  }

  static async fromSigned(signed, root) {
    let s1;
    try {
      s1 = parseSign1(signed);
    } catch (err) {
      if (err instanceof FormatError) throw new TrustListError(`trust list is not a COSE_Sign1: ${err.message}`);
      throw err;
    }
    if (!equal(s1.kid, root.kid) || s1.alg !== root.alg || !(await root.verify(s1.signature, s1.toBeSigned()))) {
      throw new TrustListError("trust list is not signed by the pinned root key");
    }
    let payload;
    try {
      payload = loads(s1.payload, Outcome.COSE_MALFORMED);
    } catch (err) {
      throw new TrustListError(`trust list payload is not CBOR of the subset: ${err.message}`);
    }
    if (!(payload instanceof Map)) throw new TrustListError("trust list payload is not a map");
    return TrustStore.fromPayload(payload, signed, root);
  }

  /** The type `id` at `version`, or undefined. */
  type(id, version) {
    return this.types.get(`${id}\u0000${version}`);
  }

  /** Past its exp, dated more than `skew` ahead of `now`, or (with `refreshedAt` and `maxAge`)
   *  not refreshed within maxAge seconds: the answers say trust_list_stale. */
  isStale(now, skew = 60, refreshedAt = null, maxAge = null) {
    let end = this.exp;
    if (refreshedAt !== null && maxAge !== null && refreshedAt + maxAge < end) end = refreshedAt + maxAge;
    return !(this.iat - skew <= now && now < end);
  }
}

/** The root reached from `pinned` through the announcements of `chain` (oldest first), as
 *  ecert.format.trustlist.follow_roots: only an announcement signed by the root reached so far moves it. */
export async function followRoots(pinned, chain = []) {
  let root = pinned;
  const followed = [];
  for (const signed of chain) {
    let tl;
    try {
      tl = await TrustStore.fromSigned(signed, root);
    } catch (err) {
      if (err instanceof TrustListError) continue;
      throw err;
    }
    if (tl.nextRoot === null || equal(tl.nextRoot.kid, root.kid)) continue;
    followed.push(tl);
    root = tl.nextRoot;
  }
  return { root, followed };
}

/** The pinned root key from its SPKI (bytes) or PEM text. */
export async function rootKey(spkiOrPem) {
  const spki = spkiOf(spkiOrPem);
  return PublicKey.from(algOfSpki(spki), spki);
}

/**
 * The signed trust list `signedBytes` checked against the pinned root (`rootPublicKey`: SPKI bytes,
 * PEM text or a PublicKey), after following `options.rootChain` (the announcements the registry
 * serves, each signed bytes, oldest first). `options.minVersion`: a list below it is refused
 * (a verifier never goes back to a lower version). Throws TrustListError.
 */
export async function loadTrustList(signedBytes, rootPublicKey, options = {}) {
  const pinned = rootPublicKey instanceof PublicKey ? rootPublicKey : await rootKey(rootPublicKey);
  const { root, followed } = await followRoots(pinned, options.rootChain || []);
  let store;
  try {
    store = await TrustStore.fromSigned(signedBytes, root);
  } catch (err) {
    // The last announcement followed is the one list a former root may have signed (the
    // registry's current list until the new root signs its first: services/verifier/trust.py).
    const last = followed.length ? followed[followed.length - 1] : null;
    if (!(err instanceof TrustListError) || last === null || !equal(last.signed, signedBytes)) throw err;
    store = last;
  }
  if (options.minVersion !== undefined && store.version < options.minVersion) {
    throw new TrustListError(`refused_older: version ${store.version} is below ${options.minVersion}`);
  }
  store.pinned = pinned;
  if (options.refreshedAt !== undefined) store.refreshedAt = options.refreshedAt;
  return store;
}

