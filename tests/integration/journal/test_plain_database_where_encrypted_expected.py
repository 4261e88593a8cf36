"""A plaintext database (made with ``encryption = "off"``) met by a config that expects
SQLCipher: every command says the file is not encrypted and how to encrypt it — not "wrong
passphrase" (the salt is there) nor "salt file missing" (it is not) — and following the
advice works."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from skimd.cli import main
from skimd.config import Settings
from skimd.errors import EX_CONFIG
from skimd.infrastructure.database import open_trading_database
from skimd.infrastructure.database.crypto import salt_path
from skimd.infrastructure.database.paths import get_data_dir

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "bank"

pytestmark = pytest.mark.usefixtures("clean_env")


def make_plain(settings: Settings, *, salt: bool) -> Path:
    """Replace the encrypted database with a migrated plaintext one, as ``db init`` makes
    it under ``encryption = "off"`` (with a passphrase configured the salt stays: it keys
    the provider-key Fernet)."""
    path = (get_data_dir(settings) / settings.database.filename)
    for side in ("", "-wal", "-shm"):
        Path(f"{path}{side}").unlink(missing_ok=True)
    plain = settings.model_copy(
        update={"database": settings.database.model_copy(update={"encryption": "off"})}
    )
    open_trading_database(plain, create=True).close()
    if not salt:
        salt_path(path).unlink()
    assert path.read_bytes()[:16] == b"SQLite format 3\x00"
    return path


@pytest.mark.parametrize("salt", [True, False], ids=["salt present", "no salt"])
def test_a_plain_database_is_named_as_such_with_the_way_out(
    config: Path, settings: Settings, capsys: pytest.CaptureFixture[str], salt: bool
) -> None:
    path = make_plain(settings, salt=salt)
    before = path.read_bytes()
    statement = str(FIXTURES / "statement_v1.ofx")

    code = main(["--config", str(config), "journal", "import-bank", statement, "--bank", "w"])
    (err,) = capsys.readouterr().err.strip().splitlines()
    assert code == EX_CONFIG
    assert err == (
        f"skimd: database {path}: this database is not encrypted; `skimd db encrypt` "
        "encrypts it with the configured passphrase"
    )
    assert path.read_bytes() == before and not Path(f"{path}-wal").exists()
    assert salt_path(path).exists() == salt  # no salt invented for it either

    assert main(["--config", str(config), "db", "encrypt"]) == 0
    capsys.readouterr()
    assert path.read_bytes()[:16] != b"SQLite format 3\x00"
    assert main(["--config", str(config), "journal", "import-bank", statement, "--bank", "w"]) == 0
    assert "imported 3, skipped 1 duplicates" in capsys.readouterr().out


def test_an_encrypted_database_with_the_wrong_passphrase_still_says_so(
    config: Path, settings: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    secret = tmp_path / "db.passphrase"
    secret.write_text("not the passphrase\n")
    os.chmod(secret, 0o600)
    assert main(["--config", str(config), "journal", "trades"]) == EX_CONFIG
    assert capsys.readouterr().err.strip() == (
        f"skimd: wrong passphrase for {(get_data_dir(settings) / settings.database.filename)}"
    )
