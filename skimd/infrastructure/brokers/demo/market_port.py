"""What the demo broker and its fill engine ask of a market: the seeded synthetic ASX
(:class:`~.market.DemoMarket`) and recorded real days
(:class:`~.recorded.RecordedMarket`) both answer it, so the same paper account trades
either."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from skimd.domain.market import Announcement, Bar, Quote


class Listed(Protocol):
    """One listed instrument."""

    @property
    def symbol(self) -> str: ...
    @property
    def conid(self) -> int: ...
    @property
    def name(self) -> str: ...


class Opened(Protocol):
    """A ticker that has traded today (what the gap scan screens), with its opening gap
    over the previous close in percent (as :attr:`Quote.gap_pct` computes it)."""

    @property
    def symbol(self) -> str: ...

    @property
    def gap_pct(self) -> Decimal: ...


class SimulatedMarket(Protocol):
    """Prices at any instant asked about (never the clock's own): quotes, crossings of a
    level between two instants, bars, announcements; sessions from a market calendar."""

    @property
    def seed(self) -> int: ...
    @property
    def tickers(self) -> Sequence[Listed]: ...

    def ticker(self, symbol: str) -> Listed | None: ...
    def by_conid(self, conid: int) -> Listed | None: ...
    def session_date(self, when: datetime) -> date: ...
    def is_trading_day(self, day: date) -> bool: ...
    def open_at(self, day: date) -> datetime: ...
    def close_at(self, day: date) -> datetime: ...

    def opens_at(self, symbol: str, day: date) -> datetime:
        """When ``symbol`` first trades on ``day`` (the end of its opening auction)."""
        ...

    def quote(self, symbol: str, when: datetime) -> Quote: ...
    def last_price(self, symbol: str, when: datetime) -> Decimal: ...

    def first_cross(
        self, symbol: str, start: datetime, end: datetime, level: Decimal, *, below: bool
    ) -> tuple[datetime, Decimal] | None:
        """The first instant in ``[start, end]`` the price is at or through ``level``, and
        the price there (``level`` itself when crossed after ``start``)."""
        ...

    def opened(self, when: datetime) -> Sequence[Opened]:
        """Tickers that have opened by ``when`` today, largest gap first, ties by symbol."""
        ...

    def announcements(self, day: date, until: datetime | None = None) -> list[Announcement]: ...
    def daily_bars(self, symbol: str, when: datetime, days: int) -> list[Bar]: ...

    def intraday_bars(self, symbol: str, day: date, minutes: int, now: datetime) -> list[Bar]:
        """Bars of ``minutes`` of ``day`` up to ``now``, oldest first."""
        ...
