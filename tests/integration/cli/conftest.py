"""The trader's one-off commands (guard, scan, status) against real database files.

Each test gets its own config (``make_config``) and a copy of one migrated data dir made
once per session (the salt and passphrase match because make_config always writes the same
passphrase). The commands configure logging to stderr as the CLI does
(``tests/conftest.py`` restores it after every test).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from skimd.cli import main
from skimd.config import Settings, load_settings
from skimd.secret_groups import with_secrets


@pytest.fixture(scope="session")
def migrated_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir initialised by ``skimd db init`` under make_config's passphrase."""
    from tests.conftest import TEST_KDF, write_private

    base = tmp_path_factory.mktemp("cli-template")
    secret = write_private(base / "db.passphrase", "correct horse")
    kdf = "\n".join(f"{k} = {v}" for k, v in TEST_KDF.items())
    cfg = base / "skimd.toml"
    cfg.write_text(
        f'[paths]\ndata_dir = "{base / "data"}"\n\n'
        f'[database]\npassphrase_file = "{secret}"\n{kdf}\n',
        encoding="utf-8",
    )
    assert main(["--config", str(cfg), "db", "init"]) == 0
    return base / "data"


@pytest.fixture
def config(make_config, clean_env: None) -> Path:  # type: ignore[no-untyped-def]
    """A config whose data dir does not exist yet (no database)."""
    path: Path = make_config()
    return path


@pytest.fixture
def initialised(config: Path, migrated_data_dir: Path, tmp_path: Path) -> Path:
    """``config`` with a migrated database in its data dir."""
    shutil.copytree(migrated_data_dir, tmp_path / "data")
    return config


def settings_of(config: Path) -> Settings:
    """The settings with the database's secrets read, as bootstrap opens the database."""
    return with_secrets(load_settings(config, {}), "database")


def cli(config: Path, *args: str) -> int:
    return main(["--config", str(config), *args])
