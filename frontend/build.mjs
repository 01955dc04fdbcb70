// Builds the scanner page's scripts into gateway/static/app/, which the gateway serves under /scan/.
// Everything comes from this folder and node_modules (installed by `npm ci` from the lockfile): the
// build downloads nothing.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { copyFile, mkdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "gateway", "static", "app");
await mkdir(out, { recursive: true });

const entries = (process.env.ECERT_FRONTEND_ENTRIES || "src/scanner.js").split(",");
await build({
  entryPoints: entries.map((e) => join(here, e)),
  bundle: true,
  format: "esm",
  target: ["chrome120"],
  minify: true,
  sourcemap: false,
  outdir: out,
  logLevel: "warning",
});
// zxing-cpp's WebAssembly build, read on the device (the same decoder the server uses)
await copyFile(join(here, "node_modules", "zxing-wasm", "dist", "reader", "zxing_reader.wasm"),
               join(out, "zxing_reader.wasm"));

// The service worker (a classic script: workers are registered as one) with the digest of every file
// it keeps, so a build that changes any of them is a new worker that keeps the new files.
const staticDir = join(here, "..", "gateway", "static");
const kept = [join(staticDir, "scan.html"), join(staticDir, "scan.js"), join(staticDir, "scan.css"),
  join(staticDir, "manifest.webmanifest"), join(staticDir, "icon-192.png"), join(staticDir, "icon-512.png"),
  join(out, "scanner.js"), join(out, "zxing_reader.wasm")];
const digest = createHash("sha256");
for (const file of kept) digest.update(await readFile(file));
await build({
  entryPoints: [join(here, "src", "sw.js")],
  bundle: true,
  format: "iife",
  target: ["chrome120"],
  minify: true,
  sourcemap: false,
  outfile: join(out, "sw.js"),
  define: { __ECERT_VERSION__: JSON.stringify(digest.digest("hex").slice(0, 16)) },
  logLevel: "warning",
});
