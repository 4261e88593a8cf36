"""The IBKR websocket stream as a :class:`~stream_env.StreamEnv`: the quote-stream contract
suite runs it against the fake IBKR over loopback (127.0.0.1), through the connected facade's
``quote_stream`` exactly as the daemon builds it (:func:`ibkr_stream_env`).

Prices: the fake's instruments are a seeded demo market's tickers (:class:`FakeIbkrMarket`);
every :data:`TICK_S` of the clock the three conids are brought to the market's quote and
the fields that changed are pushed to the sockets subscribed to them, as IBKR pushes ticks.
:attr:`StreamEnv.price` is what the fake's snapshot shows now (the last tick).

Levers: ``drop`` cuts every socket without a close frame and refuses new handshakes (503)
until ``restore``.

``advance(seconds)`` is deterministic although the socket I/O is real: the clock moves timer
by timer (:meth:`SimulatedClock.run_until`), and before each jump, and once more at the end,
the loop runs until the env is *quiet* (:meth:`_Levers.quiet`):

- no opened stream is connecting (``/tickle`` and the handshake are real I/O);
- an up stream has a socket, the fake accepts sockets, and the fake's subscribed set is the
  union of the up streams' followed sets (every ``smd``/``umd`` has been read by the fake);
- every message the fake wrote on an open socket has been handled by the stream on it: the
  fake's per-socket ``written`` counts equal the streams' ``frames`` (as multisets).

Quiet can become true while the clock stands still, so it is a valid ``settle``. A stream
that is down while the fake accepts is quiet: it waits for its back-off, which only clock
time ends. Waiting is bounded by :data:`PATIENCE_S` (a guard against a hang, never a
measure); the fake's ``activity`` event and the streams' state changes wake the final wait,
the clock's settle passes let the stream's socket reads (which have no event) happen.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from decimal import Decimal

from stream_env import StreamEnv

from skimd.clock import SimulatedClock, TimerHandle
from skimd.infrastructure.brokers.demo.market import DemoMarket
from skimd.infrastructure.brokers.ibkr.quote_stream import IbkrQuoteStream
from skimd.infrastructure.calendar import AsxCalendar
from skimd.services.ports.quotes import QuoteStream, StreamState, StreamStateListener
from tests.contract.ibkr_stream_env import PATIENCE_S, IbkrStreamEnv, ibkr_stream_env

TICK_S = 1.0  # the fake market's tick grid (clock seconds)
UNKNOWN_CONID = 999_999_999


class _Levers:
    """The StreamEnv callables over one :class:`IbkrStreamEnv`; remembers every stream it
    opened."""

    def __init__(self, env: IbkrStreamEnv) -> None:
        assert env.market is not None
        self.env = env
        self.market = env.market
        self.streams: list[IbkrQuoteStream] = []
        self._changed = asyncio.Event()
        self._ticker: TimerHandle | None = None

    # -- the market's ticks ----------------------------------------------------------------

    def start_ticking(self) -> None:
        self._ticker = self.env.clock.call_later(TICK_S, self._tick)

    def stop_ticking(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None

    def _tick(self) -> None:
        now = self.env.clock.now()
        ws = self.env.fake.ws
        with ws.batch():
            for conid in self.env.conids:
                self.market.refresh(conid, now)
                ws.publish(conid)
        self._ticker = self.env.clock.call_later(TICK_S, self._tick)

    # -- StreamEnv --------------------------------------------------------------------------

    def open_stream(self, on_state: StreamStateListener | None) -> QuoteStream:
        def told(state: StreamState) -> None:
            self._changed.set()
            if on_state is not None:
                on_state(state)

        stream = self.env.broker.quote_stream(on_state=told)
        assert isinstance(stream, IbkrQuoteStream)
        self.streams.append(stream)
        return stream

    def drop(self) -> None:
        self.env.fake.ws.drop(refuse_s=math.inf)

    def restore(self) -> None:
        self.env.fake.ws.restore()

    async def price(self, conid: int) -> Decimal | None:
        return self.env.fake.instruments[conid].last

    async def advance(self, seconds: float) -> None:
        clock = self.env.clock
        await clock.run_until(clock.now() + timedelta(seconds=seconds), settle=self.quiet)
        await self._until_quiet()

    # -- quiet ------------------------------------------------------------------------------

    def quiet(self) -> bool:
        """Nothing the streams or the fake are doing needs more than the loop (module doc)."""
        return not self._unquiet()

    def _unquiet(self) -> str:
        """Why the env is not quiet ("" when it is)."""
        ws = self.env.fake.ws
        up = [s for s in self.streams if s.state.up]
        if any(s.connecting for s in self.streams):
            return "a stream is connecting"
        if any(s.frames is None for s in up):
            return "a stream is up without a socket"
        if up and not ws.accepting:
            return "a stream is up while the fake refuses sockets"
        followed = set().union(*(s.followed for s in up))
        if ws.subscribed() != followed:
            return f"the fake has {sorted(ws.subscribed())} subscribed, not {sorted(followed)}"
        written = sorted(sock.written for sock in ws.sockets)
        handled = sorted(s.frames for s in self.streams if s.frames is not None)
        if written != handled:
            return f"the fake wrote {written} messages per socket, the streams handled {handled}"
        return ""

    async def _until_quiet(self) -> None:
        clock, activity = self.env.clock, self.env.fake.ws.activity

        async def until() -> None:
            while True:
                activity.clear()
                self._changed.clear()
                if self.quiet():
                    return
                waiters = {
                    asyncio.ensure_future(activity.wait()),
                    asyncio.ensure_future(self._changed.wait()),
                    asyncio.ensure_future(clock.run_until(clock.now(), settle=self.quiet)),
                }
                try:
                    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for waiter in waiters:
                        waiter.cancel()

        try:
            await asyncio.wait_for(until(), PATIENCE_S)
        except TimeoutError:
            raise AssertionError(
                f"the IBKR stream env is not quiet after {PATIENCE_S} s: {self._unquiet()}"
            ) from None

    async def close(self) -> None:
        self.stop_ticking()
        for stream in self.streams:
            await stream.stop()


@asynccontextmanager
async def ibkr_stream_contract_env(clock: SimulatedClock) -> AsyncIterator[StreamEnv]:
    """The fake IBKR on loopback moving with a demo market, the connected facade, and the
    levers of :class:`StreamEnv` (see the module doc)."""
    market = DemoMarket(seed=11, universe_size=20, calendar=AsxCalendar("Australia/Sydney"))
    async with ibkr_stream_env(clock, market=market) as env:
        contracts = await env.broker.resolve([env.symbols[c] for c in env.conids])
        assert tuple(contracts[env.symbols[c]].conid for c in env.conids) == env.conids
        assert UNKNOWN_CONID not in env.fake.instruments
        levers = _Levers(env)
        levers.start_ticking()
        try:
            yield StreamEnv(
                open_stream=levers.open_stream,
                clock=clock,
                conids=env.conids,
                unknown_conid=UNKNOWN_CONID,
                advance=levers.advance,
                drop=levers.drop,
                restore=levers.restore,
                price=levers.price,
            )
        finally:
            await levers.close()


__all__ = ["TICK_S", "ibkr_stream_contract_env"]
