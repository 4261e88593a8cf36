"""The daemon's workload runs under the unit's seccomp rules: ``SystemCallFilter=``,
``SystemCallArchitectures=native`` and ``MemoryDenyWriteExecute=yes``, installed as
systemd 252 installs them (:mod:`tests.integration.deploy.unit_sandbox`).

What runs: SQLCipher through sqlcipher3 and the Argon2 KDF through argon2-cffi (``db
init|backup|verify|rekey``), the IBKR OAuth handshake (``cryptography`` in the key child for the RSA
signatures and decryption, Diffie-Hellman in skimd) and httpx (``broker check`` against the fake
IBKR on loopback), and a whole demo day (scheduler threads, matplotlib charts, reports).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from skimd.clock import SystemClock
from tests.fakes.ibkr_server import FakeIbkr, FakeIbkrKeys, FakeInstrument, serve_loopback
from tests.fakes.processes import base_env
from tests.integration.deploy import unit_sandbox
from tests.integration.deploy.unit_file import NO_SYSTEMD, analyze_tool, values
from tests.integration.ibkr.test_broker_check_pacing import ibkr_config

pytestmark = [
    pytest.mark.skipif(analyze_tool() is None, reason=NO_SYSTEMD),
    pytest.mark.skipif(
        not unit_sandbox.available(),
        reason="libseccomp.so.2 cannot be loaded (it comes with the systemd package)",
    ),
]

SANDBOX = [sys.executable, unit_sandbox.__file__, "--errno", "--"]
SKIMD = [sys.executable, "-m", "skimd"]


def sandboxed(
    *argv: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SANDBOX, *argv],
        capture_output=True,
        text=True,
        check=False,
        env=env if env is not None else base_env(),
        timeout=timeout,
    )


def test_the_sandbox_matches_the_units_filter_lines() -> None:
    filters = values("SystemCallFilter")
    assert filters[0].split() == list(unit_sandbox.ALLOWED_GROUPS)
    assert filters[1].removeprefix("~").split() == list(unit_sandbox.DENIED_GROUPS)
    assert values("SystemCallArchitectures") == ["native"]
    assert values("MemoryDenyWriteExecute") == ["yes"]


def test_the_sandbox_refuses_a_writable_executable_mapping_and_a_filtered_call() -> None:
    probe = (
        "import mmap, os\n"
        "for what, call in (\n"
        "    ('wx', lambda: mmap.mmap(-1, 4096, prot=7)),\n"
        "    ('rw', lambda: mmap.mmap(-1, 4096, prot=3)),\n"
        "    ('nice', lambda: os.setpriority(os.PRIO_PROCESS, 0, 5)),\n"
        "):\n"
        "    try:\n"
        "        call(); print(what, 'ok')\n"
        "    except PermissionError:\n"
        "        print(what, 'EPERM')\n"
    )
    done = sandboxed(sys.executable, "-c", probe)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:3] == ["wx EPERM", "rw ok", "nice EPERM"]


@pytest.mark.slow
def test_sqlcipher_and_argon2_maintenance_run_under_the_filter(
    make_config: Callable[..., Path], clean_env: None
) -> None:
    config = make_config()
    for words in (("db", "init"), ("db", "backup"), ("db", "verify")):
        done = sandboxed(*SKIMD, "--config", str(config), *words)
        assert done.returncode == 0, (words, done.stderr)
    env = {**base_env(), "SKIMD_DB_NEW_PASSPHRASE": "a longer new passphrase"}
    done = sandboxed(*SKIMD, "--config", str(config), "db", "rekey", env=env)
    assert done.returncode == 0, done.stderr
    assert "rekeyed" in done.stdout


@pytest.mark.slow
async def test_the_ibkr_oauth_handshake_runs_under_the_filter(tmp_path: Path) -> None:
    keys = FakeIbkrKeys.generate()
    fake = FakeIbkr(keys, clock=SystemClock())
    fake.add_instrument(
        FakeInstrument("BHP", 4036812, "BHP GROUP", Decimal("44.5"), last=Decimal("45.1"))
    )
    async with serve_loopback(fake) as base_url:
        config = ibkr_config(keys, tmp_path, base_url)
        proc = await asyncio.create_subprocess_exec(
            *SANDBOX, *SKIMD, "--config", str(config), "broker", "check", "--json",
            env=base_env(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    assert json.loads(out)["quote"]["last"] == "45.1"


@pytest.mark.slow
def test_a_demo_day_runs_under_the_filter(tmp_path: Path) -> None:
    env = {**base_env(), "SKIMD__PATHS__DATA_DIR": str(tmp_path / "data")}
    done = sandboxed(
        *SKIMD, "demo", "--seed", "7", "--date", "2026-11-24", "--json", env=env, timeout=600
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)  # with --json stdout is the summary alone
    assert report["entries"] > 0
    assert report["report_files"]
    assert all(os.path.exists(p) for p in report["report_files"])
