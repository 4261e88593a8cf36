"""Implementations of :class:`~skimd.services.ports.broker.BrokerEvents`.

:class:`NullBrokerEvents` ignores everything (CLI one-shots); :class:`RecordingBrokerEvents`
keeps what it was told, in order, for tests and for the daemon's own polling.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

EventKind = Literal[
    "session_lost", "session_competing", "session_restored", "session_renewed", "rate_limited"
]


class NullBrokerEvents:
    """Drops every event."""

    def session_lost(self, reason: str, retry_at: datetime | None = None) -> None:
        return None

    def session_competing(self, retry_at: datetime | None = None) -> None:
        return None

    def session_restored(self) -> None:
        return None

    def session_renewed(self, expires_at: datetime | None) -> None:
        return None

    def rate_limited(self, endpoint_class: str, until: datetime) -> None:
        return None


@dataclass(frozen=True, slots=True)
class BrokerEvent:
    """One reported event. ``detail`` is the reason or the endpoint class; ``until`` is the
    end of a rate limit, the expiry of a renewed session, or the next restore attempt of a
    lost or competing one."""

    kind: EventKind
    detail: str = ""
    until: datetime | None = None


@dataclass
class RecordingBrokerEvents:
    """Appends every event to :attr:`events`."""

    events: list[BrokerEvent] = field(default_factory=list)

    def session_lost(self, reason: str, retry_at: datetime | None = None) -> None:
        self.events.append(BrokerEvent("session_lost", reason, retry_at))

    def session_competing(self, retry_at: datetime | None = None) -> None:
        self.events.append(BrokerEvent("session_competing", until=retry_at))

    def session_restored(self) -> None:
        self.events.append(BrokerEvent("session_restored"))

    def session_renewed(self, expires_at: datetime | None) -> None:
        self.events.append(BrokerEvent("session_renewed", until=expires_at))

    def rate_limited(self, endpoint_class: str, until: datetime) -> None:
        self.events.append(BrokerEvent("rate_limited", endpoint_class, until))

    def kinds(self) -> list[EventKind]:
        return [e.kind for e in self.events]
