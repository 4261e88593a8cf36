"""The demo's self-made passphrase.

Production reads the passphrase from a systemd credential, a 0600 file or the environment
(all resolved by :mod:`skimd.config`). The demo may instead set ``create_passphrase = true``:
then the run that creates the database writes 32 random URL-safe characters to ``[database]
passphrase_file`` (default ``<data_dir>/skimd.passphrase``) at mode 0600 and later runs
read it back.

Only a caller that is creating the database may create the file (``create=True``): a
reader that finds it missing says so instead of inventing a passphrase no database has.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import SecretStr

from skimd.config import Settings, check_private_file
from skimd.errors import ConfigurationError, SecretFileError
from skimd.files import private_dir

PASSPHRASE_FILENAME = "skimd.passphrase"  # noqa: S105 - a file name, not a secret


def passphrase_path(settings: Settings, data_dir: Path) -> Path:
    """Where the self-made passphrase lives."""
    return settings.database.passphrase_file or data_dir / PASSPHRASE_FILENAME


def pending_passphrase_path(passphrase_file: Path) -> Path:
    """Where ``skimd db rekey`` writes a new self-made passphrase before the database needs it."""
    return passphrase_file.with_name(passphrase_file.name + ".new")


def passphrase_files(settings: Settings, data_dir: Path) -> list[Path]:
    """The secret files that may sit in the data dir (never tightened: refused when open)."""
    path = passphrase_path(settings, data_dir)
    return [path, pending_passphrase_path(path)]


def ensure_passphrase(settings: Settings, data_dir: Path, *, create: bool) -> SecretStr:
    """The configured passphrase, or the self-made one when ``create_passphrase`` allows it
    (made now only with ``create``)."""
    db = settings.database
    if db.passphrase is not None:
        return db.passphrase
    if not db.create_passphrase:
        raise ConfigurationError(
            f"{settings.source}: [database] passphrase: missing; provide the credential "
            "'skimd-db-passphrase', [database] passphrase_file or $SKIMD_DB_PASSPHRASE"
        )
    path = passphrase_path(settings, data_dir)
    if not path.exists():
        if not create:
            raise SecretFileError(
                f"{path}: the database passphrase file is missing; the database cannot be "
                "opened without it (put it back from where you keep a copy)"
            )
        _create(path)
    return read_passphrase_file(path)


def read_passphrase_file(path: Path) -> SecretStr:
    """A private (0600/0400) one-line passphrase file."""
    check_private_file(path)
    value = path.read_text(encoding="utf-8").strip()
    if not value:
        raise SecretFileError(f"{path}: secret file is empty")
    return SecretStr(value)


def _create(path: Path) -> None:
    private_dir(path.parent)
    value = secrets.token_urlsafe(24)  # 24 bytes → 32 URL-safe characters
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        return  # another process made it first; read theirs
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (value + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
