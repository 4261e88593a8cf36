"""Shared fixtures: a private config file + data dir per test, and a CLI runner."""

from __future__ import annotations

import os
import stat
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

# Small Argon2 parameters for tests: the production defaults (64 MiB, t=3) are kept in code.
TEST_KDF = {"kdf_time_cost": 1, "kdf_memory_kib": 8192, "kdf_parallelism": 1}


def write_private(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    return path


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a config TOML whose data dir is inside tmp_path; ``extra`` is appended verbatim."""

    def make(
        extra: str = "", *, name: str = "skimd.toml", passphrase: str = "correct horse"
    ) -> Path:
        data_dir = tmp_path / "data"
        secret = write_private(tmp_path / "db.passphrase", passphrase)
        kdf = "\n".join(f"{k} = {v}" for k, v in TEST_KDF.items())
        body = textwrap.dedent(
            f"""
            [paths]
            data_dir = "{data_dir}"

            [database]
            passphrase_file = "{secret}"
            {kdf}
            """
        )
        path = tmp_path / name
        path.write_text(body + textwrap.dedent(extra), encoding="utf-8")
        return path

    return make


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No SKIMD_* / credential variables from the developer's shell leak into a test."""
    for name in list(os.environ):
        if name.startswith("SKIMD") or name in {
            "CREDENTIALS_DIRECTORY",
            "NOTIFY_SOCKET",
            "WATCHDOG_USEC",
        }:
            monkeypatch.delenv(name, raising=False)
