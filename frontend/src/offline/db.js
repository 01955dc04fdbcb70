// The page's IndexedDB: what it keeps between visits, so it verifies with no network.
//
// Stores (nothing personal in any of them, and never the API key):
// - "lists": the signed lists as the gateway sent them, by name: "trust-list" (the signed trust
//   list), "root-chain" (the root rotations, a CBOR array), "root-key" (the pinned root public
//   key, PEM), each {name, bytes|text, fetched_at};
// - "status": each region's signed status lists, {uri, region, bytes, iat}, by uri;
// - "profiles": for each API key used here, {key_hash (SHA-256 of the key, hex), role, region,
//   purposes}: what the page needs to judge a check offline for that key's role;
// - "queue": the checks made offline, waiting to be delivered to the trail (./queue.js).

const NAME = "ecert-scanner";
const VERSION = 1;
export const STORES = { lists: "name", status: "uri", profiles: "key_hash", queue: "id" };

let opened = null;

export function open() {
  if (!opened) {
    opened = new Promise((resolve, reject) => {
      const request = indexedDB.open(NAME, VERSION);
      request.onupgradeneeded = () => {
        const db = request.result;
        for (const [store, keyPath] of Object.entries(STORES)) {
          if (!db.objectStoreNames.contains(store)) db.createObjectStore(store, { keyPath });
        }
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
      request.onblocked = () => reject(new Error("the page's storage is held by another version of the page"));
    });
    opened.catch(() => { opened = null; });
  }
  return opened;
}

function done(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function store(name, mode) {
  const db = await open();
  return db.transaction(name, mode).objectStore(name);
}

export async function get(name, key) {
  return done((await store(name, "readonly")).get(key));
}

export async function all(name) {
  return done((await store(name, "readonly")).getAll());
}

export async function put(name, value) {
  return done((await store(name, "readwrite")).put(value));
}

export async function remove(name, key) {
  return done((await store(name, "readwrite")).delete(key));
}

// Several records in one transaction: all written or none.
export async function putAll(name, values) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(name, "readwrite");
    const os = tx.objectStore(name);
    for (const value of values) os.put(value);
    tx.oncomplete = () => resolve(values.length);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error("aborted"));
  });
}

export async function removeAll(name, keys) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(name, "readwrite");
    const os = tx.objectStore(name);
    for (const key of keys) os.delete(key);
    tx.oncomplete = () => resolve(keys.length);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error("aborted"));
  });
}
