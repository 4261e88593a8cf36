"""APScheduler 3 on an injected Clock.

Stock APScheduler reads ``datetime.now`` to decide what is due and to detect misfires, and
arms its wake-up with the event loop's timer. :class:`ClockedScheduler` keeps everything
else of APScheduler (triggers with their DST handling, job store, instance limits, events
and listeners, job defaults) and takes those three things from a :class:`~skimd.clock.Clock`
instead, so production (SystemClock) and the demo/tests (SimulatedClock) run the same code.

Only coroutine jobs are supported: every skimd job is async and runs on the loop.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobExecutionEvent,
    JobSubmissionEvent,
)
from apscheduler.executors.base import BaseExecutor, MaxInstancesReachedError
from apscheduler.job import Job
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import STATE_PAUSED
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from skimd.clock import Clock, TimerHandle
from skimd.services.jobs import DailyAt, Every, Trigger
from skimd.services.ports.scheduler import JobEvent

_MAX_WAIT_S = 3600.0


class ClockedExecutor(BaseExecutor):
    """Runs coroutine jobs as tasks on the loop; misfires are judged on the Clock."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self._clock = clock
        self.running: set[Any] = set()

    def start(self, scheduler: Any, alias: str) -> None:
        super().start(scheduler, alias)
        self._loop = scheduler._eventloop

    def shutdown(self, wait: bool = True) -> None:
        # The supervisor waits for running jobs itself (with a deadline) before this.
        for task in list(self.running):
            task.cancel()

    def _do_submit_job(self, job: Job, run_times: list[datetime]) -> None:
        task = self._loop.create_task(self._run(job, run_times))
        self.running.add(task)

        def done(t: Any) -> None:
            self.running.discard(t)
            if t.cancelled():
                self._run_job_success(job.id, [])
            else:
                self._run_job_success(job.id, t.result())

        task.add_done_callback(done)

    async def _run(self, job: Job, run_times: list[datetime]) -> list[JobExecutionEvent]:
        events: list[JobExecutionEvent] = []
        alias = job._jobstore_alias
        for run_time in run_times:
            late = self._clock.now() - run_time
            if job.misfire_grace_time is not None and late > timedelta(
                seconds=job.misfire_grace_time
            ):
                events.append(JobExecutionEvent(EVENT_JOB_MISSED, job.id, alias, run_time))
                continue
            try:
                retval = await job.func(*job.args, **job.kwargs)
            except Exception:
                exc, tb = sys.exc_info()[1:]
                events.append(
                    JobExecutionEvent(
                        EVENT_JOB_ERROR,
                        job.id,
                        alias,
                        run_time,
                        exception=exc,
                        traceback="".join(traceback.format_tb(tb)),
                    )
                )
            else:
                events.append(
                    JobExecutionEvent(EVENT_JOB_EXECUTED, job.id, alias, run_time, retval=retval)
                )
        return events


class ClockedScheduler(AsyncIOScheduler):
    def __init__(self, clock: Clock, **options: Any) -> None:
        self._clock = clock
        self._timer: TimerHandle | None = None
        self.executor = ClockedExecutor(clock)
        super().__init__(executors={"default": self.executor}, **options)

    def now(self) -> datetime:
        return self._clock.now().astimezone(self.timezone)

    def add_spec_job(
        self, job_id: str, trigger: BaseTrigger, func: Callable[[], Any], **options: Any
    ) -> Job:
        """Add a job whose first run time is computed on the Clock, not the wall clock."""
        first = trigger.get_next_fire_time(None, self.now())
        return self.add_job(
            func, trigger=trigger, id=job_id, next_run_time=first, replace_existing=True, **options
        )

    def _start_timer(self, wait_seconds: float | None) -> None:
        self._stop_timer()
        if wait_seconds is not None:
            self._timer = self._clock.call_later(wait_seconds, self.wakeup)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _process_jobs(self) -> float | None:
        """Submit every due job and return the seconds until the next one (Clock time)."""
        if self.state == STATE_PAUSED:
            return None
        now = self.now()
        next_wakeup: datetime | None = None
        events: list[JobSubmissionEvent] = []
        with self._jobstores_lock:
            for alias, store in self._jobstores.items():
                for job in store.get_due_jobs(now):
                    run_times = job._get_run_times(now)
                    if run_times and job.coalesce:
                        run_times = run_times[-1:]
                    if run_times:
                        events.append(self._submit(job, alias, run_times))
                        following = job.trigger.get_next_fire_time(run_times[-1], now)
                        if following:
                            job._modify(next_run_time=following)
                            store.update_job(job)
                        else:
                            self.remove_job(job.id, alias)
                store_next = store.get_next_run_time()
                if store_next and (next_wakeup is None or store_next < next_wakeup):
                    next_wakeup = store_next
        for event in events:
            self._dispatch_event(event)
        if self.state == STATE_PAUSED or next_wakeup is None:
            return None
        # Subtract in UTC: two datetimes sharing one ZoneInfo subtract as wall-clock times,
        # which is wrong by an hour across a DST fall-back.
        wait = (next_wakeup.astimezone(UTC) - self._clock.now().astimezone(UTC)).total_seconds()
        return min(max(wait, 0.0), _MAX_WAIT_S)

    def _submit(self, job: Job, alias: str, run_times: list[datetime]) -> JobSubmissionEvent:
        try:
            self.executor.submit_job(job, run_times)
        except MaxInstancesReachedError:
            return JobSubmissionEvent(EVENT_JOB_MAX_INSTANCES, job.id, alias, run_times)
        return JobSubmissionEvent(EVENT_JOB_SUBMITTED, job.id, alias, run_times)


