"""Recorded real days as a market for the demo broker: the tape the daemon kept, else
one-minute bars, replayed through the same paper account (:class:`~.broker.DemoBroker`).

Per ticker and day, prices come from (first that exists):

1. **The tape** (``recorded_quotes``, every quote the daemon polled, and the gaps its scans
   reported): a quote asked for at ``t`` is the last one recorded at or before ``t`` (a
   poll's beats a scan's of the same instant: it has every field). Between two recorded
   quotes the price moves in a straight line, as the demo's own paths do between their
   knots, so a level crossed between two polls is crossed *at the level* (a stop fills
   one tick through it, as on the synthetic market); a level already passed at the first
   quote after ``start`` (a gap through) is crossed at that quote's price. The day's open
   (each quote's ``open``) stands at the session's open, so an overnight stop meets the
   opening price as on the synthetic market. Replaying a recorded day with the same
   settings therefore polls the same quotes at the same instants and trades the same.
2. **One-minute bars** (``recorded_bars``: the ones the end of day fetched for excursions,
   or imported by ``skimd data import``): the fill model. A quote at ``t`` shows only
   bars completed by ``t`` (last = the latest close, high/low over them, no look-ahead);
   an order is filled from the *next* bar on: a market order at the next bar's open, a
   stop or limit at the first bar after it that reaches the level, at the level, or at
   that bar's open when it opens through the level. Inside a bar the path is open -> low
   -> high -> close, so for a long position a bar that touches both the stop and a higher
   price counts the stop first (intrabar stops resolved pessimistically). The broker's
   fill engine then adds its slippage (stops one tick through, market orders at once one
   tick over/under) on the ASX tick grid, and its commission per order.

Daily bars come from ``historical_prices`` (warm-up and end of day keep them); the
announcements from ``recorded_announcements``. A ticker with no recording that day has no
price (quotes carry only what is known). Nothing here reads a clock.
"""

from __future__ import annotations

import bisect
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Protocol

from skimd.domain.calendar import MarketCalendar, MarketSession
from skimd.domain.market import Announcement, Bar, Quote, asx_tick_size

_BAR = timedelta(minutes=1)
_LOW_AT, _HIGH_AT = timedelta(seconds=20), timedelta(seconds=40)  # open -> low -> high -> close


class Recordings(Protocol):
    """Where recorded days are read from (the trading database: see
    :mod:`skimd.infrastructure.database.recordings`)."""

    def listings(self) -> list[tuple[str, int | None]]:
        """Every recorded symbol with its conid (None when only imported bars know it)."""
        ...

    def quotes(self, day: date) -> list[tuple[str, Quote]]:
        """The tape of ``day`` as ``(kind, quote)`` in time order."""
        ...

    def bars(self, day: date) -> list[Bar]:
        """One-minute bars of ``day``, by symbol then time."""
        ...

    def announcements(self, day: date) -> list[Announcement]: ...

    def daily_bars(self, symbol: str, until: date, days: int) -> list[Bar]:
        """Up to ``days`` daily bars up to and including ``until``, oldest first."""
        ...

    def close(self) -> None:
        """Release what the reads hold (the database)."""
        ...


@dataclass(frozen=True, slots=True)
class Listing:
    """A recorded instrument. A conid only imported bars know is derived from the symbol
    (stable, 9 digits, never one IBKR hands out for ASX stocks in practice)."""

    symbol: str
    conid: int
    name: str


@dataclass(frozen=True, slots=True)
class _Opened:
    symbol: str
    gap_pct: Decimal


@dataclass
class _Ticker:
    """One ticker's recorded day: the tape (or the bars) as a price path."""

    quotes: list[Quote] = field(default_factory=list)  # polls and scans, time order
    bars: list[Bar] = field(default_factory=list)
    times: list[float] = field(default_factory=list)  # path knots (epoch s)
    prices: list[Decimal] = field(default_factory=list)
    from_bars: bool = False


@dataclass
class _Day:
    session: MarketSession
    tickers: dict[str, _Ticker]
    scans: list[Quote]
    news: list[Announcement]


def derived_conid(symbol: str) -> int:
    return 900_000_000 + zlib.crc32(symbol.encode()) % 99_999_999


