"""``skimd run-job``'s engine: Supervisor.run_now goes through the scheduler, so a run made
now is gated, never overlaps its own, and is reported like a scheduled one."""

from __future__ import annotations

import asyncio
from datetime import time

import pytest

from skimd.clock import SimulatedClock
from skimd.errors import InvalidInputError, TransientError
from skimd.services.jobs import DailyAt, JobSpec, JobTable
from tests.unit.foundation.test_supervisor import local, make_supervisor

AT_NOON = DailyAt(time(12, 0))


async def test_a_job_run_now_is_reported_like_a_scheduled_run() -> None:
    clock = SimulatedClock(local(2026, 11, 24, 9, 40))  # a trading day, before the open
    ran: list[str] = []

    async def sync() -> str:
        ran.append("sync")
        return "2 fills"

    async def broken() -> None:
        raise RuntimeError("broker said no")

    table = JobTable()
    table.add(JobSpec("sync", AT_NOON, sync, "position sync", market_hours=False))
    table.add(JobSpec("broken", AT_NOON, broken, "fails", market_hours=False))
    sup, _, hooks = make_supervisor(clock, table)
    sup.start()
    try:
        result = await sup.run_now("sync")
        failed = await sup.run_now("broken")
    finally:
        await sup.stop("test over")
    assert ran == ["sync"]
    assert (result.outcome, result.message) == ("ok", "2 fills")
    assert result.finished_at == clock.now()
    assert [r.job_id for r in hooks.finished] == ["sync", "broken"]
    assert failed.outcome == "error" and "broker said no" in failed.message
    assert [(k, j) for k, j, _ in hooks.problems] == [("failed", "broken")]


async def test_a_market_hours_job_run_now_on_a_holiday_is_skipped_not_run() -> None:
    clock = SimulatedClock(local(2026, 12, 25, 11, 0))  # Christmas: the ASX is closed
    ran: list[str] = []

    async def scan() -> None:
        ran.append("scan")

    table = JobTable()
    table.add(JobSpec("scan", AT_NOON, scan, "gap scan"))
    sup, _, _ = make_supervisor(clock, table)
    sup.start()
    try:
        result = await sup.run_now("scan")
    finally:
        await sup.stop("test over")
    assert ran == []
    assert result.outcome == "skipped" and "market closed" in result.message


async def test_a_job_already_running_is_not_started_twice() -> None:
    clock = SimulatedClock(local(2026, 11, 24, 11, 0))
    release = asyncio.Event()
    starts: list[int] = []

    async def slow() -> None:
        starts.append(1)
        await release.wait()

    table = JobTable()
    table.add(JobSpec("slow", AT_NOON, slow, "takes a while", market_hours=False))
    sup, _, _ = make_supervisor(clock, table)
    sup.start()
    try:
        first = asyncio.create_task(sup.run_now("slow"))
        while not starts:
            await asyncio.sleep(0)
        with pytest.raises(TransientError, match="slow is running already since"):
            await sup.run_now("slow")
        release.set()
        result = await first
    finally:
        await sup.stop("test over")
    assert starts == [1] and result.outcome == "ok"


async def test_unknown_jobs_and_a_daemon_not_running_its_jobs_are_refused() -> None:
    clock = SimulatedClock(local(2026, 11, 24, 11, 0))

    async def noop() -> None:
        return None

    table = JobTable()
    table.add(JobSpec("sync", AT_NOON, noop, "sync", market_hours=False))
    sup, _, _ = make_supervisor(clock, table)
    with pytest.raises(TransientError, match="not running its jobs"):
        await sup.run_now("sync")
    with pytest.raises(InvalidInputError, match="no job named 'nope'"):
        await sup.run_now("nope")
