"""Supervisor and broker news as durable alerts.

Each hook writes its alert to the outbox in its own unit of work (so it survives a crash
and is delivered at least once by the OutboxSender) and wakes the sender. A job that keeps
failing alerts on its first failure and then every ``repeat_every`` consecutive failures,
not on every tick; a missed or overrun run alerts each time (those are rare by nature).
Hooks never raise: an alert that cannot be stored is logged and trading goes on.

:class:`AlertingBrokerEvents` does the same for the broker's
:class:`~skimd.services.ports.broker.BrokerEvents` (session lost, competing
login, rate-limit penalty), deduplicated per condition episode.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import structlog

from skimd import __version__
from skimd.clock import Clock
from skimd.domain.alerts import (
    Alert,
    BrokerRateLimited,
    BrokerSessionLost,
    DaemonStarted,
    DaemonStopping,
    JobFailed,
    JobMissed,
)
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
        record_run: Callable[[JobResult], None] | None = None,
    ) -> None:
        self._sink = sink
        self._record_run = record_run
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
        if self._record_run is not None:
            try:  # status reads these rows; a failed write must not stop the supervisor
                self._record_run(result)
            except Exception as exc:
                log.warning("job run not recorded", job=result.job_id, error=str(exc))

    def job_problem(
        self, kind: str, job_id: str, detail: str, *, scheduled_at: datetime | None = None
    ) -> None:
        super().job_problem(kind, job_id, detail, scheduled_at=scheduled_at)
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
        elif kind == "missed":
            # The run's own time, not the moment the miss was noticed (which can be much
            # later after a stall); without one, all we know is "by now".
            due = scheduled_at.astimezone(UTC) if scheduled_at is not None else now
            late = max(0.0, (now - due).total_seconds())
            self._emit(JobMissed(occurred_at=now, job_id=job_id, scheduled_for=due, late_by_s=late))
        else:
            self._emit(
                JobFailed(occurred_at=now, job_id=job_id, error_type="Overrun", message=detail)
            )

    def _emit(self, alert: Alert) -> None:
        try:
            self._sink(alert)
        except Exception as exc:  # an alert must never stop the supervisor
            log.error("alert not stored", alert=alert.kind, error=f"{type(exc).__name__}: {exc}")


COMPETING_REASON = "another login is competing for the brokerage session"


class AlertingBrokerEvents:
    """:class:`BrokerEvents` that become durable alerts, once per condition episode.

    A broker reports a condition on every call that meets it (each failing request of a
    dead session says ``session_lost``), and the protocol has no "restored" callback. So a
    condition is keyed by (kind, reason) — the reason for ``session_lost``, the endpoint
    class for ``rate_limited`` — and an episode lasts while reports keep coming less than
    ``cooldown_s`` apart on the Clock: its first report alerts, the rest are counted and
    logged at debug. A report after ``cooldown_s`` of quiet starts a new episode and
    alerts again.

    Called synchronously from inside broker calls: it does one ``store`` call at most and
    never raises. A failing store is logged and still counts as the episode's alert, so a
    broken database cannot turn every broker call into another slow store attempt.
    """

    def __init__(
        self,
        store: AlertSink,
        clock: Clock,
        *,
        broker: str,
        cooldown_s: float = 600.0,
    ) -> None:
        if cooldown_s < 0:
            raise ValueError("cooldown_s must not be negative")
        self._store = store
        self._clock = clock
        self._broker = broker
        self._cooldown_s = cooldown_s
        self._last_seen: dict[tuple[str, str], datetime] = {}
        self._suppressed: dict[tuple[str, str], int] = {}

    def session_lost(self, reason: str, retry_at: datetime | None = None) -> None:
        self._report(
            ("session_lost", reason),
            lambda now: BrokerSessionLost(occurred_at=now, broker=self._broker, reason=reason),
        )

    def session_competing(self, retry_at: datetime | None = None) -> None:
        self._report(
            ("session_competing", ""),
            lambda now: BrokerSessionLost(
                occurred_at=now,
                broker=self._broker,
                reason=COMPETING_REASON,
                taken_by_other_login=True,
            ),
        )

    def session_restored(self) -> None:
        log.info("broker session restored", broker=self._broker)

    def session_renewed(self, expires_at: datetime | None) -> None:
        log.info("broker session renewed", broker=self._broker, expires_at=expires_at)

    def rate_limited(self, endpoint_class: str, until: datetime) -> None:
        self._report(
            ("rate_limited", endpoint_class),
            lambda now: BrokerRateLimited(
                occurred_at=now,
                broker=self._broker,
                endpoint_class=endpoint_class,
                until=until.astimezone(UTC),
            ),
        )

    def _report(self, key: tuple[str, str], build: Callable[[datetime], Alert]) -> None:
        try:
            now = self._clock.now()
            last = self._last_seen.get(key)
            self._last_seen[key] = now
            if last is not None and (now - last).total_seconds() < self._cooldown_s:
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                log.debug("broker event deduplicated", broker_event=key[0], detail=key[1])
                return
            self._forget_quiet(now)
            repeats = self._suppressed.pop(key, 0)
            alert = build(now)
            log.warning(
                "broker event", broker_event=key[0], detail=key[1], previous_repeats=repeats
            )
            self._store(alert)
        except Exception as exc:  # never into the broker: it is in the middle of a call
            log.error(
                "broker event alert not stored",
                broker_event=key[0],
                error=f"{type(exc).__name__}: {exc}",
            )

    def _forget_quiet(self, now: datetime) -> None:
        """Drop episodes that have been quiet for a cool-down (bounds the table)."""
        for key, seen in list(self._last_seen.items()):
            if (now - seen).total_seconds() >= self._cooldown_s:
                del self._last_seen[key]
                self._suppressed.pop(key, None)
