"""The message catalogue: what an error says, in English and in Chinese.

Plain data and pure functions, no transport. An error's ``code`` is the contract and never
depends on the language; its message is rendered here from a key (the code itself, or a finer
key such as ``field.CHECK_CHARACTER``) and parameters (field names, limits, the schema's allowed
values). The edges pick the language (:func:`negotiate`, from an ``Accept-Language`` header) and
render (:func:`error_message`, :func:`problem_message`); the core only names keys and params
(:class:`ecert.errors.EcertError`, :class:`ecert.errors.FieldProblem`).

No template quotes a value the caller sent, except ``field.BIRTH_DATE_MISMATCH`` (the holder's
own birth date against the one inside their ID number, as an agency issuing for them sees both
anyway); rendered messages go to the caller only, never to a log.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Any

__all__ = ["CATALOGUE", "CONTENT_LANGUAGE", "DEFAULT", "LANGUAGES", "error_message", "negotiate",
           "problem_message", "render"]

LANGUAGES = ("en", "zh")
DEFAULT = "en"
CONTENT_LANGUAGE = {"en": "en", "zh": "zh-CN"}
"""The ``Content-Language`` of an answer in each language."""

_MAX_HEADER = 1024  # an Accept-Language longer than this is read up to here
_MAX_RANGES = 32
_RANGE_RE = re.compile(r"\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)\s*(?:;\s*q\s*=\s*([0-9](?:\.[0-9]{0,3})?))?\s*")


def negotiate(header: str | None) -> str:
    """The answer's language for an ``Accept-Language`` header: ``"zh"`` for ``zh`` and any
    ``zh-*`` range (``zh-CN``, ``zh-Hans``, ...), ``"en"`` for ``en`` / ``en-*``; each language
    takes the q-value of the first range naming it, else that of ``*``; the highest q wins (the
    one listed first on a tie) and ``q=0`` refuses. No header, nothing acceptable, or a
    malformed header: English."""
    if not header:
        return DEFAULT
    named: dict[str, tuple[float, int]] = {}
    wildcard: tuple[float, int] | None = None
    for i, part in enumerate(header[:_MAX_HEADER].split(",")[:_MAX_RANGES]):
        m = _RANGE_RE.fullmatch(part)
        if m is None:
            continue
        q = float(m.group(2)) if m.group(2) else 1.0
        if q > 1.0:
            continue
        primary = m.group(1).lower().split("-", 1)[0]
        if primary == "*":
            wildcard = wildcard or (q, i)
        elif primary in LANGUAGES and primary not in named:
            named[primary] = (q, i)
    best, best_rank = DEFAULT, (0.0, 0)
    for lang in LANGUAGES:
        q, i = named.get(lang) or wildcard or (0.0, 0)
        rank = (q, -i)
        if q > 0 and rank > best_rank:
            best, best_rank = lang, rank
    return best


# ----------------------------------------------------------------------------- the catalogue

CATALOGUE: dict[str, dict[str, str]] = {
    # -- the codes of answers (HTTP and gRPC), each a text of its own
    "INVALID_REQUEST": {"en": "The request is malformed.", "zh": "请求格式不正确。"},
    "INVALID_REQUEST.field": {"en": "The request member {field} is not right.", "zh": "请求中的 {field} 不正确。"},
    "MALFORMED_JSON": {"en": "The body is not a JSON object of UTF-8 text.",
                       "zh": "请求体不是有效的 JSON 对象（须为 UTF-8 文本）。"},
    "MALFORMED_MULTIPART": {"en": "The multipart body is malformed.", "zh": "multipart 请求体格式不正确。"},
    "UNAUTHENTICATED": {"en": "A valid API key is required: Authorization: Bearer KEY.",
                        "zh": "需要有效的 API 密钥（请求头 Authorization: Bearer 密钥）：未提供密钥，"
                              "或密钥无效、已停用或已过期。"},
    "FORBIDDEN": {"en": "The API key's role or region may not do this.",
                  "zh": "当前 API 密钥的角色或所属地区无权执行此操作。"},
    "NOT_FOUND": {"en": "No such object.", "zh": "未找到所请求的内容。"},
    "METHOD_NOT_ALLOWED": {"en": "This method is not allowed here.", "zh": "该地址不支持此请求方法。"},
    "CONFLICT": {"en": "The request conflicts with what is stored.", "zh": "请求与已存储的数据冲突。"},
    "DUPLICATE": {"en": "It exists already.", "zh": "该记录已存在。"},
    "REQUEST_ID_REUSED": {"en": "This request_id was used for another request.",
                          "zh": "该 request_id 已用于另一个内容不同的请求。"},
    "STATUS_CONFLICT": {"en": "The credential's status does not allow this.", "zh": "证照当前的状态不允许此操作。"},
    "REGION_EXISTS": {"en": "The region exists already.", "zh": "该地区已存在。"},
    "KEY_IN_USE": {"en": "The key is still in use.", "zh": "该密钥仍在使用中。"},
    "PAYLOAD_TOO_LARGE": {"en": "The request is over a size limit.", "zh": "请求超出大小限制。"},
    "PAYLOAD_TOO_LARGE.field": {"en": "{field} is over its size limit.", "zh": "{field} 超出大小限制。"},
    "UNSUPPORTED_MEDIA_TYPE": {"en": "The body is not of a supported media type.",
                               "zh": "不支持该请求体的格式（图片格式或 Content-Type 不受支持）。"},
    "UNPROCESSABLE": {"en": "The request is well-formed but against the rules.", "zh": "请求格式正确，但不符合业务规则。"},
    "SCHEMA_INVALID": {"en": "The fields do not satisfy the type's schema.", "zh": "字段不符合该证照类型的要求。"},
    "SCHEMA_INVALID.many": {"en": "{count} fields are invalid (see errors).",
                            "zh": "有 {count} 个字段不符合要求（详见 errors）。"},
    "SCHEMA_MALFORMED": {"en": "The type's schema is malformed.", "zh": "证照类型的 schema 格式不正确。"},
    "FIELDS_INCONSISTENT": {"en": "Fields disagree with each other.", "zh": "部分字段之间不一致。"},
    "FIELDS_INCONSISTENT.pair": {"en": "Fields {field} and {other} disagree.", "zh": "字段 {field} 与 {other} 不一致。"},
    "FIELDS_INCONSISTENT.many": {"en": "{count} pairs of fields disagree (see errors).",
                                 "zh": "有 {count} 处字段不一致（详见 errors）。"},
    "DOCUMENT_EXPIRED": {"en": "The document is past its validity: it is not issued.",
                         "zh": "证件已过有效期，不予签发。"},
    "DOCUMENT_EXPIRED.field": {"en": "The document's {field} is before today (China time): it is not issued.",
                               "zh": "证件的 {field} 早于今天（北京时间），证件已过有效期，不予签发。"},
    "DOCUMENT_NOT_YET_VALID": {"en": "The document is not valid yet: it is not issued.", "zh": "证件尚未生效，不予签发。"},
    "DOCUMENT_NOT_YET_VALID.field": {"en": "The document's {field} is after today (China time): it is not issued.",
                                     "zh": "证件的 {field} 晚于今天（北京时间），证件尚未生效，不予签发。"},
    "TYPE_UNKNOWN": {"en": "Unknown certificate type.", "zh": "未知的证照类型。"},
    "REGION_UNKNOWN": {"en": "Unknown region.", "zh": "未知的地区。"},
    "REGION_UNAVAILABLE": {"en": "The region's service cannot be reached now.", "zh": "该地区的服务暂时无法访问，请稍后重试。"},
    "PURPOSE_UNKNOWN": {"en": "Unknown purpose.", "zh": "未知的核验用途。"},
    "PURPOSE_NOT_ALLOWED": {"en": "This role may not verify for that purpose.", "zh": "当前角色不能以该用途进行核验。"},
    "PRESENTATION_USED": {"en": "The show code was used already.", "zh": "该出示码已被使用。"},
    "PRESENTATION_EXPIRED": {"en": "The show code has expired.", "zh": "该出示码已过期。"},
    "CREDENTIAL_EXPIRED": {"en": "The credential has expired.", "zh": "该证照已过期。"},
    "PHOTO_UNKNOWN": {"en": "No such photo.", "zh": "未找到该照片。"},
    "PHOTO_TOO_SMALL": {"en": "The photo is too small.", "zh": "照片尺寸过小。"},
    "PHOTO_NOT_PORTRAIT": {"en": "The photo is not a portrait.", "zh": "照片不是竖幅证件照。"},
    "PHOTO_NOT_ON_FILE": {"en": "No photo is on file for this person.", "zh": "未找到此人的存档照片。"},
    "PHOTO_MISMATCH": {"en": "The photo is not the one on file for this person.", "zh": "照片与此人存档的照片不一致。"},
    "IMAGE_CORRUPT": {"en": "The picture cannot be read.", "zh": "图片已损坏，无法读取。"},
    "NO_CODE_FOUND": {"en": "No code was found in the picture.", "zh": "图片中未找到二维码。"},
    "SIGNING_KEY_UNAVAILABLE": {"en": "No signing key may sign now.", "zh": "当前没有可用的签名密钥。"},
    "TRAIL_UNAVAILABLE": {"en": "The audit trail is unavailable.", "zh": "审计记录服务暂时不可用，请稍后重试。"},
    "TRAIL_BUSY": {"en": "The audit trail is busy.", "zh": "审计记录服务繁忙，请稍后重试。"},
    "BUSY": {"en": "The service is busy; try again.", "zh": "服务繁忙，请稍后重试。"},
    "UNAVAILABLE": {"en": "A backend service is unavailable; try again later.", "zh": "后端服务暂时不可用，请稍后重试。"},
    "STORE_UNAVAILABLE": {"en": "The store is unavailable; try again later.", "zh": "数据存储暂时不可用，请稍后重试。"},
    "BACKEND_OUTDATED": {"en": "A backend service does not offer this call yet.", "zh": "后端服务版本过旧，暂不支持此调用。"},
    "CONFIG_INVALID": {"en": "The service is misconfigured.", "zh": "服务配置有误，请联系运维人员。"},
    "INTERNAL": {"en": "Internal error.", "zh": "服务器内部错误。"},
    "HTTP_ERROR": {"en": "The request failed.", "zh": "请求失败。"},
    "TOO_MANY_REQUESTS": {"en": "Too many requests; try again after Retry-After seconds.",
                          "zh": "请求过于频繁，或本地址的 API 密钥验证失败次数过多，请在 Retry-After 指定的秒数后重试。"},
    "QUOTA_EXCEEDED": {"en": "The API key's quota is used up; try again after Retry-After seconds.",
                       "zh": "该 API 密钥的配额已用完，请在 Retry-After 指定的秒数后重试。"},
    "QUOTA_EXCEEDED.per_minute": {"en": "This API key's quota of {limit} requests a minute is used up; try again in "
                                        "{retry_after} s.",
                                  "zh": "该 API 密钥每分钟 {limit} 次请求的配额已用完，请在 {retry_after} 秒后重试。"},
    "QUOTA_EXCEEDED.per_day": {"en": "This API key's quota of {limit} requests a day (China time) is used up; try "
                                     "again in {retry_after} s.",
                               "zh": "该 API 密钥每天（北京时间）{limit} 次请求的配额已用完，请在 {retry_after} 秒后重试。"},
    "STATUS_LIST_INVALID": {"en": "The status list is invalid.", "zh": "状态列表无效。"},
    "TRUST_LIST_INVALID": {"en": "The trust list is invalid.", "zh": "信任列表无效。"},
    # -- verification outcomes, when one is an error answer (a code that cannot be read, ...)
    "FORMAT_INVALID": {"en": "The code cannot be read.", "zh": "无法读取该二维码内容。"},
    "PREFIX_UNKNOWN": {"en": "The text does not start with a known prefix.", "zh": "该内容不是可识别的电子证照二维码。"},
    "BASE45_INVALID": {"en": "The code is not valid Base45.", "zh": "二维码内容不是有效的 Base45 编码。"},
    "DECOMPRESS_FAILED": {"en": "The code cannot be decompressed.", "zh": "二维码内容无法解压。"},
    "COSE_MALFORMED": {"en": "The signed object is malformed.", "zh": "签名数据格式不正确。"},
    "ALG_NOT_ALLOWED": {"en": "The signature algorithm is not allowed.", "zh": "不允许使用该签名算法。"},
    "KID_UNKNOWN": {"en": "The signing key is unknown.", "zh": "签名密钥未知。"},
    "SIGNATURE_INVALID": {"en": "The signature does not verify.", "zh": "签名验证失败。"},
    "KEY_REVOKED": {"en": "The signing key is revoked.", "zh": "签名密钥已被吊销。"},
    "KEY_NOT_VALID_AT_IAT": {"en": "The signing key was not valid when the credential was issued.",
                             "zh": "签发时签名密钥不在有效期内。"},
    "CLAIMS_MALFORMED": {"en": "The credential's contents are malformed.", "zh": "证照内容格式不正确。"},
    "ISSUER_MISMATCH": {"en": "The issuer is not the signing key's region.", "zh": "签发方与签名密钥所属地区不一致。"},
    "NOT_YET_VALID": {"en": "The credential is not valid yet.", "zh": "证照尚未生效。"},
    "EXPIRED": {"en": "The credential has expired.", "zh": "证照已过期。"},
    "REVOKED": {"en": "The credential is revoked.", "zh": "证照已被吊销。"},
    "SUSPENDED": {"en": "The credential is suspended.", "zh": "证照已被暂停使用。"},
    "NOT_ACCEPTED_FOR_PURPOSE": {"en": "The credential is not accepted for this purpose.", "zh": "该证照不适用于此用途。"},
    "TOKEN_ALREADY_USED": {"en": "The token was used already.", "zh": "该令牌已被使用。"},

    # -- the items of errors[] (and single-field errors): {field} is the field's name
    "field.REQUIRED": {"en": "{field} is required", "zh": "缺少必填字段 {field}"},
    "field.NOT_ALLOWED": {"en": "{field} is not a field of this type", "zh": "{field} 不是该证照类型的字段"},
    "field.WRONG_TYPE": {"en": "{field} must be {type}", "zh": "{field} 必须是{type}"},
    "field.TOO_LONG": {"en": "{field} must be at most {max} characters long", "zh": "{field} 最多 {max} 个字符"},
    "field.TOO_SHORT": {"en": "{field} must be at least {min} characters long", "zh": "{field} 至少 {min} 个字符"},
    "field.TOO_MANY": {"en": "{field} holds at most {max} entries", "zh": "{field} 最多 {max} 项"},
    "field.ABOVE_MAXIMUM": {"en": "{field} must be at most {max}", "zh": "{field} 不得大于 {max}"},
    "field.ABOVE_MAXIMUM.exclusive": {"en": "{field} must be less than {max}", "zh": "{field} 必须小于 {max}"},
    "field.BELOW_MINIMUM": {"en": "{field} must be at least {min}", "zh": "{field} 不得小于 {min}"},
    "field.BELOW_MINIMUM.exclusive": {"en": "{field} must be more than {min}", "zh": "{field} 必须大于 {min}"},
    "field.OUT_OF_RANGE": {"en": "{field} must be from {min} to {max}", "zh": "{field} 必须在 {min} 到 {max} 之间"},
    "field.PATTERN": {"en": "{field} does not have the form this type requires (pattern {pattern})",
                      "zh": "{field} 的格式不符合要求（须匹配 {pattern}）"},
    "field.ENUM": {"en": "{field} must be one of: {options}", "zh": "{field} 必须是以下之一：{options}"},
    "field.CONST": {"en": "{field} must be {value}", "zh": "{field} 必须是 {value}"},
    "field.FORMAT": {"en": "{field} is not a valid {format}", "zh": "{field} 不是有效的 {format}"},
    "field.NO_FORM": {"en": "{field} matches none of the forms this type allows",
                      "zh": "{field} 不符合该证照类型允许的任何一种形式"},
    "field.INVALID_DATE": {"en": "{field} must be a real date written YYYY-MM-DD",
                           "zh": "{field} 必须是真实存在的日期，格式为 YYYY-MM-DD"},
    "field.INVALID_DATE.or": {"en": "{field} must be a real date written YYYY-MM-DD, or {options}",
                              "zh": "{field} 必须是格式为 YYYY-MM-DD 的真实日期，或者为 {options}"},
    "field.INVALID": {"en": "{field} is not valid", "zh": "{field} 不符合要求"},
    "field.DATE_ORDER": {"en": "{field} must not be before {earlier}", "zh": "{field} 不得早于 {earlier}"},
    # identifiers (cn-citizen-id, cn-uscc, cn-plate, cn-driving-classes)
    "field.LENGTH": {"en": "{field} must be {expected} characters long, not {actual}",
                     "zh": "{field} 应为 {expected} 位，实际为 {actual} 位"},
    "field.LENGTH.cn-plate": {"en": "{field} must be 7 or 8 characters long (without · or spaces), not {actual}",
                              "zh": "{field} 应为 7 位或 8 位（不含“·”和空格），实际为 {actual} 位"},
    "field.CHARACTERS.cn-citizen-id": {"en": "{field} may hold only digits, and X as its last character",
                                       "zh": "{field} 只能由数字组成，最后一位可以是 X"},
    "field.CHARACTERS.lower-x": {"en": "{field}: the check character X must be upper case",
                                 "zh": "{field} 的校验码 X 必须大写"},
    "field.CHARACTERS.cn-uscc": {"en": "{field} may hold only digits and the capital letters A-Z other than "
                                       "I, O, S, V and Z",
                                 "zh": "{field} 只能由数字和大写字母组成（不含 I、O、S、V、Z）"},
    "field.CHARACTERS.cn-uscc-area": {"en": "{field}: characters 3 to 8 (the area code) must be digits",
                                      "zh": "{field} 的第 3 至 8 位（行政区划码）必须是数字"},
    "field.CHECK_CHARACTER": {"en": "{field}: the check character should be {expected}, not {actual}",
                              "zh": "{field} 的校验码有误：应为 {expected}，实际为 {actual}"},
    "field.REGION_CODE": {"en": "{field}: the first two digits are not a province code of GB/T 2260",
                          "zh": "{field} 的前两位不是有效的省级行政区划代码（GB/T 2260）"},
    "field.BIRTH_DATE_INVALID": {"en": "{field}: characters 7 to 14 are not a real date of birth "
                                       "(YYYYMMDD, 1900 to 2100)",
                                 "zh": "{field} 的第 7 至 14 位不是真实存在的出生日期（YYYYMMDD，1900 至 2100 年）"},
    "field.PLATE_PROVINCE": {"en": "{field} must start with a province abbreviation such as 京 or 沪",
                             "zh": "{field} 必须以省级简称开头，如“京”“沪”"},
    "field.PLATE_OFFICE": {"en": "{field}: the second character must be a capital letter other than I and O",
                           "zh": "{field} 的第二位必须是大写字母（不含 I 和 O）"},
    "field.PLATE_FORMAT": {"en": "{field} fits no plate form (5 letters or digits without I and O; new-energy "
                                 "D/F forms; or 4 and 学, 警, 挂, 港 or 澳)",
                           "zh": "{field} 不符合任何号牌格式（5 位字母或数字，不含 I 和 O；新能源 D/F 格式；"
                                 "或 4 位加“学”“警”“挂”“港”“澳”）"},
    "field.DRIVING_CLASS_UNKNOWN": {"en": "{field} must be driving classes among A1 A2 A3 B1 B2 C1-C6 D E F M N P, "
                                          "written together (e.g. C1 or A2D)",
                                    "zh": "{field} 必须由准驾车型 A1 A2 A3 B1 B2 C1-C6 D E F M N P 连写组成"
                                          "（如 C1、A2D）"},
    "field.DRIVING_CLASS_REPEATED": {"en": "{field} names a driving class twice", "zh": "{field} 中的准驾车型重复"},
    # fields that disagree (x-consistency)
    "field.BIRTH_DATE_MISMATCH": {"en": "{field}: birth date {given} does not match the ID number's {from_id} "
                                        "({id_field})",
                                  "zh": "{field} 为 {given}，与身份证号码（{id_field}）中的出生日期 {from_id} 不一致"},
    "field.SEX_MISMATCH": {"en": "{field} does not match the sex within {id_field}",
                           "zh": "{field} 与身份证号码（{id_field}）中的性别不一致"},
    "field.UNDER_AGE": {"en": "{field} must not be before the holder's birthday {years} years after {birth_field}",
                        "zh": "{field} 不得早于持证人年满 {years} 周岁之日（按 {birth_field} 计算）"},
    # request members the gateway and the services check
    "field.PHOTO_DIGEST": {"en": "{field} must be a photo's SHA-256, 64 hex digits",
                           "zh": "{field} 必须是照片的 SHA-256 摘要（64 位十六进制）"},
    "field.TYPE_ID": {"en": "{field} must be a dotted lower-case type id, e.g. cn.driving_licence",
                      "zh": "{field} 必须是以点分隔的小写类型标识，如 cn.driving_licence"},
    "field.REGION_FORMAT": {"en": "{field} must be an ISO 3166-2 code such as CN-ZJ",
                            "zh": "{field} 必须是 ISO 3166-2 地区代码，如 CN-ZJ"},
    "field.ENDPOINT": {"en": "{field} must be host:port", "zh": "{field} 必须是 host:port 形式"},
    "field.TOO_BIG": {"en": "{field} is over {max} bytes", "zh": "{field} 超过 {max} 字节"},
    "field.NOT_JSON": {"en": "{field} is not JSON", "zh": "{field} 不是有效的 JSON"},
}
"""Key -> ``{"en": template, "zh": template}``; templates take ``str.format`` params."""

_BY_STATUS = {400: "INVALID_REQUEST", 401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND",
              405: "METHOD_NOT_ALLOWED", 409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE",
              422: "UNPROCESSABLE", 429: "TOO_MANY_REQUESTS", 500: "INTERNAL", 503: "UNAVAILABLE"}

_TYPE_NAMES = {"string": ("text", "文本"), "integer": ("an integer", "整数"), "number": ("a number", "数字"),
               "boolean": ("true or false", "布尔值（true 或 false）"), "object": ("an object", "对象"),
               "array": ("a list", "列表"), "null": ("null", "null")}
_MAX_PARAM = 120  # a rendered parameter longer than this is cut


def _shown(value: Any, lang: str, name: str) -> str:
    if name == "type":
        names = value if isinstance(value, list) else [value]
        words = [_TYPE_NAMES.get(str(n), (str(n), str(n)))[LANGUAGES.index(lang)] for n in names]
        return (" or " if lang == "en" else "或").join(words)
    if isinstance(value, (list, tuple)):
        text = ("、" if lang == "zh" else ", ").join(map(str, value))
    else:
        text = str(value)
    return text if len(text) <= _MAX_PARAM else text[:_MAX_PARAM - 3] + "..."


def render(key: str | None, params: Mapping[str, Any], lang: str) -> str | None:
    """Message ``key`` in ``lang`` with ``params``; None when the key is unknown or a param it
    names is missing (the caller falls back to a coarser text)."""
    entry = CATALOGUE.get(key or "")
    if entry is None:
        return None
    template = entry.get(lang) or entry[DEFAULT]
    names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    if not names <= params.keys():
        return None
    shown = {name: _shown(params[name], lang, name) for name in names}
    title = params.get("title")
    if lang == "zh" and "field" in shown and isinstance(title, str) and title and title != params["field"]:
        shown["field"] = f"{shown['field']}（{_shown(title, lang, 'title')}）"  # sex（性别）: the schema's title
        template = template.replace("{field} ", "{field}")  # no space after a full-width bracket
    return template.format(**shown)


def error_message(code: str, lang: str, *, english: str = "", key: str | None = None,
                  params: Mapping[str, Any] | None = None, field: str | None = None, status: int = 0) -> str:
    """An error answer's ``message`` in ``lang``.

    English: the error's own text (``english``) when it has one, else the catalogue's. Other
    languages: the catalogue's ``key`` with ``params``, else the code's text naming the field
    (``CODE.field``), else the code's text, else the text of the HTTP ``status``'s code: a code
    the catalogue lacks still answers in the caller's language, never in English."""
    params = dict(params or {})
    if field and "field" not in params:
        params["field"] = field
    if lang == DEFAULT and english:
        return english
    for candidate in (key, f"{code}.field" if field else None, code, _BY_STATUS.get(status), "HTTP_ERROR"):
        if candidate:
            text = render(candidate, params, lang)
            if text is not None:
                return text
    return english or code  # unreachable: HTTP_ERROR takes no params


def problem_message(field: str, code: str, params: Mapping[str, Any], lang: str, key: str = "") -> str:
    """The message of one ``errors[]`` item."""
    full = {**params, "field": field}
    return (render(key or f"field.{code}", full, lang) or render(f"field.{code}", full, lang)
            or render("field.INVALID", full, lang) or field)
