"""``skimd status``: the daemon, the market, today's trading and the job plan.

When a daemon answers on the control socket, the report is the daemon's own (no secret
needed here); otherwise it is read from the database, read-only and without the instance
lock. It never opens a broker session (prices are the last stored daily closes). With no
database yet it says so and still exits 0. ``--json`` says which in ``via`` ("daemon" or
"database").
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TextIO

from skimd import bootstrap
from skimd.domain.protection import COVER_WORDS, SELL_WORDS, Cover
from skimd.domain.trading import IntentPurpose
from skimd.errors import DaemonUnavailableError

Say = Callable[[str], None]
NO_RECORD = "no record"


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    status = subparsers.add_parser(
        "status", parents=parents, help="show the daemon, market, candidates, positions, orders"
    )
    status.add_argument("--json", action="store_true", help="print status as JSON")
    status.set_defaults(handler=_status)


def _status(args: argparse.Namespace) -> int:
    settings = bootstrap.settings_from(args.config)
    bootstrap.setup_logging(settings)  # to stderr: stdout is the report
    try:
        report = bootstrap.control_client(settings).call("status")
        report["via"] = "daemon"
    except DaemonUnavailableError:
        with bootstrap.build(settings, access=bootstrap.Access.SHARED) as app:
            report = app.status_report()
        report["via"] = "database"
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        render(report, sys.stdout)
    return 0


def render(report: dict[str, Any], out: TextIO) -> None:
    """The human-readable report."""

    def say(line: str) -> None:
        print(line, file=out)

    say(f"skimd: {report['daemon']}")
    say(f"config: {report['config']}   data: {report['data_dir']}")
    say(f"market: {report['market']}")
    db = report["database"]
    if not db["exists"]:
        say(f"database: none yet at {db['path']} (run `skimd db init`)")
    else:
        say(f"database: {db['path']}")
    broker = report["broker"]
    say(f"broker: {broker['kind']}; session {broker['session']}")
    if report.get("via") == "daemon":
        say(f"quotes: {quotes_line(report.get('quotes'))}")
    guard = report["guard"]
    if guard is not None:
        if guard["locked"]:
            say(
                f"guard: LOCKED since {guard['changed_at'] or '?'} "
                f"({guard['reason'] or 'no reason given'}); no new entries"
            )
        else:
            since = f" since {guard['changed_at']}" if guard["changed_at"] else ""
            say(f"guard: unlocked{since}")
    for paused in report.get("paused_tickers", []):
        say(
            f"paused: {paused['ticker']} by {paused['by']} at {paused['at']} "
            f"({paused['reason']}); no entries or stop moves"
        )
    if db["exists"]:
        _candidates(say, report["candidates"])
        _positions(say, report["positions"])
        _orders(say, report["orders"])
    say("jobs:")
    for job in report["jobs"]:
        last = job["last_run"]
        if last is None:
            last_text = NO_RECORD
        else:
            when = last["finished_at"] or last["started_at"] or "?"
            message = f": {last['message']}" if last["message"] else ""
            last_text = f"{last['outcome']} at {when}{message}"
        say(f"  {job['job']:<12} next {job['next_run'] or '-':<32} last {last_text}")
        say(f"  {'':<12} {job['description']}")


def quotes_line(quotes: dict[str, Any] | None) -> str:
    """How the running daemon's watch gets its prices (the stream, or the poll)."""
    if quotes is None:
        return "polled (no quote stream: the broker has none or [broker] stream_quotes is off)"
    if quotes["mode"] == "streaming":
        cut = (f"; {quotes['wanted'] - quotes['subscribed']} more polled only"
               if quotes["wanted"] > quotes["subscribed"] else "")
        return (f"streaming since {quotes['since']} ({quotes['subscribed']} subscribed of "
                f"{quotes['lines']} lines{cut}; {quotes['tick_passes']} tick passes)")
    return (f"polled every {quotes['poll_interval_s']} s: the stream is down since "
            f"{quotes['since']} ({quotes['reason']})")


def gap_text(gap_pct: str | None) -> str:
    """A gap as a reader wants it: signed, two decimals (``"7.1366"`` → ``"+7.14%"``);
    ``--json`` keeps the exact value."""
    if gap_pct is None:
        return "-"
    return f"{Decimal(gap_pct).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):+}%"


def _candidates(say: Say, rows: list[dict[str, Any]]) -> None:
    say(f"candidates today: {len(rows)}")
    for c in rows:
        gap = gap_text(c["gap_pct"])
        news = "price-sensitive news" if c["price_sensitive"] else "no news"
        say(
            f"  {c['ticker']:<6} gap {gap:<8} {news:<20} ORH {c['orh'] or '-':<8} "
            f"ORL {c['orl'] or '-':<8} {c['state']}"
        )


def _positions(say: Say, rows: list[dict[str, Any]]) -> None:
    say(f"open positions: {len(rows)}")
    for p in rows:
        if p["last_price"] is not None:
            price = (
                f"last {p['last_price']} (close {p['last_price_date']}) "
                f"unrealised {p['unrealised_pnl']}"
            )
        else:
            price = "no stored price"
        paused = " PAUSED" if p["paused"] else ""
        say(
            f"  {p['ticker']:<6} qty {p['qty']} @ {p['avg_price']} stop {p['stop'] or '-'} "
            f"{price}{paused}"
        )
        _protection(say, p["protection"])


def _protection(say: Say, found: dict[str, Any]) -> None:
    """One line on what protects the position, then one per refusal run of its orders."""
    cover = Cover(found["cover"])
    if found["protected"]:
        head = f"protected by {COVER_WORDS[cover]}"
    elif cover is Cover.SOFTWARE_STOP:
        head = "NOT PROTECTED: the software stop acts only while skimd runs"
    else:
        head = "NOT PROTECTED"
    at = f" at {found['stop']}" if found["stop"] is not None else ""
    say(f"  {'':<6} {head}{at}: {found['why']}")
    for run in found["refusals"]:
        order = SELL_WORDS[IntentPurpose(run["order"])]
        times = "once" if run["refused"] == 1 else f"{run['refused']} times"
        say(
            f"  {'':<6} broker refused the {order} {times} since {run['since']} "
            f"({run['reason']}); next try {run['next_try']}"
        )


def _orders(say: Say, rows: list[dict[str, Any]]) -> None:
    say(f"orders today: {len(rows)}")
    for o in rows:
        price = f" lmt {o['limit_price']}" if o["limit_price"] is not None else ""
        price += f" stp {o['stop_price']}" if o["stop_price"] is not None else ""
        fill = f" @ {o['avg_fill_price']}" if o["avg_fill_price"] is not None else ""
        say(
            f"  {o['client_order_id']} {o['side']} {o['qty']} {o['ticker']} "
            f"{o['order_type']}{price} ({o['purpose']}) {o['status']}, "
            f"filled {o['filled_qty']}{fill}"
        )
