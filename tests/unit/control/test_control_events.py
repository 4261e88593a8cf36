"""The event bus behind ``skimd tail``: filters, order, slow subscribers, job hooks."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from skimd.clock import SimulatedClock
from skimd.services import control_events
from skimd.services.control_events import EventBus, PublishingHooks, matches
from skimd.services.jobs import JobResult
from skimd.services.supervisor import LoggingHooks

NOW = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)


async def drain(sub: control_events.Subscription) -> list[dict[str, object]]:
    sub_events = []
    async for event in sub:
        sub_events.append(event)
    return sub_events


def test_kind_matches_the_event_kind_an_alert_kind_or_a_job() -> None:
    alert = {"kind": "alert", "alert": "order_filled"}
    job = {"kind": "job", "job": "sync"}
    assert matches(alert, None) and matches(alert, "alert") and matches(alert, "order_filled")
    assert not matches(alert, "job") and not matches(alert, "sync")
    assert matches(job, "job") and matches(job, "sync") and not matches(job, "alert")


def test_each_subscriber_gets_what_it_asked_for_in_order_until_closed() -> None:
    async def scenario() -> tuple[list[dict[str, object]], list[dict[str, object]], bool]:
        bus = EventBus()
        everything, jobs = bus.subscribe(), bus.subscribe("job")
        bus.publish({"kind": "alert", "alert": "order_filled", "n": 1})
        bus.publish({"kind": "job", "job": "sync", "n": 2})
        bus.publish({"kind": "alert", "alert": "guard_tripped", "n": 3})
        bus.close()
        return await drain(everything), await drain(jobs), bus.active

    everything, jobs, active = asyncio.run(scenario())
    assert [e["n"] for e in everything] == [1, 2, 3]
    assert [e["n"] for e in jobs] == [2]
    assert active is False


def test_the_first_subscriber_is_announced_once_per_quiet_spell() -> None:
    calls: list[str] = []

    async def scenario() -> None:
        bus = EventBus()
        bus.on_first_subscriber(lambda: calls.append("first"))
        a = bus.subscribe()
        b = bus.subscribe()
        a.close()
        b.close()
        bus.subscribe()

    asyncio.run(scenario())
    assert calls == ["first", "first"]


def test_a_subscriber_too_far_behind_is_closed_with_an_overflow_event() -> None:
    async def scenario() -> tuple[list[dict[str, object]], bool]:
        bus = EventBus(queue_limit=3)
        slow = bus.subscribe()
        for n in range(10):
            bus.publish({"kind": "job", "job": "watch", "n": n})
        return await drain(slow), bus.active

    got, active = asyncio.run(scenario())
    assert [e.get("n") for e in got] == [0, 1, 2, None]
    assert got[-1]["kind"] == "overflow"
    assert active is False


def test_hooks_publish_trading_jobs_only_and_pass_everything_on() -> None:
    class Inner(LoggingHooks):
        def __init__(self) -> None:
            self.seen: list[str] = []

        def job_finished(self, result: JobResult) -> None:
            self.seen.append(f"finished {result.job_id}")

        def job_problem(self, kind, job_id, detail, *, scheduled_at=None, known_cause=None):  # type: ignore[no-untyped-def]
            self.seen.append(f"{kind} {job_id}")

    async def scenario() -> tuple[list[dict[str, object]], list[str]]:
        bus = EventBus()
        inner = Inner()
        hooks = PublishingHooks(inner, bus, SimulatedClock(NOW), shown=["sync"])
        sub = bus.subscribe()
        hooks.job_finished(JobResult("sync", NOW, NOW, "ok", "2 fills"))
        hooks.job_finished(JobResult("outbox", NOW, NOW, "ok", ""))
        hooks.job_problem("missed", "sync", "run due at 10:00 was missed")
        bus.close()
        return await drain(sub), inner.seen

    events, seen = asyncio.run(scenario())
    assert events == [
        {"kind": "job", "at": NOW.isoformat(), "job": "sync", "outcome": "ok", "message": "2 fills"},  # noqa: E501
        {
            "kind": "job",
            "at": NOW.isoformat(),
            "job": "sync",
            "outcome": "missed",
            "message": "run due at 10:00 was missed",
        },
    ]
    assert seen == ["finished sync", "finished outbox", "missed sync"]
