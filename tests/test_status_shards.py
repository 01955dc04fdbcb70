"""Status lists at population scale: shards allocated as credentials are issued, signed again only
when they change (or at half their validity, or with a new key), answered conditionally
(GetStatusLists); and the verifier's status cache: lazy, on disk, bounded in memory, refreshed in
the background, never waiting on an issuer that is down. Clocks are moved by hand."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import stat
import types

import cbor2
import pytest
import pytest_asyncio

from ecert.clock import FixedClock
from ecert.errors import InvalidRequest, NotFound, Unavailable
from ecert.format import cose, credential, statuslist, trustlist
from ecert.format.keys import ES256, SigningKey
from ecert.rpc import client as rpc_client
from ecert.rules.acceptance import default_rules
from ecert.rules.access import Principal
from ecert.rules.catalogue import builtin_types
from ecert.rules.schema import TypeSchema
from ecert.rules.shards import Shards
from ecert.rules.trust import TrustList
from ecert.runtime import pki
from ecert.store import default_uri, open_store
from ecert.vocab import CredentialStatus, StatusAction
from ecertpb.v1 import issuer_pb2, issuer_pb2_grpc
from services.issuer.domain import Issuer
from services.issuer.status import RegionStatus
from services.verifier import status as vstatus
from services.verifier.status import STATUS_RETRY, StatusCache
from testkit import photos
from testkit.samples import driving_licence

pytestmark = pytest.mark.asyncio(loop_scope="session")

T0 = 1_800_000_000
N = statuslist.SHARD_SIZE
ZJ = Principal("agency", "CN-ZJ")


def uri(n: int, region: str = "CN-ZJ") -> str:
    return statuslist.shard_uri(region, n)


# -- the format ----------------------------------------------------------------------------------

async def test_shard_uris_and_their_bounds():
    assert uri(1) == "urn:ecert:status:CN-ZJ:1" and statuslist.parse_shard_uri(uri(287)) == ("CN-ZJ", 287)
    for bad in ("urn:ecert:status:CN-ZJ:0", "urn:ecert:status:CN-ZJ:01", "urn:ecert:status:CN-ZJ:-1",
                f"urn:ecert:status:CN-ZJ:{statuslist.MAX_SHARD + 1}", "urn:ecert:status::1",
                "urn:ecert:status:CN:ZJ:1", "urn:ecert:status:CN-ZJ:1 ", "https://example.org/1", 7):
        assert statuslist.parse_shard_uri(bad) is None, bad
    for n in (0, -1, statuslist.MAX_SHARD + 1, True):
        with pytest.raises(ValueError):
            statuslist.shard_uri("CN-ZJ", n)
    assert [statuslist.allocate("CN-ZJ", g) for g in (0, N - 1, N, 5 * N + 3)] == [
        (uri(1), 0), (uri(1), N - 1), (uri(2), 0), (uri(6), 3)]


async def test_the_compact_form_answers_as_the_bits_do():
    sparse_entries = [(3, 1), (4, 2), (5, 3), (N - 1, 1), (700_001, 2)]
    bits = bytes(statuslist.build_bits(sparse_entries, N))
    sparse = statuslist.StatusList("u", 1, 2, 3, bits, b"k")
    dense_bits = bytes(statuslist.build_bits([(i, 1 + i % 3) for i in range(0, 4000, 2)], 4000))
    dense = statuslist.StatusList("u", 1, 2, 3, dense_bits, b"k")
    assert sparse.sparse and not dense.sparse
    assert sparse.nbytes < 1000 < len(bits)  # 5 entries, not 256 KiB
    for sl, raw in ((sparse, bits), (dense, dense_bits)):
        assert all(sl.get(i) == statuslist.get_status(raw, i) for i in [*range(0, 4100), N - 2, N - 1, N, 10 * N])
        assert sl.bits == raw and sl.size_bytes == len(raw)
    assert [sparse.get(i) for i in (3, 4, 5, 6, 700_001, N - 1)] == [1, 2, 3, 0, 2, 1]


# -- the issuer ----------------------------------------------------------------------------------

class Registry:
    """The registry port as far as issuing needs it: the catalogue's types, the shipped rules."""

    async def certificate_types(self):
        return [TypeSchema(t["id"], t["version"], t["name"], t["schema"], t["disclosure"]) for t in builtin_types()]

    async def recognition_rules(self):
        return default_rules()

    async def region_keys(self):
        raise Unavailable("not in this test")


