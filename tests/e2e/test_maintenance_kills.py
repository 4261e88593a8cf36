"""`skimd db restore` and `skimd db rekey` as real processes, SIGKILLed before each of their
changes to the file system in turn (tests/e2e/fs_step_killer.py), until one run finishes.

After every kill: a reader (`db verify`) either finds the database fine or says which
maintenance command did not finish (never "run `skimd db init`" for a database that is
only half-restored, never a bare "wrong passphrase"); following the old advice (`skimd db
init`) is safe, because any command holding the instance lock first finishes or rolls back
the interrupted step; afterwards the database verifies and holds either the old or the new
contents, the provider API key still decrypts, and the backup and its salt are untouched.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from skimd.cli import main
from skimd.config import load_settings
from skimd.infrastructure.database import open_trading_database
from skimd.secret_groups import with_secrets
from tests.conftest import TEST_KDF, write_private
from tests.e2e.demo_runs import ROOT, env

NEW_PASSPHRASE = "a brand new passphrase"
WHEN = datetime(2026, 11, 24, tzinfo=UTC)
MAX_STEPS = 200


def write_config(folder: Path, *, self_made: bool) -> Path:
    kdf = "\n".join(f"{k} = {v}" for k, v in TEST_KDF.items())
    if self_made:
        source = "create_passphrase = true"
    else:
        source = f'passphrase_file = "{write_private(folder / "db.passphrase", "old passphrase")}"'
    path = folder / "skimd.toml"
    path.write_text(
        f'[paths]\ndata_dir = "{folder / "data"}"\n\n[database]\n{source}\n{kdf}\n',
        encoding="utf-8",
    )
    return path


def cli(config: Path, *args: str) -> int:
    return main(["--config", str(config), *args])


def write_value(config: Path, value: str) -> None:
    db = open_trading_database(with_secrets(load_settings(config, {}), "database"), create=False)
    try:
        with db.unit_of_work() as uow:
            uow.settings.set_default("which", value)
            uow.providers.set_api_key("news", SecretStr("k-1"), WHEN)
    finally:
        db.close()


def read_back(config: Path) -> tuple[str, str]:
    """The stored value and the provider API key, through a fresh open."""
    db = open_trading_database(with_secrets(load_settings(config, {}), "database"), create=False)
    try:
        with db.unit_of_work(read_only=True) as uow:
            key = uow.providers.get_api_key("news")
            assert key is not None
            return str(uow.settings.resolve("which")), key.get_secret_value()
    finally:
        db.close()


def killed_at(step: int, folder: Path, config: Path, *args: str) -> int:
    """Run `skimd --config CONFIG ARGS` killed before its ``step``-th change under
    ``folder``; its exit status (-9 when killed)."""
    done = subprocess.run(
        [
            *(sys.executable, "-m", "tests.e2e.fs_step_killer", str(step), str(folder)),
            *("--config", str(config), *args),
        ],
        env={**env(), "SKIMD_DB_NEW_PASSPHRASE": NEW_PASSPHRASE},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode in (0, -9), done.stderr[-2000:]
    return done.returncode


def every_kill(
    folder: Path, config: Path, *args: str, reset: Callable[[], None] = lambda: None
) -> Iterator[tuple[int, int]]:
    """For step 1, 2, ...: a fresh copy of the prepared data dir (and ``reset`` for what
    lives outside it), the command killed at that step; yields (step, exit status) until a
    run finishes."""
    data = folder / "data"
    template = folder / "template"
    shutil.copytree(data, template, symlinks=True)
    for step in range(1, MAX_STEPS):
        shutil.rmtree(data)
        shutil.copytree(template, data, symlinks=True)
        reset()
        code = killed_at(step, folder, config, *args)
        yield step, code
        if code == 0:
            return
    raise AssertionError(f"{args} did not finish within {MAX_STEPS} file-system steps")


@pytest.mark.slow
def test_restore_killed_at_every_step_never_loses_the_database_or_the_backup(
    tmp_path: Path, clean_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, self_made=False)
    assert cli(config, "db", "init") == 0
    write_value(config, "backup")
    assert cli(config, "db", "backup") == 0
    (backup,) = (tmp_path / "data" / "backups").glob("skimd-*.db")
    salt = Path(f"{backup}.salt")
    backup_bytes, salt_bytes = backup.read_bytes(), salt.read_bytes()
    write_value(config, "live")
    capsys.readouterr()

    outcomes, refused = [], []
    for step, code in every_kill(tmp_path, config, "db", "restore", str(backup)):
        verified = cli(config, "db", "verify")
        err = capsys.readouterr().err
        if verified != 0:
            assert "did not finish" in err and "skimd db restore" in err, (step, err)
            assert "skimd db init" not in err, (step, err)
            refused.append(step)
        assert cli(config, "db", "init") == 0, (step, capsys.readouterr().err)
        assert cli(config, "db", "verify") == 0, (step, capsys.readouterr().err)
        value, key = read_back(config)
        assert value in ("live", "backup") and key == "k-1", step
        if code == 0:
            assert value == "backup"
        assert backup.read_bytes() == backup_bytes and salt.read_bytes() == salt_bytes, step
        leftovers = [p.name for p in (tmp_path / "data").iterdir() if ".restor" in p.name]
        assert leftovers == [], (step, leftovers)
        outcomes.append(value)
    assert outcomes[0] == "live" and outcomes[-1] == "backup"
    assert len(refused) > 3, "the kills landed inside the journaled steps"


@pytest.mark.slow
@pytest.mark.parametrize("self_made", [True, False], ids=["self-made", "external"])
def test_rekey_killed_at_every_step_never_locks_the_trader_out(
    self_made: bool, tmp_path: Path, clean_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, self_made=self_made)
    assert cli(config, "db", "init") == 0
    write_value(config, "live")
    capsys.readouterr()
    outer = tmp_path / "db.passphrase"

    def old_passphrase() -> None:
        if not self_made:
            write_private(outer, "old passphrase")

    rekeyed, told_new = [], []
    for step, code in every_kill(tmp_path, config, "db", "rekey", reset=old_passphrase):
        if not self_made and code == 0:  # the operator updates the source, as told
            write_private(outer, NEW_PASSPHRASE)
        verified = cli(config, "db", "verify")
        err = capsys.readouterr().err
        if verified != 0:
            assert "did not finish" in err and "skimd db rekey" in err, (step, err)
        if not self_made and verified != 0 and "NEW passphrase" in err:
            write_private(outer, NEW_PASSPHRASE)  # what the message asks the operator to do
            told_new.append(step)
        assert cli(config, "db", "init") == 0, (step, capsys.readouterr().err)
        assert cli(config, "db", "verify") == 0, (step, capsys.readouterr().err)
        assert read_back(config) == ("live", "k-1"), step
        names = [p.name for p in (tmp_path / "data").iterdir()]
        assert not [n for n in names if n.endswith((".new", ".tmp")) or "journal" in n], names
        if self_made:
            current = (tmp_path / "data" / "skimd.passphrase").read_text().strip()
            rekeyed.append(current == NEW_PASSPHRASE)
        if code == 0 and self_made:
            assert rekeyed[-1]
    if self_made:
        assert rekeyed[0] is False and rekeyed[-1] is True
    else:
        assert told_new, "some kill fell after PRAGMA rekey and before the journal's removal"
