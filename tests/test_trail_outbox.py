"""The verifier's outbox (services/verifier/outbox.py) over a fake delivery: kept on disk before the
answer, delivered at least once with stable ids, an unreachable region delaying only its own
checks, and nothing lost or sent twice across a restart."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import stat

import pytest

from ecert.errors import Unavailable
from ecert.limits import MAX_EPOCH, MAX_TRAIL_BATCH
from ecert.rules.access import Principal
from services.verifier import outbox as outbox_module
from services.verifier.outbox import Outbox
from services.verifier.upstream import access_request

HOTEL = Principal("hotel", "", "0a1b2c3d4e5f", "上海外滩酒店")
POLICE = Principal("traffic_police", "CN-JS", "99aa88bb77cc", "江苏省高速交警")
ZJ, SH = "A" * 26, "B" * 26


class FakeRegions:
    """The issuers, as delivery sees them: who is down, what each acknowledged (by entry id). A
    delivery is the request the verifier sends (``upstream.access_request``), serialised."""

    def __init__(self):
        self.down: set[str] = set()
        self.lose_answer: set[str] = set()  # recorded, but the acknowledgement never arrives
        self.refuse: set[str] = set()  # credential ids whose entries the region refuses as malformed
        self.fault: Exception | None = None  # raised once by the next delivery
        self.got: dict[str, list[str]] = {}  # endpoint -> entry ids, in delivery order (repeats kept)
        self.calls: list[tuple[str, int]] = []

    async def record_access(self, endpoint: str, records: list[dict]) -> list[str]:
        if self.fault is not None:
            fault, self.fault = self.fault, None
            raise fault
        if endpoint in self.down:
            raise Unavailable("the issuer could not be reached")
        access_request(records).SerializeToString()
        ids = [f"{r['i']}.{n}" for r in records for n in range(len(r["c"]))]
        self.got.setdefault(endpoint, []).extend(ids)
        self.calls.append((endpoint, len(ids)))
        if endpoint in self.lose_answer:
            self.lose_answer.discard(endpoint)
            raise Unavailable("the issuer did not answer in time")
        return [f"{r['i']}.{n}" for r in records for n, (c, _) in enumerate(r["c"]) if c in self.refuse]


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
    assert box.pending_bytes() == 0 and box._own == {}
    assert list((tmp_path / "outbox").rglob("*.log")) == list((tmp_path / "outbox").rglob("*.pos")) == []
    assert await box.deliver() == 0 and sum(len(v) for v in regions.got.values()) == 4  # nothing twice
    await box.close()


async def test_a_delivered_file_is_never_written_again_so_a_stale_position_is_only_behind(tmp_path):
    """A file delivered to its end is removed and the next check begins a new one: a position on disk
    older than the truth (a power loss took its last write, or the removal) never skips a check."""
    regions = FakeRegions()
    folder = tmp_path / "outbox"
    first = _open(folder, regions)
    first.record(HOTEL, "hotel_check_in", 1, {"CN-ZJ": [(ZJ, "VALID")] * 3})
    old = first._own["CN-ZJ"]
    saved = {p: p.read_bytes() for p in (old.path, old.pos_path)}  # the files as the disk may still hold them
    assert await first.deliver() == 3 and not old.path.exists()
    first.record(HOTEL, "hotel_check_in", 2, {"CN-ZJ": [(ZJ, "VALID")] * 3})
    new = first._own["CN-ZJ"]
    assert new.path != old.path and new.path.stat().st_size > 0
    await first.sync()
    first.abandon()  # a power loss: the removal of the delivered file did not reach the disk
    for path, data in saved.items():
        path.write_bytes(data)

    second = _open(folder, regions)
    assert await second.deliver() == 6  # the old file's checks again (the region has them) and the new ones
    got = regions.got["zj:1"]
    assert len(got) == 9 and len(set(got)) == 6 and got[:3] == got[3:6]  # nothing lost; the repeats by id
    await second.close()


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
    assert not path.exists()  # delivered: removed at once
    await running.close()
    other.adopt()
    assert await other.deliver() == 0
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
    regions = FakeRegions()
    box = _open(tmp_path / "outbox", regions)
    box.record(HOTEL, "hotel_check_in", 1, {"CN-ZJ": [(ZJ, "VALID")], "CN-SH": [(SH, "VALID")]})
    sizes = {region: f.path.stat().st_size for region, f in box._own.items()}
    write = os.write

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    def short_then_full(fd, data):  # what Linux does as a disk fills: part of the write, then ENOSPC
        monkeypatch.setattr(outbox_module.os, "write", full)
        return write(fd, data[:10])

    def full_for_shanghai(fd, data):
        return full(fd, data) if fd == box._own["CN-SH"].fd else write(fd, data)

    for fault in (full, short_then_full, full_for_shanghai):
        monkeypatch.setattr(outbox_module.os, "write", fault)
        with pytest.raises(Unavailable) as err:
            box.record(HOTEL, "hotel_check_in", 2, {"CN-ZJ": [(ZJ, "REVOKED")], "CN-SH": [(SH, "REVOKED")]})
        assert err.value.code == "TRAIL_UNAVAILABLE"
        monkeypatch.setattr(outbox_module.os, "write", write)
        # nothing of the refused request is left: no fragment, and no check of another region
        assert {region: f.path.stat().st_size for region, f in box._own.items()} == sizes, fault.__name__
        assert all(f.size == f.path.stat().st_size for f in box._own.values())

    box.record(HOTEL, "hotel_check_in", 3, {"CN-ZJ": [(ZJ, "EXPIRED")]})  # the disk has room again
    assert await box.deliver() == 3 and len(regions.got["zj:1"]) == 2 and box.pending_bytes() == 0
    await box.close()
    with pytest.raises(Unavailable):  # a closed outbox (a stopping verifier) refuses too
        box.record(HOTEL, "hotel_check_in", 4, {"CN-ZJ": [(ZJ, "VALID")]})


def test_a_file_that_cannot_be_made_is_503_not_500(tmp_path, monkeypatch):
    box = _open(tmp_path / "outbox", FakeRegions())
    box.record(HOTEL, "hotel_check_in", 1, {"CN-SH": [(SH, "VALID")]})
    sh = box._own["CN-SH"].path.stat().st_size
    real_open = os.open

    def refuse_logs(path, *args, **kw):
        if str(path).endswith(".log"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(path, *args, **kw)

    monkeypatch.setattr(outbox_module.os, "open", refuse_logs)
    with pytest.raises(Unavailable) as err:  # Shanghai's file is written, Zhejiang's first cannot be made
        box.record(HOTEL, "hotel_check_in", 2, {"CN-SH": [(SH, "VALID")], "CN-ZJ": [(ZJ, "VALID")]})
    assert err.value.code == "TRAIL_UNAVAILABLE"
    assert box._own["CN-SH"].path.stat().st_size == sh and "CN-ZJ" not in box._own
    box.abandon()


async def test_what_the_outbox_keeps_names_no_holder(tmp_path):
    box = _open(tmp_path / "outbox", FakeRegions())
    box.record(HOTEL, "hotel_check_in", 1, {"CN-ZJ": [(ZJ, "VALID")]})
    text = box._own["CN-ZJ"].path.read_text()
    assert set(json.loads(text)) == {"i", "t", "p", "o", "k", "r", "g", "c"}  # ids, codes and the checker only
    await box.close()
    assert os.listdir(tmp_path / "outbox" / "CN-ZJ")


def test_unknown_region_codes_are_not_paths(tmp_path, caplog):
    box = _open(tmp_path / "outbox", FakeRegions())
    box.record(HOTEL, "hotel_check_in", 1, {"../../etc": [(ZJ, "VALID")]})
    assert sorted(p.name for p in (tmp_path / "outbox").iterdir()) == []
    assert "unnamed region was not recorded" in caplog.text  # (a trust list's codes are checked when registered)
    box.abandon()


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


def _line(**changes) -> bytes:
    rec = {"p": "hotel_check_in", "o": "酒店", "k": "0a1b", "r": "hotel", "g": "", "i": "x-1", "t": 3,
           "c": [[ZJ, "VALID"]]} | changes
    return json.dumps(rec).encode() + b"\n"


async def test_a_damaged_line_of_the_right_shape_is_skipped_never_stopping_delivery(tmp_path, caplog):
    """Lines that are JSON of the outbox's members but that no delivery could carry (a time past
    MAX_EPOCH, a lone surrogate, a role or a region that is none, nesting past the parser) are
    skipped; the lines around them are delivered (as the real request, serialised)."""
    regions = FakeRegions()
    folder = tmp_path / "outbox"
    damaged = [_line(t=99999999999999999999), _line(t=MAX_EPOCH + 1), _line(t=-1), _line(o="\ud800"),
               _line(c=[["\udfff", "VALID"]]), _line(r="burglar"), _line(g="../etc"), _line(p="Hotel Check-In"),
               _line(c=[]), _line(c=[[ZJ, "VALID"]] * (MAX_TRAIL_BATCH + 1)), b"[" * 100_000 + b"\n",
               _line(i="a").rstrip(b"\n") + b"," + _line(i="b")]
    good = [_line(i="good-1"), _line(i="good-2", o="𠀀 Ext-B 酒店", c=[[ZJ, "VALID"], [SH, "REVOKED"]])]
    path = _crashed_run(folder, regions, b"".join([good[0], *damaged, good[1]]))
    second = _open(folder, regions)
    assert await second.deliver() == 4  # the crashed run's first line, and the two good ones
    assert regions.got["zj:1"][1:] == ["good-1.0", "good-2.0", "good-2.1"] and not path.exists()
    assert caplog.text.count("an unreadable outbox line is skipped") == len(damaged)
    await second.close()


async def test_what_the_region_refuses_is_logged_and_not_sent_again(tmp_path, caplog):
    regions = FakeRegions()
    regions.refuse.add(SH)
    box = _open(tmp_path / "outbox", regions)
    box.record(HOTEL, "hotel_check_in", 1, {"CN-ZJ": [(ZJ, "VALID"), (SH, "VALID")]})
    assert await box.deliver() == 2 and box.pending_bytes() == 0
    assert "CN-ZJ refused 1 delivered check(s) as malformed" in caplog.text
    assert await box.deliver() == 0 and len(regions.got["zj:1"]) == 2
    await box.close()


async def test_a_fault_in_delivery_backs_off_and_never_ends_the_task(tmp_path, caplog):
    regions, clock = FakeRegions(), Clock()
    box = _open(tmp_path / "outbox", regions, clock)
    box.record(HOTEL, "hotel_check_in", 1, {"CN-ZJ": [(ZJ, "VALID")]})
    regions.fault = ValueError("Value out of range")  # not an EcertError: a fault of this end
    assert await box.deliver() == 0 and "CN-ZJ" in box._retry and box.pending_bytes() > 0
    assert "(ValueError)" in caplog.text and "out of range" not in caplog.text  # its kind, never its text
    clock.t += outbox_module.RETRY_FIRST
    assert await box.deliver() == 1

    deliver, faults = box.deliver, [RuntimeError("boom")]

    async def failing_once():
        if faults:
            raise faults.pop()
        return await deliver()

    box.deliver = failing_once
    task = asyncio.create_task(box.run(linger=0.0))
    try:
        box.record(HOTEL, "hotel_check_in", 2, {"CN-ZJ": [(ZJ, "VALID")]})
        for _ in range(200):
            if len(regions.got["zj:1"]) == 2:
                break
            await asyncio.sleep(0.02)
        assert len(regions.got["zj:1"]) == 2 and not task.done()  # waited out the fault, then delivered
        assert "outbox delivery failed (RuntimeError)" in caplog.text
    finally:
        task.cancel()
        await box.close()


async def test_sync_covers_the_files_closed_to_new_lines_and_those_taken_over(tmp_path, monkeypatch):
    monkeypatch.setattr(outbox_module, "ROTATE_BYTES", 300)
    regions = FakeRegions()
    folder = tmp_path / "outbox"
    left = _crashed_run(folder, regions, b"")
    box = _open(folder, regions)
    for i in range(4):
        box.record(HOTEL, "hotel_check_in", i, {"CN-ZJ": [(ZJ, "VALID")] * 3})
    synced: list[int] = []
    monkeypatch.setattr(outbox_module, "_fsync_all", synced.extend)
    await box.sync()
    files = [*box._own.values(), *box._orphans]
    assert len(box._orphans) >= 2 and {f.path for f in box._orphans} >= {left}
    assert sorted(synced) == sorted(f.fd for f in files)
    synced.clear()
    await box.sync()
    assert synced == []  # nothing written since
    monkeypatch.undo()
    await box.close()


async def test_delivery_lingers_for_a_burst_but_not_past_a_full_call(tmp_path):
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
