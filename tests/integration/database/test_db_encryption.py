"""What SQLCipher must guarantee on disk, and the keying rules around it."""

from __future__ import annotations

import hashlib
import sqlite3
import stat
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import text

from skimd.config import Settings
from skimd.errors import DatabaseError, DatabaseKeyError
from skimd.infrastructure.database import open_trading_database
from skimd.infrastructure.database.crypto import salt_path
from skimd.infrastructure.database.tables import Trade

SettingsFactory = Callable[..., Settings]
MARKERS = ("ZZTOPSECRETTICKER", "confidential-order-reason-4242")


def journal_markers(settings: Settings, now: datetime) -> Path:
    db = open_trading_database(settings, create=True)
    with db.unit_of_work() as uow:
        uow.trades.add_new(
            Trade(
                exec_id=MARKERS[1],
                ticker=MARKERS[0],
                side="BUY",
                qty=Decimal(1),
                price=Decimal("1.5"),
                executed_at=now,
            )
        )
    db.close()
    return db.path


def digest(path: Path) -> str:
    parts = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
    return hashlib.sha256(b"".join(p.read_bytes() for p in parts if p.exists())).hexdigest()


def test_encrypted_file_reveals_nothing(
    make_settings: SettingsFactory, now: datetime, file_bytes: Callable[[Path], bytes]
) -> None:
    path = journal_markers(make_settings(), now)
    data = file_bytes(path)
    assert not data.startswith(b"SQLite format 3")
    for marker in MARKERS:
        assert marker.encode() not in data
    assert b"CREATE TABLE" not in data


def test_plain_mode_really_is_plain(
    make_settings: SettingsFactory, now: datetime, file_bytes: Callable[[Path], bytes]
) -> None:
    """The control for the test above: the same data in plain mode is visible."""
    path = journal_markers(make_settings(encryption="off"), now)
    data = file_bytes(path)
    assert data.startswith(b"SQLite format 3")
    assert MARKERS[0].encode() in data


def test_stdlib_sqlite_cannot_read_it(make_settings: SettingsFactory, now: datetime) -> None:
    path = journal_markers(make_settings(), now)
    conn = sqlite3.connect(path)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="not a database"):
            conn.execute("SELECT * FROM trades").fetchall()
    finally:
        conn.close()


def test_salt_file_is_private_json_beside_the_db(
    make_settings: SettingsFactory, now: datetime
) -> None:
    path = journal_markers(make_settings(), now)
    salt = salt_path(path)
    assert stat.S_IMODE(salt.stat().st_mode) == 0o600
    assert '"kdf": "argon2id"' in salt.read_text()


def test_wrong_passphrase_fails_cleanly_and_writes_nothing(
    make_settings: SettingsFactory, now: datetime
) -> None:
    path = journal_markers(make_settings(), now)
    before = digest(path)
    with pytest.raises(DatabaseKeyError) as caught:
        open_trading_database(make_settings(passphrase="not the passphrase"), create=False)
    assert str(caught.value) == f"wrong passphrase for {path}"
    assert "not the passphrase" not in repr(caught.value)
    assert digest(path) == before
    assert not Path(f"{path}-wal").exists()


def test_plain_mode_refuses_an_encrypted_file(
    make_settings: SettingsFactory, now: datetime
) -> None:
    journal_markers(make_settings(), now)
    with pytest.raises(DatabaseKeyError, match="not a plain SQLite file"):
        open_trading_database(make_settings(encryption="off"), create=False)


def test_missing_database_is_not_created_silently(make_settings: SettingsFactory) -> None:
    with pytest.raises(DatabaseError, match="run `skimd db init`"):
        open_trading_database(make_settings(), create=False)


@pytest.mark.parametrize(
    "passphrase",
    [
        'quote " double',
        "quote ' single",
        "back\\slash\\",
        "x'00'; DROP TABLE trades; --",
        "ünïcødé 密码 🔐",
        "  spaces  ",
    ],
)
def test_awkward_passphrases_work(
    make_settings: SettingsFactory, now: datetime, passphrase: str
) -> None:
    settings = make_settings(passphrase=passphrase)
    journal_markers(settings, now)
    db = open_trading_database(settings, create=False)
    with db.unit_of_work(read_only=True) as uow:
        assert uow.trades.exists(MARKERS[1])
    db.close()


def rekey(settings: Settings, new: SecretStr, now: datetime) -> None:
    """`skimd db rekey`'s steps, through the admin that holds the lock."""
    from skimd.clock import SimulatedClock
    from skimd.infrastructure.database.admin import DatabaseAdmin

    assert settings.paths.data_dir is not None
    admin = DatabaseAdmin(settings, settings.paths.data_dir, SimulatedClock(now), exclusive=True)
    assert admin.rekey(new) == "update the passphrase source before the next start"


def test_rekey_keeps_data_and_retires_the_old_key(
    make_settings: SettingsFactory, now: datetime
) -> None:
    settings = make_settings()
    journal_markers(settings, now)
    db = open_trading_database(settings, create=False)
    with db.unit_of_work() as uow:
        uow.providers.set_api_key("md", SecretStr("api-key-123"), now)
    db.close()
    old_salt = salt_path(db.path).read_text()
    new = SecretStr("brand new passphrase ' \" \\ ✓")
    rekey(settings, new, now)
    assert salt_path(db.path).read_text() != old_salt
    with pytest.raises(DatabaseKeyError):
        open_trading_database(settings, create=False)
    reopened = open_trading_database(make_settings(passphrase=new.get_secret_value()), create=False)
    with reopened.unit_of_work(read_only=True) as uow:
        assert uow.trades.exists(MARKERS[1])
        key = uow.providers.get_api_key("md")
        assert key is not None and key.get_secret_value() == "api-key-123"
    reopened.close()


def test_writers_begin_immediate_and_pragmas_hold(make_settings: SettingsFactory) -> None:
    db = open_trading_database(make_settings(), create=True)
    statements: list[str] = []
    with db.engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        raw.set_trace_callback(statements.append)
        with conn.begin():
            conn.execute(text("SELECT 1"))
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
        raw.set_trace_callback(None)
    db.close()
    assert "BEGIN IMMEDIATE" in statements
