"""Alert outbox, job runs, the order guard and daily price history."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlmodel import col

from skimd.domain.alerts import Alert
from skimd.errors import IntegrityError
from skimd.infrastructure.alert_codec import to_payload

from ..tables import AlertOutbox, HistoricalPrice, JobRun, OrderGuard
from ._base import Repository

MAX_ERROR_CHARS = 500


class AlertOutboxRepository(Repository[AlertOutbox]):
    """The ``alert_outbox`` table inside one unit of work: what is queued here commits or
    rolls back with the change that caused it."""

    model = AlertOutbox

    def queue(self, alert: Alert, *, dedup_key: str | None = None) -> int | None:
        """Encode ``alert`` and queue it, due now; the new row's id, or None (nothing
        queued) when an alert was queued under ``dedup_key`` before, delivered or not."""
        if dedup_key is not None and self.queued_id(dedup_key) is not None:
            return None
        return self.enqueue(
            alert.kind,
            to_payload(alert),
            alert.occurred_at,
            severity=alert.severity.value,
            dedup_key=dedup_key,
        )

    def enqueue(
        self,
        kind: str,
        payload: Mapping[str, Any],
        now: dt.datetime,
        *,
        severity: str = "info",
        dedup_key: str | None = None,
    ) -> int:
        """Queue an already encoded payload, due now. With a ``dedup_key`` already queued,
        returns that row's id."""
        if dedup_key is not None:
            existing = self.queued_id(dedup_key)
            if existing is not None:
                return existing
        row = AlertOutbox(
            created_at=now,
            kind=kind,
            severity=severity,
            payload=json.dumps(dict(payload), default=str, sort_keys=True),
            next_attempt_at=now,
            dedup_key=dedup_key,
        )
        self.add(row)
        assert row.id is not None
        return row.id

    def queued_id(self, dedup_key: str) -> int | None:
        """The id of the alert queued under ``dedup_key``, if any (delivered or not)."""
        stmt = select(col(AlertOutbox.id)).where(col(AlertOutbox.dedup_key) == dedup_key)
        found = self._session.scalars(stmt).first()
        return None if found is None else int(found)

    def due(self, now: dt.datetime, limit: int = 50) -> Sequence[AlertOutbox]:
        """Pending alerts whose next attempt is due, oldest first (queue order)."""
        stmt = (
            select(AlertOutbox)
            .where(
                col(AlertOutbox.status) == "pending",
                or_(
                    col(AlertOutbox.next_attempt_at).is_(None),
                    col(AlertOutbox.next_attempt_at) <= now,
                ),
            )
            .order_by(col(AlertOutbox.id))
            .limit(limit)
        )
        return list(self._session.scalars(stmt).all())

    def mark_delivered(self, alert_id: int, now: dt.datetime) -> None:
        row = self._require(alert_id)
        row.status = "delivered"
        row.delivered_at = now
        row.attempts += 1
        self.add(row)

    def mark_failed(self, alert_id: int, next_attempt_at: dt.datetime | None, error: str) -> None:
        """Count a failed attempt. ``next_attempt_at=None`` gives up (status ``failed``)."""
        row = self._require(alert_id)
        row.attempts += 1
        row.last_error = error[:MAX_ERROR_CHARS]
        row.next_attempt_at = next_attempt_at
        row.status = "pending" if next_attempt_at is not None else "failed"
        self.add(row)

    def _require(self, alert_id: int) -> AlertOutbox:
        row = self._session.get(AlertOutbox, alert_id)
        if row is None:
            raise IntegrityError(f"alert {alert_id} does not exist")
        return row


