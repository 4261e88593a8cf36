"""Intraday OHLCV bars of the demo market, read off its price paths.

The path is linear between its minute knots, so a period's extremes lie on its knots or at
its two ends: open = price at the period's first traded instant (the opening auction for the
first bar), close = price at its end (the close, or now for a forming bar), high/low over
those and the knots between. Volume is the path's cumulative volume over the period, the
opening auction counted in the first bar. Periods are laid from the session's open.
"""

from __future__ import annotations

import bisect
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Protocol

from skimd.domain.market import Bar
from skimd.infrastructure.brokers.demo.day_plans import DayPlan
from skimd.infrastructure.brokers.demo.price_paths import volume_at


class PathMarket(Protocol):
    """What the bars are read from (the demo market's sessions, plans and paths)."""

    def session_date(self, when: datetime) -> date: ...
    def is_trading_day(self, day: date) -> bool: ...
    def plan(self, symbol: str, day: date) -> DayPlan: ...
    def open_at(self, day: date) -> datetime: ...
    def price_at(self, symbol: str, when: datetime) -> Decimal | None: ...
    def minute_prices(self, symbol: str, day: date) -> list[tuple[datetime, Decimal]]: ...


def intraday_bars(
    market: PathMarket, symbol: str, day: date, minutes: int, now: datetime
) -> list[Bar]:
    """``symbol``'s bars of ``minutes`` on ``day`` up to ``now``, oldest first (none for a
    day after ``now``'s, a day without a session, or before the ticker's open)."""
    if day > market.session_date(now) or not market.is_trading_day(day):
        return []
    plan = market.plan(symbol, day)
    end = min(plan.close_at, now)
    if end < plan.open_at:
        return []
    knots = market.minute_prices(symbol, day)
    knot_times = [t for t, _ in knots]
    step = timedelta(minutes=minutes)
    start = market.open_at(day) - step
    bars: list[Bar] = []
    # the closing price (close_at is a grid point) ends the last bar; it opens none
    while (start := start + step) <= end and start < plan.close_at:
        lo, hi = max(start, plan.open_at), min(start + step, end)
        if lo > hi:
            continue
        first = market.price_at(symbol, lo)
        last = market.price_at(symbol, hi)
        assert first is not None and last is not None  # both within the session
        inside = knots[bisect.bisect_right(knot_times, lo) : bisect.bisect_left(knot_times, hi)]
        prices = [first, last, *(p for _, p in inside)]
        before = 0 if lo == plan.open_at else volume_at(plan, lo)
        bars.append(
            Bar(
                symbol=plan.symbol,
                day=day,
                open=first,
                high=max(prices),
                low=min(prices),
                close=last,
                volume=volume_at(plan, hi) - before,
                at=start,
            )
        )
    return bars
