import { test } from "node:test";
import assert from "node:assert/strict";
import { deliver, checkOf } from "../src/offline/queue.js";

function memory(checks) {
  const rows = new Map(checks.map((c) => [c.id, c]));
  return {
    rows,
    async all() { return [...rows.values()]; },
    async removeAll(_, ids) { for (const id of ids) rows.delete(id); },
  };
}

const check = (i, keyHash = "k") => ({ id: `id-${i}`, key_hash: keyHash, credential_id: `C${i}`, region: "CN-ZJ",
  result: "VALID", purpose: "", checked_at: `2026-12-02T10:00:${String(i).padStart(2, "0")}Z` });
const answer = (status, body = {}) => ({ status, json: async () => body });

test("a check the gateway refuses by name is let go alone, the others delivered", async () => {
  const store = memory([check(0), check(1), check(2), check(3, "other")]);
  const sent = [];
  const post = async (body) => {
    sent.push(body.checks.map((c) => c.id));
    if (body.checks.some((c) => c.id === "id-1")) {
      const i = body.checks.findIndex((c) => c.id === "id-1");
      return answer(400, { error: { code: "INVALID_REQUEST", fields: [`checks[${i}].checked_at`] } });
    }
    return answer(200, { accepted: body.checks.length, duplicates: 0, ignored: 0 });
  };
  assert.equal(await deliver("k", post, store), 2);
  assert.deepEqual(sent, [["id-0", "id-1", "id-2"], ["id-0", "id-2"]]);
  assert.deepEqual([...store.rows.keys()], ["id-3"]);  // another key's check waits for that key
});

test("no network, or a refusal to try again later, keeps every check", async () => {
  for (const post of [async () => { throw new TypeError("offline"); }, async () => answer(503), async () => answer(429)]) {
    const store = memory([check(0), check(1)]);
    assert.equal(await deliver("k", post, store), 0);
    assert.equal(store.rows.size, 2);
  }
});

test("a batch refused as a whole is let go; a check holds nothing personal", async () => {
  const store = memory([check(0), check(1)]);
  assert.equal(await deliver("k", async () => answer(413), store), 0);
  assert.equal(store.rows.size, 0);
  const c = checkOf({ result: "VALID", credential: { id: "X", region: "CN-ZJ" }, fields: { name: "张三" } }, "k", 1796220000);
  assert.deepEqual(Object.keys(c).sort(), ["checked_at", "credential_id", "id", "key_hash", "purpose", "region", "result"]);
  assert.equal(checkOf({ result: "ISSUER_MISMATCH", credential: { id: "X", region: "CN-ZJ" } }, "k", 0), null);
});
