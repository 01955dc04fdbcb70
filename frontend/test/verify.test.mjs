// Unit tests of the offline verifier (src/verify/): its decoders, its reading of the signed lists
// and its answers, on the shared conformance vectors (tests/vectors/). The differential test
// tests/test_js_verifier_diff.py holds every answer to the Python verifier's.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { deflateRawSync, deflateSync, gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import { join, dirname } from "node:path";
import * as b45 from "../src/verify/b45.js";
import { loads, CborFloat, MAX_DEPTH, Tag18 } from "../src/verify/cbor.js";
import { inflate, TOO_LARGE, FAILED } from "../src/verify/zlib.js";
import { compilePattern } from "../src/verify/regex.js";
import { citizenIdValid, usccValid, plateValid, drivingClassesValid, mod3736Check } from "../src/verify/identifiers.js";
import { TypeSchema } from "../src/verify/schema.js";
import { fromBase64 } from "../src/verify/bytes.js";
import { OUTCOMES, loadTrustList, StatusStore, verifyEC1, TrustListError } from "../src/verify/index.js";

const VECTORS = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "tests", "vectors");
const vector = (name) => JSON.parse(readFileSync(join(VECTORS, `${name}.json`), "utf8"));
const hex = (h) => Uint8Array.from(h.match(/../g) || [], (x) => parseInt(x, 16));

async function contextOf(v, extra = {}) {
  const ctx = v.context;
  const trustList = await loadTrustList(fromBase64(ctx.trust_list.signed_b64), ctx.root_key.pem);
  const statusLists = new StatusStore(trustList);
  for (const ref of ctx.status_lists) {
    await statusLists.addStatusList(fromBase64(ref.signed_b64), { region: ref.region, expectedUri: ref.uri, now: ctx.now });
  }
  return { trustList, statusLists, now: ctx.now, skew: ctx.skew, purpose: ctx.purpose ?? null,
    region: ctx.caller_region ?? "", role: "traffic_police", ...extra };
}

test("the outcome codes are the format contract's, in its order", () => {
  assert.deepEqual(OUTCOMES, ["PREFIX_UNKNOWN", "BASE45_INVALID", "PAYLOAD_TOO_LARGE", "DECOMPRESS_FAILED",
    "COSE_MALFORMED", "ALG_NOT_ALLOWED", "KID_UNKNOWN", "SIGNATURE_INVALID", "KEY_REVOKED", "KEY_NOT_VALID_AT_IAT",
    "CLAIMS_MALFORMED", "ISSUER_MISMATCH", "NOT_YET_VALID", "EXPIRED", "TYPE_UNKNOWN", "SCHEMA_INVALID", "REVOKED",
    "SUSPENDED", "NOT_ACCEPTED_FOR_PURPOSE", "TOKEN_ALREADY_USED", "REGION_UNAVAILABLE", "NO_CODE_FOUND", "VALID"]);
});

test("Base45 refuses a lone character, a character outside the alphabet and a group over 65535", () => {
  assert.deepEqual([...b45.decode("BB8")], [0x41, 0x42]);
  assert.throws(() => b45.decode("BB8A"), b45.Base45Error);
  assert.throws(() => b45.decode("bb8"), b45.Base45Error);
  assert.throws(() => b45.decode("::::"), b45.Base45Error); // ":::" is 91124
  assert.throws(() => b45.decode("::"), b45.Base45Error); // two characters: at most 255
});

test("inflate: exact bytes, a bound on the output, nothing truncated and nothing after the end", () => {
  const data = Buffer.from("a credential's COSE ".repeat(50));
  const z = deflateSync(data, { level: 9, windowBits: 12, memLevel: 4 });
  assert.deepEqual(Buffer.from(inflate(z, 65536)), data);
  assert.deepEqual(Buffer.from(inflate(deflateSync(data, { level: 0 }), 65536)), data); // stored blocks
  const kind = (f) => { try { f(); return "ok"; } catch (e) { return e.kind; } };
  assert.equal(kind(() => inflate(Buffer.concat([z, Buffer.from([0])]), 65536)), FAILED);
  assert.equal(kind(() => inflate(z.subarray(0, z.length - 1), 65536)), FAILED);
  const badCheck = Buffer.from(z);
  badCheck[badCheck.length - 1] ^= 1;
  assert.equal(kind(() => inflate(badCheck, 65536)), FAILED);
  assert.equal(kind(() => inflate(deflateSync(Buffer.alloc(65537)), 65536)), TOO_LARGE);
  assert.equal(inflate(deflateSync(Buffer.alloc(65536)), 65536).length, 65536);
  // a bomb followed by garbage is too large, as zlib's bounded output says it
  const bomb = deflateSync(Buffer.alloc(1 << 20));
  assert.equal(kind(() => inflate(Buffer.concat([bomb.subarray(0, bomb.length - 4), Buffer.from("junk")]), 65536)), TOO_LARGE);
  // zlib only: no gzip, no raw deflate, no second stream after the first (pako's Inflate takes all three)
  assert.equal(kind(() => inflate(gzipSync(data), 65536)), FAILED);
  assert.equal(kind(() => inflate(deflateRawSync(data), 65536)), FAILED);
  assert.equal(kind(() => inflate(Buffer.concat([z, z]), 65536)), FAILED);
  // one byte past the bound, then a wrong check: zlib reaches the check with its output full and
  // fails there, as Python's does (too large only when the stream goes on past the bound)
  const full = deflateSync(Buffer.alloc(65537));
  full[full.length - 1] ^= 1;
  assert.equal(kind(() => inflate(full, 65536)), FAILED);
  assert.equal(inflate(deflateSync(Buffer.alloc(100000)), 1 << 20).length, 100000); // more than one output block
});

