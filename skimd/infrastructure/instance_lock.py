"""One daemon per data directory.

An exclusive ``flock`` on ``<data_dir>/skimd.lock`` held for the life of the process; the
lock file records the holder's pid so a second ``skimd run`` can name it. The kernel drops
the lock when the process dies (even on ``kill -9``), so a stale file never blocks a restart.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from skimd.errors import InstanceLockedError


class InstanceLock:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "skimd.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock; a no-op when this object already holds it."""
        if self._fd is not None:
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise InstanceLockedError(
                f"another skimd is already running (pid {holder}) on {self.path.parent}"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
