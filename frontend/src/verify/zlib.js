// zlib (RFC 1950) inflated with a bound on the output, by pako (a port of zlib's own inflate).
//
// The answer must be the Python reference's (ecert/format/credential.py `decompress`) for every
// input, so this drives zlib's state machine the way CPython's `decompressobj().decompress(data,
// limit + 1)` does: the zlib wrapper only (windowBits 15, no gzip), Z_SYNC_FLUSH, CPython's output
// blocks up to limit + 1 bytes in all. Then, as there: an error from zlib fails; more than `limit`
// bytes out is too large (what comes later in the stream is never looked at: zlib stops where the
// output is full); a stream without its end is truncated; bytes after the end fail. pako's
// `Inflate` class is not used: it detects gzip by default and starts over on a second gzip member.
// DecompressionStream is not used either: it accepts bytes after the end without a word, and cannot
// stop at a bound.
import { ZStream, zlibInflate, zlibInflateEnd, zlibInflateInit2, Z_NEED_DICT, Z_STREAM_END, Z_SYNC_FLUSH } from "pako";

export const TOO_LARGE = "too large";
export const FAILED = "failed";

export class InflateError extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind; // TOO_LARGE or FAILED
  }
}

const MAX_WBITS = 15;
// CPython's output blocks (its blocks output buffer), so zlib stops where CPython's stops.
const KB = 1024;
const BLOCKS = [32 * KB, 64 * KB, 256 * KB, 1024 * KB, 4096 * KB, 8192 * KB, 16384 * KB];
const Z_OK = 0;
const Z_BUF_ERROR = -5;

/**
 * Inflate a zlib stream to at most `limit` bytes. Throws InflateError: kind TOO_LARGE once the
 * output passes `limit`, FAILED for an invalid or truncated stream or bytes after its end.
 */
export function inflate(data, limit) {
  const strm = new ZStream();
  if (zlibInflateInit2(strm, MAX_WBITS) !== Z_OK) throw new InflateError(FAILED, "zlib could not start");
  strm.input = data;
  strm.next_in = 0;
  strm.avail_in = data.length;
  const max = limit + 1;
  const chunks = [];
  let total = 0;
  let status;
  do {
    const size = Math.min(BLOCKS[Math.min(chunks.length, BLOCKS.length - 1)], max - total);
    strm.output = new Uint8Array(size);
    strm.next_out = 0;
    strm.avail_out = size;
    status = zlibInflate(strm, Z_SYNC_FLUSH);
    chunks.push(strm.output.subarray(0, strm.next_out));
    total += strm.next_out;
  } while ((status === Z_OK || status === Z_BUF_ERROR || status === Z_STREAM_END) && strm.avail_out === 0 && total < max);
  const remaining = strm.avail_in;
  const message = strm.msg;
  zlibInflateEnd(strm);
  // Z_OK, Z_BUF_ERROR (no progress possible) and Z_STREAM_END are not errors; the others are,
  // Z_NEED_DICT too (no dictionary is ever given).
  if (status === Z_NEED_DICT) throw new InflateError(FAILED, "a preset dictionary is needed");
  if (status !== Z_OK && status !== Z_BUF_ERROR && status !== Z_STREAM_END) {
    throw new InflateError(FAILED, message || "zlib stream invalid");
  }
  if (total > limit) throw new InflateError(TOO_LARGE, "inflated past the limit");
  if (status !== Z_STREAM_END) throw new InflateError(FAILED, "zlib stream truncated");
  if (remaining > 0) throw new InflateError(FAILED, "bytes after the end of the zlib stream");
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