test("CBOR: the formats' subset exactly as the Python decoder holds it", () => {
  const ok = (h, opts) => { try { return loads(hex(h), "X", opts); } catch { return "refused"; } };
  assert.equal(ok("a2010101"), "refused"); // a key twice
  assert.equal(ok("a201ff0401"), "refused"); // a break code as a value
  assert.equal(ok("bf01ffff"), "refused"); // the same in an indefinite map
  assert.equal(ok("a201011801"), "refused"); // the same key in two encodings
  assert.equal(ok("a1f501"), "refused"); // {true: 1}
  assert.equal(ok("a1f93c0001"), "refused"); // {1.0: 1}
  assert.equal(ok("c11a00000000"), "refused"); // a tag
  assert.equal(ok("d28100"), "refused"); // tag 18 outside a COSE structure
  assert.ok(ok("d28100", { coseTag: true }) instanceof Tag18);
  assert.equal(ok("0000"), "refused"); // trailing bytes
  assert.equal(ok("62c328"), "refused"); // not UTF-8
  assert.equal(ok("1801"), 1); // a small integer in two bytes: accepted, as cbor2 accepts it
  assert.deepEqual(ok("9f01ff"), [1]); // indefinite lengths: accepted
  assert.equal(ok("7f61616162ff"), "ab");
  assert.ok(ok("f93c00") instanceof CborFloat); // 1.0 is never the integer 1
  assert.equal(ok("63efbbbf41".replace("63", "64") + ""), "\ufeffA"); // a byte order mark is kept
  assert.notEqual(ok("81".repeat(MAX_DEPTH) + "00"), "refused");
  assert.equal(ok("81".repeat(MAX_DEPTH + 1) + "00"), "refused");
});

test("patterns read as Python reads them", () => {
  assert.equal(compilePattern("^[0-9]{6}$")("123456\n"), true); // $ before a final newline
  assert.equal(compilePattern("^[0-9]{6}$")("123456\n\n"), false);
  assert.equal(compilePattern("^\\d+$")("١٢٣"), true); // \d is any decimal digit
  assert.equal(compilePattern("^a.c$")("a\nc"), false);
  assert.equal(compilePattern("a{,2}b")("aab"), true);
  assert.equal(compilePattern("(?i)abc"), null); // inline flags: not translated
  assert.equal(compilePattern("\\bword"), null);
});

test("the Chinese identifier formats", () => {
  assert.equal(citizenIdValid("31010419900307123X"), true);
  assert.equal(citizenIdValid("310104199003071231"), false);
  assert.equal(citizenIdValid("31010419000229123X"), false); // 1900 is no leap year
  assert.equal(usccValid("91310000MA1FL1234X".slice(0, 17) + "0"), usccValid("91310000MA1FL12340"));
  assert.equal(plateValid("沪A8K123"), true);
  assert.equal(plateValid("沪I8K123"), false);
  assert.equal(drivingClassesValid("C1E"), true);
  assert.equal(drivingClassesValid("C1C1"), false);
  assert.equal(mod3736Check("EC002330000" + "6QUFC2FN3H5UKXCE3HUNMIHUVY" + "001"), "1");
});

test("a schema using what is not checked offline makes the type need a connection", () => {
  const schema = (prop) => JSON.stringify({ type: "object", properties: { a: prop } });
  assert.equal(new TypeSchema("x.y", 1, "n", schema({ type: "string", format: "date" }), {}).offline, true);
  assert.equal(new TypeSchema("x.y", 1, "n", schema({ type: "string", format: "ipv4" }), {}).offline, false);
  assert.equal(new TypeSchema("x.y", 1, "n", schema({ type: "string", pattern: "(?i)a" }), {}).offline, false);
  assert.throws(() => new TypeSchema("x.y", 1, "n", schema({ type: "array" }), {}));
});

