"""Backup, restore, rotation, plaintext → encrypted, and integrity checks."""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from skimd.config import Settings
from skimd.errors import DatabaseError, DatabaseKeyError, IntegrityError
from skimd.infrastructure.database import TradingDatabase, maintenance, open_trading_database
from skimd.infrastructure.database.crypto import KdfParams, salt_path
from skimd.infrastructure.database.restore import restore
from skimd.infrastructure.database.tables import Trade

SettingsFactory = Callable[..., Settings]


def add_trade(db: TradingDatabase, *exec_ids: str, now: datetime) -> None:
    with db.unit_of_work() as uow:
        for exec_id in exec_ids:
            uow.trades.add_new(
                Trade(
                    exec_id=exec_id,
                    ticker="BHP",
                    side="BUY",
                    qty=Decimal(1),
                    price=Decimal("3.21"),
                    executed_at=now,
                )
            )


def corrupt_middle_of_a_page(path: Path, page: int) -> None:
    with path.open("r+b") as fh:
        fh.seek(page * 4096 + 2000)
        fh.write(b"\xde\xad\xbe\xef" * 16)


def test_backup_then_restore_round_trips(
    db: TradingDatabase, settings: Settings, now: datetime, tmp_path: Path, mode: str
) -> None:
    add_trade(db, "BEFORE-BACKUP", now=now)
    made = maintenance.backup(db, tmp_path / "backups", keep=3, now=now)
    assert made.exists() and not Path(f"{made}-wal").exists()
    if mode == "sqlcipher":
        assert not made.read_bytes().startswith(b"SQLite format 3")
        assert stat.S_IMODE(salt_path(made).stat().st_mode) == 0o600
    add_trade(db, "AFTER-BACKUP", now=now)
    db.close()

    aside = restore(
        db.path, made, settings.database.passphrase, encrypted=mode == "sqlcipher", now=now
    )
    assert (aside / db.path.name).exists()
    restored = open_trading_database(settings, create=False)
    with restored.unit_of_work(read_only=True) as uow:
        assert uow.trades.exists("BEFORE-BACKUP")
        assert not uow.trades.exists("AFTER-BACKUP")
    assert maintenance.integrity_problems(restored) == []
    restored.close()


def test_backups_rotate_keeping_n(db: TradingDatabase, now: datetime, tmp_path: Path) -> None:
    made = [
        maintenance.backup(db, tmp_path / "b", keep=2, now=now + timedelta(minutes=i))
        for i in range(4)
    ]
    assert maintenance.list_backups(tmp_path / "b", db.path.stem) == made[2:]
    assert not salt_path(made[0]).exists()


def test_restore_refuses_a_corrupt_backup_and_changes_nothing(
    make_settings: SettingsFactory, now: datetime, tmp_path: Path
) -> None:
    settings = make_settings()
    db = open_trading_database(settings, create=True)
    add_trade(db, *(f"E{i:04d}-" + "x" * 400 for i in range(40)), now=now)  # several pages
    made = maintenance.backup(db, tmp_path / "b", keep=1, now=now)
    db.close()
    corrupt_middle_of_a_page(made, page=3)
    before = db.path.read_bytes()
    with pytest.raises(DatabaseError, match="failed verification"):
        restore(db.path, made, settings.database.passphrase, encrypted=True, now=now)
    assert db.path.read_bytes() == before


def test_restore_with_the_wrong_passphrase_is_refused(
    make_settings: SettingsFactory, now: datetime, tmp_path: Path
) -> None:
    db = open_trading_database(make_settings(), create=True)
    made = maintenance.backup(db, tmp_path / "b", keep=1, now=now)
    db.close()
    wrong = make_settings(passphrase="some other passphrase").database.passphrase
    with pytest.raises(DatabaseKeyError):
        restore(db.path, made, wrong, encrypted=True, now=now)


def test_plaintext_database_is_encrypted_in_place(
    make_settings: SettingsFactory, now: datetime
) -> None:
    plain_settings = make_settings(encryption="off")
    db = open_trading_database(plain_settings, create=True)
    add_trade(db, "PLAINTEXT-EXEC", now=now)
    db.close()
    assert b"PLAINTEXT-EXEC" in db.path.read_bytes()  # closed: the WAL is checkpointed
    passphrase = plain_settings.database.passphrase
    assert passphrase is not None
    result = maintenance.encrypt_plaintext(db.path, passphrase, KdfParams(1, 8192, 1), now=now)
    assert result.plaintext_kept is None
    data = db.path.read_bytes()
    assert not data.startswith(b"SQLite format 3") and b"PLAINTEXT-EXEC" not in data
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(db.path).execute("SELECT * FROM trades").fetchall()
    encrypted = open_trading_database(make_settings(), create=False)
    with encrypted.unit_of_work(read_only=True) as uow:
        assert uow.trades.exists("PLAINTEXT-EXEC")
    encrypted.close()


def test_integrity_check_reports_a_damaged_data_page(
    make_settings: SettingsFactory, now: datetime
) -> None:
    settings = make_settings()
    db = open_trading_database(settings, create=True)
    add_trade(db, *(f"E{i:04d}-" + "x" * 400 for i in range(40)), now=now)
    assert maintenance.integrity_problems(db) == []
    db.close()
    last_page = db.path.stat().st_size // 4096 - 1
    corrupt_middle_of_a_page(db.path, page=last_page)
    before = db.path.read_bytes()
    with pytest.raises(IntegrityError, match=f"page {last_page + 1}"):  # refused on open
        open_trading_database(settings, create=False, exclusive=True)
    assert db.path.read_bytes() == before
    problems = maintenance.verify_file(db.path, db.key)
    assert any(f"page {last_page + 1}" in p for p in problems)


def test_a_damaged_schema_page_is_not_called_a_wrong_passphrase(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings()
    db = open_trading_database(settings, create=True)
    db.close()
    for page in range(1, db.path.stat().st_size // 4096):  # every page but the header
        corrupt_middle_of_a_page(db.path, page=page)
    with pytest.raises(DatabaseError, match="is damaged") as caught:
        open_trading_database(settings, create=False)
    assert not isinstance(caught.value, DatabaseKeyError)
