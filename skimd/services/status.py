"""Status for ``skimd status``: read-only, safe while the daemon runs.

Whether a daemon is running comes from the data-dir lock (its holder's pid); the job plan
comes from the same job table and triggers the daemon uses, computed on the given clock.
"""

from __future__ import annotations

import fcntl
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from skimd.bootstrap import Daemon


def running_pid(daemon: Daemon) -> int | None:
    """The pid holding the instance lock, or None when no daemon runs on this data dir."""
    path = daemon.lock.path
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.read(fd, 32).decode("ascii", "replace").strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def collect_status(daemon: Daemon) -> dict[str, Any]:
    from skimd.infrastructure.scheduling import build_trigger

    now = daemon.clock.now().astimezone(daemon.calendar.zone)
    session = daemon.calendar.session(now.date())
    if session is None:
        market = f"closed today ({daemon.calendar.holiday_name(now.date())})"
    else:
        market = (
            f"{'open' if session.is_open(now) else 'closed'}; today {session.open_at:%H:%M}-"
            f"{session.close_at:%H:%M}{' (early close)' if session.early_close else ''}"
        )
    pid = running_pid(daemon)
    jobs = []
    for spec in daemon.supervisor.jobs:  # the table the daemon would run
        if spec.internal:
            continue
        trigger = build_trigger(spec.trigger, daemon.calendar.zone, now)
        nxt = trigger.get_next_fire_time(None, now)
        jobs.append(
            {
                "job": spec.id,
                "description": spec.description,
                "next_run": nxt.isoformat() if nxt else None,
            }
        )
    return {
        "daemon": f"running (pid {pid})" if pid else "not running",
        "pid": pid,
        "config": daemon.settings.source,
        "data_dir": str(daemon.data_dir),
        "market": market,
        "now": now.isoformat(),
        "jobs": jobs,
    }
