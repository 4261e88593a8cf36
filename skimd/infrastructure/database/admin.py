"""``skimd db``'s maintenance steps over the configured database.

Each step opens the database the way the daemon does (:func:`open_trading_database`) and
closes it before returning. Steps that replace or rewrite the file (``init``, ``restore``,
``rekey``, ``encrypt``, ``recover``) need the instance lock, so they refuse to run unless
the App that made this object holds it (``exclusive``); the others are safe beside a
running daemon and write nothing into the database.

``restore`` and ``rekey`` run as journaled steps (:mod:`.restore`, :mod:`.rekey`): a crash
anywhere is settled by the next open that holds the lock. One that fails with an error
instead of a crash is settled at once, before the error is raised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from skimd.clock import Clock
from skimd.config import Settings
from skimd.errors import ConfigurationError, IntegrityError

from . import maintenance
from .crypto import KdfParams
from .factory import open_trading_database
from .maintenance_journal import Step, run_steps
from .migrate import current_revision
from .passphrase import ensure_passphrase, passphrase_path
from .recovery import settle_interrupted
from .rekey import plan_rekey
from .restore import Restore, check_backup


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
        self.recover()  # an earlier interrupted step first
        passphrase = (
            ensure_passphrase(self._settings, self._data_dir, create=False)
            if self.encrypted
            else None
        )
        check_backup(backup, passphrase, encrypted=self.encrypted)
        plan = Restore.plan(self.path, backup, encrypted=self.encrypted, now=self._clock.now())
        self._run(plan.steps(self._clock.now()))
        open_trading_database(self._settings, create=False, exclusive=True).close()  # opens
        return plan.aside

    def rekey(self, new_passphrase: SecretStr) -> str:
        """Re-encrypt with a new passphrase and salt; a note on the passphrase source."""
        self._need_lock("rekey")
        db = open_trading_database(self._settings, create=False, exclusive=True)
        try:
            old_key = db.key
            if old_key is None:
                raise ConfigurationError(
                    f"database {db.path} is not encrypted; use `skimd db encrypt` instead of rekey"
                )
            with db.unit_of_work(read_only=True) as uow:
                providers = [row.provider for row in uow.providers.list_all()]
                stored = {p: uow.providers.get_api_key(p) for p in providers}
        finally:
            db.close()
        self_made = self._settings.database.create_passphrase
        passphrase_file = passphrase_path(self._settings, self._data_dir) if self_made else None
        plan = plan_rekey(
            self.path,
            old_key,
            new_passphrase,
            KdfParams.from_settings(self._settings.database),
            api_keys={p: k for p, k in stored.items() if k is not None},
            passphrase_file=passphrase_file,
            busy_timeout_ms=self._settings.database.busy_timeout_ms,
            now=self._clock.now(),
        )
        self._run(plan.steps)
        if passphrase_file is None:
            return "update the passphrase source before the next start"
        return f"{passphrase_file} updated"

    def recover(self) -> str:
        """Finish or roll back a restore or rekey that did not finish; what was done."""
        self._need_lock("recover")
        done = settle_interrupted(
            self.path,
            lambda: ensure_passphrase(self._settings, self._data_dir, create=False),
            exclusive=True,
            busy_timeout_ms=self._settings.database.busy_timeout_ms,
        )
        return done or f"nothing to recover: no maintenance step is pending on {self.path}"

    def _run(self, steps: Sequence[Step]) -> None:
        """Run journaled steps; if one fails (an error, not a crash) settle at once."""
        try:
            run_steps(steps)
        except Exception:
            self.recover()
            raise

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
