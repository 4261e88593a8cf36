"""The one entry the composition root calls: settings → an open TradingDatabase.

Resolves the file (``[database] filename`` in the data dir), settles a maintenance step
that did not finish (:mod:`.recovery`: a process holding the instance lock finishes or
rolls it back, anyone else is refused), resolves the passphrase (config, or the demo's
self-made file), the salt file and KDF parameters, derives the key once, opens the
database and — when ``create`` — migrates it to the head revision.

Without ``create`` nothing is created: not the data dir, not a passphrase file, not a
salt, not the database. Without ``exclusive`` (no instance lock: a reader beside the
daemon) the database is opened ``shared`` (see :class:`BaseDatabase`).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

import structlog
from pydantic import SecretStr

from skimd.config import Settings
from skimd.errors import SchemaVersionError

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
from .paths import ensure_data_dir, get_data_dir
from .recovery import settle_interrupted
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
        shared: bool = False,
        busy_timeout_ms: int = 5000,
        fernet_key: DatabaseKey | None = None,
    ) -> None:
        super().__init__(path, key, create=create, shared=shared, busy_timeout_ms=busy_timeout_ms)
        source = key if key is not None else fernet_key
        self.fernet = LazyFernet(source) if source is not None else None
        self.session_manager = SessionManager(
            self.engine,
            self.read_only_engine(),
            self.fernet,
            readers_cannot_write=self.readers_cannot_write,
        )

    def unit_of_work(self, *, read_only: bool = False) -> AbstractContextManager[UnitOfWork]:
        return self.session_manager.unit_of_work(read_only=read_only)


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


def open_trading_database(
    settings: Settings, *, create: bool, exclusive: bool = False
) -> TradingDatabase:
    """Open (and with ``create``, initialise and migrate) the trading database.

    ``exclusive``: the caller holds the instance lock (it may settle an interrupted
    maintenance step; reads and writes share one pool). Raises DatabaseKeyError for a wrong
    passphrase, SchemaVersionError when the file is missing, DatabaseError when its salt is
    missing or a maintenance step is pending, IntegrityError when its pages are damaged,
    ConfigurationError when no passphrase is configured.
    """
    db_settings = settings.database
    data_dir = ensure_data_dir(settings) if create else get_data_dir(settings)
    path = data_dir / db_settings.filename
    params = KdfParams.from_settings(db_settings)
    encrypted = db_settings.encryption == "sqlcipher"
    busy = db_settings.busy_timeout_ms
    settle_interrupted(
        path,
        lambda: ensure_passphrase(settings, data_dir, create=False),
        exclusive=exclusive,
        busy_timeout_ms=busy,
    )
    if not create and not path.exists():
        raise SchemaVersionError(f"database {path} does not exist; run `skimd db init`")
    if not encrypted:
        log.warning(
            "database_encryption_off",
            path=str(path),
            warning="the trade journal is stored UNENCRYPTED; set [database] encryption = "
            "'sqlcipher' and run `skimd db encrypt`",
        )
        db = _open_plain(settings, path, data_dir, params, create=create, shared=not exclusive)
    else:
        passphrase = ensure_passphrase(settings, data_dir, create=create)
        key = load_or_create_salt_key(path, passphrase, params, create=create)
        db = TradingDatabase(path, key, create=create, shared=not exclusive, busy_timeout_ms=busy)
    if create:
        from .migrate import bring_to_head

        try:
            bring_to_head(db)
        except BaseException:
            db.close()
            raise
    return db


def _open_plain(
    settings: Settings,
    path: Path,
    data_dir: Path,
    params: KdfParams,
    *,
    create: bool,
    shared: bool,
) -> TradingDatabase:
    """A plaintext file. A passphrase, if configured, still keys the Fernet for API keys."""
    fernet_key: DatabaseKey | None = None
    db_settings = settings.database
    if db_settings.passphrase is not None or db_settings.create_passphrase:
        passphrase = ensure_passphrase(settings, data_dir, create=create)
        salt_file = salt_path(path)
        if not salt_file.exists() and create:  # only the Fernet depends on it: safe to make
            write_salt_file(salt_file, new_salt_record(params), exclusive=True)
        if salt_file.exists():
            record = read_salt_file(salt_file)
            fernet_key = derive_key(passphrase, record.salt, record.params)
    return TradingDatabase(
        path,
        None,
        create=create,
        shared=shared,
        busy_timeout_ms=db_settings.busy_timeout_ms,
        fernet_key=fernet_key,
    )
