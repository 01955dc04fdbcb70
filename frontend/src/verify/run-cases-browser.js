// The differential runner in the browser (tests/test_js_verifier_browser.py bundles this into a page of
// its own, served from a temporary folder): `await ecertRunCases(spec)` gives the answers as JSON.
import { answersJson, runCases } from "./cases.js";

globalThis.ecertRunCases = async (spec) => answersJson(await runCases(spec));
