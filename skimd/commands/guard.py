"""``skimd guard lock|unlock|status``: the kill switch.

The switch is the guard row in the database. It works while the daemon runs: this command
takes no instance lock (SQLite WAL allows the second connection) and the daemon re-reads
the guard before every entry, so a lock stops new entries at once. Open positions, their
stops and exits are still managed.

Lock and unlock each queue a durable ``guard_tripped`` (kill switch) alert in the same unit
of work as the change, so the trader's channels hear of it: a running daemon's outbox job
delivers it within its poll interval; otherwise it goes out when the daemon next starts.
Locking a locked switch (or unlocking an unlocked one) changes nothing and alerts nothing.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Any

import structlog

from skimd import bootstrap
from skimd.clock import Clock, SystemClock
from skimd.domain.alerts import GuardReleased, GuardTripped
from skimd.domain.trading import GuardKind, GuardState
from skimd.services.trading.ports import TradingStore

log = structlog.get_logger(__name__)

DEFAULT_REASON = "manual lock (skimd guard lock)"
MAX_REASON_CHARS = 200


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    guard = subparsers.add_parser(
        "guard", parents=parents, help="the kill switch: stop new entries at once"
    )
    actions = guard.add_subparsers(dest="guard_action", metavar="ACTION")
    lock = actions.add_parser("lock", parents=parents, help="stop all new entries now")
    lock.add_argument(
        "--reason", type=_reason, default=DEFAULT_REASON, help="why (shown in status and alerts)"
    )
    lock.set_defaults(handler=_lock)
    unlock = actions.add_parser("unlock", parents=parents, help="allow new entries again")
    unlock.set_defaults(handler=_unlock)
    status = actions.add_parser("status", parents=parents, help="show the kill switch")
    status.add_argument("--json", action="store_true", help="print {locked, reason, changed_at}")
    status.set_defaults(handler=_status)

    def _usage(_: argparse.Namespace) -> int:
        guard.print_help()
        return 2

    guard.set_defaults(handler=_usage)


def _reason(text: str) -> str:
    reason = " ".join(text.split())
    if not reason:
        raise argparse.ArgumentTypeError("must not be blank")
    if len(reason) > MAX_REASON_CHARS:
        raise argparse.ArgumentTypeError(f"at most {MAX_REASON_CHARS} characters")
    return reason


# -- the use cases (store and clock injected) --------------------------------------------------


def lock_guard(store: TradingStore, clock: Clock, reason: str) -> tuple[GuardState, bool]:
    """Lock the switch and queue its alert in one unit of work; ``(state, changed)``."""
    now = clock.now()
    with store.transaction() as tx:
        current = tx.guard()
        if current.locked:
            return current, False
        state = tx.lock_guard(reason, now)
        tx.alert(
            GuardTripped(
                occurred_at=now,
                guard=GuardKind.KILL_SWITCH,
                detail=f"LOCKED by `skimd guard lock`: {reason}. No new entries until "
                "`skimd guard unlock`; open positions are still managed.",
            )
        )
    log.warning("kill switch locked", reason=reason)
    return state, True


def unlock_guard(store: TradingStore, clock: Clock) -> tuple[GuardState, bool]:
    """Unlock the switch and queue its alert in one unit of work; ``(state, changed)``.

    The release goes out as ``guard_released`` (a warning): re-enabling entries is worth a
    notification, though not a critical one."""
    now = clock.now()
    with store.transaction() as tx:
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


def guard_state(store: TradingStore) -> GuardState:
    with store.read() as tx:
        return tx.guard()


def as_json(state: GuardState) -> dict[str, Any]:
    changed_at = None if state.changed_at is None else state.changed_at.isoformat()
    return {"locked": state.locked, "reason": state.reason, "changed_at": changed_at}


def describe(state: GuardState, zone: tzinfo | None = None) -> str:
    """One line for the trader (times in ``zone``, the market's, when given)."""
    when = "unknown" if state.changed_at is None else state.changed_at.astimezone(zone)
    if state.locked:
        reason = state.reason or "no reason given"
        return f"guard: LOCKED since {_when(when)} ({reason}) - no new entries"
    since = f" since {_when(when)}" if state.changed_at else ""
    return f"guard: unlocked{since} - entries allowed"


def _when(value: datetime | str) -> str:
    return value if isinstance(value, str) else f"{value:%Y-%m-%d %H:%M:%S %Z}"


def _iso(value: datetime | None) -> str:
    return "unknown" if value is None else value.isoformat()


# -- handlers ----------------------------------------------------------------------------------


def _open(args: argparse.Namespace) -> tuple[TradingStore, Callable[[], None], tzinfo]:
    settings = bootstrap.settings_from(args.config)
    bootstrap.setup_logging(settings)  # to stderr: stdout is the answer
    store, close = bootstrap.open_trading_store(settings)
    return store, close, bootstrap.build_calendar(settings).zone


def _lock(args: argparse.Namespace) -> int:
    store, close, zone = _open(args)
    try:
        state, changed = lock_guard(store, SystemClock(), args.reason)
    finally:
        close()
    line = describe(state, zone)
    print(line if changed else f"already locked; {line}")
    return 0


def _unlock(args: argparse.Namespace) -> int:
    store, close, zone = _open(args)
    try:
        state, changed = unlock_guard(store, SystemClock())
    finally:
        close()
    line = describe(state, zone)
    print(line if changed else f"already unlocked; {line}")
    return 0


def _status(args: argparse.Namespace) -> int:
    store, close, zone = _open(args)
    try:
        state = guard_state(store)
    finally:
        close()
    print(json.dumps(as_json(state)) if args.json else describe(state, zone))
    return 0
