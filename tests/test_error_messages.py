"""Issue 14, item 4: errors people can act on, in Chinese and English.

Accept-Language negotiation, the message catalogue (a Chinese text for every code the gateway can
answer), every schema failure at once (``errors[]``, across gRPC from the issuer), identifier
checks that say what is wrong, and nothing personal in the logs.
"""

from __future__ import annotations

import logging
import random
import re
from pathlib import Path

import grpc
import pytest

from ecert import errors, messages
from ecert.errors import MAX_PROBLEMS, EcertError, FieldProblem, Outcome, RuleViolation
from ecert.rpc import status
from ecert.rules import identifiers
from ecert.rules.catalogue import builtin_types
from ecert.rules.schema import TypeSchema
from gateway.errors import CODES_BY_STATUS
from testkit.samples import SAMPLES, citizen_id

TYPES = {t["id"]: TypeSchema(t["id"], t["version"], t["name"], t["schema"], t["disclosure"]) for t in builtin_types()}
ROOT = Path(__file__).resolve().parent.parent
CJK = re.compile("[\u4e00-\u9fff]")
LICENCE = "cn.driving_licence"
# A holder born 1985-06-12 (inside the number); the birth_date field says 1970-01-01.
BORN_1985 = citizen_id("31010419850612123")
WRONG_CHECK = "330106199003071237"  # its check character should be 6


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# --------------------------------------------------------------------------- Accept-Language

@pytest.mark.parametrize(("header", "lang"), [
    (None, "en"), ("", "en"), ("zh", "zh"), ("zh-CN", "zh"), ("zh-Hans", "zh"), ("zh-Hans-CN", "zh"),
    ("ZH-tw", "zh"), ("en", "en"), ("en-GB", "en"), ("de", "en"), ("*", "en"),
    ("en-US,zh;q=0.9", "en"), ("zh;q=0.9, en-US", "en"),       # no q is 1.0
    ("fr;q=1, zh-CN;q=0.8, en;q=0.5", "zh"), ("zh;q=0.1, en;q=0.2", "en"), ("en;q=0.2, zh;q=0.3", "zh"),
    ("zh;q=0", "en"), ("zh;q=0, *", "en"), ("*;q=0.5, zh;q=0", "en"), ("en;q=0, zh;q=0.1", "zh"),
    ("en;q=0, *;q=0.4", "zh"),                                   # * stands for the languages not named
    ("zh, en", "zh"), ("en, zh", "en"),                          # a tie: the one listed first
    ("zh;q=1.5, en;q=0.3", "en"),                                # an impossible q: that range is ignored
    ("garbage;;;, zh-CN", "zh"), (";q=1", "en"), ("zh-CN;q=abc", "en"),
    ("x" * 5000 + ", zh", "en"),                                 # read only so far
])
def test_accept_language_is_negotiated_with_q_values(header, lang):
    assert messages.negotiate(header) == lang


# --------------------------------------------------------------------------- the catalogue

def _answerable_codes() -> set[str]:
    """Every code an error answer of the gateway can carry: the error classes', the outcomes
    (a verification failing as an error), aiohttp's statuses, and every code named in the source."""
    codes: set[str] = set()
    todo = [EcertError]
    while todo:
        cls = todo.pop()
        codes.add(cls.code)
        todo += cls.__subclasses__()
    codes |= {o.value for o in Outcome if o is not Outcome.VALID}
    codes |= set(CODES_BY_STATUS.values()) | {"HTTP_ERROR", "INTERNAL", "QUOTA_EXCEEDED", "BACKEND_OUTDATED"}
    for top in ("ecert", "services", "gateway"):
        for path in (ROOT / top).rglob("*.py"):
            codes |= set(re.findall(r'\bcode="([A-Z][A-Z0-9_]+)"', path.read_text(encoding="utf-8")))
    return codes


