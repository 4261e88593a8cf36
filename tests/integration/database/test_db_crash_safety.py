"""Restore and rekey stopped after each of their steps, in-process: the first *k* steps are
run and the rest abandoned, as a crash between two steps leaves them (the real-process
kills are tests/e2e/test_maintenance_kills.py).

Then: a reader is refused with a message naming the command that did not finish and
changes nothing; the next holder of the instance lock rolls back or finishes; the database
holds the old or the new contents, never neither."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from skimd.clock import SimulatedClock
from skimd.config import Settings
from skimd.errors import DatabaseError, DatabaseKeyError
from skimd.infrastructure.database import open_trading_database
from skimd.infrastructure.database.admin import DatabaseAdmin
from skimd.infrastructure.database.crypto import KdfParams, salt_path
from skimd.infrastructure.database.maintenance import backup
from skimd.infrastructure.database.maintenance_journal import journal_path, run_steps
from skimd.infrastructure.database.passphrase import ensure_passphrase
from skimd.infrastructure.database.rekey import plan_rekey
from skimd.infrastructure.database.restore import (
    Restore,
    check_backup,
    staged_path,
    staged_salt_path,
)

SettingsFactory = Callable[..., Settings]
NEW = SecretStr("the new passphrase, long enough")
RESTORE_STEPS = ["journal", "stage", "staged", "aside", "place", "salt", "done"]
REKEY_STEPS = [
    "journal",
    "new passphrase",
    "rekey",
    "rekeyed",
    "salt",
    "passphrase",
    "provider keys",
    "done",
]


def put(settings: Settings, value: str, now: datetime) -> None:
    db = open_trading_database(settings, create=True)
    try:
        with db.unit_of_work() as uow:
            uow.settings.set_default("which", value)
            uow.providers.set_api_key("news", SecretStr("k-1"), now)
    finally:
        db.close()


def read(settings: Settings) -> tuple[str, str]:
    db = open_trading_database(settings, create=False)
    try:
        with db.unit_of_work(read_only=True) as uow:
            key = uow.providers.get_api_key("news")
            assert key is not None
            return str(uow.settings.resolve("which")), key.get_secret_value()
    finally:
        db.close()


def files(folder: Path) -> dict[str, bytes]:
    """What is stored under ``folder``; SQLite's WAL index (-shm) and an empty -wal, which
    a read-only connection may leave beside a file it read, do not count."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file()
        and not p.name.endswith("-shm")
        and not (p.name.endswith("-wal") and p.stat().st_size == 0)
    }


def admin(settings: Settings, now: datetime) -> DatabaseAdmin:
    assert settings.paths.data_dir is not None
    return DatabaseAdmin(settings, settings.paths.data_dir, SimulatedClock(now), exclusive=True)


def data_dir(settings: Settings) -> Path:
    assert settings.paths.data_dir is not None
    return settings.paths.data_dir


# -- restore ---------------------------------------------------------------------------------


def restore_steps(settings: Settings, now: datetime, made: Path) -> tuple[Restore, list]:  # type: ignore[type-arg]
    db_path = data_dir(settings) / settings.database.filename
    check_backup(made, settings.database.passphrase, encrypted=True)
    plan = Restore.plan(db_path, made, encrypted=True, now=now)
    return plan, plan.steps(now)


@pytest.fixture
def with_backup(make_settings: SettingsFactory, now: datetime, tmp_path: Path) -> Path:
    """A database holding "live" and a backup of it when it held "backup"."""
    settings = make_settings()
    put(settings, "backup", now)
    db = open_trading_database(settings, create=False)
    made = backup(db, tmp_path / "backups", keep=3, now=now)
    db.close()
    put(settings, "live", now)
    return made


