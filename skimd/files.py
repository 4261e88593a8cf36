"""Writing a file so that a crash leaves either the old contents or the new, never half.

The data goes to a temporary file in the same directory (created 0600 by ``mkstemp``: what
skimd writes is the trader's own data), is flushed and fsynced, replaces the target with
``os.replace`` (atomic on POSIX), and the directory is fsynced so the rename survives a
power cut. A failure removes the temporary file and raises the ``OSError``; callers turn it
into the error class their context calls for.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes) -> None:
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
        tmp = None
        _fsync_dir(path.parent)
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
