// The differential tests' runner (tests/test_js_verifier_diff.py in Node, tests/test_js_verifier_browser.py
// in headless Chromium): the verifier over a spec of cases (tests/js_cases.py writes it), every answer in
// the summary form the tests compare with the Python verifier's. Only what Node 20 and the browser both
// have (WebCrypto for the digests): the page's bundle never includes it.
import { fromBase64, toHex } from "./bytes.js";
import { answer, loadTrustList, parseStatusList, StatusStore, verifyResult } from "./index.js";
import { inflate } from "./zlib.js";

async function sha256(bytes) {
  return toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));
}

async function contextsOf(spec) {
  const contexts = {};
  for (const [name, c] of Object.entries(spec.contexts)) {
    const trust = await loadTrustList(fromBase64(c.trust_b64), fromBase64(c.root_spki_b64),
      { rootChain: (c.chain_b64 || []).map(fromBase64) });
    const lists = new StatusStore(trust);
    const refused = [];
    for (const ref of c.status_lists || []) {
      try {
        await lists.addStatusList(fromBase64(ref.signed_b64), { region: ref.region, expectedUri: ref.uri,
          now: c.fetched_at });
      } catch {
        refused.push(ref.uri);
      }
    }
    contexts[name] = { trust, lists, refused };
  }
  return contexts;
}

/** Every case of `spec` answered: {cases, trust_cases, status_cases, zlib_cases, count, per_second, ...}. */
export async function runCases(spec) {
  const contexts = await contextsOf(spec);
  const out = { cases: {}, trust_cases: {}, status_cases: {}, zlib_cases: {} };
  const started = performance.now();
  for (const c of spec.cases) {
    const ctx = contexts[c.ctx];
    const base = { trustList: ctx.trust, statusLists: ctx.lists, now: c.now, skew: c.skew, purpose: c.purpose,
      region: c.region || "", role: c.roles[0] };
    const found = await verifyResult(c.text, base);
    if (found.needs_connection) {
      out.cases[c.id] = { needs_connection: true };
      continue;
    }
    const byRole = {};
    const warnings = {};
    let first = null;
    for (const role of c.roles) {
      const a = answer(found.res, { ...base, role }, found.trust, found.now, found.skew);
      byRole[role] = a.fields;
      warnings[role] = a.warnings;
      first = first || a;
    }
    out.cases[c.id] = { result: first.result, detail: first.detail || "", credential: first.credential,
      status_checked: first.status_checked, status: first.status, status_as_of: first.status_as_of,
      document: first.document || null, purpose: first.purpose || "", fields: byRole, warnings,
      trust_list_version: first.trust_list_version, trust_list_stale: first.trust_list_stale };
  }
  const elapsed = performance.now() - started;

  // Verifications alone, one role each, for the speed figure.
  const timedStart = performance.now();
  for (const c of spec.cases) {
    const ctx = contexts[c.ctx];
    const base = { trustList: ctx.trust, statusLists: ctx.lists, now: c.now, skew: c.skew, purpose: c.purpose,
      region: c.region || "", role: c.roles[0] };
    const found = await verifyResult(c.text, base);
    if (!found.needs_connection) answer(found.res, base, found.trust, found.now, found.skew);
  }
  const timed = performance.now() - timedStart;

  for (const t of spec.trust_cases || []) {
    try {
      const store = await loadTrustList(fromBase64(t.signed_b64), fromBase64(t.root_spki_b64),
        { rootChain: (t.chain_b64 || []).map(fromBase64) });
      out.trust_cases[t.id] = { accepted: true, version: Number(store.version), root_kid: store.root.kidHex,
        types: [...store.types.values()].map((x) => [x.id, x.version]),
        regions: [...store.regions.values()].map((r) => [r.code, r.keys.map((k) => toHex(k.kid))]),
        next_root: store.nextRoot ? store.nextRoot.kidHex : null };
    } catch (err) {
      out.trust_cases[t.id] = { accepted: false, error: err.code || err.name, detail: err.message };
    }
  }
  for (const s of spec.status_cases || []) {
    const ctx = contexts[s.ctx];
    try {
      const sl = await parseStatusList(fromBase64(s.signed_b64), ctx.trust, { region: s.region, expectedUri: s.expected_uri,
        now: s.now });
      out.status_cases[s.id] = { accepted: true, uri: sl.uri, iat: sl.iat, exp: sl.exp, ttl: sl.ttl, size_bytes: sl.bits.length,
        stale: sl.isStale(s.now), values: Object.fromEntries((s.indexes || []).map((i) => [String(i), sl.get(i)])) };
    } catch (err) {
      out.status_cases[s.id] = { accepted: false, error: err.code || err.name };
    }
  }
  for (const z of spec.zlib_cases || []) {
    try {
      out.zlib_cases[z.id] = { kind: "ok", sha256: await sha256(inflate(fromBase64(z.b64), z.limit)) };
    } catch (err) {
      out.zlib_cases[z.id] = { kind: err.kind || `threw ${err.name}: ${err.message}` };
    }
  }
  out.count = spec.cases.length;
  out.elapsed_ms = elapsed;
  out.verify_ms = timed;
  out.per_second = spec.cases.length / (timed / 1000);
  return out;
}

/** The answers as JSON (integers beyond 2^53 as their digits, as the Python side writes them). */
export function answersJson(out) {
  return JSON.stringify(out, (k, v) => (typeof v === "bigint" ? v.toString() : v));
}