@pytest_asyncio.fixture
async def store(tmp_path):
    s = await open_store(default_uri(tmp_path))
    yield s
    await s.close()


class KeyBox:
    """The signing key, swappable (a rotation)."""

    def __init__(self):
        self.key = SigningKey.generate()

    def __call__(self) -> SigningKey:
        return self.key


def check(signed: bytes, key: SigningKey, u: str) -> statuslist.StatusList:
    entry = types.SimpleNamespace(public=key.public, status="active")
    return statuslist.parse(signed, expected_uri=u, region_keys={key.kid: [entry]})


async def put(store, cid: str, u: str, idx: int, status: str = "valid") -> None:
    await store.insert_credential({"_id": cid, "region": "CN-ZJ", "status": status, "status_idx": idx,
                                   "status_uri": u, "request_id": None})


async def change(store, statuses: RegionStatus, cid: str, new: str, old: str = "valid") -> None:
    assert await store.set_credential_status(cid, new, old, T0)
    doc = await store.get_credential(cid)
    statuses.changed(doc["status_uri"])


def claims_of(text: str) -> dict:
    return cbor2.loads(cose.parse_sign1(credential.decode_text(text)).payload)


async def test_issuance_allocates_across_a_shard_boundary(store):
    await photos.hold_sample_photos(store, ["CN-ZJ"])
    await store.backend.next_seq("status:CN-ZJ", N - 2)  # the region has issued 2^20 - 2 credentials
    clock = FixedClock(T0)
    issuer = Issuer("CN-ZJ", store, SigningKey.generate(), Registry(), default_valid_days=365, status_ttl=10,
                    now=clock, monotonic=FixedClock(1000))
    docs = [await issuer.issue(ZJ, "cn.driving_licence", 0, json.dumps(driving_licence()), 0, "") for _ in range(3)]
    assert [(d["status_uri"], d["status_idx"]) for d in docs] == [(uri(1), N - 2), (uri(1), N - 1), (uri(2), 0)]
    for d in docs:  # the credential says what the record says
        assert claims_of(d["qr_text"])[credential.CLAIM_STATUS] == {
            "status_list": {"idx": d["status_idx"], "uri": d["status_uri"]}}
    await issuer.change_status(ZJ, docs[2]["_id"], StatusAction.REVOKE)
    await issuer.change_status(ZJ, docs[1]["_id"], StatusAction.SUSPEND)
    one, two = [check(await issuer.status_list(uri(n)), issuer.key, uri(n)) for n in (1, 2)]
    assert (one.get(N - 2), one.get(N - 1), one.get(0)) == (0, statuslist.SUSPENDED, 0)
    assert (two.get(0), two.get(1)) == (statuslist.REVOKED, 0)
    assert one.size_bytes == two.size_bytes == N // 4 and one.exp == T0 + 3600 and one.ttl == 10
    with pytest.raises(NotFound):  # not reached by the counter yet
        await issuer.status_list(uri(3))
    with pytest.raises(NotFound):
        await issuer.status_list(uri(1, "CN-SH"))


