"""The demo env and the registry the quote-stream contract suite reads
(the :class:`~stream_env.StreamEnv` type is in ``stream_env.py``).

To add an implementation: write an ``@asynccontextmanager`` factory taking the test's
:class:`SimulatedClock` and yielding a :class:`StreamEnv` in a module of its own (importing
``stream_env``, never this module) and register it in :data:`STREAM_ENVS` below. The IBKR
websocket against the fake server is ``ibkr_stream_contract_env.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from decimal import Decimal

from broker_contract_env import START, demo_env
from ibkr_stream_contract_env import ibkr_stream_contract_env
from stream_env import StreamEnv, StreamEnvFactory

from skimd.clock import SimulatedClock
from skimd.domain.market import Quote
from skimd.infrastructure.brokers.demo.broker import DemoBroker

__all__ = ["START", "STREAM_ENVS"]


@asynccontextmanager
async def demo_stream_env(clock: SimulatedClock) -> AsyncIterator[StreamEnv]:
    async with demo_env(clock) as env:
        broker = env.broker
        assert isinstance(broker, DemoBroker)
        await broker.connect()
        contracts = await broker.resolve(list(env.symbols))
        conids = tuple(contracts[s].conid for s in env.symbols)

        async def advance(seconds: float) -> None:
            await clock.run_until(clock.now() + timedelta(seconds=seconds))

        async def price(conid: int) -> Decimal | None:
            ticker = broker.market.by_conid(conid)
            assert ticker is not None
            quote: Quote = broker.market.quote(ticker.symbol, clock.now())
            return quote.last

        yield StreamEnv(
            open_stream=broker.quote_stream,
            clock=clock,
            conids=conids,
            unknown_conid=999_999_999,
            advance=advance,
            drop=lambda: broker.drop_streams("test: connection cut"),
            restore=broker.restore_streams,
            price=price,
        )


STREAM_ENVS: dict[str, StreamEnvFactory] = {
    "demo": demo_stream_env,
    "ibkr": ibkr_stream_contract_env,
}
