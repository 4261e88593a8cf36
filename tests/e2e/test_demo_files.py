"""A whole demo day in a data dir made open (0755, as `mkdir` under a 0022 umask makes it,
with a leftover of a killed atomic write in it): afterwards the data dir is 0700, every
file in it 0600 and every folder 0700 (reports and the broker book included), and the
leftover is gone."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from tests.e2e.demo_runs import ROOT, demo_command, demo_config, env


@pytest.mark.slow
def test_a_demo_day_leaves_only_private_files(tmp_path: Path) -> None:
    config = demo_config(tmp_path / "demo")
    data = tmp_path / "demo" / "data"
    data.mkdir()
    data.chmod(0o755)
    leftover = data / ".demo-run.json.x1y2z3w4.tmp"
    leftover.write_text("{half", encoding="utf-8")
    done = subprocess.run(
        demo_command(config, "--json"),
        env=env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        preexec_fn=lambda: os.umask(0o022),  # the operator's usual umask
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found = {p: stat.S_IMODE(p.stat().st_mode) for p in [data, *data.rglob("*")]}
    assert any(p.suffix == ".png" for p in found) and (data / "demo-broker-7.json") in found
    assert {str(p): f"{m:04o}" for p, m in found.items() if m & 0o077} == {}
    assert not leftover.exists()
