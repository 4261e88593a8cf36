"""Commands that only read never write: no data dir, passphrase file or database page is
created or changed by ``status``, ``config check``, ``db verify``/``tables``, ``guard
status`` or the journal listings; and a database that fails its integrity check on open is
refused before anything (``guard lock`` included) writes into it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import TEST_KDF
from tests.integration.cli.conftest import cli

READERS = [
    ("status",),
    ("config", "check"),
    ("db", "verify"),
    ("db", "tables"),
    ("guard", "status"),
    ("journal", "trades"),
    ("journal", "round-trips"),
]
# Commands that need the database and so must fail without one (status and config check
# succeed without a database).
NEED_DATABASE = {("db", "verify"), ("db", "tables"), ("guard", "status"), ("guard", "lock")}
NEED_DATABASE |= {("journal", "trades"), ("journal", "round-trips"), ("db", "backup")}


def demo_style_config(folder: Path) -> Path:
    """A config whose passphrase is self-made (``create_passphrase``), as the demo's is:
    the case where opening could invent a new passphrase file."""
    kdf = "\n".join(f"{k} = {v}" for k, v in TEST_KDF.items())
    path = folder / "demo.toml"
    path.write_text(
        f'[paths]\ndata_dir = "{folder / "data"}"\n\n[database]\ncreate_passphrase = true\n{kdf}\n',
        encoding="utf-8",
    )
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes (an absent folder is empty)."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def damage_a_middle_page(db: Path) -> None:
    size = db.stat().st_size
    with db.open("r+b") as fh:
        fh.seek((size // 4096 // 2) * 4096 + 1500)
        fh.write(b"\x00\xff" * 32)


@pytest.mark.parametrize("command", READERS, ids=" ".join)
def test_a_reader_creates_no_missing_data_dir(
    command: tuple[str, ...], config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli(config, *command)
    assert code == (0 if command not in NEED_DATABASE else 78), capsys.readouterr().err
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("command", [*READERS, ("guard", "lock"), ("db", "backup")], ids=" ".join)
def test_no_command_invents_a_passphrase_for_a_database_that_is_not_there(
    command: tuple[str, ...], tmp_path: Path, clean_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    config = demo_style_config(tmp_path)
    (tmp_path / "data").mkdir(mode=0o700)
    code = cli(config, *command)
    err = capsys.readouterr().err
    if command in NEED_DATABASE:
        assert code == 78 and "skimd db init" in err
    else:
        assert code == 0, err
    assert snapshot(tmp_path / "data") == {}


def test_status_refuses_an_empty_database_file_and_leaves_it_empty(
    initialised: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "data" / "skimd.db"
    db.write_bytes(b"")
    for command in (("status",), ("db", "verify"), ("guard", "status"), ("guard", "lock")):
        assert cli(initialised, *command) != 0, command
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "empty" in err and str(db) in err
        assert db.stat().st_size == 0
        assert not Path(f"{db}-wal").exists()


def test_a_damaged_page_stops_status_and_guard_lock_before_anything_is_written(
    initialised: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "data" / "skimd.db"
    damage_a_middle_page(db)
    before = snapshot(tmp_path / "data")
    for command in (("status",), ("guard", "lock"), ("guard", "status"), ("journal", "trades")):
        assert cli(initialised, *command) != 0, command
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "corrupt" in err and str(db) in err, err
        assert "skimd db restore" in err
        after = snapshot(tmp_path / "data")
        assert after.get("skimd.db") == before["skimd.db"], command
        assert not after.get("skimd.db-wal"), command


def test_a_reader_leaves_every_byte_of_a_healthy_data_dir_as_it_was(
    initialised: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    before = snapshot(data)
    for command in READERS:
        assert cli(initialised, *command) == 0, capsys.readouterr().err
        after = snapshot(data)
        # SQLite's read-only WAL index may appear beside the file (empty -wal, -shm);
        # the database and everything else is untouched
        assert {k: v for k, v in after.items() if not k.endswith(("-wal", "-shm"))} == before
        assert not after.get("skimd.db-wal")


def test_a_lost_passphrase_file_is_not_replaced_by_a_new_one(
    tmp_path: Path, clean_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    config = demo_style_config(tmp_path)
    assert cli(config, "db", "init") == 0
    secret = tmp_path / "data" / "skimd.passphrase"
    secret.unlink()
    for command in (("status",), ("db", "verify"), ("guard", "lock"), ("journal", "trades")):
        assert cli(config, *command) == 78, command
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and str(secret) in err and "missing" in err
        assert not secret.exists()


def test_a_reader_does_not_fold_a_killed_writers_wal_into_the_database(
    initialised: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A killed daemon leaves committed pages in the -wal; a reader must read them without
    checkpointing them into the database (a write), as its last close would."""
    from skimd import bootstrap
    from tests.integration.cli.conftest import settings_of

    data = tmp_path / "data"
    killed = tmp_path / "killed"
    killed.mkdir(mode=0o700)
    writer = bootstrap.build(settings_of(initialised))
    try:
        writer.kill_switch.lock("a write the WAL holds")
        for name in ("skimd.db", "skimd.db-wal", "skimd.db.salt"):
            shutil.copy2(data / name, killed / name)  # the files as a SIGKILL leaves them
    finally:
        writer.close()
    shutil.rmtree(data)
    killed.rename(data)
    db = data / "skimd.db"
    main_file = db.read_bytes()
    assert Path(f"{db}-wal").stat().st_size > 0
    assert cli(initialised, "guard", "status") == 0
    assert "LOCKED" in capsys.readouterr().out  # the WAL's page was read
    assert cli(initialised, "status") == 0, capsys.readouterr().err
    assert db.read_bytes() == main_file
