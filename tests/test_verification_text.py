"""The verification answer written directly as text (gateway.answers.verification_text, the batch body,
ecert.format.jsontext.json_text) is the text the dict-and-json.dumps path gives, byte for byte."""

from __future__ import annotations

import json

import pytest

import ecert.format.jsontext
from ecert.format.jsontext import json_text
from ecertpb.v1 import verifier_pb2
from gateway import answers as gw
from gateway.metrics import Metrics

FIELDS = {"name": "张三", "sex": "男", "id_number": "11010519491231002X", "classes": "C1", "n": 3, "ok": True,
          "odd": 'quote " backslash \\ newline \n tab \t nul \0 sep \u2028 emoji 😀'}
CRED = dict(id="AUSGPS3OVW4MOFVCLSGD45I3VY", type="cn.driving_licence", version=1, region="CN-ZJ",
            issued_at=1_700_000_000, expires_at=1_900_000_000,
            display_id="1.2.156.3005.2.EC002.330000.AUSGPS3OVW4MOFVCLSGD45I3VY.001.5")


def verification_json(r) -> dict:
    """The answer as a dict, written the plain way: the reference the text is held to."""
    cred = None
    if r.HasField("credential"):
        c = r.credential
        cred = {"id": c.id, "type": c.type, "version": c.version, "region": c.region,
                "issued_at": gw.iso(c.issued_at), "expires_at": gw.iso(c.expires_at)}
        if c.display_id:
            cred["display_id"] = c.display_id
    out = {"result": r.result, "credential": cred, "fields": json.loads(r.fields_json or "{}"),
           "warnings": [{"code": w.code, "field": w.field, "since": w.since} for w in r.warnings],
           "status_checked": r.status_checked, "status": r.status or None, "status_as_of": gw.iso(r.status_as_of),
           "trust_list_version": r.trust_list_version, "trust_list_stale": r.trust_list_stale,
           "trust_list_as_of": gw.iso(r.trust_list_as_of), "checked_at": gw.iso(r.checked_at)}
    if r.purpose:
        out["purpose"] = r.purpose
    if r.detail:
        out["detail"] = r.detail
    if r.HasField("document"):
        out["document"] = {"field": r.document.field, "date": r.document.date}
    if r.code_sha256:
        out["code_sha256"] = r.code_sha256
    return out


def _answers() -> list[verifier_pb2.VerifyResponse]:
    V = verifier_pb2.VerifyResponse
    return [
        V(result="VALID", credential=CRED, fields_json=json.dumps(FIELDS, ensure_ascii=False), status_checked=True,
          trust_list_version=7, checked_at=1_700_000_123, status="valid", status_as_of=1_700_000_100,
          trust_list_as_of=1_699_999_000),
        V(result="VALID", credential={**CRED, "display_id": ""}, fields_json="{}", status_checked=False,
          trust_list_version=7, checked_at=1_700_000_123, status="not_tracked", trust_list_as_of=1_699_999_000),
        V(result="VALID", credential=CRED, fields_json="{}", trust_list_version=7, checked_at=1_700_000_123,
          detail="status list unavailable or stale", status="unknown", status_as_of=1_699_990_000,
          trust_list_stale=True, trust_list_as_of=1_699_000_000),  # offline: both lists old
        V(result="REVOKED", credential=CRED, fields_json='{"name": "张三"}', status_checked=True, trust_list_version=7,
          checked_at=1_700_000_123, detail="revoked by the issuer", purpose="hotel_check_in", status="revoked",
          status_as_of=1_700_000_100),
        V(result="VALID", credential=CRED, fields_json="{}", status_checked=True, trust_list_version=7,
          checked_at=1_700_000_123, purpose="roadside_vehicle_check",
          warnings=[{"code": "INSPECTION_OVERDUE", "field": "inspection_valid_until", "since": "2026-03-31"},
                    {"code": "X\"Y", "field": "f\n", "since": "é"}]),
        V(result="NOT_ACCEPTED_FOR_PURPOSE", credential=CRED, fields_json='{"name": "张三"}', trust_list_version=7,
          checked_at=1_700_000_123, detail="cn.vehicle_licence is not accepted for hotel_check_in",
          purpose="hotel_check_in"),
        V(result="EXPIRED", credential=CRED, fields_json='{"name": "张三"}', trust_list_version=7,
          checked_at=1_700_000_123, detail="the document's valid_until (2015-01-01) has passed",
          document={"field": "valid_until", "date": "2015-01-01"}, purpose="hotel_check_in"),
        V(result="NOT_YET_VALID", fields_json="{}", checked_at=1_700_000_123, code_sha256="ef" * 32,
          document={"field": "f\"\n", "date": "é"}),  # escaped as json.dumps escapes it
        V(result="SIGNATURE_INVALID", fields_json="{}", trust_list_version=7, checked_at=1_700_000_123,
          detail='a "quoted" détail\nwith 控制 \x01'),
        V(result="REGION_UNAVAILABLE", checked_at=1_700_000_123, detail="no trust list yet"),  # fields_json ""
        V(result="NO_CODE_FOUND", fields_json="{}", checked_at=0, code_sha256="ab" * 32),
        V(result="VALID", credential={**CRED, "issued_at": 0, "expires_at": 0, "version": 0}, fields_json="{}",
          code_sha256="cd" * 32, trust_list_version=2**40, checked_at=1_700_000_123),
        V(result="weird \u2028 \"result\"", credential={"id": "x\\y", "type": "é", "region": "\t"},
          status="odd \"\u2028", trust_list_as_of=gw._ISO_FAST_END),  # escaped; an instant no text holds: null
    ]