def test_every_code_the_gateway_can_answer_has_a_chinese_text():
    codes = _answerable_codes()
    assert {"SCHEMA_INVALID", "FIELDS_INCONSISTENT", "REGION_UNAVAILABLE", "KID_UNKNOWN"} <= codes
    missing = sorted(c for c in codes if c not in messages.CATALOGUE)
    assert not missing
    for code in codes:
        zh = messages.error_message(code, "zh")
        assert CJK.search(zh), code
        assert messages.error_message(code, "en") and not CJK.search(messages.CATALOGUE[code]["en"]), code


def test_every_template_renders_in_both_languages():
    for key, entry in messages.CATALOGUE.items():
        assert set(entry) == {"en", "zh"}, key
        names = set(re.findall(r"{(\w+)}", entry["en"]))
        assert names == set(re.findall(r"{(\w+)}", entry["zh"])), key
        params = {name: 7 for name in names}
        assert "{" not in messages.render(key, params, "zh") and CJK.search(messages.render(key, params, "zh")), key
        assert messages.render(key, {}, "en") is None or not names, key  # a param missing: no half text


def test_a_code_without_a_text_of_its_own_still_answers_in_chinese():
    assert messages.error_message("NO_SUCH_CODE", "zh", english="whatever", status=409) == "请求与已存储的数据冲突。"
    assert messages.error_message("NO_SUCH_CODE", "zh", english="whatever") == "请求失败。"
    assert messages.error_message("NO_SUCH_CODE", "en", english="whatever") == "whatever"
    # A field-level InvalidRequest without a key of its own names the field in Chinese too.
    assert messages.error_message("INVALID_REQUEST", "zh", english="x", field="region") == "请求中的 region 不正确。"


# --------------------------------------------------------------------------- identifiers

@pytest.mark.parametrize(("fmt", "value", "code", "en", "zh"), [
    ("cn-citizen-id", WRONG_CHECK, "CHECK_CHARACTER", "id_number: the check character should be 6, not 7",
     "id_number 的校验码有误：应为 6，实际为 7"),
    ("cn-citizen-id", WRONG_CHECK[:17], "LENGTH", "id_number must be 18 characters long, not 17",
     "id_number 应为 18 位，实际为 17 位"),
    ("cn-citizen-id", WRONG_CHECK[:17] + "x", "CHARACTERS", "id_number: the check character X must be upper case",
     "id_number 的校验码 X 必须大写"),
    ("cn-citizen-id", "33010619900307A236", "CHARACTERS", "id_number may hold only digits, and X as its last character",
     "id_number 只能由数字组成，最后一位可以是 X"),
    ("cn-citizen-id", citizen_id("99010619900307123"), "REGION_CODE",
     "id_number: the first two digits are not a province code of GB/T 2260", "省级行政区划代码"),
    ("cn-citizen-id", citizen_id("33010619900230123"), "BIRTH_DATE_INVALID",
     "id_number: characters 7 to 14 are not a real date of birth (YYYYMMDD, 1900 to 2100)", "出生日期"),
    ("cn-uscc", "91310115MA1K3Y5B22", "CHECK_CHARACTER", "id_number: the check character should be 1, not 2",
     "校验码有误：应为 1，实际为 2"),
    ("cn-uscc", "91310115MA1K3Y5BI1", "CHARACTERS", None, "不含 I、O、S、V、Z"),
    ("cn-uscc", "9131A115MA1K3Y5B21", "CHARACTERS", "id_number: characters 3 to 8 (the area code) must be digits",
     "行政区划码"),
    ("cn-plate", "沪I12345", "PLATE_OFFICE", None, "第二位必须是大写字母"),
    ("cn-plate", "XA12345", "PLATE_PROVINCE", None, "省级简称"),
    ("cn-plate", "沪A123", "LENGTH", "id_number must be 7 or 8 characters long (without · or spaces), not 5", "5 位"),
    ("cn-plate", "沪A1234I", "PLATE_FORMAT", None, "号牌格式"),
    ("cn-driving-classes", "C7", "DRIVING_CLASS_UNKNOWN", None, "准驾车型"),
    ("cn-driving-classes", "C1DC1", "DRIVING_CLASS_REPEATED", "id_number names a driving class twice", "重复"),
    ("date", "2023-02-29", "INVALID_DATE", "id_number must be a real date written YYYY-MM-DD", "YYYY-MM-DD"),
])
def test_identifier_checks_say_what_is_wrong(fmt, value, code, en, zh):
    found = identifiers.what_is_wrong(fmt, value)
    assert found is not None and found[0] == code
    _, params, key = found
    if en is not None:
        assert messages.problem_message("id_number", code, params, "en", key) == en
    text = messages.problem_message("id_number", code, params, "zh", key)
    assert zh in text and "id_number" in text
    assert value not in messages.problem_message("id_number", code, params, "en", key)  # never the value


