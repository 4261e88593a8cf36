"""Market days as the strategy sees them: pure data and the calendar protocol.

A :class:`MarketSession` is one trading day in the market's own zone. Jobs ask the
calendar whether a date trades, when it opens and closes (early closes included) and where
a market day begins and ends; they never hard-code holidays, times or the zone, which
comes from the settings (``[market] timezone``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Protocol
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class MarketSession:
    day: date
    open_at: datetime
    close_at: datetime
    early_close: bool

    def is_open(self, at: datetime) -> bool:
        return self.open_at <= at < self.close_at


class MarketCalendar(Protocol):
    zone: ZoneInfo

    def is_trading_day(self, day: date) -> bool: ...

    def session(self, day: date) -> MarketSession | None:
        """The session of ``day`` (open, close, early close), or None when the market is
        closed all day."""
        ...

    def holiday_name(self, day: date) -> str | None: ...

    def next_trading_day(self, day: date) -> date: ...

    def trading_days(self, first: date, last: date) -> list[date]:
        """Trading dates from ``first`` to ``last`` inclusive, in order."""
        ...

    def market_date(self, at: datetime) -> date:
        """The market-zone calendar date of the aware instant ``at``."""
        ...

    def day_bounds(self, day: date) -> tuple[datetime, datetime]:
        """Market day ``day`` as an aware ``[start, end)``: see :func:`day_bounds`."""
        ...


def combine(day: date, at: time, zone: tzinfo) -> datetime:
    """Wall-clock ``at`` on ``day`` in ``zone`` as an aware datetime (never hand-converted)."""
    return datetime.combine(day, at, tzinfo=zone)


def day_bounds(day: date, zone: tzinfo) -> tuple[datetime, datetime]:
    """``day`` from midnight to the next midnight in ``zone``, as an aware ``[start, end)``:
    23 or 25 hours long on the days daylight saving starts or ends. For code that has only
    the zone; everything with a calendar asks :meth:`MarketCalendar.day_bounds`."""
    return combine(day, time(0), zone), combine(day + timedelta(days=1), time(0), zone)
