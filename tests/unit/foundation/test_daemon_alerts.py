from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from skimd.clock import SimulatedClock
from skimd.domain.alerts import (
    Alert,
    BrokerRateLimited,
    DaemonStarted,
    DaemonStopping,
    JobFailed,
    JobMissed,
    JobOverrun,
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
    hooks.job_finished(JobResult("poll", outcome="ok"))  # the long run ended
    hooks.daemon_stopping("received SIGTERM")
    assert [type(a) for a in got] == [DaemonStarted, JobMissed, JobOverrun, DaemonStopping]
    assert isinstance(got[-1], DaemonStopping) and got[-1].reason == "received SIGTERM"


def test_one_slow_stretch_gives_one_overrun_alert_with_its_count() -> None:
    clock = SimulatedClock(datetime(2026, 11, 24, tzinfo=UTC))
    got: list[Alert] = []
    started = clock.now()
    hooks = AlertingHooks(
        got.append, clock, broker="ibkr", live_trading=False, running_since=lambda _: started
    )
    for _ in range(6):  # a watch run every 5 s skipped while one run took 31 s
        clock.advance(5)
        hooks.job_problem("overrun", "watch", "previous run still going; this run was skipped")
    assert got == []  # nothing yet: the stretch is not over
    clock.advance(1)
    hooks.job_finished(JobResult("watch", outcome="ok"))
    (alert,) = got
    assert isinstance(alert, JobOverrun) and alert.finished
    assert (alert.job_id, alert.skipped_runs, alert.started_at) == ("watch", 6, started)
    assert alert.ran_for_s == 31.0
    clock.advance(5)
    hooks.job_problem("overrun", "watch", "previous run still going; this run was skipped")
    hooks.job_finished(JobResult("watch", outcome="ok"))
    assert len(got) == 2 and got[-1].skipped_runs == 1  # type: ignore[attr-defined]


def test_a_stretch_that_goes_on_is_alerted_while_running_and_only_once() -> None:
    clock = SimulatedClock(datetime(2026, 11, 24, tzinfo=UTC))
    got: list[Alert] = []
    hooks = AlertingHooks(
        got.append, clock, broker="ibkr", live_trading=False, overrun_alert_after_s=60
    )
    for _ in range(30):  # a hung run: 150 s of skipped polls
        hooks.job_problem("overrun", "watch", "previous run still going")
        clock.advance(5)
    (alert,) = got
    assert isinstance(alert, JobOverrun) and not alert.finished
    assert alert.skipped_runs == 13 and alert.ran_for_s == 60.0
    hooks.job_finished(JobResult("watch", outcome="error"))
    assert len(got) == 1  # the end of an already alerted stretch is logged, not alerted


def test_a_failure_with_a_known_cause_is_neither_alerted_nor_counted() -> None:
    hooks, got = make()  # repeat_every=3
    for _ in range(7):
        hooks.job_problem(
            "failed", "watch", "BrokerSessionError: no bridge", known_cause="session down"
        )
    assert got == []
    hooks.job_problem("failed", "watch", "RuntimeError: boom")
    (alert,) = got
    assert isinstance(alert, JobFailed) and alert.consecutive_failures == 1


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


class Listener:
    """The session monitor's side of the broker events, as calls received."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, object]] = []
        self.fail = fail

    def _got(self, name: str, arg: object) -> None:
        self.calls.append((name, arg))
        if self.fail:
            raise OSError("database is locked")

    def lost(self, reason: str, retry_at: datetime | None = None) -> None:
        self._got("lost", (reason, retry_at))

    def competing(self, retry_at: datetime | None = None) -> None:
        self._got("competing", retry_at)

    def restored(self) -> None:
        self._got("restored", None)

    def renewed(self, expires_at: datetime | None) -> None:
        self._got("renewed", expires_at)


def make_events(
    cooldown_s: float = 600.0, listener: Listener | None = None
) -> tuple[AlertingBrokerEvents, list[Alert], SimulatedClock]:
    got: list[Alert] = []
    clock = SimulatedClock(datetime(2026, 11, 24, 0, 0, tzinfo=UTC))
    events = AlertingBrokerEvents(
        got.append, clock, broker="ibkr", session=listener or Listener(), cooldown_s=cooldown_s
    )
    return events, got, clock


def test_session_events_go_to_the_session_monitor() -> None:
    listener = Listener()
    events, got, _ = make_events(listener=listener)
    retry = datetime(2026, 11, 24, 0, 1, tzinfo=UTC)
    events.session_lost("no bridge", retry)
    events.session_competing(retry)
    events.session_restored()
    events.session_renewed(retry)
    assert listener.calls == [
        ("lost", ("no bridge", retry)),
        ("competing", retry),
        ("restored", None),
        ("renewed", retry),
    ]
    assert got == []  # the monitor alerts, not this


def test_a_rate_limit_becomes_its_alert() -> None:
    events, got, _ = make_events()
    until = datetime(2026, 11, 24, 11, 10, tzinfo=SYD)
    events.rate_limited("snapshot", until)
    (limited,) = got
    assert isinstance(limited, BrokerRateLimited)
    assert (limited.endpoint_class, limited.until) == ("snapshot", until)
    assert limited.until.tzinfo is UTC
    assert limited.occurred_at == datetime(2026, 11, 24, tzinfo=UTC)


def test_a_burst_alerts_once_per_condition_until_the_cooldown_has_passed() -> None:
    events, got, clock = make_events(cooldown_s=600)
    until = datetime(2026, 11, 24, 0, 10, tzinfo=UTC)
    for _ in range(50):  # every call in the penalty box reports it
        events.rate_limited("snapshot", until)
        clock.advance(5)  # a burst: reports 5 s apart for ~4 minutes
    assert [a.kind for a in got] == ["broker_rate_limited"]

    events.rate_limited("orders", until)  # another endpoint class is its own condition
    assert len(got) == 2

    clock.advance(590)  # 595 s after the last report: still the same episode
    events.rate_limited("snapshot", until)
    assert len(got) == 2
    clock.advance(600)  # quiet for the whole cool-down: a new episode
    events.rate_limited("snapshot", until)
    assert len(got) == 3 and got[-1].occurred_at == clock.now()


def test_a_zero_cooldown_alerts_every_report() -> None:
    events, got, _ = make_events(cooldown_s=0)
    events.rate_limited("global", datetime(2026, 11, 24, 0, 10, tzinfo=UTC))
    events.rate_limited("global", datetime(2026, 11, 24, 0, 10, tzinfo=UTC))
    assert len(got) == 2


def test_a_broken_store_or_monitor_never_raises_into_the_broker() -> None:
    clock = SimulatedClock(datetime(2026, 11, 24, tzinfo=UTC))
    calls: list[Alert] = []

    def broken(alert: Alert) -> None:
        calls.append(alert)
        raise OSError("database is locked")

    listener = Listener(fail=True)
    events = AlertingBrokerEvents(broken, clock, broker="ibkr", session=listener)
    events.session_lost("gone")
    events.session_competing()
    events.session_restored()
    events.session_renewed(None)
    events.rate_limited("global", datetime(2026, 11, 24, 0, 10, tzinfo=UTC))
    events.rate_limited("global", datetime(2026, 11, 24, 0, 10, tzinfo=UTC))  # deduplicated
    assert [a.kind for a in calls] == ["broker_rate_limited"]
    assert [name for name, _ in listener.calls] == ["lost", "competing", "restored", "renewed"]


def test_a_negative_cooldown_is_refused() -> None:
    clock = SimulatedClock(datetime(2026, 11, 24, tzinfo=UTC))
    with pytest.raises(ValueError, match="cooldown_s"):
        AlertingBrokerEvents(
            lambda _: None, clock, broker="ibkr", session=Listener(), cooldown_s=-1
        )


def test_the_kth_failure_in_a_row_is_alerted_and_critical() -> None:
    clock = SimulatedClock(datetime(2026, 11, 24, tzinfo=UTC))
    got: list[Alert] = []
    hooks = AlertingHooks(
        got.append, clock, broker="demo", live_trading=False, repeat_every=10, critical_after=4
    )
    for _ in range(12):
        hooks.job_problem("failed", "news", "DataSourceError: page changed")
    failed = [a for a in got if isinstance(a, JobFailed)]
    assert [(a.consecutive_failures, a.severity.value) for a in failed] == [
        (1, "warning"),
        (4, "critical"),  # the escalation comes when it is due, not at the next repeat
        (10, "critical"),
    ]
    assert all(a.critical_after == 4 for a in failed)