@pytest.mark.parametrize(("diagnose", "valid", "alphabet", "length"), [
    (identifiers.citizen_id_problem, identifiers.citizen_id_valid, "0123456789Xx", 18),
    (identifiers.uscc_problem, identifiers.uscc_valid, "0123456789ABCDEFGHJKLMNPQRTUWXYIOSVZ", 18),
    (identifiers.plate_problem, identifiers.plate_valid, "沪京A1D学IO", 7),
    (identifiers.driving_classes_problem, identifiers.driving_classes_valid, "ABCDEFMNP1234567", 4),
])
def test_a_diagnosis_exists_exactly_for_what_the_check_refuses(diagnose, valid, alphabet, length):
    rng = random.Random(14)
    seeds = [citizen_id("33010619900307123"), "91310115MA1K3Y5B21", "沪A8K123", "C1D"]
    refused = 0
    for _ in range(3000):
        if rng.random() < 0.5:  # a valid value with one character changed, dropped or added
            s = list(rng.choice(seeds))
            i = rng.randrange(len(s))
            op = rng.randrange(3)
            if op == 0:
                s[i] = rng.choice(alphabet)
            elif op == 1:
                del s[i]
            else:
                s.insert(i, rng.choice(alphabet))
            text = "".join(s)
        else:
            text = "".join(rng.choice(alphabet) for _ in range(rng.choice((length - 1, length, length + 1))))
        found = diagnose(text)
        assert (found is None) == valid(text), text
        refused += found is not None
        if found is not None:
            assert messages.render(found[2] or f"field.{found[0]}", {**found[1], "field": "f"}, "zh"), found
    assert 0 < refused < 3000


# --------------------------------------------------------------------------- all failures at once

def test_twelve_missing_fields_are_twelve_problems_in_the_schemas_order():
    ts = TYPES[LICENCE]
    given = {"name": "王小明"}
    with pytest.raises(RuleViolation) as info:
        ts.validate(given)
    err = info.value
    required = [f for f in ts.schema["properties"] if f in ts.schema["required"] and f not in given]
    assert len(required) == 12
    assert err.code == "SCHEMA_INVALID" and [p.field for p in err.problems] == required
    assert {p.code for p in err.problems} == {"REQUIRED"}
    assert err.message.startswith("12 fields are invalid") and err.params == {"count": 12}
    assert messages.error_message(err.code, "zh", key=err.key, params=err.params) == "有 12 个字段不符合要求（详见 errors）。"
    assert messages.problem_message("sex", "REQUIRED", err.problems[-3].params, "zh") == "缺少必填字段 sex（性别）"
    assert messages.problem_message("sex", "ENUM", {"options": ["男", "女"], "title": "性别"}, "zh") == \
        "sex（性别）必须是以下之一：男、女"


