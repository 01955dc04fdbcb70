// The scanner page's offline half (issue 15), bundled into /scan/scanner.js: the page's own script
// (/scan/scan.js) draws the answers and asks the gateway while it can; this module keeps what it
// needs to answer without it and offers it as `window.ecertOffline`:
//
// - the signed lists in IndexedDB (./offline/lists.js), refreshed every REFRESH_S while online;
// - verification on the device (./verify/, the same checks in the same order as the server),
//   answers shaped as the gateway's with `offline: true` and the lists' times;
// - QR codes read on the device (./qr.js);
// - the checks made offline queued for the trail and delivered when online (./offline/queue.js);
// - for each API key used here, its role, region and purposes (IndexedDB, by the key's SHA-256,
//   never the key): what judging a check offline needs;
// - the service worker (/scan/sw.js, scope /scan) that keeps the page for use with no network.
//
// Nothing personal is written anywhere: answers stay in memory and go with the page's Clear.
import { verifyEC1 } from "./verify/index.js";
import { toHex } from "./verify/bytes.js";
import * as db from "./offline/db.js";
import { Lists, SKEW_S } from "./offline/lists.js";
import * as queue from "./offline/queue.js";
import { readCodes } from "./qr.js";

const REFRESH_S = 60;       // the lists are fetched again this often while online
const DELIVER_S = 15;       // queued checks are tried again this often while online
const nowS = () => Date.now() / 1000;  // the device clock

const lists = new Lists();
let session = null;  // {apiKey, keyHash, profile, timers}
const listeners = new Set();
const loaded = lists.load(nowS()).catch((err) => {
  console.warn("no lists could be read from this browser's storage", err);
  return lists.state();
});

async function sha256Hex(text) {
  const hash = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return toHex(new Uint8Array(hash));
}

function changed() {
  const state = lists.state();
  for (const fn of listeners) {
    try { fn(state); } catch (err) { console.warn(err); }
  }
}

// The gateway, with the operator's key (or none, for the page's own files).
function get(path, { keyless = false } = {}) {
  const headers = keyless || !session ? {} : { Authorization: "Bearer " + session.apiKey };
  return fetch(path, { headers, cache: "no-store", credentials: "omit" });
}

