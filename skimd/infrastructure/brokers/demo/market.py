"""The simulated ASX: per-ticker, per-day plans (gap, behaviour, volume) and price paths.

Determinism: every number comes from ``random.Random`` seeded with a string built from the
market seed, the ticker and the session date, so the same seed and date always give the
same gaps, paths and announcements, in any order of questions, on any machine. Time is
never read here; callers pass the instant they ask about (the broker passes its Clock's).

Price model (no recursion over history, so any date can be asked directly):

- each ticker has a slowly wandering fair price ``anchor(day)`` (two sine waves in log space
  around its base);
- ``close(day) = anchor(day) * (1 + gap(day) * persistence(day))``, clamped to $0.05-$120;
- ``prev_close(day) = close(previous trading day)`` and ``open = prev_close * (1 + gap)``;
- the intraday path is a 1-minute random walk from the open, holding a range for the first
  5-15 minutes, then (for "breakout" days) ramping above it or (for "fade" days) sliding
  below it, and pulled onto the day's close late in the session. Between minute knots the
  price is interpolated linearly, so prices exist at any instant.

The opening auction of each ticker ends at 10:00:00-10:02:00 Sydney (its own, seeded per
day); before that there is no price. Trading ends at 16:00 (14:10 on Christmas Eve and New
Year's Eve). Weekends and ASX holidays (:mod:`skimd.domain.asx_holidays`) have no session.
"""

from __future__ import annotations

import bisect
import math
import random
from array import array
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TypeVar
from zoneinfo import ZoneInfo

from skimd.domain.asx_holidays import holiday_name
from skimd.domain.market import (
    Announcement,
    Bar,
    GapCandidate,
    Quote,
    TickDirection,
    asx_tick_size,
    gap_pct,
    round_to_tick,
)
from skimd.infrastructure.brokers.demo.universe import Ticker, generate_universe

SYDNEY = ZoneInfo("Australia/Sydney")
OPEN_TIME = time(10, 0)
CLOSE_TIME = time(16, 0)
EARLY_CLOSE_TIME = time(14, 10)
AUCTION_SPREAD_S = 120.0
MIN_PRICE, MAX_PRICE = 0.05, 120.0
_CACHE_LIMIT = 20_000
_K = TypeVar("_K")
_V = TypeVar("_V")


class DayBehaviour(StrEnum):
    BREAKOUT = "breakout"
    FADE = "fade"
    CHOP = "chop"


@dataclass(frozen=True, slots=True)
class _Draws:
    """The random choices for one ticker-day; they never depend on prices."""

    gap: float  # fraction, 0.05 = +5 %
    behaviour: DayBehaviour
    persistence: float
    open_offset_s: float
    volume_mult: float
    range_minutes: int
    ramp_minutes: int
    ramp_frac: float


@dataclass(frozen=True, slots=True)
class DayPlan:
    """One ticker's session: prices are on the ASX tick grid, times aware UTC."""

    symbol: str
    conid: int
    day: date
    prev_close: Decimal
    open: Decimal
    gap_pct: Decimal
    close: Decimal
    open_at: datetime
    close_at: datetime
    volume: int
    behaviour: DayBehaviour
    range_minutes: int


@dataclass(frozen=True, slots=True)
class _Path:
    """Packed float arrays (8 bytes a knot, not a 24-byte object each): a 300-ticker day
    keeps ~430 k knots in memory."""

    times: array[float]  # epoch seconds of the minute knots, first = open, last = close
    prices: array[float]
    run_max: array[float]
    run_min: array[float]

    def at(self, t: float) -> float:
        if t <= self.times[0]:
            return self.prices[0]
        if t >= self.times[-1]:
            return self.prices[-1]
        i = bisect.bisect_right(self.times, t) - 1
        t0, t1 = self.times[i], self.times[i + 1]
        p0, p1 = self.prices[i], self.prices[i + 1]
        return p0 + (p1 - p0) * (t - t0) / (t1 - t0)

    def extremes(self, t: float) -> tuple[float, float]:
        """(high, low) from the open up to ``t``."""
        i = bisect.bisect_right(self.times, t) - 1
        now = self.at(t)
        return max(self.run_max[i], now), min(self.run_min[i], now)


def _px(value: float, direction: TickDirection = TickDirection.NEAREST) -> Decimal:
    return round_to_tick(Decimal(f"{max(value, 0.0005):.6f}"), direction)


