"""The BrokerEnv type, the demo env and the registry the contract conftest reads."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from skimd.clock import SimulatedClock
from skimd.infrastructure.brokers.demo.broker import DemoBroker
from skimd.infrastructure.brokers.demo.market import DemoMarket
from skimd.infrastructure.brokers.events import RecordingBrokerEvents
from skimd.infrastructure.brokers.identifier_cache import InMemoryIdentifierCache
from skimd.infrastructure.calendar import AsxCalendar
from skimd.services.ports.broker import Broker, IdentifierCache

START = datetime(2025, 3, 4, 10, 30, tzinfo=ZoneInfo("Australia/Sydney"))
FILL_PATIENCE_S = 60


@dataclass
class BrokerEnv:
    broker: Broker
    clock: SimulatedClock
    events: RecordingBrokerEvents
    identifier_cache: IdentifierCache
    symbols: tuple[str, ...]
    unknown_symbol: str
    advance: Callable[[float], Awaitable[None]]


EnvFactory = Callable[[SimulatedClock], AbstractAsyncContextManager[BrokerEnv]]


@asynccontextmanager
async def demo_env(clock: SimulatedClock) -> AsyncIterator[BrokerEnv]:
    events = RecordingBrokerEvents()
    cache = InMemoryIdentifierCache()
    broker = DemoBroker(
        DemoMarket(seed=11, universe_size=60, calendar=AsxCalendar("Australia/Sydney")),
        clock,
        events=events,
        identifier_cache=cache,
        starting_cash=Decimal("1000000"),
        commission_per_order=Decimal("6"),
    )

    async def advance(seconds: float) -> None:
        clock.advance(seconds)

    try:
        yield BrokerEnv(broker, clock, events, cache, ("BHP", "CBA", "CSL"), "ZZQX", advance)
    finally:
        await broker.close()


IMPLEMENTATIONS: dict[str, EnvFactory] = {
    "demo": demo_env,
}
