"""A trading rig without a database: the in-memory trading store, the demo broker (a real
adapter) on a simulated clock, the ASX calendar, and the desk and watch under test."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from skimd.clock import SimulatedClock
from skimd.domain.trading import CandidateRecord, IntentRecord, PositionRecord
from skimd.infrastructure.brokers.demo.broker import DemoBroker
from skimd.infrastructure.brokers.demo.market import DemoMarket
from skimd.infrastructure.brokers.events import RecordingBrokerEvents
from skimd.infrastructure.brokers.identifier_cache import InMemoryIdentifierCache
from skimd.infrastructure.calendar import AsxCalendar
from skimd.services.trading.context import TradingContext
from skimd.services.trading.intraday import IntradayWatch
from skimd.services.trading.orders import OrderDesk
from skimd.services.trading.params import StrategyParams
from tests.fakes.trading_store import FakeTradingStore

DAY = date(2026, 11, 24)  # a Tuesday the demo market trades
MARKET = DemoMarket(seed=7, universe_size=300, calendar=AsxCalendar("Australia/Sydney"))


@dataclass
class Rig:
    clock: SimulatedClock
    calendar: AsxCalendar
    broker: DemoBroker
    store: FakeTradingStore
    ctx: TradingContext
    desk: OrderDesk
    watch: IntradayWatch

    def at(self, hh: int, mm: int, ss: int = 0) -> datetime:
        when = datetime.combine(DAY, time(hh, mm, ss), self.calendar.zone)
        self.clock.advance_to(when)
        return when

    def add(self, ticker: str, **fields: Any) -> CandidateRecord:
        """Put ``ticker`` on today's list (ranging unless ``status`` says otherwise)."""
        contract = MARKET.ticker(ticker)
        assert contract is not None
        with self.store.transaction() as tx:
            return tx.save_candidate(
                CandidateRecord(scan_date=DAY, ticker=ticker, conid=contract.conid, **fields),
                self.clock.now(),
            )

    def candidate(self, ticker: str) -> CandidateRecord:
        with self.store.read() as tx:
            found = tx.candidate(DAY, ticker)
        assert found is not None
        return found

    def intents(self) -> list[IntentRecord]:
        with self.store.read() as tx:
            return tx.intents_between(*self.calendar.day_bounds(DAY))

    def position(self, ticker: str) -> PositionRecord | None:
        """The latest position in ``ticker``, open or closed."""
        with self.store.read() as tx:
            ids = [i.position_id for i in self.intents() if i.ticker == ticker and i.position_id]
            return None if not ids else tx.position(max(ids))


async def make_rig(
    params: StrategyParams | None = None,
    *,
    starting_cash: Decimal = Decimal("100000"),
    broker_class: type[DemoBroker] = DemoBroker,
) -> Rig:
    """The rig at 09:00 on DAY; ``broker_class`` is the demo broker or a fault-injecting
    subclass of it (built with the same arguments)."""
    calendar = AsxCalendar("Australia/Sydney")
    clock = SimulatedClock(datetime.combine(DAY, time(9, 0), calendar.zone))
    broker = broker_class(
        MARKET,
        clock,
        events=RecordingBrokerEvents(),
        identifier_cache=InMemoryIdentifierCache(),
        starting_cash=starting_cash,
        snapshot_preflight=False,
    )
    await broker.connect()
    store = FakeTradingStore()
    ctx = TradingContext(
        broker=broker,
        store=store,
        clock=clock,
        calendar=calendar,
        params=params or StrategyParams(),
    )
    desk = OrderDesk(ctx)
    return Rig(clock, calendar, broker, store, ctx, desk, IntradayWatch(ctx, desk))


def liquid_tickers(count: int) -> list[str]:
    """Tickers priced $2-$50 on DAY (one-cent ticks), in a stable order."""
    found = [p.symbol for p in MARKET.plans(DAY) if Decimal(2) < p.prev_close < Decimal(50)]
    return sorted(found)[:count]


def range_under(ticker: str, when: datetime, orh_below: str, orl_below: str) -> dict[str, Any]:
    """Fields of a tradeable candidate whose range sits just under the price at ``when``."""
    last = MARKET.price_at(ticker, when)
    assert last is not None
    return {"orh": last - Decimal(orh_below), "orl": last - Decimal(orl_below)}
