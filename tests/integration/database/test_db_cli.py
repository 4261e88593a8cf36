"""``skimd db ...`` end to end through skimd.cli.main with a real TOML config."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from skimd.cli import main
from skimd.domain.preferences import APP_DEFAULTS
from skimd.infrastructure.database import head_revision

PASSPHRASE = 'cli "pass" \\ phrase ✓'


@pytest.fixture
def config(tmp_path: Path) -> Path:
    secret = tmp_path / "db.passphrase"
    secret.write_text(PASSPHRASE + "\n", encoding="utf-8")
    os.chmod(secret, 0o600)
    path = tmp_path / "skimd.toml"
    path.write_text(
        f"""
[paths]
data_dir = "{tmp_path / "data"}"

[database]
passphrase_file = "{secret}"
backup_keep = 2
kdf_time_cost = 1
kdf_memory_kib = 8192
kdf_parallelism = 1
""",
        encoding="utf-8",
    )
    return path


def run(config: Path, *args: str) -> int:
    return main(["db", *args, "--config", str(config)])


def test_init_tables_verify(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(config, "init") == 0
    assert f"is at revision {head_revision()}" in capsys.readouterr().out
    assert run(config, "tables", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    names = {t["name"]: t["rows"] for t in report["tables"]}
    assert names["trades"] == 0 and names["alembic_version"] == 1 and "images" in names
    assert names["app_defaults"] == len(APP_DEFAULTS)  # seeded by init
    assert run(config, "verify") == 0
    assert "ok (integrity_check and cipher_integrity_check)" in capsys.readouterr().out


def test_verify_reports_a_corrupted_file(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(config, "init") == 0
    db = tmp_path / "data" / "skimd.db"
    size = db.stat().st_size
    with db.open("r+b") as fh:  # the middle of a page in the middle of the file
        fh.seek((size // 4096 // 2) * 4096 + 1500)
        fh.write(b"\x00\xff" * 32)
    capsys.readouterr()
    code = run(config, "verify")
    err = capsys.readouterr().err
    assert code != 0
    assert len(err.strip().splitlines()) == 1
    assert str(db) in err and ("corrupt" in err or "damaged" in err)
    assert PASSPHRASE not in err


def test_backup_restore_and_rekey(
    config: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert run(config, "init") == 0
    assert run(config, "backup") == 0
    out = capsys.readouterr().out
    backups = sorted((tmp_path / "data" / "backups").glob("skimd-*.db"))
    assert len(backups) == 1 and str(backups[0]) in out
    assert run(config, "restore", str(backups[0])) == 0
    assert "restored" in capsys.readouterr().out
    monkeypatch.setenv("SKIMD_DB_NEW_PASSPHRASE", "an entirely new passphrase")
    assert run(config, "rekey") == 0
    capsys.readouterr()
    assert run(config, "verify") == 78  # the configured passphrase is now the old one
    assert "wrong passphrase" in capsys.readouterr().err


def test_encrypt_a_plaintext_database(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = tmp_path / "plain.toml"
    plain.write_text(
        config.read_text().replace("[database]", '[database]\nencryption = "off"'),
        encoding="utf-8",
    )
    assert run(plain, "init") == 0
    db = tmp_path / "data" / "skimd.db"
    assert db.read_bytes().startswith(b"SQLite format 3")
    assert run(plain, "encrypt") == 0
    assert "now encrypted" in capsys.readouterr().out
    assert not db.read_bytes().startswith(b"SQLite format 3")
    assert run(config, "verify") == 0
