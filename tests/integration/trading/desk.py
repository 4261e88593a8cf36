"""Helpers: a trading desk on the demo market: a real database file, the demo broker, a simulated
clock and the ASX calendar; tests move the clock and call the jobs directly."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr

from skimd import bootstrap
from skimd.clock import SimulatedClock
from skimd.config import DatabaseSettings, PathSettings, Settings
from skimd.domain.calendar import MarketCalendar
from skimd.domain.trading import CandidateRecord, CandidateState
from skimd.infrastructure.brokers.demo.broker import DemoBroker
from skimd.infrastructure.brokers.demo.market import DemoMarket
from skimd.infrastructure.brokers.events import RecordingBrokerEvents
from skimd.infrastructure.brokers.identifier_cache import InMemoryIdentifierCache
from skimd.infrastructure.calendar import AsxCalendar
from skimd.infrastructure.database import TradingDatabase, open_trading_database
from skimd.infrastructure.database.journal_store import SqlJournalStore
from skimd.services.journal.end_of_day import JournalDay
from skimd.services.trading.context import TradingContext
from skimd.services.trading.day import TradingDay
from skimd.services.trading.params import StrategyParams
from tests.fakes.notifiers import RecordingNotifier

SMALL_KDF = {"kdf_time_cost": 1, "kdf_memory_kib": 8192, "kdf_parallelism": 1}
DAY = date(2026, 11, 24)  # a Tuesday; the demo market below has gappers with news that day
SEED = 7
MARKET = DemoMarket(seed=SEED, universe_size=300, calendar=AsxCalendar("Australia/Sydney"))


def _settings(data_dir: Path, encryption: str) -> Settings:
    return Settings(
        paths=PathSettings(data_dir=data_dir),
        database=DatabaseSettings(
            encryption=encryption,  # type: ignore[arg-type]
            passphrase=SecretStr("trading tests"),
            **SMALL_KDF,  # type: ignore[arg-type]
        ),
    )


@pytest.fixture(scope="session")
def trading_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("trading-template")
    open_trading_database(_settings(data_dir, "off"), create=True).close()
    return data_dir


@dataclass
class Desk:
    """Everything a trading test touches."""

    clock: SimulatedClock
    calendar: MarketCalendar
    broker: DemoBroker
    db: TradingDatabase
    day: TradingDay
    store: SqlJournalStore
    app: bootstrap.App

    def close(self) -> None:
        """What a process exit would do: the App's parts closed, its lock released."""
        self.app.close()

    @property
    def journal(self) -> JournalDay:
        assert self.day.journal is not None
        return self.day.journal

    @property
    def ctx(self) -> TradingContext:
        return self.day.ctx

    def at(self, day: date, hh: int, mm: int, ss: int = 0) -> datetime:
        when = datetime.combine(day, time(hh, mm, ss), self.calendar.zone)
        self.clock.advance_to(when)
        return when

    def alerts(self, kind: str | None = None) -> list[dict[str, Any]]:
        import json

        from skimd.infrastructure.database.tables import AlertOutbox

        with self.db.unit_of_work(read_only=True) as uow:
            rows = uow.outbox.list_all()
            found = [
                {"kind": r.kind, **json.loads(r.payload)["data"]}
                for r in sorted(rows, key=lambda r: r.id or 0)
                if isinstance(r, AlertOutbox)
            ]
        return [a for a in found if kind is None or a["kind"] == kind]

    def tradeable(self, ticker: str, orh: Decimal, orl: Decimal, **extra: Any) -> CandidateRecord:
        """Put ``ticker`` on today's list as tradeable with the given range."""
        contract = MARKET.ticker(ticker)
        assert contract is not None
        day = self.ctx.today()
        with self.ctx.store.transaction() as tx:
            return tx.save_candidate(
                CandidateRecord(
                    scan_date=day,
                    ticker=ticker,
                    status=CandidateState.TRADEABLE,
                    conid=contract.conid,
                    orh=orh,
                    orl=orl,
                    price_sensitive=True,
                    **extra,
                ),
                self.clock.now(),
            )


def desk_clock() -> SimulatedClock:
    """The desk's default clock: 09:00 Sydney on DAY."""
    return SimulatedClock(datetime.combine(DAY, time(9, 0), ZoneInfo("Australia/Sydney")))


def make_desk(
    data_dir: Path,
    *,
    params: StrategyParams | None = None,
    clock: SimulatedClock | None = None,
    broker: DemoBroker | None = None,
) -> Desk:
    """The daemon's own wiring (an EXCLUSIVE App from bootstrap) over the demo market, with
    the test's clock and broker; ``params`` replaces the strategy settings' parameters."""
    settings = _settings(data_dir, "off")
    clock = clock or desk_clock()
    broker = broker or DemoBroker(
        MARKET, clock, events=RecordingBrokerEvents(), identifier_cache=InMemoryIdentifierCache()
    )
    app = bootstrap.build(
        settings,
        access=bootstrap.Access.EXCLUSIVE,
        clock=clock,
        broker=broker,
        notifier=RecordingNotifier("alerts"),
        environ={},
    )
    if params is not None:
        app.trading.ctx.params = params
    return Desk(clock, app.calendar, broker, app.database, app.trading, app.store, app)


@pytest.fixture
def data_dir(tmp_path: Path, trading_template: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(trading_template, target)
    return target


@pytest.fixture
async def desk(data_dir: Path) -> AsyncIterator[Desk]:
    made = make_desk(data_dir)
    await made.broker.connect()
    yield made
    made.close()


def with_params(desk: Desk, **changes: Any) -> Desk:
    desk.day.ctx.params = replace(desk.ctx.params, **changes)
    return desk


def liquid_tickers(day: date, count: int = 3) -> list[str]:
    """Tickers priced $2-$50 on ``day`` (one-cent ticks), in a stable order."""
    found = [p.symbol for p in MARKET.plans(day) if Decimal(2) < p.prev_close < Decimal(50)]
    return sorted(found)[:count]


def breakout_range(ticker: str, when: datetime) -> tuple[Decimal, Decimal]:
    """An (ORH, ORL) just under the price at ``when``, so the next poll is a breakout."""
    last = MARKET.price_at(ticker, when)
    assert last is not None
    return last - Decimal("0.05"), last - Decimal("0.25")
