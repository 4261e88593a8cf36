"""The alert ports: where alerts go (a notifier) and the outbox as the sender and the units
of work see it. ``skimd.infrastructure.notifications`` and the database implement them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from skimd.domain.alerts import Alert

# -- the protocol ------------------------------------------------------------------------------


class NotificationService(Protocol):
    """Somewhere alerts go (Discord, the console, a JSON-lines file, a fan-out of those).

    ``send`` delivers one alert or raises :class:`~skimd.errors.NotificationDeliveryError`
    (retry later; :class:`~skimd.errors.NotifierRetryAfter` says when) or
    :class:`~skimd.errors.AlertRejectedError` (never retry this alert). ``name`` is stable
    across restarts: delivery records use it.
    """

    @property
    def name(self) -> str: ...

    async def send(self, alert: Alert) -> None: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class CompositeNotifier(Protocol):
    """A notifier made of others (fan-out); the sender tracks each member separately."""

    @property
    def members(self) -> Sequence[NotificationService]: ...


# -- the outbox, as the services see it --------------------------------------------------------


class AlertOutbox(Protocol):
    """The outbox of one unit of work: what it queues joins that unit's transaction."""

    def queue(self, alert: Alert, *, dedup_key: str | None = None) -> int | None:
        """Queue ``alert``, due now; its row id, or None (nothing queued) when an alert
        was queued under ``dedup_key`` before, delivered or not."""
        ...


class HasAlertOutbox(Protocol):
    """A unit of work with an alert outbox (the database's UnitOfWork fits)."""

    @property
    def outbox(self) -> AlertOutbox: ...


PendingAlert = tuple[int, Alert | None]
"""One undelivered outbox row: its id and its alert, None when this version cannot decode
the stored payload (a kind from a newer version, a malformed row)."""


class OutboxStore(Protocol):
    """The sender's view of the outbox table (each call is its own short transaction)."""

    async def pending(self, notifier: str, limit: int) -> list[PendingAlert]:
        """Incomplete rows not yet delivered to ``notifier``, ascending id."""
        ...

    async def mark_delivered(self, ids: Sequence[int], notifier: str, at: datetime) -> None: ...

    async def record_failure(
        self, ids: Sequence[int], notifier: str, error: str, at: datetime
    ) -> None:
        """Count a failed attempt (attempts + last error) for the rows; they stay pending."""
        ...

    async def complete(self, notifiers: Sequence[str], at: datetime) -> int:
        """Mark rows delivered to every one of ``notifiers`` as done; return how many."""
        ...

    async def pending_count(self) -> int: ...
