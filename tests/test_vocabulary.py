"""One vocabulary and one set of limits: the scanner page's own tables are held to the core's."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ecert import errors, limits, vocab
from ecert.errors import Outcome
from ecert.format.credential import looks_like_id
from gateway import access
from gateway.errors import CODES_BY_STATUS

ROOT = Path(__file__).resolve().parents[1]
SCAN_JS = (ROOT / "gateway" / "static" / "scan.js").read_text(encoding="utf-8")


def _js_table(name: str) -> list[str]:
    """The keys of ``const NAME = { KEY: [...], ... };`` in scan.js, in order."""
    body = re.search(r"const %s = \{(.*?)\n  \};" % name, SCAN_JS, re.S)
    assert body, f"no table {name} in scan.js"
    return re.findall(r"^\s+([A-Z_0-9]+):", body.group(1), re.M)


def _js_number(name: str) -> int:
    expr = re.search(r"const %s = ([0-9 *]+);" % name, SCAN_JS)
    assert expr, f"no constant {name} in scan.js"
    value = 1
    for factor in expr.group(1).split("*"):
        value *= int(factor)
    return value


def _codes_in_sources() -> set[str]:
    """Every error code the suite can answer with: the error classes' own and each named one."""
    codes = {cls.code for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, errors.EcertError)}
    codes |= set(CODES_BY_STATUS.values())
    for folder in ("ecert", "services", "gateway"):
        for path in (ROOT / folder).rglob("*.py"):
            codes |= set(re.findall(r'\bcode="([A-Z_]+)"', path.read_text(encoding="utf-8")))
    return codes


def test_the_page_names_every_outcome_and_nothing_else():
    assert set(_js_table("REASONS")) == {o.value for o in Outcome}


def test_the_page_explains_every_warning_of_the_catalogue():
    """Each secondary date of a catalogue type (``x-deadlines``) has its plain reason on the page, in
    Chinese and English; a code the page does not know still shows, with a generic text."""
    codes = set()
    for path in (ROOT / "ecert" / "rules" / "catalogue").glob("*.json"):
        schema = json.loads(path.read_text(encoding="utf-8"))["schema"]
        codes |= {d["code"] for d in schema.get("x-deadlines", [])}
    assert {"INSPECTION_OVERDUE", "BUSINESS_TERM_ENDED"} <= codes
    table = re.search(r"const WARNINGS = \{(.*?)\n  \};", SCAN_JS, re.S).group(1)
    found = re.findall(r'^\s+([A-Z_0-9]+): \["([^"]+)", "([^"]+)"\]', table, re.M)
    reasons = {code: (zh, en) for code, zh, en in found}
    assert set(reasons) == codes
    for zh, en in reasons.values():
        assert re.search(r"[\u4e00-\u9fff]", zh) and re.fullmatch(r"[ -~]+", en)
    assert "const WARNING_OTHER = [" in SCAN_JS


def test_the_page_knows_only_error_codes_the_suite_gives():
    page_only = {"NETWORK"}  # the page's own: the gateway could not be reached at all
    codes = {k for k in _js_table("ERRORS") if not k.isdigit()} - page_only
    assert codes <= _codes_in_sources(), codes - _codes_in_sources()
    statuses = {int(k) for k in _js_table("ERRORS") if k.isdigit()}
    assert statuses <= set(CODES_BY_STATUS)


def test_the_page_bounds_pictures_as_the_gateway_does():
    assert _js_number("MAX_PICTURE") == limits.MAX_IMAGE_BYTES


def test_the_page_offers_show_codes_to_the_roles_that_may_make_them():
    found = re.search(r"const SHOW_ROLES = new Set\(\[([^\]]*)\]\);", SCAN_JS)
    assert found, "no SHOW_ROLES in scan.js"
    page = set(re.findall(r'"([a-z_]+)"', found.group(1)))
    assert page == set(access.TABLE[("POST", "/v1/credentials/{id}/presentations")].roles)


def test_the_page_takes_a_credential_id_as_the_gateway_does():
    """The show form's id check (on the text upper-cased) agrees with :func:`looks_like_id` on every
    printable ASCII letter, in either case, and on the length."""
    found = re.findall(r'const id = \$\("show-id"\)\.value\.trim\(\)\.toUpperCase\(\);\s*'
                       r'if \(!/\^([^/$]+)\$/\.test\(id\)\)', SCAN_JS)
    assert len(found) == 1, "the show form's id check is not where it was"
    page = re.compile(found[0])
    for c in map(chr, range(0x20, 0x7F)):
        for n in (25, 26, 27):
            text = c * n
            assert (page.fullmatch(text.upper()) is not None) == looks_like_id(text), (text, n)


def test_the_page_reads_an_answers_status_as_the_core_writes_it():
    page = dict(re.findall(r'const (STATUS_[A-Z_]+) = "([a-z_]+)";', SCAN_JS))
    assert page == {"STATUS_UNKNOWN": vocab.StatusAnswer.UNKNOWN, "STATUS_NOT_TRACKED": vocab.StatusAnswer.NOT_TRACKED}


def test_roles_and_statuses_are_their_own_wire_text():
    assert [r.value for r in vocab.KEY_ROLES] == ["admin", "agency", "hotel", "traffic_police", "integrator"]
    assert vocab.Role.SERVICE not in vocab.KEY_ROLES and vocab.Role.SERVICE not in vocab.VERIFY_ROLES
    assert set(vocab.ISSUE_ROLES) == {vocab.Role.AGENCY, vocab.Role.ADMIN}
    assert {s.value for s in vocab.CredentialStatus} == {"valid", "revoked", "suspended"}
    assert {s.value for s in vocab.KeyStatus} == {"active", "retired", "revoked"}
    assert vocab.Role.HOTEL == "hotel" and f"{vocab.CredentialStatus.REVOKED}" == "revoked"


def test_limits_are_consistent():
    assert limits.MAX_MULTIPART == limits.MAX_IMAGE_BYTES + limits.MULTIPART_OVERHEAD
    assert limits.MAX_VALID_DAYS == 7300
    assert limits.MAX_PURPOSE_PART >= 4 * limits.MAX_PURPOSE  # a purpose of MAX_PURPOSE characters fits in UTF-8