def test_every_kind_of_failure_has_its_item_code():
    ts = TYPES[LICENCE]
    fields = {**SAMPLES[LICENCE], "id_number": WRONG_CHECK, "sex": "M", "name": "", "points": "3",
              "licence_class": "C1C1", "valid_until": "2036-02-30", "no_such": 1, "file_number": "x" * 300}
    with pytest.raises(RuleViolation) as info:
        ts.validate(fields)
    got = {p.field: p.code for p in info.value.problems}
    assert got == {"id_number": "CHECK_CHARACTER", "sex": "ENUM", "name": "TOO_SHORT", "points": "WRONG_TYPE",
                   "licence_class": "DRIVING_CLASS_REPEATED", "valid_until": "INVALID_DATE", "no_such": "NOT_ALLOWED",
                   "file_number": got["file_number"]}
    assert got["file_number"] in ("TOO_LONG", "PATTERN")
    for p in info.value.problems:
        for lang in ("en", "zh"):
            text = messages.problem_message(p.field, p.code, p.params, lang, p.key)
            assert p.field in text and WRONG_CHECK not in text and "x" * 300 not in text
    assert info.value.blamed == tuple(got)  # fields: every one to blame


def test_fields_that_disagree_say_how_in_the_item_only():
    ts = TYPES[LICENCE]
    fields = {**SAMPLES[LICENCE], "id_number": BORN_1985, "birth_date": "1970-01-01", "sex": "女"}
    ts.validate(fields)
    with pytest.raises(RuleViolation) as info:
        ts.document.check_issuance(fields, 1_800_000_000)
    err = info.value
    assert err.code == "FIELDS_INCONSISTENT" and [p.code for p in err.problems] == ["BIRTH_DATE_MISMATCH", "SEX_MISMATCH"]
    assert err.blamed == ("id_number", "birth_date", "sex")
    birth = err.problems[0]
    assert messages.problem_message(birth.field, birth.code, birth.params, "en") == \
        "birth_date: birth date 1970-01-01 does not match the ID number's 1985-06-12 (id_number)"
    assert messages.problem_message(birth.field, birth.code, birth.params, "zh") == \
        "birth_date 为 1970-01-01，与身份证号码（id_number）中的出生日期 1985-06-12 不一致"
    assert messages.problem_message(birth.field, birth.code, {**birth.params, "title": "出生日期"}, "zh") == \
        "birth_date（出生日期）为 1970-01-01，与身份证号码（id_number）中的出生日期 1985-06-12 不一致"
    for text in (err.message, messages.error_message(err.code, "zh", key=err.key, params=err.params)):
        assert "1970" not in text and "1985" not in text and BORN_1985 not in text  # the log-safe text


# --------------------------------------------------------------------------- across gRPC

def _round_trip(err: EcertError) -> EcertError:
    md = grpc.aio.Metadata(*status.trailers(err))
    return status.from_rpc_error(grpc.aio.AioRpcError(status.to_grpc(err), grpc.aio.Metadata(), md, err.message))


def test_the_problems_cross_grpc_with_key_and_params():
    with pytest.raises(RuleViolation) as info:
        TYPES[LICENCE].validate({"name": "王小明", "id_number": WRONG_CHECK})
    back = _round_trip(info.value)
    assert isinstance(back, RuleViolation) and back.code == "SCHEMA_INVALID" and back.message == info.value.message
    assert back.key == "SCHEMA_INVALID.many" and back.params == {"count": 12}
    assert back.problems == info.value.problems and back.blamed == info.value.blamed
    single = _round_trip(errors.InvalidRequest("valid_days must be 1..3650", field="valid_days",
                                               key="field.OUT_OF_RANGE", params={"min": 1, "max": 3650}))
    assert (single.key, single.params, single.problems) == ("field.OUT_OF_RANGE", {"min": 1, "max": 3650}, ())


