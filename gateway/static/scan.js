// The scanner page: hotel desks and roadside checks.
//
// Three ways in: a text box for a handheld scanner (it types the code, then Enter), a picture
// upload, and the live camera (frames go to the gateway, which reads them with zxing-cpp; the
// browser's BarcodeDetector is used instead where it exists). Answers are shown large and
// cleared, with every personal field, by the Clear button or after 60 seconds. The API key is
// kept in sessionStorage (this tab, this session) and nothing else is stored anywhere.
//
// An answer reads at a glance: the verdict in its colour (green valid, red not valid, purple
// genuine but not accepted for this purpose), warnings in amber, one validity line (the
// document's own, in China time, with the issuing region's name) and, for a credential that is
// authentic but not current, the fields that say who presented it. Every verification is sent
// with the purpose chosen (GET /v1/purposes lists the role's; none is sent where it is not served).
//
// Every answer also says how fresh the verifier's lists are. One whose trust list is stale
// (trust_list_stale) or whose credential's status could not be checked against a current list
// (status "unknown") raises an amber banner, "离线 · Offline since …", naming the lists' as-of
// times (trust_list_as_of, status_as_of) in China time; it stays while answers say so and the next
// fresh answer clears it. A credential without a status claim (status "not_tracked") gets a
// neutral note: it cannot be revoked, so there is nothing to check.
//
// For an agency or admin key, a second mode: 出示码 / Show code. A credential's id in, the page
// asks for a single-use show code (EP1, valid 300 s) on the holder's behalf, draws it (the PNG
// fetched with the key), counts down to its end and fetches a fresh one shortly before, for up
// to SHOW_FOR_S seconds; stopped, a hidden tab or another key removes it.
//
// With no network (issue 15) the page still answers: /scan/scanner.js (built from frontend/src/,
// `window.ecertOffline`) keeps the signed trust list and every region's status lists in
// IndexedDB, reads QR codes on the device and verifies them itself, with the same checks and
// outcome codes as the server. Such an answer says so plainly: "离线核验 · Checked offline, lists
// as of …", in amber once the lists are past their validity. Online the gateway answers as before;
// when it cannot be reached the device answers instead. A show code (EP1) needs its issuing region:
// offline it "needs a connection". Checks made offline are queued (no personal data) and delivered
// to the trail once online. The key's role and purposes come from the gateway online and are
// kept for the key (by its digest) so the page can judge offline for that role.
"use strict";

