"""What ``skimd demo`` remembers between runs in the data dir (``demo-run.json``, 0600).

A demo day that was killed half-way is resumed from its last recorded simulated time
(the database and the demo broker's book survived, as they would in production); a
finished day, or another date or seed, starts a fresh demo account — but only in a data
dir this marker proves belongs to the demo: a database without it is never touched.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime
from pathlib import Path

from skimd.errors import ConfigurationError
from skimd.files import write_atomic
from skimd.infrastructure.brokers.demo.book_store import BOOK_GLOB, book_file
from skimd.infrastructure.database.maintenance_journal import journal_path
from skimd.infrastructure.database.restore import staged_path, staged_salt_path

MARKER = "demo-run.json"


@dataclass(frozen=True)
class DemoRun:
    seed: int
    day: date
    sim_time: datetime
    finished: bool = False

    def to_json(self) -> str:
        data = asdict(self)
        data["day"] = self.day.isoformat()
        data["sim_time"] = self.sim_time.isoformat()
        return json.dumps(data, sort_keys=True)


def load(data_dir: Path) -> DemoRun | None:
    path = data_dir / MARKER
    if not path.exists():
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return DemoRun(
            seed=int(raw["seed"]),
            day=date.fromisoformat(raw["day"]),
            sim_time=datetime.fromisoformat(raw["sim_time"]),
            finished=bool(raw["finished"]),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(
            f"{path}: unreadable demo marker ({exc}); delete it to start a fresh demo"
        ) from exc


def save(data_dir: Path, run: DemoRun) -> None:
    """Atomically replace the marker (0600)."""
    write_atomic(data_dir / MARKER, run.to_json().encode("utf-8"))


def book_as_of(data_dir: Path, seed: int) -> datetime | None:
    """When the demo broker's book last changed (a resume must not start before it: the
    book may already hold fills up to then)."""
    path = book_file(data_dir, seed)
    if not path.exists():
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8")).get("as_of")
        return None if raw is None else datetime.fromisoformat(raw)
    except (OSError, ValueError, AttributeError) as exc:
        raise ConfigurationError(f"{path}: unreadable demo broker book ({exc})") from exc


def wipe_demo_account(data_dir: Path, db_file: str) -> list[Path]:
    """Remove the demo's database, its salt and WAL files (and what an unfinished restore
    left), the broker books and the marker (the passphrase file is kept); returns what was
    removed.

    The marker is first rewritten as finished and removed last, so a wipe killed half-way
    leaves an account no later run resumes: the next run wipes what is left."""
    marker = load(data_dir)
    if marker is not None and not marker.finished:
        save(data_dir, replace(marker, finished=True))
    db = data_dir / db_file
    names = [db_file, f"{db_file}-wal", f"{db_file}-shm", f"{db_file}.salt"]
    targets = [data_dir / n for n in names]
    targets += [staged_path(db), staged_salt_path(db), journal_path(db)]
    targets += [*sorted(data_dir.glob(BOOK_GLOB)), data_dir / MARKER]
    removed = []
    for target in targets:
        if target.exists():
            target.unlink()
            removed.append(target)
    return removed


class DemoAccount:
    """The demo's files in one data dir, for a process that holds its instance lock."""

    def __init__(self, data_dir: Path, db_file: str, seed: int) -> None:
        self.data_dir = data_dir
        self.seed = seed
        self._db_file = db_file

    def last_run(self) -> DemoRun | None:
        return load(self.data_dir)

    def record(self, day: date, sim_time: datetime, *, finished: bool = False) -> None:
        save(self.data_dir, DemoRun(self.seed, day, sim_time, finished=finished))

    def book_as_of(self) -> datetime | None:
        return book_as_of(self.data_dir, self.seed)

    def has_database(self) -> bool:
        return (self.data_dir / self._db_file).exists()

    def wipe(self) -> list[Path]:
        return wipe_demo_account(self.data_dir, self._db_file)
