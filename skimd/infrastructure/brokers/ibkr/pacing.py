"""Request pacing for IBKR, driven by the injected Clock.

Each endpoint class has a :class:`Pacer` enforcing "at most ``limit`` calls in any
``period_s`` window" two ways at once: calls are spaced ``period_s / limit`` apart (a token
bucket of capacity ``burst``, default 1, so IBKR never sees a burst it might count
differently) and a sliding window of the last ``limit`` call times guarantees the window
rule exactly even with float rounding. A 429 puts a class in the penalty box: while it
lasts, :meth:`Pacer.acquire` raises RateLimitedError instead of waiting.

Some endpoints are limited by concurrency rather than rate (IBKR's market data history:
at most 5 requests in flight). A :class:`RateLimit` with ``concurrent`` gives its pacer
:meth:`Pacer.slot`, held for the whole request so a sixth waits for one to finish.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass

from skimd.clock import Clock
from skimd.errors import RateLimitedError

_MIN_SLEEP = 1e-6  # a positive wait always moves the clock (float-safe progress)
_TOKEN_SLACK = 1e-9


@dataclass(frozen=True, slots=True)
class RateLimit:
    limit: int
    period_s: float
    burst: int = 1
    concurrent: int | None = None  # requests in flight at once (None: no cap)

    @property
    def spacing_s(self) -> float:
        return self.period_s / self.limit


# IBKR's documented limits (Client Portal Web API, OAuth: 50/s global per user).
IBKR_LIMITS: dict[str, RateLimit] = {
    "global": RateLimit(50, 1.0, burst=10),
    "snapshot": RateLimit(10, 1.0),
    "scanner": RateLimit(1, 1.0),
    "orders": RateLimit(1, 5.0),
    "trades": RateLimit(1, 5.0),
    "accounts": RateLimit(1, 5.0),
    "tickle": RateLimit(1, 1.0),
    # history: IBKR documents no rate of its own (the global one applies) but at most 5
    # concurrent requests; a 429 on it then pauses history only, not every call
    "history": RateLimit(50, 1.0, burst=10, concurrent=5),
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


def endpoint_class(path: str) -> str | None:
    """The pacing class of an API path (relative to the base URL), or None (global only)."""
    return _CLASS_BY_PATH.get("/" + path.strip("/"))


def pacing_floor(calls: int, rate: RateLimit) -> float:
    """The least time, from the first call's start to the last call's start, that ``calls``
    calls take through a fresh :class:`Pacer` with ``rate`` (pure simulation)."""
    pacer = _State(rate)
    now = 0.0
    for _ in range(calls):
        now += pacer.wait(now)
        while (extra := pacer.wait(now)) > 0:
            now += extra
        pacer.take(now)
    return now


class _State:
    """Bucket + window bookkeeping, free of asyncio so it can be simulated."""

    def __init__(self, rate: RateLimit) -> None:
        self.rate = rate
        self.tokens = float(rate.burst)
        self.stamp: float | None = None
        self.window: deque[float] = deque(maxlen=rate.limit)

    def _refill(self, now: float) -> float:
        if self.stamp is None:
            return self.tokens
        per_s = self.rate.limit / self.rate.period_s
        return min(float(self.rate.burst), self.tokens + (now - self.stamp) * per_s)

    def available(self, now: float) -> float:
        return self._refill(now)

    def wait(self, now: float) -> float:
        """Seconds until a call may start (0 when it may start now)."""
        tokens = self._refill(now)
        per_s = self.rate.limit / self.rate.period_s
        bucket_wait = 0.0 if tokens >= 1 - _TOKEN_SLACK else (1 - tokens) / per_s
        window_wait = 0.0
        if len(self.window) == self.rate.limit:
            earliest = self.window[0] + self.rate.period_s
            if now < earliest:
                window_wait = earliest - now
        wait = max(bucket_wait, window_wait)
        return 0.0 if wait <= 0 else max(wait, _MIN_SLEEP)

    def take(self, now: float) -> None:
        self.tokens = max(0.0, self._refill(now) - 1)
        self.stamp = now
        self.window.append(now)


class Pacer:
    """One endpoint class: waits (on the Clock) for its turn, or refuses during a penalty."""

    def __init__(self, name: str, rate: RateLimit, clock: Clock) -> None:
        self.name = name
        self.rate = rate
        self._clock = clock
        self._state = _State(rate)
        self._lock = asyncio.Lock()
        self._penalty_until: float | None = None
        self._slots = asyncio.Semaphore(rate.concurrent) if rate.concurrent else None
        self._in_flight = 0

    @property
    def penalty_remaining(self) -> float:
        if self._penalty_until is None:
            return 0.0
        return max(0.0, self._penalty_until - self._clock.monotonic())

    def penalize(self, seconds: float) -> None:
        self._penalty_until = self._clock.monotonic() + seconds

    def check_penalty(self) -> None:
        remaining = self.penalty_remaining
        if remaining > 0:
            raise RateLimitedError(
                f"IBKR {self.name} requests paused after HTTP 429 "
                f"({remaining:.0f} s of the penalty left)",
                retry_after=remaining,
            )

    def tokens(self) -> float:
        """Calls that could start right now without waiting (0 during a penalty)."""
        if self.penalty_remaining > 0:
            return 0.0
        now = self._clock.monotonic()
        bucket = self._state.available(now)
        in_window = sum(1 for t in self._state.window if t + self.rate.period_s > now)
        free = float(self.rate.limit - in_window)
        if self.rate.concurrent is not None:
            free = min(free, float(self.rate.concurrent - self._in_flight))
        return max(0.0, min(bucket, free))

    @property
    def in_flight(self) -> int:
        """Requests currently holding a :meth:`slot`."""
        return self._in_flight

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the class's concurrent-request slots for the block (waits for a free
        one; a no-op without a ``concurrent`` cap). Take it before :meth:`acquire`, so a
        paced start is never spent while waiting for a slot."""
        if self._slots is None:
            yield
            return
        async with self._slots:
            self._in_flight += 1
            try:
                yield
            finally:
                self._in_flight -= 1

    async def acquire(self) -> None:
        """Wait for this class's turn; RateLimitedError while penalised."""
        async with self._lock:
            while True:
                self.check_penalty()
                now = self._clock.monotonic()
                wait = self._state.wait(now)
                if wait <= 0:
                    self._state.take(now)
                    return
                await self._clock.sleep(wait)
