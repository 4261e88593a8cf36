"""``skimd guard lock|unlock|status``: the kill switch.

The switch is the guard row in the database (the use case is
:class:`skimd.services.guard.KillSwitch`). When a daemon answers on the control socket, the
daemon flips it (no secret needed here; the change is journaled with the caller's uid and
its alert goes out at once). Otherwise this command builds a SHARED App (no instance lock;
SQLite WAL allows the second connection) and the daemon, if one starts, re-reads the guard
before every entry. Either way a lock stops new entries at once; open positions, their
stops and exits are still managed.

Without a daemon the alert queued with each change goes out when the daemon next starts.
With ``--json`` every action prints one JSON object on stdout (``lock``/``unlock`` add
``changed`` and ``via``: ``daemon`` or ``database``); warnings go to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, tzinfo
from typing import Any

from skimd import bootstrap
from skimd.config import Settings
from skimd.domain.trading import GuardState
from skimd.errors import DaemonUnavailableError

DEFAULT_REASON = "manual lock (skimd guard lock)"
MAX_REASON_CHARS = 200
JSON_HELP = "print {locked, reason, changed_at, changed, via}"


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    guard = subparsers.add_parser(
        "guard", parents=parents, help="the kill switch: stop new entries at once"
    )
    actions = guard.add_subparsers(dest="guard_action", metavar="ACTION")
    lock = actions.add_parser("lock", parents=parents, help="stop all new entries now")
    lock.add_argument(
        "--reason", type=_reason, default=DEFAULT_REASON, help="why (shown in status and alerts)"
    )
    lock.add_argument("--json", action="store_true", help=JSON_HELP)
    lock.set_defaults(handler=_lock)
    unlock = actions.add_parser("unlock", parents=parents, help="allow new entries again")
    unlock.add_argument("--json", action="store_true", help=JSON_HELP)
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


def _settings(args: argparse.Namespace) -> Settings:
    settings = bootstrap.settings_from(args.config)
    bootstrap.setup_logging(settings)  # to stderr: stdout is the answer
    return settings


def _from_daemon(
    settings: Settings, cmd: str, params: dict[str, Any] | None = None
) -> tuple[GuardState, bool] | None:
    """The daemon's answer as ``(state, changed)``; None when no daemon answers."""
    try:
        result = bootstrap.control_client(settings).call(cmd, params)
    except DaemonUnavailableError:
        return None
    if result.get("note"):
        print(f"skimd: warning: {result['note']}", file=sys.stderr)
    changed_at = result.get("changed_at")
    state = GuardState(
        locked=bool(result["locked"]),
        reason=result.get("reason"),
        changed_at=None if changed_at is None else datetime.fromisoformat(changed_at),
    )
    return state, bool(result.get("changed", False))


def _app(settings: Settings) -> bootstrap.App:
    return bootstrap.build(settings, access=bootstrap.Access.SHARED)


def _lock(args: argparse.Namespace) -> int:
    settings = _settings(args)
    answer = _from_daemon(settings, "guard.lock", {"reason": args.reason})
    via = "daemon"
    if answer is None:
        via = "database"
        with _app(settings) as app:
            answer = app.kill_switch.lock(args.reason)
    _changed(settings, args, answer, via, "already locked")
    return 0


def _unlock(args: argparse.Namespace) -> int:
    settings = _settings(args)
    answer = _from_daemon(settings, "guard.unlock")
    via = "daemon"
    if answer is None:
        via = "database"
        with _app(settings) as app:
            answer = app.kill_switch.unlock()
    _changed(settings, args, answer, via, "already unlocked")
    return 0


def _changed(
    settings: Settings,
    args: argparse.Namespace,
    answer: tuple[GuardState, bool],
    via: str,
    unchanged: str,
) -> None:
    state, changed = answer
    if args.json:
        print(json.dumps({**as_json(state), "changed": changed, "via": via}))
        return
    line = describe(state, bootstrap.build_calendar(settings).zone)
    print(line if changed else f"{unchanged}; {line}")


def _status(args: argparse.Namespace) -> int:
    settings = _settings(args)
    answer = _from_daemon(settings, "guard.status")
    if answer is None:
        with _app(settings) as app:
            state = app.kill_switch.state()
    else:
        state = answer[0]
    zone = bootstrap.build_calendar(settings).zone
    print(json.dumps(as_json(state)) if args.json else describe(state, zone))
    return 0
