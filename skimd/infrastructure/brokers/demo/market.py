"""The simulated ASX: a seeded universe trading through the sessions of a market calendar.

Determinism: every number comes from ``random.Random`` seeded with a string built from the
market seed, the ticker and the session date (see :mod:`.day_plans` for the plans and
:mod:`.price_paths` for the intraday paths), so the same seed and date always give the same
gaps, paths and announcements, in any order of questions, on any machine. Time is never
read here; callers pass the instant they ask about (the broker passes its Clock's).

Sessions come from the injected :class:`~skimd.domain.calendar.MarketCalendar` (zone,
trading days, open and close, early closes), so the demo trades the hours the settings
configure. Each ticker's opening auction ends within two minutes after the session's open
(its own, seeded per day); before that there is no price. Days without a session have no
prices of their own.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from skimd.domain.calendar import MarketCalendar, MarketSession
from skimd.domain.market import Announcement, Bar, GapCandidate, Quote, asx_tick_size
from skimd.infrastructure.brokers.demo.day_plans import (
    DayPlan,
    Draws,
    closing_price,
    draw,
    make_plan,
    tick_price,
)
from skimd.infrastructure.brokers.demo.intraday_bars import intraday_bars
from skimd.infrastructure.brokers.demo.news import generate_announcements
from skimd.infrastructure.brokers.demo.price_paths import PricePath, build_path, volume_at
from skimd.infrastructure.brokers.demo.regimes import MEMORY_DAYS
from skimd.infrastructure.brokers.demo.universe import Ticker, generate_universe

_CACHE_LIMIT = 60_000  # a 300-ticker universe remembers ~45 sessions of draws
_K = TypeVar("_K")
_V = TypeVar("_V")


class DemoMarket:
    """A seeded ASX universe trading the sessions of ``calendar``. Thread-unsafe, in-memory
    caches only; persists nothing."""

    def __init__(self, seed: int, universe_size: int = 300, *, calendar: MarketCalendar) -> None:
        self.seed = seed
        self.calendar = calendar
        self.tickers: list[Ticker] = generate_universe(seed, universe_size)
        self._by_symbol = {t.symbol: t for t in self.tickers}
        self._by_conid = {t.conid: t for t in self.tickers}
        self._sessions: dict[date, MarketSession | None] = {}
        self._draws: dict[tuple[str, date], Draws] = {}
        self._closes: dict[tuple[str, date], Decimal] = {}
        self._recent: dict[date, list[date]] = {}
        self._plans: dict[tuple[str, date], DayPlan] = {}
        self._paths: dict[tuple[str, date], PricePath] = {}
        self._news: dict[date, list[Announcement]] = {}

    # -- lookup ----------------------------------------------------------------------------

    def ticker(self, symbol: str) -> Ticker | None:
        return self._by_symbol.get(symbol.strip().upper())

    def by_conid(self, conid: int) -> Ticker | None:
        return self._by_conid.get(conid)

    # -- calendar --------------------------------------------------------------------------

    def session_date(self, when: datetime) -> date:
        """The market-zone calendar date of ``when``."""
        return when.astimezone(self.calendar.zone).date()

    def session(self, day: date) -> MarketSession | None:
        """The calendar's session of ``day`` (None when the market is closed all day)."""
        if day not in self._sessions:
            self._remember(self._sessions, day, self.calendar.session(day))
        return self._sessions[day]

    def is_trading_day(self, day: date) -> bool:
        return self.session(day) is not None

    def previous_trading_day(self, day: date) -> date:
        d = day - timedelta(days=1)
        while not self.is_trading_day(d):
            d -= timedelta(days=1)
        return d

    def open_at(self, day: date) -> datetime:
        """When trading day ``day``'s session opens (aware UTC; each ticker's own opening
        auction ends up to two minutes later). ValueError on a day without a session."""
        return self._session(day).open_at.astimezone(UTC)

    def close_at(self, day: date) -> datetime:
        """When trading day ``day``'s session closes (aware UTC; an early close on the
        calendar's early-close days). ValueError on a day without a session."""
        return self._session(day).close_at.astimezone(UTC)

    def _session(self, day: date) -> MarketSession:
        session = self.session(day)
        if session is None:
            raise ValueError(f"{day} is not a trading day")
        return session

    # -- plans -----------------------------------------------------------------------------

    def _draw(self, ticker: Ticker, day: date) -> Draws:
        key = (ticker.symbol, day)
        cached = self._draws.get(key)
        if cached is None:
            cached = draw(self.seed, ticker, day)
            self._remember(self._draws, key, cached)
        return cached

    def _close(self, ticker: Ticker, day: date) -> Decimal:
        key = (ticker.symbol, day)
        cached = self._closes.get(key)
        if cached is None:
            history = [self._draw(ticker, d) for d in self._recent_sessions(day)]
            cached = closing_price(ticker, day, history)
            self._remember(self._closes, key, cached)
        return cached

    def _recent_sessions(self, day: date) -> list[date]:
        """``day`` and the trading days before it, newest first, as many as the price
        level remembers (:data:`.regimes.MEMORY_DAYS`)."""
        cached = self._recent.get(day)
        if cached is None:
            cached = [day]
            while len(cached) < MEMORY_DAYS:
                cached.append(self.previous_trading_day(cached[-1]))
            self._remember(self._recent, day, cached)
        return cached

    def plan(self, symbol: str, day: date) -> DayPlan:
        """The session of ``symbol`` on trading day ``day`` (ValueError on a non-trading day
        or an unknown symbol)."""
        ticker = self._require(symbol)
        key = (ticker.symbol, day)
        cached = self._plans.get(key)
        if cached is not None:
            return cached
        session = self._session(day)
        prev_close = self._close(ticker, self.previous_trading_day(day))
        plan = make_plan(
            ticker, session, self._draw(ticker, day), prev_close, self._close(ticker, day)
        )
        self._remember(self._plans, key, plan)
        return plan

    def plans(self, day: date) -> list[DayPlan]:
        """Every ticker's plan for ``day`` (empty on a non-trading day)."""
        if not self.is_trading_day(day):
            return []
        return [self.plan(t.symbol, day) for t in self.tickers]

    # -- intraday --------------------------------------------------------------------------

    def _path(self, plan: DayPlan) -> PricePath:
        key = (plan.symbol, plan.day)
        cached = self._paths.get(key)
        if cached is None:
            ticker = self._require(plan.symbol)
            cached = build_path(self.seed, plan, self._draw(ticker, plan.day))
            self._remember(self._paths, key, cached)
        return cached

    def price_at(self, symbol: str, when: datetime) -> Decimal | None:
        """The traded price at ``when`` on its session date; None before that day's open or
        on a non-trading day. After the close: the closing price."""
        day = self.session_date(when)
        if not self.is_trading_day(day):
            return None
        plan = self.plan(symbol, day)
        if when < plan.open_at:
            return None
        return tick_price(self._path(plan).at(when.timestamp()))

    def minute_prices(self, symbol: str, day: date) -> list[tuple[datetime, Decimal]]:
        """The day's knots (open, each minute after it, close) on the tick grid."""
        path = self._path(self.plan(symbol, day))
        return [
            (datetime.fromtimestamp(t, UTC), tick_price(p))
            for t, p in zip(path.times, path.prices, strict=True)
        ]

    def quote(self, symbol: str, when: datetime) -> Quote:
        """What a snapshot at ``when`` shows. Before today's open: only ``prev_close``.
        On a non-trading day: the last session's closing picture."""
        ticker = self._require(symbol)
        day = self.session_date(when)
        if self.is_trading_day(day):
            plan = self.plan(ticker.symbol, day)
            if when < plan.open_at:
                return Quote(
                    conid=ticker.conid,
                    symbol=ticker.symbol,
                    at=when,
                    prev_close=plan.prev_close,
                    volume=0,
                )
        else:
            plan = self.plan(ticker.symbol, self.previous_trading_day(day))
        t = min(when, plan.close_at).timestamp()
        path = self._path(plan)
        last = tick_price(path.at(t))
        high, low = path.extremes(t)
        tick = asx_tick_size(last)
        return Quote(
            conid=ticker.conid,
            symbol=ticker.symbol,
            at=when,
            last=last,
            bid=max(last - tick, tick),
            ask=last + tick,
            open=plan.open,
            high=max(tick_price(high), last),
            low=min(tick_price(low), last),
            prev_close=plan.prev_close,
            volume=volume_at(plan, min(when, plan.close_at)),
        )

    def opens_at(self, symbol: str, day: date) -> datetime:
        """When ``symbol``'s opening auction on ``day`` ends (its first trade)."""
        return self.plan(symbol, day).open_at

    def intraday_bars(self, symbol: str, day: date, minutes: int, now: datetime) -> list[Bar]:
        """OHLCV per ``minutes`` from the price path, up to ``now`` (:mod:`.intraday_bars`)."""
        return intraday_bars(self, symbol, day, minutes, now)

    def first_cross(
        self, symbol: str, start: datetime, end: datetime, level: Decimal, *, below: bool
    ) -> tuple[datetime, Decimal] | None:
        """The first instant in ``[start, end]`` when the price is at or below (``below``) or
        at or above ``level``, and the price there.

        Prices compare as quoted (on the tick grid). When the price is already through the
        level at the start (e.g. a session opening through it) the crossing is there, at that
        price (gaps are not smoothed over); otherwise it is at ``level``.
        """
        # compare on the tick grid, as quotes show prices: "at or below 6.64" includes a
        # path value of 6.6449 that prints as 6.64. The margin is one step of the quote's
        # 6-decimal rounding (:func:`tick_price`): a path value exactly half a tick away
        # prints as the half and rounds half-even, maybe not to ``level``; one 1e-6 further
        # it always does, so the quote at the instant returned shows ``level``.
        half = float(asx_tick_size(level)) / 2 - 1e-6
        lvl = float(level) + (half if below else -half)
        day = self.session_date(start)
        last_day = self.session_date(end)
        while day <= last_day:
            if self.is_trading_day(day):
                plan = self.plan(symbol, day)
                lo, hi = max(start, plan.open_at), min(end, plan.close_at)
                if lo <= hi:
                    path = self._path(plan)
                    found = path.first_cross(lo.timestamp(), hi.timestamp(), lvl, below)
                    if found is not None:
                        t, p = found
                        price = level if t > lo.timestamp() else tick_price(p)
                        return datetime.fromtimestamp(t, UTC), price
            day += timedelta(days=1)
        return None

    # -- scans, news, bars -----------------------------------------------------------------

    def opened(self, when: datetime) -> list[DayPlan]:
        """Plans of the tickers that have opened by ``when`` today, largest gap first, equal
        gaps by symbol (none on a day without a session)."""
        found = [p for p in self.plans(self.session_date(when)) if when >= p.open_at]
        return sorted(found, key=lambda p: (-p.gap_pct, p.symbol))

    def gaps(self, when: datetime) -> list[GapCandidate]:
        """Tickers that have opened by ``when`` today, with their gap and volume so far, in
        :meth:`opened`'s order (screening them is the caller's)."""
        return [
            GapCandidate(
                symbol=plan.symbol,
                conid=plan.conid,
                prev_close=plan.prev_close,
                open=plan.open,
                gap_pct=plan.gap_pct,
                volume=volume_at(plan, min(when, plan.close_at)),
                scan_date=plan.day,
            )
            for plan in self.opened(when)
        ]

    def last_price(self, symbol: str, when: datetime) -> Decimal:
        """Latest traded price at ``when``: today's, else the previous close."""
        quote = self.quote(symbol, when)
        value = quote.last if quote.last is not None else quote.prev_close
        assert value is not None
        return value

    def announcements(self, day: date, until: datetime | None = None) -> list[Announcement]:
        """Announcements released on ``day`` (oldest first), those released by ``until``
        when given. Price-sensitive ones mostly accompany the day's big gaps."""
        if day not in self._news:
            session = self.session(day)
            self._news[day] = (
                []
                if session is None
                else generate_announcements(
                    self.seed, session, self.plans(day), self.calendar.zone
                )
            )
        items = self._news[day]
        return items if until is None else [a for a in items if a.released_at <= until]

    def daily_bar(self, symbol: str, day: date) -> Bar:
        plan = self.plan(symbol, day)
        path = self._path(plan)
        return Bar(
            symbol=plan.symbol,
            day=day,
            open=plan.open,
            high=tick_price(path.run_max[-1]),
            low=tick_price(path.run_min[-1]),
            close=plan.close,
            volume=plan.volume,
        )

    def daily_bars(self, symbol: str, when: datetime, days: int) -> list[Bar]:
        """Up to ``days`` sessions completed by ``when``, oldest first."""
        day = self.session_date(when)
        if not (self.is_trading_day(day) and when >= self.close_at(day)):
            day = self.previous_trading_day(day)
        picked: list[date] = []
        while len(picked) < days:
            picked.append(day)
            day = self.previous_trading_day(day)
        return [self.daily_bar(symbol, d) for d in reversed(picked)]

    # -- internals -------------------------------------------------------------------------

    def _require(self, symbol: str) -> Ticker:
        ticker = self.ticker(symbol)
        if ticker is None:
            raise ValueError(f"unknown demo ticker {symbol!r}")
        return ticker

    @staticmethod
    def _remember(cache: dict[_K, _V], key: _K, value: _V) -> None:
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[key] = value
