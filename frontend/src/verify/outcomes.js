// The verification outcome codes, in the order the format contract checks them
// (ecert/errors.py Outcome, docs/credential-format.md §7): the first failure is the answer.

export const OUTCOMES = Object.freeze([
  "PREFIX_UNKNOWN", "BASE45_INVALID", "PAYLOAD_TOO_LARGE", "DECOMPRESS_FAILED", "COSE_MALFORMED",
  "ALG_NOT_ALLOWED", "KID_UNKNOWN", "SIGNATURE_INVALID", "KEY_REVOKED", "KEY_NOT_VALID_AT_IAT",
  "CLAIMS_MALFORMED", "ISSUER_MISMATCH", "NOT_YET_VALID", "EXPIRED", "TYPE_UNKNOWN", "SCHEMA_INVALID",
  "REVOKED", "SUSPENDED", "NOT_ACCEPTED_FOR_PURPOSE", "TOKEN_ALREADY_USED", "REGION_UNAVAILABLE",
  "NO_CODE_FOUND", "VALID",
]);

export const Outcome = Object.freeze(Object.fromEntries(OUTCOMES.map((o) => [o, o])));

/** A check that failed: `outcome` is its code, `message` a short English reason (no personal data). */
export class FormatError extends Error {
  constructor(outcome, message = "") {
    super(message || outcome);
    this.outcome = outcome;
  }
}

/** A trust list that is not signed by the root reached, or is malformed (TRUST_LIST_INVALID). */
export class TrustListError extends Error {
  constructor(message) {
    super(message);
    this.code = "TRUST_LIST_INVALID";
  }
}

/** A status list that is malformed, unsigned or not the one asked for (STATUS_LIST_INVALID). */
export class StatusListError extends Error {
  constructor(message) {
    super(message);
    this.code = "STATUS_LIST_INVALID";
  }
}
