import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { encode } from "cborg";
import { Lists, ROOT_KEY_URL, ROOT_CHAIN_URL, TRUST_LIST_URL } from "../src/offline/lists.js";
import { followRoots, rootKey } from "../src/verify/index.js";

// A root rotation as the conformance vectors hold it: the pinned (old) root, the registry's
// announcement signed by it naming the new root, and a trust list the new root signed.
const vector = JSON.parse(await readFile(new URL("../../tests/vectors/trust-list/root-rotation-next-list.json",
  import.meta.url), "utf-8"));
const b64 = (text) => Uint8Array.from(Buffer.from(text, "base64"));
const pemOf = (spki) => "-----BEGIN PUBLIC KEY-----\n" + Buffer.from(spki).toString("base64").match(/.{1,64}/g).join("\n") +
  "\n-----END PUBLIC KEY-----";
const NOW = vector.context.now;
const OLD = vector.context.root_key.pem.trim();
const CHAIN = vector.input.root_chain_b64.map(b64);
const SIGNED = b64(vector.input.signed_b64);
const NEW = pemOf((await followRoots(await rootKey(OLD), CHAIN)).root.spki);
const OTHER = pemOf((await crypto.subtle.exportKey("spki", (await crypto.subtle.generateKey(
  { name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])).publicKey)));

function memory(rows = {}) {
  const lists = new Map(Object.entries(rows));
  return {
    lists,
    async get(_, key) { return lists.get(key); },
    async all() { return []; },
    async put(_, value) { lists.set(value.name, value); },
    async remove(_, key) { lists.delete(key); },
    async removeAll() {},
    async putAll() {},
  };
}

const body = (status, bytes, text) => ({
  status, headers: { get: () => null },
  async text() { return text ?? new TextDecoder().decode(bytes); },
  async arrayBuffer() { return bytes ? bytes.slice().buffer : new TextEncoder().encode(text).buffer; },
});

function gateway({ key, chain }) {
  return async (path) => {
    if (path === ROOT_KEY_URL) return body(200, null, key + "\n");
    if (path === ROOT_CHAIN_URL) return body(200, encode(chain));
    if (path === TRUST_LIST_URL) return body(200, SIGNED);
    return body(404, null, "{}");
  };
}

async function pinnedTo(pem) {
  const store = memory({ "root-key": { name: "root-key", text: pem } });
  const lists = new Lists(store);
  await lists.load(NOW);
  return { store, lists };
}

test("a new root key is taken when the root chain leads the pinned key to it", async () => {
  const { store, lists } = await pinnedTo(OLD);
  assert.equal(await lists.refresh(gateway({ key: NEW, chain: CHAIN }), NOW), true);
  assert.equal(store.lists.get("root-key").text, NEW);
  assert.equal(lists.state().root_key_changed, false);
  assert.equal(lists.state().trust_list_version, 10);
});

test("a root key the chain does not lead to is not taken: the pinned one stays, and the state says so", async () => {
  for (const [key, chain] of [[NEW, []], [OTHER, CHAIN], [OTHER, []]]) {
    const { store, lists } = await pinnedTo(OLD);
    await lists.refresh(gateway({ key, chain }), NOW);
    assert.equal(store.lists.get("root-key").text, OLD);
    assert.equal(lists.state().root_key_changed, true);
    // the list is judged against the pinned key: taken only where the chain leads there from it
    assert.equal(lists.state().trust_list_version, chain.length ? 10 : null);
  }
});

test("the first key seen is pinned", async () => {
  const store = memory();
  const lists = new Lists(store);
  await lists.load(NOW);
  await lists.refresh(gateway({ key: OLD, chain: CHAIN }), NOW);
  assert.equal(store.lists.get("root-key").text, OLD);
  assert.equal(lists.state().root_key_changed, false);
  assert.equal(lists.state().trust_list_version, 10);
});

test("answers that are not the lists (a captive portal's page) are kept nowhere", async () => {
  const { store, lists } = await pinnedTo(OLD);
  const portal = async () => body(200, null, "<html><body>请登录 Wi-Fi</body></html>");
  assert.equal(await lists.refresh(portal, NOW), false);
  assert.deepEqual([...store.lists.keys()], ["root-key"]);
  assert.equal(store.lists.get("root-key").text, OLD);
  // the key served right, the rest a portal's page: the chain and the list are not kept either
  const half = async (path) => (path === ROOT_KEY_URL ? body(200, null, OLD) : portal());
  await lists.refresh(half, NOW);
  assert.deepEqual([...store.lists.keys()], ["root-key"]);
});
