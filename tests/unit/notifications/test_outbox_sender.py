"""OutboxSender against the in-memory outbox and recording notifiers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from skimd.clock import SimulatedClock
from skimd.domain.alerts import Alert, CandidateDigest, CandidateFound, OrderFilled
from skimd.domain.trading import CandidateSource
from skimd.errors import AlertRejectedError, NotificationDeliveryError, NotifierRetryAfter
from skimd.infrastructure.notifications.fanout import FanOutNotifier
from skimd.services.alerts import OutboxSender, enqueue
from tests.fakes.notifiers import RecordingNotifier
from tests.fakes.outbox_store import InMemoryOutbox

T0 = datetime(2024, 6, 3, 0, 0, tzinfo=UTC)


def fill(clock: SimulatedClock, n: int) -> OrderFilled:
    return OrderFilled(
        occurred_at=clock.now(),
        symbol="BHP",
        side="BUY",
        quantity=n,
        client_order_id=f"c-{n}",
        price=Decimal("45.10"),
    )


def candidate(clock: SimulatedClock, symbol: str) -> CandidateFound:
    return CandidateFound(
        occurred_at=clock.now(), symbol=symbol, source=CandidateSource.GAP, gap_pct=Decimal("4.5")
    )


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(T0)


def test_rolled_back_unit_of_work_leaves_no_alert(clock: SimulatedClock) -> None:
    outbox = InMemoryOutbox()
    with pytest.raises(RuntimeError), outbox.unit_of_work() as uow:
        enqueue(uow, fill(clock, 1))
        raise RuntimeError("the change failed")
    assert outbox.rows == {}


async def test_delivers_in_order_and_marks_done(clock: SimulatedClock) -> None:
    outbox = InMemoryOutbox()
    console = RecordingNotifier("console")
    sender = OutboxSender(outbox, [console], clock=clock)
    with outbox.unit_of_work() as uow:
        for n in range(1, 6):
            enqueue(uow, fill(clock, n))
    report = await sender.run_once()
    assert [a.quantity for a in console.received] == [1, 2, 3, 4, 5]  # type: ignore[attr-defined]
    assert report.completed == 5
    assert await outbox.pending_count() == 0


async def test_one_failing_notifier_does_not_hold_back_the_other(clock: SimulatedClock) -> None:
    outbox = InMemoryOutbox()
    console, discord = RecordingNotifier("console"), RecordingNotifier("discord")
    discord.failure = NotificationDeliveryError("discord webhook discord: HTTP 503")
    sender = OutboxSender(
        outbox,
        FanOutNotifier([console, discord]),
        clock=clock,
        backoff_initial_s=2,
        backoff_max_s=60,
    )
    with outbox.unit_of_work() as uow:
        enqueue(uow, fill(clock, 1))
        enqueue(uow, fill(clock, 2))
    report = await sender.run_once()
    assert len(console.received) == 2
    assert discord.attempts == 1  # stopped at the first failure: order is kept
    assert "discord" in report.failed
    assert await outbox.pending_count() == 2  # not complete until discord has them

    discord.failure = None
    await sender.run_once()  # still backing off: no attempt
    assert discord.attempts == 1
    clock.advance(2)
    await sender.run_once()
    assert [a.quantity for a in discord.received] == [1, 2]  # type: ignore[attr-defined]
    assert len(console.received) == 2  # no duplicate to the notifier that already had them
    assert await outbox.pending_count() == 0


async def test_backoff_doubles_up_to_the_cap_and_honours_retry_after(
    clock: SimulatedClock,
) -> None:
    outbox = InMemoryOutbox()
    discord = RecordingNotifier("discord")
    discord.failure = NotificationDeliveryError("HTTP 500")
    sender = OutboxSender(outbox, [discord], clock=clock, backoff_initial_s=2, backoff_max_s=10)
    with outbox.unit_of_work() as uow:
        enqueue(uow, fill(clock, 1))
    delays = []
    for _ in range(5):
        await sender.run_once()
        delays.append(sender.status()["discord"]["retry_in_s"])
        clock.advance(delays[-1])
    assert delays == [2, 4, 8, 10, 10]
    discord.failure = NotifierRetryAfter("429", retry_after=45)
    await sender.run_once()
    assert sender.status()["discord"]["retry_in_s"] == 45


async def test_a_flood_of_candidates_becomes_one_digest(clock: SimulatedClock) -> None:
    outbox = InMemoryOutbox()
    console = RecordingNotifier("console")
    sender = OutboxSender(outbox, [console], clock=clock, coalesce_threshold=5)
    with outbox.unit_of_work() as uow:
        enqueue(uow, fill(clock, 1))
        for i in range(50):
            enqueue(uow, candidate(clock, f"T{i:02d}"))
        enqueue(uow, fill(clock, 2))
        enqueue(uow, candidate(clock, "LONE"))
    await sender.run_once()
    kinds = [a.kind for a in console.received]
    assert kinds == ["order_filled", "candidate_digest", "order_filled", "candidate_found"]
    digest = console.received[1]
    assert isinstance(digest, CandidateDigest)
    assert [c.symbol for c in digest.candidates] == [f"T{i:02d}" for i in range(50)]
    assert await outbox.pending_count() == 0


async def test_rejected_alert_is_skipped_not_retried_forever(clock: SimulatedClock) -> None:
    outbox = InMemoryOutbox()
    discord = RecordingNotifier("discord")
    discord.failure = AlertRejectedError("HTTP 400")
    sender = OutboxSender(outbox, [discord], clock=clock)
    with outbox.unit_of_work() as uow:
        enqueue(uow, fill(clock, 1))
    await sender.run_once()
    (row,) = outbox.rows.values()
    assert row.status == "delivered" and row.attempts == 1
    assert row.last_error is not None and "rejected" in row.last_error


async def test_undecodable_row_does_not_block_the_queue(clock: SimulatedClock) -> None:
    outbox = InMemoryOutbox()
    console = RecordingNotifier("console")
    with outbox.unit_of_work() as uow:
        uow.outbox.enqueue("from_a_newer_version", {"kind": "x", "data": {}}, clock.now())
        enqueue(uow, fill(clock, 7))
    await OutboxSender(outbox, [console], clock=clock).run_once()
    assert [a.kind for a in console.received] == ["order_filled"]


async def test_wake_delivers_without_waiting_for_the_scheduler(clock: SimulatedClock) -> None:
    outbox = InMemoryOutbox()
    console = RecordingNotifier("console")
    sender = OutboxSender(outbox, [console], clock=clock)
    with outbox.unit_of_work() as uow:
        enqueue(uow, fill(clock, 3))
    sender.wake()
    await sender.wait_idle()
    assert len(console.received) == 1


async def test_retry_timer_wakes_the_sender_after_backoff(clock: SimulatedClock) -> None:
    outbox = InMemoryOutbox()
    discord = RecordingNotifier("discord")
    discord.failure = NotificationDeliveryError("down")
    sender = OutboxSender(outbox, [discord], clock=clock, backoff_initial_s=5)
    with outbox.unit_of_work() as uow:
        enqueue(uow, fill(clock, 1))
    await sender.run_once()
    discord.failure = None
    await clock.run_until(T0 + timedelta(seconds=6))  # the timer fires wake()
    await sender.wait_idle()
    assert len(discord.received) == 1
    await sender.aclose()


async def test_unexpected_exception_in_a_notifier_is_contained(clock: SimulatedClock) -> None:
    outbox = InMemoryOutbox()
    broken, console = RecordingNotifier("broken"), RecordingNotifier("console")
    broken.failure = KeyError("bug")
    sender = OutboxSender(outbox, [broken, console], clock=clock)
    with outbox.unit_of_work() as uow:
        enqueue(uow, fill(clock, 1))
    report = await sender.run_once()
    assert len(console.received) == 1
    assert report.failed["broken"].startswith("unexpected KeyError")


async def test_no_notifier_means_rows_stay(clock: SimulatedClock) -> None:
    outbox = InMemoryOutbox()
    with outbox.unit_of_work() as uow:
        enqueue(uow, fill(clock, 1))
    await OutboxSender(outbox, FanOutNotifier([]), clock=clock).run_once()
    assert await outbox.pending_count() == 1


class HangingNotifier(RecordingNotifier):
    """Blocks in send until released (a webhook that takes its full timeout)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.release = asyncio.Event()

    async def send(self, alert: Alert) -> None:
        await self.release.wait()
        await super().send(alert)


async def test_a_slow_notifier_never_delays_the_others(clock: SimulatedClock) -> None:
    outbox = InMemoryOutbox()
    slow, console = HangingNotifier("discord"), RecordingNotifier("console")
    sender = OutboxSender(outbox, [slow, console], clock=clock)
    with outbox.unit_of_work() as uow:
        enqueue(uow, fill(clock, 1))
    sender.wake()
    for _ in range(5):
        await asyncio.sleep(0)
    assert len(console.received) == 1
    with outbox.unit_of_work() as uow:  # a second commit while discord is still stuck
        enqueue(uow, fill(clock, 2))
    sender.wake()
    for _ in range(5):
        await asyncio.sleep(0)
    assert [a.quantity for a in console.received] == [1, 2]  # type: ignore[attr-defined]
    assert slow.received == []
    slow.release.set()
    await sender.wait_idle()
    assert [a.quantity for a in slow.received] == [1, 2]  # type: ignore[attr-defined]
    assert await outbox.pending_count() == 0
