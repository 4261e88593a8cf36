"""Market sessions as the strategy sees them: pure data and the calendar protocol.

A :class:`MarketSession` is one trading day in the market's own zone. Jobs ask the
calendar whether a date trades and when it closes; they never hard-code holidays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
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
        """The session of ``day``, or None when the market is closed all day."""
        ...

    def holiday_name(self, day: date) -> str | None: ...

    def next_trading_day(self, day: date) -> date: ...


def combine(day: date, at: time, zone: ZoneInfo) -> datetime:
    """Wall-clock ``at`` on ``day`` in ``zone`` as an aware datetime (never hand-converted)."""
    return datetime.combine(day, at, tzinfo=zone)
