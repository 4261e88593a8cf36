"""Pushed quotes: the streaming side of market data, beside the polled
:meth:`~skimd.services.ports.broker.MarketData.snapshots`.

A broker that can push quotes (IBKR's websocket ``/ws``, the demo market's ticks on the
simulated clock) also implements :class:`StreamingBroker`; a broker that cannot (and every
test fake that does not care) simply does not, and the watch polls as before. Polling stays
the fallback whenever the stream is down.

Contract of :class:`QuoteStream` (every implementation; the contract suite checks it):

- **Subscriptions are a set the stream owns.** :meth:`QuoteStream.follow` makes the
  subscribed set exactly ``conids``: new ones are subscribed, dropped ones unsubscribed.
  The stream re-subscribes the whole set by itself after a reconnect or a new brokerage
  session; callers never replay subscriptions. More conids than :attr:`QuoteStream.line_limit`
  (market-data lines) → :class:`~skimd.errors.InvalidInputError` naming the count and the
  limit, and the set is left unchanged.
- **Conflation.** :meth:`QuoteStream.next_quotes` returns the LATEST full quote of every
  subscribed conid that changed since the previous call, at most one per conid, in no
  particular order. A burst of ticks between two calls costs one quote per conid, never a
  queue. Quotes are whole :class:`~skimd.domain.market.Quote` values (IBKR's field deltas are
  merged into the last known quote inside the adapter), ``at`` aware UTC.
- **Down is a state, not an exception.** When the stream is down (never connected,
  disconnected, session gone, heartbeat missed), :meth:`QuoteStream.next_quotes` returns an
  empty list promptly and :attr:`QuoteStream.state` says why; the implementation reconnects
  by itself with back-off (time from the injected Clock). Transitions are reported through
  the ``on_state`` callback given at construction (one call per transition, never per
  retry), so the daemon can alert once when it falls back to polling and once when the
  stream is back.
- :meth:`QuoteStream.start` / :meth:`QuoteStream.stop` are idempotent; after ``stop`` no
  callback fires and ``next_quotes`` returns ``[]`` at once.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from skimd.domain.market import Quote


@dataclass(frozen=True, slots=True)
class StreamState:
    """Whether pushed quotes flow, since when, and why not when they do not."""

    up: bool
    since: datetime
    reason: str = ""


class QuoteStream(Protocol):
    @property
    def line_limit(self) -> int:
        """How many conids may be subscribed at once (IBKR's market-data lines)."""

    @property
    def state(self) -> StreamState: ...

    async def start(self) -> None:
        """Connect (or begin trying to, with back-off); returns without waiting for a tick."""

    async def stop(self) -> None:
        """Unsubscribe everything and close the connection."""

    async def follow(self, conids: Collection[int]) -> None:
        """Make the subscribed set exactly ``conids`` (see the module contract)."""

    async def next_quotes(self, timeout_s: float) -> list[Quote]:
        """Wait up to ``timeout_s`` (on the injected Clock's time) for at least one changed
        subscribed quote; return the conflated latest quotes, or ``[]`` on timeout or while
        the stream is down."""


@runtime_checkable
class StreamingBroker(Protocol):
    """A broker that can also push quotes; each call builds a new, unstarted stream bound
    to the broker's session and clock."""

    def quote_stream(self, on_state: StreamStateListener | None = None) -> QuoteStream: ...


class StreamStateListener(Protocol):
    def __call__(self, state: StreamState) -> None: ...


__all__ = [
    "QuoteStream",
    "StreamState",
    "StreamStateListener",
    "StreamingBroker",
]
