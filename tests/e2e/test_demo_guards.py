"""`skimd demo` takes the instance lock and checks the passphrase source before it may
reset the demo account: a second demo on a running demo's data dir, or a demo whose
passphrase file others can read, stops with its exit code and deletes nothing."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.e2e.demo_runs import ROOT, demo_command, demo_config, env, run_demo

ACCOUNT = ("skimd.db", "skimd.db.salt", "demo-run.json", "demo-broker-7.json", "skimd.passphrase")


def identities(data: Path) -> dict[str, tuple[int, int]]:
    """(inode, device) of each file of the demo account: a wipe and re-create changes them."""
    return {name: (os.stat(data / name).st_ino, os.stat(data / name).st_dev) for name in ACCOUNT}


def start_running_demo(config: Path) -> subprocess.Popen[str]:
    """A demo replaying at 2000x (about 14 s of wall time), returned once it has taken the
    lock and begun the day (its first line is printed after the reset)."""
    proc = subprocess.Popen(
        demo_command(config, "--speed", "2000"),
        env=env(),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert first.startswith("skimd demo: replaying"), first
    while not (config.parent / "data" / "demo-broker-7.json").exists():
        line = proc.stdout.readline()  # the day goes on; the book is written at the first fill
        assert line, "the demo ended before its broker book was written"
    return proc


@pytest.mark.slow
def test_a_second_demo_on_a_running_demos_data_dir_exits_69_and_deletes_nothing(
    tmp_path: Path,
) -> None:
    config = demo_config(tmp_path / "demo")
    data = tmp_path / "demo" / "data"
    running = start_running_demo(config)
    try:
        before = identities(data)
        second = run_demo(config, "--seed", "8")
        assert second.returncode == 69, second.stderr[-2000:]
        assert "already running" in second.stderr and f"pid {running.pid}" in second.stderr
        # the running demo replaces its marker and book atomically (new inodes) as it goes;
        # the database, its salt and the passphrase are the same files
        now = identities(data)
        assert all(now[n] == before[n] for n in ("skimd.db", "skimd.db.salt", "skimd.passphrase"))
    finally:
        running.send_signal(signal.SIGKILL)
        running.communicate(timeout=60)


@pytest.mark.slow
def test_a_readable_passphrase_file_exits_78_before_the_account_is_reset(
    tmp_path: Path,
) -> None:
    config = demo_config(tmp_path / "demo")
    data = tmp_path / "demo" / "data"
    killed = start_running_demo(config)
    killed.send_signal(signal.SIGKILL)
    killed.communicate(timeout=60)
    (data / "skimd.passphrase").chmod(0o644)
    before = identities(data)
    contents = {name: (data / name).read_bytes() for name in ACCOUNT}

    other_seed = run_demo(config, "--seed", "8")
    assert other_seed.returncode == 78, other_seed.stderr[-2000:]
    err = other_seed.stderr.strip().splitlines()
    assert len(err) == 1 and "skimd.passphrase" in err[0] and "0644" in err[0]
    assert identities(data) == before
    assert {name: (data / name).read_bytes() for name in ACCOUNT} == contents