class RecordedMarket:
    """Recorded days, read through ``recordings``, on the sessions of ``calendar``.
    In-memory caches only (a day is loaded once); persists nothing."""

    seed = 0  # no seed: the demo account's book is tied to this "market" by it

    def __init__(self, recordings: Recordings, *, calendar: MarketCalendar) -> None:
        self.calendar = calendar
        self._rec = recordings
        self.tickers: list[Listing] = [
            Listing(s, c if c is not None else derived_conid(s), s)
            for s, c in recordings.listings()
        ]
        self._by_symbol = {t.symbol: t for t in self.tickers}
        self._by_conid = {t.conid: t for t in self.tickers}
        self._days: dict[date, _Day | None] = {}

    def close(self) -> None:
        """Close the recordings' source (the database it reads)."""
        self._rec.close()

    # -- lookup and calendar ---------------------------------------------------------------

    def ticker(self, symbol: str) -> Listing | None:
        return self._by_symbol.get(symbol.strip().upper())

    def by_conid(self, conid: int) -> Listing | None:
        return self._by_conid.get(conid)

    def session_date(self, when: datetime) -> date:
        return when.astimezone(self.calendar.zone).date()

    def is_trading_day(self, day: date) -> bool:
        return self.calendar.session(day) is not None

    def open_at(self, day: date) -> datetime:
        return self._session(day).open_at.astimezone(UTC)

    def close_at(self, day: date) -> datetime:
        return self._session(day).close_at.astimezone(UTC)

    def opens_at(self, symbol: str, day: date) -> datetime:
        """The session's open: a recording does not say when each ticker's auction ended."""
        return self.open_at(day)

    def _session(self, day: date) -> MarketSession:
        session = self.calendar.session(day)
        if session is None:
            raise ValueError(f"{day} is not a trading day")
        return session

    def previous_trading_day(self, day: date) -> date:
        d = day - timedelta(days=1)
        while not self.is_trading_day(d):
            d -= timedelta(days=1)
        return d

    # -- loading ---------------------------------------------------------------------------

    def _day(self, day: date) -> _Day | None:
        if day not in self._days:
            session = self.calendar.session(day)
            self._days[day] = None if session is None else self._load(day, session)
        return self._days[day]

    def _load(self, day: date, session: MarketSession) -> _Day:
        tickers: dict[str, _Ticker] = {}
        scans: list[Quote] = []
        for kind, quote in self._rec.quotes(day):
            tickers.setdefault(quote.symbol, _Ticker()).quotes.append(quote)
            if kind == "scan":
                scans.append(quote)
        for bar in self._rec.bars(day):
            tickers.setdefault(bar.symbol, _Ticker()).bars.append(bar)
        opened = session.open_at.astimezone(UTC)
        for ticker in tickers.values():
            _lay_path(ticker, opened)
        return _Day(session, tickers, scans, self._rec.announcements(day))

    def _ticker_day(self, symbol: str, day: date) -> _Ticker | None:
        loaded = self._day(day)
        return None if loaded is None else loaded.tickers.get(symbol.strip().upper())

    # -- prices ----------------------------------------------------------------------------

    def quote(self, symbol: str, when: datetime) -> Quote:
        """What was seen of ``symbol`` at ``when`` (see the module doc); only the previous
        close (when known) before anything was recorded that day."""
        listing = self.ticker(symbol)
        if listing is None:
            raise ValueError(f"no recording of {symbol!r}")
        day = self.session_date(when)
        if not self.is_trading_day(day):
            day = self.previous_trading_day(day)
            when = self.close_at(day)
        tape = self._ticker_day(listing.symbol, day)
        empty = Quote(conid=listing.conid, symbol=listing.symbol, at=when,
                      prev_close=self._prev_close(listing.symbol, day))  # fmt: skip
        if tape is None:
            return empty
        if not tape.from_bars:
            return _latest(tape.quotes, when, listing.symbol) or empty
        done = [b for b in tape.bars if b.at is not None and b.at + _BAR <= when]
        if not done:
            return empty
        last = done[-1].close
        tick = asx_tick_size(last)
        return Quote(
            conid=listing.conid,
            symbol=listing.symbol,
            at=when,
            last=last,
            bid=max(last - tick, tick),
            ask=last + tick,
            open=done[0].open,
            high=max(b.high for b in done),
            low=min(b.low for b in done),
            prev_close=empty.prev_close,
            volume=sum(b.volume for b in done),
        )

    def last_price(self, symbol: str, when: datetime) -> Decimal:
        quote = self.quote(symbol, when)
        value = quote.last if quote.last is not None else quote.prev_close
        if value is None:
            raise ValueError(f"no recorded price of {symbol!r} by {when.isoformat()}")
        return value

    def price_at(self, symbol: str, when: datetime) -> Decimal | None:
        return self.quote(symbol, when).last

    def first_cross(
        self, symbol: str, start: datetime, end: datetime, level: Decimal, *, below: bool
    ) -> tuple[datetime, Decimal] | None:
        """The first instant in ``[start, end]`` the recorded path is at or through
        ``level`` (see the module doc for the tape and the bars)."""
        day, last_day = self.session_date(start), self.session_date(end)
        while day <= last_day:
            tape = self._ticker_day(symbol, day)
            if tape is not None and tape.times:
                found = _cross(tape, start.timestamp(), end.timestamp(), level, below)
                if found is not None:
                    return found
            day += timedelta(days=1)
        return None

    # -- scans, news, bars -----------------------------------------------------------------

    def opened(self, when: datetime) -> list[_Opened]:
        """The tickers a recorded scan reported by ``when`` today (a scan never reported
        the others), and those known only from bars whose first bar is complete, largest
        gap first, ties by symbol."""
        loaded = self._day(self.session_date(when))
        if loaded is None:
            return []
        gaps: dict[str, Decimal] = {}
        for q in loaded.scans:
            if q.at <= when and q.gap_pct is not None:
                gaps[q.symbol] = q.gap_pct
        for symbol, tape in loaded.tickers.items():  # bars only (imported): each opened one
            first = tape.bars[0].at if tape.from_bars and tape.bars else None
            if first is not None and first + _BAR <= when:
                gap = self.quote(symbol, when).gap_pct
                if gap is not None:
                    gaps[symbol] = gap
        return sorted(
            (_Opened(s, g) for s, g in gaps.items()), key=lambda o: (-o.gap_pct, o.symbol)
        )

    def announcements(self, day: date, until: datetime | None = None) -> list[Announcement]:
        loaded = self._day(day)
        items = [] if loaded is None else loaded.news
        return items if until is None else [a for a in items if a.released_at <= until]

    def daily_bars(self, symbol: str, when: datetime, days: int) -> list[Bar]:
        """Up to ``days`` recorded sessions completed by ``when``, oldest first."""
        day = self.session_date(when)
        if not (self.is_trading_day(day) and when >= self.close_at(day)):
            day = self.previous_trading_day(day)
        return self._rec.daily_bars(symbol.strip().upper(), day, days)

    def intraday_bars(self, symbol: str, day: date, minutes: int, now: datetime) -> list[Bar]:
        """Recorded one-minute bars up to ``now`` (whole periods of ``minutes`` laid from
        the session's open); without bars, bars read off the tape."""
        tape = self._ticker_day(symbol, day)
        if tape is None or not self.is_trading_day(day):
            return []
        ones = tape.bars or _bars_from_tape(tape, symbol.strip().upper(), day, self.open_at(day))
        ones = [b for b in ones if b.at is not None and b.at < now]
        return _aggregate(ones, minutes, self.open_at(day))

    def _prev_close(self, symbol: str, day: date) -> Decimal | None:
        bars = self._rec.daily_bars(symbol, self.previous_trading_day(day), 1)
        return bars[-1].close if bars else None


