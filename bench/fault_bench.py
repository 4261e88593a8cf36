"""Fault bench: whole demo days where the broker refuses every n-th SELL of each kind, with
the protection of every open position checked after EVERY watch poll.

Each day runs through the daemon's own wiring (``bootstrap.build`` with a
:class:`~tests.fakes.refusing_broker.RefusingBroker` over the demo market as the broker, on
a simulated clock, the real supervisor and job plan); the broker's book and the database
carry over from day to day. After each watch poll :class:`~tests.e2e.fault_days.ProtectionCheck`
holds what skimd says protects each position against the broker's own book (see
``tests/e2e/fault_days.py``); a position that is not protected after a poll counts one poll
interval of unprotected time.

Two scenarios, so that every kind of SELL happens and is refused:

- ``resting``: resting stops on, the half exit on day ``--partial-day`` of a holding, the
  trail on a ``--trail-days`` average, the end-of-day flatten on the last day: refusals of
  the resting stop, the partial exit, the trail exit and the flatten;
- ``software``: resting stops off (the software stop guards every position), the flatten on
  the last day: refusals of the software stop's market exits and the flatten.

A trail exit needs a holding that survives its half exit to a close under its average; on
some runs of days none does (the bench says so).

``--time-out-every N`` also loses the broker's answer to every n-th SELL of each kind (the
order is placed; the call times out), and ``--lag-s S`` makes the broker's order lists lag
S seconds behind its orders (as IBKR's can); both are off by default. Working sells that
exceed what the broker holds (two sells for the same shares) are counted as "oversold".

Prints, per scenario and in total: ``unprotected seconds: N`` (must be 0), duplicate client
order ids (must be 0), sells sent / refused / refusal runs / ``order_rejected`` and
``protection_fallback`` alerts per kind, and the seconds a position spent at or below its
stop while the software stop's refused sale waited for its back-off. Exits 1 when
unprotected seconds or duplicates are not 0.

Run from the repository root: ``python bench/fault_bench.py [--days N] [--every N]``.
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
from tests.e2e.fault_days import FaultPlan, FaultReport, every_kind, run_fault_days
from tests.fakes.refusing_broker import SELL_KINDS

KINDS = [k.value for k in SELL_KINDS]


def trading_days(start: date, count: int) -> tuple[date, ...]:
    calendar = AsxCalendar("Australia/Sydney")
    days: list[date] = []
    day = start
    while len(days) < count:
        if calendar.is_trading_day(day):
            days.append(day)
        day += timedelta(days=1)
    return tuple(days)


def table(report: FaultReport) -> list[str]:
    rows = {
        "sells sent": report.sells,
        "timed out": Counter(r.kind.value for r in report.timed_out),
        "refused": report.refused_by_kind(),
        "refusal runs": report.runs,
        "order_rejected alerts": report.rejected_alerts_by_kind(),
        "protection_fallback alerts": report.fallback_alerts_by_kind(),
    }
    lines = [f"  {'':<27}" + "".join(f"{k:>11}" for k in KINDS)]
    for name, counts in rows.items():
        lines.append(f"  {name:<27}" + "".join(f"{counts.get(k, 0):>11}" for k in KINDS))
    return lines


def show(name: str, report: FaultReport, wall: float) -> None:
    print(f"scenario {name}: {len(report.exit_codes)} day(s) in {wall:.1f} s")
    print(f"  unprotected seconds: {report.unprotected_seconds}")
    print(f"  duplicate client order ids: {report.duplicate_client_order_ids}")
    print(
        f"  polls checked {report.polls}, position checks {report.position_checks}, "
        f"covers {dict(sorted(report.covers.items()))}"
    )
    print(f"  seconds past the stop while a refused stop-exit waited: {report.waiting_seconds}")
    print(f"  polls with working sells above the holding (oversold): {len(report.oversold)}")
    for lapse in report.oversold[:5]:
        print(f"  OVERSOLD {lapse.at.isoformat()} {lapse.ticker}: {lapse.why}")
    for line in table(report):
        print(line)
    alerted = set(report.rejected_alerts_by_kind()) | set(report.fallback_alerts_by_kind())
    silent = sorted(set(report.refused_by_kind()) - alerted)
    if silent:
        print(f"  REFUSED WITHOUT AN ALERT: {', '.join(silent)}")
    for lapse in report.lapses[:10]:
        print(f"  LAPSE {lapse.at.isoformat()} {lapse.ticker}: {lapse.why}")
    if report.sells.get("trail", 0) == 0 and name == "resting":
        print("  (no trail exit fell due on these days)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", default="2026-11-24", help="first day (YYYY-MM-DD)")
    parser.add_argument("--days", type=int, default=6, help="trading days per scenario")
    parser.add_argument("--every", type=int, default=2, help="refuse every n-th SELL per kind")
    parser.add_argument("--seed", type=int, default=4, help="4: a trail exit falls due")
    parser.add_argument("--partial-day", type=int, default=1)
    parser.add_argument("--trail-days", type=int, default=2)
    parser.add_argument("--time-out-every", type=int, default=0, help="0: no time-outs")
    parser.add_argument("--lag-s", type=float, default=0.0, help="order lists lag (s)")
    parser.add_argument("--scenario", choices=["resting", "software", "both"], default="both")
    args = parser.parse_args()
    bootstrap.setup_logging(  # the daemon's log is not the bench's output
        Settings(logging=LoggingSettings(level="ERROR", format="json")), stream=io.StringIO()
    )
    days = trading_days(date.fromisoformat(args.start), args.days)
    print(
        f"fault bench: {days[0]}..{days[-1]} ({len(days)} trading days), seed {args.seed}, "
        f"1 in every {args.every} SELLs of each kind refused"
        + (f", 1 in {args.time_out_every} timed out" if args.time_out_every else "")
        + (f", order lists lagging {args.lag_s:g} s" if args.lag_s else "")
    )
    refuse = every_kind(args.every)
    time_out = every_kind(args.time_out_every) if args.time_out_every else {}
    plans = {
        "resting": FaultPlan(
            days=days,
            every=refuse,
            time_out=time_out,
            lag_s=args.lag_s,
            seed=args.seed,
            partial_exit_day=args.partial_day,
            trail_ma_days=args.trail_days,
        ),
        "software": FaultPlan(
            days=days,
            every=refuse,
            time_out=time_out,
            lag_s=args.lag_s,
            seed=args.seed,
            resting_stop=False,
        ),
    }
    chosen = list(plans) if args.scenario == "both" else [args.scenario]
    unprotected = duplicates = 0
    refused: Counter[str] = Counter()
    fallback: Counter[str] = Counter()
    for name in chosen:
        with tempfile.TemporaryDirectory() as tmp:
            began = time.perf_counter()
            report = asyncio.run(run_fault_days(Path(tmp) / "data", plans[name]))
            wall = time.perf_counter() - began
        show(name, report, wall)
        unprotected += report.unprotected_seconds
        duplicates += report.duplicate_client_order_ids
        refused.update(report.refused_by_kind())
        fallback.update(report.fallback_alerts_by_kind())
    print("total:")
    print(f"  unprotected seconds: {unprotected}")
    print(f"  duplicate client order ids: {duplicates}")
    print(
        "  refused / protection_fallback alerts per kind: "
        + ", ".join(f"{k} {refused.get(k, 0)}/{fallback.get(k, 0)}" for k in KINDS)
    )
    return 0 if unprotected == 0 and duplicates == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
