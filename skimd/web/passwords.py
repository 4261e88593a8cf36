"""The web login's password: one Argon2id hash (argon2-cffi, RFC 9106's second
recommended parameters, its defaults) in a 0600 file of its own.

A file rather than a database row: setting the password needs no database key and no
migration, the hash never enters a backup of the journal, and the daemon's user owns it
like the passphrase file beside it. The password itself is never stored or logged.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from skimd.errors import ConfigurationError, InvalidInputError

MIN_LENGTH = 10


class PasswordFile:
    """The hash at ``path``: :meth:`set` writes it (atomically, 0600), :meth:`verify`
    checks a password against it."""

    def __init__(self, path: Path, hasher: PasswordHasher | None = None) -> None:
        self.path = path
        self._hasher = hasher or PasswordHasher()  # Argon2id, t=3, m=64 MiB, p=4

    def exists(self) -> bool:
        return self.path.is_file()

    def set(self, password: str) -> None:
        """Store the hash of ``password`` (at least :data:`MIN_LENGTH` characters)."""
        if len(password) < MIN_LENGTH:
            raise InvalidInputError(f"the password needs at least {MIN_LENGTH} characters")
        encoded = self._hasher.hash(password)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temp = self.path.with_name(f".{self.path.name}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, (encoded + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, self.path)

    def verify(self, password: str) -> bool:
        """Whether ``password`` matches; False without a stored hash."""
        encoded = self._read()
        if encoded is None:
            return False
        try:
            return self._hasher.verify(encoded, password)
        except (VerificationError, InvalidHashError):
            return False

    def check(self) -> None:
        """Refuse to serve without a usable hash file: one line naming the key."""
        if not self.exists():
            raise ConfigurationError(
                f"[web] password_file: no password set at {self.path}; "
                "run `skimd web set-password` first"
            )
        mode = stat.S_IMODE(self.path.stat().st_mode)
        if mode & 0o077:
            raise ConfigurationError(
                f"[web] password_file: {self.path} has mode {mode:04o}; it must be 0600"
            )

    def _read(self) -> str | None:
        try:
            return self.path.read_text(encoding="ascii").strip() or None
        except (FileNotFoundError, UnicodeDecodeError):
            return None
