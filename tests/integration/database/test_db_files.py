"""The data dir is 0700 and every file skimd writes in it is 0600, whatever the umask; a
data dir left open by an older version is tightened when a command that holds the
instance lock starts; leftovers of killed atomic writes are removed then."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from skimd import bootstrap
from skimd.cli import main
from skimd.config import load_settings
from skimd.errors import SecretFileError
from skimd.infrastructure.database import open_trading_database
from skimd.secret_groups import with_secrets


@pytest.fixture(autouse=True)
def loose_umask() -> Iterator[None]:
    """The umask an operator's shell usually has: files 0644 and dirs 0755 by default."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def modes_under(folder: Path) -> dict[str, int]:
    """Every path under ``folder`` (itself included) with its permission bits."""
    found = {".": mode(folder)}
    for path in folder.rglob("*"):
        found[str(path.relative_to(folder))] = mode(path)
    return found


def loose(found: dict[str, int]) -> dict[str, str]:
    return {name: f"{bits:04o}" for name, bits in found.items() if bits & 0o077}


def cli(config: Path, *args: str) -> int:
    return main(["--config", str(config), *args])


def test_init_write_backup_restore_leave_only_private_files(
    make_config, tmp_path: Path, clean_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    config = make_config()
    data = tmp_path / "data"
    assert cli(config, "db", "init") == 0
    settings = with_secrets(load_settings(config, {}), "database")
    db = open_trading_database(settings, create=False)
    try:
        with db.unit_of_work() as uow:  # a write: the -wal and -shm exist while it is open
            uow.settings.set_default("k", "v")
        assert Path(f"{db.path}-wal").exists() and Path(f"{db.path}-shm").exists()
        assert loose(modes_under(data)) == {}
    finally:
        db.close()
    assert cli(config, "db", "backup") == 0
    (backup,) = sorted((data / "backups").glob("skimd-*.db"))
    assert cli(config, "db", "restore", str(backup)) == 0
    assert cli(config, "guard", "lock") == 0
    found = modes_under(data)
    assert loose(found) == {}, capsys.readouterr()
    assert found["."] == 0o700 and found["backups"] == 0o700
    assert any(name.startswith("pre-restore-") for name in found)


def test_encrypting_a_plaintext_database_leaves_private_files(
    make_config, tmp_path: Path, clean_env: None
) -> None:
    config = make_config()
    plain = tmp_path / "plain.toml"
    plain.write_text(
        config.read_text().replace("[database]", '[database]\nencryption = "off"'), "utf-8"
    )
    assert cli(plain, "db", "init") == 0
    assert cli(plain, "db", "encrypt", "--keep-plaintext") == 0
    found = modes_under(tmp_path / "data")
    assert any(".plaintext-" in name for name in found)
    assert loose(found) == {}


def test_an_exclusive_start_tightens_what_an_older_version_left_open(
    make_config, tmp_path: Path, clean_env: None
) -> None:
    config = make_config()
    assert cli(config, "db", "init") == 0
    assert cli(config, "db", "backup") == 0
    data = tmp_path / "data"
    for path in [data, *data.rglob("*")]:  # as `mkdir -p` and a 0022 umask made them
        path.chmod(0o755 if path.is_dir() else 0o644)
    found_open = loose(modes_under(data))
    settings = load_settings(config, {})

    with bootstrap.build(settings, access=bootstrap.Access.SHARED) as app:
        app.status_report()
    assert mode(data) == 0o755, "a reader changes nothing, not even modes"

    with capture_logs() as logged, bootstrap.build(settings, access=bootstrap.Access.EXCLUSIVE):
        pass
    assert loose(modes_under(data)) == {}
    (warning,) = [e for e in logged if "tightened" in e["event"]]
    assert warning["log_level"] == "warning" and warning["count"] == len(found_open)


def test_a_readable_passphrase_file_in_the_data_dir_is_refused_not_tightened(
    tmp_path: Path, clean_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """A secret others could read may have been read: tightening it would hide that. It is
    refused (exit 78) so the operator rotates it (`skimd db rekey`)."""
    config = tmp_path / "demo.toml"
    config.write_text(
        f'[paths]\ndata_dir = "{tmp_path / "data"}"\n[database]\ncreate_passphrase = true\n'
        "kdf_time_cost = 1\nkdf_memory_kib = 8192\nkdf_parallelism = 1\n",
        encoding="utf-8",
    )
    assert cli(config, "db", "init") == 0
    secret = tmp_path / "data" / "skimd.passphrase"
    secret.chmod(0o644)
    settings = load_settings(config, {})
    with (
        bootstrap.build(settings, access=bootstrap.Access.EXCLUSIVE) as app,
        pytest.raises(SecretFileError),
    ):
        app.db_admin.init()
    assert mode(secret) == 0o644
    assert cli(config, "db", "init") == 78
    assert str(secret) in capsys.readouterr().err


def test_killed_atomic_writes_leave_temporaries_that_the_next_start_removes(
    make_config, tmp_path: Path, clean_env: None
) -> None:
    config = make_config()
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    leftovers = [
        data / ".demo-run.json.k2j3h4g5.tmp",
        data / ".demo-broker-7.json.abcd1234.tmp",
        data / ".skimd.passphrase.0f1e2d3c.tmp",
    ]
    for path in leftovers:
        path.write_text(json.dumps({"half": "written"}), encoding="utf-8")
    keep = data / "notes.tmp.txt"
    keep.write_text("not ours", encoding="utf-8")
    settings = load_settings(config, {})

    with bootstrap.build(settings, access=bootstrap.Access.SHARED):
        pass
    assert all(path.exists() for path in leftovers), "a reader removes nothing"

    with bootstrap.build(settings, access=bootstrap.Access.EXCLUSIVE):
        pass
    assert not any(path.exists() for path in leftovers)
    assert keep.exists()
