"""The demo market's regimes (skimd.infrastructure.brokers.demo.regimes): gap days fill,
go or chop in the documented shares, a gap-and-go day's drift carries into the next days,
and intraday volatility is U-shaped. Statistics over a month of a seeded 300-ticker market;
the bounds are loose (they hold for any seed) but each fails if its mechanism goes."""

from __future__ import annotations

import itertools
import math
import statistics
from datetime import date, timedelta

import pytest

from skimd.infrastructure.brokers.demo.day_plans import DayPlan
from skimd.infrastructure.brokers.demo.market import DemoMarket
from skimd.infrastructure.brokers.demo.regimes import (
    MEMORY_DAYS,
    DayBehaviour,
    intraday_vol_weights,
)
from skimd.infrastructure.calendar import AsxCalendar


def _days(market: DemoMarket, start: date, n: int) -> list[date]:
    days: list[date] = []
    while len(days) < n:
        if market.is_trading_day(start):
            days.append(start)
        start += timedelta(days=1)
    return days


@pytest.fixture(scope="module")
def market() -> DemoMarket:
    return DemoMarket(seed=11, universe_size=300, calendar=AsxCalendar("Australia/Sydney"))


@pytest.fixture(scope="module")
def month(market: DemoMarket) -> list[date]:
    return _days(market, date(2026, 3, 2), 24)


def _large(market: DemoMarket, days: list[date]) -> list[DayPlan]:
    return [p for d in days for p in market.plans(d) if abs(p.gap_pct) >= 4]


def test_large_gaps_fill_go_or_chop_in_the_documented_shares(
    market: DemoMarket, month: list[date]
) -> None:
    plans = _large(market, month)
    assert len(plans) > 150
    share = {b: sum(p.behaviour is b for p in plans) / len(plans) for b in DayBehaviour}
    assert 0.4 < share[DayBehaviour.FADE] < 0.6  # about half of large gaps fill
    assert 0.15 < share[DayBehaviour.BREAKOUT] < 0.35
    assert 0.15 < share[DayBehaviour.CHOP] < 0.35
    fades = [p for p in plans if p.behaviour is DayBehaviour.FADE and p.gap_pct > 0]
    filled = [p for p in fades if market.daily_bar(p.symbol, p.day).low <= p.prev_close]
    assert len(filled) / len(fades) > 0.6  # a fade day trades back to the prior close
    goes = [p for p in plans if p.behaviour is DayBehaviour.BREAKOUT and p.gap_pct > 0]
    assert sum(p.close > p.open for p in goes) / len(goes) > 0.6  # goes on past the open


def test_a_gap_and_go_days_drift_carries_into_the_following_days(
    market: DemoMarket, month: list[date]
) -> None:
    def after(behaviour: DayBehaviour) -> float:
        moves = []
        for plan in _large(market, month[:-3]):
            if plan.behaviour is behaviour:
                later = month[month.index(plan.day) + 3]
                ratio = float(market.plan(plan.symbol, later).close) / float(plan.close)
                moves.append(math.log(ratio) * (1 if plan.gap_pct > 0 else -1))
        return statistics.mean(moves)

    go, fade = after(DayBehaviour.BREAKOUT), after(DayBehaviour.FADE)
    assert go > 0.01  # three sessions later, further in the gap's direction
    assert go > fade + 0.01  # a fade day has no follow-through


def test_intraday_volatility_is_u_shaped(market: DemoMarket, month: list[date]) -> None:
    weights = intraday_vol_weights(360)
    assert sum(w * w for w in weights) == pytest.approx(360)
    assert weights[0] > 1.8 * weights[180] and weights[-1] > 1.3 * weights[180]
    moves: dict[str, list[float]] = {"open": [], "midday": [], "close": []}
    for plan in [p for p in market.plans(month[0]) if abs(p.gap_pct) < 2][:150]:
        prices = [float(p) for _, p in market.minute_prices(plan.symbol, plan.day)]
        steps = [abs(math.log(b / a)) for a, b in itertools.pairwise(prices)]
        moves["open"] += steps[:10]
        moves["midday"] += steps[170:190]
        moves["close"] += steps[-5:]
    mean = {k: statistics.mean(v) for k, v in moves.items()}
    assert mean["open"] > 1.3 * mean["midday"] and mean["close"] > mean["midday"]


def test_prices_do_not_depend_on_the_order_days_are_asked_in(
    market: DemoMarket, month: list[date]
) -> None:
    twin = DemoMarket(seed=11, universe_size=300, calendar=AsxCalendar("Australia/Sydney"))
    late = month[-1]
    symbol = _large(market, [late])[0].symbol
    first = twin.plan(symbol, late)  # straight to the last day, no history asked before
    assert first == market.plan(symbol, late)
    assert len(twin._recent_sessions(late)) == MEMORY_DAYS
