"""``skimd data import FILE [--symbol CODE] [--json]``: price bars from a CSV file into the
recorded market, so a backtest over recorded days (``skimd backtest --data recorded``) can
replay days before skimd ran.

The format is documented in :mod:`skimd.infrastructure.database.bar_import` and the
README: a header row ``symbol,date,open,high,low,close,volume`` (IBKR history exports'
columns; ``symbol`` may come from ``--symbol``); a date makes a daily bar, a date and time
(market time) a one-minute bar. The file goes in whole or not at all; a bad value stops it
with one line naming the file, the line and the column. A SHARED App: a running daemon
keeps running (SQLite WAL allows the second writer to wait its turn).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from skimd import bootstrap


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    data = subparsers.add_parser(
        "data", parents=parents, help="recorded market data: import price bars from CSV"
    )
    actions = data.add_subparsers(dest="data_action", metavar="ACTION")
    load = actions.add_parser(
        "import", parents=parents, help="load daily or one-minute bars from a CSV file"
    )
    load.add_argument("file", type=Path, help="CSV: symbol,date,open,high,low,close,volume")
    load.add_argument("--symbol", help="the ASX code of every row (a file without a symbol column)")
    load.add_argument("--json", action="store_true", help="print what was imported as JSON")
    load.set_defaults(handler=_import)

    def _usage(_: argparse.Namespace) -> int:
        data.print_help()
        return 2

    data.set_defaults(handler=_usage)


def _import(args: argparse.Namespace) -> int:
    settings = bootstrap.settings_from(args.config)
    bootstrap.setup_logging(settings)  # to stderr: stdout is the answer
    with bootstrap.build(settings, access=bootstrap.Access.SHARED) as app:
        done = app.import_bars(args.file, symbol=args.symbol)
    days = "no bars" if done.first_day is None else str(done.first_day)
    if done.last_day is not None and done.last_day != done.first_day:
        days += f" to {done.last_day}"
    if args.json:
        print(
            json.dumps(
                {
                    "file": str(args.file),
                    "daily_bars": done.daily,
                    "minute_bars": done.minute,
                    "symbols": list(done.symbols),
                    "first_day": None if done.first_day is None else done.first_day.isoformat(),
                    "last_day": None if done.last_day is None else done.last_day.isoformat(),
                }
            )
        )
    else:
        print(
            f"{args.file}: {done.daily} daily and {done.minute} one-minute bars of "
            f"{len(done.symbols)} ticker(s) ({', '.join(done.symbols) or '-'}), {days}"
        )
    return 0