async def test_only_the_changed_shard_is_signed_again(store):
    clock, box = FixedClock(T0), KeyBox()
    statuses = RegionStatus("CN-ZJ", store, box, ttl=10, validity=3600, now=clock)
    await store.backend.next_seq("status:CN-ZJ", 3 * N)  # three shards reached
    for n in (1, 2, 3):
        await put(store, f"c{n}", uri(n), 100 + n)
    first = {n: await statuses.status_list(uri(n)) for n in (1, 2, 3)}
    clock.advance(30)
    await change(store, statuses, "c2", CredentialStatus.REVOKED)
    after = {n: await statuses.status_list(uri(n)) for n in (1, 2, 3)}
    for n in (1, 3):  # untouched: the same bytes, the same iat
        assert after[n] == first[n] and after[n].iat == T0
    assert after[2].signed != first[2].signed and after[2].iat == T0 + 30
    assert check(after[2].signed, box.key, uri(2)).get(102) == statuslist.REVOKED
    clock.advance(5)
    assert await statuses.status_list(uri(2)) == after[2]  # signed once for the change, not again


async def test_signed_again_at_half_validity_and_with_a_new_key(store):
    clock, box = FixedClock(T0), KeyBox()
    statuses = RegionStatus("CN-ZJ", store, box, ttl=10, validity=100, now=clock)
    first = await statuses.status_list(uri(1))
    assert (first.iat, first.exp) == (T0, T0 + 100)
    clock.advance(49)
    assert await statuses.status_list(uri(1)) == first
    clock.advance(1)  # half the validity has passed
    second = await statuses.status_list(uri(1))
    assert (second.iat, second.exp) == (T0 + 50, T0 + 150)
    old = box.key
    box.key = SigningKey.generate()  # rotated
    third = await statuses.status_list(uri(1))
    assert third.kid == box.key.kid != old.kid and third.iat == T0 + 51
    check(third.signed, box.key, uri(1))


async def test_a_change_within_the_second_signed_gets_a_later_iat(store):
    """A verifier that fetched the list in the very second of a change must still see it: the list
    signed again carries a later iat (one second ahead at most; a further change waits a second)."""
    clock, box = FixedClock(T0), KeyBox()
    statuses = RegionStatus("CN-ZJ", store, box, ttl=10, validity=3600, now=clock)
    await put(store, "c", uri(1), 5)
    await put(store, "d", uri(1), 6)
    held = await statuses.status_list(uri(1))
    await change(store, statuses, "c", CredentialStatus.SUSPENDED)
    lists, unknown = await statuses.status_lists([(uri(1), held.iat)])
    assert [s.iat for s in lists] == [T0 + 1] and not unknown
    assert check(lists[0].signed, box.key, uri(1)).get(5) == statuslist.SUSPENDED
    await change(store, statuses, "d", CredentialStatus.REVOKED)
    assert await statuses.status_list(uri(1)) == lists[0]  # the clock has not reached T0 + 1 yet
    clock.advance(1)
    later = await statuses.status_list(uri(1))
    assert later.iat == T0 + 2 and check(later.signed, box.key, uri(1)).get(6) == statuslist.REVOKED


async def test_a_legacy_credential_beyond_the_shard_size_is_still_answered(store):
    statuses = RegionStatus("CN-ZJ", store, KeyBox(), ttl=10, validity=3600, now=FixedClock(T0))
    await put(store, "old", uri(1), 3 * N + 7, CredentialStatus.REVOKED)  # issued before the lists were sharded
    await put(store, "new", uri(2), 7, CredentialStatus.SUSPENDED)  # the same index in shard 2: another list
    sl = check((await statuses.status_list(uri(1))).signed, statuses.shards._key(), uri(1))
    assert sl.get(3 * N + 7) == statuslist.REVOKED and sl.get(7) == 0


