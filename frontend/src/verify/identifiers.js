// Chinese identifier checks (the schema formats cn-citizen-id, cn-uscc, cn-plate and
// cn-driving-classes) and display identifiers, as ecert/rules/identifiers.py checks and makes them.
// Each check takes a string and accepts only the canonical compact, upper-case form.

/** ISO 3166-2:CN code -> GB/T 2260 code of the 34 provincial-level divisions (the Python side's
 *  ecert/rules/data/gbt2260_provinces.json; tests/test_js_verifier_diff.py holds the two equal). */
export const REGION_ISSUER_CODES = Object.freeze({
  "CN-BJ": "110000", "CN-TJ": "120000", "CN-HE": "130000", "CN-SX": "140000", "CN-NM": "150000",
  "CN-LN": "210000", "CN-JL": "220000", "CN-HL": "230000", "CN-SH": "310000", "CN-JS": "320000",
  "CN-ZJ": "330000", "CN-AH": "340000", "CN-FJ": "350000", "CN-JX": "360000", "CN-SD": "370000",
  "CN-HA": "410000", "CN-HB": "420000", "CN-HN": "430000", "CN-GD": "440000", "CN-GX": "450000",
  "CN-HI": "460000", "CN-CQ": "500000", "CN-SC": "510000", "CN-GZ": "520000", "CN-YN": "530000",
  "CN-XZ": "540000", "CN-SN": "610000", "CN-GS": "620000", "CN-QH": "630000", "CN-NX": "640000",
  "CN-XJ": "650000", "CN-TW": "710000", "CN-HK": "810000", "CN-MO": "820000",
});

const PROVINCES = [...new Set(Object.values(REGION_ISSUER_CODES).map((c) => c.slice(0, 2))), "83"].sort();
const ID_RE = new RegExp(`^(?:${PROVINCES.join("|")})[0-9]{4}(?:19[0-9]{2}|20[0-9]{2}|2100)(?:0[1-9]|1[0-2])`
  + "(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9X]$");
const ID_CHECK = "10X98765432";
const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const MONTHS_WITH_31 = new Set(["01", "03", "05", "07", "08", "10", "12"]);

function lateDayOk(yyyymmdd) {
  const month = yyyymmdd.slice(4, 6);
  const day = yyyymmdd.slice(6);
  if (day === "31") return MONTHS_WITH_31.has(month);
  if (month !== "02") return true;
  if (day === "30") return false;
  const year = Number(yyyymmdd.slice(0, 4));
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

/** 18-character PRC citizen identity number (GB 11643-1999), with the MOD 11-2 check character. */
export function citizenIdValid(s) {
  if (typeof s !== "string" || !ID_RE.test(s)) return false;
  if (s.slice(12, 14) > "28" && !lateDayOk(s.slice(6, 14))) return false;
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += (s.charCodeAt(i) - 48) * ID_WEIGHTS[i];
  return ID_CHECK[sum % 11] === s[17];
}

const USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_RE = /^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$/;

/** 18-character unified social credit code (GB 32100-2015), with its check character. */
export function usccValid(s) {
  if (typeof s !== "string" || !USCC_RE.test(s)) return false;
  let sum = 0;
  let w = 1;
  for (let i = 0; i < 17; i++) {
    sum += USCC_CHARS.indexOf(s[i]) * w;
    w = (w * 3) % 31;
  }
  return USCC_CHARS[(31 - (sum % 31)) % 31] === s[17];
}

const PROVINCE_CHARS = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼";
const L = "[A-HJ-NP-Z]";
const AN = "[0-9A-HJ-NP-Z]";
const PLATE_RE = new RegExp(`^[${PROVINCE_CHARS}]${L}(?:${AN}{5}|[DF]${AN}[0-9]{4}|[0-9]{5}[DF]|${AN}{4}[学警挂港澳])$`);

/** PRC motor-vehicle plate number, compact form (GA 36). */
export function plateValid(s) {
  return typeof s === "string" && PLATE_RE.test(s);
}

const DRIVING_CLASSES = new Set("A1 A2 A3 B1 B2 C1 C2 C3 C4 C5 C6 D E F M N P".split(" "));
const DRIVING_RE = /^(?:(A[123]|B[12]|C[1-6]|[DEFMNP])(?![\s\S]*\1))+$/;

/** Permitted driving classes, concatenated without separators, no repeats. */
export function drivingClassesValid(s) {
  if (typeof s !== "string") return false;
  return DRIVING_CLASSES.has(s) || ([...s].length <= 28 && DRIVING_RE.test(s));
}

export const STRING_FORMAT_CHECKS = Object.freeze({
  "cn-citizen-id": citizenIdValid,
  "cn-uscc": usccValid,
  "cn-plate": plateValid,
  "cn-driving-classes": drivingClassesValid,
});

// ------------------------------------------------------------------------------- display ids

const ALNUM36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
export const DISPLAY_ID_PREFIX = "1.2.156.3005.2";

/** ISO/IEC 7064 MOD 37,36 check character of a [0-9A-Z]* text. */
export function mod3736Check(s) {
  let p = 36;
  for (const c of s) {
    p = (p + ALNUM36.indexOf(c)) % 36 || 36;
    p = (p * 2) % 37;
  }
  return ALNUM36[(37 - p) % 36];
}

const ALNUM = /^[0-9A-Z]+$/;

/** The issuer code of a region in display identifiers: GB/T 2260, else the code without non-alphanumerics. */
export function issuerCode(region) {
  const key = region.trim().toUpperCase();
  if (Object.hasOwn(REGION_ISSUER_CODES, key)) return REGION_ISSUER_CODES[key];
  const code = key.replace(/[^0-9A-Z]/g, "");
  if (!code) throw new Error("region gives no issuer code");
  return code;
}

/** `1.2.156.3005.2.{type}.{issuer}.{serial}.{version:03}.{check}`; throws where Python's does. */
export function displayId(typeCode, issuer, serial, version) {
  const parts = [String(typeCode).toUpperCase(), String(issuer).toUpperCase()];
  if (!parts.every((p) => ALNUM.test(p))) throw new Error("display id parts must be letters and digits");
  if (!Number.isInteger(version) || version < 1 || version > 999) throw new Error("version must be 1..999");
  const s = String(serial).toUpperCase();
  if (!ALNUM.test(s)) throw new Error("display id parts must be letters and digits");
  const v = String(version).padStart(3, "0");
  return `${DISPLAY_ID_PREFIX}.${parts[0]}.${parts[1]}.${s}.${v}.${mod3736Check(parts[0] + parts[1] + s + v)}`;
}
