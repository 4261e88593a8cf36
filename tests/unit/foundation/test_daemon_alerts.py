from __future__ import annotations

from datetime import UTC, datetime

from skimd.clock import SimulatedClock
from skimd.domain.alerts import Alert, DaemonStarted, DaemonStopping, JobFailed, JobMissed
from skimd.services.daemon_alerts import AlertingHooks
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