async def test_get_status_lists_answers_only_what_changed_and_names_the_unknown(store):
    clock = FixedClock(T0)
    statuses = RegionStatus("CN-ZJ", store, KeyBox(), ttl=10, validity=3600, now=clock)
    await store.backend.next_seq("status:CN-ZJ", N + 1)  # shards 1 and 2
    one = await statuses.status_list(uri(1))
    held = [(uri(1), one.iat), (uri(2), 0), (uri(3), 0), (uri(1, "CN-SH"), 0), ("urn:other", 0), (uri(2), 0)]
    lists, unknown = await statuses.status_lists(held)
    assert [s.uri for s in lists] == [uri(2)]  # :1 unchanged is left out; :2 once
    assert unknown == [uri(3), uri(1, "CN-SH"), "urn:other"]
    assert await statuses.status_lists([(uri(1), one.iat), (uri(2), lists[0].iat)]) == ([], [])
    assert (await statuses.status_lists([(uri(1), one.iat - 1)]))[0] == [one]
    with pytest.raises(InvalidRequest):
        await statuses.status_lists([(uri(1), 0)] * (statuslist.MAX_LISTS_PER_CALL + 1))
    assert len((await statuses.status_lists([(uri(1), 0)] * statuslist.MAX_LISTS_PER_CALL))[0]) == 1


async def test_get_status_lists_refuses_an_oversized_uri_and_reads_the_counter_once(store):
    statuses = RegionStatus("CN-ZJ", store, KeyBox(), ttl=10, validity=3600, now=FixedClock(T0))
    await store.backend.next_seq("status:CN-ZJ", N + 1)  # shards 1 and 2
    with pytest.raises(InvalidRequest) as err:  # nothing is echoed back as unknown
        await statuses.status_lists([(uri(1), 0), ("urn:ecert:status:CN-ZJ:" + "1" * statuslist.MAX_URI, 0)])
    assert err.value.field == "held"
    reads = []
    end = store.status_index_end

    async def counted(region):
        reads.append(region)
        return await end(region)

    store.status_index_end = counted
    held = [(uri(n), 0) for n in range(2, 502)]  # shard 2, then 499 the counter has not reached
    lists, unknown = await statuses.status_lists(held)
    assert [s.uri for s in lists] == [uri(2)] and len(unknown) == 499 and reads == ["CN-ZJ"]
    one = lists[0]
    lists, _ = await statuses.status_lists([(uri(2), -(1 << 63)), (uri(1), (1 << 63) - 1)])
    assert lists == [one]  # a held iat below any (none held) or past any (nothing newer): no error


async def test_shards_share_one_signature_among_concurrent_askers():
    calls = []

    async def entries(u):
        calls.append(u)
        await asyncio.sleep(0)
        return [(1, "revoked")]

    key = SigningKey.generate()
    shards = Shards(entries, lambda: key, ttl=10, validity=3600, now=FixedClock(T0))
    got = await asyncio.gather(*(shards.get(uri(1)) for _ in range(5)))
    assert len(calls) == 1 and len({id(g) for g in got}) == 1


async def test_get_status_lists_over_grpc_for_the_verifier_only(suite):
    port = suite.issuer_ports["CN-ZJ"]
    as_verifier, as_gateway = suite.channel(port, "issuer", pki.VERIFIER), suite.channel(port, "issuer")
    try:
        stub = issuer_pb2_grpc.IssuerServiceStub(as_verifier)
        req = issuer_pb2.GetStatusListsRequest(held=[issuer_pb2.HeldStatusList(uri=uri(1), iat=0),
                                                     issuer_pb2.HeldStatusList(uri=uri(9000), iat=0)])
        resp = await rpc_client.call(stub.GetStatusLists(req, timeout=10))
        assert [s.uri for s in resp.lists] == [uri(1)] and list(resp.unknown) == [uri(9000)]
        got = resp.lists[0]
        assert cbor2.loads(cose.parse_sign1(got.signed).payload)[6] == got.iat > 0  # iat as signed
        single = await rpc_client.call(stub.GetStatusList(issuer_pb2.GetStatusListRequest(uri=uri(1)), timeout=10))
        assert single.iat >= got.iat and single.uri == uri(1)
        again = issuer_pb2.GetStatusListsRequest(held=[issuer_pb2.HeldStatusList(uri=uri(1), iat=single.iat)])
        assert not (await rpc_client.call(stub.GetStatusLists(again, timeout=10))).lists
        many = issuer_pb2.GetStatusListsRequest(held=[issuer_pb2.HeldStatusList(uri=uri(1))] * 1025)
        with pytest.raises(InvalidRequest):
            await rpc_client.call(stub.GetStatusLists(many, timeout=10))
        from ecert.errors import PermissionDenied
        with pytest.raises(PermissionDenied):  # the gateway has no business with status lists
            await rpc_client.call(issuer_pb2_grpc.IssuerServiceStub(as_gateway).GetStatusLists(req, timeout=10))
    finally:
        await as_verifier.close()
        await as_gateway.close()