class JobRunRepository(Repository[JobRun]):
    model = JobRun

    def start(self, job_id: str, now: dt.datetime) -> JobRun:
        return self.add(JobRun(job_id=job_id, started_at=now))

    def finish(
        self, run_id: int, now: dt.datetime, outcome: str, message: str | None = None
    ) -> JobRun:
        run = self._session.get(JobRun, run_id)
        if run is None:
            raise IntegrityError(f"job run {run_id} does not exist")
        run.finished_at = now
        run.outcome = outcome
        run.message = message
        return self.add(run)

    def record(
        self,
        job_id: str,
        started_at: dt.datetime,
        finished_at: dt.datetime | None,
        outcome: str,
        message: str | None,
        *,
        keep_history: bool,
    ) -> JobRun:
        """Store one finished run. ``keep_history`` False (jobs that run every few seconds)
        overwrites the job's previous row, so the table holds its last run, not thousands."""
        row = None if keep_history else self.last(job_id)
        if row is None:
            row = JobRun(job_id=job_id, started_at=started_at)
        row.started_at = started_at
        row.finished_at = finished_at
        row.outcome = outcome
        row.message = None if message is None else message[:MAX_ERROR_CHARS]
        return self.add(row)

    def last(self, job_id: str) -> JobRun | None:
        stmt = (
            select(JobRun)
            .where(col(JobRun.job_id) == job_id)
            .order_by(col(JobRun.started_at).desc(), col(JobRun.id).desc())
        )
        return self._session.scalars(stmt).first()

    def recent(self, limit: int = 50) -> Sequence[JobRun]:
        stmt = select(JobRun).order_by(col(JobRun.started_at).desc()).limit(limit)
        return list(self._session.scalars(stmt).all())


class GuardRepository(Repository[OrderGuard]):
    """The single kill-switch row; stored on its first change (until then it reads as
    unlocked), so reading it never writes: readers may hold read-only connections."""

    model = OrderGuard

    def current(self) -> OrderGuard:
        guard = self._session.get(OrderGuard, 1)
        return OrderGuard(id=1) if guard is None else guard

    def lock(self, reason: str, now: dt.datetime) -> OrderGuard:
        guard = self.current()
        guard.locked = True
        guard.reason = reason
        guard.changed_at = now
        return self.add(guard)

    def unlock(self, now: dt.datetime, reason: str | None = None) -> OrderGuard:
        guard = self.current()
        guard.locked = False
        guard.reason = reason
        guard.changed_at = now
        return self.add(guard)


class HistoricalPriceRepository(Repository[HistoricalPrice]):
    model = HistoricalPrice

    def upsert_bars(self, bars: Iterable[HistoricalPrice]) -> int:
        """Insert bars, replacing the values of any existing (ticker, date); returns count."""
        count = 0
        for bar in bars:
            stmt = select(HistoricalPrice).where(
                col(HistoricalPrice.ticker) == bar.ticker, col(HistoricalPrice.date) == bar.date
            )
            existing = self._session.scalars(stmt).first()
            if existing is None:
                self._session.add(bar)
            else:
                existing.open, existing.high = bar.open, bar.high
                existing.low, existing.close = bar.low, bar.close
                existing.volume = bar.volume
            count += 1
        self._session.flush()
        return count

    def bars(self, ticker: str, start: dt.date, end: dt.date) -> Sequence[HistoricalPrice]:
        """Bars with ``start <= date <= end``, oldest first."""
        stmt = (
            select(HistoricalPrice)
            .where(
                col(HistoricalPrice.ticker) == ticker,
                col(HistoricalPrice.date) >= start,
                col(HistoricalPrice.date) <= end,
            )
            .order_by(col(HistoricalPrice.date))
        )
        return list(self._session.scalars(stmt).all())

    def closes(self, ticker: str, start: dt.date, end: dt.date) -> list[tuple[dt.date, Decimal]]:
        return [(bar.date, bar.close) for bar in self.bars(ticker, start, end)]

    def last_close(self, ticker: str, before: dt.date) -> tuple[dt.date, Decimal] | None:
        """The latest close strictly before ``before`` (the previous close for a gap)."""
        stmt = (
            select(HistoricalPrice)
            .where(col(HistoricalPrice.ticker) == ticker, col(HistoricalPrice.date) < before)
            .order_by(col(HistoricalPrice.date).desc())
        )
        bar = self._session.scalars(stmt).first()
        return None if bar is None else (bar.date, bar.close)
