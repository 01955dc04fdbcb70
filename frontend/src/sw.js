// The scanner page's service worker: keeps the page and its files so /scan opens with no network
// once it has been opened online.
//
// Served at /scan/sw.js with `Service-Worker-Allowed: /scan` and registered with scope /scan, so it
// controls the page itself (a worker's default scope would be /scan/, which /scan is not in). It
// handles only GET requests for the page's own files (the table below): the gateway's API (/v1/…)
// is never touched, so answers, lists and keys never pass through its cache.
//
// Network first: online the page is always the gateway's current one (and the copy kept is
// refreshed); with no network, or none within NETWORK_WAIT_MS, the copy kept answers. The build
// writes a digest of every file into VERSION, so a new build is a new worker: it keeps the new
// files in a new cache and drops the old ones.
/* global __ECERT_VERSION__ */

const VERSION = typeof __ECERT_VERSION__ === "string" ? __ECERT_VERSION__ : "dev";
const CACHE = "ecert-scan-" + VERSION;
const PAGE = "/scan";
const FILES = [PAGE, "/scan/scan.js", "/scan/scan.css", "/scan/scanner.js", "/scan/zxing_reader.wasm",
  "/scan/manifest.webmanifest", "/scan/icon-192.png", "/scan/icon-512.png"];
const KEPT = new Set(FILES);
const NETWORK_WAIT_MS = 4000;

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll(FILES.map((url) => new Request(url, { cache: "no-cache", credentials: "omit" })));
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith("ecert-scan-") && name !== CACHE) await caches.delete(name);
    }
  })());
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || !KEPT.has(url.pathname)) return;
  event.respondWith(networkFirst(request, url.pathname));
});

async function networkFirst(request, path) {
  const cache = await caches.open(CACHE);
  try {
    const response = await withTimeout(fetch(request, { cache: "no-cache", credentials: "omit" }), NETWORK_WAIT_MS);
    if (response.status === 200) {
      await cache.put(path, response.clone());
      return response;
    }
    const kept = await cache.match(path);
    return kept || response;
  } catch (err) {
    const kept = await cache.match(path);
    if (kept) return kept;
    throw err;
  }
}

function withTimeout(promise, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no answer in time")), ms);
    promise.then((v) => { clearTimeout(timer); resolve(v); }, (e) => { clearTimeout(timer); reject(e); });
  });
}
