"""An :class:`~skimd.infrastructure.brokers.ibkr.quote_stream.IbkrQuoteStream` against the fake
IBKR over loopback (127.0.0.1), for the IBKR stream tests and benches; the quote-stream
contract suite wraps it in ``ibkr_stream_contract_env.py`` (a :class:`StreamEnv`).

The fake serves its REST API and its websocket ``/ws`` on one loopback port
(:func:`~tests.fakes.ibkr_server.serve_loopback`, :mod:`tests.fakes.ibkr_ws`); the real IBKR
facade connects to it (OAuth, brokerage session) and builds the stream with
``quote_stream(on_state=...)``, exactly as the daemon would.

Time: one :class:`SimulatedClock` for the facade, the stream and the fake. It is NOT driven by
``autojump`` (real socket I/O would see time jump while it waits); it moves only through
:meth:`IbkrStreamEnv.advance` (``SimulatedClock.run_until``, settling on "no connection
attempt in flight" before each jump), so heartbeats, ``tic`` and the stream's back-off happen
when a test says so. ``next_quotes(timeout)``
returns as soon as a pushed quote arrives over the socket; with nothing pushed it waits for
the clock, so a test expecting ``[]`` from a timeout must advance the clock meanwhile (or
ask while the stream is down, which answers at once).

Usage::

    async with ibkr_stream_env(SimulatedClock(START)) as env:
        await env.stream.start()
        await env.wait_up()
        await env.stream.follow(env.conids[:2])
        await env.push(env.conids[0], Decimal("45.20"))   # a tick from IBKR
        quotes = await env.stream.next_quotes(5)
        await env.drop()                                    # the network cuts the socket
        await env.wait_down()
        await env.advance(1)                                # the stream's first back-off
        await env.wait_up()
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import httpx

from skimd.clock import SimulatedClock
from skimd.infrastructure.brokers.demo.market import DemoMarket
from skimd.infrastructure.brokers.events import RecordingBrokerEvents
from skimd.infrastructure.brokers.ibkr.quote_stream import IbkrQuoteStream, ws_url
from skimd.services.ports.quotes import StreamState
from tests.fakes.ibkr_market import FakeIbkrMarket
from tests.fakes.ibkr_server import (
    FakeAccount,
    FakeIbkr,
    FakeIbkrKeys,
    FakeInstrument,
    make_broker,
    serve_loopback,
)

INSTRUMENTS = (("BHP", 4036812, "45.10"), ("CBA", 4036818, "140.25"),
               ("CSL", 4036822, "290.00"))
# the guard against a hang: generous, never a measure (real seconds)
PATIENCE_S = 30.0


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


@dataclass
class IbkrStreamEnv:
    clock: SimulatedClock
    fake: FakeIbkr
    conids: tuple[int, ...]
    symbols: dict[int, str]
    ws_url: str  # the fake's /ws (ws://127.0.0.1:PORT/v1/api/ws)
    broker: Any  # the connected IBKR facade the stream belongs to
    stream: IbkrQuoteStream = field(init=False)  # built by the broker, on_state = ours
    market: FakeIbkrMarket | None = None  # the price paths, when the env was given a market
    states: list[StreamState] = field(default_factory=list)  # every on_state call
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def on_state(self, state: StreamState) -> None:
        self.states.append(state)
        self._changed.set()

    async def push(self, conid: int, last: Decimal) -> None:
        """IBKR sends a tick: ``conid`` trades at ``last`` (bid/ask around it)."""
        inst = self.fake.instruments[conid]
        inst.last, inst.bid, inst.ask = last, last - Decimal("0.01"), last + Decimal("0.01")
        inst.high = max(inst.high or last, last)
        inst.low = min(inst.low or last, last)
        self.fake.ws.publish(conid)

    async def burst(self, conid: int, prices: list[Decimal]) -> None:
        """Several ticks for ``conid`` in one TCP write (a burst)."""
        with self.fake.ws.batch():
            for price in prices:
                await self.push(conid, price)

    async def drop(self, refuse_s: float = 0.0) -> None:
        """The network cuts the websocket (and refuses new ones for ``refuse_s``)."""
        self.fake.ws.drop(refuse_s=refuse_s)

    async def advance(self, seconds: float) -> None:
        """Let ``seconds`` of clock time pass, timer by timer; before each jump the loop runs
        until no connection attempt of the stream is in flight (its socket I/O is real)."""
        await self.clock.run_until(self.clock.now() + timedelta(seconds=seconds),
                                   settle=lambda: not self.stream.connecting)

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Until ``predicate()`` holds (re-checked after every state change of the stream and
        everything the fake's websocket sees)."""
        async def until() -> None:
            activity = self.fake.ws.activity
            while True:
                self._changed.clear()
                activity.clear()
                if predicate():
                    return
                waiters = {asyncio.ensure_future(self._changed.wait()),
                           asyncio.ensure_future(activity.wait())}
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                for waiter in waiters:
                    waiter.cancel()

        await asyncio.wait_for(until(), PATIENCE_S)

    async def wait_up(self) -> None:
        await self.wait_for(lambda: self.stream.state.up)

    async def wait_down(self) -> None:
        await self.wait_for(lambda: not self.stream.state.up)

    async def quotes_until(self, done: Callable[[dict[int, list[Decimal]]], bool],
                           ) -> dict[int, list[Decimal]]:
        """Every ``last`` the stream delivers, per conid, until ``done`` says enough."""
        seen: dict[int, list[Decimal]] = {}

        async def collect() -> None:
            while not done(seen):
                for quote in await self.stream.next_quotes(60):
                    assert quote.last is not None
                    seen.setdefault(quote.conid, []).append(quote.last)

        await asyncio.wait_for(collect(), PATIENCE_S)
        return seen