def test_the_grpc_detail_is_bounded_and_garbage_is_ignored():
    many = tuple(FieldProblem(f"field_{i:03d}_{'x' * 40}", "REQUIRED", {"title": "标题" * 10}) for i in range(200))
    err = RuleViolation("200 fields are invalid", code="SCHEMA_INVALID", key="SCHEMA_INVALID.many",
                        params={"count": 200}, problems=many)
    assert len(err.problems) == MAX_PROBLEMS
    detail = dict(status.trailers(err))[status.DETAIL_TRAILER]
    assert len(detail) <= status.MAX_DETAIL_BYTES
    back = _round_trip(err)
    assert 0 < len(back.problems) < MAX_PROBLEMS and back.problems == err.problems[:len(back.problems)]
    assert back.params == {"count": 200}  # the message still says how many there were
    for junk in (b"\xff\xfe", b"[1,2]", b'{"k": 5, "p": [1], "e": [[1, 2, 3, 4], "x"]}', b"{" * 5000):
        md = grpc.aio.Metadata((status.CODE_TRAILER, "SCHEMA_INVALID"), (status.DETAIL_TRAILER, junk))
        got = status.from_rpc_error(grpc.aio.AioRpcError(grpc.StatusCode.FAILED_PRECONDITION, grpc.aio.Metadata(),
                                                         md, "bad"))
        assert got.code == "SCHEMA_INVALID" and got.key is None and got.problems == ()


# --------------------------------------------------------------------------- over the real gateway and issuer

pytestmark_e2e = pytest.mark.asyncio(loop_scope="session")


async def _issue(http, keys, fields, lang=None, type_id=LICENCE):
    headers = bearer(keys["agency_sh"])
    if lang:
        headers["Accept-Language"] = lang
    r = await http.post("/v1/credentials", headers=headers, json={"region": "CN-SH", "type": type_id, "fields": fields})
    return r, await r.json()


@pytestmark_e2e
async def test_twelve_missing_fields_answer_twelve_items_in_chinese_and_english(http, keys):
    for lang, summary, sex in ((None, "12 fields are invalid", "sex is required"),
                               ("zh-CN,zh;q=0.9,en;q=0.8", "有 12 个字段不符合要求（详见 errors）。", "缺少必填字段 sex（性别）")):
        r, body = await _issue(http, keys, {"name": "王小明"}, lang)
        assert r.status == 422 and r.headers["Content-Language"] == ("zh-CN" if lang else "en")
        assert "Accept-Language" in r.headers["Vary"]
        err = body["error"]
        assert err["code"] == "SCHEMA_INVALID" and err["message"].startswith(summary) and err["request_id"]
        assert len(err["errors"]) == 12 and {e["code"] for e in err["errors"]} == {"REQUIRED"}
        assert {e["field"] for e in err["errors"]} == set(TYPES[LICENCE].schema["required"]) - {"name"}
        assert next(e["message"] for e in err["errors"] if e["field"] == "sex") == sex
        assert set(err["errors"][0]) == {"field", "code", "message"}


@pytestmark_e2e
async def test_identifier_and_agreement_failures_say_what_is_wrong_over_the_gateway(http, keys, caplog):
    caplog.set_level(logging.DEBUG)
    r, body = await _issue(http, keys, {**SAMPLES[LICENCE], "id_number": WRONG_CHECK}, "zh")
    assert r.status == 422 and body["error"]["code"] == "SCHEMA_INVALID"
    assert body["error"]["message"] == f"id_number（{TYPES[LICENCE].schema['properties']['id_number']['title']}）" \
        "的校验码有误：应为 6，实际为 7"
    assert body["error"]["errors"][0]["code"] == "CHECK_CHARACTER"
    r, body = await _issue(http, keys, {**SAMPLES[LICENCE], "id_number": WRONG_CHECK}, "en")
    assert body["error"]["message"] == "id_number: the check character should be 6, not 7"
    r, body = await _issue(http, keys, {**SAMPLES[LICENCE], "id_number": BORN_1985, "birth_date": "1970-01-01"})
    err = body["error"]
    assert r.status == 422 and err["code"] == "FIELDS_INCONSISTENT" and err["fields"] == ["id_number", "birth_date"]
    assert "1970" not in err["message"] and BORN_1985 not in err["message"]
    assert err["errors"] == [{"field": "birth_date", "code": "BIRTH_DATE_MISMATCH", "message":
                              "birth_date: birth date 1970-01-01 does not match the ID number's 1985-06-12 (id_number)"}]
    r, body = await _issue(http, keys, {**SAMPLES[LICENCE], "id_number": BORN_1985, "birth_date": "1970-01-01"}, "zh")
    assert body["error"]["message"] == "字段 id_number 与 birth_date 不一致。"
    assert "1985-06-12" in body["error"]["errors"][0]["message"]
    logged = "\n".join(rec.getMessage() for rec in caplog.records)
    for personal in (WRONG_CHECK, BORN_1985, "1970-01-01", "1985-06-12", "19850612", "王小明"):
        assert personal not in logged


