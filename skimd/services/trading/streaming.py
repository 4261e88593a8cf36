"""The watch on pushed quotes: reacting on the tick, with the poll as the fallback.

:class:`QuoteWatch` owns one :class:`~skimd.services.ports.quotes.QuoteStream` for the
daemon's life (the supervisor starts and stops it beside the scheduler):

- **Reaction.** One task waits for the stream's conflated quotes and hands each batch to
  the trading day (:meth:`~skimd.services.trading.day.TradingDay.react`: entries and stops
  at once, under the order jobs' lock). The next batch is asked for only after a pass is
  done, so a burst of ticks during a pass becomes one quote per conid for the next pass:
  work never queues.
- **Subscriptions follow the candidates.** After every poll the day hands over what the
  watch looks at (:meth:`QuoteWatch.follow`): a candidate is subscribed when the poll first
  ranges it and unsubscribed once it is skipped, entered and closed, or expired; open
  positions (and their orders) stay subscribed. With more conids than the stream's
  ``line_limit`` the first ones are kept (positions first; the rest are polled only).
  Re-subscribing after a reconnect, heartbeats and back-off are the stream's job.
- **Fallback.** The 5-second poll never stops: while the stream is down it does all the
  work exactly as before, while it is up it is the safety net (the entry path is
  exactly-once and both take the same lock, so nothing is done twice). The switch is
  seamless and alerted once each way: :class:`~skimd.domain.alerts.QuoteStreamDown` when
  the stream goes down (or never comes up), :class:`~skimd.domain.alerts.QuoteStreamBack`
  when it is back. Not while the broker session is known to be down: then the poll waits
  too, and the session's own alerts say so (its loss and its return); the stream's outage
  is only logged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Any, Protocol

import structlog

from skimd.clock import Clock
from skimd.domain.alerts import Alert, QuoteStreamBack, QuoteStreamDown
from skimd.domain.market import Quote
from skimd.services.ports.quotes import QuoteStream, StreamState, StreamStateListener

log = structlog.get_logger(__name__)

WAIT_S = 60.0  # how long one wait for quotes lasts (on the clock) before looking again


class ReactingDay(Protocol):
    """What the quote watch drives of the trading day."""

    async def react(self, quotes: list[Quote]) -> str | None: ...


class QuoteWatch:
    """``open_stream(on_state)`` builds the stream (the broker's
    :meth:`~skimd.services.ports.quotes.StreamingBroker.quote_stream`); ``alert`` stores an
    alert (the outbox); ``poll_interval_s`` is named in the outage alert."""

    def __init__(
        self,
        day: ReactingDay,
        open_stream: Callable[[StreamStateListener], QuoteStream],
        *,
        clock: Clock,
        alert: Callable[[Alert], None],
        broker: str,
        poll_interval_s: int,
        session_down: Callable[[], str | None] = lambda: None,
    ) -> None:
        self._day = day
        self._session_down = session_down
        self._clock = clock
        self._alert = alert
        self._broker = broker
        self._poll_interval_s = poll_interval_s
        self.stream = open_stream(self._on_state)
        self._task: asyncio.Task[None] | None = None
        self._started = False  # the stream's start() returned
        self._busy = False
        self._stopping = False
        self._down_since: datetime | None = None  # of the outage alerted, until it is back
        self._reason = ""  # why it went down
        self._up = asyncio.Event()
        self._cut = 0  # how many conids were wanted when the lines last ran out
        self._following = 0  # conids subscribed by the last follow
        self.passes = 0  # tick passes run (tests, benches)

    # -- life cycle (the supervisor's background work) -------------------------------------

    def start(self) -> None:
        """Start the stream and the reaction task on the running loop (idempotent)."""
        if self._task is None and not self._stopping:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop the stream and the reaction task (a pass under way finishes first)."""
        self._stopping = True
        await self.stream.stop()
        self._up.set()
        if self._task is not None:
            await asyncio.wait({self._task})

    def idle(self) -> bool:
        """True when no pass is running (the simulated clock waits for this)."""
        return not self._busy

    # -- subscriptions ---------------------------------------------------------------------

    async def follow(self, conids: list[int]) -> None:
        """Subscribe exactly ``conids`` (in priority order), cut to the stream's lines. A
        stream that fails to follow is logged, never the poll's failure: the poll is the
        safety net and watches every conid itself."""
        if self._stopping:
            return
        limit = self.stream.line_limit
        if len(conids) > limit and len(conids) != self._cut:
            log.warning("quote stream lines exhausted", wanted=len(conids), lines=limit)
        self._cut = len(conids) if len(conids) > limit else 0
        try:
            await self.stream.follow(conids[:limit])
            self._following = min(len(conids), limit)
        except Exception as exc:
            log.error("quote stream did not follow", error=f"{type(exc).__name__}: {exc}")

    def describe(self, zone: tzinfo) -> dict[str, Any]:
        """How quotes reach the watch now, for ``skimd status``: ``streaming`` (since when,
        how many conids on how many lines, the passes run) or ``polling`` while the stream
        is down (since when and why)."""
        state = self.stream.state
        return {
            "mode": "streaming" if state.up else "polling",
            "since": state.since.astimezone(zone).isoformat(timespec="seconds"),
            "reason": None if state.up else (state.reason or "not connected yet"),
            "subscribed": self._following,
            "lines": self.stream.line_limit,
            "wanted": self._cut or self._following,
            "tick_passes": self.passes,
            "poll_interval_s": self._poll_interval_s,
        }

    # -- internals -------------------------------------------------------------------------

    async def _run(self) -> None:
        """Until stopped: a pass per batch of quotes; while the stream is down, wait for it
        (the poll does the work). A stream that raises is logged and waited for the same
        way, never a busy loop, and never the end of the reaction."""
        while not self._stopping:
            try:
                if not self._started:
                    await self.stream.start()
                    self._started = True
                quotes = await self.stream.next_quotes(WAIT_S)
            except Exception as exc:
                log.error("quote stream failed", error=f"{type(exc).__name__}: {exc}")
                await self._until_up(force=True)
                continue
            if self._stopping:
                break
            if quotes:
                await self._pass(quotes)
            elif not self.stream.state.up:
                await self._until_up()

    async def _pass(self, quotes: list[Quote]) -> None:
        self._busy = True
        try:
            await self._day.react(quotes)
            self.passes += 1
        except Exception as exc:  # a failed pass is the poll's to retry (it alerts its own)
            log.warning("tick pass failed", error=f"{type(exc).__name__}: {exc}")
        finally:
            self._busy = False

    async def _until_up(self, *, force: bool = False) -> None:
        """Wait (on the clock) until the stream says it is up, at most :data:`WAIT_S`;
        ``force``: wait even if it says it is up now (it just failed)."""
        self._up.clear()
        if self.stream.state.up and not force:
            return
        waiter = asyncio.ensure_future(self._up.wait())
        handle = self._clock.call_later(WAIT_S, self._up.set)
        try:
            await waiter
        finally:
            handle.cancel()

    def _on_state(self, state: StreamState) -> None:
        if self._stopping:
            return
        if state.up:
            self._up.set()
            log.info("quote stream up", since=state.since.isoformat())
            if self._down_since is not None:
                self._alert(
                    QuoteStreamBack(
                        occurred_at=self._clock.now(),
                        broker=self._broker,
                        down_since=self._down_since,
                        reason=self._reason,
                    )
                )
                self._down_since = None
            return
        log.warning("quote stream down", reason=state.reason)
        if self._down_since is None and self._session_down() is None:
            self._down_since, self._reason = state.since, state.reason
            self._alert(
                QuoteStreamDown(
                    occurred_at=self._clock.now(),
                    broker=self._broker,
                    reason=state.reason,
                    poll_interval_s=self._poll_interval_s,
                )
            )


__all__ = ["QuoteWatch", "ReactingDay"]