@asynccontextmanager
async def ibkr_stream_env(
    clock: SimulatedClock, *, market: DemoMarket | None = None
) -> AsyncIterator[IbkrStreamEnv]:
    """The fake on loopback, the connected facade and an unstarted stream on it.

    Without ``market`` the fake knows the three :data:`INSTRUMENTS` at fixed prices (a test
    moves them with :meth:`IbkrStreamEnv.push`); with one, its instruments are the market's
    tickers (:class:`FakeIbkrMarket`, at their price now) and ``conids`` its first three."""
    fake = FakeIbkr(_keys(), clock=clock,
                    accounts=[FakeAccount("DU1234567", cash=Decimal(10**6))])
    fake_market: FakeIbkrMarket | None = None
    if market is None:
        listed = [(symbol, conid) for symbol, conid, _ in INSTRUMENTS]
        for symbol, conid, price in INSTRUMENTS:
            fake.add_instrument(_instrument(symbol, conid, price))
    else:
        fake_market = FakeIbkrMarket(fake, market)
        listed = [(t.symbol, t.conid) for t in market.tickers[:3]]
        for _, conid in listed:
            fake_market.refresh(conid, clock.now())
    with tempfile.TemporaryDirectory() as tmp:
        async with serve_loopback(fake) as base_url, httpx.AsyncClient(timeout=10) as client:
            broker, _ = make_broker(fake, Path(tmp), client=client, base_url=base_url,
                                    events=RecordingBrokerEvents())
            await broker.connect()
            env = IbkrStreamEnv(
                clock=clock, fake=fake, conids=tuple(c for _, c in listed),
                symbols={c: s for s, c in listed}, ws_url=ws_url(base_url),
                broker=broker, market=fake_market,
            )
            env.stream = broker.quote_stream(on_state=env.on_state)
            try:
                yield env
            finally:
                await env.stream.stop()
                await broker.close()


__all__ = ["INSTRUMENTS", "PATIENCE_S", "IbkrStreamEnv", "ibkr_stream_env"]
