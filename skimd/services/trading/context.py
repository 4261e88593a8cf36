"""What every trading job is given: the broker, the store, the clock, the calendar, the
strategy parameters. Built once by the composition root."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from skimd.clock import Clock
from skimd.domain.calendar import MarketCalendar, MarketSession
from skimd.services.ports.broker import AnnouncementFeed, Broker
from skimd.services.ports.trading import TradingStore
from skimd.services.trading.params import StrategyParams
from skimd.services.trading.price_tape import PriceTape


@dataclass
class TradingContext:
    broker: Broker
    store: TradingStore
    clock: Clock
    calendar: MarketCalendar
    params: StrategyParams
    news: AnnouncementFeed | None = None
    tape: PriceTape = field(default_factory=PriceTape)  # prices seen, for alert charts
    # keep what the broker showed (quotes, scans, announcements, bars) to replay the day;
    # a backtest's market is itself a model or a recording, so it keeps none
    records_market: bool = True

    def now(self) -> datetime:
        return self.clock.now()

    def today(self) -> date:
        """The market's calendar date right now, whatever the host's zone."""
        return self.calendar.market_date(self.clock.now())

    def session(self) -> MarketSession | None:
        return self.calendar.session(self.today())

    def entries_close_at(self, session: MarketSession) -> datetime:
        """No new entries from here on: the closing auction (early closes honoured)."""
        return session.close_at - timedelta(minutes=self.params.closing_auction_minutes)
