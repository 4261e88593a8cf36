"""CRITICAL only when the trader must act, on the daemon's own wiring over a real encrypted
database: the broker session escalates once when it stays down (also across a restart
mid-outage), a job becomes critical from its K-th failure in a row (counted across a
restart), and a kill switch the daemon locks itself is critical where an operator's is not.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from skimd import bootstrap
from skimd.clock import SimulatedClock
from skimd.config import DatabaseSettings, PathSettings, Settings, SupervisorSettings
from skimd.domain.alerts import Alert, JobFailed, Severity
from skimd.infrastructure.brokers.demo.broker import DemoBroker
from skimd.infrastructure.brokers.events import RecordingBrokerEvents
from skimd.infrastructure.brokers.identifier_cache import InMemoryIdentifierCache
from skimd.infrastructure.database import open_trading_database
from skimd.infrastructure.database.job_runs import JobFailureCounts
from skimd.services.daemon_alerts import AlertingHooks
from skimd.services.jobs import JobResult
from tests.fakes.notifiers import RecordingNotifier
from tests.integration.trading.desk import MARKET

T0 = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)  # 10:30 in Sydney on the 24th
SMALL_KDF = {"kdf_time_cost": 1, "kdf_memory_kib": 8192, "kdf_parallelism": 1}


def _settings(data_dir: Path) -> Settings:
    return Settings(
        paths=PathSettings(data_dir=data_dir),
        database=DatabaseSettings(
            encryption="sqlcipher",
            passphrase=SecretStr("escalation tests"),
            **SMALL_KDF,  # type: ignore[arg-type]
        ),
        supervisor=SupervisorSettings(
            job_failures_critical_after=3, broker_down_critical_after_min=10
        ),
    )


class Daemon:
    """One daemon process's App over ``data_dir`` on the shared clock; ``restart`` is a
    process exit (the monitor marks its record stopped) and a new App on the same files."""

    def __init__(self, data_dir: Path, clock: SimulatedClock) -> None:
        self.data_dir, self.clock = data_dir, clock
        self.app = self._build()

    def _build(self) -> bootstrap.App:
        broker = DemoBroker(
            MARKET,
            self.clock,
            events=RecordingBrokerEvents(),
            identifier_cache=InMemoryIdentifierCache(),
        )
        return bootstrap.build(
            _settings(self.data_dir),
            access=bootstrap.Access.EXCLUSIVE,
            clock=self.clock,
            broker=broker,
            notifier=RecordingNotifier("alerts"),
            environ={},
        )

    def restart(self) -> None:
        self.app.broker_session.daemon_stopped()
        self.app.close()
        self.app = self._build()

    def outbox(self, kind: str) -> list[dict[str, Any]]:
        """Every queued alert of ``kind``: its data and its stored severity."""
        with self.app.database.unit_of_work(read_only=True) as uow:
            rows = sorted(uow.outbox.list_all(), key=lambda r: r.id or 0)
            return [
                {"severity": r.severity, **json.loads(r.payload)["data"]}
                for r in rows
                if r.kind == kind
            ]


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    data_dir = tmp_path / "data"
    open_trading_database(_settings(data_dir), create=True).close()
    made = Daemon(data_dir, SimulatedClock(T0))
    yield made
    made.app.close()


# -- the broker session ----------------------------------------------------------------------


def test_a_session_still_down_after_n_minutes_escalates_once(daemon: Daemon) -> None:
    monitor, clock = daemon.app.broker_session, daemon.clock
    monitor.lost("not authenticated")
    (lost,) = daemon.outbox("broker_session_lost")
    assert lost["severity"] == "warning"
    clock.advance(9 * 60 + 59)
    monitor.lost("not authenticated")  # the same outage reported again
    assert daemon.outbox("broker_session_still_down") == []
    clock.advance(1)
    (still,) = daemon.outbox("broker_session_still_down")
    assert still["severity"] == "critical" and still["after_min"] == 10
    assert still["down_since"] == T0.isoformat() and still["reason"] == "not authenticated"
    clock.advance(3600)
    assert len(daemon.outbox("broker_session_still_down")) == 1, "one per outage"


def test_a_session_restored_in_time_never_escalates(daemon: Daemon) -> None:
    monitor, clock = daemon.app.broker_session, daemon.clock
    monitor.competing()
    clock.advance(5 * 60)
    monitor.restored()
    clock.advance(3600)
    assert daemon.outbox("broker_session_still_down") == []
    assert len(daemon.outbox("broker_session_restored")) == 1
    monitor.lost("dropped again")  # a new outage has its own escalation
    clock.advance(10 * 60)
    (still,) = daemon.outbox("broker_session_still_down")
    assert still["down_since"] == (T0 + timedelta(minutes=65)).isoformat()


def test_a_restart_mid_outage_escalates_when_the_outage_is_due_not_later(daemon: Daemon) -> None:
    daemon.app.broker_session.lost("not authenticated")
    daemon.clock.advance(4 * 60)
    daemon.restart()
    daemon.clock.advance(60)
    daemon.app.broker_session.lost("not authenticated")  # the new process's first report
    assert daemon.app.broker_session.record is not None
    assert daemon.app.broker_session.record.since == T0, "the outage goes on"
    daemon.clock.advance(4 * 60 + 59)
    assert daemon.outbox("broker_session_still_down") == []
    daemon.clock.advance(1)  # ten minutes after the outage began, not after the restart
    (still,) = daemon.outbox("broker_session_still_down")
    assert still["down_since"] == T0.isoformat()


def test_a_restart_after_the_escalation_does_not_repeat_it(daemon: Daemon) -> None:
    daemon.app.broker_session.lost("not authenticated")
    daemon.clock.advance(10 * 60)
    assert len(daemon.outbox("broker_session_still_down")) == 1
    daemon.clock.advance(60)
    daemon.restart()
    daemon.clock.advance(30)
    daemon.app.broker_session.lost("not authenticated")
    daemon.clock.advance(3600)
    assert len(daemon.outbox("broker_session_still_down")) == 1, "never twice for one outage"


def test_a_down_record_from_long_ago_starts_a_new_outage(daemon: Daemon) -> None:
    daemon.app.broker_session.lost("gateway closed for the night")
    daemon.restart()  # stopped while down
    daemon.clock.advance(12 * 3600)
    daemon.app.broker_session.lost("not logged in yet")
    since = T0 + timedelta(hours=12)
    assert daemon.app.broker_session.record is not None
    assert daemon.app.broker_session.record.since == since
    daemon.clock.advance(9 * 60)
    assert daemon.outbox("broker_session_still_down") == [], "no instant critical at start"
    daemon.clock.advance(60)
    (still,) = daemon.outbox("broker_session_still_down")
    assert still["down_since"] == since.isoformat()


# -- a job failing again and again ------------------------------------------------------------


def _hooks(daemon: Daemon, got: list[Alert]) -> AlertingHooks:
    return AlertingHooks(
        got.append,
        daemon.clock,
        broker="demo",
        live_trading=False,
        critical_after=3,
        failures=JobFailureCounts(daemon.app.database.unit_of_work),
    )


def test_a_job_becomes_critical_at_its_kth_failure_in_a_row_across_a_restart(
    daemon: Daemon,
) -> None:
    got: list[Alert] = []
    hooks = _hooks(daemon, got)
    hooks.job_problem("failed", "scan", "DataSourceError: scanner down")
    hooks.job_problem("failed", "scan", "DataSourceError: scanner down")
    hooks.job_problem("failed", "news", "DataSourceError: page changed")
    assert [(a.job_id, a.severity) for a in got if isinstance(a, JobFailed)] == [
        ("scan", Severity.WARNING),
        ("news", Severity.WARNING),
    ]
    daemon.restart()
    got.clear()
    hooks = _hooks(daemon, got)  # a new process reads the counts kept in the database
    hooks.job_problem("failed", "scan", "DataSourceError: scanner down")
    (third,) = got
    assert isinstance(third, JobFailed) and third.consecutive_failures == 3
    assert third.severity is Severity.CRITICAL
    hooks.job_finished(JobResult("scan", outcome="ok"))
    daemon.restart()
    got.clear()
    hooks = _hooks(daemon, got)
    hooks.job_problem("failed", "scan", "DataSourceError: again")
    hooks.job_problem("failed", "news", "DataSourceError: page changed")
    assert [(a.job_id, a.consecutive_failures) for a in got if isinstance(a, JobFailed)] == [
        ("scan", 1),  # a success ended the run of failures, and that was kept too
    ]


# -- the kill switch -----------------------------------------------------------------------


def test_the_kill_switch_is_critical_only_when_the_daemon_halts_trading(daemon: Daemon) -> None:
    switch = daemon.app.kill_switch
    switch.lock("taking a break")
    switch.unlock()
    switch.halt("TradingHaltError: position book inconsistent")
    trips = daemon.outbox("guard_tripped")
    assert [(t["severity"], t["halted_by_daemon"]) for t in trips] == [
        ("warning", False),  # the operator locked it and knows
        ("critical", True),  # only the trader can unlock it
    ]
    assert "LOCKED by the daemon" in trips[1]["detail"]
