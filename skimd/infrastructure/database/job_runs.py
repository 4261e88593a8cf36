"""Job runs in the database: what ``skimd status`` (another process) reads as "last run".

A job that runs every few seconds would otherwise write a row per run (the demo's wall
time doubled when it did): its row is refreshed at most once per ``every_s`` while its
outcome stays the same. Daily jobs keep a history row per run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta

from skimd.services.jobs import DailyAt, JobResult, PlannedJob

from .session import UnitOfWork

UnitOfWorkFactory = Callable[..., AbstractContextManager[UnitOfWork]]

RUN_RECORD_EVERY_S = 60  # how stale a frequent job's "last run" row may get in skimd status


class JobRunRecorder:
    """``record_run`` for the supervisor's hooks: planned, non-internal jobs only."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        plan: Sequence[PlannedJob],
        every_s: float = RUN_RECORD_EVERY_S,
    ) -> None:
        self._uow = unit_of_work
        self._daily = {j.id for j in plan if not j.internal and isinstance(j.trigger, DailyAt)}
        self._recorded = {j.id for j in plan if not j.internal}
        self._every = timedelta(seconds=every_s)
        self._last_written: dict[str, tuple[datetime, str]] = {}

    def __call__(self, result: JobResult) -> None:
        if result.job_id not in self._recorded or result.started_at is None:
            return
        daily = result.job_id in self._daily
        previous = self._last_written.get(result.job_id)
        if (
            not daily
            and previous is not None
            and previous[1] == result.outcome
            and result.started_at - previous[0] < self._every
        ):
            return
        self._last_written[result.job_id] = (result.started_at, result.outcome)
        with self._uow() as uow:
            uow.job_runs.record(
                result.job_id,
                result.started_at,
                result.finished_at,
                result.outcome,
                result.message or None,
                keep_history=daily,
            )


FAILURES_KEY = "daemon.job_failures"  # the settings table's row: {job_id: failures in a row}


class JobFailureCounts:
    """The supervisor's hooks' count of each job's failures in a row, kept in the settings
    table (beside the broker session record), so a restart goes on counting."""

    def __init__(self, unit_of_work: UnitOfWorkFactory) -> None:
        self._uow = unit_of_work

    def load(self) -> dict[str, int]:
        with self._uow(read_only=True) as uow:
            stored = uow.settings.resolve(FAILURES_KEY, {})
        if not isinstance(stored, dict):
            return {}
        return {str(k): int(v) for k, v in stored.items() if isinstance(v, int) and v > 0}

    def save(self, counts: Mapping[str, int], now: datetime) -> None:
        with self._uow() as uow:
            uow.settings.set_user(FAILURES_KEY, dict(sorted(counts.items())), now)


def read_last_runs(unit_of_work: UnitOfWorkFactory, job_ids: Sequence[str]) -> dict[str, JobResult]:
    """The last recorded run of each job that has one (read-only unit of work)."""
    found: dict[str, JobResult] = {}
    with unit_of_work(read_only=True) as uow:
        for job_id in job_ids:
            row = uow.job_runs.last(job_id)
            if row is not None:
                found[job_id] = JobResult(
                    job_id=job_id,
                    started_at=row.started_at,
                    finished_at=row.finished_at,
                    outcome=row.outcome or "unfinished",
                    message=row.message or "",
                )
    return found
