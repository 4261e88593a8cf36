"""Stored alerts as ``skimd tail`` events: the outbox rows committed since the feed last
looked, in id order.

Every commit of the daemon's store pokes the feed (:meth:`OutboxAlertFeed.poke`, from
whatever thread committed). With nobody tailing (or before anyone ever did) it does
nothing at all; otherwise it reads
the rows after the last one it published, on the event loop, and publishes each alert. So
every alert is seen exactly when it becomes durable, whichever service queued it, and a
rolled-back alert is never shown. "New" starts when the first subscriber arrives
(:meth:`start_from_now`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import func, select
from sqlmodel import col

from skimd.domain.alert_text import describe
from skimd.infrastructure.alert_codec import UnknownAlertKind, alert_from_json
from skimd.infrastructure.database.session import UnitOfWork
from skimd.infrastructure.database.tables import AlertOutbox

log = structlog.get_logger("skimd.control")

BATCH = 200


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, read_only: bool = False) -> AbstractContextManager[UnitOfWork]: ...


class OutboxAlertFeed:
    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        publish: Callable[[dict[str, Any]], None],
        active: Callable[[], bool],
        zone: ZoneInfo,
    ) -> None:
        """``publish`` an event to the tailers; ``active()``: is anyone tailing."""
        self._uow = unit_of_work
        self._publish = publish
        self._active = active
        self._zone = zone
        self._last = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._scheduled = False

    def start_from_now(self) -> None:
        """Alerts stored from now on are new: called on the daemon's loop when the first
        tailer subscribes (the events are published on that loop)."""
        self._loop = asyncio.get_running_loop()
        with self._uow(read_only=True) as uow:
            self._last = int(uow.session.scalar(select(func.max(AlertOutbox.id))) or 0)

    def poke(self) -> None:
        """Something was committed; safe from any thread."""
        loop = self._loop
        if loop is None or not self._active() or self._scheduled or loop.is_closed():
            return
        self._scheduled = True
        loop.call_soon_threadsafe(self.catch_up)

    def catch_up(self) -> None:
        """Publish every alert stored since the last one published (on the loop)."""
        self._scheduled = False
        if not self._active():
            return
        while True:
            try:
                rows = self._rows_after(self._last)
            except Exception as exc:  # a tail is a view: it must never trouble the daemon
                log.warning("alerts not tailed", error=str(exc))
                return
            for row_id, kind, payload in rows:
                self._last = row_id
                self._publish(self._event(kind, payload))
            if len(rows) < BATCH:
                return

    def _rows_after(self, last: int) -> list[tuple[int, str, str]]:
        with self._uow(read_only=True) as uow:
            stmt = (
                select(col(AlertOutbox.id), col(AlertOutbox.kind), col(AlertOutbox.payload))
                .where(col(AlertOutbox.id) > last)
                .order_by(col(AlertOutbox.id))
                .limit(BATCH)
            )
            return [(int(i), str(k), str(p)) for i, k, p in uow.session.execute(stmt)]

    def _event(self, kind: str, payload: str) -> dict[str, Any]:
        return alert_event(kind, payload, self._zone)


def alert_event(kind: str, payload: str, zone: ZoneInfo) -> dict[str, Any]:
    """One stored alert as a tail event (``at`` in ``zone``); a row this version cannot
    read (newer or malformed) still shows its kind."""
    try:
        alert = alert_from_json(payload)
    except (UnknownAlertKind, ValueError, KeyError, TypeError):
        return {"kind": "alert", "alert": kind, "at": None, "severity": None, "text": kind}
    return {
        "kind": "alert",
        "alert": alert.kind,
        "at": alert.occurred_at.astimezone(zone).isoformat(),
        "severity": alert.severity.value,
        "text": " ".join(describe(alert).summary.split()),
    }


def recent_alerts(
    unit_of_work: UnitOfWorkFactory, zone: ZoneInfo, limit: int
) -> list[dict[str, Any]]:
    """The ``limit`` alerts stored last, newest first, as tail events with their outbox
    ``id`` (for ``skimd web``)."""
    with unit_of_work(read_only=True) as uow:
        stmt = (
            select(col(AlertOutbox.id), col(AlertOutbox.kind), col(AlertOutbox.payload))
            .order_by(col(AlertOutbox.id).desc())
            .limit(limit)
        )
        rows = [(int(i), str(k), str(p)) for i, k, p in uow.session.execute(stmt)]
    return [{"id": i, **alert_event(kind, payload, zone)} for i, kind, payload in rows]


def alerts_after(
    unit_of_work: UnitOfWorkFactory, zone: ZoneInfo, after: int, limit: int = BATCH
) -> list[dict[str, Any]]:
    """Up to ``limit`` alerts stored after outbox id ``after``, oldest first, as tail
    events with their ``id`` (``skimd web``'s pushed alert stream)."""
    with unit_of_work(read_only=True) as uow:
        stmt = (
            select(col(AlertOutbox.id), col(AlertOutbox.kind), col(AlertOutbox.payload))
            .where(col(AlertOutbox.id) > after)
            .order_by(col(AlertOutbox.id))
            .limit(limit)
        )
        rows = [(int(i), str(k), str(p)) for i, k, p in uow.session.execute(stmt)]
    return [{"id": i, **alert_event(kind, payload, zone)} for i, kind, payload in rows]
