"""Writing files so that a crash leaves either the old contents or the new, never half, and
so that nothing skimd writes is readable by other users.

:func:`write_atomic` writes to a temporary file in the same directory (created 0600 by
``mkstemp``: what skimd writes is the trader's own data), flushes and fsyncs it, replaces
the target with ``os.replace`` (atomic on POSIX) and fsyncs the directory so the rename
survives a power cut. A failure removes the temporary file and raises the ``OSError``;
callers turn it into the error class their context calls for. A process killed between
the write and the rename leaves the temporary behind (``.<name>.<random>.tmp``):
:func:`remove_atomic_temporaries` clears them, and is run by whoever holds the directory's
instance lock when it starts (nobody else writes there).

Modes do not depend on the umask: directories are made 0700 (:func:`private_dir`) and
files 0600 (:func:`create_private`, :func:`copy_private`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

_TEMP_SUFFIX = ".tmp"


def write_atomic(path: Path, data: bytes) -> None:
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=_TEMP_SUFFIX, dir=path.parent)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
        tmp = None
        fsync_dir(path.parent)
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def is_atomic_temporary(name: str) -> bool:
    """Whether ``name`` has the shape of :func:`write_atomic`'s temporary file."""
    return name.startswith(".") and name.endswith(_TEMP_SUFFIX) and name.count(".") >= 3


def remove_atomic_temporaries(directory: Path) -> list[Path]:
    """Delete what killed :func:`write_atomic` calls left in ``directory`` (not below it);
    returns the removed paths. Only for a directory no other process is writing in."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return removed
    for entry in entries:
        if is_atomic_temporary(entry.name) and entry.is_file(follow_symlinks=False):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    if removed:
        fsync_dir(directory)
    return removed


def private_dir(path: Path) -> Path:
    """``path`` as a directory, creating it and any missing parents at mode 0700 (existing
    ones are left as they are)."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700)
        os.chmod(folder, 0o700)  # mkdir's mode is masked by the umask
    return path


def create_private(path: Path) -> bool:
    """Create ``path`` empty at mode 0600 unless it exists; whether it was created.

    SQLite gives a database's -wal and -shm the mode of the database file, so creating the
    file first is what keeps all three private."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    return True


def copy_private(src: Path, dst: Path) -> None:
    """Copy ``src`` over ``dst`` (mode 0600 from the first byte) and fsync it. Not atomic:
    callers stage ``dst`` under a name nothing else reads."""
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as out, src.open("rb") as source:
        os.fchmod(out.fileno(), 0o600)
        shutil.copyfileobj(source, out, 1 << 20)
        out.flush()
        os.fsync(out.fileno())


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
