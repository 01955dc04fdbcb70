// Runs the JavaScript verifier over a file of cases and writes its answers as JSON (the
// differential test, tests/test_js_verifier_diff.py, compares them with the Python verifier's).
// Usage: node src/verify/run-cases.mjs CASES.json OUT.json
import { readFile, writeFile } from "node:fs/promises";
import { answersJson, runCases } from "./cases.js";

const [input, output] = process.argv.slice(2);
const spec = JSON.parse(await readFile(input, "utf8"));
await writeFile(output, answersJson(await runCases(spec)));
