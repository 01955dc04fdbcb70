// Base45 (RFC 9285), as ecert/format/b45.py decodes it: a length of 3n+1 characters, a character
// outside the alphabet or a group over 65535 (two characters: over 255) is not Base45.

export const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
const VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) VALUE[ALPHABET.charCodeAt(i)] = i;

export class Base45Error extends Error {}

/** Whether every character of `text` is in the Base45 alphabet. */
export function inAlphabet(text) {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || VALUE[c] < 0) return false;
  }
  return true;
}

function value(text, i) {
  const c = text.charCodeAt(i);
  const v = c < 128 ? VALUE[c] : -1;
  if (v < 0) throw new Base45Error("invalid Base45 character");
  return v;
}

export function decode(text) {
  const n = text.length;
  if (n % 3 === 1) throw new Base45Error("Base45 text length leaves a single character");
  const out = new Uint8Array(Math.floor(n / 3) * 2 + (n % 3 === 2 ? 1 : 0));
  let o = 0;
  let i = 0;
  for (; i + 3 <= n; i += 3) {
    const v = value(text, i) + value(text, i + 1) * 45 + value(text, i + 2) * 2025;
    if (v > 65535) throw new Base45Error("invalid Base45 group");
    out[o++] = v >> 8;
    out[o++] = v & 255;
  }
  if (i < n) {
    const v = value(text, i) + value(text, i + 1) * 45;
    if (v > 255) throw new Base45Error("invalid Base45 group");
    out[o++] = v;
  }
  return out;
}