# -- the verifier's cache ------------------------------------------------------------------------

ZJ_KEY, SH_KEY, ROOT = SigningKey.generate(), SigningKey.generate(ES256), SigningKey.generate()


def trust_list(*, revoked: bytes = b"") -> TrustList:
    keys = [{"region": r, "kid": k.kid.hex(), "alg": k.alg, "spki": base64.b64encode(k.spki).decode(),
             "nbf": T0 - 10**6, "exp": T0 + 10**8, "status": "revoked" if k.kid == revoked else "active"}
            for r, k in (("CN-ZJ", ZJ_KEY), ("CN-SH", SH_KEY))]
    payload = trustlist.build_payload(
        version=1, iat=T0, exp=T0 + 86400, keys=keys, types=[],
        regions=[{"code": "CN-ZJ", "name": "Zhejiang", "endpoint": "zj:1"},
                 {"code": "CN-SH", "name": "Shanghai", "endpoint": "sh:1"}])
    return TrustList.from_signed(trustlist.sign(ROOT, payload), ROOT.public)


TRUST = trust_list()


def signed_list(u: str, entries=(), *, iat: int = T0, ttl: int = 10, key: SigningKey = ZJ_KEY,
                size: int = 64) -> bytes:
    return statuslist.sign(key, uri=u, bits=statuslist.build_bits(entries, size), iat=iat, exp=iat + 3600, ttl=ttl)


class Upstream:
    """The regions' issuers: what each publishes (uri -> signed list), ``down`` to fail every call;
    the calls made, and an optional gate every call waits for."""

    def __init__(self):
        self.published: dict[str, bytes] = {}
        self.down = False
        self.calls: list[tuple] = []
        self.gate: asyncio.Event | None = None

    async def _enter(self, call: tuple) -> None:
        self.calls.append(call)
        if self.gate is not None:
            await self.gate.wait()
        if self.down:
            raise Unavailable("issuer down")

    async def status_list(self, endpoint: str, u: str) -> bytes:
        await self._enter(("one", endpoint, u))
        if u not in self.published:
            raise NotFound("no such list")
        return self.published[u]

    async def status_lists(self, endpoint: str, held):
        await self._enter(("many", endpoint, tuple(held)))
        lists, unknown = [], []
        for u, iat in held:
            if u not in self.published:
                unknown.append(u)
            elif cbor2.loads(cose.parse_sign1(self.published[u]).payload)[6] > iat:
                lists.append(self.published[u])
        return lists, unknown


def cache(up: Upstream, folder, *, clock=None, mono=None, trust=TRUST, **kw) -> StatusCache:
    return StatusCache(up, folder, trust=lambda: trust, skew=60, now=clock or FixedClock(T0),
                       monotonic=mono or FixedClock(1000), **kw)