@pytest.mark.parametrize("stop_after", range(len(RESTORE_STEPS) + 1))
def test_restore_stopped_after_each_step(
    stop_after: int,
    make_settings: SettingsFactory,
    with_backup: Path,
    now: datetime,
) -> None:
    settings = make_settings()
    backup_files = {with_backup.name: with_backup.read_bytes()}
    plan, steps = restore_steps(settings, now, with_backup)
    assert [s.name for s in steps] == RESTORE_STEPS
    run_steps(steps[:stop_after])  # ... and the process dies here

    pending = 0 < stop_after < len(steps)
    assert journal_path(plan.db_path).exists() is pending
    if pending:
        before = files(data_dir(settings))
        with pytest.raises(DatabaseError, match="did not finish") as refused:
            open_trading_database(settings, create=False)
        assert "`skimd db restore`" in str(refused.value)
        assert "skimd db recover" in str(refused.value) and "db init" not in str(refused.value)
        assert files(data_dir(settings)) == before, "a reader changes nothing"
        message = admin(settings, now).recover()
        assert ("rolled back" in message) is (stop_after < RESTORE_STEPS.index("staged") + 1)
    finished = stop_after > RESTORE_STEPS.index("staged")
    assert read(settings) == ("backup" if finished else "live", "k-1")
    assert not staged_path(plan.db_path).exists() and not staged_salt_path(plan.db_path).exists()
    assert not journal_path(plan.db_path).exists()
    assert {with_backup.name: with_backup.read_bytes()} == backup_files
    if finished:  # the previous database and its salt are kept aside
        kept = plan.aside / plan.db_path.name
        assert kept.exists() and (plan.aside / salt_path(plan.db_path).name).exists()


def test_a_copy_cut_short_while_staging_is_rolled_back(
    make_settings: SettingsFactory, with_backup: Path, now: datetime
) -> None:
    settings = make_settings()
    plan, steps = restore_steps(settings, now, with_backup)
    run_steps(steps[:1])
    staged_path(plan.db_path).write_bytes(with_backup.read_bytes()[:5000])  # killed mid-copy
    assert "rolled back" in admin(settings, now).recover()
    assert read(settings) == ("live", "k-1")
    assert not staged_path(plan.db_path).exists()


def test_following_the_old_advice_after_a_stop_mid_swap_finishes_the_restore(
    make_settings: SettingsFactory, with_backup: Path, now: datetime
) -> None:
    """Stopped with the live file aside and the copy not yet in place, every command used to
    say "run `skimd db init`", and doing so made a new empty database and deleted the
    staged salt. Now `db init` (it holds the lock) finishes the restore first."""
    settings = make_settings()
    plan, steps = restore_steps(settings, now, with_backup)
    run_steps(steps[: RESTORE_STEPS.index("aside") + 1])
    assert not plan.db_path.exists() and staged_salt_path(plan.db_path).exists()
    admin(settings, now).init()
    assert read(settings) == ("backup", "k-1")


def test_a_restore_that_fails_with_an_error_is_settled_before_the_error_is_raised(
    make_settings: SettingsFactory, with_backup: Path, now: datetime
) -> None:
    settings = make_settings()
    db_path = data_dir(settings) / "skimd.db"
    # the salt's staging copy will fail: its name leads into a folder that does not exist
    staged_salt_path(db_path).symlink_to(data_dir(settings) / "no such folder" / "salt")
    with pytest.raises(FileNotFoundError):
        admin(settings, now).restore(with_backup)
    assert not journal_path(db_path).exists()
    assert not staged_path(db_path).exists() and not staged_salt_path(db_path).is_symlink()
    assert read(settings) == ("live", "k-1")


# -- rekey -----------------------------------------------------------------------------------


def rekey_steps(settings: Settings, now: datetime, *, self_made: bool) -> list:  # type: ignore[type-arg]
    folder = data_dir(settings)
    db = open_trading_database(settings, create=False, exclusive=True)
    old_key = db.key
    assert old_key is not None
    db.close()
    plan = plan_rekey(
        db.path,
        old_key,
        NEW,
        KdfParams(1, 8192, 1),
        api_keys={"news": SecretStr("k-1")},
        passphrase_file=folder / "skimd.passphrase" if self_made else None,
        busy_timeout_ms=5000,
        now=now,
    )
    return plan.steps


