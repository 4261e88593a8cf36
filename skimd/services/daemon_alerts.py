"""Supervisor and broker news as durable alerts.

Each hook writes its alert to the outbox in its own unit of work (so it survives a crash
and is delivered at least once by the OutboxSender) and wakes the sender. A job that keeps
failing alerts on its first failure (a warning), on its ``critical_after``-th in a row (the
critical one: the trader must look) and then every ``repeat_every`` consecutive failures,
not on every tick. The count of failures in a row lives in ``failures`` (the daemon keeps
it in its database's settings table), so a restart goes on counting instead of starting
again at one; a failure with a known cause (the broker session is down, and that was
alerted once already) is logged, not alerted or counted. A missed run alerts each time.
Runs skipped because the previous one was still going make one slow stretch, alerted once
with its count when the long run ends (or once while it is still going after
``overrun_alert_after_s``, so a hung job is not silent). Hooks never raise: an alert that
cannot be stored is logged and trading goes on.

:class:`AlertingBrokerEvents` is the broker's
:class:`~skimd.services.ports.broker.BrokerEvents`: session events go to the daemon's
session monitor (:mod:`skimd.services.broker_session`: one alert per outage, one when it is
restored, every transition recorded); rate-limit penalties become alerts, deduplicated per
condition episode.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import structlog

from skimd import __version__
from skimd.clock import Clock
from skimd.domain.alerts import (
    Alert,
    BrokerRateLimited,
    DaemonStarted,
    DaemonStopping,
    JobFailed,
    JobMissed,
    JobOverrun,
)
from skimd.services.jobs import JobResult
from skimd.services.supervisor import LoggingHooks

log = structlog.get_logger("skimd.alerts")

AlertSink = Callable[[Alert], None]


@dataclass
class _Stretch:
    """Runs of one job skipped while its run started at ``started_at`` went on."""

    started_at: datetime
    skipped: int = 0
    alerted: bool = False


class FailureCounts(Protocol):
    """Where each job's failures in a row are kept across restarts."""

    def load(self) -> Mapping[str, int]: ...

    def save(self, counts: Mapping[str, int], now: datetime) -> None: ...