# -- the path of a recorded day ------------------------------------------------------------


def _lay_path(ticker: _Ticker, session_open: datetime) -> None:
    """The knots the prices move through: the tape's last prices (the day's open first, at
    the session's open), else each bar's open, low, high and close."""
    points: list[tuple[float, Decimal]] = []
    priced = [q for q in ticker.quotes if q.last is not None]
    if priced:
        first_open = next((q.open for q in priced if q.open is not None), None)
        if first_open is not None and session_open < priced[0].at:
            points.append((session_open.timestamp(), first_open))
        points += [(q.at.timestamp(), q.last) for q in priced if q.last is not None]
    elif ticker.bars:
        ticker.from_bars = True
        for bar in ticker.bars:
            assert bar.at is not None
            t = bar.at.timestamp()
            points += [
                (t, bar.open),
                (t + _LOW_AT.total_seconds(), bar.low),
                (t + _HIGH_AT.total_seconds(), bar.high),
                (t + _BAR.total_seconds() - 1e-3, bar.close),
            ]
    ticker.times = [t for t, _ in points]
    ticker.prices = [p for _, p in points]


def _latest(quotes: Sequence[Quote], when: datetime, symbol: str) -> Quote | None:
    """The last quote at or before ``when`` (a poll's over a scan's of the same instant:
    polls carry every field), re-stamped ``when``."""
    best: Quote | None = None
    for q in quotes:
        if q.at > when:
            break
        if best is None or q.at > best.at or q.bid is not None:
            best = q
    if best is None:
        return None
    return Quote(conid=best.conid, symbol=symbol, at=when, last=best.last, bid=best.bid,
                 ask=best.ask, open=best.open, high=best.high, low=best.low,
                 prev_close=best.prev_close, volume=best.volume)  # fmt: skip


