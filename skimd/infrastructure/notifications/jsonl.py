"""JSON-lines file notifier: one object per alert, appended and flushed.

Each line is ``{"kind", "severity", "occurred_at", "title", "summary", "payload"}`` where
``payload`` is the alert's own round-trippable payload, so the file can be replayed. A
reconciliation digest also carries ``rows`` (one object per ticker, as in its CSV) at the
top level, so ``jq '.rows[]'`` needs no knowledge of the payload format. The
file is created 0600 (alerts name positions and P&L) and written in a worker thread.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from skimd.domain.alert_text import describe
from skimd.domain.alerts import Alert, ReconciliationDigest
from skimd.errors import NotificationDeliveryError
from skimd.infrastructure.alert_codec import to_payload


def alert_record(alert: Alert) -> dict[str, object]:
    text = describe(alert)
    record: dict[str, object] = {
        "kind": alert.kind,
        "severity": alert.severity.value,
        "occurred_at": alert.occurred_at.isoformat(),
        "title": text.title,
        "summary": text.summary,
        "payload": to_payload(alert),
    }
    if isinstance(alert, ReconciliationDigest):
        record["rows"] = [
            {"ticker": r.ticker, "db_qty": r.db_qty, "broker_qty": r.broker_qty,
             "executions_qty": r.executions_qty, "status": r.status.value}
            for r in alert.rows
        ]
    return record


class JsonlNotifier:
    def __init__(self, path: Path, *, name: str = "jsonl", fsync: bool = False) -> None:
        self._path = path
        self._name = name
        self._fsync = fsync
        self._lock = asyncio.Lock()

    @property
    def name(self) -> str:
        return self._name

    @property
    def path(self) -> Path:
        return self._path

    async def send(self, alert: Alert) -> None:
        line = json.dumps(alert_record(alert), ensure_ascii=False, separators=(",", ":")) + "\n"
        async with self._lock:  # keeps lines whole and in order
            try:
                await asyncio.to_thread(self._append, line)
            except OSError as exc:
                raise NotificationDeliveryError(
                    f"jsonl notifier {self._path}: {exc.strerror or type(exc).__name__}"
                ) from exc

    def _append(self, line: str) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            if self._fsync:
                os.fsync(fh.fileno())

    async def aclose(self) -> None:
        """Nothing held open between alerts."""
