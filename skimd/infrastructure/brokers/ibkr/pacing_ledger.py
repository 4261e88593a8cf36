"""Where IBKR pacing state lives: in memory, or in a file every skimd process shares.

IBKR counts requests per authenticated user (consumer), not per process: a ``skimd broker
check`` run beside the daemon, or ten of them back to back, all draw on one budget, and a
429 puts the whole account in the penalty box. So the state the pacer decides by — when
each endpoint class last sent, and any penalty box — is kept in a :class:`PacingLedger`
that all processes of one installation read and write:

- :class:`FileLedger` is a small JSON file under the data dir, read and rewritten under an
  exclusive ``fcntl.flock`` for every decision, so two processes never both take the same
  turn. It survives restarts, and with it a penalty box (IBKR's lasts 10 minutes whether
  or not we restart). The lock is held only for the read-modify-write of a few hundred
  bytes (never across an ``await``), so it is taken blocking, on the event loop thread.
- :class:`MemoryLedger` is the same state for one process (tests, benches, a broker built
  without a data dir).

A file that cannot be opened (another user's data dir) is a ConfigurationError, not a
fallback to pacing alone: that fallback is how a command would push the daemon beside it
into the penalty box.

Times in the ledger are wall-clock epoch seconds (the injected ``Clock.now()``): they are
compared across processes, which share no monotonic clock. The state is a cache of facts
about the past; an unreadable file is logged and read as empty (the worst case is one
turn taken early, which the margin on every limit absorbs more often than not).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import structlog

from skimd.errors import ConfigurationError

log = structlog.get_logger("skimd.ibkr.pacing")

PACING_FILE = "ibkr-pacing.json"
_VERSION = 1


@dataclass
class ClassRecord:
    """One endpoint class: the latest send times (oldest first) and the penalty box's end."""

    sent: list[float] = field(default_factory=list)
    penalty_until: float | None = None


@dataclass
class LedgerState:
    classes: dict[str, ClassRecord] = field(default_factory=dict)

    def record(self, name: str) -> ClassRecord:
        return self.classes.setdefault(name, ClassRecord())

    def to_json(self) -> dict[str, Any]:
        return {
            "version": _VERSION,
            "classes": {
                name: {"sent": r.sent, "penalty_until": r.penalty_until}
                for name, r in sorted(self.classes.items())
            },
        }

    @classmethod
    def from_json(cls, data: Any) -> LedgerState:
        """The state in ``data``; raises ValueError/TypeError/KeyError when malformed."""
        if data.get("version") != _VERSION:
            raise ValueError(f"unknown version {data.get('version')!r}")
        classes: dict[str, ClassRecord] = {}
        for name, raw in data["classes"].items():
            until = raw.get("penalty_until")
            classes[str(name)] = ClassRecord(
                sent=[float(t) for t in raw.get("sent", [])],
                penalty_until=None if until is None else float(until),
            )
        return cls(classes)


class PacingLedger(Protocol):
    def transaction(self) -> contextlib.AbstractContextManager[LedgerState]:
        """The state, exclusively, for one synchronous read-modify-write (no ``await``
        inside); changes are kept when the block ends without an exception."""
        ...


class MemoryLedger:
    """One process's pacing state (the event loop runs one transaction at a time)."""

    def __init__(self) -> None:
        self.state = LedgerState()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[LedgerState]:
        yield self.state


class FileLedger:
    """Pacing state in ``path`` (0600, created with its 0700 directory when missing),
    shared by every process that opens the same file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextlib.contextmanager
    def transaction(self) -> Iterator[LedgerState]:
        try:
            if not self.path.parent.exists():
                self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            # Pacing alone (in memory) could push the account, and a daemon beside us,
            # into IBKR's penalty box: refuse instead.
            raise ConfigurationError(
                f"{self.path}: cannot open the IBKR pacing ledger ({exc.strerror}); every "
                "skimd process of the account needs it: run skimd as the data dir's owner"
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            raw = _read_all(fd)
            state = self._parse(raw)
            yield state
            text = json.dumps(state.to_json(), separators=(",", ":")).encode()
            if text != raw:
                os.lseek(fd, 0, os.SEEK_SET)
                os.ftruncate(fd, 0)
                os.write(fd, text)
        finally:
            os.close(fd)  # releases the flock

    def _parse(self, raw: bytes) -> LedgerState:
        if not raw.strip():
            return LedgerState()
        try:
            return LedgerState.from_json(json.loads(raw))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            log.warning("pacing ledger unreadable; starting empty", path=str(self.path),
                        error=str(exc))
            return LedgerState()


def _read_all(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)
