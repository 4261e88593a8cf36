"""The data dir is 0700 and everything in it is private (files 0600, folders 0700).

New files are made that way whatever the umask (:mod:`skimd.files`, and the database file
is created 0600 before SQLite opens it, so its -wal and -shm inherit the mode). What an
older skimd, a ``mkdir -p`` under a 0022 umask or a copy left open is handled when a
process that holds the instance lock starts (:func:`tidy_data_dir`):

- Data is **tightened**, not refused: group/other bits are removed and a warning names the
  paths. The files are skimd's own (it runs as their owner), so tightening cannot break
  anything, while refusing would stop an upgraded deployment with exit 78 — which systemd
  does not restart — over something skimd can repair itself. Only when the change is not
  allowed (another owner) is it a one-line configuration error.
- A **secret** (the passphrase file) is never tightened: a secret others could read may
  have been read, and quietly fixing the mode would hide that. Opening the database refuses
  it (exit 78); the operator rotates it with ``skimd db rekey``.
- Temporaries of killed atomic writes (``.<name>.<random>.tmp``) are removed: only lock
  holders write in the data dir itself, so none can be in use.

Readers (no lock) change nothing, not even modes; :func:`warn_if_open` only says so.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from skimd.errors import ConfigurationError
from skimd.files import remove_atomic_temporaries

log = structlog.get_logger(__name__)

_OTHERS = 0o077


@dataclass(frozen=True)
class Tidied:
    tightened: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)


def loose_paths(data_dir: Path, secrets: Iterable[Path] = ()) -> list[Path]:
    """``data_dir`` and everything below it that group or others may use (symlinks and
    sockets below it and ``secrets`` are not looked at)."""
    skip = {os.path.realpath(s) for s in secrets}
    found: list[Path] = []
    if _mode(data_dir) & _OTHERS:
        found.append(data_dir)
    for root, dirs, files in os.walk(data_dir, followlinks=False):
        for name in [*dirs, *files]:
            path = Path(root) / name
            # a control socket is 0660 on purpose and holds nothing (a dead daemon's is replaced)
            if path.is_symlink() or path.is_socket() or os.path.realpath(path) in skip:
                continue
            if _mode(path) & _OTHERS:
                found.append(path)
    return found


def tidy_data_dir(data_dir: Path, secrets: Iterable[Path] = ()) -> Tidied:
    """For the holder of the instance lock, at start: tighten what is open to others and
    remove leftover temporaries; both are logged."""
    tightened: list[Path] = []
    for path in loose_paths(data_dir, secrets):
        mode = _mode(path)
        if not mode & _OTHERS:
            continue
        try:
            os.chmod(path, mode & ~_OTHERS)  # never a symlink: loose_paths skips them
        except FileNotFoundError:
            continue  # a reader's -shm, gone since
        except OSError as exc:
            raise ConfigurationError(
                f"{path}: mode {mode:04o} lets other users in and skimd cannot change it "
                f"({exc.strerror}); chmod go-rwx it, or run skimd as its owner"
            ) from exc
        tightened.append(path)
    if tightened:
        log.warning(
            "data dir tightened: group/other access removed",
            data_dir=str(data_dir),
            count=len(tightened),
            paths=[str(p) for p in tightened[:10]],
        )
    removed = remove_atomic_temporaries(data_dir)
    if removed:
        log.warning(
            "leftovers of interrupted writes removed",
            data_dir=str(data_dir),
            paths=[str(p) for p in removed],
        )
    return Tidied(tightened, removed)


def warn_if_open(data_dir: Path) -> None:
    """Log (without changing anything) when the data dir itself is open to others."""
    mode = _mode(data_dir)
    if mode & _OTHERS:
        log.warning(
            "data dir is open to other users",
            data_dir=str(data_dir),
            mode=f"{mode:04o}",
            fix="the next command that takes the instance lock (e.g. `skimd run`) makes it 0700",
        )


def _mode(path: Path) -> int:
    """Permission bits of ``path`` (the data dir itself may be a symlink to a folder); 0
    for a file gone since it was listed (a reader's -shm)."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return 0
