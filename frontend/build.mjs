// Builds the scanner page's scripts into gateway/static/app/, which the gateway serves under /scan/.
// Everything comes from this folder and node_modules (installed by `npm ci` from the lockfile): the
// build downloads nothing.
import { build } from "esbuild";
import { copyFile, mkdir } from "node:fs/promises";
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
