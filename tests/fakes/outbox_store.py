"""An in-memory outbox: the OutboxStore protocol plus a tiny unit of work for enqueueing.

Rows added through :meth:`InMemoryOutbox.unit_of_work` become visible only when the block
exits cleanly (commit); an exception discards them (rollback), like the real UoW.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from skimd.services.alerts import PendingAlert


@dataclass
class OutboxRow:
    id: int
    kind: str
    severity: str
    payload: str
    created_at: datetime
    status: str = "pending"
    delivered_to: set[str] = field(default_factory=set)
    attempts: int = 0
    last_error: str | None = None


class _Writer:
    def __init__(self, outbox: InMemoryOutbox) -> None:
        self._outbox = outbox
        self.staged: list[OutboxRow] = []

    def enqueue(
        self,
        kind: str,
        payload: Mapping[str, Any],
        now: datetime,
        *,
        severity: str = "info",
        dedup_key: str | None = None,
    ) -> int:
        row = OutboxRow(next(self._outbox.ids), kind, severity, json.dumps(dict(payload)), now)
        self.staged.append(row)
        return row.id


class FakeUnitOfWork:
    def __init__(self, outbox: InMemoryOutbox) -> None:
        self.outbox = _Writer(outbox)


class InMemoryOutbox:
    def __init__(self) -> None:
        self.rows: dict[int, OutboxRow] = {}
        self.ids = itertools.count(1)

    @contextmanager
    def unit_of_work(self) -> Iterator[FakeUnitOfWork]:
        uow = FakeUnitOfWork(self)
        yield uow
        for row in uow.outbox.staged:
            self.rows[row.id] = row

    async def pending(self, notifier: str, limit: int) -> list[PendingAlert]:
        rows = [
            PendingAlert(r.id, r.payload, r.created_at)
            for r in sorted(self.rows.values(), key=lambda r: r.id)
            if r.status == "pending" and notifier not in r.delivered_to
        ]
        return rows[:limit]

    async def mark_delivered(self, ids: Sequence[int], notifier: str, at: datetime) -> None:
        for i in ids:
            self.rows[i].delivered_to.add(notifier)

    async def record_failure(
        self, ids: Sequence[int], notifier: str, error: str, at: datetime
    ) -> None:
        for i in ids:
            self.rows[i].attempts += 1
            self.rows[i].last_error = f"{notifier}: {error}"

    async def complete(self, notifiers: Sequence[str], at: datetime) -> int:
        done = 0
        for row in self.rows.values():
            if row.status == "pending" and set(notifiers) <= row.delivered_to:
                row.status = "delivered"
                done += 1
        return done

    async def pending_count(self) -> int:
        return sum(1 for r in self.rows.values() if r.status == "pending")