function post(body) {
  return fetch(queue.DELIVER_URL, {
    method: "POST", cache: "no-store", credentials: "omit",
    headers: { Authorization: "Bearer " + session.apiKey, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

let refreshing = null;
async function refresh() {
  if (!session || refreshing) return refreshing;
  refreshing = (async () => {
    try {
      await loaded;
      await lists.refresh(get, nowS());
    } catch (err) {
      // no network, or the gateway down: the lists held stay in use
    } finally {
      refreshing = null;
      changed();
    }
    await deliver();
  })();
  return refreshing;
}

// Queued checks sent; while some are left (no network, the gateway busy, an answer lost) they are
// tried again after 1, 2, 4 … s, at most DELIVER_S, and on every refresh.
let delivering = null;
let retryMs = 1000;
let retryTimer = null;
async function deliver() {
  if (!session || delivering) return delivering;
  const s = session;
  clearTimeout(retryTimer);
  delivering = (async () => {
    try {
      await queue.deliver(s.keyHash, post);
    } catch (err) { /* storage refused: the next round tries again */ }
    const left = (await queue.pending(s.keyHash).catch(() => [])).length;
    if (left && session === s) {
      retryTimer = setTimeout(() => { if (navigator.onLine) deliver(); }, retryMs);
      retryMs = Math.min(retryMs * 2, DELIVER_S * 1000);
    } else {
      retryMs = 1000;
    }
  })().finally(() => { delivering = null; changed(); });
  return delivering;
}

function stop() {
  clearTimeout(retryTimer);
  if (session) for (const t of session.timers) clearInterval(t);
  session = null;
}

// The role's default purpose where the page sends none (as the gateway judges a request naming none).
function purposeFor(profile, purpose) {
  if (purpose) return purpose;
  const list = (profile && profile.purposes) || [];
  const chosen = list.find((p) => p.default) || list[0];
  return chosen ? chosen.id : "";
}

const instantMs = (t) => (typeof t === "string" ? Date.parse(t) : NaN);

const api = {
  // A key in use: with `profile` ({role, region, purposes}, as the gateway said online) it is kept
  // for this key; without (offline) the one kept is used. Answers the profile, or null when this
  // key was never used here online (the page cannot judge its checks offline then).
  async start(apiKey, profile) {
    stop();
    const keyHash = await sha256Hex(apiKey);
    if (profile) {
      try {
        await db.put("profiles", { key_hash: keyHash, role: profile.role || "", region: profile.region || null,
          purposes: profile.purposes || [] });
      } catch (err) { /* storage refused: still usable online */ }
    } else {
      try { profile = await db.get("profiles", keyHash); } catch (err) { profile = null; }
    }
    session = { apiKey, keyHash, profile: profile || null, timers: [] };
    session.timers.push(setInterval(() => { if (navigator.onLine) refresh(); }, REFRESH_S * 1000));
    session.timers.push(setInterval(() => { if (navigator.onLine) deliver(); }, DELIVER_S * 1000));
    if (navigator.onLine) refresh();
    return session.profile;
  },

  stop,
  refresh,
  deliver,
  loaded,

  // Called with the lists' state whenever it changes.
  onChange(fn) { listeners.add(fn); return () => listeners.delete(fn); },
  state() { return { ...lists.state(), pending: null }; },
  async pending() { return session ? (await queue.pending(session.keyHash)).length : 0; },

  online() { return navigator.onLine; },

  // Verify a code on the device. An EP1 show code needs its issuing region: {needs_connection: true}.
  // Answers null when the page holds no usable trust list, or knows nothing of this key.
  async verify(text, purpose) {
    await loaded;
    if (typeof text === "string" && text.startsWith("EP1:")) return { needs_connection: true };
    if (!session || !session.profile || !lists.trust) return null;
    const profile = session.profile;
    const now = nowS();
    const judged = purposeFor(profile, purpose);
    const answer = await verifyEC1(text, {
      trustList: lists.trust, statusLists: lists.status, role: profile.role, region: profile.region || null,
      purpose: judged, now, skew: SKEW_S,
    });
    answer.offline = true;
    if (!answer.purpose && judged) answer.purpose = judged;
    const times = [instantMs(answer.trust_list_as_of), instantMs(answer.status_as_of)].filter(Number.isFinite);
    answer.lists_as_of = times.length ? new Date(Math.min(...times)).toISOString() : null;
    answer.lists_stale = answer.trust_list_stale === true || answer.status === "unknown";
    try {
      await queue.enqueue(queue.checkOf(answer, session.keyHash, now));
    } catch (err) {
      console.warn("the check could not be queued for the trail", err);
    }
    changed();
    return answer;
  },

  readCodes,

  // How fast the device verifies: `text` checked `n` times (nothing queued, nothing shown), for the
  // figures `make bench` and the browser tests report. Answers {n, seconds, result}.
  async measure(text, n, purpose = "") {
    await loaded;
    if (!session || !session.profile || !lists.trust) return null;
    const ctx = { trustList: lists.trust, statusLists: lists.status, role: session.profile.role,
      region: session.profile.region || null, purpose: purposeFor(session.profile, purpose), now: nowS(), skew: SKEW_S };
    let answer = null;
    const started = performance.now();
    for (let i = 0; i < n; i++) answer = await verifyEC1(text, ctx);
    return { n, seconds: (performance.now() - started) / 1000, result: answer && answer.result };
  },

  // The certificate types and regions as the trust list names them (the page's tables offline).
  // ("id@version" -> {name, props, validity, deadlines}, as scan.js reads GET /v1/certificate-types;
  // code -> name, as it reads GET /v1/regions.)
  types() {
    if (!lists.trust) return null;
    const out = new Map();
    for (const t of lists.trust.types.values()) {
      const schema = t.schema || {};
      const validity = schema["x-validity"] && typeof schema["x-validity"] === "object" ? schema["x-validity"] : null;
      out.set(t.id + "@" + t.version, { name: t.name, props: schema.properties || {}, validity,
        deadlines: Array.isArray(schema["x-deadlines"]) ? schema["x-deadlines"] : [] });
    }
    return out;
  },
  regions() {
    if (!lists.trust) return null;
    return new Map([...lists.trust.regions.values()].map((r) => [r.code, r.name || r.code]));
  },
};

window.ecertOffline = api;
window.addEventListener("online", () => { refresh(); });

// The service worker: registered once the page has loaded, so it never competes with the page's
// own first requests. Where there is none (plain http on another host), the page works online only.
if ("serviceWorker" in navigator) {
  window.addEventListener("load", () => {
    navigator.serviceWorker.register("/scan/sw.js", { scope: "/scan", updateViaCache: "none" })
      .catch((err) => console.warn("the page cannot be kept for offline use", err));
  });
}
