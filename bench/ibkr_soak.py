"""IBKR soak bench: the real daemon with the IBKR broker against the fake IBKR for five
consecutive ASX trading days, on a simulated clock, with faults on a schedule.

One daemon (``bootstrap.build`` EXCLUSIVE: the supervisor and job table of ``skimd run``)
runs without a restart from 09:30 on the first day to 16:20 on the last; its broker is the
real IBKR facade (OAuth, pacing, keep-alive, order dialogue) over the fake IBKR, whose
prices, scanner, history and fills come from the seeded demo market. Each day brings (Sydney
times; see ``tests/e2e/ibkr_soak_days.py`` ``week_faults``): IBKR's nightly session reset
(01:00, from day 2), a lost answer to an order IBKR accepted (10:20), a 503 burst on market
data (10:35), another login holding the brokerage session for five minutes (11:00), a
forced live-session-token renewal (11:30), five 8-s answers (13:00), a 502 burst on the
account endpoints (14:00); the LST also expires on its own after 24 h.

Prints per day: entries and exits (fills at the fake), LST renewals (new tokens after the
first), session re-inits (``ssodh/init`` after the first), faults injected, 429s received
(must be 0), duplicate cOIDs at the fake (must be 0), seconds a position was unprotected
after a watch poll, checked against the fake's own book (must be 0), alerts sent, wall time;
then the renewals and resets after which the session was NOT re-initialised before the next
``/iserver`` call (must be none; after IBKR's reset the calls in flight may meet its ``400 "no
bridge"``, which is how a reset shows itself, but none may succeed before the re-init).
Exits 1 when a must-be-0 figure is not 0 or a day did not trade; 2 when only the re-init
rule is broken.

Run from the repository root: ``python bench/ibkr_soak.py [--days N] [--start YYYY-MM-DD]``.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import sys
import tempfile
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from skimd import bootstrap
from skimd.config import LoggingSettings, Settings
from skimd.infrastructure.calendar import AsxCalendar
from tests.e2e.ibkr_soak_days import DayFigures, SoakPlan, SoakReport, run_soak

COLUMNS = (
    ("day", 10), ("entries", 7), ("exits", 5), ("LST renewals", 12), ("re-inits", 8),
    ("faults", 6), ("429s", 4), ("dup cOIDs", 9), ("unprotected s", 13), ("alerts", 6),
    ("wall s", 6),
)


def trading_days(start: date, count: int) -> tuple[date, ...]:
    calendar = AsxCalendar("Australia/Sydney")
    days: list[date] = []
    day = start
    while len(days) < count:
        if calendar.is_trading_day(day):
            days.append(day)
        day += timedelta(days=1)
    return tuple(days)


def header() -> str:
    return "  ".join(f"{name:>{width}}" for name, width in COLUMNS)


def row(f: DayFigures) -> str:
    values = (f.day.isoformat(), f.entries, f.exits, f.lst_renewals, f.reinits,
              f.faults_injected, f.rate_limited, f.duplicate_coids, f.unprotected_s, f.alerts,
              f"{f.wall_s:.1f}")
    return "  ".join(f"{v!s:>{width}}" for v, (_, width) in zip(values, COLUMNS, strict=True))


def summary(report: SoakReport, wall: float) -> int:
    days = report.days
    print()
    print(f"total: {sum(d.entries for d in days)} entries, {sum(d.exits for d in days)} exits, "
          f"{sum(d.lst_renewals for d in days)} LST renewals, "
          f"{sum(d.reinits for d in days)} re-inits, "
          f"{sum(d.faults_injected for d in days)} faults, "
          f"{sum(d.rate_limited for d in days)} x 429, "
          f"{sum(d.duplicate_coids for d in days)} duplicate cOIDs "
          f"(skimd's own count: {report.duplicate_client_order_ids}), "
          f"{sum(d.unprotected_s for d in days)} s unprotected, "
          f"{sum(d.alerts for d in days)} alerts, {wall:.1f} s wall; "
          f"daemon exit code {report.exit_code}")
    for d in days:
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(d.faults.items()))
        print(f"  {d.day}: faults: {kinds}; watch polls checked {d.polls}; failed calls "
              f"{d.failed_calls} ({d.lost_answers} answers lost); order POSTs repeating a "
              f"cOID {d.duplicate_posts}")
        top = ", ".join(f"{what} x{n}" for what, n in d.failures.most_common(4))
        print(f"    most failed calls: {top or 'none'}")
        print(f"    kill switch at the close: {d.kill_switch[:160]}")
    missing = [(d.day, w) for d in days for w in d.without_reinit]
    labels = Counter(w.split()[0] for _, w in missing)
    print(f"renewals/resets without a session re-init before the next /iserver call "
          f"(after a reset: before the next one answered 200): "
          f"{len(missing)} ({labels.get('renewal', 0)} renewals, {labels.get('reset', 0)} resets)")
    for day, what in missing[:12]:
        print(f"  {day} {what}")
    if len(missing) > 12:
        print(f"  ... and {len(missing) - 12} more")
    hard = (
        any(d.rate_limited or d.duplicate_coids or d.unprotected_s for d in days)
        or report.duplicate_client_order_ids
        or any(d.entries == 0 for d in days)
        or report.exit_code != 0
    )
    if hard:
        return 1
    return 2 if missing else 0


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--start", default="2026-11-24", help="first trading day on or after")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    bootstrap.setup_logging(  # the daemon's log is not the bench's output
        Settings(logging=LoggingSettings(level="ERROR", format="json")), stream=io.StringIO()
    )
    days = trading_days(date.fromisoformat(args.start), args.days)
    print(f"IBKR soak: {days[0]}..{days[-1]} ({len(days)} trading days), demo market seed "
          f"{args.seed}, one daemon without a restart")
    print(header())
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        report = await run_soak(
            Path(tmp) / "data", SoakPlan(days=days, seed=args.seed),
            on_day=lambda f: print(row(f), flush=True),
        )
    return summary(report, time.monotonic() - started)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
