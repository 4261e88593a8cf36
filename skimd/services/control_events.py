"""What ``skimd tail`` streams: an in-process publish/subscribe of the daemon's events.

The daemon publishes every alert it stores (``kind`` "alert") and every finished or failed
run of a trading job (``kind`` "job") as a JSON-able dict. Publishing with nobody
subscribed costs a dict lookup, so the daemon behaves the same whether anyone tails it or
not. Each subscriber has a bounded queue: one that falls that far behind is closed with a
last "overflow" event rather than letting the daemon's memory grow.

Events are plain dicts because they leave the process as JSON lines; their keys:

- alert: ``at`` (ISO time), ``severity``, ``alert`` (its kind), ``text`` (one line)
- job: ``at``, ``job`` (its id), ``outcome`` (ok / error / skipped / failed / missed /
  overrun ...), ``message``
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import datetime
from typing import Any

from skimd.clock import Clock
from skimd.services.jobs import JobResult
from skimd.services.supervisor import SupervisorHooks

Event = dict[str, Any]
QUEUE_LIMIT = 1000


def matches(event: Event, kind: str | None) -> bool:
    """``kind`` keeps events of that kind ("alert", "job"), alerts of that alert kind
    (``order_filled``) or runs of that job (``sync``); None keeps everything."""
    if kind is None:
        return True
    return kind in (event.get("kind"), event.get("alert"), event.get("job"))


class Subscription:
    """One subscriber's events, in order, until :meth:`close` (a :class:`Stream`)."""

    def __init__(self, bus: EventBus, kind: str | None, limit: int) -> None:
        self._bus = bus
        self.kind = kind
        self._limit = limit
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self._closed = False

    def offer(self, event: Event) -> None:
        if self._closed or not matches(event, self.kind):
            return
        if self._queue.qsize() >= self._limit:
            self._queue.put_nowait({"kind": "overflow", "message": "too far behind; closed"})
            self._end()
            return
        self._queue.put_nowait(event)

    def close(self) -> None:
        self._end()

    def _end(self) -> None:
        if not self._closed:
            self._closed = True
            self._bus.unsubscribe(self)
            self._queue.put_nowait(None)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._events()

    async def _events(self) -> AsyncIterator[Event]:
        while True:
            event = await self._queue.get()
            if event is None:
                return
            yield event


class EventBus:
    def __init__(self, queue_limit: int = QUEUE_LIMIT) -> None:
        """``queue_limit``: events a subscriber may fall behind before it is closed."""
        self._limit = queue_limit
        self._subscribers: list[Subscription] = []
        self._on_first: list[Callable[[], None]] = []

    @property
    def active(self) -> bool:
        """Whether anyone is listening (publishers may skip the work of an event)."""
        return bool(self._subscribers)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def on_first_subscriber(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` whenever the bus goes from no subscriber to one (the alert
        feed marks where "new" starts)."""
        self._on_first.append(callback)

    def subscribe(self, kind: str | None = None) -> Subscription:
        if not self._subscribers:
            for callback in self._on_first:
                callback()
        sub = Subscription(self, kind, self._limit)
        self._subscribers.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subscribers:
            self._subscribers.remove(sub)

    def publish(self, event: Event) -> None:
        for sub in list(self._subscribers):
            sub.offer(event)

    def close(self) -> None:
        """End every subscription (the daemon is stopping)."""
        for sub in list(self._subscribers):
            sub.close()


class PublishingHooks:
    """Supervisor hooks that publish trading jobs' runs to the bus, then do what ``inner``
    does. Plumbing jobs (outbox, watchdog ...) are not published: ``shown`` names the jobs
    that are."""

    def __init__(
        self, inner: SupervisorHooks, bus: EventBus, clock: Clock, shown: Iterable[str]
    ) -> None:
        self._inner = inner
        self._bus = bus
        self._clock = clock
        self._shown = frozenset(shown)

    def daemon_started(self, jobs: list[str]) -> None:
        self._inner.daemon_started(jobs)

    def daemon_stopping(self, reason: str) -> None:
        self._inner.daemon_stopping(reason)

    def job_finished(self, result: JobResult) -> None:
        self._publish(result.job_id, result.outcome, result.message, result.finished_at)
        self._inner.job_finished(result)

    def job_problem(
        self,
        kind: str,
        job_id: str,
        detail: str,
        *,
        scheduled_at: datetime | None = None,
        known_cause: str | None = None,
    ) -> None:
        self._publish(job_id, kind, detail, None)
        self._inner.job_problem(
            kind, job_id, detail, scheduled_at=scheduled_at, known_cause=known_cause
        )

    def _publish(self, job_id: str, outcome: str, message: str, at: datetime | None) -> None:
        if not self._bus.active or job_id not in self._shown:
            return
        when = at or self._clock.now()
        self._bus.publish(
            {
                "kind": "job",
                "at": when.isoformat(),
                "job": job_id,
                "outcome": outcome,
                "message": message,
            }
        )
