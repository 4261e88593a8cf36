"""The ASX calendar: weekends, exchange holidays (:mod:`skimd.domain.asx_holidays`)
and the two early closes (Christmas Eve and New Year's Eve close at 14:10 when they trade),
in the zone and at the times the settings give (``[market]``; bootstrap's
``build_calendar``): there is no default zone, so no wall clock is ever assumed.

The holiday rules are computed in-house rather than loaded from ``exchange-calendars``
(pandas: about +55 MB RSS) or ``holidays`` (~20 MB: it loads every country and exchange);
a test checks them against ``holidays``' XASX calendar. Neither knows our early closes, so
the two ASX ones are encoded here.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from skimd.domain.asx_holidays import asx_holidays
from skimd.domain.calendar import MarketSession, combine, day_bounds

_EARLY_CLOSE_DAYS = ((12, 24), (12, 31))


class AsxCalendar:
    """:class:`~skimd.domain.calendar.MarketCalendar` of the ASX in ``zone`` (an IANA
    name, e.g. the settings' ``market.timezone``)."""

    def __init__(
        self,
        zone: str,
        open_time: time = time(10, 0),
        close_time: time = time(16, 0),
        early_close_time: time = time(14, 10),
    ) -> None:
        self.zone = ZoneInfo(zone)
        self._open = open_time
        self._close = close_time
        self._early_close = early_close_time

    def holiday_name(self, day: date) -> str | None:
        if day.weekday() >= 5:
            return "weekend"
        return _holidays_for(day.year).get(day)

    def is_trading_day(self, day: date) -> bool:
        return self.holiday_name(day) is None

    def session(self, day: date) -> MarketSession | None:
        if not self.is_trading_day(day):
            return None
        early = (day.month, day.day) in _EARLY_CLOSE_DAYS
        return MarketSession(
            day=day,
            open_at=combine(day, self._open, self.zone),
            close_at=combine(day, self._early_close if early else self._close, self.zone),
            early_close=early,
        )

    def next_trading_day(self, day: date) -> date:
        candidate = day + timedelta(days=1)
        while not self.is_trading_day(candidate):
            candidate += timedelta(days=1)
        return candidate

    def trading_days(self, first: date, last: date) -> list[date]:
        days: list[date] = []
        day = first if self.is_trading_day(first) else self.next_trading_day(first)
        while day <= last:
            days.append(day)
            day = self.next_trading_day(day)
        return days

    def market_date(self, at: datetime) -> date:
        return at.astimezone(self.zone).date()

    def day_bounds(self, day: date) -> tuple[datetime, datetime]:
        return day_bounds(day, self.zone)


@lru_cache(maxsize=8)
def _holidays_for(year: int) -> dict[date, str]:
    return asx_holidays(year)
