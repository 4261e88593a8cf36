"""The control socket as an operator meets it: a demo daemon runs as a child process, and
a second process, whose environment holds no secret and whose config has no way to the
database key, asks it for its status, throws its kill switch, pauses a ticker and flattens
everything through the socket; each takes effect at once."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO

import pytest

from tests.e2e.demo_runs import ROOT, demo_command, demo_config, env

SECRET_WORDS = ("PASSPHRASE", "CREDENTIALS_DIRECTORY", "SKIMD")


BOUGHT = re.compile(r"entry_settled\s+Bought [\d,]+ (\w+) @")


def wait_for(lines: IO[str], pattern: re.Pattern[str]) -> str:
    """Read the daemon's alert lines until ``pattern`` matches; its first group."""
    for line in lines:
        found = pattern.search(line)
        if found:
            return found.group(1)
    raise AssertionError(f"the daemon ended without a line matching {pattern.pattern!r}")


def operator(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``skimd`` as a second process, with no secret in its environment."""
    environment = env()
    assert not any(w in name for name in environment for w in SECRET_WORDS)
    return subprocess.run(
        [sys.executable, "-m", "skimd", "--config", str(config), *args],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def operator_config(daemon_config: Path, folder: Path) -> Path:
    """The daemon's config as an operator holds it: the same data and runtime dirs, but no
    way to the database key (its passphrase file does not exist, none is created)."""
    text = daemon_config.read_text(encoding="utf-8").replace(
        "create_passphrase = true",
        f'create_passphrase = false\npassphrase_file = "{folder / "no-such-passphrase"}"',
    )
    path = folder / "operator.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.slow
def test_status_and_guard_lock_through_a_running_demo_daemons_socket(tmp_path: Path) -> None:
    daemon_config = demo_config(tmp_path / "demo")
    config = operator_config(daemon_config, tmp_path)
    socket_path = tmp_path / "demo" / "data" / "skimd.sock"
    # slow enough that the day is still going while the operator works (the first entry
    # comes at 10:17 simulated, 24 s in)
    daemon = subprocess.Popen(
        [*demo_command(daemon_config), "--speed", "120"],
        env=env(),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert daemon.stdout is not None
        bought = wait_for(daemon.stdout, BOUGHT)  # a position to flatten
        assert daemon.poll() is None and socket_path.is_socket()

        status = operator(config, "status", "--json")
        assert status.returncode == 0, status.stderr
        report = json.loads(status.stdout)
        assert report["via"] == "daemon" and report["pid"] == daemon.pid
        assert report["guard"]["locked"] is False
        assert report["quotes"]["mode"] == "streaming"  # the demo day streams its quotes
        assert report["quotes"]["subscribed"] >= 1  # at least the position just bought
        text = operator(config, "status").stdout
        assert "quotes: streaming since " in text, text

        lock = operator(config, "guard", "lock", "--reason", "operator over the socket")
        assert lock.returncode == 0, lock.stderr
        assert "LOCKED" in lock.stdout

        guard = operator(config, "guard", "status", "--json")
        assert guard.returncode == 0, guard.stderr
        state = json.loads(guard.stdout)
        assert state["locked"] is True and state["reason"] == "operator over the socket"
        again = operator(config, "guard", "lock", "--json")  # JSON alone, from the daemon
        assert again.returncode == 0, again.stderr
        answer = json.loads(again.stdout)
        assert answer["via"] == "daemon" and answer["locked"] is True
        assert answer["changed"] is False

        jobs = operator(config, "jobs")
        assert jobs.returncode == 0 and "end_of_day" in jobs.stdout

        pause = operator(config, "pause", "XYZ", "--reason", "halted on the ASX")
        assert pause.returncode == 0, pause.stderr
        after_pause = json.loads(operator(config, "status", "--json").stdout)
        assert [p["ticker"] for p in after_pause["paused_tickers"]] == ["XYZ"]

        flatten = operator(config, "flatten", "--all", "--reason", "end the day early")
        assert flatten.returncode == 0, flatten.stderr
        assert bought in flatten.stdout, flatten.stdout
        # the exit goes out through the daemon's own order path at once
        sold = wait_for(daemon.stdout, re.compile(rf"position_exited\s+({bought}) sold"))
        assert sold == bought
    finally:
        daemon.send_signal(signal.SIGKILL)
        daemon.wait(timeout=60)

    # the killed daemon left its socket behind: the commands fall back to the database,
    # which needs its key: the operator without it is told which secret is missing
    assert socket_path.is_socket()
    keyless = operator(config, "guard", "status", "--json")
    assert keyless.returncode == 78 and "passphrase" in keyless.stderr, keyless.stderr
    after = operator(daemon_config, "guard", "status", "--json")
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout)["locked"] is True
    gone = operator(config, "jobs")
    assert gone.returncode == 69 and str(socket_path) in gone.stderr
