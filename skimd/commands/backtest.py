"""``skimd backtest``: the strategy over many days of the demo market, through the daemon.

``skimd backtest --from DATE --to DATE [--seed N] [--set strategy.KEY=VALUE]... [--json]``
replays every ASX trading day of the range (positions carried from day to day) and prints
a per-day table and the totals of the round trips closed in it: round trips, win rate,
average win and loss in $ and R, expectancy, profit factor, max drawdown, exposure, fees
(definitions: ``skimd journal stats --help``). The run's journal, equity curve, drawdown
chart and ``result.json`` are written to ``<data_dir>/backtests/<run id>/``; how a run is
made is :mod:`skimd.commands.backtest_run`.

``--grid strategy.KEY=V1,V2,...`` (repeatable) runs every combination of the listed values
as its own backtest, in parallel processes up to the core count, and prints one table of
them sorted by expectancy (:mod:`skimd.commands.backtest_grid`).

With ``--json`` stdout carries only the result JSON; progress lines go to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from decimal import Decimal
from typing import Any

from skimd import bootstrap
from skimd.commands.backtest_run import BacktestResult, BacktestSpec, DayRow, run_backtest
from skimd.commands.text_tables import render_table
from skimd.errors import InvalidInputError


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "backtest",
        parents=parents,
        help="replay many days of the demo market through the daemon; per-day table, totals",
    )
    p.add_argument("--from", dest="date_from", required=True, type=_date, metavar="DATE",
                   help="first day, YYYY-MM-DD")
    p.add_argument("--to", dest="date_to", required=True, type=_date, metavar="DATE",
                   help="last day, YYYY-MM-DD (inclusive)")
    p.add_argument("--seed", type=int, help="demo market seed (default from config)")
    p.add_argument("--data", choices=("synthetic", "recorded"), default="synthetic",
                   help="the seeded synthetic market (default), or the days recorded in the "
                   "configured database (the daemon's tape, bars and announcements, and "
                   "`skimd data import`)")
    p.add_argument("--set", dest="overrides", action="append", default=[],
                   metavar="strategy.KEY=VALUE", help="override a strategy setting (repeatable)")
    p.add_argument("--grid", action="append", default=[], metavar="strategy.KEY=V1,V2,...",
                   help="sweep a strategy setting over these values (repeatable: every "
                   "combination runs)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--verbose", action="store_true", help="also show the daemon's log")
    p.set_defaults(handler=_backtest)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-01-05") from exc


def _backtest(args: argparse.Namespace) -> int:
    settings = bootstrap.settings_from(args.config)
    seed = settings.demo.seed if args.seed is None else args.seed
    spec = BacktestSpec(args.date_from, args.date_to, seed, tuple(args.overrides), args.data)
    if args.date_from > args.date_to:
        raise InvalidInputError(f"--from {args.date_from} is after --to {args.date_to}")
    if args.grid:
        from skimd.commands.backtest_grid import print_grid, run_grid

        grid = run_grid(args.config, settings, spec, args.grid)
        print_grid(grid, as_json=args.json)
        return 0
    progress = None if args.json else _progress
    result = run_backtest(settings, spec, verbose=args.verbose, progress=progress)
    if args.json:
        print(json.dumps(result.as_json(), sort_keys=True))
    else:
        print(render_result(result))
    return 0


def _progress(n: int, total: int, row: DayRow) -> None:
    if sys.stderr.isatty():
        print(f"\r  {row.day} ({n}/{total}) equity {row.equity:+,.2f}", end="",
              file=sys.stderr, flush=True)
        if n == total:
            print(file=sys.stderr)


DAY_COLUMNS = ("day", "entries", "closed", "net P&L", "fees", "open", "equity")


def render_result(result: BacktestResult) -> str:
    """The per-day table, then the totals."""
    rows = [
        (d.day.isoformat(), d.entries, d.round_trips, _money(d.net_pnl), _amount(d.fees),
         d.open_positions, _money(d.equity))
        for d in result.days
    ]
    totals = (
        f"{len(result.days)} days", sum(d.entries for d in result.days),
        sum(d.round_trips for d in result.days),
        _money(sum((d.net_pnl for d in result.days), Decimal(0))), _amount(result.fees_paid),
        result.days[-1].open_positions if result.days else 0, None,
    )
    spec = result.spec
    market = f"seed {spec.seed}" if spec.data == "synthetic" else "recorded days"
    head = f"skimd backtest {spec.date_from} to {spec.date_to}, {market}"
    if spec.overrides:
        head += " (" + ", ".join(spec.overrides) + ")"
    lines = [head, render_table(rows, DAY_COLUMNS, numeric=DAY_COLUMNS[1:], totals=totals), ""]
    lines += totals_lines(result)
    return "\n".join(lines)


def totals_lines(result: BacktestResult) -> list[str]:
    t = result.stats
    share = result.exposure
    days = len(result.days)
    out = [
        f"round trips {t['round_trips']} closed ({t['wins']} won, {t['losses']} lost), "
        f"win rate {_pct(t['win_rate'])}; open at the end {result.days[-1].open_positions}",
        f"net P&L {_money(t['net_pnl'])} after fees {_amount(t['fees'])} (fees paid in all "
        f"{_amount(result.fees_paid)})",
        f"avg win {_money(t['avg_win'])} ({_r(t['avg_win_r'])}), avg loss "
        f"{_money(t['avg_loss'])} ({_r(t['avg_loss_r'])})",
        f"expectancy {_money(t['expectancy'])} ({_r(t['expectancy_r'])}) per round trip; "
        f"profit factor {_ratio(t['profit_factor'])}; max drawdown {_amount(t['max_drawdown'])}",
        f"exposure {_pct(None if share is None else str(share))} of days with a position",
        f"journal {result.journal} (encrypted like the journal: `skimd journal round-trips "
        f"--db {result.journal}`)",
    ]
    for name, path in result.charts.items():
        out.append(f"{name} chart {path}")
    per_day = result.duration_s / days if days else 0.0
    out.append(f"{days} trading days in {result.duration_s:.1f}s ({per_day:.2f}s a day)")
    return out


def _money(value: Decimal | str | None) -> str:
    return "—" if value is None else f"{Decimal(value):+,.2f}"


def _amount(value: Decimal | str | None) -> str:
    return "—" if value is None else f"{Decimal(value):,.2f}"


def _pct(value: str | None) -> str:
    return "—" if value is None else f"{Decimal(value) * 100:.0f}%"


def _ratio(value: str | None) -> str:
    return "—" if value is None else f"{Decimal(value):.2f}"


def _r(value: str | None) -> str:
    return "—" if value is None else f"{Decimal(value):+.2f}R"
