"""A signed trust list, credentials and a status list made in memory, for tests and benchmarks."""

from __future__ import annotations

import json
from importlib import resources

from ecert.format import credential, statuslist, trustlist
from ecert.format.keys import SigningKey
from ecert.rules.trust import TrustList

from .samples import driving_licence


def fixture(now: int, n_keys: int = 1, n_status: int = 1000, n_credentials: int = 1):
    """A signed trust list, realistic distinct credentials and their status list."""
    root, key = SigningKey.generate(), SigningKey.generate()
    doc = json.loads((resources.files("ecert.rules") / "catalogue" / "cn.driving_licence.v1.json").read_text("utf-8"))
    extra = [SigningKey.generate() for _ in range(n_keys - 1)]
    key_entries = [{"kid": k.kid, "alg": k.alg, "spki": k.spki, "nbf": now - 10, "exp": now + 10**8,
                    "status": "active"} for k in [key, *extra]]
    payload = {"v": 1, "iat": now, "exp": now + 3600,
               "regions": [{"code": "CN-ZJ", "name": "Zhejiang", "endpoint": "", "keys": key_entries}],
               "types": [{"id": doc["id"], "v": doc["version"], "name": doc["name"],
                          "schema": json.dumps(doc["schema"], ensure_ascii=False), "disclosure": doc["disclosure"]}]}
    trust = TrustList.from_signed(trustlist.sign(root, payload), root.public)
    uri = "urn:ecert:status:CN-ZJ:1"
    ts = trust.types[(doc["id"], 1)]
    texts = [credential.issue(key, iss="CN-ZJ", iat=now, exp=now + 86400 * 365, cti=credential.new_cti(),
                              type_id=doc["id"], type_version=1,
                              fields=ts.to_cbor(driving_licence(file_number=f"3301{i:08d}")),
                              status_uri=uri, status_idx=7 + 3 * i + 1)
             for i in range(n_credentials)]
    bits = statuslist.build_bits([(i, 1) for i in range(0, n_status, 3)], n_status)
    sl = statuslist.parse(statuslist.sign(key, uri=uri, bits=bits, iat=now, exp=now + 3600, ttl=10),
                          expected_uri=uri, region_keys=trust.keys_by_kid)
    return key, trust, texts, sl
