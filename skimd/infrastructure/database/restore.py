"""``skimd db restore`` as steps that a crash can stop anywhere without losing a file.

The backup is verified first (nothing changes yet). Then, each step durable before the
next (see :mod:`.maintenance_journal`):

1. ``journal``  the journal says "staging": the backup, where the old files will go.
2. ``stage``    the backup is copied to ``<db>.restoring`` and its salt to
                ``<db>.restoring.salt`` (0600, fsynced).
3. ``staged``   the journal says "swapping": from here on the restore only goes forward.
4. ``aside``    the live database's salt is copied, and the file with its -wal and -shm
                moved, into ``pre-restore-<time>/``.
5. ``place``    ``<db>.restoring`` is renamed to the database.
6. ``salt``     ``<db>.restoring.salt`` is renamed to the salt.
7. ``done``     the journal is removed.

Stopped in "staging", the next lock holder rolls back (removes the staged copies; the
database was never touched). Stopped in "swapping", it finishes steps 4-7, each of which
does only what is still left to do. The staged salt has a name of its own, so nothing
that opens the database mistakes it for a leftover and deletes it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pydantic import SecretStr

from skimd.errors import ConfigurationError, DatabaseError
from skimd.files import copy_private, fsync_dir, write_atomic

from .crypto import DatabaseKey, derive_key, read_salt_file, salt_path
from .maintenance import SIDE_FILES, verify_file
from .maintenance_journal import (
    Journal,
    Step,
    new_journal,
    remove_journal,
    run_steps,
    write_journal,
)

STAGING = "staging"
SWAPPING = "swapping"


def staged_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".restoring")


def staged_salt_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".restoring.salt")


def backup_key(
    backup_path: Path, passphrase: SecretStr | None, encrypted: bool
) -> DatabaseKey | None:
    if not encrypted:
        return None
    if passphrase is None:
        raise ConfigurationError("restoring an encrypted backup needs the database passphrase")
    record = read_salt_file(salt_path(backup_path))
    return derive_key(passphrase, record.salt, record.params)


def check_backup(backup_path: Path, passphrase: SecretStr | None, *, encrypted: bool) -> None:
    """The backup exists, opens with the passphrase and passes the integrity checks."""
    if not backup_path.is_file():
        raise DatabaseError(f"backup {backup_path} does not exist")
    key = backup_key(backup_path, passphrase, encrypted)
    problems = verify_file(backup_path, key)
    if problems:
        raise DatabaseError(f"backup {backup_path} failed verification: {problems[0]}")


@dataclass(frozen=True)
class Restore:
    db_path: Path
    backup: Path
    aside: Path
    encrypted: bool

    @classmethod
    def plan(cls, db_path: Path, backup: Path, *, encrypted: bool, now: datetime) -> Restore:
        stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%S")
        aside = db_path.parent / f"pre-restore-{stamp}"
        n = 2
        while aside.exists():
            aside = db_path.parent / f"pre-restore-{stamp}-{n}"
            n += 1
        return cls(db_path, backup, aside, encrypted)

    @classmethod
    def from_journal(cls, db_path: Path, journal: Journal) -> Restore:
        d = journal.details
        return cls(db_path, Path(d["backup"]), Path(d["aside"]), bool(d["encrypted"]))

    def steps(self, now: datetime) -> list[Step]:
        journal = new_journal(
            "restore",
            STAGING,
            now,
            backup=str(self.backup),
            aside=str(self.aside),
            encrypted=self.encrypted,
        )
        return [
            Step("journal", lambda: write_journal(self.db_path, journal)),
            Step("stage", self.stage),
            Step("staged", lambda: write_journal(self.db_path, journal.at(SWAPPING))),
            *self.forward_steps(),
        ]

    def forward_steps(self) -> list[Step]:
        """Steps 4-7: what finishes a restore that reached "swapping"."""
        return [
            Step("aside", self.move_live_aside),
            Step("place", self.place_staged),
            Step("salt", self.place_salt),
            Step("done", lambda: remove_journal(self.db_path)),
        ]

    def stage(self) -> None:
        copy_private(self.backup, staged_path(self.db_path))
        if self.encrypted:
            copy_private(salt_path(self.backup), staged_salt_path(self.db_path))
        fsync_dir(self.db_path.parent)

    def move_live_aside(self) -> None:
        """Whatever of the live database is still in place goes aside (its salt copied
        first). Nothing to do once the staged copy has been placed."""
        if not staged_path(self.db_path).exists():
            return
        self.aside.mkdir(mode=0o700, exist_ok=True)
        os.chmod(self.aside, 0o700)
        live_salt = salt_path(self.db_path)
        kept_salt = self.aside / live_salt.name
        if live_salt.exists() and not kept_salt.exists():
            write_atomic(kept_salt, live_salt.read_bytes())
        for suffix in ("", *SIDE_FILES):
            live = Path(f"{self.db_path}{suffix}")
            if live.exists():
                os.replace(live, self.aside / live.name)
        fsync_dir(self.aside)
        fsync_dir(self.db_path.parent)

    def place_staged(self) -> None:
        staged = staged_path(self.db_path)
        if staged.exists():
            os.replace(staged, self.db_path)
            fsync_dir(self.db_path.parent)

    def place_salt(self) -> None:
        staged = staged_salt_path(self.db_path)
        if staged.exists():
            os.replace(staged, salt_path(self.db_path))
            fsync_dir(self.db_path.parent)

    def roll_back(self) -> None:
        """Undo a restore stopped while staging: the live database was never touched."""
        for path in (staged_path(self.db_path), staged_salt_path(self.db_path)):
            path.unlink(missing_ok=True)
        remove_journal(self.db_path)


def restore(
    db_path: Path,
    backup_path: Path,
    passphrase: SecretStr | None,
    *,
    encrypted: bool,
    now: datetime,
) -> Path:
    """Replace the live database with a verified backup; returns where the old one went."""
    check_backup(backup_path, passphrase, encrypted=encrypted)
    plan = Restore.plan(db_path, backup_path, encrypted=encrypted, now=now)
    run_steps(plan.steps(now))
    return plan.aside


def settle_restore(db_path: Path, journal: Journal, *, apply: bool, hint: str) -> str:
    """Finish or roll back an interrupted restore (``apply``), or say what is pending."""
    plan = Restore.from_journal(db_path, journal)
    unfinished = f"{journal.unfinished(db_path)} (restoring {plan.backup})"
    forward = journal.phase == SWAPPING
    if not apply:
        what = "finishes it" if forward else "rolls it back"
        raise DatabaseError(f"{unfinished}: it is still running or was interrupted; {hint} {what}")
    if forward:
        run_steps(plan.forward_steps())
        return (
            f"{unfinished}: finished now; the database is the backup, the previous one is "
            f"in {plan.aside}"
        )
    plan.roll_back()
    return f"{unfinished}: rolled back before anything was replaced; the database is as it was"
