"""Injected time.

Nothing in skimd's logic calls ``datetime.now``, ``time.time`` or ``asyncio.sleep``
directly: it asks a :class:`Clock`. Production uses :class:`SystemClock`; tests and the
demo day use :class:`SimulatedClock`, whose time moves only when it is advanced, so hours
of a trading day replay in seconds and every test is deterministic.

Contract shared by both clocks:

- ``now()`` is timezone-aware UTC. Convert to the market zone at the edge that needs it.
- ``monotonic()`` never goes backwards; use it for pacing and deadlines.
- ``sleep(seconds)`` suspends the caller for that much clock time.
- ``call_later(delay, cb)`` runs ``cb`` (a plain callable) once after ``delay`` clock
  seconds, on the event loop, and returns a handle whose ``cancel()`` prevents it.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

import structlog

log = structlog.get_logger("skimd.clock")


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle: ...


class SystemClock:
    """Wall time and the running event loop's timers."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        return asyncio.get_running_loop().call_later(max(0.0, delay), callback)


@dataclass(order=True)
class _Timer:
    deadline: float
    seq: int
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


_THREAD_YIELD_S = 0.0002
# Loop passes ``run_until`` waits for its ``settle`` predicate before each jump.
_SETTLE_ROUNDS = 10_000


class SimulatedClock:
    """A clock that moves only when told to.

    ``advance``/``advance_to`` move time forward and fire due timers in deadline order,
    each at its own deadline (so a callback that reads ``now()`` sees the time it was due).
    ``sleep`` registers a timer and waits for it: with :meth:`run_until` driving, a sleeping
    coroutine wakes when simulated time reaches its deadline. Time never goes backwards.
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("SimulatedClock needs an aware start time")
        self._epoch = start.astimezone(UTC)
        self._offset = 0.0
        self._timers: list[_Timer] = []
        self._seq = itertools.count()

    def now(self) -> datetime:
        return self._epoch + timedelta(seconds=self._offset)

    def monotonic(self) -> float:
        return self._offset

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        handle = self.call_later(seconds, wake)
        try:
            await future
        finally:
            handle.cancel()

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        timer = _Timer(self._offset + max(0.0, delay), next(self._seq), callback)
        heapq.heappush(self._timers, timer)
        return timer

    def next_deadline(self) -> datetime | None:
        """When the earliest pending timer is due, or None when nothing is pending."""
        self._drop_cancelled()
        if not self._timers:
            return None
        return self._epoch + timedelta(seconds=self._timers[0].deadline)

    def advance(self, seconds: float) -> None:
        self.advance_to(self.now() + timedelta(seconds=seconds))

    def advance_to(self, when: datetime) -> None:
        """Move to ``when``, firing every timer due on the way at its own deadline."""
        self._advance_offset((when.astimezone(UTC) - self._epoch).total_seconds())

    def _advance_offset(self, target: float) -> None:
        while True:
            self._drop_cancelled()
            if not self._timers or self._timers[0].deadline > target:
                break
            timer = heapq.heappop(self._timers)
            self._offset = max(self._offset, timer.deadline)
            timer.callback()
        self._offset = max(self._offset, target)

    async def run_until(
        self,
        when: datetime,
        settle: Callable[[], bool] | None = None,
        pace: float | None = None,
    ) -> None:
        """Drive the event loop and the clock together until ``when``.

        Between timers the loop runs until it is quiet (``settle`` returns True, or a few
        empty loop passes when no ``settle`` is given), so work started by one timer
        finishes before time jumps to the next one. ``pace`` (optional) slows the jump to
        ``pace`` simulated seconds per real second.

        ``settle`` must be able to become True while the clock stands still ("nothing is
        running", not "the 10:00 job has started"): it is polled before every jump, and a
        predicate that only a later timer can satisfy is polled for the whole settle budget
        (:data:`_SETTLE_ROUNDS` loop passes, about ten real seconds) before time moves on
        anyway, with a warning in the log.
        """
        # Offsets are compared as floats: a datetime keeps only microseconds, and a deadline
        # rounded down would never count as reached.
        target = (when.astimezone(UTC) - self._epoch).total_seconds()
        while True:
            await self._settle(settle)
            self._drop_cancelled()
            if not self._timers or self._timers[0].deadline > target:
                break
            deadline = self._timers[0].deadline
            if pace:
                # ``pace`` simulated seconds per real second (the demo's --speed): the
                # driver waits in real time; the simulated clock itself never sleeps.
                await asyncio.sleep(max(0.0, deadline - self._offset) / pace)
            self._advance_offset(deadline)
        self._advance_offset(target)
        await self._settle(settle)

    async def _settle(self, settle: Callable[[], bool] | None) -> None:
        for attempt in range(_SETTLE_ROUNDS):
            for _ in range(5):
                await asyncio.sleep(0)
            if settle is None or settle():
                return
            if attempt >= 2:
                # Work is waiting on a worker thread (asyncio.to_thread: the DB). Block in
                # the selector briefly instead of spinning, so that thread gets the GIL.
                # This paces the driver, not the simulated time. (The selector waits in
                # whole milliseconds, so each pass costs about 1 ms, not 0.2.)
                await asyncio.sleep(_THREAD_YIELD_S)
        log.warning(
            "simulated clock moves on unsettled",
            at=self.now().isoformat(),
            rounds=_SETTLE_ROUNDS,
            hint="the settle predicate did not hold while the clock stood still",
        )

    def _drop_cancelled(self) -> None:
        while self._timers and self._timers[0].cancelled:
            heapq.heappop(self._timers)
