"""The supervisor on a simulated clock: DST, holidays, windows, failures, misses, stop."""

from __future__ import annotations

import asyncio
import itertools
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from skimd.clock import SimulatedClock
from skimd.errors import BrokerSessionError
from skimd.infrastructure.calendar import AsxCalendar
from skimd.infrastructure.scheduling import SchedulerAdapter
from skimd.services.jobs import DailyAt, Every, JobResult, JobSpec, JobTable, Window
from skimd.services.supervisor import Supervisor

SYD = ZoneInfo("Australia/Sydney")


class RecordingSd:
    def __init__(self) -> None:
        self.messages: list[str] = []

    def ready(self, status: str) -> bool:
        self.messages.append("READY=1")
        return True

    def status(self, status: str) -> bool:
        self.messages.append(f"STATUS={status}")
        return True

    def watchdog(self) -> bool:
        self.messages.append("WATCHDOG=1")
        return True

    def stopping(self, status: str) -> bool:
        self.messages.append("STOPPING=1")
        return True


class RecordingHooks:
    def __init__(self) -> None:
        self.problems: list[tuple[str, str, str]] = []
        self.scheduled: list[datetime | None] = []
        self.finished: list[JobResult] = []
        self.lifecycle: list[str] = []

    def daemon_started(self, jobs: list[str]) -> None:
        self.lifecycle.append("started")

    def daemon_stopping(self, reason: str) -> None:
        self.lifecycle.append(f"stopping:{reason}")

    def job_finished(self, result: JobResult) -> None:
        self.finished.append(result)

    def job_problem(
        self,
        kind: str,
        job_id: str,
        detail: str,
        *,
        scheduled_at: datetime | None = None,
        known_cause: str | None = None,
    ) -> None:
        self.problems.append((kind, job_id, detail))
        self.scheduled.append(scheduled_at)


def make_supervisor(
    clock: SimulatedClock, table: JobTable, *, watchdog_s: float | None = None, timeout: float = 5.0
) -> tuple[Supervisor, RecordingSd, RecordingHooks]:
    sd, hooks = RecordingSd(), RecordingHooks()
    sup = Supervisor(
        clock=clock,
        scheduler=SchedulerAdapter(clock, SYD, misfire_grace_s=30),
        calendar=AsxCalendar("Australia/Sydney"),
        jobs=table,
        sd=sd,
        hooks=hooks,
        shutdown_timeout_s=timeout,
        watchdog_interval_s=watchdog_s,
        status_interval_s=3600,
    )
    return sup, sd, hooks


def local(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SYD)


async def run_span(sup: Supervisor, clock: SimulatedClock, until: datetime) -> None:
    sup.start()
    await clock.run_until(until, settle=sup.idle)
    await sup.stop("test over")


def recorder(clock: SimulatedClock, fired: list[datetime]):
    async def handler() -> None:
        fired.append(clock.now().astimezone(SYD))

    return handler


@pytest.mark.parametrize(
    ("start", "end", "dst_change"),
    [
        (local(2026, 10, 1), local(2026, 10, 7), "AEST→AEDT on Sun 4 Oct 2026"),
        (local(2026, 4, 1), local(2026, 4, 10), "AEDT→AEST on Sun 5 Apr 2026"),
    ],
)
async def test_daily_job_fires_at_ten_sydney_on_both_sides_of_dst(
    start: datetime, end: datetime, dst_change: str
) -> None:
    clock = SimulatedClock(start)
    fired: list[datetime] = []
    table = JobTable()
    table.add(
        JobSpec("at_ten", DailyAt(time(10, 0)), recorder(clock, fired), "test", market_hours=False)
    )
    sup, _, _ = make_supervisor(clock, table)
    await run_span(sup, clock, end)
    assert fired, dst_change
    assert all((f.hour, f.minute) == (10, 0) for f in fired)
    offsets = {f.utcoffset() for f in fired}
    assert len(offsets) == 2, f"expected both UTC offsets across {dst_change}: {fired}"
    assert all(f.weekday() < 5 for f in fired)


