"""The outbox's back-off runs on the wall clock it is given, not on the daemon's clock.

The demo runs the daemon on a simulated clock that jumps hours in a second; a back-off
timed on that clock would retry a failing webhook in a burst. Here both clocks are
simulated and moved by hand, so which one the sender waits on is visible.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from skimd.clock import SimulatedClock
from skimd.domain.alerts import Alert, OrderFilled
from skimd.errors import NotificationDeliveryError, NotifierDisabledError, NotifierRetryAfter
from skimd.services.alerts import OutboxSender, enqueue
from tests.fakes.notifiers import RecordingNotifier, SleepAdvancesClock
from tests.fakes.outbox_store import InMemoryOutbox

T0 = datetime(2026, 11, 23, 22, 30, tzinfo=UTC)


def fill(clock: SimulatedClock, n: int) -> OrderFilled:
    return OrderFilled(
        occurred_at=clock.now(),
        symbol="VPL",
        side="BUY",
        quantity=n,
        client_order_id=f"c-{n}",
        price=Decimal("2.85"),
    )


class FailsFirst(RecordingNotifier):
    """Raises ``failure`` on the first ``times`` attempts, then delivers."""

    def __init__(self, name: str, failure: Exception, times: int = 1) -> None:
        super().__init__(name)
        self._first = failure
        self._times = times

    async def send(self, alert: Alert) -> None:
        self.failure = self._first if self.attempts < self._times else None
        await super().send(alert)


def queued(outbox: InMemoryOutbox, clock: SimulatedClock, count: int) -> None:
    with outbox.unit_of_work() as uow:
        for n in range(1, count + 1):
            enqueue(uow, fill(clock, n))


async def test_simulated_hours_do_not_retry_a_backing_off_webhook() -> None:
    day, wall = SimulatedClock(T0), SimulatedClock(T0)
    outbox = InMemoryOutbox()
    discord = FailsFirst("discord", NotificationDeliveryError("HTTP 502"))
    sender = OutboxSender(outbox, [discord], clock=day, wall_clock=wall, backoff_initial_s=2)
    queued(outbox, day, 2)
    await sender.run_once()
    assert discord.attempts == 1 and sender.status()["discord"]["retry_in_s"] == 2

    await day.run_until(T0 + timedelta(hours=3))  # the daemon's day moves on
    await sender.run_once()
    assert discord.attempts == 1  # the back-off is not over: no request
    assert sender.status()["discord"]["retry_in_s"] == 2

    await wall.run_until(T0 + timedelta(seconds=2))  # 2 real seconds: the timer wakes it
    await sender.wait_idle()
    assert [a.quantity for a in discord.received] == [1, 2]  # type: ignore[attr-defined]
    assert await outbox.pending_count() == 0
    await sender.aclose()


async def test_without_a_wall_clock_the_back_off_uses_the_daemons_clock() -> None:
    day = SimulatedClock(T0)
    outbox = InMemoryOutbox()
    discord = FailsFirst("discord", NotificationDeliveryError("HTTP 502"))
    sender = OutboxSender(outbox, [discord], clock=day, backoff_initial_s=2)
    queued(outbox, day, 1)
    await sender.run_once()
    day.advance(2)
    await sender.run_once()
    assert len(discord.received) == 1


async def test_flush_waits_out_retry_after_on_the_wall_clock_and_keeps_order() -> None:
    day, wall = SimulatedClock(T0), SleepAdvancesClock(T0)
    outbox = InMemoryOutbox()
    discord = FailsFirst("discord", NotifierRetryAfter("429", retry_after=7.5), times=2)
    sender = OutboxSender(
        outbox, [discord], clock=day, wall_clock=wall, backoff_initial_s=1, backoff_max_s=60
    )
    queued(outbox, day, 3)
    await sender.run_once()
    assert await sender.flush(120)
    assert wall.sleeps == [7.5, 7.5]  # what the server asked, twice; nothing sooner
    assert day.now() == T0  # the daemon's clock never moved
    assert [a.quantity for a in discord.received] == [1, 2, 3]  # type: ignore[attr-defined]
    assert await outbox.pending_count() == 0
    await sender.aclose()


async def test_flush_gives_up_at_its_deadline_and_rows_stay() -> None:
    day, wall = SimulatedClock(T0), SleepAdvancesClock(T0)
    outbox = InMemoryOutbox()
    discord = RecordingNotifier("discord")
    discord.failure = NotificationDeliveryError("HTTP 503")
    sender = OutboxSender(
        outbox, [discord], clock=day, wall_clock=wall, backoff_initial_s=2, backoff_max_s=8
    )
    queued(outbox, day, 1)
    assert not await sender.flush(20)
    assert sum(wall.sleeps) == 20  # waited up to the deadline, no further
    assert discord.attempts == 4  # at 0, 2, 6 and 14 s: the back-off, not a burst
    assert await outbox.pending_count() == 1
    await sender.aclose()


async def test_flush_does_not_wait_for_a_disabled_webhook() -> None:
    day, wall = SimulatedClock(T0), SleepAdvancesClock(T0)
    outbox = InMemoryOutbox()
    console, discord = RecordingNotifier("console"), RecordingNotifier("discord")
    discord.failure = NotifierDisabledError("discord webhook discord is disabled (HTTP 404)")
    sender = OutboxSender(outbox, [console, discord], clock=day, wall_clock=wall)
    queued(outbox, day, 2)
    assert await sender.flush(120)
    assert wall.sleeps == [] and len(console.received) == 2
    assert await outbox.pending_count() == 2  # kept for a restart with a working webhook
    await sender.aclose()
