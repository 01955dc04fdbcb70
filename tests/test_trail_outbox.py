"""The verifier's outbox (services/verifier/outbox.py) over a fake delivery: kept on disk before the
answer, delivered at least once with stable ids, an unreachable region delaying only its own
checks, and nothing lost or sent twice across a restart."""

from __future__ import annotations

import json
import os
import stat

import pytest

from ecert.errors import InvalidRequest, Unavailable
from ecert.limits import MAX_TRAIL_BATCH
from ecert.rules.access import Principal
from services.verifier import outbox as outbox_module
from services.verifier.outbox import Outbox

HOTEL = Principal("hotel", "", "0a1b2c3d4e5f", "上海外滩酒店")
POLICE = Principal("traffic_police", "CN-JS", "99aa88bb77cc", "江苏省高速交警")
ZJ, SH = "A" * 26, "B" * 26


class FakeRegions:
    """The issuers, as delivery sees them: who is down, what each acknowledged (by entry id)."""

    def __init__(self):
        self.down: set[str] = set()
        self.lose_answer: set[str] = set()  # recorded, but the acknowledgement never arrives
        self.got: dict[str, list[str]] = {}  # endpoint -> entry ids, in delivery order (repeats kept)
        self.calls: list[tuple[str, int]] = []

    async def record_access(self, endpoint: str, records: list[dict]) -> None:
        if endpoint in self.down:
            raise Unavailable("the issuer could not be reached")
        ids = [f"{r['i']}.{n}" for r in records for n in range(len(r["c"]))]
        self.got.setdefault(endpoint, []).extend(ids)
        self.calls.append((endpoint, len(ids)))
        if endpoint in self.lose_answer:
            self.lose_answer.discard(endpoint)
            raise Unavailable("the issuer did not answer in time")


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _endpoints(region: str) -> str | None:
    return {"CN-ZJ": "zj:1", "CN-SH": "sh:1"}.get(region)


def _open(folder, regions: FakeRegions, clock: Clock | None = None) -> Outbox:
    return Outbox.open(folder, regions, _endpoints, monotonic=clock or Clock())


async def test_a_request_is_one_line_per_region_kept_before_delivery(tmp_path):
    regions = FakeRegions()
    box = _open(tmp_path / "outbox", regions)
    box.record(HOTEL, "hotel_check_in", 1_800_000_000, {"CN-ZJ": [(ZJ, "VALID")]})
    box.record(POLICE, "roadside_driver_check", 1_800_000_001,
               {"CN-ZJ": [(ZJ, "VALID"), (ZJ, "REVOKED")], "CN-SH": [(SH, "EXPIRED")]})
    files = sorted(p.relative_to(tmp_path) for p in (tmp_path / "outbox").rglob("*.log"))
    assert [str(p.parent) for p in files] == ["outbox/CN-SH", "outbox/CN-ZJ"]
    zj = box._own["CN-ZJ"].path.read_text().splitlines()
    assert len(zj) == 2
    line = json.loads(zj[1])
    assert line["c"] == [[ZJ, "VALID"], [ZJ, "REVOKED"]] and line["p"] == "roadside_driver_check"
    assert (line["o"], line["k"], line["r"], line["g"], line["t"]) == ("江苏省高速交警", "99aa88bb77cc",
                                                                        "traffic_police", "CN-JS", 1_800_000_001)
    # private: the folders 0700, the files 0600
    for path in [tmp_path / "outbox", *(tmp_path / "outbox").rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))
    assert regions.got == {}  # nothing was sent yet: recording never waits for the network

    assert await box.deliver() == 4
    assert len(regions.got["zj:1"]) == 3 and len(regions.got["sh:1"]) == 1
    assert len(set(regions.got["zj:1"])) == 3  # each check its own id
    assert box.pending_bytes() == 0 and box._own["CN-ZJ"].path.stat().st_size == 0
    assert await box.deliver() == 0 and sum(len(v) for v in regions.got.values()) == 4  # nothing twice
    await box.close()


