"""One readable line per alert on a text stream (the demo's notifier).

``HH:MM:SS SEVERITY kind  summary`` in the market zone (the caller passes it, from the
market settings). A candidate digest prints its table below the line, indented; so does a
reconciliation digest (mismatches first; over :data:`RECONCILIATION_ROWS_SHOWN` tickers
only the mismatches and a count of the rest). The stream is injected (stdout in the demo,
StringIO in tests); a closed or broken stream is a delivery failure, never a crash.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import TextIO

from skimd.domain.alert_tables import candidate_table, reconciliation_table
from skimd.domain.alert_text import describe
from skimd.domain.alerts import Alert, CandidateDigest, ReconciliationDigest, Severity
from skimd.errors import NotificationDeliveryError

_MARK = {Severity.INFO: "INFO", Severity.WARNING: "WARN", Severity.CRITICAL: "CRIT"}
RECONCILIATION_ROWS_SHOWN = 20


def format_line(alert: Alert, tz: tzinfo) -> str:
    local = alert.occurred_at.astimezone(tz)
    summary = " ".join(describe(alert).summary.split())  # one line whatever the text holds
    return f"{local:%H:%M:%S} {_MARK[alert.severity]:<4} {alert.kind:<20} {summary}"


def reconciliation_lines(alert: ReconciliationDigest) -> list[str]:
    """The digest's rows for a terminal: all of them when few, else the mismatches and a
    line counting the tickers that agree (the full table is the CSV other channels get)."""
    if not alert.rows:
        return []
    if len(alert.rows) <= RECONCILIATION_ROWS_SHOWN:
        return list(reconciliation_table(alert))
    agree = len(alert.rows) - len(alert.mismatches)
    mismatched = reconciliation_table(alert, mismatches_only=True)
    return [*mismatched, f"... and {agree} tickers that agree"]


class ConsoleNotifier:
    def __init__(self, stream: TextIO, *, tz: tzinfo, name: str = "console") -> None:
        self._stream = stream
        self._tz = tz
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    async def send(self, alert: Alert) -> None:
        text = format_line(alert, self._tz) + "\n"
        if isinstance(alert, CandidateDigest):
            text += "".join(f"    {row}\n" for row in candidate_table(alert))
        elif isinstance(alert, ReconciliationDigest):
            text += "".join(f"    {row}\n" for row in reconciliation_lines(alert))
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError) as exc:
            raise NotificationDeliveryError(f"console notifier: {type(exc).__name__}") from exc

    async def aclose(self) -> None:
        """The stream belongs to the caller."""
