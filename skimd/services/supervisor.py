"""The supervisor: owns the scheduler, the job table and the daemon's life cycle.

Life cycle: ``start()`` registers every job of the table (gated by the market calendar),
starts the scheduler, tells systemd ``READY=1`` and raises the "daemon started" alert;
``stop(reason)`` tells systemd ``STOPPING=1``, stops new runs, waits for running jobs up to
``shutdown_timeout_s`` and cancels what is left, then raises "daemon stopping". The
watchdog ping is itself a scheduled job, so ``WATCHDOG=1`` goes out only while the scheduler
really is ticking: a wedged loop or scheduler stops the pings and systemd restarts us.

Job outcomes (ok / skipped / error / missed) are kept per job for ``skimd status`` and
reported through :class:`SupervisorHooks` (which turns problems into alerts and job_runs
rows). What an error that escapes a job does next follows its class (:mod:`skimd.errors`):
a ``FatalError`` or ``ConfigurationError`` asks the daemon to stop with the error's exit
code; a ``TradingHaltError`` locks the kill switch (through ``halt_trading``); anything
else fails that run only, and the job runs again on its schedule.

Jobs that need the broker session (``needs_session``) ask the :class:`SessionGate` before
each run: while the session is known to be down they are skipped (the gate alerted that
once), and a transient failure of theirs in that time is reported with its known cause,
so it is logged rather than alerted again. The gate hears when the daemon stops.

Background work that is not a scheduled job (the quote stream's watch,
:mod:`skimd.services.trading.streaming`) starts after the scheduler and stops first, before
the running jobs are waited for; the supervisor is idle only when it is idle too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

import structlog

from skimd.clock import Clock
from skimd.domain.calendar import MarketCalendar, MarketSession
from skimd.errors import (
    EX_SOFTWARE,
    ConfigurationError,
    FatalError,
    InvalidInputError,
    TradingHaltError,
    TransientError,
)
from skimd.services.jobs import Every, JobResult, JobSpec, JobTable, Window
from skimd.services.ports.scheduler import JobEvent, SchedulerPort, SdNotify

log = structlog.get_logger("skimd.supervisor")

CLOSING_AUCTION_MINUTES = 10


class SupervisorHooks(Protocol):
    """Where the supervisor's news goes (alerts, job_runs rows). Must not raise."""

    def daemon_started(self, jobs: list[str]) -> None: ...

    def daemon_stopping(self, reason: str) -> None: ...

    def job_finished(self, result: JobResult) -> None: ...

    def job_problem(
        self,
        kind: str,
        job_id: str,
        detail: str,
        *,
        scheduled_at: datetime | None = None,
        known_cause: str | None = None,
    ) -> None:
        """``kind`` is failed / missed / overrun. ``scheduled_at`` is the run's scheduled
        time (aware) when the scheduler reported it: always for a missed run, so the alert
        names the run that was missed rather than the moment we noticed. ``known_cause``:
        why a failure was expected (the broker session is down), already said elsewhere."""


class SessionGate(Protocol):
    """The broker session as the supervisor needs it (:mod:`skimd.services.broker_session`)."""

    async def hold(self) -> str | None:
        """Why a job that needs the session must not run now; None to run it."""
        ...

    def down_reason(self) -> str | None:
        """Why the session is known to be down now; None when it is not."""
        ...

    def daemon_stopped(self) -> None: ...


class BackgroundWork(Protocol):
    """A long-running task the supervisor starts and stops with the daemon."""

    def start(self) -> None: ...

    async def stop(self) -> None: ...

    def idle(self) -> bool:
        """True when it is doing nothing the clock should wait for."""
        ...


class LoggingHooks:
    """Hooks that only log; the alert-raising hooks wrap these."""

    def daemon_started(self, jobs: list[str]) -> None:
        log.info("daemon started", jobs=jobs)

    def daemon_stopping(self, reason: str) -> None:
        log.info("daemon stopping", reason=reason)

    def job_finished(self, result: JobResult) -> None:
        log.debug("job finished", job=result.job_id, outcome=result.outcome)

    def job_problem(
        self,
        kind: str,
        job_id: str,
        detail: str,
        *,
        scheduled_at: datetime | None = None,
        known_cause: str | None = None,
    ) -> None:
        (log.warning if known_cause else log.error)(
            "job problem",
            kind=kind,
            job=job_id,
            detail=detail,
            scheduled_at=scheduled_at.isoformat() if scheduled_at else None,
            known_cause=known_cause,
        )