def build_trigger(trigger: Trigger, zone: ZoneInfo, now: datetime) -> BaseTrigger:
    """A market-zone APScheduler trigger for a job-table trigger (``now`` from the Clock)."""
    if isinstance(trigger, DailyAt):
        return CronTrigger(
            day_of_week="mon-fri",
            hour=trigger.at.hour,
            minute=trigger.at.minute,
            second=0,
            timezone=zone,
        )
    if isinstance(trigger, Every):
        s = trigger.seconds
        if s < 60 and 60 % s == 0:
            return CronTrigger(second=f"*/{s}", timezone=zone)
        if s % 60 == 0 and 60 % (s // 60) == 0:
            return CronTrigger(minute=f"*/{s // 60}", second=0, timezone=zone)
        return IntervalTrigger(seconds=s, timezone=zone, start_date=now + timedelta(seconds=s))
    raise TypeError(f"unknown trigger {trigger!r}")


def next_fire_time(trigger: Trigger, zone: ZoneInfo, after: datetime) -> datetime | None:
    """When ``trigger`` next fires at or after ``after`` (aware), by APScheduler's own
    trigger arithmetic, so ``skimd status`` predicts exactly what the scheduler will do."""
    fire: datetime | None = build_trigger(trigger, zone, after).get_next_fire_time(None, after)
    return fire


_EVENT_KINDS = {
    EVENT_JOB_EXECUTED: "executed",
    EVENT_JOB_ERROR: "error",
    EVENT_JOB_MISSED: "missed",
    EVENT_JOB_MAX_INSTANCES: "max_instances",
}


class SchedulerAdapter:
    """The supervisor's SchedulerPort over :class:`ClockedScheduler`.

    Job defaults follow DESIGN §4: coalesce, one instance, an explicit misfire grace (the
    library's 1 s would silently drop a job delayed by a slow neighbour); missed runs are
    reported through the event callback instead of vanishing.
    """

    def __init__(self, clock: Clock, zone: ZoneInfo, misfire_grace_s: int) -> None:
        self._clock = clock
        self._zone = zone
        self._scheduler = ClockedScheduler(
            clock,
            timezone=zone,
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": misfire_grace_s,
            },
        )

    @property
    def scheduler(self) -> ClockedScheduler:
        return self._scheduler

    def schedule(self, spec: Any, run: Callable[[], Any]) -> None:
        options: dict[str, Any] = {"name": spec.description}
        if spec.misfire_grace_s is not None:
            options["misfire_grace_time"] = spec.misfire_grace_s
        trigger = build_trigger(spec.trigger, self._zone, self._scheduler.now())
        self._scheduler.add_spec_job(spec.id, trigger, run, **options)

    def start(self) -> None:
        self._scheduler.start()

    def pause(self) -> None:
        self._scheduler.pause()

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def next_run_time(self, job_id: str) -> datetime | None:
        job = self._scheduler.get_job(job_id)
        return None if job is None else job.next_run_time

    def running_tasks(self) -> set[Any]:
        return set(self._scheduler.executor.running)

    def run_now(self, job_id: str) -> Any:
        job = self._scheduler.get_job(job_id)
        if job is None:
            return None
        executor = self._scheduler.executor
        before = set(executor.running)
        try:
            executor.submit_job(job, [self._scheduler.now()])
        except MaxInstancesReachedError:
            return None
        (task,) = executor.running - before
        return task

    def on_event(self, callback: Callable[[JobEvent], None]) -> None:
        def listener(event: Any) -> None:
            callback(
                JobEvent(
                    kind=_EVENT_KINDS[event.code],
                    job_id=event.job_id,
                    scheduled_at=_scheduled_at(event),
                    error=getattr(event, "exception", None),
                )
            )

        mask = 0
        for code in _EVENT_KINDS:
            mask |= code
        self._scheduler.add_listener(listener, mask)


def _scheduled_at(event: Any) -> datetime | None:
    """The run's scheduled time (aware, market zone): an execution event (executed, error,
    missed) carries one; a submission event (max_instances) carries the coalesced list,
    whose last entry is the run that was turned away."""
    at = getattr(event, "scheduled_run_time", None)
    if at is None:
        times = getattr(event, "scheduled_run_times", None) or ()
        at = times[-1] if times else None
    return at if isinstance(at, datetime) else None