@pytestmark_e2e
async def test_gateway_errors_of_every_kind_answer_in_the_negotiated_language(http, keys):
    zh = {"Accept-Language": "zh-Hans"}
    r = await http.get("/v1/certificate-types", headers=zh)  # no key
    body = await r.json()
    assert r.status == 401 and body["error"]["code"] == "UNAUTHENTICATED" and CJK.search(body["error"]["message"])
    assert r.headers["Content-Language"] == "zh-CN"
    r = await http.get("/v1/no-such-route", headers={**zh, **bearer(keys["admin"])})
    body = await r.json()
    assert r.status == 404 and body["error"] == {"code": "NOT_FOUND", "message": "未找到所请求的内容。",
                                                 "request_id": body["error"]["request_id"]}
    r = await http.post("/v1/credentials", headers={**zh, **bearer(keys["agency_sh"])}, json={"region": "CN-SH", "type": LICENCE})
    body = await r.json()
    assert r.status == 400 and body["error"]["message"] == "缺少必填字段 fields"
    r = await http.post("/v1/credentials", headers={"Accept-Language": "en", **bearer(keys["agency_sh"])},
                        json={"region": "CN-SH", "type": LICENCE})
    assert (await r.json())["error"]["message"] == "fields is required" and r.headers["Content-Language"] == "en"
    r = await http.get("/healthz", headers=zh)
    assert r.status == 200 and "Content-Language" not in r.headers  # only error answers are negotiated


@pytestmark_e2e
async def test_accept_language_on_several_lines_is_one_list(http):
    """RFC 9110: field lines of one name are one comma-separated list; the first line alone would say English."""
    from multidict import CIMultiDict
    r = await http.get("/v1/regions", headers=CIMultiDict([("Accept-Language", "en;q=0.1"), ("Accept-Language", "zh")]))
    body = await r.json()
    assert r.status == 401 and r.headers["Content-Language"] == "zh-CN" and CJK.search(body["error"]["message"])
    r = await http.get("/v1/regions", headers=CIMultiDict([("Accept-Language", "zh;q=0"), ("Accept-Language", "en")]))
    assert r.status == 401 and r.headers["Content-Language"] == "en"


def test_chinese_texts_read_as_a_clerk_would_say_them():
    """No word-for-word "而不是" / "相互矛盾" / "对象" left: what differs is said with 实际为 / 不一致."""
    for key, entry in messages.CATALOGUE.items():
        for clumsy in ("而不是", "相互矛盾", "对象。"):
            assert clumsy not in entry["zh"], key
    assert messages.problem_message("id_number", "LENGTH", {"expected": 18, "actual": 17, "title": "身份证号码"},
                                    "zh") == "id_number（身份证号码）应为 18 位，实际为 17 位"
    assert messages.problem_message("sex", "SEX_MISMATCH", {"id_field": "id_number"}, "zh") == \
        "sex 与身份证号码（id_number）中的性别不一致"
    # 415 is answered for a portrait's Content-Type too (JPEG or PNG only): no list of image kinds in it
    assert "WebP" not in messages.error_message("UNSUPPORTED_MEDIA_TYPE", "zh")
