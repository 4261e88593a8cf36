"""An in-memory outbox: the OutboxStore protocol plus a tiny unit of work for enqueueing.

Rows added through :meth:`InMemoryOutbox.unit_of_work` become visible only when the block
exits cleanly (commit); an exception discards them (rollback), like the real UoW. Payloads
are stored as the real outbox stores them (the alert codec's JSON) and decoded when read,
so a row this version cannot decode reaches the sender as ``None``, as it does in SQL.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from skimd.domain.alerts import Alert
from skimd.infrastructure.alert_codec import UnknownAlertKind, alert_from_json, to_payload
from skimd.services.ports.alerts import PendingAlert


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
    """The AlertOutbox port (``queue``), plus ``enqueue`` for a raw payload."""

    def __init__(self, outbox: InMemoryOutbox) -> None:
        self._outbox = outbox
        self.staged: list[OutboxRow] = []
        self.dedup_keys: set[str] = set()

    def queue(self, alert: Alert, *, dedup_key: str | None = None) -> int | None:
        if dedup_key is not None:
            if dedup_key in self.dedup_keys | self._outbox.dedup_keys:
                return None
            self.dedup_keys.add(dedup_key)
        return self.enqueue(
            alert.kind, to_payload(alert), alert.occurred_at, severity=alert.severity.value
        )

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
        self.dedup_keys: set[str] = set()

    @contextmanager
    def unit_of_work(self) -> Iterator[FakeUnitOfWork]:
        uow = FakeUnitOfWork(self)
        yield uow
        for row in uow.outbox.staged:
            self.rows[row.id] = row
        self.dedup_keys |= uow.outbox.dedup_keys

    async def pending(self, notifier: str, limit: int) -> list[PendingAlert]:
        rows = [
            (r.id, _decoded(r.payload))
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


def _decoded(payload: str) -> Alert | None:
    try:
        return alert_from_json(payload)
    except UnknownAlertKind:
        return None
