"""The kill switch as a use case: lock, unlock, read.

The switch is the guard row of the trading store; the daemon re-reads it before every
entry, so a lock stops new entries at once while open positions, their stops and exits are
still managed. Locking and unlocking each queue their alert in the SAME unit of work as the
change (``guard_released`` a warning; ``guard_tripped`` a warning when an operator locks
it, who knows already, and critical when the daemon halts trading itself through
:meth:`KillSwitch.halt`, since only the trader can unlock it), so the trader hears of every
change exactly when it commits. Locking a locked switch (or unlocking an unlocked
one) changes nothing and alerts nothing.

Used by ``skimd guard`` and the control socket (``by`` names who) and, through
:meth:`KillSwitch.halt`, by the supervisor when an error that halts trading escapes a job.
"""

from __future__ import annotations

from datetime import datetime

import structlog

from skimd.clock import Clock
from skimd.domain.alerts import GuardReleased, GuardTripped
from skimd.domain.trading import GuardKind, GuardState
from skimd.services.ports.trading import TradingStore

log = structlog.get_logger(__name__)

BY_COMMAND = "`skimd guard lock`"
BY_DAEMON = "the daemon"


class KillSwitch:
    def __init__(self, store: TradingStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def state(self) -> GuardState:
        with self._store.read() as tx:
            return tx.guard()

    def halt(self, reason: str) -> tuple[GuardState, bool]:
        """The daemon locks the switch itself (an error that halts trading): the alert is
        critical, since entries stay stopped until the trader unlocks."""
        return self.lock(reason, by=BY_DAEMON, halted_by_daemon=True)

    def lock(
        self, reason: str, *, by: str = BY_COMMAND, halted_by_daemon: bool = False
    ) -> tuple[GuardState, bool]:
        """Lock and queue the alert in one unit of work; ``(state, changed)``."""
        now = self._clock.now()
        with self._store.transaction() as tx:
            current = tx.guard()
            if current.locked:
                return current, False
            state = tx.lock_guard(reason, now)
            tx.alert(
                GuardTripped(
                    occurred_at=now,
                    guard=GuardKind.KILL_SWITCH,
                    detail=f"LOCKED by {by}: {reason}. No new entries until "
                    "`skimd guard unlock`; open positions are still managed.",
                    halted_by_daemon=halted_by_daemon,
                )
            )
        log.warning("kill switch locked", reason=reason, by=by)
        return state, True

    def unlock(self) -> tuple[GuardState, bool]:
        """Unlock and queue the (warning) alert in one unit of work; ``(state, changed)``."""
        now = self._clock.now()
        with self._store.transaction() as tx:
            current = tx.guard()
            if not current.locked:
                return current, False
            state = tx.unlock_guard(now)
            was = f" (was locked since {_iso(current.changed_at)}: {current.reason})"
            tx.alert(
                GuardReleased(
                    occurred_at=now,
                    guard=GuardKind.KILL_SWITCH,
                    detail=f"UNLOCKED by `skimd guard unlock`{was}. New entries are allowed again.",
                )
            )
        log.warning("kill switch unlocked", was_reason=current.reason)
        return state, True


def _iso(value: datetime | None) -> str:
    return "unknown" if value is None else value.isoformat()
