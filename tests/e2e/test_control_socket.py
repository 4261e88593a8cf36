"""The control socket as an operator meets it: a demo daemon runs as a child process, and
a second process, whose environment holds no secret, asks it for its status and throws its
kill switch through the socket; the lock takes effect at once."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.demo_runs import ROOT, demo_command, demo_config, env

ALERT_LINE = re.compile(r"^\d\d:\d\d:\d\d (INFO|WARN|CRIT) ")
SECRET_WORDS = ("PASSPHRASE", "CREDENTIALS_DIRECTORY", "SKIMD")


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


@pytest.mark.slow
def test_status_and_guard_lock_through_a_running_demo_daemons_socket(tmp_path: Path) -> None:
    config = demo_config(tmp_path / "demo")
    socket_path = tmp_path / "demo" / "data" / "skimd.sock"
    # slow enough that the day is still going while the operator works
    daemon = subprocess.Popen(
        [*demo_command(config), "--speed", "30"],
        env=env(),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert daemon.stdout is not None
        for line in daemon.stdout:  # the first alert: the supervisor has started
            if ALERT_LINE.match(line):
                break
        assert daemon.poll() is None and socket_path.is_socket()

        status = operator(config, "status", "--json")
        assert status.returncode == 0, status.stderr
        report = json.loads(status.stdout)
        assert report["via"] == "daemon" and report["pid"] == daemon.pid
        assert report["guard"]["locked"] is False

        lock = operator(config, "guard", "lock", "--reason", "operator over the socket")
        assert lock.returncode == 0, lock.stderr
        assert "LOCKED" in lock.stdout

        guard = operator(config, "guard", "status", "--json")
        assert guard.returncode == 0, guard.stderr
        state = json.loads(guard.stdout)
        assert state["locked"] is True and state["reason"] == "operator over the socket"

        jobs = operator(config, "jobs")
        assert jobs.returncode == 0 and "end_of_day" in jobs.stdout
    finally:
        daemon.send_signal(signal.SIGKILL)
        daemon.wait(timeout=60)

    # the killed daemon left its socket behind: the commands fall back to the database
    assert socket_path.is_socket()
    after = operator(config, "guard", "status", "--json")
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout)["locked"] is True
    gone = operator(config, "jobs")
    assert gone.returncode == 69 and str(socket_path) in gone.stderr
