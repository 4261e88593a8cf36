"""Start → READY time and steady RSS of `skimd run` on the demo config.

Starts the real console entry point as a subprocess with NOTIFY_SOCKET pointing at a
datagram socket here, times the READY=1 datagram, samples RSS from /proc after a few
seconds of steady running, then stops it with SIGTERM. Targets: READY ≤ 1.5 s, RSS ≤ 80 MB.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sock_path = os.path.join(tmp, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(sock_path)
        sock.settimeout(30)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("SKIMD")},
            "NOTIFY_SOCKET": sock_path,
            "WATCHDOG_USEC": "10000000",
            "SKIMD__PATHS__DATA_DIR": os.path.join(tmp, "data"),
        }
        config = str(ROOT / "config" / "skimd.toml")
        subprocess.run(
            [sys.executable, "-m", "skimd", "--config", config, "db", "init"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        began = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "skimd", "--config", str(ROOT / "config" / "skimd.toml"), "run"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        while not sock.recv(4096).startswith(b"READY=1"):
            pass
        ready = time.perf_counter() - began
        time.sleep(3)
        rss = rss_mb(proc.pid)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        print(f"start -> READY: {ready:.3f} s (target <= 1.5 s)")
        print(f"steady RSS:     {rss:.1f} MB (target <= 80 MB)")
        print(f"exit on SIGTERM: {code}")


if __name__ == "__main__":
    main()
