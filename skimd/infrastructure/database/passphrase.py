"""The demo's self-made passphrase.

Production reads the passphrase from a systemd credential, a 0600 file or the environment
(all resolved by :mod:`skimd.config`). The demo may instead set ``create_passphrase = true``:
then the first run writes 32 random URL-safe characters to ``[database] passphrase_file``
(default ``<data_dir>/skimd.passphrase``) at mode 0600 and later runs read it back.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import SecretStr

from skimd.config import Settings, check_private_file
from skimd.errors import ConfigurationError, SecretFileError

PASSPHRASE_FILENAME = "skimd.passphrase"  # noqa: S105 - a file name, not a secret


def ensure_passphrase(settings: Settings, data_dir: Path) -> SecretStr:
    """The configured passphrase, or the self-made one when ``create_passphrase`` allows it."""
    db = settings.database
    if db.passphrase is not None:
        return db.passphrase
    if not db.create_passphrase:
        raise ConfigurationError(
            f"{settings.source}: [database] passphrase: missing; provide the credential "
            "'skimd-db-passphrase', [database] passphrase_file or $SKIMD_DB_PASSPHRASE"
        )
    path = db.passphrase_file or data_dir / PASSPHRASE_FILENAME
    if not path.exists():
        _create(path)
    check_private_file(path)
    value = path.read_text(encoding="utf-8").strip()
    if not value:
        raise SecretFileError(f"{path}: secret file is empty")
    return SecretStr(value)


def _create(path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    value = secrets.token_urlsafe(24)  # 24 bytes → 32 URL-safe characters
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        return  # another process made it first; read theirs
    try:
        os.write(fd, (value + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
