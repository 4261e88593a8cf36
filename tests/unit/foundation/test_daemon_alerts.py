from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from skimd.clock import SimulatedClock
from skimd.domain.alerts import (
    Alert,
    BrokerRateLimited,
    BrokerSessionLost,
    DaemonStarted,
    DaemonStopping,
    JobFailed,
    JobMissed,
)
from skimd.services.daemon_alerts import AlertingBrokerEvents, AlertingHooks
from skimd.services.jobs import JobResult


def make() -> tuple[AlertingHooks, list[Alert]]:
    got: list[Alert] = []
    clock = SimulatedClock(datetime(2026, 11, 24, tzinfo=UTC))
    return AlertingHooks(got.append, clock, broker="demo", live_trading=False, repeat_every=3), got


def test_lifecycle_and_problems_become_alerts() -> None:
    hooks, got = make()
    hooks.daemon_started(["gap_scan"])
    hooks.job_problem("missed", "gap_scan", "run due at 10:05:00 AEDT was missed")
    hooks.job_problem("overrun", "poll", "previous run still going")
    hooks.daemon_stopping("received SIGTERM")
    assert [type(a) for a in got] == [DaemonStarted, JobMissed, JobFailed, DaemonStopping]
    assert isinstance(got[-1], DaemonStopping) and got[-1].reason == "received SIGTERM"


def test_a_failing_job_alerts_once_then_every_nth_and_resets_on_success() -> None:
    hooks, got = make()
    for _ in range(7):
        hooks.job_problem("failed", "scan", "RuntimeError: boom")
    counts = [a.consecutive_failures for a in got if isinstance(a, JobFailed)]
    assert counts == [1, 3, 6]
    assert got[0].error_type == "RuntimeError" and got[0].message == "boom"  # type: ignore[attr-defined]
    hooks.job_finished(JobResult("scan", outcome="ok"))
    hooks.job_problem("failed", "scan", "RuntimeError: again")
    assert got[-1].consecutive_failures == 1  # type: ignore[attr-defined]


def test_a_broken_sink_never_raises() -> None:
    clock = SimulatedClock(datetime(2026, 11, 24, tzinfo=UTC))

    def broken(_: Alert) -> None:
        raise OSError("disk full")

    hooks = AlertingHooks(broken, clock, broker="demo", live_trading=False)
    hooks.daemon_started([])
    hooks.job_problem("failed", "x", "E: y")


def test_a_missed_run_alert_carries_the_scheduled_time_not_the_detection_time() -> None:
    hooks, got = make()  # the clock reads 2026-11-24 00:00 UTC
    due = datetime(2026, 11, 24, 10, 5, tzinfo=ZoneInfo("Australia/Sydney"))  # 23:05 UTC
    hooks.job_problem("missed", "gap_scan", "run due at 10:05:00 AEDT was missed", scheduled_at=due)
    (alert,) = got
    assert isinstance(alert, JobMissed)
    assert alert.scheduled_for == due and alert.scheduled_for.tzinfo is UTC
    assert alert.occurred_at == datetime(2026, 11, 24, tzinfo=UTC)
    assert alert.late_by_s == timedelta(minutes=55).total_seconds()


def test_a_missed_run_without_a_scheduled_time_falls_back_to_now() -> None:
    hooks, got = make()
    hooks.job_problem("missed", "gap_scan", "run due at ? was missed")
    (alert,) = got
    assert isinstance(alert, JobMissed)
    assert alert.scheduled_for == alert.occurred_at and alert.late_by_s == 0.0


# -- broker events --------------------------------------------------------------------------

SYD = ZoneInfo("Australia/Sydney")


def make_events(
    cooldown_s: float = 600.0,
) -> tuple[AlertingBrokerEvents, list[Alert], SimulatedClock]:
    got: list[Alert] = []
    clock = SimulatedClock(datetime(2026, 11, 24, 0, 0, tzinfo=UTC))
    events = AlertingBrokerEvents(got.append, clock, broker="ibkr", cooldown_s=cooldown_s)
    return events, got, clock


def test_each_broker_event_becomes_its_alert() -> None:
    events, got, _ = make_events()
    until = datetime(2026, 11, 24, 11, 10, tzinfo=SYD)
    events.session_lost("brokerage session not authenticated")
    events.session_competing()
    events.rate_limited("snapshot", until)
    lost, competing, limited = got
    assert isinstance(lost, BrokerSessionLost) and not lost.taken_by_other_login
    assert lost.reason == "brokerage session not authenticated" and lost.broker == "ibkr"
    assert isinstance(competing, BrokerSessionLost) and competing.taken_by_other_login
    assert isinstance(limited, BrokerRateLimited)
    assert (limited.endpoint_class, limited.until) == ("snapshot", until)
    assert limited.until.tzinfo is UTC
    assert all(a.occurred_at == datetime(2026, 11, 24, tzinfo=UTC) for a in got)


def test_a_burst_alerts_once_per_condition_until_the_cooldown_has_passed() -> None:
    events, got, clock = make_events(cooldown_s=600)
    until = datetime(2026, 11, 24, 0, 10, tzinfo=UTC)
    for _ in range(50):  # every call of a dead session reports it
        events.session_lost("not authenticated")
        events.rate_limited("snapshot", until)
        clock.advance(5)  # a burst: reports 5 s apart for ~4 minutes
    assert [a.kind for a in got] == ["broker_session_lost", "broker_rate_limited"]

    events.session_lost("competing session")  # a different reason is its own condition
    events.rate_limited("orders", until)  # so is another endpoint class
    assert len(got) == 4

    clock.advance(590)  # 595 s after the last report: still the same episode
    events.session_lost("not authenticated")
    assert len(got) == 4
    clock.advance(600)  # quiet for the whole cool-down: a new episode
    events.session_lost("not authenticated")
    assert len(got) == 5 and got[-1].occurred_at == clock.now()


def test_a_zero_cooldown_alerts_every_report() -> None:
    events, got, _ = make_events(cooldown_s=0)
    events.session_competing()
    events.session_competing()
    assert len(got) == 2


def test_a_broken_store_never_raises_into_the_broker() -> None:
    clock = SimulatedClock(datetime(2026, 11, 24, tzinfo=UTC))
    calls: list[Alert] = []

    def broken(alert: Alert) -> None:
        calls.append(alert)
        raise OSError("database is locked")

    events = AlertingBrokerEvents(broken, clock, broker="ibkr")
    events.session_lost("gone")
    events.session_competing()
    events.rate_limited("global", datetime(2026, 11, 24, 0, 10, tzinfo=UTC))
    events.session_lost("gone")  # deduplicated: no second slow store attempt
    assert [a.kind for a in calls] == ["broker_session_lost"] * 2 + ["broker_rate_limited"]


def test_a_negative_cooldown_is_refused() -> None:
    clock = SimulatedClock(datetime(2026, 11, 24, tzinfo=UTC))
    with pytest.raises(ValueError, match="cooldown_s"):
        AlertingBrokerEvents(lambda _: None, clock, broker="ibkr", cooldown_s=-1)
