"""The broker session's last known state, as the daemon records it for ``skimd status``.

One record, rewritten on every transition (up, lost, competing, paused until, restored,
renewed, daemon stopped), so a reader in another process sees the real state rather than the
last healthy check: ``state`` is what the daemon knows now, ``since`` when that state began,
``paused_until`` when the broker will next try to restore a down session (the daemon's
market-data and order jobs wait meanwhile), ``renewed_at`` / ``renewal_expires_at`` the
last new session credential (IBKR: the live session token, about daily), and
``stopped_at`` set when the daemon that wrote it shut down (a reader must then not present
the state as current).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum


class SessionState(StrEnum):
    UP = "authenticated"
    LOST = "lost"
    COMPETING = "competing"  # another login holds or is taking the brokerage session

    @property
    def down(self) -> bool:
        return self is not SessionState.UP


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """See the module docstring. ``at`` is when the record was last written; ``reason`` is
    the broker's one-line explanation of a down state (empty when up)."""

    state: SessionState
    at: datetime
    since: datetime | None = None
    reason: str = ""
    paused_until: datetime | None = None
    renewed_at: datetime | None = None
    renewal_expires_at: datetime | None = None
    stopped_at: datetime | None = None

    def __post_init__(self) -> None:
        for name in (
            "at", "since", "paused_until", "renewed_at", "renewal_expires_at", "stopped_at"
        ):
            value = getattr(self, name)
            if isinstance(value, datetime) and value.utcoffset() is None:
                raise ValueError(f"SessionRecord.{name} must be timezone-aware")

    @property
    def down(self) -> bool:
        return self.state.down

    def moved(self, at: datetime, **changes: object) -> SessionRecord:
        """This record rewritten at ``at`` with ``changes`` (a running daemon wrote it, so
        ``stopped_at`` is cleared unless given)."""
        changes.setdefault("stopped_at", None)
        return replace(self, at=at, **changes)  # type: ignore[arg-type]
