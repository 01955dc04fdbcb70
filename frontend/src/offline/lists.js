// The lists the page verifies from, kept in IndexedDB (./db.js) and refreshed while online:
// the signed trust list (GET /v1/trust-list.cbor), the root rotations (GET
// /v1/trust-list/root-chain.cbor), the pinned root public key served with the page (GET
// /scan/root-key.pem) and every region's signed status lists (GET /v1/status-lists?region=).
//
// Nothing is trusted for being stored: every list is checked again when it is loaded (the trust
// list against the root, each status list against its region's key in that trust list), exactly
// as a fetched one is, and one that fails is let go. A trust list with a lower version than the
// one held is never taken; a status list older than the one held for its uri neither.
import { loads } from "../verify/cbor.js";
import { followRoots, loadTrustList, Outcome, rootKey, StatusStore } from "../verify/index.js";
import * as db from "./db.js";

export const ROOT_KEY_URL = "/scan/root-key.pem";
export const TRUST_LIST_URL = "/v1/trust-list.cbor";
export const ROOT_CHAIN_URL = "/v1/trust-list/root-chain.cbor";
export const STATUS_LISTS_URL = "/v1/status-lists";
export const SKEW_S = 60;  // the device clock's allowed lead, as ECERT_CLOCK_SKEW's default
const NEXT_SHARD = "ECert-Next-Shard";
const MAX_ROUNDS = 64;     // parts of one region's answer at most, per refresh

const bytesOf = (buffer) => new Uint8Array(buffer);

// The signed lists out of a CBOR array of them (a region's status lists, the root chain): each a
// byte string holding one COSE_Sign1, as it was signed (read in the formats' strict CBOR subset).
export function splitSigned(body) {
  const items = loads(body, Outcome.COSE_MALFORMED);
  if (!Array.isArray(items)) throw new TypeError("not a CBOR array of signed lists");
  return items.filter((item) => item instanceof Uint8Array);
}

function chainOf(bytes) {
  if (!bytes) return [];
  try {
    return splitSigned(bytes);
  } catch (err) {
    console.warn("the root chain kept is unreadable: not followed", err.message);
    return [];
  }
}

export class Lists {
  // `store`: where the lists are kept (IndexedDB, ./db.js, unless a test gives another).
  constructor(store = db) {
    this.db = store;
    this.trust = null;        // the TrustStore in use (null: none usable yet)
    this.status = null;       // the StatusStore over it
    this.trustRecord = null;  // {bytes, fetched_at} of the list in use
    this.statusRecords = new Map();  // uri -> {uri, region, bytes, iat}
    this.refreshedAt = 0;     // epoch seconds of the last refresh that reached the gateway
    this.rootKeyChanged = false;  // the gateway served a root key the pinned one does not lead to
  }

  // Loads what IndexedDB holds (at the page's start, online or not). `now` is epoch seconds.
  async load(now) {
    const [key, chain, trust, statuses] = await Promise.all([
      this.db.get("lists", "root-key"), this.db.get("lists", "root-chain"), this.db.get("lists", "trust-list"), this.db.all("status")]);
    this.rootKey = key ? key.text : null;
    this.rootChain = chain ? chain.bytes : null;
    if (trust && this.rootKey) {
      try {
        await this.use(trust, now);
      } catch (err) {
        console.warn("the trust list kept here does not verify: let go", err.message);
        await this.db.remove("lists", "trust-list");
      }
    }
    for (const record of statuses) this.statusRecords.set(record.uri, record);
    if (this.trust) await this.rebuildStatus();
    return this.state();
  }

  // A signed trust list checked against the pinned root (following the root chain held).
  check(bytes, now) {
    return loadTrustList(bytes, this.rootKey, { now, skew: SKEW_S, rootChain: chainOf(this.rootChain) });
  }

  // Whether the root chain `chainBytes`, followed from the PublicKey `pinned`, leads to `served`.
  async leadsTo(pinned, chainBytes, served) {
    try {
      const { root } = await followRoots(pinned, chainOf(chainBytes));
      return root.kidHex === served.kidHex;
    } catch (err) {
      return false;
    }
  }

  async use(record, now) {
    this.trust = await this.check(record.bytes, now);
    this.trustRecord = record;
  }

  // The status lists held, each checked against the trust list in use; those that fail are let go.
  async rebuildStatus() {
    const status = new StatusStore(this.trust);
    const bad = [];
    for (const record of this.statusRecords.values()) {
      try {
        await status.addStatusList(record.bytes);
      } catch (err) {
        bad.push(record.uri);
      }
    }
    for (const uri of bad) this.statusRecords.delete(uri);
    if (bad.length) await this.db.removeAll("status", bad);
    this.status = status;
  }

