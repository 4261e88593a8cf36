"""The error tree does what it says: the supervisor's policy for an error escaping a job."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from skimd.clock import SimulatedClock
from skimd.errors import (
    EX_CONFIG,
    EX_SOFTWARE,
    BrokerAuthError,
    BrokerSessionError,
    BrokerUnavailableError,
    ConfigurationError,
    DatabaseKeyError,
    FatalError,
    InstanceLockedError,
    OrderRejectedError,
    SkimdError,
)
from skimd.infrastructure.calendar import AsxCalendar
from skimd.infrastructure.scheduling import SchedulerAdapter
from skimd.runtime import run_supervisor
from skimd.services.jobs import Every, JobResult, JobSpec, JobTable
from skimd.services.supervisor import LoggingHooks, Supervisor

SYD = ZoneInfo("Australia/Sydney")
START = datetime(2026, 11, 24, 9, 0, tzinfo=SYD)


class SilentSd:
    def ready(self, status: str) -> bool:
        return True

    def status(self, status: str) -> bool:
        return True

    def watchdog(self) -> bool:
        return True

    def stopping(self, status: str) -> bool:
        return True


class Hooks(LoggingHooks):
    def __init__(self) -> None:
        self.failed: list[str] = []

    def job_problem(
        self,
        kind: str,
        job_id: str,
        detail: str,
        *,
        scheduled_at: datetime | None = None,
        known_cause: str | None = None,
    ) -> None:
        self.failed.append(f"{kind}:{job_id}:{detail}")

    def job_finished(self, result: JobResult) -> None:
        return None


async def _run_failing(
    error: Exception, *, halt: list[str] | None = None, halt_fails: bool = False
) -> tuple[Supervisor, Hooks, int]:
    """A job failing with ``error`` every minute from 09:00, run the way ``skimd run`` runs
    (until 09:03 unless the supervisor asks to stop first); the supervisor, its hooks and
    how many runs there were."""
    clock = SimulatedClock(START)
    runs: list[int] = []

    async def job() -> None:
        runs.append(1)
        raise error

    def halt_trading(reason: str) -> None:
        if halt_fails:
            raise OSError("disk full")
        assert halt is not None
        halt.append(reason)

    table = JobTable()
    table.add(JobSpec("job", Every(60), job, "fails", market_hours=False))
    hooks = Hooks()
    sup = Supervisor(
        clock=clock,
        scheduler=SchedulerAdapter(clock, SYD, misfire_grace_s=30),
        calendar=AsxCalendar(zone="Australia/Sydney"),
        jobs=table,
        sd=SilentSd(),
        hooks=hooks,
        shutdown_timeout_s=5,
        watchdog_interval_s=None,
        status_interval_s=3600,
        halt_trading=halt_trading if (halt is not None or halt_fails) else None,
    )
    code = await run_supervisor(
        sup, clock, simulate_until=START.replace(minute=3), install_signals=False
    )
    assert code == (sup.exit_code or 0)
    return sup, hooks, len(runs)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (FatalError("demo book cannot be written"), EX_SOFTWARE),
        (DatabaseKeyError("file is not a database"), EX_CONFIG),
        (ConfigurationError("[ibkr] consumer_key missing"), EX_CONFIG),
        (InstanceLockedError("another skimd"), InstanceLockedError.exit_code),
    ],
)
async def test_a_fatal_error_stops_the_daemon_with_its_exit_code(
    error: SkimdError, code: int
) -> None:
    sup, hooks, runs = await _run_failing(error)
    assert runs == 1, "the daemon stops after the first fatal run"
    assert sup.exit_code == code
    assert hooks.failed and hooks.failed[0].startswith("failed:job:")


@pytest.mark.parametrize(
    "error",
    [BrokerAuthError("live session token signature mismatch"), OrderRejectedError("refused")],
)
async def test_a_trading_halt_locks_the_kill_switch_and_the_daemon_goes_on(
    error: SkimdError,
) -> None:
    halted: list[str] = []
    sup, _, runs = await _run_failing(error, halt=halted)
    assert runs == 4, "the daemon keeps running (positions are still managed)"
    assert sup.exit_code is None
    assert halted and halted[0] == f"job job failed: {type(error).__name__}: {error}"


async def test_a_halt_that_cannot_be_locked_stops_the_daemon() -> None:
    sup, _, runs = await _run_failing(BrokerAuthError("401 after refresh"), halt_fails=True)
    assert runs == 1 and sup.exit_code == EX_SOFTWARE


@pytest.mark.parametrize(
    "error",
    [
        BrokerUnavailableError("timeout"),
        BrokerSessionError("competing login"),
        RuntimeError("a bug"),
    ],
)
async def test_other_errors_fail_the_run_only(error: Exception) -> None:
    halted: list[str] = []
    sup, hooks, runs = await _run_failing(error, halt=halted)
    assert runs == 4 and sup.exit_code is None and halted == []
    assert len(hooks.failed) == 4
