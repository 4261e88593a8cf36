"""The simulated ASX: determinism, universe, gap distribution, sessions, paths, news."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from skimd.domain.calendar import MarketSession
from skimd.infrastructure.brokers.demo.market import DemoMarket
from skimd.infrastructure.brokers.demo.regimes import DayBehaviour
from skimd.infrastructure.calendar import AsxCalendar

SYD = ZoneInfo("Australia/Sydney")
DAY = date(2025, 3, 4)  # a Tuesday
WEEK = [date(2025, 3, d) for d in (3, 4, 5, 6, 7, 10, 11, 12, 13, 14)]


def syd(day: date, hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm, ss), SYD)


@pytest.fixture(scope="module")
def market() -> DemoMarket:
    return DemoMarket(seed=7, universe_size=300, calendar=AsxCalendar("Australia/Sydney"))


def test_same_seed_and_date_give_identical_gaps_and_paths(market: DemoMarket) -> None:
    twin = DemoMarket(seed=7, universe_size=300, calendar=AsxCalendar("Australia/Sydney"))
    assert twin.plans(DAY) == market.plans(DAY)
    gapper = max(market.plans(DAY), key=lambda p: p.gap_pct).symbol
    # ask the twin in a different order first: results must not depend on call order
    twin.minute_prices("BHP", DAY)
    assert twin.minute_prices(gapper, DAY) == market.minute_prices(gapper, DAY)
    assert twin.announcements(DAY) == market.announcements(DAY)


def test_different_seed_gives_a_different_market(market: DemoMarket) -> None:
    other = DemoMarket(seed=8, universe_size=300, calendar=AsxCalendar("Australia/Sydney"))
    assert [t.symbol for t in other.tickers] != [t.symbol for t in market.tickers]
    assert [p.gap_pct for p in other.plans(DAY)] != [p.gap_pct for p in market.plans(DAY)]


def test_universe_has_unique_asx_like_codes_and_conids(market: DemoMarket) -> None:
    symbols = [t.symbol for t in market.tickers]
    assert len(symbols) == 300 == len(set(symbols))
    assert all(len(s) == 3 and s.isalnum() and s.isupper() for s in symbols)
    assert "BHP" in symbols
    assert len({t.conid for t in market.tickers}) == 300
    ticker = market.ticker(" bhp ")
    assert ticker is not None and market.by_conid(ticker.conid) is ticker


def test_prior_closes_stay_in_the_demo_price_band(market: DemoMarket) -> None:
    closes = [p.prev_close for d in WEEK for p in market.plans(d)]
    assert min(closes) >= Decimal("0.05") and max(closes) <= Decimal("120")
    assert min(closes) < 1 < 20 < max(closes)  # penny stocks and large caps


def test_gap_distribution_mostly_small_with_a_few_large(market: DemoMarket) -> None:
    plans = [p for d in WEEK for p in market.plans(d)]
    small = sum(1 for p in plans if abs(p.gap_pct) <= 2)
    large = [p for p in plans if p.gap_pct >= 4]
    assert small / len(plans) > 0.8
    assert 0.01 < len(large) / len(plans) < 0.08
    assert max(p.gap_pct for p in plans) < 20  # 15 % plus tick rounding on penny stocks
    per_day = [sum(1 for p in market.plans(d) if p.gap_pct >= 4) for d in WEEK]
    assert all(n >= 1 for n in per_day)


def test_previous_close_is_the_prior_sessions_close(market: DemoMarket) -> None:
    for symbol in ("BHP", market.tickers[100].symbol):
        friday = market.plan(symbol, date(2025, 3, 7))
        monday = market.plan(symbol, date(2025, 3, 10))
        assert monday.prev_close == friday.close
        assert market.daily_bar(symbol, date(2025, 3, 7)).close == friday.close


def test_open_auction_ends_between_ten_and_two_past(market: DemoMarket) -> None:
    opens = [p.open_at.astimezone(SYD).time() for p in market.plans(DAY)]
    assert min(opens) >= time(10, 0) and max(opens) <= time(10, 2)
    assert len(set(opens)) > 100  # staggered per ticker


def test_quote_before_open_has_only_previous_close(market: DemoMarket) -> None:
    plan = market.plan("BHP", DAY)
    early = market.quote("BHP", plan.open_at - timedelta(seconds=1))
    assert early.last is None and early.open is None and early.bid is None
    assert early.prev_close == plan.prev_close and early.volume == 0
    assert market.price_at("BHP", syd(DAY, 9, 59)) is None
    live = market.quote("BHP", plan.open_at + timedelta(minutes=30))
    assert live.open == plan.open and live.last is not None
    assert live.bid is not None and live.ask is not None and live.bid < live.last < live.ask
    assert live.low is not None and live.high is not None and live.low <= live.last <= live.high
    assert 0 < (live.volume or 0) < plan.volume


def test_weekend_and_holiday_have_no_session(market: DemoMarket) -> None:
    saturday = date(2025, 3, 8)
    assert market.plans(saturday) == [] and market.plans(date(2025, 4, 25)) == []  # ANZAC Day
    assert market.price_at("BHP", syd(saturday, 11, 0)) is None
    quote = market.quote("BHP", syd(saturday, 11, 0))
    assert quote.last == market.plan("BHP", date(2025, 3, 7)).close  # Friday's close
    assert market.announcements(saturday) == []


def test_gappers_break_out_above_or_fade_below_their_opening_range(market: DemoMarket) -> None:
    broke_out = faded = 0
    for day in WEEK:
        for plan in market.plans(day):
            if plan.gap_pct < 4:
                continue
            prices = [p for _, p in market.minute_prices(plan.symbol, day)]
            opening = prices[: plan.range_minutes + 1]
            later = prices[plan.range_minutes + 1 : plan.range_minutes + 90]
            if plan.behaviour is DayBehaviour.BREAKOUT and max(later) > max(opening):
                broke_out += 1
            if plan.behaviour is DayBehaviour.FADE and min(later) < min(opening):
                faded += 1
    assert broke_out >= 3 and faded >= 3


def test_first_cross_finds_the_exact_instant_at_the_level(market: DemoMarket) -> None:
    plan = market.plan("BHP", DAY)
    knots = market.minute_prices("BHP", DAY)
    start = plan.open_at + timedelta(minutes=20)
    later = [p for t, p in knots if start < t <= start + timedelta(hours=2)]
    level = min(later)
    assert level < market.price_at("BHP", start)  # type: ignore[operator]
    hit = market.first_cross("BHP", start, start + timedelta(hours=2), level, below=True)
    assert hit is not None
    at, price = hit
    assert start < at <= start + timedelta(hours=2) and price == level
    assert market.first_cross("BHP", start, at - timedelta(seconds=1), level, below=True) is None


def test_announcements_follow_the_gappers(market: DemoMarket) -> None:
    items = market.announcements(DAY)
    assert items == sorted(items, key=lambda a: a.released_at)
    big = {p.symbol for p in market.plans(DAY) if abs(p.gap_pct) >= 4}
    sensitive = {a.symbol for a in items if a.price_sensitive}
    assert len(big & sensitive) >= len(big) // 2
    assert any(not a.price_sensitive for a in items)
    cutoff = syd(DAY, 9, 0)
    assert all(a.released_at <= cutoff for a in market.announcements(DAY, until=cutoff))
    assert len({a.document_id for a in items}) == len(items)


def test_daily_bars_cover_completed_sessions_only(market: DemoMarket) -> None:
    during = market.daily_bars("BHP", syd(DAY, 11, 0), 3)
    assert [b.day for b in during] == [date(2025, 2, 27), date(2025, 2, 28), date(2025, 3, 3)]
    after_close = market.daily_bars("BHP", syd(DAY, 16, 5), 1)
    assert [b.day for b in after_close] == [DAY]


def test_christmas_eve_trades_until_the_calendars_early_close(market: DemoMarket) -> None:
    eve = date(2026, 12, 24)
    plan = market.plan("BHP", eve)
    assert plan.close_at == syd(eve, 14, 10)
    assert market.minute_prices("BHP", eve)[-1] == (plan.close_at, plan.close)
    assert [b.day for b in market.daily_bars("BHP", syd(eve, 14, 9), 1)] == [date(2026, 12, 23)]
    assert [b.day for b in market.daily_bars("BHP", syd(eve, 14, 10), 1)] == [eve]


class TokyoHours:
    """A MarketCalendar of another zone and other hours: weekdays 09:30-15:00 Tokyo."""

    zone = ZoneInfo("Asia/Tokyo")

    def is_trading_day(self, day: date) -> bool:
        return day.weekday() < 5

    def session(self, day: date) -> MarketSession | None:
        if not self.is_trading_day(day):
            return None
        return MarketSession(day, datetime.combine(day, time(9, 30), self.zone),
                             datetime.combine(day, time(15, 0), self.zone), early_close=False)

    def holiday_name(self, day: date) -> str | None:
        return None if self.is_trading_day(day) else "weekend"

    def next_trading_day(self, day: date) -> date:
        day += timedelta(days=1)
        while not self.is_trading_day(day):
            day += timedelta(days=1)
        return day


def test_sessions_zone_and_pre_open_news_come_from_the_calendar() -> None:
    tokyo = TokyoHours()
    market = DemoMarket(seed=7, universe_size=60, calendar=tokyo)
    opens = {p.open_at.astimezone(tokyo.zone).time() for p in market.plans(DAY)}
    assert min(opens) >= time(9, 30) and max(opens) <= time(9, 32)
    assert {p.close_at.astimezone(tokyo.zone).time() for p in market.plans(DAY)} == {time(15)}
    # 23:30 Tokyo on Tuesday is already Wednesday in Sydney: the market's zone decides
    assert market.session_date(datetime.combine(DAY, time(23, 30), tokyo.zone)) == DAY
    gapper_news = [a for a in market.announcements(DAY) if a.price_sensitive
                   and abs(market.plan(a.symbol, DAY).gap_pct) >= 4]
    assert gapper_news
    assert all(a.released_at < datetime.combine(DAY, time(9, 28, 1), tokyo.zone)
               for a in gapper_news)