async def test_market_hours_job_never_fires_on_asx_holidays() -> None:
    clock = SimulatedClock(local(2026, 12, 23, 9, 0))
    fired: list[datetime] = []
    table = JobTable()
    table.add(JobSpec("scan", DailyAt(time(10, 5)), recorder(clock, fired), "test scan"))
    sup, _, _ = make_supervisor(clock, table)
    await run_span(sup, clock, local(2026, 12, 30, 18, 0))
    days = [f.date() for f in fired]
    # 25 Dec (Christmas) and 28 Dec (Boxing Day observed) are ASX holidays.
    assert days == [date(2026, 12, 23), date(2026, 12, 24), date(2026, 12, 29), date(2026, 12, 30)]
    assert sup.results["scan"].outcome == "ok"


async def test_skipped_holiday_is_reported_not_run() -> None:
    clock = SimulatedClock(local(2026, 4, 24, 9, 0))  # Friday; ANZAC Day 2026 is a Saturday
    fired: list[datetime] = []
    table = JobTable()
    table.add(JobSpec("scan", DailyAt(time(10, 5)), recorder(clock, fired), "test"))
    sup, _, _ = make_supervisor(clock, table)
    # Good Friday 2026 is 3 April: start that morning.
    clock2 = SimulatedClock(local(2026, 4, 3, 9, 0))
    table2 = JobTable()
    fired2: list[datetime] = []
    table2.add(JobSpec("scan", DailyAt(time(10, 5)), recorder(clock2, fired2), "test"))
    sup2, _, _ = make_supervisor(clock2, table2)
    await run_span(sup2, clock2, local(2026, 4, 3, 12, 0))
    assert fired2 == []
    assert sup2.results["scan"].outcome == "skipped"
    assert "Good Friday" in sup2.results["scan"].message
    del sup, fired


async def test_windowed_job_runs_only_inside_the_session_and_early_close() -> None:
    clock = SimulatedClock(local(2026, 12, 24, 9, 50))  # Christmas Eve: closes 14:10
    fired: list[datetime] = []
    table = JobTable()
    table.add(
        JobSpec("poll", Every(600, Window.BEFORE_CLOSING_AUCTION), recorder(clock, fired), "poll")
    )
    sup, _, _ = make_supervisor(clock, table)
    await run_span(sup, clock, local(2026, 12, 24, 16, 30))
    assert fired[0] == local(2026, 12, 24, 10, 0)
    assert fired[-1] == local(2026, 12, 24, 13, 50)  # 14:00 is inside the closing auction
    assert len(fired) == 24  # 10:00, 10:10, ... 13:50


async def test_failed_job_is_reported_and_supervisor_keeps_running() -> None:
    clock = SimulatedClock(local(2026, 11, 24, 9, 0))
    calls: list[int] = []

    async def boom() -> None:
        calls.append(1)
        raise RuntimeError("scanner exploded")

    table = JobTable()
    table.add(JobSpec("boom", Every(60), boom, "fails", market_hours=False))
    sup, _, hooks = make_supervisor(clock, table)
    await run_span(sup, clock, local(2026, 11, 24, 9, 5))
    assert len(calls) == 6  # 09:00 through 09:05 inclusive
    assert hooks.problems[0] == ("failed", "boom", "RuntimeError: scanner exploded")
    assert sup.results["boom"].outcome == "error"


async def test_missed_run_is_reported() -> None:
    clock = SimulatedClock(local(2026, 11, 24, 9, 0))
    fired: list[datetime] = []
    table = JobTable()
    table.add(
        JobSpec(
            "late",
            DailyAt(time(9, 30)),
            recorder(clock, fired),
            "late",
            market_hours=False,
            misfire_grace_s=5,
        )
    )
    sup, _, hooks = make_supervisor(clock, table)
    sup.start()
    # The loop is blocked past the grace time: jump the clock without firing timers.
    clock._offset += 45 * 60  # simulate a stalled process
    await clock.run_until(local(2026, 11, 24, 9, 50), settle=sup.idle)
    await sup.stop()
    assert fired == []
    assert hooks.problems and hooks.problems[0][0:2] == ("missed", "late")
    assert sup.results["late"].outcome == "missed"
    # The hooks learn the run's own time (09:30), not the time the miss was noticed (09:45).
    assert hooks.scheduled[0] == local(2026, 11, 24, 9, 30)
    assert hooks.problems[0][2] == "run due at 09:30:00 AEDT was missed"


