"""The one entry the composition root calls: settings → an open TradingDatabase.

Resolves the file (``get_db_path``), the passphrase (config, or the demo's self-made file),
the salt file and KDF parameters, derives the key once, opens the database and — when
``create`` — migrates it to the head revision.

A rekey leaves ``<db>.salt.new`` in place until the new key is in use; if the process died
in between, opening tries the other salt and finishes the switch, so a crash can never
lock the trader out.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import structlog
from pydantic import SecretStr

from skimd.config import Settings
from skimd.errors import DatabaseKeyError, SchemaVersionError

from .base import BaseDatabase, refuse_plain_file
from .crypto import (
    DatabaseKey,
    KdfParams,
    LazyFernet,
    derive_key,
    new_salt_record,
    read_salt_file,
    salt_path,
    write_salt_file,
)
from .passphrase import ensure_passphrase
from .paths import get_data_dir, get_db_path
from .session import SessionManager, UnitOfWork

log = structlog.get_logger(__name__)


class TradingDatabase(BaseDatabase):
    """The daemon's store: trading tables, the journal and price history in one file."""

    def __init__(
        self,
        path: Path,
        key: DatabaseKey | None,
        *,
        create: bool = False,
        busy_timeout_ms: int = 5000,
        fernet_key: DatabaseKey | None = None,
    ) -> None:
        super().__init__(path, key, create=create, busy_timeout_ms=busy_timeout_ms)
        source = key if key is not None else fernet_key
        self.fernet = LazyFernet(source) if source is not None else None
        self.session_manager = SessionManager(self.engine, self.read_only_engine(), self.fernet)

    def unit_of_work(self, *, read_only: bool = False) -> AbstractContextManager[UnitOfWork]:
        return self.session_manager.unit_of_work(read_only=read_only)


def pending_salt_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".salt.new")


def load_or_create_salt_key(
    db_path: Path, passphrase: SecretStr, params: KdfParams, *, create: bool
) -> DatabaseKey:
    """Derive the key from ``<db>.salt``; with ``create`` and no salt yet, make one.

    Refuses to invent a salt for an existing database file (its key would be lost).
    """
    salt_file = salt_path(db_path)
    if not salt_file.exists():
        if db_path.exists():
            refuse_plain_file(db_path)  # a plaintext file has no salt to miss
            read_salt_file(salt_file)  # raises: the salt of an existing database is missing
        if not create:
            raise SchemaVersionError(f"database {db_path} does not exist; run `skimd db init`")
        write_salt_file(salt_file, new_salt_record(params), exclusive=True)
    record = read_salt_file(salt_file)
    return derive_key(passphrase, record.salt, record.params)


def candidate_keys(
    db_path: Path, passphrase: SecretStr, params: KdfParams, *, create: bool
) -> Iterator[tuple[DatabaseKey, bool]]:
    """The key from the salt file, then (if an interrupted rekey left one) the pending one.

    Yields ``(key, is_pending)``. Derivation is lazy: the pending salt costs nothing unless
    the first key fails.
    """
    yield load_or_create_salt_key(db_path, passphrase, params, create=create), False
    pending = pending_salt_path(db_path)
    if pending.exists():
        record = read_salt_file(pending)
        yield derive_key(passphrase, record.salt, record.params), True


def open_trading_database(settings: Settings, *, create: bool) -> TradingDatabase:
    """Open (and with ``create``, initialise and migrate) the trading database.

    Raises DatabaseKeyError for a wrong passphrase, DatabaseError when the file or its salt
    is missing, ConfigurationError when no passphrase is configured.
    """
    db_settings = settings.database
    data_dir = get_data_dir(settings)
    path = get_db_path(settings)
    params = KdfParams.from_settings(db_settings)
    encrypted = db_settings.encryption == "sqlcipher"
    if not encrypted:
        log.warning(
            "database_encryption_off",
            path=str(path),
            warning="the trade journal is stored UNENCRYPTED; set [database] encryption = "
            "'sqlcipher' and run `skimd db encrypt`",
        )
        db = _open_plain(settings, path, data_dir, params, create=create)
    else:
        passphrase = ensure_passphrase(settings, data_dir)
        db = _open_encrypted(path, passphrase, params, db_settings.busy_timeout_ms, create)
    if create:
        from .migrate import bring_to_head

        try:
            bring_to_head(db)
        except BaseException:
            db.close()
            raise
    return db


def _open_encrypted(
    path: Path, passphrase: SecretStr, params: KdfParams, busy_timeout_ms: int, create: bool
) -> TradingDatabase:
    error: DatabaseKeyError | None = None
    for key, is_pending in candidate_keys(path, passphrase, params, create=create):
        try:
            db = TradingDatabase(path, key, create=create, busy_timeout_ms=busy_timeout_ms)
        except DatabaseKeyError as exc:
            error = exc
            continue
        pending = pending_salt_path(path)
        if is_pending:  # the rekey happened; finish it
            os.replace(pending, salt_path(path))
            log.warning("database_rekey_completed", path=str(path))
        elif pending.exists():  # the rekey never happened; forget it
            pending.unlink()
        return db
    assert error is not None
    raise error


def _open_plain(
    settings: Settings, path: Path, data_dir: Path, params: KdfParams, *, create: bool
) -> TradingDatabase:
    """A plaintext file. A passphrase, if configured, still keys the Fernet for API keys."""
    fernet_key: DatabaseKey | None = None
    db_settings = settings.database
    if db_settings.passphrase is not None or db_settings.create_passphrase:
        passphrase = ensure_passphrase(settings, data_dir)
        salt_file = salt_path(path)
        if not salt_file.exists():  # only the Fernet depends on it: safe to make now
            write_salt_file(salt_file, new_salt_record(params), exclusive=True)
        record = read_salt_file(salt_file)
        fernet_key = derive_key(passphrase, record.salt, record.params)
    return TradingDatabase(
        path,
        None,
        create=create,
        busy_timeout_ms=db_settings.busy_timeout_ms,
        fernet_key=fernet_key,
    )