@pytest.mark.parametrize("stop_after", range(len(REKEY_STEPS) + 1))
def test_a_self_made_passphrase_rekey_stopped_after_each_step_settles_by_itself(
    stop_after: int, make_settings: SettingsFactory, now: datetime
) -> None:
    settings = make_settings(passphrase=None, create_passphrase=True)
    put(settings, "live", now)
    secret = data_dir(settings) / "skimd.passphrase"
    old = ensure_passphrase(settings, data_dir(settings), create=False)
    steps = rekey_steps(settings, now, self_made=True)
    assert [s.name for s in steps] == REKEY_STEPS
    run_steps(steps[:stop_after])

    db_path = data_dir(settings) / "skimd.db"
    pending = 0 < stop_after < len(steps)
    if pending:
        before = files(data_dir(settings))
        with pytest.raises(DatabaseError, match="did not finish") as refused:
            open_trading_database(settings, create=False)
        assert "`skimd db rekey`" in str(refused.value)
        assert files(data_dir(settings)) == before
        admin(settings, now).recover()
    rekeyed = stop_after > REKEY_STEPS.index("new passphrase") + 1
    current = ensure_passphrase(settings, data_dir(settings), create=False)
    assert current == (NEW if rekeyed else old)
    assert read(settings) == ("live", "k-1")
    leftovers = [p.name for p in data_dir(settings).iterdir() if p.name.endswith(".new")]
    assert leftovers == [] and not journal_path(db_path).exists()
    assert secret.stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("stop_after", range(1, len(REKEY_STEPS)))
def test_an_outside_passphrase_rekey_stopped_after_each_step_names_the_new_passphrase(
    stop_after: int, make_settings: SettingsFactory, now: datetime
) -> None:
    settings = make_settings()  # the passphrase comes from outside (credential, file, env)
    put(settings, "live", now)
    steps = rekey_steps(settings, now, self_made=False)
    run_steps(steps[:stop_after])

    rekeyed = stop_after > REKEY_STEPS.index("new passphrase") + 1
    if not rekeyed:
        assert "rolled back" in admin(settings, now).recover()
        assert read(settings) == ("live", "k-1")
        return
    before = files(data_dir(settings))
    for reader in (False, True):  # a reader, then the lock holder: neither opens it
        with pytest.raises(DatabaseKeyError, match="opens only with the NEW passphrase") as e:
            open_trading_database(settings, create=False, exclusive=reader)
        assert "`skimd db rekey`" in str(e.value) and "did not finish" in str(e.value)
        assert files(data_dir(settings)) == before
    updated = make_settings(passphrase=NEW.get_secret_value())  # the operator updates it
    assert "finished" in admin(updated, now).recover()
    assert read(updated) == ("live", "k-1")
    with pytest.raises(DatabaseKeyError, match="wrong passphrase"):
        open_trading_database(settings, create=False)


def test_recover_with_nothing_pending_says_so(
    make_settings: SettingsFactory, now: datetime
) -> None:
    settings = make_settings()
    put(settings, "live", now)
    assert admin(settings, now).recover().startswith("nothing to recover")


def test_a_rekey_killed_before_its_checkpoint_is_finished_from_the_wal(
    make_settings: SettingsFactory, now: datetime
) -> None:
    """Killed after `PRAGMA rekey` committed but before the WAL was checkpointed, the main
    file still holds pages under the old key that the WAL's pages (new key) supersede: the
    page check on open must see the file as SQLite does, not refuse it as corrupt."""
    from skimd.infrastructure.database.base import open_keyed

    settings = make_settings(passphrase=None, create_passphrase=True)
    put(settings, "live", now)
    folder = data_dir(settings)
    db_path = folder / "skimd.db"
    db = open_trading_database(settings, create=False, exclusive=True)
    old_key = db.key
    db.close()
    assert old_key is not None
    steps = rekey_steps(settings, now, self_made=True)
    holder = open_keyed(db_path, old_key)  # so the rekey's close is not the last: no checkpoint
    run_steps(steps[: REKEY_STEPS.index("rekey") + 1])
    killed = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    holder.close()
    for name, content in killed.items():  # the files as the SIGKILL left them
        (folder / name).write_bytes(content)
    Path(f"{db_path}-shm").unlink(missing_ok=True)
    assert Path(f"{db_path}-wal").stat().st_size > 0

    assert "finished" in admin(settings, now).recover()
    assert ensure_passphrase(settings, folder, create=False) == NEW
    assert read(settings) == ("live", "k-1")  # a reader: it cannot fold a WAL itself