test("the trust list: root signature, payload, root chain, never a lower version", async () => {
  const valid = vector("trust-list/valid");
  const store = await loadTrustList(fromBase64(valid.input.signed_b64), valid.context.root_key.pem);
  assert.equal(store.version, valid.expected.version);
  await assert.rejects(loadTrustList(fromBase64(valid.input.signed_b64), valid.context.root_key.pem,
    { minVersion: valid.expected.version + 1 }), TrustListError);
  for (const name of readdirSync(join(VECTORS, "trust-list"))) {
    const v = vector(`trust-list/${name.replace(/\.json$/, "")}`);
    const load = loadTrustList(fromBase64(v.input.signed_b64), fromBase64(v.context.root_key.spki_b64),
      { rootChain: (v.input.root_chain_b64 || []).map(fromBase64) });
    if (v.expected.accepted) await load;
    else await assert.rejects(load, TrustListError, name);
  }
});

test("the root chain: the announcement itself is still taken once followed, nothing else its old root signed", async () => {
  const a = vector("trust-list/root-rotation-announcement");
  const signed = fromBase64(a.input.signed_b64);
  const pin = fromBase64(a.context.root_key.spki_b64);
  // The registry's list between the announcement and the new root's first list is the announcement.
  const store = await loadTrustList(signed, pin, { rootChain: [signed] });
  assert.equal(store.version, a.expected.version);
  assert.equal(store.nextRoot.kidHex, a.expected.root_reached);
  // Any other list of the old root is refused once its rotation is followed.
  const old = vector("trust-list/valid");
  await assert.rejects(loadTrustList(fromBase64(old.input.signed_b64), pin, { rootChain: [signed] }), TrustListError);
});

test("a valid credential: the gateway's answer, the role's fields only, checked offline", async () => {
  const v = vector("ec1/valid-es256-driving-licence");
  const police = await verifyEC1(v.input.text, await contextOf(v, { purpose: undefined }));
  assert.equal(police.result, "VALID");
  assert.deepEqual(Object.keys(police), ["result", "credential", "fields", "warnings", "status_checked", "status",
    "status_as_of", "trust_list_version", "trust_list_stale", "trust_list_as_of", "checked_at", "purpose", "offline"]);
  assert.deepEqual(police.fields, v.expected.disclosed.traffic_police);
  assert.equal(police.credential.display_id, v.expected.display_id);
  assert.equal(police.status_checked, true);
  assert.equal(police.status, "valid");
  assert.equal(police.purpose, "roadside_driver_check"); // the role's default
  assert.equal(police.trust_list_stale, false);
  const hotel = await verifyEC1(v.input.text, await contextOf(v, { role: "hotel", purpose: null }));
  assert.deepEqual(hotel.fields, v.expected.disclosed.hotel);
  const hotelJudged = await verifyEC1(v.input.text, await contextOf(v, { role: "hotel", purpose: undefined }));
  assert.equal(hotelJudged.result, "NOT_ACCEPTED_FOR_PURPOSE"); // a hotel checks identities, not licences
  const later = await verifyEC1(v.input.text, await contextOf(v, { now: v.context.now + 40 * 86400 }));
  assert.equal(later.trust_list_stale, true); // past the list's exp
});

test("revoked, tampered, unknown key: the vectors' outcomes", async () => {
  for (const name of ["revoked", "suspended", "signature-invalid-tampered", "kid-unknown", "key-revoked",
    "document-expired", "schema-invalid-check-character", "claims-malformed-duplicate-exp", "decompress-failed-trailing-bytes"]) {
    const v = vector(`ec1/${name}`);
    const a = await verifyEC1(v.input.text, await contextOf(v));
    assert.equal(a.result, v.expected.outcome, name);
    if (v.expected.document) assert.deepEqual(a.document, v.expected.document);
  }
});

test("an EP1 show code is not verified offline: it needs a connection", async () => {
  const v = vector("ep1/valid-es256");
  const a = await verifyEC1(v.input.text, await contextOf(v));
  assert.equal(a.needs_connection, true);
  assert.equal(a.result, undefined);
  // Over every format limit, a text is too large whatever its prefix, as the verifier answers it.
  const huge = await verifyEC1(`EP1:${"0".repeat(1024 * 1024)}`, await contextOf(v));
  assert.equal(huge.result, "PAYLOAD_TOO_LARGE");
});

test("without a trust list nothing is checked: REGION_UNAVAILABLE", async () => {
  const a = await verifyEC1("EC1:XYZ", { now: 1767225600, role: "hotel" });
  assert.equal(a.result, "REGION_UNAVAILABLE");
  assert.equal(a.trust_list_stale, true);
});
