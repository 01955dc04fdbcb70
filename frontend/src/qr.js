// QR codes read on the device: the browser's BarcodeDetector where it has one, else (and when it
// finds nothing) zxing-cpp's WebAssembly build, the decoder the server uses. Pictures and camera
// frames never leave the device on this path.
//
// The WebAssembly file is the page's own (/scan/zxing_reader.wasm, copied there by the build and
// kept by the service worker), fetched the first time a code is read: never from a CDN.
import { prepareZXingModule, readBarcodes } from "zxing-wasm/reader";

export const WASM_URL = "/scan/zxing_reader.wasm";
const MAX_SIDE = 4096;           // a picture is read at most this large (a phone photo fits)
const MAX_CODES = 16;

prepareZXingModule({
  overrides: { locateFile: (path, prefix) => (path.endsWith(".wasm") ? WASM_URL : prefix + path) },
});

let detector;  // undefined: not asked yet; null: none here

async function nativeDetector() {
  if (detector !== undefined) return detector;
  detector = null;
  if (typeof globalThis.BarcodeDetector === "function") {
    try {
      const formats = await globalThis.BarcodeDetector.getSupportedFormats();
      if (formats.includes("qr_code")) detector = new globalThis.BarcodeDetector({ formats: ["qr_code"] });
    } catch (err) {
      detector = null;
    }
  }
  return detector;
}

// The pixels of a picture (a Blob) or of a canvas, at most MAX_SIDE on the longer side.
async function pixels(source) {
  if (source instanceof HTMLCanvasElement || (typeof OffscreenCanvas !== "undefined" && source instanceof OffscreenCanvas)) {
    return source.getContext("2d").getImageData(0, 0, source.width, source.height);
  }
  const bitmap = await createImageBitmap(source);
  try {
    const scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
    const w = Math.max(1, Math.round(bitmap.width * scale));
    const h = Math.max(1, Math.round(bitmap.height * scale));
    const canvas = new OffscreenCanvas(w, h);
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(bitmap, 0, 0, w, h);
    return ctx.getImageData(0, 0, w, h);
  } finally {
    bitmap.close();
  }
}

// The texts of the QR codes in a picture (Blob) or a canvas, in reading order; [] when none.
// Throws (a TypeError, or the browser's decoding error) when the picture cannot be read at all.
export async function readCodes(source) {
  const image = await pixels(source);
  const native = await nativeDetector();
  if (native) {
    try {
      const found = await native.detect(image);
      if (found.length) return found.map((c) => c.rawValue).filter((t) => typeof t === "string");
    } catch (err) {
      detector = null;
    }
  }
  const results = await readBarcodes(image, { formats: ["QRCode"], tryHarder: true, maxNumberOfSymbols: MAX_CODES });
  return results.filter((r) => r.isValid && r.text).map((r) => r.text);
}
