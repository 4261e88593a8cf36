"""The demo's self-made passphrase and the rekey passphrase prompt."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from skimd.commands.db import read_new_passphrase
from skimd.config import DatabaseSettings, Settings
from skimd.errors import ConfigurationError, SecretFileError
from skimd.infrastructure.database.passphrase import ensure_passphrase


def test_configured_passphrase_wins(tmp_path: Path) -> None:
    settings = Settings(database=DatabaseSettings(passphrase=SecretStr("given one")))
    assert ensure_passphrase(settings, tmp_path, create=True).get_secret_value() == "given one"
    assert not (tmp_path / "skimd.passphrase").exists()


def test_created_once_private_and_reused(tmp_path: Path) -> None:
    settings = Settings(database=DatabaseSettings(create_passphrase=True))
    first = ensure_passphrase(settings, tmp_path, create=True)
    path = tmp_path / "skimd.passphrase"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first.get_secret_value()) == 32
    assert ensure_passphrase(settings, tmp_path, create=True) == first


def test_only_a_creating_caller_makes_one(tmp_path: Path) -> None:
    settings = Settings(database=DatabaseSettings(create_passphrase=True))
    with pytest.raises(SecretFileError, match="missing"):
        ensure_passphrase(settings, tmp_path, create=False)
    assert list(tmp_path.iterdir()) == []
    made = ensure_passphrase(settings, tmp_path, create=True)
    assert ensure_passphrase(settings, tmp_path, create=False) == made


def test_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "skimd.passphrase"
    path.write_text("shared secret value")
    path.chmod(0o644)
    settings = Settings(database=DatabaseSettings(create_passphrase=True))
    with pytest.raises(SecretFileError, match="0644"):
        ensure_passphrase(settings, tmp_path, create=True)


def test_no_source_is_a_configuration_error(tmp_path: Path) -> None:
    settings = Settings(database=DatabaseSettings(encryption="off"))
    with pytest.raises(ConfigurationError, match="passphrase: missing"):
        ensure_passphrase(settings, tmp_path, create=True)


def test_new_passphrase_from_environment_or_prompt() -> None:
    env = {"SKIMD_DB_NEW_PASSPHRASE": "from the environment"}
    assert read_new_passphrase(env).get_secret_value() == "from the environment"
    answers = iter(["typed twice ok", "typed twice ok"])
    assert read_new_passphrase({}, lambda _: next(answers)).get_secret_value() == "typed twice ok"
    differ = iter(["typed twice ok", "typed twice no"])
    with pytest.raises(ConfigurationError, match="differ"):
        read_new_passphrase({}, lambda _: next(differ))
    with pytest.raises(ConfigurationError, match="shorter"):
        read_new_passphrase({"SKIMD_DB_NEW_PASSPHRASE": "short"})
