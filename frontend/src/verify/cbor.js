// The formats' strict CBOR subset (docs/credential-format.md §3, "The CBOR subset"), decoded with
// cborg and held to exactly what the Python reference (ecert/format/cose.py `loads`, over cbor2)
// accepts, so that both name the same fault for the same bytes:
//
// - exactly one item: trailing bytes are refused;
// - map keys are integers or text only, and a map holds no key twice;
// - no tags, except tag 18 (COSE_Sign1) where the caller allows it (`coseTag`), anywhere in the item;
// - text is strict UTF-8 (a byte order mark is kept, as Python keeps it);
// - indefinite lengths and integers in more bytes than needed are accepted (cbor2 accepts them);
// - at most 400 nested arrays, maps and tags (cbor2's own bound).
//
// Values: integers are numbers (BigInt beyond 2^53), floats are `CborFloat` (never mistaken for an
// integer), byte strings Uint8Array, maps Map, tag 18 `Tag18`, CBOR undefined `UNDEFINED`, other
// simple values `CborSimple`.
import { Token, Tokenizer, Type, tokensToObject } from "cborg";
import { FormatError } from "./outcomes.js";

export class CborFloat {
  constructor(value) {
    this.value = value;
  }
}

export class CborSimple {
  constructor(value) {
    this.value = value;
  }
}

export class Tag18 {
  constructor(value) {
    this.value = value;
  }
}

export const UNDEFINED = Object.freeze({ cbor: "undefined" });

export const MAX_DEPTH = 400;

const strictText = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

class Refused extends Error {}

function lengthAt(data, pos, minor) {
  // [length, header size] of a definite string whose initial byte is at pos
  if (minor < 24) return [minor, 1];
  const size = minor === 24 ? 1 : minor === 25 ? 2 : minor === 26 ? 4 : minor === 27 ? 8 : 0;
  if (size === 0) throw new Refused("invalid length");
  if (pos + 1 + size > data.length) throw new Refused("truncated");
  let n = 0;
  for (let i = 0; i < size; i++) n = n * 256 + data[pos + 1 + i];
  if (!Number.isSafeInteger(n)) throw new Refused("length too large");
  return [n, 1 + size];
}

function text(data, start, end) {
  for (let i = start; i < end; i++) {
    if (data[i] & 0x80) return strictText.decode(data.subarray(start, end));
  }
  let s = "";
  for (let i = start; i < end; i += 4096) {
    s += String.fromCharCode.apply(null, data.subarray(i, Math.min(end, i + 4096)));
  }
  return s;
}

/** cborg's tokenizer, with the items where cborg and cbor2 differ read as cbor2 reads them. */
class StrictTokenizer extends Tokenizer {
  next() {
    const data = this.data;
    const pos = this._pos;
    const byte = data[pos];
    const major = byte >>> 5;
    const minor = byte & 31;
    if ((major === 3 || major === 2) && minor === 31) return this._indefinite(major);
    if (major === 3) {
      const [n, head] = lengthAt(data, pos, minor);
      if (pos + head + n > data.length) throw new Refused("truncated text");
      this._pos = pos + head + n;
      return new Token(Type.string, text(data, pos + head, pos + head + n), head + n);
    }
    if (major === 7) {
      if (minor < 20) {
        this._pos = pos + 1;
        return new Token(Type.float, new CborSimple(minor), 1);
      }
      if (minor === 23) {
        this._pos = pos + 1;
        return new Token(Type.float, UNDEFINED, 1);
      }
      if (minor === 24) {
        if (pos + 1 >= data.length || data[pos + 1] < 32) throw new Refused("invalid simple value");
        this._pos = pos + 2;
        return new Token(Type.float, new CborSimple(data[pos + 1]), 2);
      }
      if (minor >= 25 && minor <= 27) {
        const token = super.next();
        return new Token(Type.float, new CborFloat(token.value), token.encodedLength);
      }
    }
    return super.next();
  }

  _indefinite(major) {
    // chunks of definite strings of the same major type, up to a break
    const data = this.data;
    const start = this._pos;
    let pos = start + 1;
    const chunks = [];
    for (;;) {
      if (pos >= data.length) throw new Refused("truncated string");
      const byte = data[pos];
      if (byte === 0xff) {
        pos += 1;
        break;
      }
      if (byte >>> 5 !== major || (byte & 31) === 31) throw new Refused("bad chunk in an indefinite string");
      const [n, head] = lengthAt(data, pos, byte & 31);
      if (pos + head + n > data.length) throw new Refused("truncated chunk");
      chunks.push(major === 3 ? text(data, pos + head, pos + head + n) : data.subarray(pos + head, pos + head + n));
      pos += head + n;
    }
    this._pos = pos;
    if (major === 3) return new Token(Type.string, chunks.join(""), pos - start);
    let size = 0;
    for (const c of chunks) size += c.length;
    const out = new Uint8Array(size);
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    return new Token(Type.bytes, out, pos - start);
  }
}

const TAGS = [];
TAGS[18] = (decode) => new Tag18(decode());
const OPTIONS = { strict: false, allowIndefinite: true, allowUndefined: true, allowBigInt: true, allowNaN: true,
  allowInfinity: true, useMaps: true, rejectDuplicateMapKeys: true };
const OPTIONS_18 = { ...OPTIONS, tags: TAGS };
const NO_TAGS = { ...OPTIONS, tags: [] };

function checkItem(value, depth) {
  // cborg lets a break code stand as a map's value (cbor2: "break code encountered where a data
  // item was expected")
  if (typeof value === "symbol") throw new Refused("a break code where an item was expected");
  if (value instanceof Map) {
    if (depth > MAX_DEPTH) throw new Refused("nested too deeply");
    for (const [k, v] of value) {
      const t = typeof k;
      if (t !== "string" && t !== "number" && t !== "bigint") throw new Refused("a map key that is neither an integer nor text");
      checkItem(v, depth + 1);
    }
  } else if (Array.isArray(value)) {
    if (depth > MAX_DEPTH) throw new Refused("nested too deeply");
    for (const v of value) checkItem(v, depth + 1);
  } else if (value instanceof Tag18) {
    if (depth > MAX_DEPTH) throw new Refused("nested too deeply");
    checkItem(value.value, depth + 1);
  }
}

/**
 * Exactly one CBOR item of the subset; any failure is a FormatError with `outcome`.
 * `coseTag`: tag 18 is allowed (the COSE_Sign1 structure itself).
 */
export function loads(data, outcome, { coseTag = false } = {}) {
  let value;
  try {
    if (data.length === 0) throw new Refused("empty");
    const options = coseTag ? OPTIONS_18 : NO_TAGS;
    const tokenizer = new StrictTokenizer(data, options);
    value = tokensToObject(tokenizer, { ...options, tokenizer });
    if (typeof value === "symbol") throw new Refused("no item");
    if (tokenizer.pos() !== data.length) throw new FormatError(outcome, "trailing bytes after the CBOR item");
    checkItem(value, 1);
  } catch (err) {
    if (err instanceof FormatError) throw err;
    throw new FormatError(outcome, `invalid CBOR: ${err && err.message ? err.message.slice(0, 80) : "error"}`);
  }
  return value;
}

/** Python's `type(v) is int`: a CBOR integer (never a float or a bool). */
export function isInt(v) {
  return typeof v === "bigint" || (typeof v === "number" && Number.isInteger(v));
}

export function isBytes(v) {
  return v instanceof Uint8Array;
}
