"""BaseDatabase: the one place a database engine and its connections are made.

Every database class inherits it; nothing else in skimd opens a connection.

- SQLCipher (``sqlcipher3``) keyed with a raw 32-byte key, or plain SQLite only when the
  caller passes ``key=None`` because config said ``encryption = "off"`` explicitly.
- A wrong key does not fail at ``PRAGMA key``; it fails on the first read. Each new
  connection is probed right after keying, before any pragma that could write, so a wrong
  passphrase becomes :class:`DatabaseKeyError` and the file is left untouched. A key that
  fails on a file starting with the plain SQLite header is not a passphrase problem: the
  file is not encrypted (an SQLCipher file starts with its random salt), and the error says
  so and names `skimd db encrypt` (:func:`refuse_plain_file`).
- WAL, ``synchronous=FULL`` (the journal must lose nothing), ``foreign_keys=ON`` and a
  ``busy_timeout`` on every connection.
- A bounded page cache per connection (``cache_kib``, 2 MiB): SQLCipher's default is 8 MiB
  (``-8000``) per connection, and a pool of up to ``2 * pool_size`` connections would let a
  growing journal grow the daemon's RSS by tens of MB (measured: three connections scanning
  a 30 MB table hold +23.6 MB with the default, +7.2 MB at 2 MiB).
- The DBAPI connection runs with ``isolation_level=None`` (the driver never opens
  transactions on its own); SQLAlchemy's ``begin`` event emits ``BEGIN IMMEDIATE`` so a
  writer takes the write lock up front instead of failing to upgrade mid-transaction.
  Read-only work (``read_only=True``) begins ``DEFERRED`` and never blocks writers.
- A file URL plus ``creator=`` gives a QueuePool; ``close()`` disposes it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlcipher3
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection

from skimd.errors import DatabaseError, DatabaseKeyError, SchemaVersionError

from .crypto import DatabaseKey

READ_ONLY_OPTION = "skimd_read_only"

# Both drivers raise their own exception classes; code that handles a raw DBAPI error
# catches this tuple.
DBAPI_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error, sqlcipher3.dbapi2.Error)


class BaseDatabase:
    """An SQLCipher (or, explicitly, plain SQLite) file with a pooled SQLAlchemy engine."""

    def __init__(
        self,
        path: Path,
        key: DatabaseKey | None,
        *,
        create: bool = False,
        busy_timeout_ms: int = 5000,
        pool_size: int = 5,
        cache_kib: int = 2048,
    ) -> None:
        if cache_kib < 1:
            raise ValueError("cache_kib must be at least 1")
        self.path = Path(path)
        self._key = key
        self._busy_timeout_ms = busy_timeout_ms
        self._cache_kib = cache_kib
        if not create and not self.path.exists():
            raise SchemaVersionError(f"database {self.path} does not exist; run `skimd db init`")
        self.engine: Engine = create_engine(
            f"sqlite:///{self.path}",
            creator=self.connect_raw,
            module=self.driver,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=False,
        )
        event.listen(self.engine, "begin", _emit_begin)
        try:
            with self.engine.connect() as conn:  # fail now, not at the first job
                conn.exec_driver_sql("SELECT 1")
        except BaseException:
            self.engine.dispose()
            raise

    # -- connections ----------------------------------------------------------------------

    @property
    def encrypted(self) -> bool:
        return self._key is not None

    @property
    def key(self) -> DatabaseKey | None:
        return self._key

    @property
    def driver(self) -> Any:
        return sqlcipher3.dbapi2 if self.encrypted else sqlite3

    def connect_raw(self) -> Any:
        """A new keyed, probed, configured DBAPI connection in autocommit mode.

        Used by the pool, and directly by maintenance (backup, rekey) that needs the driver.
        """
        conn = open_keyed(self.path, self._key, self._busy_timeout_ms)
        try:
            conn.execute("PRAGMA journal_mode = WAL").fetchall()
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute(f"PRAGMA cache_size = -{int(self._cache_kib)}")
        except DBAPI_ERRORS as exc:
            conn.close()
            raise DatabaseError(f"database {self.path}: cannot configure ({exc})") from exc
        return conn

    @contextmanager
    def raw_connection(self) -> Iterator[Any]:
        conn = self.connect_raw()
        try:
            yield conn
        finally:
            conn.close()

    def read_only_engine(self) -> Engine:
        """The same pool, with transactions that begin DEFERRED (readers never block)."""
        return self.engine.execution_options(**{READ_ONLY_OPTION: True})

    def close(self) -> None:
        """Return every pooled connection; the last close checkpoints the WAL."""
        self.engine.dispose()

    def __repr__(self) -> str:
        kind = "sqlcipher" if self.encrypted else "plain"
        return f"{type(self).__name__}({str(self.path)!r}, {kind})"


def open_keyed(path: Path, key: DatabaseKey | None, busy_timeout_ms: int = 5000) -> Any:
    """Connect, key and probe one DBAPI connection; nothing is written to the file.

    Raises DatabaseKeyError when the key does not open the file (or a plain connection
    meets an encrypted file), DatabaseError for anything else.
    """
    driver: Any = sqlcipher3.dbapi2 if key is not None else sqlite3
    try:
        conn = driver.connect(
            str(path),
            isolation_level=None,
            check_same_thread=False,
            timeout=busy_timeout_ms / 1000,
        )
    except DBAPI_ERRORS as exc:
        raise DatabaseError(f"database {path}: cannot open ({exc})") from exc
    try:
        if key is not None:
            # SQLCipher would print every failed HMAC to stderr; we raise our own error.
            conn.execute("PRAGMA cipher_log_level = NONE").fetchall()
            conn.execute(f"PRAGMA key = {key.pragma_literal()}")
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        _probe(conn, path, key is not None)
    except DBAPI_ERRORS as exc:
        conn.close()
        raise DatabaseError(f"database {path}: cannot key ({exc})") from exc
    except BaseException:
        conn.close()
        raise
    return conn


def _probe(conn: Any, path: Path, encrypted: bool) -> None:
    """Page 1 (the header) decrypts only with the right key; the schema pages after it
    can still be damaged. Tell the two apart: one is a passphrase problem, the other is
    corruption (restore a backup)."""
    try:
        conn.execute("PRAGMA user_version").fetchone()
    except DBAPI_ERRORS as exc:
        if "not a database" not in str(exc) and "encrypted" not in str(exc):
            raise DatabaseError(f"database {path}: cannot read ({exc})") from exc
        if encrypted:
            refuse_plain_file(path)
            raise DatabaseKeyError(f"wrong passphrase for {path}") from None
        raise DatabaseKeyError(
            f"database {path} is not a plain SQLite file (encrypted? check [database] encryption)"
        ) from None
    try:
        conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()
    except DBAPI_ERRORS as exc:
        raise DatabaseError(
            f"database {path} is damaged ({exc}); run `skimd db verify`, restore a backup"
        ) from exc


PLAIN_HEADER = b"SQLite format 3\x00"


def refuse_plain_file(path: Path) -> None:
    """DatabaseKeyError when ``path`` is a plaintext SQLite file where an encrypted one is
    expected (read-only: looks at the first 16 bytes, writes nothing)."""
    try:
        with path.open("rb") as fh:
            plain = fh.read(len(PLAIN_HEADER)) == PLAIN_HEADER
    except OSError:
        return
    if plain:
        raise DatabaseKeyError(
            f"database {path}: this database is not encrypted; `skimd db encrypt` encrypts "
            "it with the configured passphrase"
        )


def _emit_begin(conn: Connection) -> None:
    if conn.get_execution_options().get(READ_ONLY_OPTION):
        conn.exec_driver_sql("BEGIN DEFERRED")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
