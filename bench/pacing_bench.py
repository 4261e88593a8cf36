"""IBKR snapshot pacing benchmark: real loopback HTTP, real SystemClock.

Snapshots 2,000 conids through the IBKR facade against the fake IBKR served on 127.0.0.1
and compares the wall time with the pacing floor implied by the configured snapshot
bucket (2,000 conids / 100 per call = 20 calls; the floor is the time the bucket forces
between the first and the last call). Also prints the most snapshot calls the fake server
saw in any 1-second window (IBKR's limit is 10).

The timed run is "warm": the conids were pre-flighted first (as the 09:45 warm-up does),
so each call returns data. The cold run (pre-flight + data = 40 calls) is printed too.

Then the account-wide part: ``BROKERS`` separate brokers of one account (each its own HTTP
client and pacer, sharing only the pacing ledger file, as separate skimd processes do)
connect one after another; prints the closest two ``GET /portfolio/accounts`` arrived at the
server (IBKR's limit: 1 per 5 s) and the 429s the fake's limiter (IBKR's documented limits)
answered over the whole bench (must be 0).

Run: .venv/bin/python bench/pacing_bench.py
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from skimd.clock import SystemClock
from skimd.infrastructure.brokers.ibkr.market_data import SNAPSHOT_BATCH
from skimd.infrastructure.brokers.ibkr.pacing import IBKR_LIMITS, MARGIN_FRACTION, pacing_floor
from skimd.infrastructure.brokers.ibkr.pacing_ledger import PACING_FILE
from tests.fakes.ibkr_server import (
    SNAPSHOT_PATH,
    FakeIbkr,
    FakeIbkrKeys,
    make_broker,
    serve_loopback,
)

CONIDS = 2000
BROKERS = 4


def max_in_window(stamps: list[float], window: float = 1.0) -> int:
    stamps = sorted(stamps)
    best, lo = 0, 0
    for hi, t in enumerate(stamps):
        while stamps[lo] + window <= t:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


async def main() -> None:
    fake = FakeIbkr(FakeIbkrKeys.generate(), clock=SystemClock())
    conids = list(range(100_000, 100_000 + CONIDS))
    calls = -(-CONIDS // SNAPSHOT_BATCH)
    rate = IBKR_LIMITS["snapshot"]
    with tempfile.TemporaryDirectory() as tmp:
        async with serve_loopback(fake) as base_url, httpx.AsyncClient(timeout=10) as client:
            broker, _ = make_broker(fake, Path(tmp), client=client, base_url=base_url,
                                    snapshot_poll_interval_s=0.0)
            await broker.connect()

            t0 = time.perf_counter()
            cold = await broker.snapshots(conids)
            cold_s = time.perf_counter() - t0
            cold_calls = len(fake.calls_to(SNAPSHOT_PATH))
            await asyncio.sleep(rate.period_s + 0.1)  # let the window empty

            first_warm = len(fake.calls_to(SNAPSHOT_PATH))
            t0 = time.perf_counter()
            warm = await broker.snapshots(conids)
            warm_s = time.perf_counter() - t0
            warm_calls = len(fake.calls_to(SNAPSHOT_PATH)) - first_warm
            await broker.close()

            ledger = Path(tmp) / PACING_FILE
            t0 = time.perf_counter()
            for _ in range(BROKERS):
                other, _ = make_broker(fake, Path(tmp), client=client, base_url=base_url,
                                       pacing_file=ledger)
                await other.connect()
                await other.close()
            shared_s = time.perf_counter() - t0

    stamps = [c.at for c in fake.calls_to(SNAPSHOT_PATH)]
    margin = MARGIN_FRACTION * rate.period_s  # plus the measured latency (ms on loopback)
    floor = pacing_floor(calls, rate, margin)
    cold_floor = pacing_floor(cold_calls, rate, margin)
    accounts = [c.at for c in fake.calls_to("/portfolio/accounts")][-BROKERS:]
    gaps = [b - a for a, b in itertools.pairwise(accounts)]
    print(f"snapshot bucket: {rate.limit} calls / {rate.period_s:g} s, burst {rate.burst}; "
          f"batch {SNAPSHOT_BATCH} conids/call")
    print(f"cold  {CONIDS} conids: {cold_calls} calls (pre-flight + data) in {cold_s:.3f} s; "
          f"floor {cold_floor:.3f} s; ratio {cold_s / cold_floor:.3f}; "
          f"with data {sum(q.has_data for q in cold)}")
    print(f"warm  {CONIDS} conids: {warm_calls} calls in {warm_s:.3f} s; floor {floor:.3f} s; "
          f"ratio {warm_s / floor:.3f} (target <= 1.1); with data {sum(q.has_data for q in warm)}")
    print(f"max snapshot calls in any 1-s window (server side, all runs): "
          f"{max_in_window(stamps)} (limit {rate.limit})")
    print(f"{BROKERS} brokers of one account sharing the ledger, connected back to back in "
          f"{shared_s:.3f} s: closest /portfolio/accounts arrivals {min(gaps):.3f} s apart "
          f"(limit 1 per 5 s, margin {MARGIN_FRACTION:.0%} + latency)")
    assert fake.limiter is not None
    print(f"429s answered by the fake's limiter: {fake.limiter.refused}")


if __name__ == "__main__":
    asyncio.run(main())