def _cross_in(
    path: _Path, lo: float, hi: float, level: float, below: bool
) -> tuple[float, float] | None:
    """First (time, price) in [lo, hi] where the interpolated path reaches ``level``."""

    def hit(p: float) -> bool:
        return p <= level + 1e-9 if below else p >= level - 1e-9

    ta, pa = lo, path.at(lo)
    if hit(pa):
        return ta, pa
    i = bisect.bisect_right(path.times, lo)
    points = [(t, p) for t, p in zip(path.times[i:], path.prices[i:], strict=True) if t < hi]
    points.append((hi, path.at(hi)))
    for tb, pb in points:
        if hit(pb):
            frac = min(max((level - pa) / (pb - pa), 0.0), 1.0)
            return ta + (tb - ta) * frac, level
        ta, pa = tb, pb
    return None


def _volume_fraction(frac: float) -> float:
    """Cumulative share of the day's volume traded by ``frac`` of the session: 3 % in the
    opening auction, then a U-shaped profile (busy open and close)."""
    x = min(max(frac, 0.0), 1.0)
    return 0.03 + 0.97 * (0.5 * x + 2.0 * ((x - 0.5) ** 3 + 0.125))


class DemoMarket:
    """A seeded ASX universe. Thread-unsafe, in-memory caches only; persists nothing."""

    def __init__(self, seed: int, universe_size: int = 300) -> None:
        self.seed = seed
        self.tickers: list[Ticker] = generate_universe(seed, universe_size)
        self._by_symbol = {t.symbol: t for t in self.tickers}
        self._by_conid = {t.conid: t for t in self.tickers}
        self._draws: dict[tuple[str, date], _Draws] = {}
        self._plans: dict[tuple[str, date], DayPlan] = {}
        self._paths: dict[tuple[str, date], _Path] = {}
        self._news: dict[date, list[Announcement]] = {}

    # -- lookup ----------------------------------------------------------------------------

    def ticker(self, symbol: str) -> Ticker | None:
        return self._by_symbol.get(symbol.strip().upper())

    def by_conid(self, conid: int) -> Ticker | None:
        return self._by_conid.get(conid)

    # -- calendar --------------------------------------------------------------------------

    @staticmethod
    def session_date(when: datetime) -> date:
        """The Sydney calendar date of ``when``."""
        return when.astimezone(SYDNEY).date()

    def is_trading_day(self, day: date) -> bool:
        return day.weekday() < 5 and holiday_name(day) is None

    def previous_trading_day(self, day: date) -> date:
        d = day - timedelta(days=1)
        while not self.is_trading_day(d):
            d -= timedelta(days=1)
        return d

    def next_trading_day(self, day: date) -> date:
        d = day + timedelta(days=1)
        while not self.is_trading_day(d):
            d += timedelta(days=1)
        return d

    def last_trading_day_on_or_before(self, day: date) -> date:
        return day if self.is_trading_day(day) else self.previous_trading_day(day)

    @staticmethod
    def close_at(day: date) -> datetime:
        early = (day.month, day.day) in ((12, 24), (12, 31))
        local = datetime.combine(day, EARLY_CLOSE_TIME if early else CLOSE_TIME, SYDNEY)
        return local.astimezone(UTC)

    # -- plans -----------------------------------------------------------------------------

    def _draw(self, ticker: Ticker, day: date) -> _Draws:
        key = (ticker.symbol, day)
        cached = self._draws.get(key)
        if cached is not None:
            return cached
        rng = random.Random(f"skimd-demo|{self.seed}|{ticker.symbol}|{day.isoformat()}|plan")
        u = rng.random()
        if u < 0.03:
            gap = 0.04 + 0.11 * rng.random() ** 1.7
        elif u < 0.045:
            gap = -(0.04 + 0.06 * rng.random())
        elif u < 0.10:
            gap = rng.choice((1.0, -1.0)) * rng.uniform(0.02, 0.04)
        else:
            gap = min(max(rng.gauss(0.0005, 0.007), -0.02), 0.02)
        r = rng.random()
        if abs(gap) >= 0.02 and r < 0.45:
            behaviour, persistence = DayBehaviour.BREAKOUT, rng.uniform(1.0, 1.6)
        elif abs(gap) >= 0.02 and r < 0.8:
            behaviour, persistence = DayBehaviour.FADE, rng.uniform(0.0, 0.5)
        else:
            behaviour, persistence = DayBehaviour.CHOP, rng.uniform(0.5, 1.0)
        size = 1.0
        if abs(gap) >= 0.04:
            size = rng.uniform(4.0, 10.0)
        elif abs(gap) >= 0.02:
            size = rng.uniform(1.5, 3.0)
        draws = _Draws(
            gap=gap,
            behaviour=behaviour,
            persistence=persistence,
            open_offset_s=round(rng.uniform(0.0, AUCTION_SPREAD_S), 3),
            volume_mult=rng.lognormvariate(0.0, 0.35) * size,
            range_minutes=rng.randint(5, 15),
            ramp_minutes=rng.randint(15, 45),
            ramp_frac=rng.uniform(0.4, 0.9),
        )
        self._remember(self._draws, key, draws)
        return draws

    def _anchor(self, ticker: Ticker, day: date) -> float:
        o = day.toordinal()
        wander = sum(
            a * math.sin(2 * math.pi * o / p + ph)
            for a, p, ph in zip(ticker.swing, ticker.period, ticker.phase, strict=True)
        )
        return ticker.base * math.exp(wander)

    def _close(self, ticker: Ticker, day: date) -> Decimal:
        d = self._draw(ticker, day)
        value = self._anchor(ticker, day) * (1.0 + d.gap * d.persistence)
        return _px(min(max(value, MIN_PRICE), MAX_PRICE))

    def plan(self, symbol: str, day: date) -> DayPlan:
        """The session of ``symbol`` on trading day ``day`` (ValueError on a non-trading day
        or an unknown symbol)."""
        ticker = self._require(symbol)
        key = (ticker.symbol, day)
        cached = self._plans.get(key)
        if cached is not None:
            return cached
        if not self.is_trading_day(day):
            raise ValueError(f"{day} is not an ASX trading day")
        d = self._draw(ticker, day)
        prev_close = self._close(ticker, self.previous_trading_day(day))
        open_ = _px(float(prev_close) * (1.0 + d.gap))
        open_at = datetime.combine(day, OPEN_TIME, SYDNEY).astimezone(UTC) + timedelta(
            seconds=d.open_offset_s
        )
        volume = max(1000, int(ticker.turnover / float(prev_close) * d.volume_mult))
        plan = DayPlan(
            symbol=ticker.symbol,
            conid=ticker.conid,
            day=day,
            prev_close=prev_close,
            open=open_,
            gap_pct=gap_pct(prev_close, open_),
            close=self._close(ticker, day),
            open_at=open_at,
            close_at=self.close_at(day),
            volume=volume,
            behaviour=d.behaviour,
            range_minutes=d.range_minutes,
        )
        self._remember(self._plans, key, plan)
        return plan

    def plans(self, day: date) -> list[DayPlan]:
        """Every ticker's plan for ``day`` (empty on a non-trading day)."""
        if not self.is_trading_day(day):
            return []
        return [self.plan(t.symbol, day) for t in self.tickers]

    # -- intraday --------------------------------------------------------------------------

    def _path(self, plan: DayPlan) -> _Path:
        key = (plan.symbol, plan.day)
        cached = self._paths.get(key)
        if cached is not None:
            return cached
        ticker = self._require(plan.symbol)
        d = self._draw(ticker, plan.day)
        rng = random.Random(f"skimd-demo|{self.seed}|{plan.symbol}|{plan.day.isoformat()}|path")
        t0, t_end = plan.open_at.timestamp(), plan.close_at.timestamp()
        times = [t0 + 60.0 * i for i in range(int((t_end - t0) // 60) + 1)]
        if times[-1] < t_end:
            times.append(t_end)
        m = len(times) - 1
        sigma = ticker.daily_vol * (1.0 + abs(d.gap) * 10.0) / math.sqrt(m)
        if d.behaviour is DayBehaviour.BREAKOUT:
            amp = max(abs(d.gap), 0.03) * d.ramp_frac
        elif d.behaviour is DayBehaviour.FADE:
            amp = -max(abs(d.gap), 0.03) * d.ramp_frac
        else:
            amp = 0.0
        x0 = math.log(float(plan.open))
        xs = [x0]
        x = x0
        for i in range(1, m + 1):
            if i <= d.range_minutes:
                drift = -0.25 * (x - x0)
            elif i <= d.range_minutes + d.ramp_minutes:
                drift = amp / d.ramp_minutes
            else:
                drift = 0.0
            x += drift + sigma * (1.6 if i <= 30 else 1.0) * rng.gauss(0.0, 1.0)
            xs.append(x)
        correction = math.log(float(plan.close)) - xs[-1]
        prices = [max(math.exp(v + correction * (i / m) ** 2), 0.001) for i, v in enumerate(xs)]
        prices[0], prices[-1] = float(plan.open), float(plan.close)
        run_max, run_min = [prices[0]], [prices[0]]
        for p in prices[1:]:
            run_max.append(max(run_max[-1], p))
            run_min.append(min(run_min[-1], p))
        path = _Path(
            array("d", times), array("d", prices), array("d", run_max), array("d", run_min)
        )
        self._remember(self._paths, key, path)
        return path

    def price_at(self, symbol: str, when: datetime) -> Decimal | None:
        """The traded price at ``when`` on its session date; None before that day's open or
        on a non-trading day. After the close: the closing price."""
        day = self.session_date(when)
        if not self.is_trading_day(day):
            return None
        plan = self.plan(symbol, day)
        if when < plan.open_at:
            return None
        return _px(self._path(plan).at(when.timestamp()))

    def minute_prices(self, symbol: str, day: date) -> list[tuple[datetime, Decimal]]:
        """The day's knots (open, each minute after it, close) on the tick grid."""
        path = self._path(self.plan(symbol, day))
        return [
            (datetime.fromtimestamp(t, UTC), _px(p))
            for t, p in zip(path.times, path.prices, strict=True)
        ]

    def volume_at(self, plan: DayPlan, when: datetime) -> int:
        if when < plan.open_at:
            return 0
        span = (plan.close_at - plan.open_at).total_seconds()
        frac = (when - plan.open_at).total_seconds() / span
        return int(plan.volume * _volume_fraction(frac))

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
        last = _px(path.at(t))
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
            high=max(_px(high), last),
            low=min(_px(low), last),
            prev_close=plan.prev_close,
            volume=self.volume_at(plan, min(when, plan.close_at)),
        )

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
        # path value of 6.6449 that prints as 6.64
        half = float(asx_tick_size(level)) / 2 - 1e-9
        lvl = float(level) + (half if below else -half)
        day = self.session_date(start)
        last_day = self.session_date(end)
        while day <= last_day:
            if self.is_trading_day(day):
                plan = self.plan(symbol, day)
                lo, hi = max(start, plan.open_at), min(end, plan.close_at)
                if lo <= hi:
                    path = self._path(plan)
                    found = _cross_in(path, lo.timestamp(), hi.timestamp(), lvl, below)
                    if found is not None:
                        t, p = found
                        price = level if t > lo.timestamp() else _px(p)
                        return datetime.fromtimestamp(t, UTC), price
            day += timedelta(days=1)
        return None

    # -- scans, news, bars -----------------------------------------------------------------

    def gaps(self, when: datetime) -> list[GapCandidate]:
        """Tickers that have opened by ``when`` today, with their gap and volume so far,
        largest gap first (filtering is the caller's)."""
        day = self.session_date(when)
        out = []
        for plan in self.plans(day):
            if when < plan.open_at:
                continue
            out.append(
                GapCandidate(
                    symbol=plan.symbol,
                    conid=plan.conid,
                    prev_close=plan.prev_close,
                    open=plan.open,
                    gap_pct=plan.gap_pct,
                    volume=self.volume_at(plan, min(when, plan.close_at)),
                    scan_date=day,
                )
            )
        out.sort(key=lambda g: (-g.gap_pct, g.symbol))
        return out

    def last_price(self, symbol: str, when: datetime) -> Decimal:
        """Latest traded price at ``when``: today's, else the previous close."""
        quote = self.quote(symbol, when)
        value = quote.last if quote.last is not None else quote.prev_close
        assert value is not None
        return value

    def announcements(self, day: date, until: datetime | None = None) -> list[Announcement]:
        """Announcements released on ``day`` (oldest first), those released by ``until``
        when given. Price-sensitive ones mostly accompany the day's big gaps."""
        from skimd.infrastructure.brokers.demo.news import generate_announcements

        if day not in self._news:
            self._news[day] = generate_announcements(self, day)
        items = self._news[day]
        return items if until is None else [a for a in items if a.released_at <= until]

    def daily_bar(self, symbol: str, day: date) -> Bar:
        plan = self.plan(symbol, day)
        path = self._path(plan)
        return Bar(
            symbol=plan.symbol,
            day=day,
            open=plan.open,
            high=_px(path.run_max[-1]),
            low=_px(path.run_min[-1]),
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
