// Public keys for the two allowed algorithms, verified with WebCrypto (globalThis.crypto.subtle):
// ES256 (COSE -7, ECDSA P-256 with SHA-256, the raw 64-byte r||s signature WebCrypto takes) and
// EdDSA (COSE -8, Ed25519). A key's kid is the first 8 bytes of SHA-256 over its SPKI DER.
import { toHex } from "./bytes.js";

export const ES256 = -7;
export const EDDSA = -8;
export const ALG_NAMES = Object.freeze({ [-7]: "ES256", [-8]: "EdDSA" });

const subtle = () => globalThis.crypto.subtle;

export async function kidOf(spki) {
  const digest = new Uint8Array(await subtle().digest("SHA-256", spki));
  return digest.subarray(0, 8);
}

const PARAMS = {
  [ES256]: { name: "ECDSA", namedCurve: "P-256" },
  [EDDSA]: { name: "Ed25519" },
};
const VERIFY = { [ES256]: { name: "ECDSA", hash: "SHA-256" }, [EDDSA]: { name: "Ed25519" } };

/** A verification key parsed once, with its kid (bytes and hex) and algorithm. */
export class PublicKey {
  constructor(alg, spki, kid, key) {
    this.alg = alg;
    this.spki = spki;
    this.kid = kid;
    this.kidHex = toHex(kid);
    this._key = key;
  }

  /** The key of `spki` for COSE algorithm `alg`; throws when `spki` is no key of that algorithm. */
  static async from(alg, spki) {
    if (alg !== ES256 && alg !== EDDSA) throw new Error("unsupported algorithm");
    let key;
    try {
      key = await subtle().importKey("spki", spki, PARAMS[alg], false, ["verify"]);
    } catch {
      throw new Error(alg === ES256 ? "ES256 needs a P-256 public key" : "EdDSA needs an Ed25519 public key");
    }
    return new PublicKey(alg, spki, await kidOf(spki), key);
  }

  async verify(signature, message) {
    if (signature.length !== 64) return false;
    try {
      return await subtle().verify(VERIFY[this.alg], this._key, signature, message);
    } catch {
      return false;
    }
  }
}

/** SPKI DER from a PEM text ("-----BEGIN PUBLIC KEY-----"), or the bytes themselves. */
export function spkiOf(keyOrPem) {
  if (keyOrPem instanceof Uint8Array) return keyOrPem;
  if (keyOrPem instanceof ArrayBuffer) return new Uint8Array(keyOrPem);
  const body = String(keyOrPem).replace(/-----(BEGIN|END) PUBLIC KEY-----/g, "").replace(/\s+/g, "");
  const bin = atob(body);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** The COSE algorithm of a root key's SPKI: Ed25519 (OID 1.3.101.112) is EdDSA, anything else ES256. */
export function algOfSpki(spki) {
  const hex = toHex(spki);
  return hex.includes("06032b6570") ? EDDSA : ES256;
}
