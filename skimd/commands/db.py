"""``skimd db``: create, check, back up, restore, rekey and encrypt the database.

Every sub-command builds the App (:func:`skimd.bootstrap.build`), runs one step of its
``db_admin`` (which opens the database the way the daemon does) and prints one result line
(``verify``, ``backup`` and ``tables`` print a JSON object instead with ``--json``; on an
error stdout stays empty and the one-line error goes to stderr with the exit code).
Commands that replace or rewrite the file (``init``, ``restore``, ``rekey``, ``encrypt``,
``recover``) build an EXCLUSIVE App, which holds the
data-directory lock, so they refuse to run while the daemon is up. ``recover`` finishes or
rolls back a ``restore`` or ``rekey`` that was killed half-way (any command holding the
lock does that too, before it opens the database; readers only say so).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from skimd import bootstrap
from skimd.config import Settings
from skimd.errors import ConfigurationError

NEW_PASSPHRASE_ENV = "SKIMD_DB_NEW_PASSPHRASE"  # noqa: S105 - a variable name
MIN_PASSPHRASE_CHARS = 12


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    db = subparsers.add_parser("db", parents=parents, help="manage the encrypted database")
    sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)

    p = sub.add_parser("init", parents=parents, help="create the database and migrate it")
    p.set_defaults(handler=cmd_init)

    p = sub.add_parser("verify", parents=parents, help="integrity and cipher integrity checks")
    p.add_argument("--json", action="store_true", help="print {database, ok, checks}")
    p.set_defaults(handler=cmd_verify)

    p = sub.add_parser("backup", parents=parents, help="encrypted online backup, then rotate")
    p.add_argument("path", nargs="?", type=Path, help="backup directory (default: configured)")
    p.add_argument("--json", action="store_true", help="print {backup, verified, keep}")
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

    p = sub.add_parser(
        "recover", parents=parents, help="finish or roll back an interrupted restore or rekey"
    )
    p.set_defaults(handler=cmd_recover)

    p = sub.add_parser("tables", parents=parents, help="table names and row counts")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_tables)


def _quiet_logging(settings: Settings) -> None:
    """Log to stderr (stdout is the answer, JSON with ``--json``), warnings and worse
    only: the one result line is the command's story, as in ``skimd demo``."""
    if settings.logging.level in ("DEBUG", "INFO"):
        settings = settings.model_copy(
            update={"logging": settings.logging.model_copy(update={"level": "WARNING"})}
        )
    bootstrap.setup_logging(settings)


def _app(args: argparse.Namespace, access: bootstrap.Access) -> bootstrap.App:
    settings = bootstrap.settings_from(getattr(args, "config", None))
    _quiet_logging(settings)
    return bootstrap.build(settings, access=access)


def cmd_init(args: argparse.Namespace) -> int:
    with _app(args, bootstrap.Access.EXCLUSIVE) as app:
        admin = app.db_admin
        revision = admin.init()
    kind = "encrypted" if admin.encrypted else "UNENCRYPTED"
    print(f"database {admin.path} ({kind}) is at revision {revision}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    with _app(args, bootstrap.Access.SHARED) as app:
        checks = app.db_admin.verify()
    if args.json:
        passed = checks.split(" and ")
        print(json.dumps({"database": str(app.db_admin.path), "ok": True, "checks": passed}))
        return 0
    print(f"database {app.db_admin.path}: ok ({checks})")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    with _app(args, bootstrap.Access.SHARED) as app:
        made = app.db_admin.backup(args.path)
    keep = app.settings.database.backup_keep
    if args.json:
        print(json.dumps({"backup": str(made), "verified": True, "keep": keep}))
        return 0
    print(f"backup {made} written and verified (keeping {app.settings.database.backup_keep})")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    with _app(args, bootstrap.Access.EXCLUSIVE) as app:
        aside = app.db_admin.restore(args.path)
    print(f"restored {app.db_admin.path} from {args.path}; the previous database is in {aside}")
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
    new_passphrase = read_new_passphrase(os.environ)
    with _app(args, bootstrap.Access.EXCLUSIVE) as app:
        note = app.db_admin.rekey(new_passphrase)
    print(f"database {app.db_admin.path} rekeyed with a new salt; {note}")
    return 0


def cmd_encrypt(args: argparse.Namespace) -> int:
    with _app(args, bootstrap.Access.EXCLUSIVE) as app:
        result = app.db_admin.encrypt(keep_plaintext=args.keep_plaintext)
    kept = f"; plaintext kept at {result.plaintext_kept}" if result.plaintext_kept else ""
    print(
        f"database {result.path} is now encrypted{kept}; "
        'set [database] encryption = "sqlcipher" before the next start'
    )
    return 0


def cmd_recover(args: argparse.Namespace) -> int:
    with _app(args, bootstrap.Access.EXCLUSIVE) as app:
        print(app.db_admin.recover())
    return 0


def cmd_tables(args: argparse.Namespace) -> int:
    with _app(args, bootstrap.Access.SHARED) as app:
        counts = app.db_admin.table_counts()
    path = app.db_admin.path
    if args.json:
        tables = [{"name": n, "rows": c} for n, c in counts]
        print(json.dumps({"database": str(path), "tables": tables}))
    else:
        width = max((len(n) for n, _ in counts), default=0)
        for name, count in counts:
            print(f"{name:<{width}}  {count}")
    return 0