def _cross(
    tape: _Ticker, lo: float, hi: float, level: Decimal, below: bool
) -> tuple[datetime, Decimal] | None:
    """The first crossing of ``level`` in ``[lo, hi]`` on the knots of ``tape``: on the
    tape, interpolated between knots; on bars, only from the first bar starting at or
    after ``lo`` (the next bar: a bar under way was not seen whole)."""

    def through(p: Decimal) -> bool:
        return p <= level if below else p >= level

    times, prices = tape.times, tape.prices
    if tape.from_bars:
        i = bisect.bisect_left(times, lo)
        i += (4 - i % 4) % 4  # the next bar's open knot
        for j in range(i, len(times)):
            if times[j] > hi:
                return None
            if through(prices[j]):
                price = prices[j] if j % 4 == 0 else level  # opened through, or reached
                return datetime.fromtimestamp(times[j], UTC), price
        return None
    i = bisect.bisect_right(times, lo)
    if i == 0:  # nothing recorded yet at lo: the first knot is where trading starts
        if not times or times[0] > hi:
            return None
        if through(prices[0]):
            return datetime.fromtimestamp(times[0], UTC), prices[0]
        i = 1
        ta, pa = times[0], prices[0]
    else:
        ta, pa = lo, prices[i - 1]  # the latest quote holds until the next
        if through(pa):
            return datetime.fromtimestamp(lo, UTC), pa
    for j in range(i, len(times)):
        tb, pb = times[j], prices[j]
        if tb > hi:
            return None
        if through(pb):
            if pb == level or pa == pb:
                return datetime.fromtimestamp(tb, UTC), pb
            frac = float((level - pa) / (pb - pa))
            return datetime.fromtimestamp(ta + (tb - ta) * min(max(frac, 0.0), 1.0), UTC), level
        ta, pa = tb, pb
    return None


def _bars_from_tape(tape: _Ticker, symbol: str, day: date, session_open: datetime) -> list[Bar]:
    """One-minute bars read off the tape's knots (a minute with no quote has no bar)."""
    out: dict[int, list[Decimal]] = {}
    base = session_open.timestamp()
    for t, p in zip(tape.times, tape.prices, strict=True):
        out.setdefault(int((t - base) // 60), []).append(p)
    return [
        Bar(symbol=symbol, day=day, open=ps[0], high=max(ps), low=min(ps), close=ps[-1],
            volume=0, at=session_open + timedelta(minutes=n))
        for n, ps in sorted(out.items())
    ]


def _aggregate(ones: list[Bar], minutes: int, session_open: datetime) -> list[Bar]:
    if minutes == 1:
        return ones
    groups: dict[int, list[Bar]] = {}
    for bar in ones:
        assert bar.at is not None
        n = int((bar.at - session_open).total_seconds() // (60 * minutes))
        groups.setdefault(n, []).append(bar)
    return [
        Bar(symbol=g[0].symbol, day=g[0].day, open=g[0].open, high=max(b.high for b in g),
            low=min(b.low for b in g), close=g[-1].close, volume=sum(b.volume for b in g),
            at=session_open + timedelta(minutes=minutes * n))
        for n, g in sorted(groups.items())
    ]
