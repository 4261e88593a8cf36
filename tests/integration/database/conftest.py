"""Real database files in tmp_path, small Argon2 parameters, both storage modes."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from skimd.config import DatabaseSettings, PathSettings, Settings
from skimd.infrastructure.database import TradingDatabase, open_trading_database

SMALL_KDF = {"kdf_time_cost": 1, "kdf_memory_kib": 8192, "kdf_parallelism": 1}
PASSPHRASE = "correct horse 'battery' \"staple\" \\ ünïcødé ☃"

SettingsFactory = Callable[..., Settings]


@pytest.fixture
def make_settings(tmp_path: Path) -> SettingsFactory:
    def make(
        *, encryption: str = "sqlcipher", passphrase: str | None = PASSPHRASE, **db: object
    ) -> Settings:
        return Settings(
            paths=PathSettings(data_dir=tmp_path / "data"),
            database=DatabaseSettings(
                encryption=encryption,  # type: ignore[arg-type]
                passphrase=SecretStr(passphrase) if passphrase is not None else None,
                **{**SMALL_KDF, **db},  # type: ignore[arg-type]
            ),
        )

    return make


@pytest.fixture(params=["plain", "sqlcipher"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(make_settings: SettingsFactory, mode: str) -> Settings:
    return make_settings(encryption="off" if mode == "plain" else "sqlcipher")


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One freshly initialised database per mode, made once (``create=True`` runs the
    migrations); each test gets a copy, which keeps the suite fast."""
    templates: dict[str, Path] = {}
    for mode in ("plain", "sqlcipher"):
        data_dir = tmp_path_factory.mktemp(f"template-{mode}")
        settings = Settings(
            paths=PathSettings(data_dir=data_dir),
            database=DatabaseSettings(
                encryption="off" if mode == "plain" else "sqlcipher",
                passphrase=SecretStr(PASSPHRASE),
                **SMALL_KDF,  # type: ignore[arg-type]
            ),
        )
        open_trading_database(settings, create=True).close()
        templates[mode] = data_dir
    return templates


@pytest.fixture
def db(
    settings: Settings, mode: str, migrated_template: dict[str, Path]
) -> Iterator[TradingDatabase]:
    assert settings.paths.data_dir is not None
    shutil.copytree(migrated_template[mode], settings.paths.data_dir)
    database = open_trading_database(settings, create=False)
    yield database
    database.close()


@pytest.fixture
def now() -> datetime:
    return datetime(2025, 3, 14, 23, 5, 0, 123456, tzinfo=UTC)


@pytest.fixture
def file_bytes() -> Callable[[Path], bytes]:
    """Every byte of a database on disk: the main file plus its WAL, if any."""

    def read(path: Path) -> bytes:
        data = path.read_bytes()
        wal = Path(f"{path}-wal")
        if wal.exists():
            data += wal.read_bytes()
        return data

    return read
