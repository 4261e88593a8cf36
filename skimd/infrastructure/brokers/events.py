"""Implementations of :class:`~skimd.services.ports.broker.BrokerEvents`.

:class:`NullBrokerEvents` ignores everything (CLI one-shots); :class:`RecordingBrokerEvents`
keeps what it was told, in order, for tests and for the daemon's own polling.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

EventKind = Literal["session_lost", "session_competing", "rate_limited"]


class NullBrokerEvents:
    """Drops every event."""

    def session_lost(self, reason: str) -> None:
        return None

    def session_competing(self) -> None:
        return None

    def rate_limited(self, endpoint_class: str, until: datetime) -> None:
        return None


@dataclass(frozen=True, slots=True)
class BrokerEvent:
    """One reported event. ``detail`` is the reason or the endpoint class; ``until`` is set
    for rate limits."""

    kind: EventKind
    detail: str = ""
    until: datetime | None = None


@dataclass
class RecordingBrokerEvents:
    """Appends every event to :attr:`events`."""

    events: list[BrokerEvent] = field(default_factory=list)

    def session_lost(self, reason: str) -> None:
        self.events.append(BrokerEvent("session_lost", reason))

    def session_competing(self) -> None:
        self.events.append(BrokerEvent("session_competing"))

    def rate_limited(self, endpoint_class: str, until: datetime) -> None:
        self.events.append(BrokerEvent("rate_limited", endpoint_class, until))

    def kinds(self) -> list[EventKind]:
        return [e.kind for e in self.events]
