from tests.conftest import bearer
from tests.samples import driving_licence


async def test_issue_and_verify(http, keys):
    r = await http.post("/v1/credentials", json={"region": "CN-ZJ", "type": "cn.driving_licence",
                                                 "fields": driving_licence()}, headers=bearer(keys["agency_zj"]))
    body = await r.json()
    assert r.status == 201, body
    qr = body["qr_text"]
    r = await http.post("/v1/verifications", json={"payload": qr}, headers=bearer(keys["hotel"]))
    v = await r.json()
    print(v)
    assert v["result"] == "VALID"
