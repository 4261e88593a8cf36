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
- ``shared`` (a process beside a running daemon, without the instance lock): read-only
  work runs on connections opened ``mode=ro``, so a reader never writes into the file —
  not even the checkpoint SQLite runs when the last connection closes, nor a header into an
  empty file. A read-write connection is made only for the first write. (SQLite may still
  leave its WAL index, an empty ``-wal`` and the ``-shm``, beside the file.)
- Opening checks the file before anything can write into it: a missing or empty (0-byte)
  file is refused (SQLite would quietly make a new database of it), and the pages are
  checked (:func:`check_pages`), so a damaged database is refused with
  :class:`IntegrityError` before a write could spread the damage.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlcipher3
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection

from skimd.errors import DatabaseError, DatabaseKeyError, IntegrityError, SchemaVersionError
from skimd.files import create_private

from .crypto import DatabaseKey

READ_ONLY_OPTION = "skimd_read_only"



def plain_driver() -> Any:
    """The stdlib ``sqlite3`` driver, imported only for a plain (``encryption = "off"``)
    database: an encrypted daemon never maps libsqlite3 (≈1 MB resident, measured)."""
    import sqlite3

    return sqlite3


def dbapi_errors() -> tuple[type[Exception], ...]:
    """The DBAPI error classes to catch: both drivers raise their own, and ``sqlite3``'s can
    only be raised once something imported it (:func:`plain_driver`)."""
    plain = sys.modules.get("sqlite3")
    return (sqlcipher3.dbapi2.Error,) if plain is None else (sqlcipher3.dbapi2.Error, plain.Error)


