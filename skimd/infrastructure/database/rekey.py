"""``skimd db rekey`` as steps that a crash can stop anywhere without locking the trader out.

A new salt and the new passphrase give a new raw key; ``PRAGMA rekey`` re-encrypts the
file in place in one transaction (all pages or none). Around it, each step durable before
the next (see :mod:`.maintenance_journal`):

1. ``journal``         the journal holds both salts, which passphrase file to update (a
                       self-made one) and the provider API keys already encrypted under the
                       new key's Fernet (ciphertext only).
2. ``new passphrase``  a self-made passphrase is written to ``<file>.new`` (0600) *before*
                       the database depends on it.
3. ``rekey``           ``PRAGMA rekey`` (after a checkpoint).
4. ``rekeyed``         the journal says so.
5. ``salt``            the new salt replaces ``<db>.salt``.
6. ``passphrase``      ``<file>.new`` replaces the passphrase file.
7. ``provider keys``   the journal's ciphertexts replace the provider API keys.
8. ``done``            the journal is removed.

After a crash the next lock holder tries the configured passphrase with the old salt: if it
opens the file, the rekey never happened and is rolled back (the pending passphrase
removed). Otherwise it tries the pending passphrase, then the configured one, with the new
salt, and finishes steps 5-8 with the key that opens it. If none does, the database was
re-encrypted with a passphrase from an outside source (credential, file, environment) that
still says the old one: the error says exactly that, and the next start after the source
is updated finishes the rekey.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pydantic import SecretStr

from skimd.errors import DatabaseError, DatabaseKeyError
from skimd.files import fsync_dir, write_atomic

from .base import BaseDatabase, dbapi_errors, open_keyed
from .crypto import (
    DatabaseKey,
    KdfParams,
    SaltRecord,
    derive_key,
    fernet_for,
    new_salt_record,
    read_salt_file,
    salt_path,
    salt_record_from_json,
    salt_record_json,
    write_salt_file,
)
from .maintenance_journal import (
    Journal,
    Step,
    new_journal,
    remove_journal,
    run_steps,
    write_journal,
)
from .passphrase import pending_passphrase_path, read_passphrase_file

REKEYING = "rekeying"
REKEYED = "rekeyed"


@dataclass(frozen=True)
class Rekey:
    db_path: Path
    old_salt: SaltRecord
    new_salt: SaltRecord
    passphrase_file: Path | None  # a self-made passphrase file to update, else None
    provider_tokens: Mapping[str, str]  # provider -> API key under the new key's Fernet
    busy_timeout_ms: int = 5000

    @property
    def pending_passphrase(self) -> Path | None:
        return (
            None if self.passphrase_file is None else pending_passphrase_path(self.passphrase_file)
        )

    @classmethod
    def from_journal(cls, db_path: Path, journal: Journal, busy_timeout_ms: int) -> Rekey:
        d = journal.details
        return cls(
            db_path,
            salt_record_from_json(d["old_salt"]),
            salt_record_from_json(d["new_salt"]),
            None if d["passphrase_file"] is None else Path(d["passphrase_file"]),
            dict(d["provider_tokens"]),
            busy_timeout_ms,
        )

    def steps(
        self, old_key: DatabaseKey, new_key: DatabaseKey, new_passphrase: SecretStr, now: datetime
    ) -> list[Step]:
        journal = new_journal(
            "rekey",
            REKEYING,
            now,
            old_salt=salt_record_json(self.old_salt),
            new_salt=salt_record_json(self.new_salt),
            passphrase_file=None if self.passphrase_file is None else str(self.passphrase_file),
            provider_tokens=dict(self.provider_tokens),
        )
        return [
            Step("journal", lambda: write_journal(self.db_path, journal)),
            Step("new passphrase", lambda: self.stage_passphrase(new_passphrase)),
            Step("rekey", lambda: self.rekey_file(old_key, new_key)),
            Step("rekeyed", lambda: write_journal(self.db_path, journal.at(REKEYED))),
            *self.forward_steps(new_key),
        ]

    def forward_steps(self, new_key: DatabaseKey) -> list[Step]:
        """Steps 5-8: what finishes a rekey once the file is under ``new_key``."""
        return [
            Step(
                "salt",
                lambda: write_salt_file(salt_path(self.db_path), self.new_salt, exclusive=False),
            ),
            Step("passphrase", self.promote_passphrase),
            Step("provider keys", lambda: self.store_provider_tokens(new_key)),
            Step("done", lambda: remove_journal(self.db_path)),
        ]

    def stage_passphrase(self, new_passphrase: SecretStr) -> None:
        pending = self.pending_passphrase
        if pending is not None:
            write_atomic(pending, (new_passphrase.get_secret_value() + "\n").encode("utf-8"))

    def rekey_file(self, old_key: DatabaseKey, new_key: DatabaseKey) -> None:
        conn = open_keyed(self.db_path, old_key, self.busy_timeout_ms)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            conn.execute(f"PRAGMA rekey = {new_key.pragma_literal()}")
        except dbapi_errors() as exc:
            raise DatabaseError(f"database {self.db_path}: rekey failed ({exc})") from exc
        finally:
            conn.close()

    def promote_passphrase(self) -> None:
        pending = self.pending_passphrase
        if self.passphrase_file is not None and pending is not None and pending.exists():
            os.replace(pending, self.passphrase_file)
            fsync_dir(self.passphrase_file.parent)

    def store_provider_tokens(self, new_key: DatabaseKey) -> None:
        """Also the first open under the new key: it folds a WAL the rekey left and checks
        every page, so a finished rekey is a verified one."""
        db = BaseDatabase(self.db_path, new_key, busy_timeout_ms=self.busy_timeout_ms)
        try:
            if not self.provider_tokens:
                return
            with db.raw_connection() as conn:
                conn.execute("BEGIN IMMEDIATE")
                for provider, token in self.provider_tokens.items():
                    conn.execute(
                        "UPDATE market_provider_settings SET api_key_encrypted = ? "
                        "WHERE provider = ?",
                        (token, provider),
                    )
                conn.execute("COMMIT")
        finally:
            db.close()

    def roll_back(self) -> None:
        """Undo a rekey whose ``PRAGMA rekey`` never committed."""
        pending = self.pending_passphrase
        if pending is not None:
            pending.unlink(missing_ok=True)
        if read_salt_file(salt_path(self.db_path)) != self.old_salt:
            write_salt_file(salt_path(self.db_path), self.old_salt, exclusive=False)
        remove_journal(self.db_path)

    def new_passphrases(self, configured: SecretStr) -> list[SecretStr]:
        """What the file may now be keyed with: the pending passphrase, else the configured."""
        found = []
        pending = self.pending_passphrase
        if pending is not None and pending.exists():
            found.append(read_passphrase_file(pending))
        return [*found, configured]


@dataclass(frozen=True)
class RekeyPlan:
    steps: list[Step]
    new_key: DatabaseKey


def plan_rekey(
    db_path: Path,
    old_key: DatabaseKey,
    new_passphrase: SecretStr,
    params: KdfParams,
    *,
    api_keys: Mapping[str, SecretStr],
    passphrase_file: Path | None,
    busy_timeout_ms: int,
    now: datetime,
) -> RekeyPlan:
    """The steps that re-encrypt ``db_path`` (keyed with ``old_key``; closed by the caller)
    under ``new_passphrase`` and a new salt. ``api_keys`` are the stored provider keys in
    clear (read under the old key); ``passphrase_file`` is a self-made passphrase file to
    update, or None when the passphrase comes from outside."""
    record = new_salt_record(params)
    new_key = derive_key(new_passphrase, record.salt, record.params)
    fernet = fernet_for(new_key)
    tokens = {
        provider: fernet.encrypt(key.get_secret_value().encode("utf-8")).decode("ascii")
        for provider, key in api_keys.items()
    }
    rekey = Rekey(
        db_path,
        read_salt_file(salt_path(db_path)),
        record,
        passphrase_file,
        tokens,
        busy_timeout_ms,
    )
    return RekeyPlan(rekey.steps(old_key, new_key, new_passphrase, now), new_key)


def settle_rekey(
    db_path: Path,
    journal: Journal,
    configured: SecretStr,
    *,
    apply: bool,
    hint: str,
    busy_timeout_ms: int,
) -> str:
    """Finish or roll back an interrupted rekey (``apply``), or say what is pending. Only
    reads the file to find out which key opens it."""
    plan = Rekey.from_journal(db_path, journal, busy_timeout_ms)
    unfinished = journal.unfinished(db_path)
    old_key = derive_key(configured, plan.old_salt.salt, plan.old_salt.params)
    if _opens(db_path, old_key):
        if not apply:
            raise DatabaseError(
                f"{unfinished} before re-encrypting it: the old passphrase still opens it; "
                f"{hint} rolls it back"
            )
        plan.roll_back()
        return f"{unfinished} before re-encrypting it: rolled back; the old passphrase opens it"
    for candidate in plan.new_passphrases(configured):
        new_key = derive_key(candidate, plan.new_salt.salt, plan.new_salt.params)
        if _opens(db_path, new_key):
            if not apply:
                raise DatabaseError(
                    f"{unfinished} after re-encrypting it with the new passphrase; {hint} "
                    "finishes it"
                )
            run_steps(plan.forward_steps(new_key))
            return f"{unfinished}: finished now; the new passphrase opens it"
    raise DatabaseKeyError(
        f"{unfinished}: the database was re-encrypted and opens only with the NEW passphrase, "
        "which is not the configured one; set the passphrase source ([database] passphrase) "
        f"to the new passphrase, then {hint} finishes the rekey"
    )


def _opens(path: Path, key: DatabaseKey) -> bool:
    try:
        open_keyed(path, key, read_only=True).close()
    except DatabaseKeyError:
        return False
    return True
