"""In-memory :class:`~skimd.services.ports.broker.IdentifierCache`.

Used by the CLI, the demo and tests; the daemon passes a database-backed cache so conids
survive restarts. Entries expire at ``expires_at`` (a ``get`` at or after it misses).
"""

from __future__ import annotations

from datetime import datetime


class InMemoryIdentifierCache:
    """Symbol → conid with per-entry expiry; symbols are compared upper-cased."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[int, datetime]] = {}

    def get(self, symbol: str, now: datetime) -> int | None:
        entry = self._entries.get(symbol.strip().upper())
        if entry is None or now >= entry[1]:
            return None
        return entry[0]

    def put(self, symbol: str, conid: int, expires_at: datetime) -> None:
        if expires_at.utcoffset() is None:
            raise ValueError("expires_at must be a timezone-aware datetime")
        self._entries[symbol.strip().upper()] = (conid, expires_at)

    def __len__(self) -> int:
        return len(self._entries)
