"""Finding 7 through the gateway: a CN-SH agency verifying a CN-ZJ driving licence sees only the
fields of the role the type names for agencies of other regions (traffic_police: no address,
birth date or nationality); a CN-ZJ agency sees all of its own region's credential."""

from __future__ import annotations

import pytest

from ecert.rules.catalogue import builtin_types
from testkit.samples import driving_licence
from tests.conftest import bearer
from tests.test_gateway_e2e import issue, verify

pytestmark = pytest.mark.asyncio(loop_scope="session")

DL = next(t for t in builtin_types() if t["id"] == "cn.driving_licence")
ALL_FIELDS = set(driving_licence())
POLICE_FIELDS = set(DL["disclosure"]["traffic_police"]) & ALL_FIELDS


async def test_an_agency_sees_everything_only_in_its_own_region(http, keys):
    cred = await issue(http, keys["agency_zj"])  # a CN-ZJ driving licence
    own = await verify(http, keys["agency_zj"], cred["qr_text"])
    other = await verify(http, keys["agency_sh"], cred["qr_text"])
    assert own["result"] == other["result"] == "VALID"
    assert set(own["fields"]) == ALL_FIELDS and own["fields"]["address"] == driving_licence()["address"]
    assert set(other["fields"]) == POLICE_FIELDS
    assert not set(other["fields"]) & {"address", "birth_date", "nationality"}
    admin = await verify(http, keys["admin"], cred["qr_text"])
    assert set(admin["fields"]) == ALL_FIELDS

    # The same in a batch, payload by payload; and the other way round for a CN-SH credential.
    sh = await issue(http, keys["agency_sh"], region="CN-SH")
    r = await http.post("/v1/verifications:batch", headers=bearer(keys["agency_sh"]),
                        json={"payloads": [cred["qr_text"], sh["qr_text"]]})
    assert r.status == 200
    zj_seen, sh_seen = (await r.json())["results"]
    assert zj_seen["result"] == sh_seen["result"] == "VALID"
    assert set(zj_seen["fields"]) == POLICE_FIELDS and set(sh_seen["fields"]) == ALL_FIELDS
    seen_by_zj = await verify(http, keys["agency_zj"], sh["qr_text"])
    assert set(seen_by_zj["fields"]) == POLICE_FIELDS


async def test_the_type_document_says_which_role_applies(http, keys):
    r = await http.get("/v1/certificate-types", headers=bearer(keys["hotel"]))
    types = {t["id"]: t for t in (await r.json())["types"]}
    assert types["cn.driving_licence"]["disclosure"]["other_region_agency"] == ["traffic_police"]
    r = await http.post("/v1/certificate-types", headers=bearer(keys["admin"]), json={
        "id": "cn.test_disclosure_card", "name": "Test card",
        "schema": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 10}}},
        "disclosure": {"hotel": ["name"], "other_region_agency": ["admin"]}})
    body = await r.json()
    assert r.status == 400 and "other_region_agency" in body["error"]["message"], body
