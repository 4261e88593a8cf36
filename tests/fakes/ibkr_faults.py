"""Faults for the fake IBKR on a schedule, and the transport that injects them.

A :class:`FaultSchedule` is a list of :class:`Fault` s, each due at an instant of the
simulated clock. :class:`FaultyTransport` (an ``httpx`` async transport over a
:class:`~tests.fakes.ibkr_server.FakeIbkr`) applies every fault that has come due before it
hands a request to the fake, lets a :class:`~tests.fakes.ibkr_market.FakeIbkrMarket` bring
prices and fills to that instant, and counts what the client met (statuses, 429s, calls).
A fault due while nobody calls takes effect at the next request, as it would for a client
that only finds out when it asks.

What each kind does, and the IBKR behaviour it stands for:

- ``nightly_reset``: the brokerage session ends (``authenticated: false``) and must be
  opened again with ``/iserver/auth/ssodh/init``. IBKR resets its servers once a day ("You
  are very likely to lose connectivity to our servers at least once a day due to our daily
  server maintenance", https://interactivebrokers.github.io/tws-api/message_codes.html).
- ``lst_expiry``: the live session token is forgotten before its 24 h are up, so the next
  signed call gets a 401 and the client derives a new one (IBKR's LST lives about 24 h:
  https://www.interactivebrokers.com/campus/ibkr-api-page/oauth-1-0a-extended/). Whether a
  new LST drops the brokerage session is the fake's own behaviour (``FakeIbkr``), not this
  schedule's.
- ``competing``: another login (TWS, the mobile app) takes the one brokerage session per
  username and keeps it for ``seconds``: ``ssodh/init`` cannot win it back until then.
- ``server_errors``: the next ``count`` calls under ``prefix`` answer ``status`` (5xx).
- ``slow``: the next ``count`` calls take ``seconds`` of (simulated) time to answer.
- ``dropped_order``: the next order IBKR accepts loses its answer on the way back (the
  client sees a timeout; the order works at IBKR).
- ``ws_drop``: the network cuts every websocket (no close frame) and new websocket
  handshakes fail (503) for ``seconds`` (:meth:`~tests.fakes.ibkr_ws.FakeIbkrWs.drop`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import httpx

from skimd.clock import SimulatedClock
from tests.fakes.ibkr_market import FakeIbkrMarket
from tests.fakes.ibkr_server import BASE_PATH, FakeIbkr

LST_PATH = "/oauth/live_session_token"
INIT_PATH = "/iserver/auth/ssodh/init"


class FaultKind(StrEnum):
    NIGHTLY_RESET = "nightly_reset"
    LST_EXPIRY = "lst_expiry"
    COMPETING = "competing"
    SERVER_ERRORS = "server_errors"
    SLOW = "slow"
    DROPPED_ORDER = "dropped_order"
    WS_DROP = "ws_drop"


@dataclass(frozen=True)
class Fault:
    at: datetime
    kind: FaultKind
    seconds: float = 0.0  # competing: how long the other login holds; slow: the delay;
    # ws_drop: how long new websocket handshakes are refused
    count: int = 0  # server_errors / slow: how many calls
    prefix: str = "/iserver"  # server_errors: which calls
    status: int = 503  # server_errors: the answer


@dataclass(frozen=True)
class Seen:
    """One call as the client met it."""

    at: datetime
    method: str
    path: str  # relative to the API base (``/iserver/accounts``)
    status: int  # 0: the answer was lost (timeout)


@dataclass
class FaultSchedule:
    """Faults not yet due, in time order; :attr:`injected` those applied (with when)."""

    faults: list[Fault]
    injected: list[tuple[datetime, Fault]] = field(default_factory=list)
    _release_at: datetime | None = None
    _slow: list[tuple[float, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.faults = sorted(self.faults, key=lambda f: f.at)

    def apply_due(self, fake: FakeIbkr, now: datetime) -> None:
        if self._release_at is not None and now >= self._release_at:
            fake.other_login_holds = False  # the other login went away
            self._release_at = None
        while self.faults and self.faults[0].at <= now:
            fault = self.faults.pop(0)
            self._apply(fake, fault, now)
            self.injected.append((now, fault))

    def _apply(self, fake: FakeIbkr, fault: Fault, now: datetime) -> None:
        if fault.kind is FaultKind.NIGHTLY_RESET:
            fake.nightly_reset()
        elif fault.kind is FaultKind.LST_EXPIRY:
            fake.expire_lst()
        elif fault.kind is FaultKind.COMPETING:
            fake.take_session()
            fake.other_login_holds = True
            release = fault.at.timestamp() + fault.seconds
            self._release_at = datetime.fromtimestamp(release, now.tzinfo)
        elif fault.kind is FaultKind.SERVER_ERRORS:
            fake.fail(fault.prefix, fault.status, times=fault.count)
        elif fault.kind is FaultKind.SLOW:
            self._slow.append((fault.seconds, fault.count))
        elif fault.kind is FaultKind.DROPPED_ORDER:
            fake.timeout_after_accept = True
        elif fault.kind is FaultKind.WS_DROP:
            fake.ws.drop(refuse_s=fault.seconds)

    def delay(self) -> float:
        """The delay of the next call (0 unless a ``slow`` fault is using up its count)."""
        if not self._slow:
            return 0.0
        seconds, left = self._slow[0]
        if left <= 1:
            self._slow.pop(0)
        else:
            self._slow[0] = (seconds, left - 1)
        return seconds

    def injected_between(self, start: datetime, end: datetime) -> Counter[str]:
        return Counter(f.kind.value for at, f in self.injected if start <= at < end)


class FaultyTransport(httpx.AsyncBaseTransport):
    """``fake`` behind the schedule's faults and the market's prices; records :attr:`seen`."""

    def __init__(
        self,
        fake: FakeIbkr,
        market: FakeIbkrMarket,
        schedule: FaultSchedule,
        clock: SimulatedClock,
    ) -> None:
        self.fake = fake
        self.market = market
        self.schedule = schedule
        self.clock = clock
        self.seen: list[Seen] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.schedule.apply_due(self.fake, self.clock.now())
        delay = self.schedule.delay()
        if delay > 0:
            await self.clock.sleep(delay)
            self.schedule.apply_due(self.fake, self.clock.now())
        await request.aread()
        self.market.before(request)
        path = request.url.path.removeprefix(BASE_PATH)
        try:
            response = self.fake.handle(request)
        except httpx.TimeoutException:
            self.seen.append(Seen(self.clock.now(), request.method, path, 0))
            raise
        self.seen.append(Seen(self.clock.now(), request.method, path, response.status_code))
        return response

    # -- figures ---------------------------------------------------------------------------

    def between(self, start: datetime, end: datetime) -> Sequence[Seen]:
        return [s for s in self.seen if start <= s.at < end]


__all__ = [
    "INIT_PATH",
    "LST_PATH",
    "Fault",
    "FaultKind",
    "FaultSchedule",
    "FaultyTransport",
    "Seen",
]
