"""Key material for the database: Argon2id derivation, the salt file, the Fernet helper.

The passphrase is stretched once per process with Argon2id (RFC 9106's second recommended
parameter set by default: t=3, m=64 MiB, p=4) into a raw 32-byte key. Every SQLCipher
connection is then keyed with that raw key (``PRAGMA key = "x'<hex>'"``), which skips
SQLCipher's own per-connection PBKDF2 and keeps the passphrase out of SQL text.

The random 16-byte salt and the KDF parameters live in ``<db>.salt`` (JSON, mode 0600) next
to the database; they are not secret, but without them the key cannot be re-derived, so
backups copy the salt file too.

Provider API keys stored in the database are additionally Fernet-encrypted with a key
derived from the database key through HKDF under its own label, so the two keys are never
the same bytes and there is no built-in default key.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from argon2.low_level import Type, hash_secret_raw
from pydantic import SecretStr

from skimd.config import DatabaseSettings
from skimd.errors import DatabaseError
from skimd.files import fsync_dir, write_atomic

KEY_BYTES = 32
SALT_BYTES = 16
if TYPE_CHECKING:
    from cryptography.fernet import Fernet

_FERNET_INFO = b"skimd/provider-api-keys/fernet/v1"
_SALT_FORMAT = 1


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost parameters; the defaults are RFC 9106's second recommended set."""

    time_cost: int = 3
    memory_kib: int = 65536
    parallelism: int = 4

    @classmethod
    def from_settings(cls, settings: DatabaseSettings) -> KdfParams:
        return cls(settings.kdf_time_cost, settings.kdf_memory_kib, settings.kdf_parallelism)


class DatabaseKey:
    """A raw 32-byte key. Its ``repr`` and ``str`` are masked so it never lands in a log."""

    __slots__ = ("_raw",)

    def __init__(self, raw: bytes) -> None:
        if len(raw) != KEY_BYTES:
            raise ValueError(f"database key must be {KEY_BYTES} bytes")
        self._raw = bytes(raw)

    @property
    def raw(self) -> bytes:
        return self._raw

    def pragma_literal(self) -> str:
        """The SQLCipher raw-key literal. Only hex digits: safe to place in SQL text."""
        return f"\"x'{self._raw.hex()}'\""

    def __repr__(self) -> str:
        return "DatabaseKey(**********)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DatabaseKey) and secrets.compare_digest(self._raw, other._raw)

    def __hash__(self) -> int:
        return hash(self._raw)


def _secret_bytes(passphrase: SecretStr | str) -> bytes:
    value = passphrase.get_secret_value() if isinstance(passphrase, SecretStr) else passphrase
    if not value:
        raise DatabaseError("database passphrase is empty")
    return value.encode("utf-8")


def derive_key(passphrase: SecretStr | str, salt: bytes, params: KdfParams) -> DatabaseKey:
    """Argon2id(passphrase, salt) → 32 bytes. Deterministic for the same inputs."""
    if len(salt) < 8:
        raise DatabaseError("database salt is too short")
    raw = hash_secret_raw(
        secret=_secret_bytes(passphrase),
        salt=salt,
        time_cost=params.time_cost,
        memory_cost=params.memory_kib,
        parallelism=params.parallelism,
        hash_len=KEY_BYTES,
        type=Type.ID,
    )
    return DatabaseKey(raw)


def fernet_for(key: DatabaseKey) -> Fernet:
    """A Fernet keyed by HKDF-SHA256(database key, info=provider label)."""
    from cryptography.fernet import Fernet
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_FERNET_INFO).derive(
        key.raw
    )
    return Fernet(base64.urlsafe_b64encode(derived))


class LazyFernet:
    """The provider-key Fernet, made on first use: ``cryptography`` costs the daemon ~6 MB
    resident, and only a stored provider API key ever needs it."""

    def __init__(self, key: DatabaseKey) -> None:
        self._key = key
        self._fernet: Fernet | None = None

    def get(self) -> Fernet:
        if self._fernet is None:
            self._fernet = fernet_for(self._key)
        return self._fernet

    def __repr__(self) -> str:
        return "LazyFernet(<key hidden>)"


# -- the salt file --------------------------------------------------------------------------


@dataclass(frozen=True)
class SaltRecord:
    salt: bytes
    params: KdfParams


def salt_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".salt")


def new_salt_record(params: KdfParams) -> SaltRecord:
    return SaltRecord(secrets.token_bytes(SALT_BYTES), params)


def salt_record_json(record: SaltRecord) -> dict[str, Any]:
    """The salt file's fields (not secret: a salt and cost parameters)."""
    return {
        "format": _SALT_FORMAT,
        "kdf": "argon2id",
        "salt": record.salt.hex(),
        "time_cost": record.params.time_cost,
        "memory_kib": record.params.memory_kib,
        "parallelism": record.params.parallelism,
    }


def salt_record_from_json(data: dict[str, Any]) -> SaltRecord:
    """Inverse of :func:`salt_record_json`; ValueError/KeyError/TypeError when malformed."""
    if data.get("kdf") != "argon2id":
        raise ValueError("unknown kdf")
    return SaltRecord(
        bytes.fromhex(data["salt"]),
        KdfParams(int(data["time_cost"]), int(data["memory_kib"]), int(data["parallelism"])),
    )


def write_salt_file(path: Path, record: SaltRecord, *, exclusive: bool) -> None:
    """Write the salt file at mode 0600 and fsync it (and its directory).

    ``exclusive`` refuses to replace an existing file (creating a database must never
    overwrite the salt of another one). Otherwise the file is replaced atomically.
    """
    body = json.dumps(salt_record_json(record), indent=2).encode("ascii") + b"\n"
    if not exclusive:
        write_atomic(path, body)
        return
    flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | os.O_EXCL
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise DatabaseError(f"salt file {path} already exists; refusing to overwrite") from None
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, body)
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_dir(path.parent)


def read_salt_file(path: Path) -> SaltRecord:
    try:
        return salt_record_from_json(json.loads(path.read_text(encoding="ascii")))
    except FileNotFoundError:
        raise DatabaseError(
            f"salt file {path} is missing; without it the database key cannot be derived "
            "(restore it from a backup)"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DatabaseError(f"salt file {path} is unreadable or malformed") from exc
