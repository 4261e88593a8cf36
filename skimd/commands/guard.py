"""``skimd guard lock|unlock|status``: the kill switch.

The switch is the guard row in the database (the use case is
:class:`skimd.services.guard.KillSwitch`). It works while the daemon runs: this command
builds a SHARED App (no instance lock; SQLite WAL allows the second connection) and the
daemon re-reads the guard before every entry, so a lock stops new entries at once. Open
positions, their stops and exits are still managed.

The alert queued with each change goes out through a running daemon's outbox job within its
poll interval; otherwise when the daemon next starts.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, tzinfo
from typing import Any

from skimd import bootstrap
from skimd.domain.trading import GuardState

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


# -- handlers ----------------------------------------------------------------------------------


def _app(args: argparse.Namespace) -> bootstrap.App:
    settings = bootstrap.settings_from(args.config)
    bootstrap.setup_logging(settings)  # to stderr: stdout is the answer
    return bootstrap.build(settings, access=bootstrap.Access.SHARED)


def _lock(args: argparse.Namespace) -> int:
    with _app(args) as app:
        state, changed = app.kill_switch.lock(args.reason)
    line = describe(state, app.calendar.zone)
    print(line if changed else f"already locked; {line}")
    return 0


def _unlock(args: argparse.Namespace) -> int:
    with _app(args) as app:
        state, changed = app.kill_switch.unlock()
    line = describe(state, app.calendar.zone)
    print(line if changed else f"already unlocked; {line}")
    return 0


def _status(args: argparse.Namespace) -> int:
    with _app(args) as app:
        state = app.kill_switch.state()
    print(json.dumps(as_json(state)) if args.json else describe(state, app.calendar.zone))
    return 0