class BaseDatabase:
    """An SQLCipher (or, explicitly, plain SQLite) file with a pooled SQLAlchemy engine."""

    def __init__(
        self,
        path: Path,
        key: DatabaseKey | None,
        *,
        create: bool = False,
        shared: bool = False,
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
        fresh = _check_file(self.path, create=create)
        self.engine: Engine = self._engine(self.connect_raw, pool_size)
        self._reader_pool = (
            self._engine(self.connect_read_only, pool_size) if shared and not fresh else None
        )
        self._reader: Engine = (self._reader_pool or self.engine).execution_options(
            **{READ_ONLY_OPTION: True}
        )
        try:  # fail now, not at the first job; and never write into a damaged file
            with self._reader.connect() as conn:
                raw = conn.connection.dbapi_connection
                if not fresh:
                    if not shared:
                        _fold_wal(raw, self.path)
                    check_pages(raw, self.path, self.encrypted, confirm=shared)
        except BaseException:
            self.close()
            raise

    def _engine(self, creator: Any, pool_size: int) -> Engine:
        engine = create_engine(
            f"sqlite:///{self.path}",
            creator=creator,
            module=self.driver,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=False,
        )
        event.listen(engine, "begin", _emit_begin)
        return engine

    # -- connections ----------------------------------------------------------------------

    @property
    def encrypted(self) -> bool:
        return self._key is not None

    @property
    def key(self) -> DatabaseKey | None:
        return self._key

    @property
    def driver(self) -> Any:
        return sqlcipher3.dbapi2 if self.encrypted else plain_driver()

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
        except dbapi_errors() as exc:
            conn.close()
            raise DatabaseError(f"database {self.path}: cannot configure ({exc})") from exc
        return conn

    def connect_read_only(self) -> Any:
        """A keyed, probed connection that cannot write (``mode=ro``)."""
        conn = open_keyed(self.path, self._key, self._busy_timeout_ms, read_only=True)
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute(f"PRAGMA cache_size = -{int(self._cache_kib)}")
        except dbapi_errors() as exc:
            conn.close()
            raise DatabaseError(f"database {self.path}: cannot configure ({exc})") from exc
        return conn

    @contextmanager
    def raw_connection(self, *, read_only: bool = False) -> Iterator[Any]:
        """A DBAPI connection of its own; ``read_only`` one cannot write."""
        conn = self.connect_read_only() if read_only else self.connect_raw()
        try:
            yield conn
        finally:
            conn.close()

    @property
    def readers_cannot_write(self) -> bool:
        """Whether read-only work runs on ``mode=ro`` connections."""
        return self._reader_pool is not None

    def read_only_engine(self) -> Engine:
        """Transactions that begin DEFERRED (readers never block); in a ``shared``
        database, on connections that cannot write."""
        return self._reader

    def close(self) -> None:
        """Return every pooled connection; the last close checkpoints the WAL."""
        if self._reader_pool is not None:
            self._reader_pool.dispose()
        self.engine.dispose()

    def __repr__(self) -> str:
        kind = "sqlcipher" if self.encrypted else "plain"
        return f"{type(self).__name__}({str(self.path)!r}, {kind})"


def _check_file(path: Path, *, create: bool) -> bool:
    """Refuse a missing file (unless ``create``) or an empty one; whether the database is
    new (made 0600 here, so its -wal and -shm are private too)."""
    if create and create_private(path):
        return True
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise SchemaVersionError(f"database {path} does not exist; run `skimd db init`") from None
    if size == 0:
        if create:
            return True  # ours, from a create that died before SQLite wrote its header
        raise DatabaseError(
            f"database {path} is empty (0 bytes), not a skimd database; nothing was written "
            "to it: restore a backup (`skimd db restore`) or remove it and run `skimd db init`"
        )
    return False


def _fold_wal(conn: Any, path: Path) -> None:
    """Checkpoint a WAL left by a process that died before its last close, so the page
    check sees the file as SQLite does: committed frames in the WAL supersede the pages
    they replace (after an interrupted ``PRAGMA rekey``, pages still under the old key).
    This only writes committed data, as the next commit would anyway; readers (``shared``)
    never do it."""
    wal = Path(f"{path}-wal")
    if wal.exists() and wal.stat().st_size > 0:
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except dbapi_errors() as exc:
            raise DatabaseError(f"database {path}: cannot checkpoint its WAL ({exc})") from exc


def check_pages(conn: Any, path: Path, encrypted: bool, *, confirm: bool = False) -> None:
    """Refuse a damaged database before anything writes into it.

    Encrypted: ``PRAGMA cipher_integrity_check`` verifies every page's HMAC, so it sees any
    changed byte in pages no query touches (measured, warm cache: 26 ms at 10 MB, 246 ms
    at 100 MB, 1.05 s at 420 MB). ``quick_check`` would cost about twice that again and
    only adds b-tree logic damage that a disk cannot make without breaking an HMAC first;
    ``skimd db verify`` runs the full ``integrity_check`` as well. Plain files have no
    HMAC, so they get ``quick_check``.

    SQLCipher reads the file directly, without SQLite's locks; beside a running daemon
    (``confirm``) a checkpoint writing a page at that moment can fail one read, so a
    failure there counts only when a second pass repeats it.
    """
    problems = _page_problems(conn, encrypted)
    if problems and confirm:
        problems = _page_problems(conn, encrypted)
    if problems:
        raise IntegrityError(
            f"database {path} is corrupt ({problems[0]}; {len(problems)} problem(s) found on "
            "open); nothing was written to it: restore a backup (`skimd db restore`)"
        )


def _page_problems(conn: Any, encrypted: bool) -> list[str]:
    pragma = "cipher_integrity_check" if encrypted else "quick_check"
    try:
        rows = conn.execute(f"PRAGMA {pragma}").fetchall()
    except dbapi_errors() as exc:
        return [f"{pragma} failed: {exc}"]
    return [str(r[0]) for r in rows if str(r[0]) != "ok"]


def open_keyed(
    path: Path, key: DatabaseKey | None, busy_timeout_ms: int = 5000, *, read_only: bool = False
) -> Any:
    """Connect, key and probe one DBAPI connection; nothing is written to the file.

    ``read_only`` opens it ``mode=ro``: the connection cannot write at all. Raises
    DatabaseKeyError when the key does not open the file (or a plain connection meets an
    encrypted file), DatabaseError for anything else.
    """
    driver: Any = sqlcipher3.dbapi2 if key is not None else plain_driver()
    target = f"{path.resolve().as_uri()}?mode=ro" if read_only else str(path)
    try:
        conn = driver.connect(
            target,
            isolation_level=None,
            check_same_thread=False,
            timeout=busy_timeout_ms / 1000,
            uri=read_only,
        )
    except dbapi_errors() as exc:
        raise DatabaseError(f"database {path}: cannot open ({exc})") from exc
    try:
        if key is not None:
            # SQLCipher would print every failed HMAC to stderr; we raise our own error.
            conn.execute("PRAGMA cipher_log_level = NONE").fetchall()
            conn.execute(f"PRAGMA key = {key.pragma_literal()}")
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        _probe(conn, path, key is not None)
    except dbapi_errors() as exc:
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
    except dbapi_errors() as exc:
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
    except dbapi_errors() as exc:
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
