"""Alert delivery: the transactional outbox and its sender (the notifier and outbox ports
are in :mod:`skimd.services.ports.alerts`).

How an alert travels
--------------------
1. The code that changes state queues the alert through its store port inside the SAME
   unit of work as the change (``TradingTx.alert``; :func:`enqueue` for a bare unit of
   work). The alert becomes an outbox row in that transaction, so a rolled-back change
   leaves no alert behind and a committed change cannot lose its alert.
2. After the commit, the caller (or the unit of work's after-commit hook) calls
   :meth:`OutboxSender.wake`; the scheduler also calls :meth:`OutboxSender.run_once` every
   few seconds, which catches up after a restart (all state is in the outbox table).
3. For every configured notifier the sender takes the rows that notifier has not received,
   oldest id first, and sends them one by one. A run of ``coalesce_threshold`` or more
   pending ``candidate_found`` rows becomes one :class:`~skimd.domain.alerts.CandidateDigest`
   message instead of a flood.
4. For a phone channel (a Discord webhook) the alert policy (:mod:`skimd.domain.alert_policy`)
   decides per row first: *send* as above; *skip* (``off``, routed to the other webhook,
   below its severity): marked delivered for it at once, logged at debug and counted
   (:meth:`OutboxSender.status`); *hold* (``quiet``): the row stays pending for it until
   its next :class:`~skimd.domain.alerts.QuietDigest` (:mod:`skimd.services.quiet_hold`).
   The record channels (console, JSON-lines) get every row as it comes.

Guarantees
----------
- **At-least-once.** A row is marked delivered for a notifier only after that notifier
  returned (for Discord: a 2xx). A crash between the POST and the mark, or a multi-message
  alert failing half-way, re-sends on the next run: duplicates are possible, loss is not.
- **Per-notifier order and isolation.** Each notifier receives rows in id order and never
  overtakes a failed row (head-of-line blocking per notifier); one notifier failing or being
  disabled never delays another one, and never raises into trading code.
- **Per-notifier delivery records.** A retry does not re-send to a notifier that already
  got the row. A row is complete when every configured notifier got it.
- **Bounded retries.** After a transient failure the notifier is retried after an
  exponential backoff (``backoff_initial_s`` doubling up to ``backoff_max_s``, or the
  server's ``retry_after`` if longer), timed with the injected ``wall_clock``: the wait
  exists because of the remote side, so it passes in real time even when the daemon's own
  ``clock`` is simulated (the demo); otherwise a simulated day would retry in bursts. In
  production and in tests both are the same clock. A notifier that is
  disabled (e.g. a revoked webhook) keeps failing fast without network traffic, and its
  rows stay in the outbox until a restart with a working configuration.
- An alert a notifier rejects as malformed (:class:`~skimd.errors.AlertRejectedError`) or a
  row this version cannot decode is logged as an error and skipped for that notifier, so a
  poison row cannot block everything behind it.

The errors a notifier raises (:class:`~skimd.errors.NotificationDeliveryError`,
:class:`~skimd.errors.NotifierRetryAfter`, :class:`~skimd.errors.NotifierDisabledError`,
:class:`~skimd.errors.AlertRejectedError`) live in :mod:`skimd.errors`, shared with the
channels that raise them.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from skimd.clock import Clock, TimerHandle
from skimd.domain.alert_policy import AlertPolicy
from skimd.domain.alert_text import quiet_digest
from skimd.domain.alerts import Alert, CandidateDigest, CandidateFound
from skimd.errors import (
    AlertRejectedError,
    NotifierDisabledError,
    NotifierRetryAfter,
    SkimdError,
)
from skimd.services.ports.alerts import (
    CompositeNotifier,
    HasAlertOutbox,
    NotificationService,
    OutboxStore,
    PendingAlert,
)
from skimd.services.quiet_hold import RELEASE_KINDS, QuietHold

log = structlog.get_logger(__name__)


# -- helpers over the ports (skimd.services.ports.alerts) ---------------------------------------


def leaf_notifiers(notifier: NotificationService) -> list[NotificationService]:
    """The individual notifiers behind ``notifier`` (itself when it is not composite)."""
    if isinstance(notifier, CompositeNotifier):
        found: list[NotificationService] = []
        for member in notifier.members:
            found.extend(leaf_notifiers(member))
        return found
    return [notifier]


def enqueue(uow: HasAlertOutbox, alert: Alert, *, dedup_key: str | None = None) -> int | None:
    """Queue ``alert`` in ``uow``'s transaction (see :meth:`AlertOutbox.queue`).

    Nothing is sent here: commit the unit of work, then wake the :class:`OutboxSender`.
    """
    return uow.outbox.queue(alert, dedup_key=dedup_key)


# -- the sender ----------------------------------------------------------------------------


@dataclass
class _NotifierState:
    notifier: NotificationService
    quiet: QuietHold  # the rows of quiet kinds held for its next digest
    failures: int = 0
    next_attempt: float = 0.0
    timer: TimerHandle | None = None
    last_error: str | None = None
    disabled: bool = False  # the notifier said it will not deliver until a restart
    busy: bool = False  # a delivery to this notifier is in flight
    dirty: bool = False  # rows may have arrived while busy: look again before going idle


@dataclass
class SendReport:
    """What one :meth:`OutboxSender.run_once` did, per notifier name."""

    messages: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    held: dict[str, int] = field(default_factory=dict)
    completed: int = 0


class OutboxSender:
    """Delivers outbox rows to notifiers; see the module docstring for the guarantees."""

    def __init__(
        self,
        store: OutboxStore,
        notifiers: NotificationService | Sequence[NotificationService],
        *,
        clock: Clock,
        wall_clock: Clock | None = None,
        coalesce_threshold: int = 5,
        batch_limit: int = 100,
        max_messages_per_run: int = 50,
        backoff_initial_s: float = 2.0,
        backoff_max_s: float = 60.0,
        policy: AlertPolicy | None = None,
        quiet_digest_interval_s: float = 3600.0,
    ) -> None:
        if coalesce_threshold < 2 or batch_limit < 1 or max_messages_per_run < 1:
            raise ValueError("coalesce_threshold >= 2, batch_limit >= 1, max_messages >= 1")
        if quiet_digest_interval_s <= 0:
            raise ValueError("quiet_digest_interval_s must be positive")
        flat: list[NotificationService] = []
        for n in [notifiers] if not isinstance(notifiers, Sequence) else list(notifiers):
            flat.extend(leaf_notifiers(n))
        names = [n.name for n in flat]
        if len(set(names)) != len(names):
            raise ValueError(f"notifier names must be unique, got {names}")
        self._store = store
        self._clock = clock  # the times recorded on outbox rows
        self._wall = wall_clock or clock  # back-off waits (see the module docstring)
        self._states = [
            _NotifierState(n, quiet=QuietHold(quiet_digest_interval_s, batch_limit))
            for n in flat
        ]
        self._coalesce = coalesce_threshold
        self._batch = batch_limit
        self._max_messages = max_messages_per_run
        self._backoff_initial = backoff_initial_s
        self._backoff_max = backoff_max_s
        self._policy = policy or AlertPolicy()
        self._complete_lock = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake_queued = False
        self._closed = False

    @property
    def notifier_names(self) -> list[str]:
        return [s.notifier.name for s in self._states]

    def status(self) -> dict[str, dict[str, Any]]:
        """Per notifier: consecutive failures, last error, seconds until the next attempt,
        rows held for its quiet digest, rows skipped by the alert policy since start."""
        now = self._wall.monotonic()
        return {
            s.notifier.name: {
                "failures": s.failures,
                "last_error": s.last_error,
                "retry_in_s": max(0.0, s.next_attempt - now),
                "held": len(s.quiet.held),
                "skipped": s.quiet.skipped,
            }
            for s in self._states
        }

    # -- running -------------------------------------------------------------------------

    async def run_once(self, *, release_quiet: bool = False) -> SendReport:
        """Deliver what is due now to every notifier not backing off; never raises for a
        notifier's failure (a store failure propagates: the DB is broken).
        ``release_quiet``: send the held quiet rows too, whether their digest is due or not.

        Safe to call while another run is in flight: a notifier already being delivered to
        is not entered twice (its in-flight loop looks again before finishing), so a slow
        notifier never delays the others.
        """
        self._remember_loop()
        report = SendReport()
        if not self._states:
            return report  # nobody to deliver to: rows must stay, not count as delivered
        if release_quiet:
            for state in self._states:
                state.quiet.release = True
        await asyncio.gather(*(self._deliver_guarded(state, report) for state in self._states))
        async with self._complete_lock:
            report.completed = await self._store.complete(self.notifier_names, self._clock.now())
        return report

    def wake(self) -> None:
        """Deliver soon (call after committing a unit of work that enqueued alerts).

        Cheap and safe from any thread. Wakes that arrive before the queued run starts are
        merged into it; a notifier busy with an earlier run re-checks before going idle.
        """
        loop = self._loop
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # no loop yet: the scheduled run_once will pick the rows up
            self._remember_loop()
        if self._loop_thread is not None and threading.get_ident() != self._loop_thread:
            loop.call_soon_threadsafe(self._wake_in_loop)
        else:
            self._wake_in_loop()

    async def flush(self, within_s: float) -> bool:
        """Deliver everything pending, waiting out back-offs, for at most ``within_s``
        seconds of wall-clock time; True when no notifier that can still deliver has a row
        left. For the end of a demo day, whose simulated clock ends long before a
        rate-limited webhook has caught up (the daemon instead catches up on its next run).
        Held quiet rows go out too, as their digests.
        """
        deadline = self._wall.monotonic() + within_s
        while True:
            await self.wait_idle()
            await self.run_once(release_quiet=True)
            waiting = [
                s for s in self._states
                if not s.disabled and await self._store.pending(s.notifier.name, 1)
            ]
            if not waiting:
                return True
            now = self._wall.monotonic()
            if now >= deadline:
                return False
            due = min(max(s.next_attempt, now) for s in waiting)
            if due > now:
                await self._wall.sleep(min(due, deadline) - now)

    async def wait_idle(self) -> None:
        """Return once no wake-triggered run is in progress (for shutdown, tests, benches)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def aclose(self) -> None:
        """Stop timers and wait for an in-flight run; undelivered rows stay in the outbox."""
        self._closed = True
        for state in self._states:
            if state.timer is not None:
                state.timer.cancel()
                state.timer = None
        await self.wait_idle()

    # -- internals -----------------------------------------------------------------------

    def _remember_loop(self) -> None:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._loop_thread = threading.get_ident()

    def _wake_in_loop(self) -> None:
        if self._closed or self._loop is None or self._wake_queued:
            return  # a run that has not started yet will see the new rows anyway
        self._wake_queued = True
        task = self._loop.create_task(self._wake_run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _wake_run(self) -> None:
        while True:
            self._wake_queued = False
            try:
                report = await self.run_once()
            except Exception as exc:
                log.error("alert outbox run failed", error=f"{type(exc).__name__}: {exc}")
                return
            more = any(n >= self._max_messages for n in report.messages.values()) or any(
                n >= self._batch for n in report.rows.values()
            )
            if not more or self._closed:
                return

    async def _deliver_guarded(self, state: _NotifierState, report: SendReport) -> None:
        if state.busy:
            state.dirty = True
            return
        state.busy = True
        try:
            while True:
                state.dirty = False
                await self._deliver(state, report)
                if not state.dirty or self._closed:
                    return
        finally:
            state.busy = False

    async def _deliver(self, state: _NotifierState, report: SendReport) -> None:
        name = state.notifier.name
        if self._wall.monotonic() < state.next_attempt:
            return
        # Held rows are still pending for this notifier: read past them.
        rows = await self._store.pending(name, self._batch + len(state.quiet.held))
        rows = await self._apply_policy(state, rows, report)
        messages = rows_done = 0
        delivering = True
        i = 0
        while i < len(rows) and messages < self._max_messages:
            group, alert = self._next_unit(rows, i)
            ids = [row_id for row_id, _ in group]
            if alert is not None and alert.kind in RELEASE_KINDS and state.quiet.held:
                delivering = await self._send_held(state, report, before=ids[0])
                if not delivering:
                    break
            i += len(group)
            now = self._clock.now()
            if alert is None:
                log.error("alert outbox row cannot be decoded; skipped", row_id=ids[0])
                await self._store.record_failure(ids, name, "undecodable payload", now)
                await self._store.mark_delivered(ids, name, now)
                continue
            try:
                await state.notifier.send(alert)
            except AlertRejectedError as exc:
                log.error(
                    "alert rejected by notifier; skipped",
                    notifier=name,
                    alert_kind=alert.kind,
                    row_ids=ids,
                    error=str(exc),
                )
                await self._store.record_failure(ids, name, f"rejected: {exc}", now)
                await self._store.mark_delivered(ids, name, now)
                continue
            except Exception as exc:  # one notifier failing must never stop the others
                self._back_off(state, exc)
                report.failed[name] = state.last_error or ""
                await self._store.record_failure(ids, name, state.last_error or "", now)
                delivering = False
                break
            await self._store.mark_delivered(ids, name, self._clock.now())
            messages += 1
            rows_done += len(group)
            self._recovered(state)
        report.messages[name] = report.messages.get(name, 0) + messages
        report.rows[name] = report.rows.get(name, 0) + rows_done
        if delivering and state.quiet.due(self._clock.now()):
            fresh = await self._store.pending(name, self._batch + len(state.quiet.held))
            if not await self._apply_policy(state, fresh, report):  # caught up: in order
                await self._send_held(state, report)
        report.held[name] = len(state.quiet.held)

    async def _apply_policy(
        self, state: _NotifierState, rows: Sequence[PendingAlert], report: SendReport
    ) -> list[PendingAlert]:
        """The rows to send now; rows the policy skips are marked delivered, quiet rows
        held (a notifier that is no phone channel gets every row)."""
        name = state.notifier.name
        if not self._policy.is_phone(name):
            return list(rows)
        sendable, skipped = state.quiet.sort_out(self._policy, name, rows)
        if skipped:
            log.debug("alerts skipped by policy", notifier=name, row_ids=skipped)
            await self._store.mark_delivered(skipped, name, self._clock.now())
            report.skipped[name] = report.skipped.get(name, 0) + len(skipped)
        return sendable

    async def _send_held(
        self, state: _NotifierState, report: SendReport, *, before: int | None = None
    ) -> bool:
        """Send the held rows (those older than row ``before`` when given) as one digest;
        False when the notifier failed (it backs off and the rows stay held)."""
        name = state.notifier.name
        rows = state.quiet.next_digest(before)
        if not rows:
            return True
        ids = [row_id for row_id, _ in rows]
        now = self._clock.now()
        digest = quiet_digest([alert for _, alert in rows], occurred_at=now)
        try:
            await state.notifier.send(digest)
        except AlertRejectedError as exc:
            log.error(
                "quiet digest rejected by notifier; its rows skipped",
                notifier=name,
                row_ids=ids,
                error=str(exc),
            )
            await self._store.record_failure(ids, name, f"rejected: {exc}", now)
        except Exception as exc:  # one notifier failing must never stop the others
            self._back_off(state, exc)
            report.failed[name] = state.last_error or ""
            await self._store.record_failure(ids, name, state.last_error or "", now)
            return False
        else:
            report.messages[name] = report.messages.get(name, 0) + 1
            report.rows[name] = report.rows.get(name, 0) + len(ids)
            self._recovered(state)
        await self._store.mark_delivered(ids, name, self._clock.now())
        state.quiet.sent(ids)
        return True

    def _recovered(self, state: _NotifierState) -> None:
        if state.failures:
            log.info(
                "alert notifier recovered", notifier=state.notifier.name,
                after_failures=state.failures,
            )
        state.failures = 0
        state.last_error = None

    def _next_unit(
        self, rows: Sequence[PendingAlert], start: int
    ) -> tuple[Sequence[PendingAlert], Alert | None]:
        """The rows sent as one message from ``start``: a digest or a single alert."""
        found: list[CandidateFound] = []
        end = start
        while end < len(rows) and len(found) < self._batch:
            alert = rows[end][1]
            if not isinstance(alert, CandidateFound):
                break
            found.append(alert)
            end += 1
        if len(found) >= self._coalesce:
            digest = CandidateDigest(occurred_at=found[-1].occurred_at, candidates=tuple(found))
            return rows[start:end], digest
        return rows[start : start + 1], rows[start][1]

    def _back_off(self, state: _NotifierState, exc: Exception) -> None:
        state.failures += 1
        delay = min(self._backoff_max, self._backoff_initial * 2 ** (state.failures - 1))
        if isinstance(exc, NotifierRetryAfter):
            delay = max(delay, exc.retry_after)
        if isinstance(exc, SkimdError):
            state.last_error = f"{type(exc).__name__}: {exc}"
            log.warning(
                "alert delivery failed; will retry",
                notifier=state.notifier.name,
                error=state.last_error,
                failures=state.failures,
                retry_in_s=delay,
            )
        else:
            state.last_error = f"unexpected {type(exc).__name__}"
            log.error(
                "alert notifier raised unexpectedly; will retry",
                notifier=state.notifier.name,
                error=repr(exc),
                retry_in_s=delay,
            )
        state.next_attempt = self._wall.monotonic() + delay
        state.disabled = isinstance(exc, NotifierDisabledError)
        if state.timer is not None:
            state.timer.cancel()
        if not self._closed:
            state.timer = self._wall.call_later(delay, self.wake)


# -- direct (no outbox) delivery --------------------------------------------------------------


async def send_now(
    notifier: NotificationService, alert: Alert, *, on_error: Callable[[str], None] | None = None
) -> bool:
    """Best-effort immediate delivery for moments the outbox cannot serve (the database
    failed to open, the daemon is dying). Never raises; returns True when delivered."""
    try:
        await notifier.send(alert)
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}" if isinstance(exc, SkimdError) else repr(exc)
        log.error("direct alert delivery failed", notifier=notifier.name, error=message)
        if on_error is not None:
            on_error(message)
        return False
    return True
