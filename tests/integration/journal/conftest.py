"""Real encrypted database files in tmp dirs for the journal tests.

One migrated SQLCipher database is made per session (``journal_template``); each test gets a
copy in its own data dir with a config file pointing at it, so the CLI (which loads the
config) and the test (which opens the same file) see the same database.
"""

from __future__ import annotations

import shutil
import stat
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from skimd.config import DatabaseSettings, PathSettings, Settings, load_settings
from skimd.infrastructure.database import TradingDatabase, open_trading_database
from skimd.secret_groups import with_secrets
from tests.conftest import TEST_KDF

PASSPHRASE = "journal 'pass' phrase ✓"


@pytest.fixture(scope="session")
def journal_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("journal-template")
    settings = Settings(
        paths=PathSettings(data_dir=data_dir),
        database=DatabaseSettings(
            encryption="sqlcipher",
            passphrase=SecretStr(PASSPHRASE),
            **TEST_KDF,  # type: ignore[arg-type]
        ),
    )
    open_trading_database(settings, create=True).close()
    return data_dir


@pytest.fixture
def config(tmp_path: Path, journal_template: Path) -> Path:
    """A config file whose data dir holds a fresh copy of the migrated database."""
    data_dir = tmp_path / "data"
    shutil.copytree(journal_template, data_dir)
    secret = tmp_path / "db.passphrase"
    secret.write_text(PASSPHRASE + "\n", encoding="utf-8")
    secret.chmod(stat.S_IRUSR | stat.S_IWUSR)
    kdf = "\n".join(f"{k} = {v}" for k, v in TEST_KDF.items())
    path = tmp_path / "skimd.toml"
    path.write_text(
        textwrap.dedent(
            f"""
            [paths]
            data_dir = "{data_dir}"

            [database]
            passphrase_file = "{secret}"
            """
        )
        + kdf
        + "\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def settings(config: Path) -> Settings:
    """The settings with the database's secrets read, as bootstrap opens the database."""
    return with_secrets(load_settings(str(config), {}), "database")


@pytest.fixture
def db(settings: Settings) -> Iterator[TradingDatabase]:
    database = open_trading_database(settings, create=False)
    yield database
    database.close()
