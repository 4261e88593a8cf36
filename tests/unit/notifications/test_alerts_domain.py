"""The alert events as facts: every kind registered, severity from the facts, aware times."""

from __future__ import annotations

from datetime import datetime

import pytest

from skimd.domain.alerts import (
    ALERT_TYPES,
    DaemonStarted,
    DaemonStopping,
    JobFailed,
    Severity,
    register,
)
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
    assert by_kind["broker_session_lost"].severity is Severity.CRITICAL
    assert by_kind["broker_rate_limited"].severity is Severity.WARNING
    assert by_kind["guard_tripped"].severity is Severity.CRITICAL
    assert by_kind["daemon_stopping"].severity is Severity.INFO
    assert DaemonStopping(occurred_at=T, reason="db", exit_code=70).severity is Severity.CRITICAL
    assert (
        JobFailed(
            occurred_at=T, job_id="j", error_type="E", message="m", consecutive_failures=3
        ).severity
        is Severity.CRITICAL
    )
