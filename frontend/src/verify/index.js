// The scanner page's offline verifier: EC1 texts checked on the device against the signed trust
// list and status lists, to the same answers as the gateway (ES modules, no DOM: Node 20 and the
// browser alike).
export { OUTCOMES, Outcome, FormatError, TrustListError, StatusListError } from "./outcomes.js";
export { loadTrustList, followRoots, rootKey, TrustStore } from "./trustlist.js";
export { StatusStore, StatusList, parseStatusList, parseShardUri } from "./statuslist.js";
export { verifyEC1, verifyResult, answer, checkCredential, decodeText, iso } from "./verify.js";
export { ROLE_PURPOSES, DEFAULT_RULES } from "./acceptance.js";
export { REGION_ISSUER_CODES } from "./identifiers.js";
