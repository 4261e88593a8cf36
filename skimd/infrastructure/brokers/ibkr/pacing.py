"""Request pacing for IBKR: a turn per request, taken the moment it is sent, with margin.

IBKR's limits (https://www.interactivebrokers.com/campus/ibkr-api-page/web-api-trading/
#pacing-limitations, "Pacing Limitations"): 50 requests/s globally per authenticated
username (Web API session), a table of per-endpoint limits, and "5 concurrent requests" for
``/iserver/marketdata/history``; over a limit IBKR answers 429 and may put the caller in a
penalty box for 10 minutes. They count per user, so :class:`Pacing` keeps its state in a
:class:`~.pacing_ledger.PacingLedger` that every skimd process of the account shares.

How a request gets its turn (:meth:`Pacing.send_turn`, called by the transport side right
after the request is signed and right before it goes out, never earlier):

- its classes are its endpoint class (if any) and ``global``;
- a class of ``limit`` calls per ``period_s`` lets a call go once the ``limit``-th latest
  send of that class (by any process) is at least ``period_s`` + *margin* old; the margin
  is :data:`MARGIN_FRACTION` of the period plus the measured request latency (a running
  estimate that rises at once and decays slowly; at most one period), because IBKR stamps
  *arrivals*: two sends a period apart can arrive closer than that when the first
  travelled longer;
- calls are also spread: at most ``burst`` in any ``burst * period_s / limit`` (a
  1-per-5-s class: one in 5 s; snapshots: one per 0.1 s; global: 10 in 0.2 s);
- the turn is stamped into the ledger in the same locked step that grants it;
- a class in the penalty box (any process saw its 429) refuses with RateLimitedError
  until the box ends, without reaching IBKR; the box is in the ledger, so it outlives a
  restart and holds for every process.

Concurrency caps (history's 5 in flight) are per process (:meth:`Pacer.slot`): only the
daemon asks for history, so no other process competes for those slots.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from skimd.clock import Clock
from skimd.errors import RateLimitedError
from skimd.infrastructure.brokers.ibkr.pacing_ledger import (
    ClassRecord,
    LedgerState,
    MemoryLedger,
    PacingLedger,
)

MARGIN_FRACTION = 0.05  # of each class's period, on top of the measured latency
_MIN_SLEEP = 1e-6  # a positive wait always moves the clock (float-safe progress)
_LATENCY_DECAY = 0.2  # a lower latency sample moves the estimate this far towards it
# No penalty box is longer than this (IBKR's is 10 minutes); a longer one in the ledger was
# written by a clock that has since been set back, and is cut to this.
MAX_PENALTY_S = 3600.0


@dataclass(frozen=True, slots=True)
class RateLimit:
    limit: int
    period_s: float
    burst: int = 1
    concurrent: int | None = None  # requests in flight at once (None: no cap)

    @property
    def spacing_s(self) -> float:
        return self.period_s / self.limit


# IBKR's documented limits; source for every row:
# https://www.interactivebrokers.com/campus/ibkr-api-page/web-api-trading/#pacing-limitations
IBKR_LIMITS: dict[str, RateLimit] = {
    # "a global request rate limit of 50 requests per second for each authenticated
    # username"; spread as at most 10 in any 0.2 s
    "global": RateLimit(50, 1.0, burst=10),
    "snapshot": RateLimit(10, 1.0),  # GET /iserver/marketdata/snapshot: 10 req/s
    "scanner": RateLimit(1, 1.0),  # POST /iserver/scanner/run: 1 req/sec
    "orders": RateLimit(1, 5.0),  # GET /iserver/account/orders ("/iserver/orders"): 1 req/5 secs
    "trades": RateLimit(1, 5.0),  # GET /iserver/account/trades ("/iserver/trades"): 1 req/5 secs
    "accounts": RateLimit(1, 5.0),  # GET /portfolio/accounts: 1 req/5 secs
    "tickle": RateLimit(1, 1.0),  # /tickle: 1 req/sec
    # GET /iserver/marketdata/history: "5 concurrent requests" (Additional Usage Limits); no
    # rate of its own, so the global one. A class of its own so a 429 there pauses history
    # only, not every call.
    "history": RateLimit(50, 1.0, burst=10, concurrent=5),
    # GET /iserver/account/order/status/{orderId}: not in IBKR's table (the global rate
    # applies); its own class for the same reason as history.
    "order_status": RateLimit(50, 1.0, burst=10),
}

_CLASS_BY_PATH: dict[str, str] = {
    "/iserver/marketdata/snapshot": "snapshot",
    "/iserver/marketdata/history": "history",
    "/iserver/scanner/run": "scanner",
    "/iserver/account/orders": "orders",
    "/iserver/account/trades": "trades",
    "/portfolio/accounts": "accounts",
    "/tickle": "tickle",
}
_CLASS_BY_PREFIX: dict[str, str] = {
    "/iserver/account/order/status/": "order_status",
}


def endpoint_class(path: str) -> str | None:
    """The pacing class of an API path (relative to the base URL), or None (global only)."""
    path = "/" + path.strip("/")
    if path in _CLASS_BY_PATH:
        return _CLASS_BY_PATH[path]
    for prefix, name in _CLASS_BY_PREFIX.items():
        if path.startswith(prefix):
            return name
    return None


def earliest_send(record: ClassRecord, rate: RateLimit, margin_s: float) -> float:
    """The earliest time (the record's clock) a call of this class may be sent."""
    at = float("-inf")
    sent = record.sent
    if len(sent) >= rate.limit:
        at = sent[-rate.limit] + rate.period_s + margin_s
    if rate.burst < rate.limit and len(sent) >= rate.burst:
        at = max(at, sent[-rate.burst] + rate.burst * rate.spacing_s)
    return at


def _settle(record: ClassRecord, now: float) -> ClassRecord:
    """The record as seen at wall time ``now``: a send stamped later than ``now`` (another
    process's clock ahead of ours, or ours set back) counts as sent now, so a clock step
    delays a turn by at most one period instead of until the stamp's time comes round."""
    if any(t > now for t in record.sent):
        record.sent = [min(t, now) for t in record.sent]
    if record.penalty_until is not None and record.penalty_until > now + MAX_PENALTY_S:
        record.penalty_until = now + MAX_PENALTY_S
    return record


def _stamp(record: ClassRecord, rate: RateLimit, now: float) -> None:
    record.sent.append(now)
    del record.sent[: -max(rate.limit, rate.burst)]


def _free(record: ClassRecord, rate: RateLimit, now: float, margin_s: float) -> int:
    """Calls that could be sent at ``now`` without waiting."""
    in_window = sum(1 for t in record.sent if t + rate.period_s + margin_s > now)
    free = rate.limit - in_window
    if rate.burst < rate.limit:
        spread = rate.burst * rate.spacing_s
        free = min(free, rate.burst - sum(1 for t in record.sent if t + spread > now))
    return max(0, free)


def pacing_floor(calls: int, rate: RateLimit, margin_s: float = 0.0) -> float:
    """The least time, from the first call's send to the last call's send, that ``calls``
    calls of one class take with ``margin_s`` (pure simulation of :func:`earliest_send`)."""
    record = ClassRecord()
    now = 0.0
    for _ in range(calls):
        now = max(now, earliest_send(record, rate, margin_s))
        _stamp(record, rate, now)
    return now


class Pacer:
    """One endpoint class's in-process concurrency cap (:meth:`slot`)."""

    def __init__(self, name: str, rate: RateLimit) -> None:
        self.name = name
        self.rate = rate
        self._slots = asyncio.Semaphore(rate.concurrent) if rate.concurrent else None
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        """Requests currently holding a :meth:`slot`."""
        return self._in_flight

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the class's concurrent-request slots for the block (waits for a free
        one; a no-op without a ``concurrent`` cap)."""
        if self._slots is None:
            yield
            return
        async with self._slots:
            self._in_flight += 1
            try:
                yield
            finally:
                self._in_flight -= 1


class Pacing:
    """The account's pacing, for one process: waits on the injected Clock, decides by the
    shared ``ledger`` (default: in memory)."""

    def __init__(
        self,
        clock: Clock,
        *,
        limits: Mapping[str, RateLimit] | None = None,
        ledger: PacingLedger | None = None,
        margin_fraction: float = MARGIN_FRACTION,
    ) -> None:
        self._clock = clock
        self.limits = dict(limits or IBKR_LIMITS)
        if "global" not in self.limits:
            raise ValueError("IBKR limits need a 'global' class")
        self.ledger: PacingLedger = ledger if ledger is not None else MemoryLedger()
        self.margin_fraction = margin_fraction
        self.latency_s = 0.0
        self._pacers = {name: Pacer(name, rate) for name, rate in self.limits.items()}
        self._turns = {name: asyncio.Lock() for name in self.limits}

    def classes(self, path: str) -> tuple[str, ...]:
        """The classes a request to ``path`` counts against, its own first."""
        name = endpoint_class(path)
        return (name, "global") if name in self.limits and name != "global" else ("global",)

    def pacer(self, name: str) -> Pacer:
        return self._pacers[name]

    def margin_s(self, rate: RateLimit) -> float:
        return self.margin_fraction * rate.period_s + min(self.latency_s, rate.period_s)

    def observe_latency(self, seconds: float) -> None:
        """A request's time from send to response: raises the estimate at once, lowers it
        slowly (one quick answer does not make the next one quick)."""
        seconds = max(0.0, seconds)
        if seconds >= self.latency_s:
            self.latency_s = seconds
        else:
            self.latency_s += (seconds - self.latency_s) * _LATENCY_DECAY

    def _now(self) -> float:
        return self._clock.now().timestamp()

    def _refuse_if_penalised(self, state: LedgerState, classes: Sequence[str], now: float) -> None:
        for name in classes:
            until = _settle(state.record(name), now).penalty_until
            if until is not None and until > now:
                remaining = until - now
                raise RateLimitedError(
                    f"IBKR {name} requests paused after HTTP 429 "
                    f"({remaining:.0f} s of the penalty left)",
                    retry_after=remaining,
                )

    def check_penalty(self, classes: Sequence[str]) -> None:
        """RateLimitedError if any of ``classes`` is in the penalty box."""
        with self.ledger.transaction() as state:
            self._refuse_if_penalised(state, classes, self._now())

    async def send_turn(self, classes: Sequence[str]) -> None:
        """Wait (on the Clock) until a request of ``classes`` may be sent now, and stamp it
        sent. Call it immediately before handing the request to the transport.
        RateLimitedError while any of the classes is in the penalty box."""
        async with self._turns[classes[0]]:
            while True:
                now = self._now()
                with self.ledger.transaction() as state:
                    self._refuse_if_penalised(state, classes, now)
                    rates = [(_settle(state.record(n), now), self.limits[n]) for n in classes]
                    at = max(earliest_send(r, rate, self.margin_s(rate)) for r, rate in rates)
                    if at <= now:
                        for record, rate in rates:
                            _stamp(record, rate, now)
                        return
                await self._clock.sleep(max(at - now, 0.0) + _MIN_SLEEP)

    def penalize(self, name: str, seconds: float) -> datetime:
        """Put ``name`` in the penalty box for ``seconds`` (for every process); its end."""
        with self.ledger.transaction() as state:
            record = state.record(name)
            until = self._now() + seconds
            record.penalty_until = max(until, record.penalty_until or until)
            return datetime.fromtimestamp(record.penalty_until, UTC)

    def penalty_remaining(self, name: str) -> float:
        now = self._now()
        with self.ledger.transaction() as state:
            until = _settle(state.record(name), now).penalty_until
        return 0.0 if until is None else max(0.0, until - now)

    def budget(self) -> dict[str, str | int]:
        """Per class: the calls that could go now (account-wide), or when its penalty ends."""
        out: dict[str, str | int] = {}
        now = self._now()
        with self.ledger.transaction() as state:
            for name, rate in self.limits.items():
                record = _settle(state.record(name), now)
                if record.penalty_until is not None and record.penalty_until > now:
                    until = datetime.fromtimestamp(record.penalty_until, UTC)
                    out[name] = f"penalty until {until.isoformat(timespec='seconds')}"
                    continue
                free = _free(record, rate, now, self.margin_s(rate))
                if rate.concurrent is not None:
                    free = min(free, rate.concurrent - self._pacers[name].in_flight)
                out[name] = free
        return out
