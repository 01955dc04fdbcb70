// COSE_Sign1 (RFC 9052) as ecert/format/cose.py `parse_sign1` reads it: tagged (18) or untagged,
// a 4-array of protected bstr, unprotected map (ignored, but held to the CBOR subset), attached
// payload bstr and signature bstr; the protected header a map holding a non-empty bstr kid and an
// integer alg of the two allowed ones. The checks run in the reference's order.
import { isBytes, isInt, loads, Tag18 } from "./cbor.js";
import { ALG_NAMES } from "./keys.js";
import { FormatError, Outcome } from "./outcomes.js";

const HDR_ALG = 1;
const HDR_KID = 4;
const SIG1_PREFIX = Uint8Array.from([0x84, 0x6a, ...new TextEncoder().encode("Signature1")]);

function bstrHead(n) {
  if (n < 24) return [0x40 | n];
  if (n < 0x100) return [0x58, n];
  if (n < 0x10000) return [0x59, n >> 8, n & 255];
  return [0x5a, (n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
}

/** `["Signature1", protected, h'', payload]` in canonical CBOR: what the signature covers. */
export function sigStructure(protectedBytes, payload) {
  const a = bstrHead(protectedBytes.length);
  const b = bstrHead(payload.length);
  const out = new Uint8Array(SIG1_PREFIX.length + a.length + protectedBytes.length + 1 + b.length + payload.length);
  let at = 0;
  out.set(SIG1_PREFIX, at);
  at += SIG1_PREFIX.length;
  out.set(a, at);
  at += a.length;
  out.set(protectedBytes, at);
  at += protectedBytes.length;
  out[at++] = 0x40;
  out.set(b, at);
  at += b.length;
  out.set(payload, at);
  return out;
}

function malformed(message) {
  return new FormatError(Outcome.COSE_MALFORMED, message);
}

/** {protected, alg, kid, payload, signature, toBeSigned()}; FormatError COSE_MALFORMED / ALG_NOT_ALLOWED. */
export function parseSign1(data) {
  let obj = loads(data, Outcome.COSE_MALFORMED, { coseTag: true });
  if (obj instanceof Tag18) obj = obj.value;
  if (!Array.isArray(obj) || obj.length !== 4) throw malformed("COSE_Sign1 must be an array of four items");
  const [prot, unprot, payload, signature] = obj;
  if (!isBytes(prot) || !(unprot instanceof Map)) throw malformed("COSE_Sign1 headers must be a byte string and a map");
  if (!isBytes(payload)) throw malformed("COSE_Sign1 payload must be an attached byte string");
  if (!isBytes(signature)) throw malformed("COSE_Sign1 signature must be a byte string");
  const headers = prot.length ? loads(prot, Outcome.COSE_MALFORMED) : new Map();
  if (!(headers instanceof Map)) throw malformed("protected header must be a map");
  const kid = headers.get(HDR_KID);
  if (!isBytes(kid) || kid.length === 0) throw malformed("kid must be a byte string in the protected header");
  const alg = headers.get(HDR_ALG);
  if (!isInt(alg) || ALG_NAMES[alg] === undefined || typeof alg === "bigint") {
    throw new FormatError(Outcome.ALG_NOT_ALLOWED, "algorithm is not allowed");
  }
  return { protected: prot, alg, kid, payload, signature, toBeSigned: () => sigStructure(prot, payload) };
}