async def test_lists_are_fetched_lazily_once_for_concurrent_callers(tmp_path):
    up = Upstream()
    up.published[uri(1)] = signed_list(uri(1), [(5, 1)])
    c = cache(up, tmp_path)
    assert c.get(uri(1)) is None and not up.calls  # nothing asked before a credential names it
    up.gate = asyncio.Event()
    waiting = [asyncio.ensure_future(c.fetch(uri(1), "CN-ZJ")) for _ in range(5)]
    await asyncio.sleep(0.01)
    up.gate.set()
    got = await asyncio.gather(*waiting)
    assert len(up.calls) == 1 and all(g is got[0] for g in got) and got[0].get(5) == statuslist.REVOKED
    assert c.get(uri(1)) is got[0] and await c.fetch(uri(1), "CN-ZJ") is got[0] and len(up.calls) == 1
    path = tmp_path / "status" / f"{__import__('hashlib').sha256(uri(1).encode()).hexdigest()}.cbor"
    assert path.read_bytes() == up.published[uri(1)] and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    state = c.state()
    assert (state["lists"], state["on_disk"], state["oldest_iat"]) == (1, 1, T0) and state["bytes"] > 0
    assert state["events"][("status", "fetched")] == 1


async def test_a_restarted_verifier_checks_statuses_from_disk_with_its_issuers_down(tmp_path):
    up = Upstream()
    up.published[uri(1)] = signed_list(uri(1), [(5, 2)])
    await cache(up, tmp_path).fetch(uri(1), "CN-ZJ")
    up.down, up.calls = True, []
    restarted = cache(up, tmp_path, clock=FixedClock(T0 + 600))
    restarted.load()
    assert restarted.state()["on_disk"] == 1 and restarted.state()["oldest_iat"] == T0
    sl = await restarted.fetch(uri(1), "CN-ZJ")
    assert sl is not None and sl.get(5) == statuslist.SUSPENDED and sl.iat == T0 and not up.calls
    assert restarted.get(uri(1)) is sl and restarted.state()["events"][("status", "reloaded")] == 1
    await restarted.refresh_due()  # the issuer is down: no exception, the list kept
    assert restarted.get(uri(1)) is sl and restarted.state()["events"][("status", "refresh_failed")] == 1


async def test_damaged_and_badly_signed_files_are_ignored_and_counted(tmp_path):
    up = Upstream()
    for n in (1, 2, 3):
        up.published[uri(n)] = signed_list(uri(n), [(n, 1)])
        await cache(up, tmp_path).fetch(uri(n), "CN-ZJ")
    files = {n: tmp_path / "status" / f"{__import__('hashlib').sha256(uri(n).encode()).hexdigest()}.cbor"
             for n in (1, 2, 3)}
    files[1].write_bytes(b"\x00not cbor")
    raw = bytearray(files[2].read_bytes())
    raw[-5] ^= 0xFF  # a flipped bit in the signature
    files[2].write_bytes(bytes(raw))
    up.down = True
    c = cache(up, tmp_path)
    c.load()
    events = c.state()["events"]
    assert events[("status", "damaged_file")] == 1 and events[("status", "bad_signature")] == 1
    assert c.state()["on_disk"] == 1
    assert not files[1].exists() and not files[2].exists()  # removed: fetched anew when asked for
    assert await c.fetch(uri(1), "CN-ZJ") is None and await c.fetch(uri(2), "CN-ZJ") is None  # never used
    assert (await c.fetch(uri(3), "CN-ZJ")).get(3) == statuslist.REVOKED
    events = c.state()["events"]
    assert events[("status", "damaged_file")] == 1 and events[("status", "bad_signature")] == 1  # not again
    # a genuine list of shard 3 copied over shard 1's file: not the list that file is named for
    files[1].write_bytes(files[3].read_bytes())
    c2 = cache(up, tmp_path)
    c2.load()
    events = c2.state()["events"]
    assert events[("status", "damaged_file")] == 1 and ("status", "bad_signature") not in events
    assert await c2.fetch(uri(1), "CN-ZJ") is None and not files[1].exists() and files[3].exists()


