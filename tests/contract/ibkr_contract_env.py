"""The IBKR facade against the fake IBKR (httpx.MockTransport), for the contract suite.

RSA keys are generated once per test process (2048-bit keys take a moment). The simulated
clock is driven by :func:`~tests.fakes.ibkr_server.autojump` so the facade's pacing waits
(one ``/iserver/account/orders`` call per 5 s, ...) pass without a test advancing time.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from functools import cache
from pathlib import Path

import httpx
from broker_contract_env import BrokerEnv

from skimd.clock import SimulatedClock
from skimd.config import BrokerSettings, Settings
from skimd.infrastructure.brokers.events import RecordingBrokerEvents
from skimd.infrastructure.brokers.ibkr.facade import build_ibkr_broker
from skimd.infrastructure.brokers.ibkr.rsa_in_process import InProcessRsaKeys
from skimd.infrastructure.brokers.identifier_cache import InMemoryIdentifierCache
from skimd.infrastructure.calendar import AsxCalendar
from tests.fakes.ibkr_server import (
    FakeAccount,
    FakeIbkr,
    FakeIbkrKeys,
    FakeInstrument,
    autojump,
)

SYDNEY = AsxCalendar("Australia/Sydney")

BASE_URL = "https://api.ibkr.test/v1/api"


@cache
def _keys() -> FakeIbkrKeys:
    return FakeIbkrKeys.generate()


def _instrument(symbol: str, conid: int, price: str) -> FakeInstrument:
    p = Decimal(price)
    return FakeInstrument(
        symbol=symbol, conid=conid, name=f"{symbol} LTD", prev_close=p - Decimal("0.50"),
        open=p - Decimal("0.20"), last=p, bid=p - Decimal("0.01"), ask=p + Decimal("0.01"),
        high=p + Decimal("0.30"), low=p - Decimal("0.40"), volume=2_500_000,
    )


@asynccontextmanager
async def ibkr_env(clock: SimulatedClock) -> AsyncIterator[BrokerEnv]:
    keys = _keys()
    fake = FakeIbkr(keys, clock=clock, accounts=[FakeAccount("DU1234567", cash=Decimal(10**6))])
    for symbol, conid, price in (("BHP", 4036812, "45.10"), ("CBA", 4036818, "140.25"),
                                 ("CSL", 4036822, "290.00")):
        fake.add_instrument(_instrument(symbol, conid, price))
    events = RecordingBrokerEvents()
    cache_ = InMemoryIdentifierCache()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(broker=BrokerSettings(kind="ibkr"),
                            ibkr=keys.settings(Path(tmp), BASE_URL))
        client = httpx.AsyncClient(transport=fake.transport())
        broker = build_ibkr_broker(settings, clock=clock, events=events,
                                   identifier_cache=cache_, calendar=SYDNEY,
                                   rsa_keys=InProcessRsaKeys(), http_client=client)

        async def advance(seconds: float) -> None:
            clock.advance(seconds)

        try:
            async with autojump(clock):
                yield BrokerEnv(broker, clock, events, cache_, ("BHP", "CBA", "CSL"), "ZZQX",
                                advance)
                await broker.close()
        finally:
            await client.aclose()
