"""Run one ``skimd`` command and SIGKILL it just before its N-th change to the file system.

``python -m tests.e2e.fs_step_killer N WATCHED_DIR skimd-args...``

An audit hook (:func:`sys.addaudithook`, Python's own instrumentation of ``open``,
``os.rename``/``os.replace``, ``os.remove``, ``os.mkdir``, ``shutil.copyfile``, ...) counts
every call that would change something under WATCHED_DIR and kills the process with
SIGKILL when it reaches the N-th, before that call runs: a real crash at each step of a
maintenance command, with nothing in skimd knowing it is watched. SQLite's own writes are
not audited; the kills land around them (e.g. right after ``PRAGMA rekey``, before the
next file operation). The exit status is the command's own when it finishes first.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
# event name -> index of the argument naming the path that changes
_PATH_ARG = {
    "os.rename": 0,
    "os.remove": 0,
    "os.mkdir": 0,
    "os.rmdir": 0,
    "os.chmod": 0,
    "os.truncate": 0,
    "os.link": 1,
    "os.symlink": 1,
    "os.utime": 0,
    "shutil.copyfile": 1,
    "shutil.rmtree": 0,
}


def changed_path(event: str, args: tuple[Any, ...]) -> str | None:
    """The path an audited call would change, or None for one that only reads."""
    if event == "open":
        path, mode, flags = args
        writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & _WRITE_FLAGS
        )
        return os.fsdecode(path) if writes and isinstance(path, str | bytes) else None
    index = _PATH_ARG.get(event)
    if index is None:
        return None
    path = args[index]
    return os.fsdecode(path) if isinstance(path, str | bytes | os.PathLike) else None


def main(argv: list[str]) -> int:
    stop_at, watched, skimd_args = int(argv[0]), os.path.realpath(argv[1]), argv[2:]
    seen = 0

    def hook(event: str, args: tuple[Any, ...]) -> None:
        nonlocal seen
        path = changed_path(event, args)
        if path is None or not os.path.realpath(os.path.abspath(path)).startswith(watched):
            return
        seen += 1
        if seen == stop_at:
            os.kill(os.getpid(), signal.SIGKILL)

    sys.addaudithook(hook)
    from skimd.cli import main as skimd_main

    return skimd_main(skimd_args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
