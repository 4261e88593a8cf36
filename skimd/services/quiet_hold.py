"""The rows of ``quiet`` alert kinds one phone channel holds for its next digest: the
outbox sender's bookkeeping for the alert policy (:mod:`skimd.domain.alert_policy`).

When a digest is due
--------------------
A notifier's held rows go out as ONE :class:`~skimd.domain.alerts.QuietDigest` message
when the oldest of them has waited ``interval_s`` since it happened (its ``occurred_at``
against the daemon's ``clock``: a trader's hours, simulated in the demo). The first
outbox run after that which ends caught up (nothing but held rows pending for the
notifier, re-read at the end of the run) sends it, with every quiet row pending by then:
so the digest takes its place in the notifier's order (after every row older than it),
there is at most one per interval, and a sender that fell behind (rate limits, a demo's
fast clock) adds none of its own.
Also just before a daily summary or a daemon-stopping row reaches the notifier
(:data:`RELEASE_KINDS`: the day's quiet alerts come before its summary, and none wait
over a restart); and when the sender is told to release them
(:meth:`~skimd.services.alerts.OutboxSender.flush`). One exception to the interval: a
digest never lists more than ``cap`` rows, and that many held rows go out at once, so held
rows can never crowd newer rows out of the window a run reads.

What is kept where
------------------
The outbox is the truth: a held row stays pending for its notifier and is marked
delivered for it only after the digest carrying it was accepted (for Discord, a 2xx).
This class only remembers which pending rows go into the next digest, so a crash between
the POST and the mark re-sends the digest after the restart (its rows are held again):
never lost, possibly duplicated. A held row is the one exception to per-notifier order:
it arrives after rows newer than it, by design.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from skimd.domain.alert_policy import AlertPolicy, Disposition
from skimd.domain.alerts import Alert, DaemonStopping, DailySummary
from skimd.services.ports.alerts import PendingAlert

RELEASE_KINDS = frozenset({DailySummary.kind, DaemonStopping.kind})
"""Rows before which a notifier's held rows are sent (or at which, when the row itself is
not sent to that notifier)."""


@dataclass
class QuietHold:
    """One notifier's held rows (by outbox id) and when the oldest was held."""

    interval_s: float
    cap: int
    held: dict[int, Alert] = field(default_factory=dict)
    since: datetime | None = None  # when the oldest held alert happened
    release: bool = False  # send the held rows at the next chance, due or not
    skipped: int = 0  # rows the policy skipped for this notifier since start

    def sort_out(
        self, policy: AlertPolicy, notifier: str, rows: Sequence[PendingAlert]
    ) -> tuple[list[PendingAlert], list[int]]:
        """Split ``notifier``'s pending ``rows``: the rows to
        send now, in order, and the ids the policy skips (the caller marks them delivered).
        Quiet rows are held here. Undecodable rows are left to the sender's own handling."""
        sendable: list[PendingAlert] = []
        skipped: list[int] = []
        for row_id, alert in rows:
            verdict = Disposition.SEND if alert is None else policy.disposition(notifier, alert)
            if verdict is Disposition.SEND:
                sendable.append((row_id, alert))
                continue
            assert alert is not None
            if alert.kind in RELEASE_KINDS:
                self.release = True  # its moment has come even if it is not sent here
            if verdict is Disposition.HOLD:
                if row_id not in self.held:
                    self.held[row_id] = alert
                    self.since = _oldest(self.held.values())
            else:
                skipped.append(row_id)
        self.skipped += len(skipped)
        return sendable, skipped

    def due(self, now: datetime) -> bool:
        """Whether the held rows should go out now (see the module docstring)."""
        if not self.held:
            self.release = False
            return False
        if self.release or len(self.held) >= self.cap:
            return True
        assert self.since is not None
        return (now - self.since).total_seconds() >= self.interval_s

    def next_digest(self, before: int | None = None) -> list[tuple[int, Alert]]:
        """The rows of the next digest, oldest first: at most ``cap``, and only those older
        than row ``before`` when given."""
        ids = sorted(i for i in self.held if before is None or i < before)[: self.cap]
        return [(i, self.held[i]) for i in ids]

    def sent(self, ids: Sequence[int]) -> None:
        """The digest of ``ids`` is delivered (or rejected for good): forget them."""
        for row_id in ids:
            self.held.pop(row_id, None)
        self.since = _oldest(self.held.values())
        if not self.held:
            self.release = False


def _oldest(alerts: Iterable[Alert]) -> datetime | None:
    return min((a.occurred_at for a in alerts), default=None)