class Supervisor:
    def __init__(
        self,
        *,
        clock: Clock,
        scheduler: SchedulerPort,
        calendar: MarketCalendar,
        jobs: JobTable,
        sd: SdNotify,
        hooks: SupervisorHooks,
        shutdown_timeout_s: float,
        watchdog_interval_s: float | None,
        status_interval_s: float,
        halt_trading: Callable[[str], object] | None = None,
        session: SessionGate | None = None,
        background: Sequence[BackgroundWork] = (),
    ) -> None:
        """``halt_trading(reason)`` locks the kill switch (and alerts); it is called when an
        error that halts trading escapes a job. Without it such errors are only logged.
        ``session``: the broker session gate; without one no job is ever held.
        ``background``: work started and stopped with the daemon (module docs)."""
        self._clock = clock
        self._scheduler = scheduler
        self._calendar = calendar
        self._jobs = jobs
        self._sd = sd
        self._hooks = hooks
        self._shutdown_timeout_s = shutdown_timeout_s
        self._skip_logged: dict[str, str] = {}
        self._stopped = asyncio.Event()
        self._stop_reason = ""
        self._exit_code: int | None = None
        self._halt_trading = halt_trading
        self._session = session
        self._background = tuple(background)
        self._held_logged: dict[str, str] = {}
        self._started = False
        self._add_internal_jobs(watchdog_interval_s, status_interval_s)
        self.results: dict[str, JobResult] = {s.id: JobResult(s.id) for s in jobs}

    # -- life cycle --------------------------------------------------------------------

    def start(self) -> None:
        for spec in self._jobs:
            self._scheduler.schedule(spec, self._gated(spec))
        self._scheduler.on_event(self._on_event)
        self._scheduler.start()
        for work in self._background:
            work.start()
        self._started = True
        trading = [s.id for s in self._jobs if not s.internal]
        self._sd.ready(f"running; {len(trading)} jobs scheduled")
        self._hooks.daemon_started(trading)

    def request_stop(self, reason: str, exit_code: int | None = None) -> None:
        """Ask for a graceful stop (signal handlers call this); idempotent: the first
        reason and the first exit code given are kept."""
        if not self._stop_reason:
            self._stop_reason = reason
        if self._exit_code is None and exit_code is not None:
            self._exit_code = exit_code
        self._stopped.set()

    @property
    def exit_code(self) -> int | None:
        """The exit code a fatal error asked for, or None (a requested, ordinary stop)."""
        return self._exit_code

    async def wait_for_stop_request(self) -> str:
        await self._stopped.wait()
        return self._stop_reason

    async def stop(self, reason: str | None = None) -> bool:
        """Stop within the deadline. True when every running job finished in time."""
        reason = reason or self._stop_reason or "stop requested"
        self._sd.stopping(f"stopping: {reason}")
        self._hooks.daemon_stopping(reason)
        if not self._started:
            return True
        self._scheduler.pause()
        for work in self._background:
            try:
                await work.stop()
            except Exception as exc:  # stopping goes on: the jobs still get their time
                log.error("background work did not stop", error=f"{type(exc).__name__}: {exc}")
        running = self._scheduler.running_tasks()
        clean = True
        if running:
            # A process-lifetime bound (systemd's TimeoutStopSec is wall time), not job logic.
            _, pending = await asyncio.wait(running, timeout=self._shutdown_timeout_s)
            for task in pending:
                task.cancel()
            if pending:
                clean = False
                log.warning("jobs cancelled at shutdown deadline", count=len(pending))
                await asyncio.gather(*pending, return_exceptions=True)
        self._scheduler.shutdown()
        self._started = False
        if self._session is not None:
            self._session.daemon_stopped()
        return clean

    def running_since(self, job_id: str) -> datetime | None:
        """When the run of ``job_id`` that is going now started; None when none is."""
        result = self.results.get(job_id)
        if result is None or result.started_at is None:
            return None
        if result.finished_at is not None and result.finished_at >= result.started_at:
            return None
        return result.started_at

    async def run_now(self, job_id: str) -> JobResult:
        """Run ``job_id`` once now (``skimd run-job``) through the scheduler, so it is gated
        like a scheduled run (a closed market skips it), never overlaps a run of its own, and
        its outcome is recorded and alerted the same way; its result when it is done.
        Raises InvalidInputError for an unknown job, TransientError when it is running
        already or the daemon is stopping."""
        if job_id not in self.results:
            raise InvalidInputError(f"no job named {job_id!r}")
        if not self._started:
            raise TransientError(f"job {job_id} not run: the daemon is not running its jobs")
        task = self._scheduler.run_now(job_id)
        if task is None:
            since = self.running_since(job_id)
            when = f" since {since.isoformat()}" if since else ""
            raise TransientError(f"job {job_id} is running already{when}; try again later")
        await asyncio.wait({task})  # a caller that goes away does not cancel the run
        return self.results[job_id]

    def idle(self) -> bool:
        """True when no job is running (the simulated clock waits for this between timers)."""
        if not all(work.idle() for work in self._background):
            return False
        return not self._scheduler.running_tasks()

    # -- status ------------------------------------------------------------------------

    @property
    def jobs(self) -> JobTable:
        return self._jobs

    def snapshot(self) -> list[dict[str, Any]]:
        out = []
        for spec in self._jobs:
            if spec.internal:
                continue
            result = self.results[spec.id]
            nxt = self._scheduler.next_run_time(spec.id) if self._started else None
            out.append(
                {
                    "job": spec.id,
                    "description": spec.description,
                    "last_outcome": result.outcome,
                    "last_message": result.message,
                    "last_finished_at": result.finished_at.isoformat()
                    if result.finished_at
                    else None,
                    "next_run": nxt.isoformat() if nxt else None,
                }
            )
        return out

    # -- internals ---------------------------------------------------------------------

    def _add_internal_jobs(self, watchdog_s: float | None, status_s: float) -> None:
        if watchdog_s is not None:
            seconds = _nice_interval(watchdog_s)
            self._jobs.add(
                JobSpec(
                    id="watchdog",
                    trigger=Every(seconds),
                    handler=self._watchdog,
                    description="systemd watchdog ping while the scheduler ticks",
                    market_hours=False,
                    misfire_grace_s=seconds,
                    internal=True,
                )
            )
        self._jobs.add(
            JobSpec(
                id="status_line",
                trigger=Every(_nice_interval(status_s)),
                handler=self._status_line,
                description="systemd STATUS= line",
                market_hours=False,
                misfire_grace_s=int(status_s),
                internal=True,
            )
        )

    async def _watchdog(self) -> None:
        self._sd.watchdog()

    async def _status_line(self) -> None:
        upcoming = [
            (t, spec.id)
            for spec in self._jobs
            if not spec.internal and (t := self._scheduler.next_run_time(spec.id)) is not None
        ]
        if upcoming:
            when, job_id = min(upcoming)
            self._sd.status(f"running; next {job_id} at {when:%a %H:%M:%S %Z}")
        else:
            self._sd.status("running; no trading job scheduled")

    def _gated(self, spec: JobSpec) -> Callable[[], Awaitable[object]]:
        async def run() -> object:
            now = self._clock.now().astimezone(self._calendar.zone)
            skip = self._skip_reason(spec, now)
            if skip is not None:
                self._note_skip(spec, now, skip)
                return None
            if spec.needs_session and self._session is not None:
                held = await self._session.hold()
                if held is not None:
                    self._note_held(spec, held)
                    return None
                if self._held_logged.pop(spec.id, None) is not None:
                    log.info("job resumed", job=spec.id)
            result = self.results[spec.id]
            result.started_at = self._clock.now()
            with structlog.contextvars.bound_contextvars(job=spec.id):
                try:
                    value = await spec.handler()
                except asyncio.CancelledError:
                    self._finish(result, "cancelled", "stopped at shutdown")
                    raise
                except Exception as exc:
                    self._finish(result, "error", f"{type(exc).__name__}: {exc}")
                    raise
            self._finish(result, "ok", "" if value is None else str(value))
            return value

        return run

    def _skip_reason(self, spec: JobSpec, now: datetime) -> str | None:
        if not spec.market_hours:
            return None
        session = self._calendar.session(now.date())
        if session is None:
            name = self._calendar.holiday_name(now.date()) or "closed"
            return f"market closed ({name})"
        if isinstance(spec.trigger, Every) and not _in_window(spec.trigger.window, session, now):
            return "outside its window"
        return None

    def _note_skip(self, spec: JobSpec, now: datetime, reason: str) -> None:
        key = f"{now.date()}:{reason}"
        if self._skip_logged.get(spec.id) != key:
            self._skip_logged[spec.id] = key
            if not spec.internal:
                log.info("job skipped", job=spec.id, reason=reason)
        result = self.results[spec.id]
        if (
            result.outcome != "ok"
            or result.finished_at is None
            or (result.finished_at.astimezone(self._calendar.zone).date() != now.date())
        ):
            result.outcome, result.message = "skipped", reason

    def _note_held(self, spec: JobSpec, reason: str) -> None:
        """Logged when the job starts waiting, not on every tick (the gate alerted it)."""
        if spec.id not in self._held_logged:
            self._held_logged[spec.id] = reason
            log.info("job paused", job=spec.id, reason=reason)
        self.results[spec.id].outcome, self.results[spec.id].message = "paused", reason

    def _finish(self, result: JobResult, outcome: str, message: str) -> None:
        result.finished_at = self._clock.now()
        result.outcome, result.message = outcome, message
        self._hooks.job_finished(result)

    def _on_event(self, event: JobEvent) -> None:
        at = event.scheduled_at
        if event.kind == "error":
            detail = f"{type(event.error).__name__}: {event.error}" if event.error else "error"
            self._hooks.job_problem(
                "failed",
                event.job_id,
                detail,
                scheduled_at=at,
                known_cause=self._known_cause(event.job_id, event.error),
            )
            self._apply_error_policy(event.job_id, event.error, detail)
        elif event.kind == "missed":
            when = f"{at.astimezone(self._calendar.zone):%H:%M:%S %Z}" if at else "?"
            detail = f"run due at {when} was missed"
            self.results[event.job_id].outcome = "missed"
            self.results[event.job_id].message = detail
            self._hooks.job_problem("missed", event.job_id, detail, scheduled_at=at)
        elif event.kind == "max_instances":
            self._hooks.job_problem(
                "overrun",
                event.job_id,
                "previous run still going; this run was skipped",
                scheduled_at=at,
            )

    def _known_cause(self, job_id: str, error: BaseException | None) -> str | None:
        """The session outage, for a transient failure of a job that needs the session
        while the gate knows it is down (the gate alerted the outage once)."""
        if self._session is None or not isinstance(error, TransientError):
            return None
        if not any(s.id == job_id and s.needs_session for s in self._jobs):
            return None
        return self._session.down_reason()

    def _apply_error_policy(self, job_id: str, error: BaseException | None, detail: str) -> None:
        """What the error's class says the daemon must do (see the module docstring)."""
        if isinstance(error, FatalError | ConfigurationError):
            log.critical("fatal error: stopping", job=job_id, error=detail)
            self.request_stop(f"job {job_id} failed: {detail}", exit_code=error.exit_code)
        elif isinstance(error, TradingHaltError):
            log.critical("trading halted", job=job_id, error=detail)
            if self._halt_trading is not None:
                try:
                    self._halt_trading(f"job {job_id} failed: {detail}")
                except Exception as exc:  # the halt is best effort; the failure is alerted
                    log.error("kill switch not locked", job=job_id, error=str(exc))
                    self.request_stop(
                        f"job {job_id} failed ({detail}) and the kill switch could not be "
                        f"locked ({type(exc).__name__}: {exc})",
                        exit_code=EX_SOFTWARE,
                    )


def _in_window(window: Window, session: MarketSession, now: datetime) -> bool:
    if window is Window.ANYTIME:
        return True
    if window is Window.SESSION:
        return session.is_open(now)
    cutoff = session.close_at.timestamp() - CLOSING_AUCTION_MINUTES * 60
    return session.open_at <= now and now.timestamp() < cutoff


def _nice_interval(seconds: float) -> int:
    """The largest divisor of 60 (or whole-minute divisor of 60) not above ``seconds``."""
    whole = max(1, int(seconds))
    if whole < 60:
        return max(d for d in (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30) if d <= whole)
    minutes = max(d for d in (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30) if d <= whole // 60)
    return minutes * 60
