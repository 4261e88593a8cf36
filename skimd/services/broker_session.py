"""The daemon's view of the broker session: what it knows, what it records, when it pauses.

Inputs are the broker's session events (:class:`~skimd.services.ports.broker.BrokerEvents`,
forwarded by :class:`~skimd.services.daemon_alerts.AlertingBrokerEvents`), the jobs' own
observations (a health check, a :class:`~skimd.errors.BrokerSessionError` met by a job) and,
while the session is down, a status check of our own (the probe).

- **Down** (lost, or taken by another login): the first report of an outage records it,
  raises ONE alert — the reason, until when the market-data and order jobs wait (the
  broker's next restore attempt, when it says), and every open position with what still
  protects it (a resting stop at the broker keeps working; the software stop cannot act
  while the jobs wait) — and from then on :meth:`hold` tells the supervisor to skip the
  jobs that need the session. Further reports of the same outage only update the record
  (a new retry time, lost becoming competing); they are not alerted again.
- **Restored**: ``session_restored`` from the broker, or a health check that finds the
  session authenticated, ends the outage: recorded, alerted once with how long it was down,
  and the jobs run again. A broker that never says "restored" cannot pause the daemon for
  good: once the broker's own retry time (or, without one, the outage's start) is
  ``probe_every_s`` behind, the next held job asks the broker's status first (at most once
  per ``probe_every_s``) and runs if the session is back.
- **Still down**: the outage's alert is a warning (the broker usually restores the session
  by itself). When it is still down ``critical_after_s`` after it began, ONE critical
  :class:`~skimd.domain.alerts.BrokerSessionStillDown` follows: a timer on the injected
  Clock, cancelled when the session is restored (and, should the timer not have fired,
  :meth:`hold` escalates once the time is past). Its outbox dedup key is the outage's start,
  so it is never queued twice. A restart mid-outage continues the outage the stopped daemon
  recorded (its record is down and was written less than ``critical_after_s`` before this
  process's first report of the session being down): same start, so the escalation comes
  when it would have come, and not again if it was already queued. An older down record
  (a daemon stopped overnight) is not continued: the outage starts anew.
- **Renewed**: a new session credential (IBKR's live session token) is recorded with its
  expiry; ``skimd status`` shows the last one.
- **Daemon stopped**: the record is marked, so a reader never shows a stopped daemon's last
  state as current.

Every transition rewrites the one record ``skimd status`` reads
(:class:`~skimd.domain.broker_session.SessionRecord`), in the same unit of work as its alert.
Broker callbacks arrive synchronously from inside broker calls: nothing here raises into
them (a failed write is logged; the in-memory state still moves, so the jobs still pause).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import structlog

from skimd.clock import Clock, TimerHandle
from skimd.domain.account import SessionHealth
from skimd.domain.alerts import (
    Alert,
    BrokerSessionLost,
    BrokerSessionRestored,
    BrokerSessionStillDown,
    HeldPosition,
)
from skimd.domain.broker_session import SessionRecord, SessionState
from skimd.domain.protection import protection_of
from skimd.services.ports.trading import TradingStore, TradingTx

log = structlog.get_logger("skimd.broker_session")

COMPETING_REASON = "another login is competing for the brokerage session"
HealthProbe = Callable[[], Awaitable[SessionHealth]]
_EARLY_TOLERANCE = timedelta(milliseconds=1)  # a timer may fire a rounding error early


class BrokerSessionMonitor:
    """See the module docstring. ``probe`` (the broker's ``health``) may be given later with
    :meth:`probe_with`, since the broker is built with this monitor behind its events."""

    def __init__(
        self,
        store: TradingStore,
        clock: Clock,
        *,
        broker: str,
        probe: HealthProbe | None = None,
        probe_every_s: float = 60.0,
        critical_after_s: float = 600.0,
    ) -> None:
        if probe_every_s <= 0 or critical_after_s <= 0:
            raise ValueError("probe_every_s and critical_after_s must be positive")
        self._store = store
        self._clock = clock
        self._broker = broker
        self._probe = probe
        self._probe_every = timedelta(seconds=probe_every_s)
        self._probe_at: datetime | None = None
        self._record: SessionRecord | None = None
        self._renewal: tuple[datetime, datetime | None] | None = None
        self._critical_after = timedelta(seconds=critical_after_s)
        self._escalation: TimerHandle | None = None
        self._escalated: datetime | None = None  # the start of the outage escalated

    def probe_with(self, probe: HealthProbe) -> None:
        self._probe = probe

    @property
    def record(self) -> SessionRecord | None:
        """What this process knows (None until the first event or observation)."""
        return self._record

    # -- the broker's events ---------------------------------------------------------------

    def lost(self, reason: str, retry_at: datetime | None = None) -> None:
        self._down(SessionState.LOST, reason or "brokerage session not authenticated", retry_at)

    def competing(self, retry_at: datetime | None = None, reason: str = COMPETING_REASON) -> None:
        self._down(SessionState.COMPETING, reason, retry_at)

    def restored(self, how: str = "the broker says it is authenticated again") -> None:
        self._up(how)

    def renewed(self, expires_at: datetime | None) -> None:
        now = self._now()
        expires = None if expires_at is None else expires_at.astimezone(UTC)
        self._renewal = (now, expires)
        log.info("broker session renewed", broker=self._broker, expires_at=expires)
        if self._record is not None:
            self._write(
                self._record.moved(now, renewed_at=now, renewal_expires_at=expires), None
            )

    # -- what the jobs see -----------------------------------------------------------------

    def observed(self, health: SessionHealth) -> None:
        """A health check's answer (connect, the warm-up, the probe)."""
        if health.ok:
            self._up("a status check found it authenticated")
        elif health.competing:
            self.competing(reason=health.message or COMPETING_REASON)
        else:
            self.lost(health.message or "brokerage session not authenticated")

    def failed(self, error: BaseException) -> None:
        """A job met a session error (the broker may not have said so itself). During a
        known outage it is a consequence, not news: the state and its reason stay."""
        if self._record is not None and self._record.down:
            return
        self.lost(f"{type(error).__name__}: {error}"[:200])

    # -- the supervisor's gate -------------------------------------------------------------

    def down_reason(self) -> str | None:
        """Why jobs that need the session wait now; None while it is up (or not known)."""
        rec = self._record
        if rec is None or not rec.down:
            return None
        what = "taken by another login" if rec.state is SessionState.COMPETING else "lost"
        until = rec.paused_until.isoformat() if rec.paused_until else "it is back"
        return f"broker session {what} ({rec.reason}); paused until {until}"

    async def hold(self) -> str | None:
        """None when a job that needs the session may run now; else why it waits. Past the
        probe time, asks the broker's status first (see the module docstring)."""
        reason = self.down_reason()
        if reason is not None:
            self._escalate_if_due()
        if reason is None or self._probe is None:
            return reason
        now = self._now()
        if self._probe_at is not None and now < self._probe_at:
            return reason
        self._probe_at = now + self._probe_every  # one probe per interval, whoever asks
        try:
            health = await self._probe()
        except Exception as exc:  # unreachable or refusing: still down
            log.info("broker session probe failed", error=f"{type(exc).__name__}: {exc}")
            return self.down_reason()
        self.observed(health)
        return self.down_reason()

    def daemon_stopped(self) -> None:
        """The daemon is shutting down: what is recorded is no longer current."""
        self._cancel_escalation()
        if self._record is not None:
            now = self._now()
            self._write(self._record.moved(now, stopped_at=now), None)

    # -- transitions -----------------------------------------------------------------------

    def _down(self, state: SessionState, reason: str, retry_at: datetime | None) -> None:
        now = self._now()
        until = None if retry_at is None else retry_at.astimezone(UTC)
        rec = self._record
        if rec is not None and rec.down:
            if until is None:  # a report without a retry time keeps the one known
                until = rec.paused_until
            if rec.state is state and rec.paused_until == until:
                return  # the same outage reported again
            if until is not None and until != rec.paused_until:
                self._probe_at = until + self._probe_every
            changed: dict[str, object] = {"state": state, "paused_until": until}
            if rec.state is not state:
                changed["reason"] = reason
            log.warning("broker session still down", state=state.value, paused_until=until)
            self._write(rec.moved(now, **changed), None)
            return
        self._probe_at = (until or now) + self._probe_every
        renewed_at, expires = self._renewal or (None, None)
        since = self._outage_start(now) if rec is None else now
        new = SessionRecord(
            state=state,
            at=now,
            since=since,
            reason=reason,
            paused_until=until,
            renewed_at=renewed_at,
            renewal_expires_at=expires,
        )
        log.warning(
            "broker session down; market-data and order jobs paused",
            state=state.value,
            reason=reason,
            paused_until=until,
        )
        self._write(
            new,
            lambda tx: BrokerSessionLost(
                occurred_at=now,
                broker=self._broker,
                reason=reason,
                taken_by_other_login=state is SessionState.COMPETING,
                paused=True,
                retry_at=until,
                positions=_held_positions(tx),
            ),
        )
        self._schedule_escalation(since, now)

    def _up(self, how: str) -> None:
        rec = self._record
        if rec is not None and not rec.down:
            return
        now = self._now()
        renewed_at, expires = self._renewal or (None, None)
        new = SessionRecord(
            state=SessionState.UP,
            at=now,
            since=now,
            renewed_at=renewed_at,
            renewal_expires_at=expires,
        )
        self._probe_at = None
        self._cancel_escalation()
        if rec is None:  # first news of this process: nothing was down that we know of
            self._write(new, None)
            return
        since = rec.since or rec.at
        log.info(
            "broker session restored; jobs resumed",
            how=how,
            down_for_s=(now - since).total_seconds(),
        )
        self._write(
            new,
            lambda _: BrokerSessionRestored(
                occurred_at=now,
                broker=self._broker,
                down_since=since,
                taken_by_other_login=rec.state is SessionState.COMPETING,
                reason=rec.reason,
            ),
        )

    # -- the escalation ----------------------------------------------------------------------

    def _outage_start(self, now: datetime) -> datetime:
        """When the outage this process first hears of began: the stopped daemon's, when
        its record is still down and recent (a restart mid-outage), else ``now``."""
        try:
            with self._store.read() as tx:
                previous = tx.last_session()
        except Exception as exc:  # no record to continue: a new outage
            log.warning("previous broker session not read", error=f"{type(exc).__name__}: {exc}")
            return now
        if previous is None or not previous.down or previous.since is None:
            return now
        written = previous.stopped_at or previous.at
        if now - written >= self._critical_after:
            return now
        log.info("broker session outage continues from before the restart", since=previous.since)
        return previous.since

    def _schedule_escalation(self, since: datetime, now: datetime) -> None:
        self._cancel_escalation()
        delay = (since + self._critical_after - now).total_seconds()
        try:
            self._escalation = self._clock.call_later(delay, self._on_escalation_timer)
        except RuntimeError as exc:  # no event loop (a one-shot command): hold() escalates
            log.debug("broker session escalation not scheduled", error=str(exc))

    def _cancel_escalation(self) -> None:
        if self._escalation is not None:
            self._escalation.cancel()
            self._escalation = None

    def _on_escalation_timer(self) -> None:
        self._escalation = None
        rec = self._record
        if self._escalate_if_due() or rec is None or not rec.down or rec.since is None:
            return
        if self._escalated != rec.since:  # fired early (clock rounding): wait the rest
            self._schedule_escalation(rec.since, self._now())

    def _escalate_if_due(self) -> bool:
        """The one critical alert of an outage still going ``critical_after`` after it
        began; True when queued now (never raises: it runs from a timer)."""
        rec = self._record
        if rec is None or not rec.down or rec.since is None or self._escalated == rec.since:
            return False
        now = self._now()
        if now + _EARLY_TOLERANCE < rec.since + self._critical_after:
            return False
        self._escalated = rec.since
        self._escalation = None
        after_min = round(self._critical_after.total_seconds() / 60)
        log.error("broker session still down", since=rec.since, after_min=after_min)
        try:
            with self._store.transaction() as tx:
                tx.alert(
                    BrokerSessionStillDown(
                        occurred_at=now,
                        broker=self._broker,
                        down_since=rec.since,
                        reason=rec.reason,
                        after_min=after_min,
                        taken_by_other_login=rec.state is SessionState.COMPETING,
                        positions=_held_positions(tx),
                    ),
                    dedup_key=f"broker_session_still_down:{rec.since.isoformat()}",
                )
        except Exception as exc:
            log.error("broker session escalation not stored", error=f"{type(exc).__name__}: {exc}")
        return True

    def _write(self, record: SessionRecord, alert: Callable[[TradingTx], Alert] | None) -> None:
        self._record = record  # the jobs pause even if the database refuses the write
        try:
            with self._store.transaction() as tx:
                tx.record_session(record)
                if alert is not None:
                    tx.alert(alert(tx))
        except Exception as exc:  # never into the broker's call
            log.error(
                "broker session state not recorded",
                state=record.state.value,
                error=f"{type(exc).__name__}: {exc}",
            )

    def _now(self) -> datetime:
        return self._clock.now().astimezone(UTC)


def _held_positions(tx: TradingTx) -> tuple[HeldPosition, ...]:
    """Every open position with what protects it while the jobs wait."""
    held = []
    for p in tx.open_positions():
        found = protection_of(p, tx.intents_for_position(p.id) if p.id is not None else [])
        held.append(
            HeldPosition(symbol=p.ticker, quantity=p.qty, cover=found.cover, stop=found.stop)
        )
    return tuple(held)
