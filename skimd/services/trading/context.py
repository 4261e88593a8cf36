"""What every trading job is given: the broker, the store, the clock, the calendar, the
strategy parameters. Built once by the composition root."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from skimd.clock import Clock
from skimd.domain.calendar import MarketCalendar, MarketSession
from skimd.services.broker_ports import AnnouncementFeed, Broker
from skimd.services.trading.params import StrategyParams
from skimd.services.trading.ports import TradingStore


@dataclass
class TradingContext:
    broker: Broker
    store: TradingStore
    clock: Clock
    calendar: MarketCalendar
    params: StrategyParams
    news: AnnouncementFeed | None = None

    def now(self) -> datetime:
        return self.clock.now()

    def today(self) -> date:
        """The market's calendar date right now (Sydney), whatever the host's zone."""
        return self.clock.now().astimezone(self.calendar.zone).date()

    def session(self) -> MarketSession | None:
        return self.calendar.session(self.today())

    def entries_close_at(self, session: MarketSession) -> datetime:
        """No new entries from here on: the closing auction (early closes honoured)."""
        return session.close_at - timedelta(minutes=self.params.closing_auction_minutes)

    def day_bounds(self, day: date) -> tuple[datetime, datetime]:
        """``day`` from midnight to midnight in the market zone, as aware datetimes."""
        start = datetime.combine(day, datetime.min.time(), self.calendar.zone)
        return start, datetime.combine(day + timedelta(days=1), datetime.min.time(), start.tzinfo)

    def sessions_between(self, first: date, last: date) -> list[date]:
        """Trading dates from ``first`` to ``last`` inclusive."""
        days: list[date] = []
        day = (
            first if self.calendar.is_trading_day(first) else self.calendar.next_trading_day(first)
        )
        while day <= last:
            days.append(day)
            day = self.calendar.next_trading_day(day)
        return days
