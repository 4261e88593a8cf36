"""Operator tasks on the database file: verify, backup, encrypt, counts. (Restore and
rekey, which need a journal to survive a crash, live in :mod:`.restore` and :mod:`.rekey`.)

All of these work below the ORM on DBAPI connections from :func:`open_keyed` /
:meth:`BaseDatabase.connect_raw`, so they share the keying and probing rules. Reading steps
(verify, counts, the source of a backup) use read-only connections; ``encrypt`` runs with
the instance lock held, so the daemon is not running meanwhile. Every file made here is
0600 from its first byte.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlcipher3
from pydantic import SecretStr

from skimd.errors import DatabaseError, DatabaseKeyError
from skimd.files import create_private, fsync_dir, private_dir, write_atomic

from .base import BaseDatabase, dbapi_errors, open_keyed
from .crypto import (
    DatabaseKey,
    KdfParams,
    derive_key,
    new_salt_record,
    read_salt_file,
    salt_path,
    write_salt_file,
)

SIDE_FILES = ("-wal", "-shm")


# -- verify --------------------------------------------------------------------------------


def integrity_problems_of(conn: Any, encrypted: bool) -> list[str]:
    """Run ``integrity_check`` (and ``cipher_integrity_check``); return what they report."""
    problems: list[str] = []
    try:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
        problems += [str(r[0]) for r in rows if str(r[0]) != "ok"]
    except dbapi_errors() as exc:
        problems.append(f"integrity_check failed: {exc}")
    if encrypted:
        try:
            rows = conn.execute("PRAGMA cipher_integrity_check").fetchall()
            problems += [str(r[0]) for r in rows]
        except dbapi_errors() as exc:
            problems.append(f"cipher_integrity_check failed: {exc}")
    return problems


def integrity_problems(db: BaseDatabase) -> list[str]:
    with db.raw_connection(read_only=True) as conn:
        return integrity_problems_of(conn, db.encrypted)


def verify_file(path: Path, key: DatabaseKey | None) -> list[str]:
    """Open ``path`` read-only and check it."""
    try:
        conn = open_keyed(path, key, read_only=True)
    except DatabaseKeyError:
        raise
    except DatabaseError as exc:
        return [str(exc)]
    try:
        return integrity_problems_of(conn, key is not None)
    finally:
        conn.close()


def table_counts(db: BaseDatabase) -> list[tuple[str, int]]:
    with db.raw_connection(read_only=True) as conn:
        names = [
            str(r[0])
            for r in conn.execute(
                "SELECT name FROM sqlite_schema WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            ).fetchall()
        ]
        # names come from sqlite_schema itself; quoted as identifiers
        return [
            (name, int(conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]))  # noqa: S608
            for name in names
        ]


# -- backup --------------------------------------------------------------------------------


def backup_name(db_path: Path, now: dt.datetime) -> str:
    return f"{db_path.stem}-{now.astimezone(dt.UTC).strftime('%Y%m%dT%H%M%S%fZ')}.db"


def backup(db: BaseDatabase, dest_dir: Path, *, keep: int, now: dt.datetime) -> Path:
    """Online backup into ``dest_dir``, keyed like the source; returns the new file.

    The copy is fsynced, reopened and integrity-checked before it is given its final name
    and before any older backup is rotated away; the salt file travels with it.
    """
    private_dir(dest_dir)
    final = dest_dir / backup_name(db.path, now)
    partial = final.with_name(final.name + ".partial")
    _remove_with_side_files(partial)
    try:
        create_private(partial)  # SQLite would make it with the umask's mode
        with db.raw_connection(read_only=True) as src:
            dst = open_keyed(partial, db.key)
            try:
                src.backup(dst)
                dst.execute("PRAGMA journal_mode = DELETE").fetchall()  # one self-contained file
            finally:
                dst.close()
        _fsync_file(partial)
        problems = verify_file(partial, db.key)
        if problems:
            raise DatabaseError(f"backup {final} failed verification: {problems[0]}")
        src_salt = salt_path(db.path)
        if src_salt.exists():
            write_atomic(salt_path(final), src_salt.read_bytes())
        os.replace(partial, final)
        fsync_dir(dest_dir)
    except BaseException:
        _remove_with_side_files(partial)
        raise
    rotate_backups(dest_dir, db.path.stem, keep)
    return final


def list_backups(dest_dir: Path, stem: str) -> list[Path]:
    """Backups of database ``stem`` in ``dest_dir``, oldest first (names sort by time)."""
    return sorted(p for p in dest_dir.glob(f"{stem}-*.db") if p.is_file())


def rotate_backups(dest_dir: Path, stem: str, keep: int) -> list[Path]:
    backups = list_backups(dest_dir, stem)
    removed = backups[: max(0, len(backups) - keep)]
    for old in removed:
        old.unlink(missing_ok=True)
        salt_path(old).unlink(missing_ok=True)
    if removed:
        fsync_dir(dest_dir)
    return removed


# -- encrypt a plaintext database ------------------------------------------------------------


@dataclass(frozen=True)
class EncryptResult:
    path: Path
    plaintext_kept: Path | None


def encrypt_plaintext(
    db_path: Path,
    passphrase: SecretStr,
    params: KdfParams,
    *,
    now: dt.datetime,
    keep_plaintext: bool = False,
) -> EncryptResult:
    """Convert a plaintext database (made with ``encryption = "off"``) to SQLCipher.

    Uses ``sqlcipher_export`` into a new file, verifies it with the key, then swaps it in.
    The plaintext file is deleted unless ``keep_plaintext`` (then it is moved aside).
    An existing salt file (used so far only for the Fernet) is kept, so stored provider
    keys stay readable with the same passphrase.
    """
    if not db_path.is_file():
        raise DatabaseError(f"database {db_path} does not exist")
    plain = open_keyed(db_path, None)  # raises DatabaseKeyError if it is already encrypted
    try:
        plain.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        user_version = int(plain.execute("PRAGMA user_version").fetchone()[0])
    finally:
        plain.close()
    salt_file = salt_path(db_path)
    if not salt_file.exists():
        write_salt_file(salt_file, new_salt_record(params), exclusive=True)
    record = read_salt_file(salt_file)
    key = derive_key(passphrase, record.salt, record.params)
    staged = db_path.with_name(db_path.name + ".encrypting")
    _remove_with_side_files(staged)
    create_private(staged)
    conn = sqlcipher3.dbapi2.connect(str(db_path), isolation_level=None)
    try:
        conn.execute(f"ATTACH DATABASE ? AS encrypted KEY {key.pragma_literal()}", (str(staged),))
        conn.execute("SELECT sqlcipher_export('encrypted')").fetchall()
        conn.execute(f"PRAGMA encrypted.user_version = {user_version}")
        conn.execute("DETACH DATABASE encrypted")
    except dbapi_errors() as exc:
        _remove_with_side_files(staged)
        raise DatabaseError(f"database {db_path}: export to SQLCipher failed ({exc})") from exc
    finally:
        conn.close()
    _fsync_file(staged)
    problems = verify_file(staged, key)
    if problems:
        _remove_with_side_files(staged)
        raise DatabaseError(f"encrypted copy of {db_path} failed verification: {problems[0]}")
    kept: Path | None = None
    if keep_plaintext:
        kept = db_path.with_name(
            f"{db_path.name}.plaintext-{now.astimezone(dt.UTC).strftime('%Y%m%dT%H%M%S')}"
        )
        os.replace(db_path, kept)
        os.chmod(kept, 0o600)
    else:
        db_path.unlink()
    for suffix in SIDE_FILES:
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    os.replace(staged, db_path)
    fsync_dir(db_path.parent)
    return EncryptResult(db_path, kept)


# -- file helpers ----------------------------------------------------------------------------


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_with_side_files(path: Path) -> None:
    for suffix in ("", *SIDE_FILES, "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
