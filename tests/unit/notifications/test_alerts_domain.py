"""The alert events as facts: every kind registered, severity from the facts, aware times."""

from __future__ import annotations

from datetime import datetime

import pytest

from skimd.domain.alerts import (
    ALERT_TYPES,
    DaemonStarted,
    DaemonStopping,
    GuardTripped,
    JobFailed,
    Severity,
    register,
)
from skimd.domain.trading import GuardKind
from tests.fakes.alert_samples import T, every_kind, one_of_each


def test_the_samples_cover_every_registered_kind() -> None:
    assert {a.kind for a in every_kind()} == set(ALERT_TYPES)
    assert all(ALERT_TYPES[a.kind] is type(a) for a in every_kind())


def test_a_kind_cannot_be_registered_twice() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        register(DaemonStarted)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        DaemonStarted(occurred_at=datetime(2024, 6, 3, 10, 0), version="1", broker="demo")


def test_severity_follows_the_facts() -> None:
    by_kind = {a.kind: a for a in one_of_each()}
    assert by_kind["position_exited"].severity is Severity.WARNING  # a stop hit
    assert by_kind["broker_session_lost"].severity is Severity.WARNING  # escalated later
    assert by_kind["broker_session_still_down"].severity is Severity.CRITICAL
    assert by_kind["broker_rate_limited"].severity is Severity.WARNING
    assert by_kind["guard_tripped"].severity is Severity.CRITICAL  # the daily loss cap
    assert by_kind["late_candidates"].severity is Severity.INFO
    assert by_kind["position_mismatch"].severity is Severity.CRITICAL
    assert by_kind["protection_fallback"].severity is Severity.CRITICAL
    assert by_kind["daemon_stopping"].severity is Severity.INFO
    assert DaemonStopping(occurred_at=T, reason="db", exit_code=70).severity is Severity.CRITICAL
    assert (
        JobFailed(
            occurred_at=T, job_id="j", error_type="E", message="m", consecutive_failures=3
        ).severity
        is Severity.CRITICAL
    )


@pytest.mark.parametrize(
    ("guard", "halted_by_daemon", "expected"),
    [
        (GuardKind.DAILY_LOSS_CAP, False, Severity.CRITICAL),
        (GuardKind.KILL_SWITCH, True, Severity.CRITICAL),  # the daemon halted trading
        (GuardKind.KILL_SWITCH, False, Severity.WARNING),  # the operator locked it
        (GuardKind.PRICE_BAND, False, Severity.WARNING),
        (GuardKind.OTHER, False, Severity.WARNING),
        (GuardKind.MAX_POSITIONS, False, Severity.INFO),
        (GuardKind.MAX_ORDERS_PER_DAY, False, Severity.INFO),
        (GuardKind.CLOSING_AUCTION, False, Severity.INFO),
    ],
)
def test_a_guard_is_critical_only_when_the_trader_must_act(
    guard: GuardKind, halted_by_daemon: bool, expected: Severity
) -> None:
    trip = GuardTripped(occurred_at=T, guard=guard, detail="d", halted_by_daemon=halted_by_daemon)
    assert trip.severity is expected


def test_every_guard_kind_has_a_severity_rule() -> None:
    """A new GuardKind must be placed in the table on purpose (it defaults to WARNING)."""
    ranked = {
        kind: GuardTripped(occurred_at=T, guard=kind, detail="d").severity for kind in GuardKind
    }
    assert set(ranked) == set(GuardKind)
    assert [k for k, sev in ranked.items() if sev is Severity.CRITICAL] == [
        GuardKind.DAILY_LOSS_CAP
    ]


@pytest.mark.parametrize(
    ("failures", "critical_after", "expected"),
    [
        (1, 3, Severity.WARNING),
        (2, 3, Severity.WARNING),
        (3, 3, Severity.CRITICAL),
        (4, 5, Severity.WARNING),
        (5, 5, Severity.CRITICAL),
        (1, 1, Severity.CRITICAL),
    ],
)
def test_a_job_failure_is_critical_from_its_kth_in_a_row(
    failures: int, critical_after: int, expected: Severity
) -> None:
    failed = JobFailed(
        occurred_at=T,
        job_id="j",
        error_type="E",
        message="m",
        consecutive_failures=failures,
        critical_after=critical_after,
    )
    assert failed.severity is expected
