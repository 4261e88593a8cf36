"""The StreamEnv type, the demo env and the registry the quote-stream contract suite reads.

To add an implementation (the IBKR websocket against the fake server): write an
``@asynccontextmanager async def ibkr_stream_env(clock) -> AsyncIterator[StreamEnv]`` (in a
module of its own, e.g. ``tests/contract/ibkr_stream_env.py``) that starts the fake with its
websocket, builds and connects the IBKR broker on ``clock``, and yields a :class:`StreamEnv`:
``open_stream`` is the broker's ``quote_stream``; ``drop``/``restore`` make the fake close the
websocket and accept it again; ``advance`` lets market time pass AND lets the stream's
messages arrive (for a loopback server: move the clock, then give the loop real time until
the pushes are read); ``price`` is the price the fake's path shows for a conid now. That is
all: this module registers ``ibkr_stream_env`` as the ``"ibkr"`` parameter when the module
``tests/contract/ibkr_stream_env.py`` exists (as ``conftest.py`` does with ``ibkr_env``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from broker_contract_env import START, demo_env

from skimd.clock import SimulatedClock
from skimd.domain.market import Quote
from skimd.infrastructure.brokers.demo.broker import DemoBroker
from skimd.services.ports.quotes import QuoteStream, StreamStateListener

__all__ = ["START", "STREAM_ENVS", "StreamEnv"]


@dataclass
class StreamEnv:
    """A connected broker's streaming side, and the levers a test pulls."""

    open_stream: Callable[[StreamStateListener | None], QuoteStream]
    clock: SimulatedClock
    conids: tuple[int, ...]  # at least three instruments trading now
    unknown_conid: int
    advance: Callable[[float], Awaitable[None]]
    drop: Callable[[], None]  # the stream's connection dies (the session stays up)
    restore: Callable[[], None]  # it may connect again
    price: Callable[[int], Awaitable[Decimal | None]]  # what a snapshot shows now


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


StreamEnvFactory = Callable[[SimulatedClock], AbstractAsyncContextManager[StreamEnv]]

STREAM_ENVS: dict[str, StreamEnvFactory] = {
    "demo": demo_stream_env,
}

try:
    from ibkr_stream_env import ibkr_stream_env
except ModuleNotFoundError as exc:  # the IBKR stream's env is optional until it is written
    if exc.name != "ibkr_stream_env":
        raise
else:
    STREAM_ENVS["ibkr"] = ibkr_stream_env
