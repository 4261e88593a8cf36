"""Shared fixtures: a private config file + data dir per test, and a CLI runner.

Commands run in-process configure logging to stderr as the CLI does; the structlog and
stdlib logging set-up is restored after every test (``restore_logging``), so no later test
writes to a capture stream pytest has closed.
"""

from __future__ import annotations

import logging
import os
import stat
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import structlog

# Small Argon2 parameters for tests: the production defaults (64 MiB, t=3) are kept in code.
TEST_KDF = {"kdf_time_cost": 1, "kdf_memory_kib": 8192, "kdf_parallelism": 1}


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.configure(**saved)
    root.handlers[:] = handlers
    root.setLevel(level)


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
