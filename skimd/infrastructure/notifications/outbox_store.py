"""The outbox sender's store over the ``alert_outbox`` table.

Each call is its own short unit of work (reads begin DEFERRED and never block writers),
run in a worker thread so the event loop never waits on SQLite.

Per-notifier delivery: the table keeps one status per row (``pending`` → ``delivered``, or
``failed`` when a notifier rejected it), so which notifiers already received a still-pending
row is kept in memory. A row becomes ``delivered`` once every configured notifier got it.
Consequence (at-least-once): after a restart, a notifier that had received a row which
another notifier had not may receive that row again. A ``delivered_to`` column would
remove that duplicate; see the report to the lead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from sqlalchemy import func, select
from sqlmodel import col

from skimd.domain.alerts import Alert
from skimd.infrastructure.alert_codec import UnknownAlertKind, alert_from_json
from skimd.infrastructure.database.session import UnitOfWork
from skimd.infrastructure.database.tables import AlertOutbox

PendingRow = tuple[int, Alert | None]
"""A row not yet delivered to a notifier: its id and its alert (None: this version cannot
decode it; the sender logs and skips it)."""


class UnitOfWorkFactory(Protocol):
    """``TradingDatabase.unit_of_work`` / ``SessionManager`` fit."""

    def __call__(self, *, read_only: bool = False) -> AbstractContextManager[UnitOfWork]: ...


class SqlOutboxStore:
    """The outbox sender's store port (``OutboxStore`` in the services' alerts module)."""

    def __init__(self, unit_of_work: UnitOfWorkFactory) -> None:
        self._uow = unit_of_work
        self._delivered: dict[int, set[str]] = {}
        self._rejected: dict[int, str] = {}
        # A read must not overlap completing rows: a read whose snapshot predates the
        # commit, checked against the in-memory record after its cleanup, would see a
        # delivered row as new and send it again.
        self._handover = asyncio.Lock()

    async def pending(self, notifier: str, limit: int) -> list[PendingRow]:
        async with self._handover:
            return await asyncio.to_thread(self._pending, notifier, limit)

    def _pending(self, notifier: str, limit: int) -> list[PendingRow]:
        found: list[PendingRow] = []
        after = 0
        with self._uow(read_only=True) as uow:
            while len(found) < limit:
                stmt = (
                    select(AlertOutbox)
                    .where(col(AlertOutbox.status) == "pending", col(AlertOutbox.id) > after)
                    .order_by(col(AlertOutbox.id))
                    .limit(limit)
                )
                rows = list(uow.session.scalars(stmt).all())
                if not rows:
                    break
                for row in rows:
                    assert row.id is not None
                    after = row.id
                    if notifier not in self._delivered.get(row.id, ()):
                        found.append((row.id, _decoded(row.payload)))
                        if len(found) >= limit:
                            break
        return found

    async def mark_delivered(self, ids: Sequence[int], notifier: str, at: datetime) -> None:
        for row_id in ids:
            self._delivered.setdefault(row_id, set()).add(notifier)

    async def record_failure(
        self, ids: Sequence[int], notifier: str, error: str, at: datetime
    ) -> None:
        message = f"{notifier}: {error}"
        if error.startswith(("rejected", "undecodable")):
            for row_id in ids:
                self._rejected[row_id] = message
        await asyncio.to_thread(self._record_failure, list(ids), message, at)

    def _record_failure(self, ids: list[int], error: str, at: datetime) -> None:
        with self._uow() as uow:
            for row_id in ids:
                uow.outbox.mark_failed(row_id, at, error)  # stays pending

    async def complete(self, notifiers: Sequence[str], at: datetime) -> int:
        wanted = set(notifiers)
        done = [i for i, got in self._delivered.items() if wanted <= got]
        if not done:
            return 0
        rejected = {i: self._rejected[i] for i in done if i in self._rejected}
        async with self._handover:
            await asyncio.to_thread(self._complete, done, rejected, at)
            for row_id in done:
                self._delivered.pop(row_id, None)
                self._rejected.pop(row_id, None)
        return len(done)

    def _complete(self, ids: list[int], rejected: dict[int, str], at: datetime) -> None:
        with self._uow() as uow:
            for row_id in ids:
                if row_id in rejected:
                    uow.outbox.mark_failed(row_id, None, rejected[row_id])
                else:
                    uow.outbox.mark_delivered(row_id, at)

    async def pending_count(self) -> int:
        return await asyncio.to_thread(self._pending_count)

    def _pending_count(self) -> int:
        with self._uow(read_only=True) as uow:
            stmt = select(func.count()).select_from(AlertOutbox).where(
                col(AlertOutbox.status) == "pending"
            )
            return int(uow.session.scalar(stmt) or 0)


def _decoded(payload: str) -> Alert | None:
    try:
        return alert_from_json(payload)
    except UnknownAlertKind:
        return None
