"""``skimd db``: create, check, back up, restore, rekey and encrypt the database.

Every sub-command loads the settings, opens the database through
:func:`open_trading_database` (the same path the daemon takes) and prints one result line
(``tables`` supports ``--json``). Commands that replace or rewrite the file (``init``,
``restore``, ``rekey``, ``encrypt``) hold the data-directory lock, so they refuse to run
while the daemon is up.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from skimd.clock import SystemClock
from skimd.config import Settings, load_settings
from skimd.errors import ConfigurationError, IntegrityError
from skimd.infrastructure.database import maintenance
from skimd.infrastructure.database.crypto import KdfParams
from skimd.infrastructure.database.factory import open_trading_database
from skimd.infrastructure.database.migrate import current_revision
from skimd.infrastructure.database.passphrase import ensure_passphrase
from skimd.infrastructure.database.paths import get_data_dir, get_db_path
from skimd.infrastructure.instance_lock import InstanceLock

NEW_PASSPHRASE_ENV = "SKIMD_DB_NEW_PASSPHRASE"  # noqa: S105 - a variable name
MIN_PASSPHRASE_CHARS = 12


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    db = subparsers.add_parser("db", parents=parents, help="manage the encrypted database")
    sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)

    p = sub.add_parser("init", parents=parents, help="create the database and migrate it")
    p.set_defaults(handler=cmd_init)

    p = sub.add_parser("verify", parents=parents, help="integrity and cipher integrity checks")
    p.set_defaults(handler=cmd_verify)

    p = sub.add_parser("backup", parents=parents, help="encrypted online backup, then rotate")
    p.add_argument("path", nargs="?", type=Path, help="backup directory (default: configured)")
    p.set_defaults(handler=cmd_backup)

    p = sub.add_parser("restore", parents=parents, help="replace the database with a backup")
    p.add_argument("path", type=Path, help="backup file made by `skimd db backup`")
    p.set_defaults(handler=cmd_restore)

    p = sub.add_parser(
        "rekey", parents=parents, help=f"change the passphrase (${NEW_PASSPHRASE_ENV} or prompt)"
    )
    p.set_defaults(handler=cmd_rekey)

    p = sub.add_parser("encrypt", parents=parents, help="convert a plaintext database")
    p.add_argument(
        "--keep-plaintext", action="store_true", help="move the plaintext file aside, not delete"
    )
    p.set_defaults(handler=cmd_encrypt)

    p = sub.add_parser("tables", parents=parents, help="table names and row counts")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_tables)


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(getattr(args, "config", None))


def cmd_init(args: argparse.Namespace) -> int:
    settings = _settings(args)
    with InstanceLock(get_data_dir(settings)):
        db = open_trading_database(settings, create=True)
        try:
            revision = current_revision(db)
        finally:
            db.close()
    kind = "encrypted" if settings.database.encryption == "sqlcipher" else "UNENCRYPTED"
    print(f"database {db.path} ({kind}) is at revision {revision}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    settings = _settings(args)
    db = open_trading_database(settings, create=False)
    try:
        problems = maintenance.integrity_problems(db)
    finally:
        db.close()
    if problems:
        raise IntegrityError(
            f"database {db.path} is corrupt: {problems[0]} ({len(problems)} problem(s))"
        )
    checks = "integrity_check" + (" and cipher_integrity_check" if db.encrypted else "")
    print(f"database {db.path}: ok ({checks})")
    return 0


def backup_dir(settings: Settings, override: Path | None) -> Path:
    if override is not None:
        return override
    return settings.database.backup_dir or get_data_dir(settings) / "backups"


def cmd_backup(args: argparse.Namespace) -> int:
    settings = _settings(args)
    db = open_trading_database(settings, create=False)
    try:
        made = maintenance.backup(
            db,
            backup_dir(settings, args.path),
            keep=settings.database.backup_keep,
            now=SystemClock().now(),
        )
    finally:
        db.close()
    print(f"backup {made} written and verified (keeping {settings.database.backup_keep})")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    settings = _settings(args)
    data_dir = get_data_dir(settings)
    encrypted = settings.database.encryption == "sqlcipher"
    with InstanceLock(data_dir):
        passphrase = ensure_passphrase(settings, data_dir) if encrypted else None
        aside = maintenance.restore(
            get_db_path(settings),
            args.path,
            passphrase,
            encrypted=encrypted,
            now=SystemClock().now(),
        )
        db = open_trading_database(settings, create=False)  # proves it opens
        db.close()
    print(f"restored {db.path} from {args.path}; the previous database is in {aside}")
    return 0


def read_new_passphrase(
    environ: Mapping[str, str], prompt: Callable[[str], str] = getpass.getpass
) -> SecretStr:
    """The new passphrase from ``$SKIMD_DB_NEW_PASSPHRASE``, else typed twice."""
    value = environ.get(NEW_PASSPHRASE_ENV)
    if not value:
        value = prompt("new database passphrase: ")
        if prompt("repeat it: ") != value:
            raise ConfigurationError("the two passphrases differ; nothing was changed")
    if len(value) < MIN_PASSPHRASE_CHARS:
        raise ConfigurationError(
            f"the new passphrase is shorter than {MIN_PASSPHRASE_CHARS} characters; "
            "nothing was changed"
        )
    return SecretStr(value)


def cmd_rekey(args: argparse.Namespace) -> int:
    settings = _settings(args)
    new_passphrase = read_new_passphrase(os.environ)
    data_dir = get_data_dir(settings)
    with InstanceLock(data_dir):
        db = open_trading_database(settings, create=False)
        new_db = maintenance.rekey(db, new_passphrase, KdfParams.from_settings(settings.database))
        new_db.close()
        note = "update the passphrase source before the next start"
        if settings.database.create_passphrase:
            passphrase_file = settings.database.passphrase_file or data_dir / "skimd.passphrase"
            _replace_secret_file(passphrase_file, new_passphrase)
            note = f"{passphrase_file} updated"
    print(f"database {db.path} rekeyed with a new salt; {note}")
    return 0


def _replace_secret_file(path: Path, value: SecretStr) -> None:
    tmp = path.with_name(f"{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, (value.get_secret_value() + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def cmd_encrypt(args: argparse.Namespace) -> int:
    settings = _settings(args)
    data_dir = get_data_dir(settings)
    with InstanceLock(data_dir):
        passphrase = ensure_passphrase(settings, data_dir)
        result = maintenance.encrypt_plaintext(
            get_db_path(settings),
            passphrase,
            KdfParams.from_settings(settings.database),
            now=SystemClock().now(),
            keep_plaintext=args.keep_plaintext,
        )
    kept = f"; plaintext kept at {result.plaintext_kept}" if result.plaintext_kept else ""
    print(
        f"database {result.path} is now encrypted{kept}; "
        'set [database] encryption = "sqlcipher" before the next start'
    )
    return 0


def cmd_tables(args: argparse.Namespace) -> int:
    settings = _settings(args)
    db = open_trading_database(settings, create=False)
    try:
        counts = maintenance.table_counts(db)
    finally:
        db.close()
    if args.json:
        print(
            json.dumps(
                {"database": str(db.path), "tables": [{"name": n, "rows": c} for n, c in counts]}
            )
        )
    else:
        width = max((len(n) for n, _ in counts), default=0)
        for name, count in counts:
            print(f"{name:<{width}}  {count}")
    return 0