(() => {
  const KEY_STORE = "ecert.scanner.apiKey";
  const CLEAR_AFTER_S = 60;
  const FRAME_EVERY_MS = 333;     // about 3 frames a second, never more than one in flight
  const SAME_CODE_MS = 8000;      // the same code in view is answered once
  const MAX_FRAME_SIDE = 1280;
  const MAX_PICTURE = 10 * 1024 * 1024;
  const SHOW_ROLES = new Set(["agency", "admin"]);  // the roles that make show codes
  const SHOW_REFRESH_BEFORE_S = 20;  // a fresh show code this long before the one drawn runs out
  const SHOW_FOR_S = 15 * 60;        // codes are refreshed this long, then the holder asks again
  const STATUS_UNKNOWN = "unknown";          // an answer's status: no status list within its validity
  const STATUS_NOT_TRACKED = "not_tracked";  // an answer's status: the credential has no status claim

  // Every outcome code of the format spec, in plain Chinese and English.
  const REASONS = {
    VALID: ["有效", "Valid"],
    PREFIX_UNKNOWN: ["不是可识别的电子证照二维码", "Not an e-certificate code"],
    BASE45_INVALID: ["二维码内容已损坏", "The code's content is damaged"],
    PAYLOAD_TOO_LARGE: ["二维码内容超出大小限制", "The code's content is too large"],
    DECOMPRESS_FAILED: ["二维码内容无法解压", "The code's content cannot be unpacked"],
    COSE_MALFORMED: ["签名结构无效", "The signed data is malformed"],
    ALG_NOT_ALLOWED: ["签名算法不被接受", "The signature algorithm is not allowed"],
    KID_UNKNOWN: ["签发密钥不在信任列表中", "The signing key is not in the trust list"],
    SIGNATURE_INVALID: ["签名无效，证照可能被篡改", "The signature does not match: the credential may have been altered"],
    KEY_REVOKED: ["签发密钥已被吊销", "The signing key has been revoked"],
    KEY_NOT_VALID_AT_IAT: ["签发时密钥不在有效期内", "The signing key was not valid when this was issued"],
    CLAIMS_MALFORMED: ["证照内容格式无效", "The credential's content is malformed"],
    ISSUER_MISMATCH: ["签发地区与签名密钥不符", "The issuing region does not own the signing key"],
    NOT_YET_VALID: ["证照尚未生效", "The credential is not valid yet"],
    EXPIRED: ["证照已过期", "The credential has expired"],
    TYPE_UNKNOWN: ["未知的证照类型", "Unknown certificate type"],
    SCHEMA_INVALID: ["证照内容不符合该类型的规范", "The fields do not match the certificate type"],
    REVOKED: ["证照已被吊销", "The credential has been revoked"],
    SUSPENDED: ["证照已被暂停使用", "The credential is suspended"],
    NOT_ACCEPTED_FOR_PURPOSE: ["证照真实有效，但不适用于此核验用途", "Genuine, but not accepted for this purpose"],
    TOKEN_ALREADY_USED: ["出示码已被使用，请持证人刷新后重新出示", "This code was already used: ask the holder to show a fresh one"],
    REGION_UNAVAILABLE: ["暂时无法连接签发地区，请稍后重试", "The issuing region cannot be reached: try again shortly"],
    NO_CODE_FOUND: ["图片中未找到二维码", "No QR code was found in the picture"],
  };

  // Errors of the gateway (HTTP status other than 200), by error code, then by status.
  const ERRORS = {
    UNAUTHENTICATED: ["密钥无效或已失效", "The API key was not accepted"],
    FORBIDDEN: ["此密钥的角色无权核验", "This key's role may not verify"],
    PURPOSE_NOT_ALLOWED: ["此密钥的角色不能用于所选核验用途", "This key's role may not verify for the chosen purpose"],
    PURPOSE_UNKNOWN: ["未知的核验用途", "Unknown purpose"],
    PAYLOAD_TOO_LARGE: ["图片过大（最大 10 MiB，或像素过多）", "The picture is too large (at most 10 MiB, or too many pixels)"],
    UNSUPPORTED_MEDIA_TYPE: ["不支持的图片格式，请使用 PNG、JPEG 或 WebP", "Not a supported picture: use PNG, JPEG or WebP"],
    IMAGE_CORRUPT: ["图片已损坏或不完整", "The picture is damaged or incomplete"],
    TOO_MANY_REQUESTS: ["请求过于频繁，请稍候", "Too many requests: wait a moment"],
    UNAVAILABLE: ["服务暂时不可用，请稍后重试", "The service is unavailable: try again shortly"],
    BUSY: ["服务繁忙，请稍后重试", "The service is busy: try again shortly"],
    NETWORK: ["无法连接服务器", "The server cannot be reached"],
    400: ["请求无效", "The request was not accepted"],
    413: ["内容过大", "Too large"],
    503: ["服务暂时不可用，请稍后重试", "The service is unavailable: try again shortly"],
  };

  // The page's own notices about answering offline (not the gateway's error codes).
  const OFFLINE_NOTES = {
    NEEDS_CONNECTION: ["出示码需联网核验，请连接网络后重试", "A show code needs a connection: connect and try again"],
    TYPE_NEEDS_CONNECTION: ["此类证照需联网核验，请连接网络后重试", "This kind of credential needs a connection to be checked"],
    NO_LISTS: ["本机尚无核验名单，请先联网打开本页", "No lists on this device yet: open this page online once"],
    NEW_KEY: ["此密钥尚未在本机联网使用，离线无法核验", "This key was never used online on this device: it cannot check offline"],
    UNREADABLE: ["图片无法读取", "The picture cannot be read"],
  };

  // Warnings of an answer that stays VALID (a secondary date of the document has passed), by code.
  const WARNINGS = {
    INSPECTION_OVERDUE: ["机动车检验已逾期", "Vehicle inspection overdue"],
    BUSINESS_TERM_ENDED: ["营业期限已届满", "Business term has ended"],
  };
  const WARNING_OTHER = ["证照上的日期已过，请注意", "A date on this document has passed"];

  const NAME_FIELDS = new Set(["name", "owner", "operator_name"]);  // shown large: who (or whose) it is
  const CST_MS = 8 * 3600 * 1000;  // China Standard Time, UTC+8, no daylight saving

  const $ = (id) => document.getElementById(id);

  // Elements are built with textContent only: values come from credentials and are never markup.
  function el(tag, className, ...children) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  const bilingual = (tag, className, [zh, en]) => el(tag, className, zh + " ", el("small", null, en));

  let apiKey = sessionStorage.getItem(KEY_STORE) || "";
  let types = null;          // "id@version" -> {name, props, validity, deadlines}, fetched once per key
  let regions = null;        // code -> name ("CN-ZJ" -> "浙江省 / Zhejiang"), fetched once per key
  let purposes = null;       // [{id, name, default}] of the key's role; [] where the gateway has none
  let purpose = "";          // the purpose sent with every verification ("" = send none)
  let busy = false;          // a typed or uploaded verification is in flight
  let camera = null;         // {stream, detector, timer, inFlight, pauseUntil}
  let lastCode = null;       // {key (a digest, never the code), at}
  let clearTimer = null;
  let countdownTimer = null;
  let frameCanvas = null;
  let role = "";             // the key's role, as GET /v1/purposes says ("" where it does not)
  let showing = null;        // the show code drawn: {id, purpose, until, expiresAt, refresh, tick, url}
  let portraitUrls = [];     // object URLs of the portraits shown, revoked when the answer is cleared
  let keyRegion = null;      // the key's region, as GET /v1/purposes says (null: none, or not said)
  const offline = () => window.ecertOffline || null;  // the offline half (/scan/scanner.js), if it loaded

  // -- the key --------------------------------------------------------------------------------

  function showKeyPanel(message) {
    stopCamera();
    clearResult();
    $("scanner").hidden = true;
    $("change-key").hidden = true;
    $("key-panel").hidden = false;
    $("key-error").textContent = message || "";
    $("key-input").value = "";
    $("key-input").focus();
  }

  function showScanner() {
    $("key-panel").hidden = true;
    $("scanner").hidden = false;
    $("change-key").hidden = false;
    focusCodeInput(true);
  }

  function forgetKey(message) {
    stopShowing();
    if (offline()) offline().stop();
    showFreshness([]);
    apiKey = "";
    types = regions = purposes = null;
    purpose = "";
    role = "";
    showPurposes();
    sessionStorage.removeItem(KEY_STORE);
    showKeyPanel(message);
  }

  async function useKey(key) {
    apiKey = key;
    const r = await loadTypes();
    if (r.status === 401) {
      forgetKey(ERRORS.UNAUTHENTICATED.join(" · "));
      return;
    }
    sessionStorage.setItem(KEY_STORE, key);
    if (r.status === 0 && offline()) {
      await useKeyOffline(key);
      return;
    }
    await Promise.all([loadRegions(), loadPurposes()]);
    if (offline() && purposes !== null) {
      offline().start(key, { role, region: keyRegion, purposes }).catch(() => null);
    }
    showScanner();
  }

  // No network: the key's role and purposes as kept when it was last used online, the types and
  // regions from the trust list kept. The key itself cannot be checked until the page is online.
  async function useKeyOffline(key) {
    const profile = await offline().start(key, null);
    await offline().loaded;
    if (profile) {
      role = profile.role || "";
      keyRegion = profile.region || null;
      purposes = Array.isArray(profile.purposes) ? profile.purposes : [];
      const chosen = purposes.find((x) => x.id === purpose) || purposes.find((x) => x.default) || purposes[0];
      purpose = chosen ? chosen.id : "";
      showPurposes();
    }
    tablesFromLists();
    showScanner();
    if (!profile) setStatus(OFFLINE_NOTES.NEW_KEY, true);
    else if (!offline().state().ready) setStatus(OFFLINE_NOTES.NO_LISTS, true);
  }

  // The certificate types and region names from the trust list kept (offline, in place of the gateway's).
  function tablesFromLists() {
    const o = offline();
    if (!o) return;
    if (types === null) types = o.types();
    if (regions === null) regions = o.regions();
  }

  // -- talking to the gateway -----------------------------------------------------------------

  async function api(path, init = {}) {
    const headers = Object.assign({ Authorization: "Bearer " + apiKey }, init.headers || {});
    let response;
    try {
      response = await fetch(path, Object.assign({}, init, { headers, cache: "no-store", credentials: "omit" }));
    } catch (err) {
      return { status: 0, body: { error: { code: "NETWORK" } } };
    }
    let body = null;
    try { body = await response.json(); } catch (err) { body = null; }
    return { status: response.status, body };
  }

  async function loadTypes() {
    const r = await api("/v1/certificate-types");
    if (r.status === 200 && r.body && Array.isArray(r.body.types)) {
      types = new Map();
      for (const t of r.body.types) {
        const schema = t.schema || {};
        const props = schema.properties || {};
        const validity = schema["x-validity"] && typeof schema["x-validity"] === "object" ? schema["x-validity"] : null;
        const deadlines = Array.isArray(schema["x-deadlines"]) ? schema["x-deadlines"] : [];
        types.set(t.id + "@" + t.version, { name: t.name, props, validity, deadlines });
      }
    }
    return r;
  }

  async function loadRegions() {
    const r = await api("/v1/regions");
    if (r.status === 200 && r.body && Array.isArray(r.body.regions)) {
      regions = new Map(r.body.regions.map((x) => [x.code, x.name || x.code]));
    }
  }

  // The role's purposes: a selector where there is a choice, the one purpose shown where there is
  // not, nothing (and no purpose sent) where the gateway does not serve the list (404).
  async function loadPurposes() {
    const r = await api("/v1/purposes");
    if (r.status === 200 && r.body && Array.isArray(r.body.purposes)) {
      purposes = r.body.purposes.filter((x) => x && typeof x.id === "string");
      role = typeof r.body.role === "string" ? r.body.role : "";
      keyRegion = typeof r.body.region === "string" ? r.body.region : null;
      const chosen = purposes.find((x) => x.id === purpose) || purposes.find((x) => x.default) || purposes[0];
      purpose = chosen ? chosen.id : "";
    } else if (r.status === 404) {
      purposes = [];
      purpose = "";
    }
    showPurposes();
  }

  function showPurposes() {
    const list = purposes || [];
    const select = $("purpose-select");
    select.replaceChildren(...list.map((x) => {
      const option = el("option", null, x.name || x.id);
      option.value = x.id;
      option.selected = x.id === purpose;
      return option;
    }));
    select.hidden = list.length < 2;
    const one = list.length === 1 ? list[0] : null;
    $("purpose-name").textContent = one ? one.name || one.id : "";
    $("purpose-name").hidden = !one;
    $("purpose-bar").hidden = list.length === 0;
    showShowPanel();
  }

  function purposeName(id) {
    const found = (purposes || []).find((x) => x.id === id);
    return found ? found.name || id : id;
  }

  // Missing tables (the gateway was busy when the key was given) are asked for again before an answer.
  async function loadMissing() {
    if (!navigator.onLine) { tablesFromLists(); return; }
    await Promise.all([types === null ? loadTypes() : null, regions === null ? loadRegions() : null,
      purposes === null ? loadPurposes() : null]);
  }

  // Online the gateway answers; with no network, or when it cannot be reached, the device does.
  const onDevice = () => Boolean(offline()) && !navigator.onLine;

  async function verifyText(text) {
    if (onDevice()) return deviceAnswers([text]);
    const r = await api("/v1/verifications", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(purpose ? { payload: text, purpose } : { payload: text }),
    });
    return r.status === 0 && offline() ? deviceAnswers([text]) : r;
  }

  async function verifyPicture(blob, name) {
    if (onDevice()) return devicePicture(blob);
    const form = new FormData();
    if (purpose) form.append("purpose", purpose);
    form.append("image", blob, name);
    const r = await api("/v1/verifications", { method: "POST", body: form });
    return r.status === 0 && offline() ? devicePicture(blob) : r;
  }

  // The codes in a picture (or a camera frame), read and verified on the device.
  async function devicePicture(source) {
    let texts;
    try {
      texts = await offline().readCodes(source);
    } catch (err) {
      return { status: 0, note: OFFLINE_NOTES.UNREADABLE };
    }
    if (!texts.length) return { status: 200, body: { result: "NO_CODE_FOUND", credential: null, fields: {}, offline: true } };
    return deviceAnswers(texts);
  }

  // Answers made on the device, shaped as the gateway's (one, or `results` for several codes);
  // {status: 0, note} where it cannot answer (an EP1 needs a connection, no lists, an unknown key).
  async function deviceAnswers(texts) {
    const answers = [];
    let needs = null;  // why a code was left unanswered: it needs a connection
    for (const text of texts) {
      const answer = await offline().verify(text, purpose);
      if (answer === null) {
        return { status: 0, note: offline().state().ready ? OFFLINE_NOTES.NEW_KEY : OFFLINE_NOTES.NO_LISTS };
      }
      if (answer.needs_connection) {
        needs = text.startsWith("EP1:") ? OFFLINE_NOTES.NEEDS_CONNECTION : OFFLINE_NOTES.TYPE_NEEDS_CONNECTION;
        continue;
      }
      answers.push(answer);
    }
    if (!answers.length) return { status: 0, note: needs || OFFLINE_NOTES.NEEDS_CONNECTION };
    return { status: 200, body: answers.length === 1 ? answers[0] : { results: answers } };
  }

  function errorText(r) {
    if (r.note) return r.note;
    const code = r.body && r.body.error && r.body.error.code;
    return ERRORS[code] || ERRORS[r.status] || ["出错了（" + r.status + "）", "Something went wrong (" + r.status + ")"];
  }

  function setStatus(pair, isError) {
    const status = $("status");
    status.className = isError ? "error" : "";
    status.replaceChildren();
    if (pair) status.append(bilingual("span", null, pair));
  }

  // Answer a typed code or an uploaded picture.
  async function run(request) {
    if (busy) return;
    busy = true;
    setStatus(["核验中…", "Verifying…"]);
    try {
      if (purposes === null) await loadPurposes();  // the purpose to send
      const r = await request();
      if (r.status === 200) {
        await showResults(r.body.results || [r.body], false);
      } else if (r.status === 401) {
        forgetKey(errorText(r).join(" · "));
      } else {
        clearResult();
        setStatus(errorText(r), true);
      }
    } finally {
      busy = false;
    }
  }

  // -- showing an answer ----------------------------------------------------------------------

  function valueText(value) {
    if (value === true) return "是 Yes";
    if (value === false) return "否 No";
    return String(value);
  }

  const regionName = (code) => (regions && regions.get(code)) || code;

  // Region codes in a server's detail text ("credentials of CN-FJ are not recognised by CN-SH") by name.
  const withRegionNames = (text) => String(text).replace(/\bCN-[A-Z]{2}\b/g, (code) => regionName(code));

  // The China (UTC+8) calendar day of the last second before an instant (an RFC 3339 text): the
  // last day on which a credential that expires at that instant is still valid.
  function lastChinaDay(instant) {
    const ms = Date.parse(instant);
    if (Number.isNaN(ms)) return null;
    return new Date(ms - 1000 + CST_MS).toISOString().slice(0, 10);
  }

  const isDate = (v) => typeof v === "string" && /^\d{4}-\d{2}-\d{2}$/.test(v);

  // A field's label: its title in the type's schema, in Chinese and English, else its name.
  function fieldTitle(type, name) {
    const prop = type && type.props[name];
    return prop && prop.title ? [prop.title, prop["x-title-en"] || name] : [name, name];
  }

  // The one validity line: the document's own main validity where the role sees its fields (or the
  // answer's `document` gives the date that decided it), else the e-certificate's expiry; China time.
  // Gives the node and the fields it shows (not repeated in the list).
  function validity(r, type, fields) {
    // Revoked or suspended: its dates are beside the point (a "valid until" under a red verdict
    // misleads), so the line names the region only and any date fields stay in the list.
    const moot = r.result === "REVOKED" || r.result === "SUSPENDED";
    const xv = (!moot && type && type.validity) || {};
    const open = xv.open_end;
    const seen = (f) => (f && (isDate(fields[f]) || (open && fields[f] === open)) ? fields[f] : null);
    let from = seen(xv.from);
    let until = seen(xv.until);
    const used = [from && xv.from, until && xv.until].filter(Boolean);
    const d = !from && !until && r.document;  // the document's own date that decided EXPIRED / NOT_YET_VALID
    if (d && d.field === xv.until) until = d.date;
    else if (d && d.field === xv.from) from = d.date;
    let zh, en;
    if (from || until) {
      if (until && until === open) {
        zh = from ? "有效期 " + from + " 至 " + open : "长期有效";
        en = from ? "Valid from " + from + ", no end date" : "No end date";
      } else if (from && until) {
        zh = "有效期 " + from + " 至 " + until;
        en = "Valid " + from + " to " + until;
      } else if (until) {
        zh = "有效期至 " + until;
        en = "Valid until " + until;
      } else {
        zh = "自 " + from + " 起有效";
        en = "Valid from " + from;
      }
    } else if (!moot) {
      const day = r.credential && r.credential.expires_at ? lastChinaDay(r.credential.expires_at) : null;
      if (day) {
        zh = "电子证照有效期至 " + day;
        en = "E-certificate valid until " + day;
      }
    }
    if (!zh && !r.credential) return { node: null, used };
    const node = el("div", "validity",
      zh ? el("span", "when", zh + " ", el("small", null, en + " · 北京时间 China time (UTC+8)")) : null);
    if (r.credential) {
      node.append(el("span", "region", "签发地区 ", el("small", null, "Issued in"), " ", regionName(r.credential.region)));
    }
    return { node, used };
  }

  function warningsBox(r, type) {
    const list = Array.isArray(r.warnings) ? r.warnings : [];
    if (!list.length) return null;
    const box = el("div", "warnings");
    for (const w of list) {
      const code = String(w.code || "");
      const [zh, en] = WARNINGS[code] || WARNING_OTHER;
      const [tzh, ten] = fieldTitle(type, String(w.field || ""));  // "检验有效期至 Inspection valid until"
      const since = String(w.since || "");
      const item = el("div", "warning", el("span", "sign", "⚠"), el("div", "text",
        el("div", "what", zh + " ", el("small", null, en)),
        since ? el("div", "when", tzh + "：" + since + " ", el("small", null, ten + ": " + since)) : null,
        WARNINGS[code] ? null : el("div", "code", code)));
      item.dataset.code = code;
      box.append(item);
    }
    return box;
  }

  function card(r) {
    const ok = r.result === "VALID";
    const notAccepted = r.result === "NOT_ACCEPTED_FOR_PURPOSE";
    const reason = REASONS[r.result] || ["无法核验", "Not verified"];
    const word = ok ? ["有效", "VALID"] : notAccepted ? ["不适用", "NOT ACCEPTED"]
      : r.result === "NO_CODE_FOUND" ? ["未识别", "NO CODE"] : ["无效", "NOT VALID"];
    const verdict = el("div", "verdict " + (ok ? "ok" : notAccepted ? "na" : "bad"), bilingual("div", "word", word));
    verdict.dataset.result = r.result;
    if (!ok) {
      verdict.append(bilingual("div", "reason", reason));
      if (notAccepted && r.purpose) {
        verdict.append(el("div", "purpose", "核验用途 ", el("small", null, "Purpose"), " " + purposeName(r.purpose)));
      }
      verdict.append(el("div", "code", el("small", null, r.result + (r.detail ? " · " + withRegionNames(r.detail) : ""))));
    }
    const box = el("article", "verdict-card", verdict);
    const c = r.credential;
    const fields = r.fields || {};
    const type = c && types ? types.get(c.type + "@" + c.version) : null;
    const warnings = warningsBox(r, type);
    if (warnings) box.append(warnings);
    if (!c && !Object.keys(fields).length) return box;

    const details = el("div", "details");
    if (c) details.append(el("div", "type", type ? type.name : c.type));
    const { node: validityLine, used } = validity(r, type, fields);
    if (validityLine) details.append(validityLine);
    const lapsed = new Set((Array.isArray(r.warnings) ? r.warnings : []).map((w) => w.field));
    // In the order the answer gives them: the type's disclosure list for this role, most telling first.
    const names = Object.keys(fields).filter((n) => n !== "photo" && !used.includes(n));
    // Fields under any other verdict: the credential is authentic but not current (or not accepted),
    // and the servers send only who presented it (the type's x-identify), never as a valid one.
    if (names.length && !ok) {
      details.append(el("div", "who", "仅用于识别出示人，不代表证照有效 ",
        el("small", null, "Shown only to identify who presented it, not as valid")));
    }
    // The holder's portrait, large beside the name: fetched from the issuing region through the
    // gateway and shown only once its SHA-256 is the digest the signed credential names.
    const portrait = c && "photo" in fields ? portraitFrame(c, String(fields.photo), r.purpose) : null;
    const dl = names.length ? el("dl", ok ? null : "identify") : null;
    for (const name of names) {
      const [tzh, ten] = fieldTitle(type, name);
      const label = tzh !== ten ? el("dt", null, tzh, el("small", null, ten)) : el("dt", null, name);
      const cls = [NAME_FIELDS.has(name) ? "name" : "", lapsed.has(name) ? "lapsed" : ""].filter(Boolean).join(" ");
      dl.append(label, el("dd", cls || null, valueText(fields[name])));
    }
    if (portrait) details.append(el("div", "person", portrait, dl));
    else if (dl) details.append(dl);
    if (c) {
      const meta = ["编号 ID: " + (c.display_id || c.id)];
      if (r.purpose && !notAccepted) meta.push("核验用途 Purpose: " + purposeName(r.purpose));
      details.append(el("div", "meta", meta.join(" · ")));
    }
    if (r.status === STATUS_NOT_TRACKED) {
      details.append(el("div", "status-note", "此证照不登记吊销状态，无需核查 · This credential has no revocation status to check"));
    } else if (ok && r.status_checked === false) {
      details.append(el("div", "warn", "未能确认吊销状态 · Revocation status could not be checked"));
    }
    box.append(details);
    return box;
  }

  // -- how fresh the answers are --------------------------------------------------------------

  // An instant (RFC 3339 text, or null) as epoch milliseconds; NaN for none.
  const instantMs = (instant) => (typeof instant === "string" ? Date.parse(instant) : NaN);

  // Epoch milliseconds as a China time, "2026-05-01 14:03"; null for none (undefined).
  const chinaTime = (ms) => (ms === undefined ? null
    : new Date(ms + CST_MS).toISOString().slice(0, 16).replace("T", " "));

  // The earliest of some epoch milliseconds (NaN, undefined: none); undefined when there is none.
  const oldest = (values) => values.filter(Number.isFinite).sort((a, b) => a - b)[0];

  const isStale = (r) => r && (r.trust_list_stale === true || r.status === STATUS_UNKNOWN);

  // The banner for the answers just shown: raised when any says a list is stale, else cleared.
  function showFreshness(list) {
    const banner = $("offline");
    const stale = list.filter(isStale);
    if (!stale.length) {
      banner.hidden = true;
      banner.replaceChildren();
      delete banner.dataset.since;
      return;
    }
    const trust = stale.find((r) => r.trust_list_stale === true);
    const unknown = stale.filter((r) => r.status === STATUS_UNKNOWN);
    const trustMs = trust ? oldest([instantMs(trust.trust_list_as_of)]) : undefined;
    const statusMs = oldest(unknown.map((r) => instantMs(r.status_as_of)));
    const sinceMs = oldest([trustMs, statusMs]);
    const since = chinaTime(sinceMs);
    const lines = [];
    if (trust) {
      const t = chinaTime(trustMs);
      lines.push(t ? ["信任列表截至 " + t + "，未能更新", "Trust list as of " + t + ": it could not be refreshed"]
        : ["信任列表未能更新", "The trust list could not be refreshed"]);
    }
    if (unknown.length) {
      const t = chinaTime(statusMs);
      lines.push(t ? ["吊销状态截至 " + t + "，未能更新", "Revocation status as of " + t + ": it could not be refreshed"]
        : ["无法获取吊销状态", "No revocation status could be had"]);
    }
    banner.replaceChildren(el("span", "sign", "⚠"), el("div", "text",
      bilingual("div", "what", since ? ["离线 · 自 " + since + " 起", "Offline since " + since]
        : ["离线", "Offline"]),
      ...lines.map((pair) => bilingual("div", "list", pair)),
      el("div", "zone", el("small", null, "北京时间 China time (UTC+8)"))));
    if (sinceMs !== undefined) banner.dataset.since = new Date(sinceMs).toISOString();
    else delete banner.dataset.since;
    banner.hidden = false;
  }

  // An answer made on the device says so, with the lists' time; amber once they are past their
  // validity (the trust list past its `exp`, or the credential's status list: status "unknown").
  function offlineNote(local) {
    const stale = local.some((r) => r.lists_stale);
    const asOf = chinaTime(oldest(local.map((r) => instantMs(r.lists_as_of))));
    const note = el("div", "offline-note" + (stale ? " stale" : ""),
      el("span", "sign", stale ? "⚠" : "ⓘ"),
      el("div", "text",
        bilingual("div", "what", asOf ? ["离线核验 · 名单截至 " + asOf, "Checked offline, lists as of " + asOf]
          : ["离线核验", "Checked offline"]),
        stale ? bilingual("div", "list", ["名单已过有效期，之后的吊销可能未知", "The lists are past their validity: a later revocation may not be known"]) : null,
        asOf ? el("div", "zone", el("small", null, "北京时间 China time (UTC+8)")) : null));
    note.dataset.stale = String(stale);
    return note;
  }

  async function showResults(list, fromCamera) {
    await loadMissing();
    clearResult({ keepStatus: false, keepCode: true });
    const local = list.filter((r) => r.offline);
    showFreshness(list.filter((r) => !r.offline));
    const result = $("result");
    if (local.length) result.append(offlineNote(local));
    result.append(...list.map(card));
    result.hidden = false;
    $("result-actions").hidden = false;
    $("scan-next").hidden = !fromCamera;
    setStatus(list.length > 1 ? ["图片中有 " + list.length + " 个二维码", list.length + " codes in the picture"] : null);
    let left = CLEAR_AFTER_S;
    $("countdown").textContent = "(" + left + ")";
    clearTimer = setTimeout(() => clearResult(), CLEAR_AFTER_S * 1000);
    countdownTimer = setInterval(() => { left -= 1; $("countdown").textContent = "(" + Math.max(0, left) + ")"; }, 1000);
    focusCodeInput(false);
    result.scrollIntoView({ block: "nearest" });
  }

  // Removes the answer and everything personal from the page and from memory.
  function clearResult(options = {}) {
    clearTimeout(clearTimer);
    clearInterval(countdownTimer);
    clearTimer = countdownTimer = null;
    $("result").replaceChildren();
    $("result").hidden = true;
    $("result-actions").hidden = true;
    $("countdown").textContent = "";
    $("code-input").value = "";
    $("file-input").value = "";
    if (frameCanvas) { frameCanvas.width = frameCanvas.height = 0; }
    for (const url of portraitUrls) URL.revokeObjectURL(url);
    portraitUrls = [];
    if (!options.keepCode) lastCode = null;
    if (!options.keepStatus) setStatus(null);
  }

  function focusCodeInput(force) {
    // On a desk (mouse, handheld scanner) the box always takes the next scan; on a phone the
    // on-screen keyboard would hide the answer, so only when asked.
    if (force || window.matchMedia("(pointer: fine)").matches) $("code-input").focus();
  }

  // -- the portrait ---------------------------------------------------------------------------

  const PORTRAIT_NOTES = {
    loading: ["照片加载中…", "Loading the photo…"],
    checked: ["照片已核对", "Photo checked"],
    mismatch: ["照片与证照记录不符，请勿据此核对本人", "The photo does not match the credential: do not rely on it"],
    unchecked: ["此页面无法校验照片（需 HTTPS），未显示", "The photo cannot be checked on this page (needs HTTPS): not shown"],
    unavailable: ["照片暂不可用", "The photo is not available"],
    unreadable: ["照片无法显示", "The photo cannot be shown"],
  };
  const PORTRAIT_WARNINGS = new Set(["mismatch", "unchecked"]);

  function portraitState(frame, state) {
    frame.dataset.state = state;
    frame.className = "portrait " + state + (PORTRAIT_WARNINGS.has(state) ? " warn" : "");
    const caption = bilingual("figcaption", "note", PORTRAIT_NOTES[state]);
    if (PORTRAIT_WARNINGS.has(state)) caption.prepend(el("span", "sign", "⚠ "));
    const img = frame.querySelector("img");
    frame.replaceChildren(...(state === "checked" && img ? [img] : []), caption);
  }

  function portraitFrame(c, want, purpose) {
    const frame = el("figure");
    portraitState(frame, "loading");
    showPortrait(frame, c, want.toLowerCase(), purpose);
    return frame;
  }

  async function showPortrait(frame, c, want, purpose) {
    const query = new URLSearchParams({ credential: c.id, region: c.region });
    if (purpose) query.set("purpose", purpose);
    let bytes;
    try {
      // Like every answer, the portrait is kept nowhere: no HTTP cache, and cleared with the answer.
      const response = await fetch("/v1/photos/" + encodeURIComponent(want) + "?" + query, {
        headers: { Authorization: "Bearer " + apiKey }, cache: "no-store", credentials: "omit" });
      if (response.status !== 200) { portraitState(frame, "unavailable"); return; }
      bytes = await response.arrayBuffer();
    } catch (err) {
      portraitState(frame, "unavailable");
      return;
    }
    if (!(window.crypto && crypto.subtle)) { portraitState(frame, "unchecked"); return; }
    if (hex(await crypto.subtle.digest("SHA-256", bytes)) !== want) { portraitState(frame, "mismatch"); return; }
    if (!frame.isConnected) return;  // the answer was cleared meanwhile
    const url = URL.createObjectURL(new Blob([bytes], { type: "image/jpeg" }));
    portraitUrls.push(url);
    const img = document.createElement("img");
    img.alt = "持证人照片 Holder's photo";
    img.onload = () => portraitState(frame, "checked");
    img.onerror = () => portraitState(frame, "unreadable");
    img.src = url;
    frame.prepend(img);
  }

  function hex(buffer) {
    return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // -- the camera -----------------------------------------------------------------------------

  async function startCamera() {
    if (camera) return;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      setStatus(["此页面无法使用摄像头（需要 HTTPS 或本机地址），请上传图片", "No camera here (it needs HTTPS or localhost): upload a picture"], true);
      return;
    }
    clearResult({ keepCode: true });
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: false, video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
      });
    } catch (err) {
      setStatus(["无法打开摄像头：" + err.name, "The camera could not be opened: " + err.name], true);
      return;
    }
    const video = $("video");
    video.srcObject = stream;
    $("camera").hidden = false;
    try { await video.play(); } catch (err) { /* autoplay of a muted stream is allowed; frames still arrive */ }
    camera = { stream, detector: await barcodeDetector(), timer: null, inFlight: false, pauseUntil: 0 };
    camera.timer = setInterval(frame, FRAME_EVERY_MS);
    setStatus(["请将二维码对准摄像头…", "Point the camera at the code…"]);
  }

  async function barcodeDetector() {
    if (!("BarcodeDetector" in window)) return null;
    try {
      const formats = await window.BarcodeDetector.getSupportedFormats();
      return formats.includes("qr_code") ? new window.BarcodeDetector({ formats: ["qr_code"] }) : null;
    } catch (err) {
      return null;
    }
  }

  function stopCamera() {
    if (!camera) return;
    clearInterval(camera.timer);
    for (const track of camera.stream.getTracks()) track.stop();
    camera = null;
    const video = $("video");
    video.pause();
    video.srcObject = null;
    $("camera").hidden = true;
  }

  function grab(video) {
    const scale = Math.min(1, MAX_FRAME_SIDE / Math.max(video.videoWidth, video.videoHeight));
    frameCanvas = frameCanvas || document.createElement("canvas");
    frameCanvas.width = Math.round(video.videoWidth * scale);
    frameCanvas.height = Math.round(video.videoHeight * scale);
    frameCanvas.getContext("2d").drawImage(video, 0, 0, frameCanvas.width, frameCanvas.height);
    return frameCanvas;
  }

  async function digest(text) {
    const bytes = new TextEncoder().encode(text);
    const hash = await crypto.subtle.digest("SHA-256", bytes);
    return Array.from(new Uint8Array(hash), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // True if this code was answered moments ago (and it is still in view): then it is skipped.
  function seenBefore(key) {
    const now = Date.now();
    if (lastCode && lastCode.key === key && now - lastCode.at < SAME_CODE_MS) {
      lastCode.at = now;
      return true;
    }
    lastCode = { key, at: now };
    return false;
  }

  async function frame() {
    const cam = camera;
    const video = $("video");
    if (!cam || cam.inFlight || busy || Date.now() < cam.pauseUntil || video.readyState < 2 || !video.videoWidth) return;
    cam.inFlight = true;
    try {
      const canvas = grab(video);
      if (cam.detector) {
        let codes = [];
        try { codes = await cam.detector.detect(canvas); } catch (err) { cam.detector = null; return; }
        if (!codes.length || camera !== cam) return;
        const text = codes[0].rawValue;
        if (seenBefore(await digest(text))) return;
        stopCamera();
        busy = true;
        try {
          const r = await verifyText(text);
          if (r.status === 200) await showResults([r.body], true);
          else if (r.status === 401) forgetKey(errorText(r).join(" · "));
          else setStatus(errorText(r), true);
        } finally {
          busy = false;
        }
        return;
      }
      if (onDevice()) {
        const texts = await offline().readCodes(canvas).catch(() => []);
        if (!texts.length || camera !== cam) return;
        if (seenBefore(await digest(texts.join("\n")))) return;
        const r = await deviceAnswers(texts);
        if (camera !== cam) return;
        if (r.status !== 200) { setStatus(errorText(r), true); cam.pauseUntil = Date.now() + 2000; return; }
        stopCamera();
        await showResults(r.body.results || [r.body], true);
        return;
      }
      const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.85));
      if (!blob || camera !== cam) return;
      const r = await verifyPicture(blob, "frame.jpg");
      if (camera !== cam) return;  // stopped while the frame was being read
      if (r.status === 401) { forgetKey(errorText(r).join(" · ")); return; }
      if (r.status !== 200) { setStatus(errorText(r), true); cam.pauseUntil = Date.now() + 2000; return; }
      const list = r.body.results || [r.body];
      if (list.length === 1 && list[0].result === "NO_CODE_FOUND") return;
      if (seenBefore(list.map((x) => x.code_sha256 || x.result).join(","))) return;
      stopCamera();
      await showResults(list, true);
    } finally {
      cam.inFlight = false;
    }
  }

  // -- showing a code (agency, admin) ---------------------------------------------------------

  const SHOW_NOTES = {
    BAD_ID: ["证照编号应为 26 位字母或数字", "A credential id is 26 letters and digits"],
    NOT_FOUND: ["本地区未找到该证照", "No such credential in this region"],
    STATUS_CONFLICT: ["该证照当前不是有效状态，不能出示", "The credential is not valid: it cannot be shown"],
    CREDENTIAL_EXPIRED: ["该电子证照已过期，不能出示", "The e-certificate has expired: it cannot be shown"],
    PRESENTATION_USED: ["出示码已被核验", "The code was verified"],
    EXPIRED: ["出示码已过期，请重新出示", "The code has expired: show a fresh one"],
  };

  function showShowPanel() {
    const allowed = SHOW_ROLES.has(role);
    $("show-panel").hidden = !allowed;
    if (!allowed) { stopShowing(); return; }
    const select = $("show-purpose");
    const any = el("option", null, "任意用途 Any purpose");
    any.value = "";
    select.replaceChildren(any, ...(purposes || []).map((x) => {
      const option = el("option", null, x.name || x.id);
      option.value = x.id;
      return option;
    }));
  }

  function showNote(pair, isError) {
    const note = $("show-status");
    note.className = isError ? "error" : "";
    note.replaceChildren();
    if (pair) note.append(bilingual("span", null, pair));
  }

  const clock = (s) => Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");

  function startShowing(id, holderPurpose) {
    stopShowing();
    showing = { id, purpose: holderPurpose, until: Date.now() + SHOW_FOR_S * 1000, expiresAt: 0,
      refresh: null, tick: null, url: null };
    showNote(["正在生成出示码…", "Making the show code…"]);
    freshCode(showing);
  }

  // Ask for a new code, draw it, and plan the next one (or the end).
  async function freshCode(s) {
    const r = await api("/v1/credentials/" + encodeURIComponent(s.id) + "/presentations", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(s.purpose ? { purpose: s.purpose } : {}),
    });
    if (showing !== s) return;
    if (r.status === 401) { forgetKey(errorText(r).join(" · ")); return; }
    if (r.status !== 201 || !r.body || typeof r.body.qr_png_url !== "string") {
      const code = r.body && r.body.error && r.body.error.code;
      stopShowing();
      showNote(SHOW_NOTES[code] || errorText(r), true);
      return;
    }
    const received = Date.now();
    const lifetime = Math.max(0, Number(r.body.expires_in) || 0);
    let blob = null;
    try {
      const png = await fetch(r.body.qr_png_url, {
        headers: { Authorization: "Bearer " + apiKey }, cache: "no-store", credentials: "omit" });
      if (png.status === 200) blob = await png.blob();
    } catch (err) { blob = null; }
    if (showing !== s) return;
    if (!blob) { stopShowing(); showNote(ERRORS.UNAVAILABLE, true); return; }
    if (s.url) URL.revokeObjectURL(s.url);
    s.url = URL.createObjectURL(blob);
    const img = $("show-qr");
    img.src = s.url;
    img.dataset.tokenId = String(r.body.token_id || "");  // an id, not the code: which one is drawn
    if ($("show-code").hidden) {
      $("show-code").hidden = false;
      $("show-code").scrollIntoView({ block: "nearest" });
    }
    $("show-credential").textContent = s.id + (s.purpose ? " · " + purposeName(s.purpose) : "");
    showNote(null);
    // Counted from the answer's arrival with expires_in, so the two clocks need not agree.
    s.expiresAt = received + lifetime * 1000;
    clearTimeout(s.refresh);
    const next = received + Math.max(1, lifetime - SHOW_REFRESH_BEFORE_S) * 1000;
    s.refresh = next < s.until ? setTimeout(() => freshCode(s), next - received) : null;
    clearInterval(s.tick);
    s.tick = setInterval(() => tick(s), 1000);
    tick(s);
  }

  function tick(s) {
    if (showing !== s) return;
    const left = Math.max(0, Math.ceil((s.expiresAt - Date.now()) / 1000));
    const text = $("show-countdown");
    text.dataset.left = String(left);
    text.replaceChildren("剩余 " + clock(left) + " ", el("small", null, "Valid for " + clock(left)));
    if (left === 0 && !s.refresh) {
      stopShowing();
      showNote(SHOW_NOTES.EXPIRED, false);
    }
  }

  // Removes the code drawn (and the timers behind it) from the page and from memory.
  function stopShowing() {
    const s = showing;
    showing = null;
    if (s) {
      clearTimeout(s.refresh);
      clearInterval(s.tick);
      if (s.url) URL.revokeObjectURL(s.url);
    }
    const img = $("show-qr");
    img.removeAttribute("src");
    delete img.dataset.tokenId;
    $("show-code").hidden = true;
    $("show-countdown").textContent = "";
    $("show-credential").textContent = "";
    showNote(null);
  }

  // -- wiring ---------------------------------------------------------------------------------

  function init() {
    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const key = $("key-input").value.trim();
      $("key-input").value = "";
      if (key) useKey(key);
    });
    $("change-key").addEventListener("click", () => forgetKey(""));
    $("text-form").addEventListener("submit", (event) => {
      event.preventDefault();
      // Base45 has spaces, even at the ends: drop only what a scanner adds (line ends, tabs).
      const text = $("code-input").value.replace(/[\r\n\t]+/g, "");
      $("code-input").value = "";
      if (text) run(() => verifyText(text));
    });
    $("file-input").addEventListener("change", () => {
      const file = $("file-input").files[0];
      if (!file) return;
      if (file.size > MAX_PICTURE) {
        clearResult();
        setStatus(ERRORS.PAYLOAD_TOO_LARGE, true);
        return;
      }
      stopCamera();
      run(() => verifyPicture(file, file.name || "picture"));
    });
    $("camera-button").addEventListener("click", startCamera);
    $("show-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const id = $("show-id").value.trim().toUpperCase();
      if (!/^[A-Z2-7]{26}$/.test(id)) { stopShowing(); showNote(SHOW_NOTES.BAD_ID, true); return; }
      startShowing(id, $("show-purpose").value);
    });
    $("show-stop").addEventListener("click", () => { stopShowing(); $("show-id").value = ""; });
    // Another purpose: an answer on the page was judged for the one before, so it goes.
    $("purpose-select").addEventListener("change", () => {
      purpose = $("purpose-select").value;
      clearResult({ keepStatus: false });
    });
    $("camera-stop").addEventListener("click", () => { stopCamera(); setStatus(null); });
    $("scan-next").addEventListener("click", () => { clearResult({ keepCode: true }); startCamera(); });
    $("clear").addEventListener("click", () => { clearResult(); focusCodeInput(false); });
    // A handheld scanner types wherever the focus is: send its keys to the code box.
    document.addEventListener("keydown", (event) => {
      const target = event.target;
      if ($("scanner").hidden || event.ctrlKey || event.metaKey || event.altKey || event.key.length !== 1) return;
      if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement) return;
      $("code-input").focus();
    });
    // A hidden tab keeps neither the camera nor an answer.
    document.addEventListener("visibilitychange", () => {
      if (document.hidden) { stopCamera(); clearResult(); stopShowing(); }
    });
    if (offline()) {
      offline().onChange(showListsState);
      offline().loaded.then(showListsState);
    }
    if (apiKey) useKey(apiKey); else showKeyPanel("");
  }

  // One line under the purpose: whether the page can answer offline, and its lists' time.
  function showListsState() {
    const o = offline();
    const line = $("lists-state");
    if (!o || !line) return;
    const st = o.state();
    line.dataset.ready = String(st.ready);
    line.dataset.version = st.trust_list_version === null ? "" : String(st.trust_list_version);
    line.dataset.statusLists = String(st.status_lists);
    line.dataset.rootKeyChanged = String(Boolean(st.root_key_changed));
    line.replaceChildren();
    if (st.root_key_changed) {  // the gateway's root is not the one pinned here: its lists are not taken
      line.append(bilingual("span", "root-changed", ["服务器的根密钥与本机固定的不同，名单未更新，请联系管理员",
        "The suite's root key is not the one this device pinned: lists not refreshed, ask the administrator"]), " ");
    }
    if (!st.ready) { line.hidden = !st.root_key_changed; return; }
    const times = [st.trust_list_iat, st.status_as_of].filter(Number.isFinite).map((t) => t * 1000);
    const asOf = chinaTime(oldest(times));
    line.append(bilingual("span", null, asOf ? ["可离线核验 · 名单截至 " + asOf + "（北京时间）", "Ready offline · lists as of " + asOf + " (China time)"]
      : ["可离线核验", "Ready offline"]));
    line.hidden = false;
    o.pending().then((n) => {
      line.dataset.pending = String(n);
      for (const old of line.querySelectorAll(".pending")) old.remove();
      if (n) line.append(" ", bilingual("span", "pending", ["待上传核验记录 " + n + " 条", n + " offline checks to send"]));
    });
  }

  init();
})();