def _old(r) -> str:
    return json.dumps(verification_json(r), ensure_ascii=False)


@pytest.mark.parametrize("i", range(len(_answers())))
def test_one_answer_is_the_json_dumps_text(i):
    r = _answers()[i]
    assert gw.verification_text(r) == _old(r)


def test_batch_body_is_the_json_dumps_text():
    answers = _answers()
    batch = verifier_pb2.VerifyBatchResponse(results=answers)
    old = json.dumps({"results": [verification_json(r) for r in batch.results]}, ensure_ascii=False)
    resp = gw.verifications_response(batch.results)
    assert resp.text == old
    assert resp.content_type == "application/json" and resp.charset == "utf-8"
    assert gw.verifications_response([]).text == json.dumps({"results": []})


def test_picture_body_is_the_json_dumps_text():
    answers = _answers()
    for n in (1, 2, len(answers)):
        batch = verifier_pb2.VerifyImageResponse(results=answers[:n])
        dicts = [verification_json(r) for r in batch.results]
        resp = gw.first_and_all_response(batch.results)
        assert resp.text == json.dumps({**dicts[0], "results": dicts}, ensure_ascii=False)
        assert resp.content_type == "application/json"


def test_every_answer_says_how_fresh_it_is():
    for r in _answers():
        answer = json.loads(gw.verification_text(r))
        assert {"status", "status_as_of", "trust_list_stale", "trust_list_as_of"} <= set(answer)
    empty = json.loads(gw.verification_text(verifier_pb2.VerifyResponse(result="SIGNATURE_INVALID")))
    assert (empty["status"], empty["status_as_of"], empty["trust_list_stale"], empty["trust_list_as_of"]) == (
        None, None, False, None)  # the status stage never reached, no list: null, never ""
    offline = json.loads(gw.verification_text(_answers()[2]))
    assert offline["trust_list_stale"] is True and offline["status"] == "unknown"
    assert offline["trust_list_as_of"] == "2023-11-03T08:26:40Z" and offline["status_as_of"] == "2023-11-14T19:26:40Z"


def test_fields_text_splices_an_object_and_parses_anything_else():
    assert gw._fields_text('{"a": 1}') == '{"a": 1}'
    compact = '{"a":1,"b":"\\u5f20"}'  # not as the verifier writes it: used as it is, same JSON value
    r = verifier_pb2.VerifyResponse(result="VALID", fields_json=compact)
    assert json.loads(gw.verification_text(r)) == json.loads(_old(r))
    for text in ("", "[]", "null", "[1, 2]"):  # not an object's text: parsed and written again, as before
        r = verifier_pb2.VerifyResponse(result="VALID", fields_json=text)
        assert gw.verification_text(r) == _old(r)
    with pytest.raises(ValueError):  # broken text fails as it did (the verifier never writes it)
        gw.verification_text(verifier_pb2.VerifyResponse(result="VALID", fields_json="nonsense"))


VALUES = [FIELDS, {}, [], "text \u2028 😀", 3, 1.5, -0.0, 10**30, None, True, {"nested": [{"a": [1, 2.25, None]}]},
          float("nan"), float("inf")]


@pytest.mark.parametrize("value", VALUES)
def test_json_text_is_json_dumps(value, monkeypatch):
    assert json_text(value) == json.dumps(value, ensure_ascii=False)
    monkeypatch.setattr(ecert.format.jsontext, "_C_ENCODE", None)  # without the C accelerator
    assert json_text(value) == json.dumps(value, ensure_ascii=False)


def test_json_text_refuses_what_json_dumps_refuses():
    with pytest.raises(TypeError):
        json_text({"photo": b"\x00"})
    loop: list = []
    loop.append(loop)
    with pytest.raises((ValueError, RecursionError)):
        json_text(loop)


def test_batch_outcomes_are_counted_once_each():
    m = Metrics()
    m.verifications_by(["VALID", "REVOKED", "VALID", "KID_UNKNOWN", "VALID"])
    m.verification("VALID")
    value = m.registry.get_sample_value
    assert value("ecert_verifications_total", {"result": "VALID"}) == 4
    assert value("ecert_verifications_total", {"result": "REVOKED"}) == 1
    assert value("ecert_verifications_total", {"result": "KID_UNKNOWN"}) == 1
    m.verifications_by([])
    assert value("ecert_verifications_total", {"result": "VALID"}) == 4


def test_iso_text_is_the_datetime_text():
    from datetime import datetime, timezone
    for ts in (1, 59, 86_399, 951_782_400, 1_700_000_000, 2**31, 4_102_444_800, gw._ISO_FAST_END - 1, -1, -86_401):
        assert gw.iso(ts) == datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), ts
    assert gw.iso(0) is None and gw._iso_text(0) == "null" and gw._iso_text(1) == '"1970-01-01T00:00:01Z"'
    # beyond year 9999 (or before year 1) no RFC 3339 text exists: null, never a 500 (test_gateway_hostile_corpus.py)
    assert gw.iso(gw._ISO_FAST_END) is None and gw._iso_text(gw._ISO_FAST_END) == "null"
