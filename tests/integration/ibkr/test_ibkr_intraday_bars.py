"""Intraday bars from ``/iserver/marketdata/history``: the request, the mapping of IBKR's
rows, the 5-in-flight cap and a 429 that pauses history only."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from skimd.clock import SimulatedClock
from skimd.errors import RateLimitedError
from skimd.infrastructure.brokers.events import RecordingBrokerEvents
from skimd.infrastructure.brokers.ibkr import history
from tests.fakes.ibkr_server import FakeIbkr, autojump, make_broker, minute_bar

SYDNEY = ZoneInfo("Australia/Sydney")
TODAY = date(2025, 3, 4)  # the fixtures' clock: 10:30 Sydney
HISTORY = "/iserver/marketdata/history"


def sydney(day: date, hh: int, mm: int) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=SYDNEY)


@pytest.fixture
async def broker(fake: FakeIbkr, clock: SimulatedClock, tmp_path: Path) -> AsyncIterator[Any]:
    broker, client = make_broker(fake, tmp_path)
    async with autojump(clock):
        await broker.connect()
        yield broker
        await broker.close()
    await client.aclose()


async def test_request_names_the_session_and_bar_size(broker: Any, fake: FakeIbkr) -> None:
    await broker.intraday_bars(77, TODAY - timedelta(days=1), minutes=5)
    await broker.intraday_bars(77, TODAY, minutes=60)
    past, today = (c.query for c in fake.calls_to(HISTORY))
    # a past session: up to 17:00 Sydney (AEDT, UTC+11) that day; today: up to IBKR's now
    assert past == {"conid": "77", "exchange": "ASX", "period": "1d", "bar": "5min",
                    "outsideRth": "false", "startTime": "20250303-06:00:00"}
    assert today["bar"] == "1h" and "startTime" not in today


async def test_rows_are_mapped_filtered_to_the_day_and_to_now(
    broker: Any, fake: FakeIbkr
) -> None:
    fake.intraday[77] = [
        minute_bar(sydney(TODAY, 10, 1), "10.02", "10.05", "10.00", "10.04", 1200),
        minute_bar(sydney(TODAY, 10, 0), "10.00", "10.03", "9.98", "10.02", 5000),
        minute_bar(sydney(TODAY, 10, 1), "10.02", "10.06", "10.00", "10.05", 1300),  # later wins
        minute_bar(sydney(TODAY, 10, 2), "10.05", "10.04", "10.06", "10.05", 10),  # h/l swapped
    ]
    fake.intraday[77].append({"o": "junk", "c": 1, "h": 1, "l": 1, "v": 1,
                              "t": int(sydney(TODAY, 10, 3).timestamp() * 1000)})
    bars = await broker.intraday_bars(77, TODAY)
    assert [b.at for b in bars] == [sydney(TODAY, 10, m).astimezone(UTC) for m in (0, 1, 2)]
    assert all(b.at is not None and b.at.tzinfo is UTC for b in bars)
    assert (bars[1].high, bars[1].close, bars[1].volume) == (Decimal("10.06"), Decimal("10.05"),
                                                              130_000)  # volumeFactor 100
    assert (bars[2].low, bars[2].high) == (Decimal("10.04"), Decimal("10.06"))
    assert all(b.day == TODAY for b in bars)


def test_mapping_drops_other_sessions_and_applies_the_volume_factor() -> None:
    body = {"volumeFactor": 100, "data": [
        minute_bar(sydney(TODAY - timedelta(days=1), 15, 59), "1", "1", "1", "1", 7),
        minute_bar(sydney(TODAY, 10, 0), "1.5", "1.6", "1.4", "1.55", 12),
    ]}
    (bar,) = history.intraday_bars(body, "XYZ", TODAY, SYDNEY)
    assert (bar.symbol, bar.open, bar.volume) == ("XYZ", Decimal("1.5"), 1200)
    assert [history.bar_size(m) for m in (1, 5, 30, 60)] == ["1min", "5min", "30min",
                                                                    "1h"]


@pytest.mark.parametrize("start_is_begin", [False, True])
async def test_bars_after_now_are_never_returned(
    broker: Any, fake: FakeIbkr, clock: SimulatedClock, start_is_begin: bool
) -> None:
    now = clock.now()
    fake.intraday[77] = [minute_bar(sydney(TODAY, 10, m), "2", "2.1", "1.9", "2", 1)
                         for m in range(0, 60)]
    fake.clock = SimulatedClock(now + timedelta(minutes=20))  # IBKR's clock runs ahead
    fake.history_start_is_begin = start_is_begin
    yesterday = await broker.intraday_bars(77, TODAY - timedelta(days=1))
    bars = await broker.intraday_bars(77, TODAY)
    assert yesterday == []  # IBKR sent today's rows (or none): not yesterday's bars
    assert len(bars) == 31 and max(b.at for b in bars) <= now  # 10:00 .. 10:30


class GatedHistory(httpx.AsyncBaseTransport):
    """Holds every history request until :attr:`gate` opens; counts those in flight."""

    def __init__(self, fake: FakeIbkr) -> None:
        self.fake = fake
        self.gate = asyncio.Event()
        self.arrived = 0
        self.in_flight = 0
        self.peak = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith(HISTORY):
            self.arrived += 1
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            try:
                await self.gate.wait()
            finally:
                self.in_flight -= 1
        return self.fake.handle(request)


async def _spin(passes: int) -> None:
    for _ in range(passes):
        await asyncio.sleep(0)


async def test_at_most_five_history_requests_are_in_flight(
    fake: FakeIbkr, clock: SimulatedClock, tmp_path: Path
) -> None:
    transport = GatedHistory(fake)
    client = httpx.AsyncClient(transport=transport)
    broker, _ = make_broker(fake, tmp_path, client=client)
    async with autojump(clock):
        await broker.connect()
        tasks = [asyncio.create_task(broker.intraday_bars(5000 + n, TODAY)) for n in range(6)]
        tasks.append(asyncio.create_task(broker.daily_bars(5100, 5)))  # same endpoint, same cap
        for _ in range(200):
            if transport.arrived >= 5:
                break
            await _spin(50)
        await _spin(2000)  # time enough (autojump moves the clock) for a sixth to start
        assert (transport.arrived, transport.in_flight) == (5, 5)
        assert broker.pacing_budget()["history"] == 0
        transport.gate.set()
        results = await asyncio.gather(*tasks)
        await broker.close()
    await client.aclose()
    assert transport.peak == 5 and transport.arrived == 7
    assert all(results)


async def test_a_429_on_history_pauses_history_only(
    fake: FakeIbkr, clock: SimulatedClock, tmp_path: Path
) -> None:
    events = RecordingBrokerEvents()
    broker, client = make_broker(fake, tmp_path, events=events)
    async with autojump(clock):
        await broker.connect()
        fake.fail(HISTORY, 429)
        with pytest.raises(RateLimitedError):
            await broker.intraday_bars(77, TODAY)
        with pytest.raises(RateLimitedError):
            await broker.daily_bars(77, 5)  # paused without reaching IBKR
        budget = broker.pacing_budget()
        quote = (await broker.snapshots([77]))[0]
        await broker.close()
    await client.aclose()
    assert str(budget["history"]).startswith("penalty until")
    assert isinstance(budget["snapshot"], int)
    assert quote.conid == 77
    limits = [(e.kind, e.detail) for e in events.events if e.kind != "session_renewed"]
    assert limits == [("rate_limited", "history")]
    assert len(fake.calls_to(HISTORY)) == 1