async def test_an_unreachable_region_waits_and_the_others_are_delivered(tmp_path):
    regions, clock = FakeRegions(), Clock()
    box = _open(tmp_path / "outbox", regions, clock)
    regions.down.add("zj:1")
    box.record(HOTEL, "hotel_check_in", 1, {"CN-ZJ": [(ZJ, "VALID")], "CN-SH": [(SH, "VALID")]})
    assert await box.deliver() == 1  # Shanghai's; Zhejiang's waits
    assert list(regions.got) == ["sh:1"] and box.pending_bytes() > 0
    regions.down.clear()
    assert await box.deliver() == 0  # within its back-off the region is not asked again
    clock.t += outbox_module.RETRY_FIRST
    assert await box.deliver() == 1 and len(regions.got["zj:1"]) == 1
    # the back-off doubles while the region stays away, and ends once it answers
    regions.down.add("zj:1")
    box.record(HOTEL, "hotel_check_in", 2, {"CN-ZJ": [(ZJ, "VALID")]})
    waits = []
    for _ in range(8):
        await box.deliver()
        due, wait = box._retry["CN-ZJ"]
        waits.append(wait)
        clock.t = due
    assert waits[:3] == [0.5, 1.0, 2.0] and max(waits) == outbox_module.RETRY_MAX
    regions.down.clear()
    assert await box.deliver() == 1 and "CN-ZJ" not in box._retry
    await box.close()


async def test_a_region_without_an_endpoint_keeps_its_checks(tmp_path):
    regions = FakeRegions()
    box = Outbox.open(tmp_path / "outbox", regions, lambda region: None)
    box.record(HOTEL, "hotel_check_in", 1, {"CN-ZJ": [(ZJ, "VALID")]})
    assert await box.deliver() == 0 and box.pending_bytes() > 0
    box.endpoint = _endpoints  # the trust list names it now
    assert await box.deliver() == 1
    await box.close()


async def test_an_answer_lost_on_the_way_means_the_same_ids_again(tmp_path):
    """At least once: the region recorded the checks but its acknowledgement was lost, so they are
    sent again with the same entry ids (the region recognises them: no second entry)."""
    regions, clock = FakeRegions(), Clock()
    box = _open(tmp_path / "outbox", regions, clock)
    box.record(HOTEL, "hotel_check_in", 1, {"CN-ZJ": [(ZJ, "VALID"), (ZJ, "VALID")]})
    regions.lose_answer.add("zj:1")
    assert await box.deliver() == 0
    clock.t += 60
    assert await box.deliver() == 2
    first, second = regions.got["zj:1"][:2], regions.got["zj:1"][2:]
    assert first == second and len(set(first)) == 2
    await box.close()


async def test_deliveries_are_bounded_and_oldest_first(tmp_path):
    regions = FakeRegions()
    box = _open(tmp_path / "outbox", regions)
    for i in range(5):
        box.record(HOTEL, "hotel_check_in", i, {"CN-ZJ": [(ZJ, "VALID")] * 400})
    assert await box.deliver() == 2000
    assert [n for _, n in regions.calls] == [800, 800, 400]  # whole requests, at most MAX_TRAIL_BATCH a call
    assert all(n <= MAX_TRAIL_BATCH for _, n in regions.calls)
    ids = regions.got["zj:1"]
    lines = [int(i.split("-")[1].split(".")[0], 16) for i in ids]
    assert lines == sorted(lines)
    await box.close()


