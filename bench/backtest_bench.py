"""Seconds per backtest day, against the seconds of one demo day on the same machine.

``skimd backtest --from 2026-01-05 --to <the N-th trading day> --seed 7 --json`` runs as a
real process on a demo config of its own (small Argon2 cost; the journal is sealed
encrypted at the end, as always), and so does ``skimd demo --seed 7 --date 2026-11-24
--json`` (5-second polls over 09:30-17:00, the encrypted database written through). Both
wall times are the processes' own, start-up included; the backtest's JSON also reports
its run time alone (``duration_s``). The issue's target is 250 trading days in at most
5 minutes on 2 cores, i.e. 1.2 s a day.

Run: ``python bench/backtest_bench.py [--days N] [--no-demo]`` from the repository root
(default 250 days). Prints figures only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from skimd import bootstrap  # noqa: E402
from skimd.config import Settings  # noqa: E402
from tests.e2e.demo_runs import demo_config, env, run_demo  # noqa: E402

FIRST_DAY = date(2026, 1, 5)
SEED = "7"


def nth_trading_day(n: int) -> date:
    calendar = bootstrap.build_calendar(Settings())
    day, seen = FIRST_DAY, 0
    while True:
        if calendar.is_trading_day(day):
            seen += 1
            if seen == n:
                return day
        day += timedelta(days=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=250, help="trading days (default 250)")
    parser.add_argument("--no-demo", action="store_true", help="skip the demo day")
    args = parser.parse_args()
    last = nth_trading_day(args.days)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="backtest-bench-") as tmp:
        config = demo_config(Path(tmp) / "backtest")
        command = [sys.executable, "-m", "skimd", "--config", str(config), "backtest",
                   "--from", FIRST_DAY.isoformat(), "--to", last.isoformat(), "--seed", SEED,
                   "--json"]
        began = time.perf_counter()
        done = subprocess.run(command, env=env(), cwd=ROOT, capture_output=True, text=True,
                              check=False)
        wall = time.perf_counter() - began
        if done.returncode != 0:
            raise SystemExit(f"backtest failed ({done.returncode}): {done.stderr[-2000:]}")
        result = json.loads(done.stdout)
        days = result["trading_days"]
        totals = result["totals"]
        print(f"backtest {FIRST_DAY} to {last}: {days} trading days in {wall:.1f}s "
              f"({wall / days:.3f} s/day; run alone {result['seconds_per_day']:.3f} s/day); "
              f"{totals['round_trips']} round trips, net {totals['net_pnl']}")
        print(f"  target 1.2 s/day: {'met' if wall / days <= 1.2 else 'NOT met'}; "
              f"250 days at this rate: {wall / days * 250 / 60:.1f} min")
        if args.no_demo:
            return
        demo = demo_config(Path(tmp) / "demo")
        began = time.perf_counter()
        shown = run_demo(demo, "--seed", SEED, "--json")
        demo_wall = time.perf_counter() - began
        if shown.returncode != 0:
            raise SystemExit(f"demo failed ({shown.returncode}): {shown.stderr[-2000:]}")
        print(f"demo day 2026-11-24: {demo_wall:.1f}s "
              f"(replay alone {json.loads(shown.stdout)['duration_s']:.1f}s); "
              f"a backtest day costs 1/{demo_wall / (wall / days):.1f} of it")


if __name__ == "__main__":
    main()
