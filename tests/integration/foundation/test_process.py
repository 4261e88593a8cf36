"""skimd run as a real process: sd_notify datagrams, single instance, SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from skimd.errors import InstanceLockedError
from skimd.infrastructure.instance_lock import InstanceLock
from tests.fakes.processes import base_env


def start(config: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "skimd", "--config", str(config), "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_to_exit(config: Path) -> subprocess.CompletedProcess[str]:
    """`skimd run` expected to exit on its own (refused start)."""
    return subprocess.run(
        [sys.executable, "-m", "skimd", "--config", str(config), "run"],
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def init_db(config: Path) -> None:
    from skimd.cli import main

    assert main(["--config", str(config), "db", "init"]) == 0


def recv(sock: socket.socket) -> str:
    return sock.recv(4096).decode()


@pytest.mark.slow
def test_notify_ready_watchdog_stopping_in_order_and_sigterm_stops(
    make_config, tmp_path: Path
) -> None:
    cfg = make_config("[supervisor]\nshutdown_timeout_s = 2.0\n")
    init_db(cfg)
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(30)
        env = {**base_env(), "NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "2000000"}
        proc = start(cfg, env)
        try:
            first = recv(sock)
            assert first.startswith("READY=1")
            assert "STATUS=running" in first
            msgs = [recv(sock) for _ in range(2)]
            assert "WATCHDOG=1" in msgs
            proc.send_signal(signal.SIGTERM)
            rest = []
            while not any(m.startswith("STOPPING=1") for m in rest):
                rest.append(recv(sock))
            assert "SIGTERM" in rest[-1]
            code = proc.wait(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert code == 0, proc.stderr.read() if proc.stderr else ""


@pytest.mark.slow
def test_second_instance_is_refused_naming_the_pid(make_config, tmp_path: Path) -> None:
    cfg = make_config()
    lock = InstanceLock(tmp_path / "data")
    (tmp_path / "data").mkdir(exist_ok=True)
    lock.acquire()
    try:
        result = run_to_exit(cfg)
        assert result.returncode != 0
        assert f"pid {os.getpid()}" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        with pytest.raises(InstanceLockedError):
            InstanceLock(tmp_path / "data").acquire()
    finally:
        lock.release()
    again = InstanceLock(tmp_path / "data")
    again.acquire()
    again.release()


@pytest.mark.slow
def test_run_refuses_an_unmigrated_database(make_config, tmp_path: Path) -> None:
    cfg = make_config()
    result = run_to_exit(cfg)
    assert result.returncode == 78, result.stderr
    assert "skimd db init" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
