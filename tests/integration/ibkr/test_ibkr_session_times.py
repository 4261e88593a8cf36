"""History requests follow the market calendar's sessions: today's daily bar counts once the
closing auction has settled after *that day's* close, and a past session's intraday request
ends an hour after *its* close, so an early-close day (Christmas Eve) works like any other."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from skimd.clock import SimulatedClock
from tests.fakes.ibkr_server import FakeIbkr, FakeIbkrKeys, autojump, daily_bar, make_broker

SYDNEY = ZoneInfo("Australia/Sydney")
HISTORY = "/iserver/marketdata/history"
NORMAL_DAY = date(2026, 12, 23)  # a Wednesday: 10:00-16:00
CHRISTMAS_EVE = date(2026, 12, 24)  # a Thursday: the ASX closes at 14:10
CHRISTMAS = date(2026, 12, 25)  # a Friday holiday: no session


@asynccontextmanager
async def broker_at(
    keys: FakeIbkrKeys, tmp_path: Path, day: date, hh: int, mm: int
) -> AsyncIterator[tuple[Any, FakeIbkr]]:
    clock = SimulatedClock(datetime.combine(day, time(hh, mm), SYDNEY))
    fake = FakeIbkr(keys, clock=clock)
    fake.bars[77] = [daily_bar(d, "10", "11", "9.5", "10.5", 1000)
                     for d in (date(2026, 12, 22), NORMAL_DAY, CHRISTMAS_EVE) if d <= day]
    broker, client = make_broker(fake, tmp_path)
    async with autojump(clock):
        await broker.connect()
        yield broker, fake
        await broker.close()
    await client.aclose()


@pytest.mark.parametrize(
    ("day", "hh", "mm", "with_today"),
    [
        (NORMAL_DAY, 16, 14, False),
        (NORMAL_DAY, 16, 15, True),  # close 16:00 + 15 minutes
        (CHRISTMAS_EVE, 14, 24, False),
        (CHRISTMAS_EVE, 14, 25, True),  # close 14:10 + 15 minutes, not 16:15
    ],
)
async def test_todays_daily_bar_counts_once_its_close_has_settled(
    ibkr_keys: FakeIbkrKeys, tmp_path: Path, day: date, hh: int, mm: int, with_today: bool
) -> None:
    async with broker_at(ibkr_keys, tmp_path, day, hh, mm) as (broker, _):
        days = [b.day for b in await broker.daily_bars(77, 5)]
    assert (days[-1] == day) is with_today
    assert days[0] == date(2026, 12, 22)


async def test_a_past_early_close_session_is_asked_up_to_an_hour_after_its_close(
    ibkr_keys: FakeIbkrKeys, tmp_path: Path
) -> None:
    async with broker_at(ibkr_keys, tmp_path, date(2026, 12, 29), 11, 0) as (broker, fake):
        await broker.intraday_bars(77, CHRISTMAS_EVE, minutes=5)
        await broker.intraday_bars(77, NORMAL_DAY, minutes=5)
    eve, normal = (c.query["startTime"] for c in fake.calls_to(HISTORY))
    assert eve == "20261224-04:10:00"  # 15:10 AEDT (UTC+11): 14:10 close + 1 hour
    assert normal == "20261223-06:00:00"  # 17:00 AEDT: 16:00 close + 1 hour


async def test_a_day_without_a_session_has_no_intraday_bars_and_asks_nothing(
    ibkr_keys: FakeIbkrKeys, tmp_path: Path
) -> None:
    async with broker_at(ibkr_keys, tmp_path, date(2026, 12, 29), 11, 0) as (broker, fake):
        assert await broker.intraday_bars(77, CHRISTMAS) == []
    assert fake.calls_to(HISTORY) == []
