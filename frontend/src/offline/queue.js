// The checks made offline, kept in IndexedDB until the suite's trail has them.
//
// A check is queued as the trail keeps one (services/verifier/domain.py `recorded`): only a
// credential whose signature verified, whatever its outcome, and not one signed with another
// region's key (ISSUER_MISMATCH); a forgery names nobody's credential. A queued check holds no
// personal data: {id (a random UUID, the idempotency key), credential_id, region, result, purpose,
// checked_at (RFC 3339)}, and the SHA-256 of the API key that made it (`key_hash`), so it is
// delivered only with that key: the trail names who checked.
//
// Delivery (POST /v1/verifications:offline, at most MAX_BATCH a call) is at least once: a check
// is removed only once the gateway has answered 200 for it; the gateway records each id once, so
// a retry after a lost answer duplicates nothing.
import * as db from "./db.js";
import { toHex } from "../verify/bytes.js";

export const DELIVER_URL = "/v1/verifications:offline";
export const MAX_BATCH = 100;
const PERMANENT = new Set([400, 413, 422]);  // the gateway will never take these: they are let go

export function uuid() {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = toHex(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export const rfc3339 = (epochSeconds) => new Date(Math.floor(epochSeconds) * 1000).toISOString().replace(".000Z", "Z");

// The check the trail keeps of an answer made on the device, or null when it keeps none.
export function checkOf(answer, keyHash, now) {
  const c = answer && answer.credential;
  if (!c || typeof c.id !== "string" || typeof c.region !== "string" || answer.result === "ISSUER_MISMATCH") return null;
  return {
    id: uuid(), key_hash: keyHash, credential_id: c.id, region: c.region, result: answer.result,
    purpose: answer.purpose || "", checked_at: rfc3339(now),
  };
}

export async function enqueue(check) {
  if (check) await db.put("queue", check);
}

export async function pending(keyHash, store = db) {
  const all = await store.all("queue");
  return all.filter((c) => c.key_hash === keyHash).sort((a, b) => a.checked_at.localeCompare(b.checked_at));
}

// Which check of a batch an error answer blames ("checks[3].checked_at" -> 3), or -1.
export async function blamed(response, size) {
  let body;
  try {
    body = await response.json();
  } catch (err) {
    return -1;
  }
  const field = body && body.error && Array.isArray(body.error.fields) ? String(body.error.fields[0] || "") : "";
  const m = /^checks\[(\d+)\]/.exec(field);
  const i = m ? Number(m[1]) : -1;
  return i >= 0 && i < size ? i : -1;
}

// Delivers the checks `keyHash` made; `post(body)` answers a Response (or throws on no network);
// `store`: the queue's (IndexedDB's, `db.js`, unless a test gives another).
// Answers how many were delivered; stops at the first call that fails (the rest wait). A check the
// gateway refuses by name (400, 403 or 422 naming `checks[i]`) is let go alone and the rest sent
// again; a batch refused as a whole (400, 413, 422 naming none) is let go: it would never be taken.
export async function deliver(keyHash, post, store = db) {
  let waiting = await pending(keyHash, store);
  let delivered = 0;
  let calls = 0;
  while (waiting.length && calls++ < 4 * MAX_BATCH) {
    const batch = waiting.slice(0, MAX_BATCH);
    const checks = batch.map(({ id, credential_id, region, result, purpose, checked_at }) => {
      const check = { id, credential_id, region, result, checked_at };
      if (purpose) check.purpose = purpose;
      return check;
    });
    let response;
    try {
      response = await post({ checks });
    } catch (err) {
      break;
    }
    if (response.status === 200) {
      await store.removeAll("queue", batch.map((c) => c.id));
      delivered += batch.length;
      waiting = waiting.slice(batch.length);
      continue;
    }
    const one = [400, 403, 422].includes(response.status) ? await blamed(response, batch.length) : -1;
    if (one >= 0) {
      console.warn("an offline check refused by the gateway:", response.status);
      await store.removeAll("queue", [batch[one].id]);
      waiting = waiting.filter((c) => c.id !== batch[one].id);
      continue;
    }
    if (PERMANENT.has(response.status)) {
      console.warn("offline checks refused by the gateway:", response.status);
      await store.removeAll("queue", batch.map((c) => c.id));
      waiting = waiting.slice(batch.length);
      continue;
    }
    break;  // 401, 403, 429, 5xx: kept for the next round
  }
  return delivered;
}
