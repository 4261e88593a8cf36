"""Wall time and peak RSS of a full `skimd demo` day (issue #8 targets: ≤ 30 s on a 2-core
machine, peak RSS ≤ 120 MB).

Runs the README's first command as a subprocess with the shipped demo config (production
Argon2 parameters included), in a throw-away data dir, and reads the child's peak RSS from
``getrusage(RUSAGE_CHILDREN)``. ``--runs N`` repeats it and prints each run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DAY = "2026-11-24"


def one_run(tmp: Path) -> tuple[float, float, dict[str, object]]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SKIMD")},
        "SKIMD__PATHS__DATA_DIR": str(tmp / "data"),
        "SKIMD__LOGGING__LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    began = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "skimd",
            "--config",
            str(ROOT / "config" / "skimd.toml"),
            "demo",
            "--date",
            DAY,
            "--json",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"demo failed ({done.returncode}): {done.stderr[-2000:]}")
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    summary = json.loads(done.stdout)  # with --json stdout is the summary alone
    # ru_maxrss of children is the max over all children so far: report it only when it rose
    return wall, max(peak_kb, before) / 1024, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    print(f"skimd demo --date {DAY}, shipped config/skimd.toml, {os.cpu_count()} CPUs")
    walls: list[float] = []
    peaks: list[float] = []
    for i in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            wall, peak, summary = one_run(Path(tmp))
        walls.append(wall)
        peaks.append(peak)
        print(
            f"run {i + 1}: wall {wall:.1f} s, peak RSS {peak:.1f} MB; candidates "
            f"{summary['candidates']}, entries {summary['entries']}, exits {summary['exits']}, "
            f"alerts {summary['alerts']}, journal {summary['journal_rows']}"
        )
    print(
        f"wall: max {max(walls):.1f} s (target ≤ 30 s: {'met' if max(walls) <= 30 else 'NOT met'})"
    )
    print(
        f"peak RSS: max {max(peaks):.1f} MB "
        f"(target ≤ 120 MB: {'met' if max(peaks) <= 120 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
