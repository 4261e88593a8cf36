"""``skimd demo``: one ASX trading day replayed through the real daemon on a simulated clock.

The supervisor, job table, scheduler and calendar are the production ones; only the clock
is simulated (and the broker is the demo market). ``--date`` picks the day (default: the
next ASX trading day, counting today); a date the market is closed says so and runs nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time as wallclock
from datetime import date, time, timedelta
from typing import Any

from skimd import bootstrap
from skimd.clock import SimulatedClock, SystemClock
from skimd.domain.calendar import combine
from skimd.errors import InvalidInputError
from skimd.runtime import run_daemon

DAY_START = time(9, 30)
DAY_END = time(17, 0)


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    demo = subparsers.add_parser(
        "demo", parents=parents, help="replay one ASX trading day in seconds (no secrets, offline)"
    )
    demo.add_argument("--date", help="trading day to replay, YYYY-MM-DD")
    demo.add_argument("--seed", type=int, help="demo market seed (default from config)")
    demo.set_defaults(handler=_demo)


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(f"--date: expected YYYY-MM-DD, got {text!r}") from None


def _demo(args: argparse.Namespace) -> int:
    settings = bootstrap.settings_from(args.config)
    if args.seed is not None:
        settings = settings.model_copy(
            update={"demo": settings.demo.model_copy(update={"seed": args.seed})}
        )
    redactor = bootstrap.setup_logging(settings)
    calendar = bootstrap.build_calendar(settings)
    if args.date:
        day = _parse_date(args.date)
        if not calendar.is_trading_day(day):
            print(f"{day}: the ASX is closed ({calendar.holiday_name(day)}); nothing to replay.")
            return 0
    else:
        today = SystemClock().now().astimezone(calendar.zone).date()
        day = today if calendar.is_trading_day(today) else calendar.next_trading_day(today)
    start = combine(day, DAY_START, calendar.zone)
    end = combine(day, DAY_END, calendar.zone)
    clock = SimulatedClock(start)
    daemon = bootstrap.build_daemon(
        settings,
        clock=clock,
        environ={},
        with_database=True,
        create_database=True,
        redactor=redactor,
    )
    print(f"skimd demo: replaying {day} {DAY_START:%H:%M}-{DAY_END:%H:%M} {calendar.zone.key}")
    began = wallclock.perf_counter()
    code = asyncio.run(run_daemon(daemon, simulate_until=end, install_signals=False))
    elapsed = wallclock.perf_counter() - began
    ran = [r for r in daemon.supervisor.results.values() if r.outcome != "never run"]
    print(
        f"skimd demo: {timedelta(hours=7, minutes=30)} of market time in {elapsed:.1f}s; "
        f"{len(ran)} job(s) ran; simulated clock ended at "
        f"{clock.now().astimezone(calendar.zone):%H:%M %Z}",
        file=sys.stdout,
    )
    return code


