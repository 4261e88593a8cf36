"""Snapshots (pre-flight, pacing under a burst, field mapping), bars and the scanner."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from skimd.clock import SimulatedClock, SystemClock
from skimd.infrastructure.brokers.events import RecordingBrokerEvents
from tests.fakes.ibkr_server import (
    SNAPSHOT_PATH,
    FakeIbkr,
    FakeIbkrKeys,
    FakeInstrument,
    autojump,
    daily_bar,
    make_broker,
    serve_loopback,
)


@pytest.fixture
async def broker(fake: FakeIbkr, clock: SimulatedClock, tmp_path: Path) -> AsyncIterator[Any]:
    broker, client = make_broker(fake, tmp_path)
    async with autojump(clock):
        await broker.connect()
        yield broker
        await broker.close()
    await client.aclose()


def _max_in_any_second(stamps: list[float]) -> int:
    return max(sum(1 for t in stamps if s <= t < s + 1.0) for s in stamps)


async def test_a_500_snapshot_burst_keeps_to_ten_calls_per_second(
    broker: Any, fake: FakeIbkr
) -> None:
    conids = list(range(10_001, 10_501))
    quotes = await asyncio.gather(*(broker.snapshots([c]) for c in conids))
    assert all(q[0].has_data and q[0].conid == c for q, c in zip(quotes, conids, strict=True))
    stamps = [c.at for c in fake.calls_to(SNAPSHOT_PATH)]
    assert len(stamps) == 1000  # each conid: one pre-flight call + one with data
    assert _max_in_any_second(stamps) <= 10


async def test_batches_of_at_most_100_and_field_mapping(broker: Any, fake: FakeIbkr) -> None:
    fake.add_instrument(FakeInstrument(
        "WDS", 4036900, "WOODSIDE", Decimal("1234.5"), Decimal("1240"), Decimal("1250.25"),
        Decimal("1250.2"), Decimal("1250.3"), Decimal("1260"), Decimal("1230"), 2_345_678,
        closed=True))
    conids = [4036900, *range(20_000, 20_249)]
    quotes = await broker.snapshots(conids)
    assert [q.conid for q in quotes] == conids
    calls = fake.calls_to(SNAPSHOT_PATH)
    assert max(len(c.query["conids"].split(",")) for c in calls) == 100
    wds = quotes[0]
    assert (wds.symbol, wds.last, wds.prev_close, wds.open) == (
        "WDS", Decimal("1250.25"), Decimal("1234.5"), Decimal("1240"))
    assert (wds.high, wds.low, wds.volume) == (Decimal("1260"), Decimal("1230"), 2_345_678)


async def test_daily_bars_exclude_the_forming_day(broker: Any, fake: FakeIbkr) -> None:
    fake.bars[77] = [
        daily_bar(date(2025, 2, 28), "10", "11", "9.5", "10.5", 1000),
        daily_bar(date(2025, 3, 3), "10.5", "10.9", "10.1", "10.2", 1200),
        daily_bar(date(2025, 3, 4), "10.2", "10.4", "10.0", "10.3", 300),  # today, open
    ]
    bars = await broker.daily_bars(77, 5)
    assert [b.day for b in bars] == [date(2025, 2, 28), date(2025, 3, 3)]
    # the fake answers with IBKR's volumeFactor 100: v=1200 is 120 000 shares
    assert bars[1].close == Decimal("10.2") and bars[1].volume == 120_000


async def test_gap_scanner_filters_and_sorts(broker: Any, fake: FakeIbkr) -> None:
    for sym, conid, prev, open_ in (("AAA", 1, "1.00", "1.10"), ("BBB", 2, "2.00", "2.40"),
                                    ("CCC", 3, "3.00", "3.03")):
        p, o = Decimal(prev), Decimal(open_)
        fake.add_instrument(FakeInstrument(sym, conid, sym, p, o, o, o, o, o, o, 500_000))
    fake.scanner_conids = [1, 2, 3]
    found = await broker.scan_gaps(Decimal("5"), Decimal("0.5"), 100_000)
    assert [(c.symbol, c.gap_pct) for c in found] == [("BBB", Decimal("20.0000")),
                                                      ("AAA", Decimal("10.0000"))]
    assert broker.has_scanner


async def test_scanner_request_has_ibkrs_documented_shape(broker: Any, fake: FakeIbkr) -> None:
    """``POST /iserver/scanner/run`` takes ``instrument``/``location``/``type`` and a
    ``filter`` list of ``{code, value}`` (IBKR's OpenAPI spec); our ASX defaults are
    ``STOCK.HK`` / ``STK.HK.ASX`` / ``HIGH_OPEN_GAP``."""
    fake.scanner_conids = []
    assert await broker.scan_gaps(Decimal("4"), Decimal("0.2"), 20_000) == []
    (call,) = fake.calls_to("/iserver/scanner/run")
    assert call.body == {
        "instrument": "STOCK.HK", "location": "STK.HK.ASX", "type": "HIGH_OPEN_GAP",
        "filter": [{"code": "priceAbove", "value": 0.2}, {"code": "volumeAbove", "value": 20_000}],
    }


async def test_real_loopback_http_with_system_clock(
    ibkr_keys: FakeIbkrKeys, tmp_path: Path
) -> None:
    fake = FakeIbkr(ibkr_keys, clock=SystemClock())
    fake.add_instrument(FakeInstrument("BHP", 4036812, "BHP GROUP", Decimal("44.5"),
                                       last=Decimal("45.1")))
    async with serve_loopback(fake) as base_url, httpx.AsyncClient(timeout=5) as client:
        broker, _ = make_broker(fake, tmp_path, client=client, base_url=base_url,
                                events=RecordingBrokerEvents(), snapshot_poll_interval_s=0.0)
        await broker.connect()
        contracts = await broker.resolve(["bhp"])
        quote = (await broker.snapshots([contracts["BHP"].conid]))[0]
        await broker.close()
    assert contracts["BHP"].conid == 4036812 and contracts["BHP"].exchange == "ASX"
    assert quote.last == Decimal("45.1")
    assert fake.rejected_signatures == 0 and fake.lst_requests == 1