async def test_overlapping_run_is_reported_as_overrun() -> None:
    clock = SimulatedClock(local(2026, 11, 24, 9, 0))
    gate = asyncio.Event()

    async def slow() -> None:
        await gate.wait()

    table = JobTable()
    table.add(JobSpec("slow", Every(60), slow, "slow", market_hours=False))
    sup, _, hooks = make_supervisor(clock, table)
    sup.start()
    await clock.run_until(local(2026, 11, 24, 9, 2), settle=lambda: True)
    gate.set()
    await clock.run_until(local(2026, 11, 24, 9, 3), settle=sup.idle)
    await sup.stop()
    assert ("overrun", "slow") in [(k, j) for k, j, _ in hooks.problems]
    overrun_at = hooks.scheduled[[k for k, _, _ in hooks.problems].index("overrun")]
    assert overrun_at is not None and overrun_at.second == 0  # the turned-away run's time
    assert local(2026, 11, 24, 9, 1) <= overrun_at <= local(2026, 11, 24, 9, 3)


async def test_stop_cancels_a_hung_job_at_the_deadline() -> None:
    clock = SimulatedClock(local(2026, 11, 24, 9, 59))
    started = asyncio.Event()

    async def hang() -> None:
        started.set()
        await asyncio.Event().wait()

    table = JobTable()
    table.add(JobSpec("hang", DailyAt(time(10, 0)), hang, "hangs", market_hours=False))
    sup, sd, hooks = make_supervisor(clock, table, timeout=0.05)
    sup.start()
    # Settled means "nothing running, or the hung job has started". ``started.is_set``
    # alone never holds before 10:00 (only a clock move can start the job), so the clock
    # would spend its whole settle budget at 09:59 before moving on.
    await clock.run_until(local(2026, 11, 24, 10, 1), settle=lambda: sup.idle() or started.is_set())
    assert started.is_set()
    assert not sup.idle()
    clean = await sup.stop("SIGTERM")
    assert clean is False
    assert sup.idle()
    assert sup.results["hang"].outcome == "cancelled"
    assert sd.messages[0] == "READY=1" and "STOPPING=1" in sd.messages
    assert hooks.lifecycle == ["started", "stopping:SIGTERM"]


async def test_watchdog_pings_only_while_the_scheduler_ticks() -> None:
    clock = SimulatedClock(local(2026, 11, 24, 9, 0))
    sup, sd, _ = make_supervisor(clock, JobTable(), watchdog_s=10)
    sup.start()
    await clock.run_until(local(2026, 11, 24, 9, 1), settle=sup.idle)
    pings = sd.messages.count("WATCHDOG=1")
    assert pings == 7  # 09:00:00 through 09:01:00 every 10 s
    await sup.stop()
    clock.advance(600)
    await asyncio.sleep(0)
    assert sd.messages.count("WATCHDOG=1") == pings  # stopped scheduler: no more pings
    assert sd.messages[-1] == "STOPPING=1"


async def test_interval_job_runs_through_the_repeated_fall_back_hour() -> None:
    """Regression: wall-clock subtraction across the fold once left no timer armed."""
    clock = SimulatedClock(local(2026, 4, 5, 1, 0))
    fired: list[datetime] = []
    table = JobTable()
    table.add(JobSpec("half_hourly", Every(1800), recorder(clock, fired), "t", market_hours=False))
    sup, _, _ = make_supervisor(clock, table)
    await run_span(sup, clock, local(2026, 4, 5, 4, 0))
    utc_hours = [f.astimezone(ZoneInfo("UTC")) for f in fired]
    assert len(fired) == 9  # 01:00 … 04:00 local is 4 real hours in 30-minute steps + 1
    assert all(b - a == utc_hours[1] - utc_hours[0] for a, b in itertools.pairwise(utc_hours))
    assert [f.fold for f in fired].count(1) == 2  # 02:00 and 02:30 happen twice


