"""Supervisor news as durable alerts.

Each hook writes its alert to the outbox in its own unit of work (so it survives a crash
and is delivered at least once by the OutboxSender) and wakes the sender. A job that keeps
failing alerts on its first failure and then every ``repeat_every`` consecutive failures,
not on every tick; a missed or overrun run alerts each time (those are rare by nature).
Hooks never raise: an alert that cannot be stored is logged and trading goes on.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from skimd import __version__
from skimd.clock import Clock
from skimd.domain.alerts import Alert, DaemonStarted, DaemonStopping, JobFailed, JobMissed
from skimd.services.jobs import JobResult
from skimd.services.supervisor import LoggingHooks

log = structlog.get_logger("skimd.alerts")

AlertSink = Callable[[Alert], None]


class AlertingHooks(LoggingHooks):
    def __init__(
        self,
        sink: AlertSink,
        clock: Clock,
        *,
        broker: str,
        live_trading: bool,
        repeat_every: int = 10,
    ) -> None:
        self._sink = sink
        self._clock = clock
        self._broker = broker
        self._live = live_trading
        self._repeat_every = repeat_every
        self._failures: dict[str, int] = {}

    def daemon_started(self, jobs: list[str]) -> None:
        super().daemon_started(jobs)
        self._emit(
            DaemonStarted(
                occurred_at=self._clock.now(),
                version=__version__,
                broker=self._broker,
                live_trading=self._live,
            )
        )

    def daemon_stopping(self, reason: str) -> None:
        super().daemon_stopping(reason)
        self._emit(DaemonStopping(occurred_at=self._clock.now(), reason=reason))

    def job_finished(self, result: JobResult) -> None:
        super().job_finished(result)
        if result.outcome == "ok":
            self._failures.pop(result.job_id, None)

    def job_problem(self, kind: str, job_id: str, detail: str) -> None:
        super().job_problem(kind, job_id, detail)
        now = self._clock.now()
        if kind == "failed":
            count = self._failures.get(job_id, 0) + 1
            self._failures[job_id] = count
            if count == 1 or count % self._repeat_every == 0:
                error_type, _, message = detail.partition(": ")
                self._emit(
                    JobFailed(
                        occurred_at=now,
                        job_id=job_id,
                        error_type=error_type or "Error",
                        message=message or detail,
                        consecutive_failures=count,
                    )
                )
        else:
            self._emit(
                JobMissed(occurred_at=now, job_id=job_id, scheduled_for=now, late_by_s=0.0)
                if kind == "missed"
                else JobFailed(occurred_at=now, job_id=job_id, error_type="Overrun", message=detail)
            )

    def _emit(self, alert: Alert) -> None:
        try:
            self._sink(alert)
        except Exception as exc:  # an alert must never stop the supervisor
            log.error("alert not stored", alert=alert.kind, error=f"{type(exc).__name__}: {exc}")
