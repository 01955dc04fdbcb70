// The recognition rules (ecert/rules/acceptance.py): which certificate types each purpose accepts,
// and which issuing regions' credentials a caller's region recognises ("*": callers bound to none).

const YRD = ["CN-AH", "CN-JS", "CN-SH", "CN-ZJ"];
/** The agreement the suite ships (ecert/rules/data/agreement.json; tests/test_js_verifier_diff.py
 *  holds the two equal): what a trust list from before there were rules stands for. */
export const DEFAULT_RULES = Object.freeze({
  purposes: {
    hotel_check_in: ["cn.residence_permit", "cn.resident_id"],
    roadside_driver_check: ["cn.driving_licence", "cn.residence_permit", "cn.resident_id", "cn.transport_qualification"],
    roadside_vehicle_check: ["cn.road_transport_certificate", "cn.vehicle_licence"],
    transport_inspection: ["cn.driving_licence", "cn.road_transport_certificate", "cn.transport_qualification",
      "cn.vehicle_licence"],
    business_check: ["cn.business_licence"],
    general: ["cn.business_licence", "cn.driving_licence", "cn.residence_permit", "cn.resident_id",
      "cn.road_transport_certificate", "cn.social_security_card", "cn.transport_qualification", "cn.vehicle_licence"],
  },
  recognition: { "CN-AH": YRD, "CN-JS": YRD, "CN-SH": YRD, "CN-ZJ": YRD, "*": YRD },
});

/** The purposes each role may name; the first is the role's default (ecert/vocab.py ROLE_PURPOSES). */
const ALL = ["general", "hotel_check_in", "roadside_driver_check", "roadside_vehicle_check", "transport_inspection",
  "business_check"];
export const ROLE_PURPOSES = Object.freeze({
  hotel: ["hotel_check_in"],
  traffic_police: ["roadside_driver_check", "roadside_vehicle_check", "transport_inspection"],
  integrator: ["general", "hotel_check_in", "business_check"],
  agency: ALL,
  admin: ALL,
});

export class Rules {
  /** `purposes`, `recognition`: Map of text to Set of text. */
  constructor(purposes, recognition) {
    this.purposes = purposes;
    this.recognition = recognition;
  }

  static fromPlain(obj) {
    const sets = (o) => new Map(Object.entries(o).map(([k, v]) => [k, new Set(v)]));
    return new Rules(sets(obj.purposes), sets(obj.recognition));
  }

  /** null when accepted; else why not (naming the type and purpose, or the two regions). */
  refusal(purpose, typeId, callerRegion, iss) {
    const types = this.purposes.get(purpose);
    if (!types || !types.has(typeId)) return `${typeId} is not accepted for ${purpose}`;
    const regions = this.recognition.get(callerRegion || "*");
    if (!regions || !regions.has(iss)) {
      if (callerRegion) return `credentials of ${iss} are not recognised by ${callerRegion}`;
      return `credentials of ${iss} are not recognised for callers bound to no region`;
    }
    return null;
  }
}