async def test_the_memory_bound_lets_lists_go_and_reads_them_again_from_disk(tmp_path):
    up = Upstream()
    entries = [(i, 1) for i in range(0, 8000, 2)]  # dense lists: 2,000 bytes each
    for n in (1, 2):
        up.published[uri(n)] = signed_list(uri(n), entries + [(8000 + n, 2)], size=8004)
    one_list = statuslist.parse(up.published[uri(1)], expected_uri=uri(1), region_keys=TRUST.keys_by_kid).nbytes
    c = cache(up, tmp_path, max_bytes=one_list + one_list // 2)
    a = await c.fetch(uri(1), "CN-ZJ")
    b = await c.fetch(uri(2), "CN-ZJ")
    assert c.get(uri(1)) is None and c.get(uri(2)) is b and c.state()["lists"] == 1
    assert c.state()["bytes"] <= c.max_bytes and c.state()["events"][("status", "evicted")] == 1
    up.down, up.calls = True, []
    again = await c.fetch(uri(1), "CN-ZJ")  # from disk, the issuer not asked
    assert again is not a and again.get(8001) == statuslist.SUSPENDED and not up.calls
    assert c.get(uri(2)) is None and c.state()["on_disk"] == 2


async def test_a_list_dated_in_the_future_is_refused_and_counted(tmp_path):
    up = Upstream()
    up.published[uri(1)] = signed_list(uri(1), [(1, 1)], iat=T0 + 3600)  # an hour ahead of this verifier
    c = cache(up, tmp_path)
    assert await c.fetch(uri(1), "CN-ZJ") is None and c.get(uri(1)) is None
    assert c.state()["events"][("status", "future_dated")] == 1 and not list((tmp_path / "status").glob("*"))
    up.published[uri(1)] = signed_list(uri(1), [(1, 1)], iat=T0 + 59)  # inside the skew: taken
    c.monotonic.advance(STATUS_RETRY)
    assert (await c.fetch(uri(1), "CN-ZJ")).iat == T0 + 59


async def test_only_a_list_of_the_credentials_region_signed_by_it_is_taken(tmp_path):
    up = Upstream()
    up.published[uri(1)] = signed_list(uri(1), key=SH_KEY)  # Shanghai's key on Zhejiang's uri
    c = cache(up, tmp_path)
    assert await c.fetch(uri(1), "CN-ZJ") is None and c.state()["events"][("status", "bad_signature")] == 1
    assert await c.fetch(uri(1, "CN-SH"), "CN-ZJ") is None and await c.fetch("urn:other:1", "CN-ZJ") is None
    assert len(up.calls) == 1  # uris not of the credential's region are never asked for


async def test_revocation_and_suspension_are_visible_after_a_refresh_round(tmp_path):
    clock, mono = FixedClock(T0), FixedClock(1000)
    up = Upstream()
    for n in (1, 2):
        up.published[uri(n)] = signed_list(uri(n), ttl=10)
    up.published[uri(1, "CN-SH")] = signed_list(uri(1, "CN-SH"), key=SH_KEY, ttl=10)
    c = cache(up, tmp_path, clock=clock, mono=mono)
    for u, r in ((uri(1), "CN-ZJ"), (uri(2), "CN-ZJ"), (uri(1, "CN-SH"), "CN-SH")):
        assert (await c.fetch(u, r)).get(5) == 0
    up.calls = []
    await c.refresh_due()
    assert not up.calls  # inside the ttl: nothing asked
    clock.advance(20)
    up.published[uri(2)] = signed_list(uri(2), [(5, statuslist.REVOKED), (6, statuslist.SUSPENDED)], iat=T0 + 20)
    mono.advance(10 * (1 + vstatus.JITTER))
    await c.refresh_due()
    many = sorted(call for call in up.calls)
    assert [(kind, ep, len(held)) for kind, ep, held in many] == [("many", "sh:1", 1), ("many", "zj:1", 2)]
    zj = dict(next(held for _, ep, held in many if ep == "zj:1"))
    assert zj == {uri(1): T0, uri(2): T0}  # the iat held: only what changed comes back
    assert (c.get(uri(2)).get(5), c.get(uri(2)).get(6)) == (statuslist.REVOKED, statuslist.SUSPENDED)
    assert c.get(uri(1)).iat == T0  # unchanged, kept
    up.calls = []
    await c.refresh_due()
    assert not up.calls  # asked again only after the ttl


async def test_an_issuer_down_never_makes_fetch_raise_and_is_not_asked_again_before_status_retry(tmp_path):
    mono = FixedClock(1000)
    up = Upstream()
    up.down = True
    c = cache(up, tmp_path, mono=mono)
    assert await c.fetch(uri(1), "CN-ZJ") is None and len(up.calls) == 1
    assert await c.fetch(uri(2), "CN-ZJ") is None and len(up.calls) == 1  # the region is down: not asked
    mono.advance(STATUS_RETRY - 1)
    assert await c.fetch(uri(1), "CN-ZJ") is None and len(up.calls) == 1
    up.published[uri(1)] = signed_list(uri(1), [(2, 1)])
    mono.advance(1)
    up.calls = []
    await c.refresh_due()  # the list wanted is tried in the background, still down
    assert [call[0] for call in up.calls] == ["many"] and c.get(uri(1)) is None
    up.down = False
    mono.advance(vstatus.RETRY_BASE * 2)  # the backoff after a failed round
    await c.refresh_due()
    assert c.get(uri(1)).get(2) == statuslist.REVOKED  # arrived in the background
    up.calls = []
    assert (await c.fetch(uri(1), "CN-ZJ")).get(2) == statuslist.REVOKED and not up.calls


async def test_a_broken_upstream_never_escapes_fetch_or_the_refresh(tmp_path):
    class Broken(Upstream):
        async def status_list(self, endpoint, u):
            raise RuntimeError("a bug")

        async def status_lists(self, endpoint, held):
            raise RuntimeError("a bug")

    up = Upstream()
    up.published[uri(1)] = signed_list(uri(1))
    c = cache(up, tmp_path)
    held = await c.fetch(uri(1), "CN-ZJ")
    c.upstream = Broken()
    c.monotonic.advance(60)
    await c.refresh_due()
    assert c.get(uri(1)) is held
    c.now.advance(7200)  # past its exp: fetched again, which fails
    assert await c.fetch(uri(1), "CN-ZJ") is held  # the one held, stale (the caller says so)
    assert await cache(Broken(), None).fetch(uri(1), "CN-ZJ") is None


async def test_a_list_whose_key_was_revoked_is_let_go(tmp_path):
    up = Upstream()
    up.published[uri(1)] = signed_list(uri(1))
    box = {"trust": TRUST}
    c = StatusCache(up, tmp_path, trust=lambda: box["trust"], skew=60, now=FixedClock(T0), monotonic=FixedClock(0))
    assert await c.fetch(uri(1), "CN-ZJ") is not None
    box["trust"] = trust_list(revoked=ZJ_KEY.kid)
    up.down = True
    await c.refresh_due()
    assert c.get(uri(1)) is None and c.state()["events"][("status", "bad_signature")] == 1
    assert await c.fetch(uri(1), "CN-ZJ") is None  # nor read again from disk


async def test_a_list_that_cannot_be_kept_on_disk_is_used_from_memory_and_counted(tmp_path, monkeypatch):
    def full(path, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("services.verifier.status.write_private", full)
    up = Upstream()
    up.published[uri(1)] = signed_list(uri(1), [(5, 1)])
    c = cache(up, tmp_path)
    sl = await c.fetch(uri(1), "CN-ZJ")
    assert sl is not None and sl.get(5) == statuslist.REVOKED and c.get(uri(1)) is sl
    assert c.state()["on_disk"] == 0 and c.state()["events"][("status", "write_failed")] == 1