async def test_a_restart_delivers_what_the_last_run_left_nothing_lost_nothing_twice(tmp_path):
    regions = FakeRegions()
    folder = tmp_path / "outbox"
    first = _open(folder, regions)
    first.record(HOTEL, "hotel_check_in", 1, {"CN-ZJ": [(ZJ, "VALID")] * 3})
    assert await first.deliver() == 3  # delivered, and noted
    first.record(HOTEL, "hotel_check_in", 2, {"CN-ZJ": [(ZJ, "VALID")] * 2, "CN-SH": [(SH, "VALID")]})
    regions.down.add("sh:1")
    assert await first.deliver() == 2  # Zhejiang's; Shanghai's waits
    first.record(POLICE, "roadside_driver_check", 3, {"CN-ZJ": [(ZJ, "SUSPENDED")]})
    recorded = 3 + 2 + 1 + 1
    first.abandon()  # killed: no sync, no delivery, its files unlocked
    regions.down.clear()

    second = _open(folder, regions)  # a new verifier on the same folder
    assert len(second._orphans) == 2
    assert await second.deliver() == 2  # what the first had not delivered: one check per region
    got = [i for ids in regions.got.values() for i in ids]
    assert len(got) == recorded and len(set(got)) == recorded  # 0 lost, 0 duplicated
    assert sorted(p.name for p in folder.rglob("*.log")) == []  # the old run's files are gone
    assert await second.deliver() == 0
    await second.close()


async def test_a_running_verifiers_files_are_never_taken(tmp_path):
    regions = FakeRegions()
    folder = tmp_path / "outbox"
    running = _open(folder, regions)
    running.record(HOTEL, "hotel_check_in", 1, {"CN-ZJ": [(ZJ, "VALID")]})
    path = running._own["CN-ZJ"].path
    other = _open(folder, regions)  # a second verifier on the same folder, while the first runs
    assert other._orphans == [] and await other.deliver() == 0
    assert await running.deliver() == 1 and len(regions.got["zj:1"]) == 1
    await running.close()
    other.adopt()  # the first stopped cleanly: its (empty) file is tidied away
    assert await other.deliver() == 0 and not path.exists()
    await other.close()


def _crashed_run(folder, regions: FakeRegions, then: bytes):
    """The file of a run killed after one check, with ``then`` written after its line."""
    first = _open(folder, regions)
    first.record(HOTEL, "hotel_check_in", 1, {"CN-ZJ": [(ZJ, "VALID")]})
    path = first._own["CN-ZJ"].path
    first.abandon()
    with open(path, "ab") as f:
        f.write(then)
    return path


async def test_a_torn_last_line_of_a_crashed_run_is_dropped_alone(tmp_path):
    regions = FakeRegions()
    folder = tmp_path / "outbox"
    path = _crashed_run(folder, regions, b'{"i":"torn","t":2,"c":[["')  # a write cut short by a power loss
    second = _open(folder, regions)
    assert await second.deliver() == 1 and not path.exists()
    await second.close()