class Gate:
    """A session gate that says the session is down inside ``[down_from, down_until)``."""

    def __init__(self, clock: SimulatedClock, down_from: datetime, down_until: datetime) -> None:
        self.clock, self.down_from, self.down_until = clock, down_from, down_until
        self.stopped = 0

    def down_reason(self) -> str | None:
        now = self.clock.now()
        return "session lost" if self.down_from <= now < self.down_until else None

    async def hold(self) -> str | None:
        return self.down_reason()

    def daemon_stopped(self) -> None:
        self.stopped += 1


async def test_jobs_that_need_the_session_wait_while_it_is_down_and_others_run() -> None:
    clock = SimulatedClock(local(2026, 11, 24, 10, 0))
    data: list[datetime] = []
    plumbing: list[datetime] = []
    table = JobTable()
    watch = recorder(clock, data)
    table.add(JobSpec("watch", Every(5), watch, "t", market_hours=False, needs_session=True))
    table.add(JobSpec("outbox", Every(5), recorder(clock, plumbing), "t", market_hours=False))
    sd, hooks = RecordingSd(), RecordingHooks()
    gate = Gate(clock, local(2026, 11, 24, 10, 1), local(2026, 11, 24, 10, 2))
    sup = Supervisor(
        clock=clock,
        scheduler=SchedulerAdapter(clock, SYD, misfire_grace_s=30),
        calendar=AsxCalendar("Australia/Sydney"),
        jobs=table,
        sd=sd,
        hooks=hooks,
        shutdown_timeout_s=5,
        watchdog_interval_s=None,
        status_interval_s=3600,
        session=gate,
    )
    await run_span(sup, clock, local(2026, 11, 24, 10, 3))
    down = [t for t in data if gate.down_from <= t < gate.down_until]
    assert down == [] and len(data) == 2 * 12 + 1  # 10:00-10:01 and 10:02-10:03 only
    assert len(plumbing) == 3 * 12 + 1  # housekeeping never waits
    assert sup.results["watch"].outcome == "ok"
    assert gate.stopped == 1


async def test_a_transient_failure_during_a_known_outage_carries_its_cause() -> None:
    clock = SimulatedClock(local(2026, 11, 24, 10, 0))
    table = JobTable()

    async def no_bridge() -> None:
        raise BrokerSessionError("Bad Request: no bridge")

    async def bug() -> None:
        raise RuntimeError("a bug")

    table.add(JobSpec("watch", Every(60), no_bridge, "t", market_hours=False, needs_session=True))
    table.add(JobSpec("sync", Every(60), bug, "t", market_hours=False, needs_session=True))
    hooks = RecordingCauses()
    sup = Supervisor(
        clock=clock,
        scheduler=SchedulerAdapter(clock, SYD, misfire_grace_s=30),
        calendar=AsxCalendar("Australia/Sydney"),
        jobs=table,
        sd=RecordingSd(),
        hooks=hooks,
        shutdown_timeout_s=5,
        watchdog_interval_s=None,
        status_interval_s=3600,
        session=FlakyGate(),
    )
    await run_span(sup, clock, local(2026, 11, 24, 10, 0).replace(second=30))
    assert ("watch", "session lost") in hooks.causes  # a session error while it is down
    assert ("sync", None) in hooks.causes  # not a transient error: alerted as ever


class FlakyGate(Gate):
    """Lets every job run, but knows the session is down (the job finds out itself)."""

    def __init__(self) -> None:
        self.stopped = 0

    def down_reason(self) -> str | None:
        return "session lost"

    async def hold(self) -> str | None:
        return None


class RecordingCauses(RecordingHooks):
    def __init__(self) -> None:
        super().__init__()
        self.causes: list[tuple[str, str | None]] = []

    def job_problem(
        self,
        kind: str,
        job_id: str,
        detail: str,
        *,
        scheduled_at: datetime | None = None,
        known_cause: str | None = None,
    ) -> None:
        self.causes.append((job_id, known_cause))
