"""Many requests of one key waiting on the same quota lease at once (several gateway processes under
load): none is refused while the key is far from its limit, and no lease is taken twice."""

from __future__ import annotations

import asyncio

from ecert.rules.access import Principal
from ecert.rules.apikeys import Grant, Quota
from gateway.throttle import QuotaExceeded, Quotas

NOW = 1_800_000_000.0


class SlowCounters:
    """The store's counters, each add answered after the event loop turned (as a real store's would)."""

    def __init__(self):
        self.counts: dict[str, int] = {}

    async def add_counts(self, steps, expiries):
        await asyncio.sleep(0)
        for name, n in steps.items():
            self.counts[name] = self.counts.get(name, 0) + n
        await asyncio.sleep(0)
        return {name: self.counts[name] for name in steps}


async def test_requests_waiting_on_one_lease_are_all_admitted_far_from_the_limit():
    store = SlowCounters()
    quotas = Quotas({"hotel": Quota(10**9, 10**9)}, wall=lambda: NOW)
    grant = Grant(Principal("hotel", key_id="k1"), None)
    results = await asyncio.gather(*(quotas.admit(grant, store) for _ in range(500)), return_exceptions=True)
    refused = [r for r in results if isinstance(r, QuotaExceeded)]
    assert not refused
    # what was admitted is what the store counted, less what the leases still hold
    for name, count in store.counts.items():
        held = quotas._windows[name].granted
        assert held >= 0 and count - held == 500


async def test_at_the_limit_a_refused_request_gives_back_what_it_took():
    store = SlowCounters()
    quotas = Quotas({"hotel": Quota(per_minute=0, per_day=0)}, wall=lambda: NOW)
    grant = Grant(Principal("hotel", key_id="k2"), None, 5, 1000)  # 5 a minute, 1,000 a day
    results = await asyncio.gather(*(quotas.admit(grant, store) for _ in range(20)), return_exceptions=True)
    assert sum(r is None for r in results) == 5
    assert all(isinstance(r, QuotaExceeded) and r.reason == "per_minute" for r in results if r is not None)
    day = next(w for name, w in quotas._windows.items() if ":d:" in name)
    day_count = next(c for name, c in store.counts.items() if ":d:" in name)
    assert day_count - day.granted == 5  # the day counted the five admitted only
