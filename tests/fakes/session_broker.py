"""The demo broker with a brokerage session that drops, is taken by another login and comes
back, told through its :class:`~skimd.services.ports.broker.BrokerEvents` the way the
contract says a broker does (IBKR's adapter): ``session_lost(reason, retry_at)`` /
``session_competing(retry_at)`` when it goes, ``session_restored()`` once when it is back.
``silent=True`` does the same without a word (an adapter that only raises, as IBKR's did
for a "no bridge" answer): the daemon must notice from the errors and its own status check.

While the session is down every data and order call raises
:class:`~skimd.errors.BrokerSessionError` (the demo broker's own check) and is counted in
:attr:`calls_while_down`, so a test can prove the daemon stopped calling.

:class:`ForwardingEvents` lets the broker be built before what receives its events (the
daemon's events are built by the App the broker is given to).
"""

from __future__ import annotations

from datetime import datetime

from skimd.clock import Clock
from skimd.infrastructure.brokers.demo.broker import DemoBroker
from skimd.infrastructure.brokers.demo.market import DemoMarket
from skimd.infrastructure.brokers.events import NullBrokerEvents
from skimd.infrastructure.brokers.identifier_cache import InMemoryIdentifierCache
from skimd.services.ports.broker import BrokerEvents


class ForwardingEvents:
    """BrokerEvents passed on to :attr:`target` (dropped until it is set)."""

    def __init__(self) -> None:
        self.target: BrokerEvents = NullBrokerEvents()

    def session_lost(self, reason: str, retry_at: datetime | None = None) -> None:
        self.target.session_lost(reason, retry_at)

    def session_competing(self, retry_at: datetime | None = None) -> None:
        self.target.session_competing(retry_at)

    def session_restored(self) -> None:
        self.target.session_restored()

    def session_renewed(self, expires_at: datetime | None) -> None:
        self.target.session_renewed(expires_at)

    def rate_limited(self, endpoint_class: str, until: datetime) -> None:
        self.target.rate_limited(endpoint_class, until)


class SessionBroker(DemoBroker):
    def __init__(self, market: DemoMarket, clock: Clock, events: BrokerEvents) -> None:
        super().__init__(
            market, clock, events=events, identifier_cache=InMemoryIdentifierCache()
        )
        self._say = events
        self._clock_ = clock
        self._down = False
        self.calls_while_down: list[datetime] = []

    def drop(self, reason: str, retry_at: datetime | None = None, *, silent: bool = False) -> None:
        """The session is gone (IBKR: a new live session token, the nightly reset)."""
        self._down = True
        self._authenticated = False
        self._message = reason
        if not silent:
            self._say.session_lost(reason, retry_at)

    def take(self, retry_at: datetime | None = None) -> None:
        """Another login takes the session (and keeps it until :meth:`restore`); each call
        is another report of it, with the adapter's next retry time."""
        self._down = True
        self._authenticated = False
        self._competing = True
        self._message = "another login is competing for the session"
        self._say.session_competing(retry_at)

    def restore(self, *, silent: bool = False) -> None:
        self._down = False
        self._authenticated = True
        self._competing = False
        self._message = "demo session authenticated"
        if not silent:
            self._say.session_restored()

    def _ready(self) -> None:
        if self._down:
            self.calls_while_down.append(self._clock_.now())
        super()._ready()
