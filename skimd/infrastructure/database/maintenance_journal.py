"""The journal of a maintenance step that replaces or re-keys the database file.

``skimd db restore`` and ``skimd db rekey`` each change several files, and a crash can
stop them between any two changes. Each is therefore written as a list of :class:`Step`
(run in order by :func:`run_steps`) whose first writes ``<db>.maintenance.json`` (0600, in
the data dir, fsynced) and whose last removes it; the steps in between move it from phase
to phase. While the file exists the database is not opened normally: a process holding
the instance lock finishes or rolls back what the journal describes
(:mod:`.recovery`), and any other process refuses with a message naming the command that
did not finish. Nothing secret is written here (salts and cost parameters are not
secret; provider API keys appear only as ciphertext under the new database key).

Steps are plain callables so a test can run the first *k* of them and stop, exactly as a
crash between two steps would.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from skimd.errors import DatabaseError
from skimd.files import fsync_dir, write_atomic

_FORMAT = 1


@dataclass(frozen=True)
class Step:
    """One change to the files; the whole operation is a sequence of them."""

    name: str
    run: Callable[[], None]


def run_steps(steps: Sequence[Step]) -> None:
    for step in steps:
        step.run()


@dataclass(frozen=True)
class Journal:
    operation: str  # "restore" | "rekey"
    phase: str
    started_at: str  # ISO 8601, UTC
    details: dict[str, Any] = field(default_factory=dict)

    def at(self, phase: str) -> Journal:
        return replace(self, phase=phase)

    @property
    def command(self) -> str:
        return f"`skimd db {self.operation}`"

    def unfinished(self, path: Path) -> str:
        """The opening of every message about it."""
        return f"{self.command} (started {self.started_at}) did not finish on {path}"


def journal_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".maintenance.json")


def new_journal(operation: str, phase: str, now: datetime, **details: Any) -> Journal:
    return Journal(operation, phase, now.isoformat(timespec="seconds"), details)


def write_journal(db_path: Path, journal: Journal) -> None:
    """Atomically replace the journal (0600, fsynced with its directory)."""
    body = {
        "format": _FORMAT,
        "operation": journal.operation,
        "phase": journal.phase,
        "started_at": journal.started_at,
        "details": journal.details,
    }
    write_atomic(journal_path(db_path), json.dumps(body, indent=2).encode("utf-8"))


def read_journal(db_path: Path) -> Journal | None:
    path = journal_path(db_path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return Journal(
            str(raw["operation"]), str(raw["phase"]), str(raw["started_at"]), dict(raw["details"])
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DatabaseError(
            f"{path}: the journal of an interrupted maintenance step is unreadable ({exc}); "
            "look at the files beside the database before removing it"
        ) from exc


def remove_journal(db_path: Path) -> None:
    journal_path(db_path).unlink(missing_ok=True)
    fsync_dir(db_path.parent)
