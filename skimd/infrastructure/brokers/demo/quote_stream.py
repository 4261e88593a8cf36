"""The demo market's pushed quotes: a :class:`~skimd.services.ports.quotes.QuoteStream` whose
ticks happen on the injected clock, at the instants the demo price paths move on the tick
grid.

For each subscribed conid one clock timer waits for the next instant its quoted ``last``
changes (found with :meth:`DemoMarket.first_cross` one tick up and one tick down, within a
short look-ahead window; a window without a change just looks again at its end). When it
fires, the quote of that instant (:meth:`DemoMarket.quote`, the same a snapshot shows) is
kept as the conid's pending quote, replacing an older pending one (conflation), and a
waiting :meth:`DemoQuoteStream.next_quotes` wakes. Before a ticker's open the stream waits
for its opening auction; after the close, for the next session's.

The price path is linear between minute knots, so a change is found to within a few
milliseconds: at the instant the path reaches the rounding boundary the quote may still
show the old price, so a timer that finds none looks again after each of
:data:`NUDGES_S`. At the tick-size band edges ($0.10, $2.00) a change may show up to
:data:`MIN_STEP_S` late.

Down and up are commands here (the broker's session loss, or a test's
:meth:`DemoQuoteStream.drop` / :meth:`DemoQuoteStream.restore`); with ``back_after_s`` a drop
heals by itself after that much clock time, as a reconnect with back-off would. On the way
back every subscribed conid's current quote is pushed (the re-subscription's first message).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from decimal import Decimal

from skimd.clock import Clock, TimerHandle
from skimd.domain.market import Quote, asx_tick_size
from skimd.errors import InvalidInputError
from skimd.infrastructure.brokers.demo.market_port import SimulatedMarket
from skimd.services.ports.quotes import StreamState, StreamStateListener

LOOK_AHEAD_S = 120.0  # how far one search for the next change looks (a few minute knots)
MIN_STEP_S = 1.0  # the next look after a timer that found no change (band edges)
NUDGES_S = (0.001, 0.01, 0.1)  # looks again just after a boundary that showed no change yet
DEMO_LINE_LIMIT = 100  # IBKR's default number of market-data lines


class DemoQuoteStream:
    """Quotes pushed from a :class:`DemoMarket` on ``clock`` (see the module docs).

    ``session_ok``: whether the broker's session is up now (a stream never runs without
    one). ``on_state``: told once per transition (up/down), never after :meth:`stop`."""

    def __init__(
        self,
        market: SimulatedMarket,
        clock: Clock,
        *,
        session_ok: Callable[[], bool],
        on_state: StreamStateListener | None = None,
        line_limit: int = DEMO_LINE_LIMIT,
    ) -> None:
        self._market = market
        self._clock = clock
        self._session_ok = session_ok
        self._on_state = on_state
        self._line_limit = line_limit
        self._state = StreamState(up=False, since=clock.now(), reason="not started")
        self._started = False
        self._stopped = False
        self._dropped: str | None = None
        self._heal: TimerHandle | None = None
        self._subscribed: dict[int, str] = {}  # conid -> symbol
        self._last: dict[int, Decimal | None] = {}  # the last price pushed, per conid
        self._timers: dict[int, TimerHandle] = {}
        self._nudges: dict[int, int] = {}  # looks again since the last change, per conid
        self._pending: dict[int, Quote] = {}
        self._waiter: asyncio.Future[None] | None = None
        self.ticks = 0  # quotes pushed (before conflation), for benches and tests

    # -- the QuoteStream protocol ----------------------------------------------------------

    @property
    def line_limit(self) -> int:
        return self._line_limit

    @property
    def state(self) -> StreamState:
        return self._state

    @property
    def subscribed(self) -> frozenset[int]:
        return frozenset(self._subscribed)

    async def start(self) -> None:
        if self._started or self._stopped:
            return
        self._started = True
        self._refresh_state()

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._on_state = None
        for conid in list(self._subscribed):
            self._unsubscribe(conid)
        if self._heal is not None:
            self._heal.cancel()
        self._state = StreamState(up=False, since=self._clock.now(), reason="stopped")
        self._wake()

    async def follow(self, conids: Collection[int]) -> None:
        wanted = set(conids)
        if len(wanted) > self._line_limit:
            raise InvalidInputError(
                f"demo quote stream: {len(wanted)} conids asked for, the line limit is "
                f"{self._line_limit}"
            )
        unknown = sorted(c for c in wanted if self._market.by_conid(c) is None)
        if unknown:
            raise InvalidInputError(f"demo quote stream: unknown conid {unknown[0]}")
        if self._stopped:
            return
        for conid in list(self._subscribed):
            if conid not in wanted:
                self._unsubscribe(conid)
        for conid in sorted(wanted - set(self._subscribed)):
            ticker = self._market.by_conid(conid)
            assert ticker is not None
            self._subscribed[conid] = ticker.symbol
            if self._state.up:
                self._push_now(conid)

    async def next_quotes(self, timeout_s: float) -> list[Quote]:
        if self._stopped or not self._state.up:
            return []
        if not self._pending and timeout_s > 0:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiter = waiter
            handle = self._clock.call_later(timeout_s, lambda: _resolve(waiter))
            try:
                await waiter
            finally:
                handle.cancel()
                if self._waiter is waiter:
                    self._waiter = None
        if self._stopped or not self._state.up:
            return []
        quotes, self._pending = list(self._pending.values()), {}
        return quotes

    # -- down and up on command ------------------------------------------------------------

    def drop(self, reason: str = "connection lost", back_after_s: float | None = None) -> None:
        """The stream goes down (no quotes; ``next_quotes`` returns ``[]``); with
        ``back_after_s`` it comes back by itself after that much clock time."""
        self._dropped = reason
        if self._heal is not None:
            self._heal.cancel()
            self._heal = None
        if back_after_s is not None:
            self._heal = self._clock.call_later(back_after_s, self.restore)
        self._refresh_state()

    def restore(self) -> None:
        """Undo :meth:`drop` (the stream is up again if the broker's session is)."""
        self._dropped = None
        if self._heal is not None:
            self._heal.cancel()
            self._heal = None
        self._refresh_state()

    def session_changed(self) -> None:
        """The broker's session went down or came back: follow it."""
        self._refresh_state()

    # -- internals -------------------------------------------------------------------------

    def _refresh_state(self) -> None:
        if not self._started or self._stopped:
            return
        if self._dropped is not None:
            up, reason = False, self._dropped
        elif not self._session_ok():
            up, reason = False, "broker session down"
        else:
            up, reason = True, ""
        if up == self._state.up:
            return
        self._state = StreamState(up=up, since=self._clock.now(), reason=reason)
        if up:  # (re-)subscribed: every conid's current quote comes first
            for conid in self._subscribed:
                self._push_now(conid)
        else:
            for timer in self._timers.values():
                timer.cancel()
            self._timers.clear()
            self._pending.clear()
            self._last.clear()
            self._wake()
        if self._on_state is not None:
            self._on_state(self._state)

    def _unsubscribe(self, conid: int) -> None:
        self._subscribed.pop(conid, None)
        self._nudges.pop(conid, None)
        self._last.pop(conid, None)
        self._pending.pop(conid, None)
        timer = self._timers.pop(conid, None)
        if timer is not None:
            timer.cancel()

    def _push_now(self, conid: int) -> None:
        """Push the conid's quote of this instant and wait for its next change."""
        symbol = self._subscribed[conid]
        now = self._clock.now()
        quote = self._market.quote(symbol, now)
        self._push(quote)
        self._schedule(conid, symbol, now, quote.last)

    def _push(self, quote: Quote) -> None:
        self._last[quote.conid] = quote.last
        self._pending[quote.conid] = quote
        self.ticks += 1
        self._wake()

    def _fire(self, conid: int) -> None:
        self._timers.pop(conid, None)
        symbol = self._subscribed.get(conid)
        if symbol is None or not self._state.up:
            return
        now = self._clock.now()
        quote = self._market.quote(symbol, now)
        if quote.last != self._last.get(conid):
            self._nudges.pop(conid, None)
            self._push(quote)
        else:
            nudged = self._nudges.get(conid, 0)
            if nudged < len(NUDGES_S):
                self._nudges[conid] = nudged + 1
                self._timers[conid] = self._clock.call_later(
                    NUDGES_S[nudged], lambda: self._fire(conid)
                )
                return
        self._schedule(conid, symbol, now, quote.last)

    def _schedule(self, conid: int, symbol: str, now: datetime, last: Decimal | None) -> None:
        when, crossing = self._next_change(symbol, now, last)
        if crossing:  # a new boundary ahead: it may take its looks again
            self._nudges.pop(conid, None)
        delay = max((when - now).total_seconds(), 0.0)
        self._timers[conid] = self._clock.call_later(delay, lambda: self._fire(conid))

    def _next_change(
        self, symbol: str, now: datetime, last: Decimal | None
    ) -> tuple[datetime, bool]:
        """When ``symbol``'s quoted last may next differ from ``last`` (at ``now``), and
        whether that is a price level crossed ahead (not a look again after a wait)."""
        market = self._market
        day = market.session_date(now)
        trading = market.is_trading_day(day)
        close_at = market.close_at(day) if trading else None
        if close_at is None or now >= close_at:
            following = day + timedelta(days=1)
            while not market.is_trading_day(following):
                following += timedelta(days=1)
            return market.opens_at(symbol, following), False
        open_at = market.opens_at(symbol, day)
        if last is None or now < open_at:
            return max(open_at, now + timedelta(seconds=MIN_STEP_S)), False
        end = min(now + timedelta(seconds=LOOK_AHEAD_S), close_at)
        found = [
            hit[0]
            for hit in (
                market.first_cross(symbol, now, end, last + asx_tick_size(last), below=False),
                market.first_cross(
                    symbol,
                    now,
                    end,
                    last - asx_tick_size(last - asx_tick_size(last) / 2),
                    below=True,
                )
                if last > asx_tick_size(last)
                else None,
            )
            if hit is not None
        ]
        if not found:
            return end, False
        soonest = min(found)
        if soonest <= now:  # through a level already (a band edge): look again shortly
            return now + timedelta(seconds=MIN_STEP_S), False
        return soonest, True

    def _wake(self) -> None:
        if self._waiter is not None:
            _resolve(self._waiter)


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


__all__ = ["DEMO_LINE_LIMIT", "DemoQuoteStream"]