class AlertingHooks(LoggingHooks):
    def __init__(
        self,
        sink: AlertSink,
        clock: Clock,
        *,
        broker: str,
        live_trading: bool,
        repeat_every: int = 10,
        critical_after: int = 3,
        overrun_alert_after_s: float = 60.0,
        record_run: Callable[[JobResult], None] | None = None,
        running_since: Callable[[str], datetime | None] | None = None,
        failures: FailureCounts | None = None,
    ) -> None:
        """``running_since(job_id)``: when the job's current run started (the supervisor
        knows); without it a stretch counts from its first skipped run. ``failures``: the
        counts of failures in a row kept across restarts (without it, this process's)."""
        self._sink = sink
        self._record_run = record_run
        self._clock = clock
        self._broker = broker
        self._live = live_trading
        self._repeat_every = repeat_every
        self._critical_after = critical_after
        self._overrun_after_s = overrun_alert_after_s
        self._running_since = running_since
        self._kept = failures
        self._failures: dict[str, int] = self._load_failures()
        self._stretches: dict[str, _Stretch] = {}

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
        if result.outcome == "ok" and self._failures.pop(result.job_id, None) is not None:
            self._keep_failures()
        stretch = self._stretches.pop(result.job_id, None)
        if stretch is not None:  # the long run ended: the stretch's one alert
            self._overrun_alert(result.job_id, stretch, finished=True)
        if self._record_run is not None:
            try:  # status reads these rows; a failed write must not stop the supervisor
                self._record_run(result)
            except Exception as exc:
                log.warning("job run not recorded", job=result.job_id, error=str(exc))

    def job_problem(
        self,
        kind: str,
        job_id: str,
        detail: str,
        *,
        scheduled_at: datetime | None = None,
        known_cause: str | None = None,
    ) -> None:
        super().job_problem(kind, job_id, detail, scheduled_at=scheduled_at)
        now = self._clock.now()
        if kind == "failed" and known_cause is not None:
            log.warning("job failed; not alerted", job=job_id, cause=known_cause)
        elif kind == "failed":
            count = self._failures.get(job_id, 0) + 1
            self._failures[job_id] = count
            self._keep_failures()
            if count in (1, self._critical_after) or count % self._repeat_every == 0:
                error_type, _, message = detail.partition(": ")
                self._emit(
                    JobFailed(
                        occurred_at=now,
                        job_id=job_id,
                        error_type=error_type or "Error",
                        message=message or detail,
                        consecutive_failures=count,
                        critical_after=self._critical_after,
                    )
                )
        elif kind == "missed":
            # The run's own time, not the moment the miss was noticed (which can be much
            # later after a stall); without one, all we know is "by now".
            due = scheduled_at.astimezone(UTC) if scheduled_at is not None else now
            late = max(0.0, (now - due).total_seconds())
            self._emit(JobMissed(occurred_at=now, job_id=job_id, scheduled_for=due, late_by_s=late))
        else:
            self._overran(job_id, now)

    def _load_failures(self) -> dict[str, int]:
        if self._kept is None:
            return {}
        try:
            return dict(self._kept.load())
        except Exception as exc:  # counting starts again; the daemon must start
            log.warning("job failure counts not read", error=f"{type(exc).__name__}: {exc}")
            return {}

    def _keep_failures(self) -> None:
        if self._kept is None:
            return
        try:
            self._kept.save(self._failures, self._clock.now())
        except Exception as exc:  # the count goes on in memory
            log.warning("job failure counts not kept", error=f"{type(exc).__name__}: {exc}")

    def _overran(self, job_id: str, now: datetime) -> None:
        stretch = self._stretches.get(job_id)
        if stretch is None:
            started = self._running_since(job_id) if self._running_since is not None else None
            stretch = self._stretches[job_id] = _Stretch(started or now)
        stretch.skipped += 1
        long = (now - stretch.started_at).total_seconds() >= self._overrun_after_s
        if long and not stretch.alerted:
            stretch.alerted = True
            self._overrun_alert(job_id, stretch, finished=False)

    def _overrun_alert(self, job_id: str, stretch: _Stretch, *, finished: bool) -> None:
        """One alert per stretch: when it is long, and when it ends unless that was said."""
        if finished and stretch.alerted:
            log.warning("job overrun ended", job=job_id, skipped_runs=stretch.skipped)
            return
        now = self._clock.now()
        self._emit(
            JobOverrun(
                occurred_at=now,
                job_id=job_id,
                skipped_runs=stretch.skipped,
                started_at=stretch.started_at.astimezone(UTC),
                ran_for_s=max(0.0, (now - stretch.started_at).total_seconds()),
                finished=finished,
            )
        )

    def _emit(self, alert: Alert) -> None:
        try:
            self._sink(alert)
        except Exception as exc:  # an alert must never stop the supervisor
            log.error("alert not stored", alert=alert.kind, error=f"{type(exc).__name__}: {exc}")


class SessionListener(Protocol):
    """Where the broker's session events go (:class:`~skimd.services.broker_session.
    BrokerSessionMonitor`)."""

    def lost(self, reason: str, retry_at: datetime | None = None) -> None: ...

    def competing(self, retry_at: datetime | None = None) -> None: ...

    def restored(self) -> None: ...

    def renewed(self, expires_at: datetime | None) -> None: ...


class AlertingBrokerEvents:
    """:class:`BrokerEvents` for the daemon: session events to ``session`` (which alerts
    once per outage and once when it ends), rate-limit penalties to durable alerts, once per
    condition episode.

    A broker may report a penalty on every call that meets it, so a condition is keyed by
    the endpoint class and an episode lasts while reports keep coming less than
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
        session: SessionListener,
        cooldown_s: float = 600.0,
    ) -> None:
        if cooldown_s < 0:
            raise ValueError("cooldown_s must not be negative")
        self._store = store
        self._clock = clock
        self._broker = broker
        self._session = session
        self._cooldown_s = cooldown_s
        self._last_seen: dict[tuple[str, str], datetime] = {}
        self._suppressed: dict[tuple[str, str], int] = {}

    def session_lost(self, reason: str, retry_at: datetime | None = None) -> None:
        self._forward("session_lost", lambda: self._session.lost(reason, retry_at))

    def session_competing(self, retry_at: datetime | None = None) -> None:
        self._forward("session_competing", lambda: self._session.competing(retry_at))

    def session_restored(self) -> None:
        self._forward("session_restored", self._session.restored)

    def session_renewed(self, expires_at: datetime | None) -> None:
        self._forward("session_renewed", lambda: self._session.renewed(expires_at))

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

    def _forward(self, event: str, call: Callable[[], None]) -> None:
        try:
            call()
        except Exception as exc:  # never into the broker: it is in the middle of a call
            log.error("broker event not handled", broker_event=event, error=f"{exc!r}")

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
