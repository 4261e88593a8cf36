"""The broker session record (:class:`~skimd.domain.broker_session.SessionRecord`) as the
JSON the settings table stores under ``daemon.broker_session``.

Earlier versions stored only the last health check (``connected``/``authenticated``/
``competing``/``message``/``at``); such a value still reads, as a record whose state follows
from those flags and whose other fields are unknown.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from skimd.domain.broker_session import SessionRecord, SessionState

_TIMES = ("since", "paused_until", "renewed_at", "renewal_expires_at", "stopped_at")


def session_to_json(record: SessionRecord) -> dict[str, Any]:
    out: dict[str, Any] = {"state": record.state.value, "reason": record.reason}
    out["at"] = record.at.isoformat()
    for name in _TIMES:
        value = getattr(record, name)
        out[name] = None if value is None else value.isoformat()
    return out


def session_from_json(raw: object) -> SessionRecord | None:
    """The stored record, or None when nothing (or nothing readable) is stored."""
    if not isinstance(raw, dict) or not raw.get("at"):
        return None
    at = datetime.fromisoformat(str(raw["at"]))
    if "state" not in raw:  # the health-check form of earlier versions
        if raw.get("competing"):
            state = SessionState.COMPETING
        elif raw.get("authenticated") and raw.get("connected", True):
            state = SessionState.UP
        else:
            state = SessionState.LOST
        return SessionRecord(state=state, at=at, reason=str(raw.get("message") or ""))
    try:
        state = SessionState(str(raw["state"]))
    except ValueError:
        return None
    times = {n: datetime.fromisoformat(str(raw[n])) if raw.get(n) else None for n in _TIMES}
    return SessionRecord(state=state, at=at, reason=str(raw.get("reason") or ""), **times)