async def test_a_full_disk_refuses_the_check_rather_than_losing_it(tmp_path, monkeypatch):
    box = _open(tmp_path / "outbox", FakeRegions())
    box.record(HOTEL, "hotel_check_in", 1, {"CN-ZJ": [(ZJ, "VALID")]})

    def full(fd, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(outbox_module.os, "write", full)
    with pytest.raises(Unavailable) as err:
        box.record(HOTEL, "hotel_check_in", 2, {"CN-ZJ": [(ZJ, "VALID")]})
    assert err.value.code == "TRAIL_UNAVAILABLE"
    monkeypatch.undo()
    await box.close()
    with pytest.raises(Unavailable):  # a closed outbox (a stopping verifier) refuses too
        box.record(HOTEL, "hotel_check_in", 3, {"CN-ZJ": [(ZJ, "VALID")]})


async def test_what_the_outbox_keeps_names_no_holder(tmp_path):
    box = _open(tmp_path / "outbox", FakeRegions())
    box.record(HOTEL, "hotel_check_in", 1, {"CN-ZJ": [(ZJ, "VALID")]})
    text = box._own["CN-ZJ"].path.read_text()
    assert set(json.loads(text)) == {"i", "t", "p", "o", "k", "r", "g", "c"}  # ids, codes and the checker only
    await box.close()
    assert os.listdir(tmp_path / "outbox" / "CN-ZJ")


def test_unknown_region_codes_are_not_paths(tmp_path):
    box = _open(tmp_path / "outbox", FakeRegions())
    box.record(HOTEL, "hotel_check_in", 1, {"../../etc": [(ZJ, "VALID")]})
    assert sorted(p.name for p in (tmp_path / "outbox").iterdir()) == []
    assert InvalidRequest  # (the region codes a trust list names are checked when registered)


async def test_a_file_under_steady_load_is_rotated_delivered_and_removed(tmp_path, monkeypatch):
    monkeypatch.setattr(outbox_module, "ROTATE_BYTES", 2000)
    regions = FakeRegions()
    box = _open(tmp_path / "outbox", regions)
    for i in range(40):
        box.record(HOTEL, "hotel_check_in", i, {"CN-ZJ": [(ZJ, "VALID")] * 2})
    files = sorted((tmp_path / "outbox" / "CN-ZJ").glob("*.log"))
    assert len(files) > 3 and all(p.stat().st_size <= 2000 + 300 for p in files)
    assert await box.deliver() == 80
    ids = regions.got["zj:1"]
    assert len(ids) == len(set(ids)) == 80
    lines = [int(i.split("-")[1].split(".")[0], 16) for i in ids]
    assert lines == sorted(lines)  # the older files first
    assert len(list((tmp_path / "outbox" / "CN-ZJ").glob("*.log"))) <= 1  # at most the one being written
    await box.close()


def test_lines_are_the_json_they_look_like(tmp_path):
    box = _open(tmp_path / "outbox", FakeRegions())
    odd = Principal("integrator", "", "k1", 'Quote "and" back\\slash 酒店\u2028')
    box.record(odd, "general", 7, {"CN-ZJ": [(ZJ, "VALID")], "CN-SH": [("weird\"id", "VALID")]})
    for f in box._own.values():
        rec = json.loads(f.path.read_bytes())
        assert rec["o"] == odd.org and rec["t"] == 7 and rec["p"] == "general"
    assert json.loads(box._own["CN-SH"].path.read_bytes())["c"] == [['weird"id', "VALID"]]
    box.abandon()


async def test_damaged_lines_amid_good_ones_are_skipped_and_the_rest_delivered(tmp_path):
    regions = FakeRegions()
    folder = tmp_path / "outbox"
    # a disk that returned garbage: not JSON, JSON of another shape, checks malformed, a time as text
    path = _crashed_run(folder, regions, b'\x00\x00{"p"\n[1,2]\n'
                        b'{"p":"x","o":"","k":"","r":"hotel","g":"","i":"w","t":3,"c":[["A"]]}\n'
                        b'{"p":"x","o":"","k":"","r":"hotel","g":"","i":"t","t":"4","c":[]}\n')
    second = _open(folder, regions)
    second.record(POLICE, "roadside_driver_check", 5, {"CN-ZJ": [(ZJ, "VALID"), (SH, "REVOKED")]})
    assert await second.deliver() == 3  # the crashed run's good line and the new one, whole
    assert len(regions.got["zj:1"]) == 3 and not path.exists()
    await second.close()


async def test_delivery_lingers_for_a_burst_but_not_past_a_full_call(tmp_path):
    import asyncio

    regions = FakeRegions()
    box = _open(tmp_path / "outbox", regions)
    task = asyncio.create_task(box.run(linger=30.0))  # a linger longer than the test
    try:
        box.record(HOTEL, "hotel_check_in", 1, {"CN-ZJ": [(ZJ, "VALID")]})
        await asyncio.sleep(0.1)
        assert regions.calls == []  # lingering: more may come for the same call
        box.record(HOTEL, "hotel_check_in", 2, {"CN-ZJ": [(ZJ, "VALID")] * MAX_TRAIL_BATCH})
        for _ in range(100):  # a full call's worth came: delivered without waiting out the linger
            if regions.calls:
                break
            await asyncio.sleep(0.02)
        assert sum(n for _, n in regions.calls) == 1 + MAX_TRAIL_BATCH
    finally:
        task.cancel()
        await box.close()