  // Everything fetched again (online): `get(path)` fetches with the operator's key and answers the
  // Response (or throws on no network). Answers true when the gateway was reached.
  //
  // The root key is pinned on first use: a key served later that differs from the pinned one is
  // taken only when the root chain, followed from the pinned key (each announcement signed by the
  // root before it), leads to it; otherwise the pinned key stays, the lists it verified stay in
  // use, nothing signed under the other root is taken, and the state says `root_key_changed` (the
  // page tells the operator). Nothing is stored that is not what it should be: a key that is no
  // key, a chain that is no CBOR array of signed lists (a captive portal's page answered 200) are
  // ignored, so they can never make the lists held fail on the next load.
  async refresh(get, now) {
    const key = await get(ROOT_KEY_URL, { keyless: true });
    if (key.status !== 200) return false;
    const pem = (await key.text()).trim();
    const served = await keyOf(pem);
    if (!served) {
      console.warn("the gateway's root key is no public key: lists not refreshed");
      return false;
    }
    let chainBytes = this.rootChain;
    const chain = await get(ROOT_CHAIN_URL);
    if (chain.status === 200) {
      const bytes = bytesOf(await chain.arrayBuffer());
      try {
        splitSigned(bytes);
        chainBytes = bytes;
      } catch (err) {
        console.warn("the root chain answered is unreadable: not kept", err.message);
      }
    }
    const pinned = this.rootKey ? await keyOf(this.rootKey) : null;
    if (!pinned || (pinned.kidHex !== served.kidHex && await this.leadsTo(pinned, chainBytes, served))) {
      this.rootKey = pem;  // first use, or the pinned key's own successor
      await this.db.put("lists", { name: "root-key", text: pem, fetched_at: now });
      this.rootKeyChanged = false;
    } else {
      this.rootKeyChanged = pinned.kidHex !== served.kidHex;
      if (this.rootKeyChanged) console.warn("the gateway's root key is not the one pinned here: kept the pinned one");
    }
    if (chainBytes !== this.rootChain) {
      this.rootChain = chainBytes;
      await this.db.put("lists", { name: "root-chain", bytes: chainBytes, fetched_at: now });
    }
    const trust = await get(TRUST_LIST_URL);
    if (trust.status === 200) {
      const record = { name: "trust-list", bytes: bytesOf(await trust.arrayBuffer()), fetched_at: now };
      try {
        const store = await this.check(record.bytes, now);
        if (!this.trust || versionOf(store) >= versionOf(this.trust)) {  // never back to a lower version
          this.trust = store;
          this.trustRecord = record;
          await this.db.put("lists", record);
        }
      } catch (err) {
        console.warn("trust list refused", err.message);
      }
    }
    if (!this.trust) return true;
    await this.rebuildStatus();
    // A region whose entry names no endpoint has no issuer online: there are no lists to ask for.
    const regions = [...this.trust.regions.values()].filter((r) => r.endpoint !== "").map((r) => r.code);
    await Promise.all(regions.map((region) => this.refreshRegion(get, region, now)));
    this.refreshedAt = now;
    return true;
  }

  async refreshRegion(get, region, now) {
    const held = [...this.statusRecords.values()].filter((r) => r.region === region);
    const since = held.length ? Math.min(...held.map((r) => r.iat)) : 0;
    let fromShard = 0;
    // A long answer is cut short by the gateway's size bound: the rest from the shard it names.
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const query = new URLSearchParams({ region });
      if (since) query.set("since", String(since));
      if (fromShard) query.set("from_shard", String(fromShard));
      let response;
      try {
        response = await get(STATUS_LISTS_URL + "?" + query);
      } catch (err) {
        return;
      }
      if (response.status !== 200) return;  // 304: nothing newer than what is held
      let lists;
      try {
        lists = splitSigned(bytesOf(await response.arrayBuffer()));
      } catch (err) {
        console.warn("status lists of", region, "unreadable", err.message);
        return;
      }
      await this.keep(region, lists, now);
      const next = Number(response.headers.get(NEXT_SHARD) || 0);
      if (!Number.isSafeInteger(next) || next <= fromShard) return;
      fromShard = next;
    }
  }

  // Signed status lists of a region: each checked, the newer ones kept (in memory and IndexedDB).
  async keep(region, lists, now) {
    const kept = [];
    for (const bytes of lists) {
      let list;
      try {
        list = await this.status.addStatusList(bytes);
      } catch (err) {
        console.warn("a status list of", region, "refused", err.message);
        continue;
      }
      const uri = list.uri;
      const old = this.statusRecords.get(uri);
      if (old && old.iat >= list.iat) continue;
      const record = { uri, region, bytes, iat: list.iat, fetched_at: now };
      this.statusRecords.set(uri, record);
      kept.push(record);
    }
    if (kept.length) await this.db.putAll("status", kept);
  }

  // What the page says of the lists: the trust list's version and times, the status lists' oldest `iat`.
  state() {
    const t = this.trust;
    const iats = [...this.statusRecords.values()].map((r) => r.iat);
    return {
      ready: Boolean(t),
      trust_list_version: t ? versionOf(t) : null,
      trust_list_iat: t ? t.iat : null,
      trust_list_exp: t ? t.exp : null,
      status_lists: iats.length,
      status_as_of: iats.length ? Math.min(...iats) : null,
      refreshed_at: this.refreshedAt || null,
      root_key_changed: this.rootKeyChanged,
    };
  }
}

// The PublicKey of a PEM text, or null when it is none.
async function keyOf(pem) {
  try {
    return await rootKey(pem);
  } catch (err) {
    return null;
  }
}

const versionOf = (store) => (store ? store.version : -1);
