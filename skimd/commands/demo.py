"""``skimd demo``: one ASX trading day replayed through the real daemon on a simulated clock.

The supervisor, job table, scheduler, calendar, encrypted database, outbox and notifiers
are the production ones; only the clock is simulated and the broker is the demo market.
``--date`` picks the day (default: the next ASX trading day, counting today); a date the
market is closed says so and runs nothing.

Each run starts a fresh demo account (``--continue`` keeps the account and journal of
earlier demo days, for multi-day holdings). A run that was killed is resumed: the next
``skimd demo`` with the same date and seed picks the day up at its last recorded simulated
minute, with the database and the broker's book as the crash left them.

Only the daemon's own time is simulated. Waits a remote service asks for (a Discord
webhook's rate limits, the outbox's back-off after a failed send) run on the real clock,
injected as the App's ``wall_clock``, so a demo pointed at a real webhook sends no faster
than Discord allows instead of retrying in bursts; at the end of the day the demo waits (at
most :data:`FLUSH_WITHIN_S` real seconds) until every alert has been delivered.

With ``--json`` stdout carries only the summary JSON (one ``json.loads``); the human lines
(the start line and the console notifier's alerts) go to stderr instead, in the same order.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time as wallclock
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from skimd import bootstrap
from skimd.clock import SimulatedClock, SystemClock
from skimd.config import Settings
from skimd.domain.calendar import combine
from skimd.errors import ConfigurationError, InvalidInputError
from skimd.logs import SecretRedactor

DAY_START = time(9, 30)
DAY_END = time(17, 0)
PROGRESS_EVERY_S = 60
# Real seconds the end of the day waits for a rate-limited webhook to catch up: a day's
# alerts at Discord's 30 messages a minute per channel, with room for a back-off or two.
FLUSH_WITHIN_S = 240.0


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    demo = subparsers.add_parser(
        "demo", parents=parents, help="replay one ASX trading day in seconds (no secrets, offline)"
    )
    demo.add_argument("--date", help="trading day to replay, YYYY-MM-DD")
    demo.add_argument("--seed", type=int, help="demo market seed (default from config)")
    demo.add_argument(
        "--speed",
        type=float,
        default=None,
        help="simulated seconds per real second (default: as fast as possible)",
    )
    demo.add_argument(
        "--continue",
        dest="carry_on",
        action="store_true",
        help="keep the demo account and journal of earlier demo days",
    )
    demo.add_argument("--json", action="store_true", help="print the day's summary as JSON")
    demo.add_argument(
        "--verbose",
        action="store_true",
        help="also show the daemon's own log (by default only alerts and warnings)",
    )
    demo.set_defaults(handler=_demo)


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(f"--date: expected YYYY-MM-DD, got {text!r}") from None


def _demo(args: argparse.Namespace) -> int:
    settings = bootstrap.settings_from(args.config)
    if settings.broker.kind != "demo":
        raise ConfigurationError(
            f"{settings.source}: [broker] kind: is {settings.broker.kind!r}; `skimd demo` "
            "only runs the demo broker (use a demo config)"
        )
    if args.seed is not None:
        settings = settings.model_copy(
            update={"demo": settings.demo.model_copy(update={"seed": args.seed})}
        )
    if args.speed is not None and args.speed <= 0:
        raise InvalidInputError(f"--speed: must be positive, got {args.speed}")
    if not args.verbose and settings.logging.level in ("DEBUG", "INFO"):
        # the alerts are the demo's story; the job log is there with --verbose
        settings = settings.model_copy(
            update={"logging": settings.logging.model_copy(update={"level": "WARNING"})}
        )
    redactor = bootstrap.setup_logging(settings)
    calendar = bootstrap.build_calendar(settings)
    if args.date:
        day = _parse_date(args.date)
        if not calendar.is_trading_day(day):
            closed = calendar.holiday_name(day)
            if args.json:
                print(json.dumps({"day": day.isoformat(), "market_closed": closed}))
            else:
                print(f"{day}: the ASX is closed ({closed}); nothing to replay.")
            return 0
    else:
        today = SystemClock().now().astimezone(calendar.zone).date()
        day = today if calendar.is_trading_day(today) else calendar.next_trading_day(today)
    return asyncio.run(_replay(settings, day, args, redactor))


async def _replay(
    settings: Settings, day: date, args: argparse.Namespace, redactor: SecretRedactor
) -> int:
    """Lock the data dir, validate, reset or resume the demo account, then run the day.

    The order matters: the instance lock comes first (a second demo on the same data dir
    stops there, touching nothing), then the passphrase source is checked, and only then
    may the previous demo account be wiped."""
    zone = bootstrap.build_calendar(settings).zone
    day_start = combine(day, DAY_START, zone)
    end = combine(day, DAY_END, zone)
    clock = SimulatedClock(day_start)
    human = sys.stderr if args.json else sys.stdout  # --json: stdout is the JSON alone

    async def record_progress() -> None:
        app.demo_account.record(day, clock.now())

    app = bootstrap.build(
        settings,
        access=bootstrap.Access.EXCLUSIVE,
        clock=clock,
        wall_clock=SystemClock(),
        environ={},
        stdout=human,
        redactor=redactor,
        create_database=True,
        extra_jobs=[(PROGRESS_JOB, record_progress)],
    )
    async with app:
        app.db_admin.check_passphrase_source()
        start = _starting_point(app, day, day_start, args.carry_on)
        clock.advance_to(start)
        app.demo_account.record(day, start)
        resumed = start > day_start
        verb = f"resuming from {start.astimezone(zone):%H:%M}" if resumed else "replaying"
        print(
            f"skimd demo: {verb} {day} {DAY_START:%H:%M}-{DAY_END:%H:%M} {zone.key} "
            f"(seed {app.demo_account.seed}, data in {app.data_dir})",
            file=human,
            flush=True,
        )
        began = wallclock.perf_counter()
        code = await app.run(simulate_until=end, install_signals=False, pace=args.speed)
        if not await app.outbox.flush(FLUSH_WITHIN_S):
            print(
                f"skimd demo: some alerts were not delivered within {FLUSH_WITHIN_S:.0f}s; "
                "they stay in the outbox",
                file=sys.stderr,
            )
        elapsed = wallclock.perf_counter() - began
        app.demo_account.record(day, clock.now(), finished=clock.now() >= end)
        summary = app.day_summary(day)
        written = app.trade_reports().export_report(day, app.data_dir / "reports")
        _print_summary(settings, summary, elapsed, app.data_dir, written, as_json=args.json)
    return code


PROGRESS_JOB = bootstrap.internal_job(
    "demo_progress",
    PROGRESS_EVERY_S,
    "where the demo day has got to (for a resume after a crash)",
)


def _starting_point(app: bootstrap.App, day: date, day_start: datetime, carry_on: bool) -> datetime:
    """Where the simulated clock starts: the day's start, or where a killed run of the same
    day stopped. Wipes the previous demo account unless ``carry_on``."""
    account = app.demo_account
    marker = account.last_run()
    if marker is None:
        if account.has_database():
            raise ConfigurationError(
                f"{app.data_dir}: holds a database that `skimd demo` did not make; refusing "
                "to touch it (point [paths] data_dir at a directory of its own)"
            )
        return day_start
    same_run = marker.day == day and marker.seed == account.seed
    if same_run and not marker.finished:
        # Resume where the killed run got to; never before the broker's book, which may
        # hold fills up to its last change.
        return max(day_start, marker.sim_time, account.book_as_of() or day_start)
    if carry_on:
        if day <= marker.day:
            raise InvalidInputError(
                f"--continue: {day} is not after the last demo day {marker.day}"
            )
        return day_start
    account.wipe()
    return day_start


def _print_summary(
    settings: Settings,
    summary: Any,
    elapsed: float,
    data_dir: Path,
    written: list[Path],
    *,
    as_json: bool,
) -> None:
    day = summary.day
    if as_json:
        data = summary.as_json()
        data["duration_s"] = round(elapsed, 2)
        data["data_dir"] = str(data_dir)
        data["report_files"] = [str(p) for p in written]
        print(json.dumps(data, sort_keys=True))
        return
    rows = summary.journal_rows
    lines = [
        f"skimd demo: {day} done in {elapsed:.1f}s ({timedelta(hours=7, minutes=30)} of market "
        "time)",
        f"  candidates {summary.candidates} (tradeable {summary.tradeable}); entries "
        f"{summary.entries}, exits {summary.exits}; open positions {summary.open_positions}",
        f"  realised P&L {summary.realised_pnl:+.2f} AUD after fees {summary.fees:.2f} AUD",
        f"  alerts {summary.alerts} ({summary.alerts_delivered} delivered, "
        f"{summary.alerts_pending} pending)",
        "  journal rows: " + ", ".join(f"{k} {v}" for k, v in rows.items()),
        f"  database {data_dir / settings.database.filename} (encrypted); try "
        "`skimd status`, `skimd journal round-trips`, `skimd db verify`",
    ]
    if written:
        charts = sum(1 for p in written if p.suffix == ".png")
        lines.append(f"  report {written[0]} with {charts} chart(s) beside it")
    else:
        lines.append("  no round trip closed today, so no report was written")
    print("\n".join(lines), file=sys.stdout)
