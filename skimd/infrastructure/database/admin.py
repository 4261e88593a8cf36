"""``skimd db``'s maintenance steps over the configured database.

Each step opens the database the way the daemon does (:func:`open_trading_database`) and
closes it before returning. Steps that replace or rewrite the file (``init``, ``restore``,
``rekey``, ``encrypt``) need the instance lock, so they refuse to run unless the App that
made this object holds it (``exclusive``); the others are safe beside a running daemon.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from skimd.clock import Clock
from skimd.config import Settings
from skimd.errors import IntegrityError
from skimd.files import write_atomic

from . import maintenance
from .crypto import KdfParams
from .factory import open_trading_database
from .migrate import current_revision
from .passphrase import ensure_passphrase


@dataclass(frozen=True)
class Outcome:
    """What a step did, for the command to print."""

    path: Path
    detail: str = ""
    extra: Path | None = None


class DatabaseAdmin:
    def __init__(self, settings: Settings, data_dir: Path, clock: Clock, *, exclusive: bool):
        self._settings = settings
        self._data_dir = data_dir
        self._clock = clock
        self._exclusive = exclusive
        self.path = data_dir / settings.database.filename

    @property
    def encrypted(self) -> bool:
        return self._settings.database.encryption == "sqlcipher"

    def _need_lock(self, step: str) -> None:
        if not self._exclusive:
            raise RuntimeError(f"db {step} rewrites the database: it needs the instance lock")

    def check_passphrase_source(self) -> None:
        """Resolve the passphrase as opening would (a 0644 file or a missing source raises
        its ConfigurationError), without touching the database."""
        if self.encrypted or self._settings.database.create_passphrase:
            ensure_passphrase(self._settings, self._data_dir, create=self._exclusive)

    def init(self) -> str:
        """Create and migrate; the revision the database is now at."""
        self._need_lock("init")
        db = open_trading_database(self._settings, create=True, exclusive=True)
        try:
            return current_revision(db) or "none"
        finally:
            db.close()

    def verify(self) -> str:
        """The checks that passed; IntegrityError names the first problem found."""
        db = open_trading_database(self._settings, create=False, exclusive=self._exclusive)
        try:
            problems = maintenance.integrity_problems(db)
        finally:
            db.close()
        if problems:
            raise IntegrityError(
                f"database {db.path} is corrupt: {problems[0]} ({len(problems)} problem(s))"
            )
        return "integrity_check" + (" and cipher_integrity_check" if db.encrypted else "")

    def backup_dir(self, override: Path | None) -> Path:
        if override is not None:
            return override
        return self._settings.database.backup_dir or self._data_dir / "backups"

    def backup(self, directory: Path | None) -> Path:
        """An encrypted online backup, verified, then rotation; the new file."""
        db = open_trading_database(self._settings, create=False, exclusive=self._exclusive)
        try:
            return maintenance.backup(
                db,
                self.backup_dir(directory),
                keep=self._settings.database.backup_keep,
                now=self._clock.now(),
            )
        finally:
            db.close()

    def restore(self, backup: Path) -> Path:
        """Replace the database with ``backup``; where the previous one was moved."""
        self._need_lock("restore")
        passphrase = (
            ensure_passphrase(self._settings, self._data_dir, create=False)
            if self.encrypted
            else None
        )
        aside = maintenance.restore(
            self.path, backup, passphrase, encrypted=self.encrypted, now=self._clock.now()
        )
        open_trading_database(self._settings, create=False, exclusive=True).close()  # it opens
        return aside

    def rekey(self, new_passphrase: SecretStr) -> str:
        """Re-encrypt with a new passphrase and salt; a note on the passphrase source."""
        self._need_lock("rekey")
        db = open_trading_database(self._settings, create=False, exclusive=self._exclusive)
        new_db = maintenance.rekey(
            db, new_passphrase, KdfParams.from_settings(self._settings.database)
        )
        new_db.close()
        if not self._settings.database.create_passphrase:
            return "update the passphrase source before the next start"
        passphrase_file = (
            self._settings.database.passphrase_file or self._data_dir / "skimd.passphrase"
        )
        _replace_secret_file(passphrase_file, new_passphrase)
        return f"{passphrase_file} updated"

    def encrypt(self, *, keep_plaintext: bool) -> maintenance.EncryptResult:
        self._need_lock("encrypt")
        passphrase = ensure_passphrase(self._settings, self._data_dir, create=True)
        return maintenance.encrypt_plaintext(
            self.path,
            passphrase,
            KdfParams.from_settings(self._settings.database),
            now=self._clock.now(),
            keep_plaintext=keep_plaintext,
        )

    def table_counts(self) -> list[tuple[str, int]]:
        db = open_trading_database(self._settings, create=False, exclusive=self._exclusive)
        try:
            return maintenance.table_counts(db)
        finally:
            db.close()


def _replace_secret_file(path: Path, value: SecretStr) -> None:
    write_atomic(path, (value.get_secret_value() + "\n").encode("utf-8"))  # 0600
