"""Key derivation, the salt file and the Fernet helper."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
from cryptography.fernet import InvalidToken
from pydantic import SecretStr

from skimd.errors import DatabaseError
from skimd.infrastructure.database.crypto import (
    DatabaseKey,
    KdfParams,
    SaltRecord,
    derive_key,
    fernet_for,
    new_salt_record,
    read_salt_file,
    write_salt_file,
)

SMALL = KdfParams(time_cost=1, memory_kib=8192, parallelism=1)
SALT = bytes(range(16))


def test_defaults_are_rfc9106_second_recommendation() -> None:
    assert KdfParams() == KdfParams(time_cost=3, memory_kib=64 * 1024, parallelism=4)


def test_derivation_is_deterministic_and_input_sensitive() -> None:
    key = derive_key(SecretStr("pass phrase"), SALT, SMALL)
    assert len(key.raw) == 32
    assert derive_key("pass phrase", SALT, SMALL) == key
    assert derive_key("pass phrasf", SALT, SMALL) != key
    assert derive_key("pass phrase", bytes(16), SMALL) != key
    assert derive_key("pass phrase", SALT, KdfParams(2, 8192, 1)) != key


def test_known_vector_pins_the_algorithm() -> None:
    """Argon2id, v1.3, 32-byte output: a change of algorithm or parameters shows up here."""
    from argon2.low_level import Type, hash_secret_raw

    expected = hash_secret_raw(b"pass phrase", SALT, 1, 8192, 1, 32, Type.ID)
    assert derive_key("pass phrase", SALT, SMALL).raw == expected


def test_key_never_prints() -> None:
    key = derive_key("pass phrase", SALT, SMALL)
    assert key.raw.hex() not in repr(key) and key.raw.hex() not in str(key)
    assert "**" in repr(key)


def test_pragma_literal_is_only_hex() -> None:
    key = DatabaseKey(b"\x00" * 31 + b"\xff")
    assert key.pragma_literal() == "\"x'" + "00" * 31 + "ff'\""


def test_empty_passphrase_refused() -> None:
    with pytest.raises(DatabaseError, match="empty"):
        derive_key("", SALT, SMALL)


def test_fernet_is_derived_not_the_raw_key() -> None:
    key = derive_key("pass phrase", SALT, SMALL)
    fernet = fernet_for(key)
    token = fernet.encrypt(b"api-key")
    assert fernet_for(derive_key("pass phrase", SALT, SMALL)).decrypt(token) == b"api-key"
    with pytest.raises(InvalidToken):
        fernet_for(derive_key("other", SALT, SMALL)).decrypt(token)
    raw_as_fernet_key = base64.urlsafe_b64encode(key.raw)
    assert raw_as_fernet_key not in repr(fernet.__dict__).encode()


def test_salt_file_round_trip_is_private_and_exclusive(tmp_path: Path) -> None:
    path = tmp_path / "skimd.db.salt"
    record = new_salt_record(SMALL)
    assert len(record.salt) == 16
    write_salt_file(path, record, exclusive=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_salt_file(path) == record
    with pytest.raises(DatabaseError, match="already exists"):
        write_salt_file(path, new_salt_record(SMALL), exclusive=True)
    replacement = SaltRecord(bytes(16), KdfParams())
    write_salt_file(path, replacement, exclusive=False)
    assert read_salt_file(path) == replacement


def test_missing_or_malformed_salt_file(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="missing"):
        read_salt_file(tmp_path / "nope.salt")
    bad = tmp_path / "bad.salt"
    bad.write_text('{"kdf": "argon2id", "salt": "zz"}')
    with pytest.raises(DatabaseError, match="malformed"):
        read_salt_file(bad)
