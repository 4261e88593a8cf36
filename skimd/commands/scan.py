"""``skimd scan``: run the news and gap scans now and print what they found.

The scans are the daemon's own (the same broker, store, news feed and alerts of an
EXCLUSIVE App; the use case is :mod:`skimd.services.scan_report`): found
candidates are saved as today's candidates and alerted once, exactly as the scheduled
``scan`` job would. Two processes must not share one broker session, so while a daemon
runs on this data dir the command refuses (the daemon scans on its own); otherwise it
holds the instance lock throughout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from decimal import Decimal
from typing import Any, TextIO

from skimd import bootstrap
from skimd.clock import Clock
from skimd.config import Settings
from skimd.errors import InstanceLockedError
from skimd.logs import SecretRedactor


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    scan = subparsers.add_parser(
        "scan", parents=parents, help="run the gap and news scans now and print candidates"
    )
    scan.add_argument("--json", action="store_true", help="print the result as JSON")
    scan.set_defaults(handler=_scan)


def _scan(args: argparse.Namespace) -> int:
    settings = bootstrap.settings_from(args.config)
    pid = bootstrap.daemon_pid(settings)
    if pid is not None:
        raise InstanceLockedError(f"the daemon (pid {pid}) scans on its own; see `skimd status`")
    redactor = bootstrap.setup_logging(settings)  # to stderr: stdout is the result
    report = asyncio.run(scan_now(settings, alerts_to=sys.stderr, redactor=redactor))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        render(report, sys.stdout)
    return 0


async def scan_now(
    settings: Settings,
    *,
    clock: Clock | None = None,
    alerts_to: TextIO | None = None,
    redactor: SecretRedactor | None = None,
) -> dict[str, Any]:
    """Build the daemon's trading wiring (instance lock held), scan, and close it all.
    Alerts are delivered as they are committed; console lines go to ``alerts_to``."""
    app = bootstrap.build(
        settings,
        access=bootstrap.Access.EXCLUSIVE,
        clock=clock,
        environ={},
        stdout=alerts_to or sys.stderr,
        redactor=redactor,
    )
    async with app:
        return await app.scan_now()


def render(report: dict[str, Any], out: TextIO) -> None:
    """The human-readable result."""

    def say(line: str) -> None:
        print(line, file=out)

    say(f"scan {report['at']} ({report['broker']}: {report['session']}); market {report['market']}")
    rows = report["candidates"]
    say(f"gap candidates: {len(rows)}")
    for c in rows:
        gap = f"{Decimal(c['gap_pct']):+.2f}%"
        flags = " new" if c["new"] else ""
        news = (
            f"  news{' (price-sensitive)' if c['price_sensitive'] else ''}: {c['news_headline']}"
            if c["news_headline"]
            else ("  price-sensitive" if c["price_sensitive"] else "  no news")
        )
        say(
            f"  {c['ticker']:<6} gap {gap:>8}  open {c['open']:<8} prev close "
            f"{c['prev_close']:<8} volume {c['volume']:>10,}{flags}{news}"
        )
    items = report["news"]
    say(f"price-sensitive announcements: {len(items)}")
    for a in items:
        say(f"  {a['released_at']}  {a['ticker']:<6} {a['headline']}")
