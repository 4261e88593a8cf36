"""``skimd journal``: list, report, export and import into the trade journal.

- ``trades [--from DATE] [--to DATE] [--json]``: executions (dates in the market zone,
  both ends inclusive).
- ``round-trips [--open | --closed] [--json]``: the table ends with each review's
  setup/execution grades and tags (cut to fit; ``--json`` has the whole review).
- ``stats [--from DATE] [--to DATE] [--by day|week|month|setup|tag|ticker] [--chart FILE |
  --no-chart] [--json]``: statistics of the round trips closed in the range (see
  :mod:`skimd.domain.stats` for every definition) and the equity-curve PNG, written to
  ``FILE`` or by default ``<data_dir>/reports/stats/equity_<first>_<last>.png``.
- ``report [DATE] [--out DIR] [--json]``: the day's trade reports and charts as
  ``DIR/DATE/report.md`` + PNGs (default DATE: the last day a round trip closed; default DIR:
  ``<data_dir>/reports``). Round trips of that day without a stored report get one first,
  charted from their executions (the CLI has no broker session; the daemon's end of day
  draws the full intraday path).
- ``import-bank FILE --bank ID [--account NAME] [--json]``: a CSV statement read with bank import
  config ID, or an OFX statement (no config needed). Lines already stored, or repeated in
  the file, are skipped by hash. The whole file is one unit of work: a bad line fails the
  import with the file and line number and nothing is written. Each import prints its
  batch id; ``import-bank --undo BATCH [--json]`` deletes the lines that import stored.
- ``bank-config add NAME ...`` / ``bank-config list``: bank import configs for CSV.
- ``export --what trades|round-trips [--out FILE]``: CSV (stdout without ``--out``).
- ``review``, and the other actions that write the trader's own records:
  :mod:`skimd.commands.journal_records`.

Every action takes ``--db FILE``: another journal database than the configured one, opened
with the same passphrase (e.g. a ``skimd backtest`` run's ``journal.db``).

Listings use a read-only unit of work: they never take the write lock, so they are safe
while the daemon runs. Tables show times in the market zone to the second, with a totals
row where the column adds up; ``--json`` prints only JSON on stdout (exact decimals as
text, times in ISO 8601 UTC).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import sys
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from skimd import bootstrap
from skimd.commands import journal_records
from skimd.commands.journal_app import db_option, journal_app
from skimd.commands.text_tables import local_time, render_table
from skimd.domain.stats import GroupBy, TripStats
from skimd.errors import InvalidInputError
from skimd.files import write_atomic

STATS_HELP = """\
Statistics of the round trips closed from --from to --to (market-zone dates, inclusive),
after fees, with an equity-curve PNG.

  R            net P&L / ((entry average - initial stop) x qty); the initial stop is the
               executed trade plan's; round trips without one are left out of R figures
  expectancy   mean net P&L per round trip ($) and mean R
  PF           profit factor: sum of wins / |sum of losses|
  max DD       largest fall of cumulative net P&L from its running peak (from 0)
  MFE cap      sum gross P&L / sum MFE, round trips that went into profit (1 = sold at
               the best price of the hold)
  MAE cap      sum gross P&L / sum MAE, losing round trips (1 = sold at the worst point)
  setup, tag   the trader's review (`skimd journal review`): the setup grade
               ('setup 4/5') and the tags (a round trip counts under each of its tags);
               round trips not reviewed group as '—'
"""


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    journal = subparsers.add_parser(
        "journal", parents=parents,
        help="trades, round trips, reviews, stats, reports, bank import, export"
    )
    sub = journal.add_subparsers(dest="journal_command", metavar="ACTION", required=True)
    parents = [*parents, db_option()]  # every action may read another journal file

    p = sub.add_parser("trades", parents=parents, help="list executions")
    p.add_argument("--from", dest="date_from", type=_date, metavar="DATE", help="YYYY-MM-DD")
    p.add_argument("--to", dest="date_to", type=_date, metavar="DATE", help="YYYY-MM-DD")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_trades)

    p = sub.add_parser("round-trips", parents=parents, help="list round trips")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--open", dest="status", action="store_const", const="open")
    which.add_argument("--closed", dest="status", action="store_const", const="closed")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_round_trips)

    p = sub.add_parser(
        "stats",
        parents=parents,
        help="statistics of closed round trips",
        description=STATS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--from", dest="date_from", type=_date, metavar="DATE",
                   help="first close date, YYYY-MM-DD (market zone)")
    p.add_argument("--to", dest="date_to", type=_date, metavar="DATE",
                   help="last close date, YYYY-MM-DD (market zone)")
    p.add_argument("--by", choices=[str(g) for g in GroupBy], help="group the round trips")
    chart = p.add_mutually_exclusive_group()
    chart.add_argument("--chart", type=Path, metavar="FILE",
                       help="equity-curve PNG (default: <data_dir>/reports/stats/)")
    chart.add_argument("--no-chart", action="store_true", help="write no equity-curve PNG")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_stats)

    p = sub.add_parser("report", parents=parents, help="write a day's trade report and charts")
    p.add_argument("date", nargs="?", type=_date, metavar="DATE", help="default: last close")
    p.add_argument("--out", type=Path, metavar="DIR", help="default: <data_dir>/reports")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_report)

    p = sub.add_parser("import-bank", parents=parents,
                       help="import a CSV or OFX statement (or --undo an import)")
    p.add_argument("file", type=Path, nargs="?", metavar="FILE")
    p.add_argument("--bank", metavar="ID", help="bank import config (CSV); required with FILE")
    p.add_argument("--account", metavar="NAME", help="account to file lines under (default ID)")
    p.add_argument("--undo", metavar="BATCH",
                   help="delete the lines of import BATCH (printed by the import)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_import_bank)

    p = sub.add_parser("export", parents=parents, help="CSV of trades or round trips")
    p.add_argument("--what", required=True, choices=("trades", "round-trips"))
    p.add_argument("--out", type=Path, metavar="FILE", help="default: stdout")
    p.set_defaults(handler=cmd_export)

    cfg = sub.add_parser("bank-config", parents=parents, help="bank import configs for CSV")
    cfg_sub = cfg.add_subparsers(dest="bank_config_command", metavar="ACTION", required=True)
    p = cfg_sub.add_parser("add", parents=parents, help="add (or --replace) a config")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--date-column", required=True)
    p.add_argument("--description-column", required=True)
    p.add_argument("--amount-column", help="one signed amount column ...")
    p.add_argument("--debit-column", help="... or debit and/or credit columns")
    p.add_argument("--credit-column")
    p.add_argument("--reference-column")
    p.add_argument("--balance-column")
    p.add_argument("--date-format", default="%d/%m/%Y", help="strptime format (%(default)s)")
    p.add_argument("--delimiter", default=",", help="one character, or 'tab'")
    p.add_argument("--skip-rows", type=int, default=0, help="preamble lines before the header")
    p.add_argument("--no-header", dest="has_header", action="store_false",
                   help="no header row: columns are 0-based numbers")
    p.add_argument("--amount-sign", choices=("credit_positive", "debit_positive"),
                   default="credit_positive")
    p.add_argument("--decimal-separator", default=".")
    p.add_argument("--thousands-separator", default=",", help="(%(default)s); '' for none")
    p.add_argument("--encoding", default="utf-8-sig")
    p.add_argument("--currency", help="e.g. AUD (default: the statement's, else AUD)")
    p.add_argument("--replace", action="store_true", help="overwrite a config of that name")
    p.set_defaults(handler=cmd_bank_config_add)
    p = cfg_sub.add_parser("list", parents=parents, help="list configs")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_bank_config_list)

    journal_records.register(sub, parents)


# -- shared ------------------------------------------------------------------------------------


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2024-07-31") from exc


def _app(args: argparse.Namespace) -> bootstrap.App:
    return journal_app(args)


def _print_json(data: Sequence[dict[str, Any]] | dict[str, Any]) -> None:
    print(json.dumps(data if isinstance(data, dict) else list(data), indent=2))


# -- listings ------------------------------------------------------------------------------------


def cmd_trades(args: argparse.Namespace) -> int:
    with _app(args) as app:
        rows = app.journal.trades(args.date_from, args.date_to)
        zone = app.calendar.zone
    if args.json:
        _print_json(rows)
    elif rows:
        columns = ("executed", "ticker", "side", "qty", "price", "commission", "exec_id")
        table = [
            (local_time(r["executed_at"], zone), r["ticker"], r["side"], r["qty"], r["price"],
             r["commission"], r["exec_id"])
            for r in rows
        ]
        fees = sum((Decimal(r["commission"]) for r in rows), Decimal(0))
        totals = (f"{len(rows)} trade(s)", None, None, None, None, fees, None)
        print(render_table(table, columns, numeric=("qty", "price", "commission"),
                           totals=totals))
        print(f"times in {zone}")
    else:
        print("no trades")
    return 0


def cmd_round_trips(args: argparse.Namespace) -> int:
    with _app(args) as app:
        rows = app.journal.round_trips(args.status)
        zone = app.calendar.zone
    if args.json:
        _print_json(rows)
    elif rows:
        columns = ("id", "ticker", "status", "qty", "entry_avg", "exit_avg", "fees", "net_pnl",
                   "opened", "closed", "s/e", "tags")
        table = [
            (r["id"], r["ticker"], r["status"], r["qty"], r["entry_avg"], r["exit_avg"],
             r["fees"], r["net_pnl"] if r["status"] == "closed" else None,
             local_time(r["opened_at"], zone), local_time(r["closed_at"], zone),
             _grades(r), _tags(r["tags"]))
            for r in rows
        ]  # an open round trip has no net P&L yet (stored as 0 until it closes)
        closed = [r for r in rows if r["status"] == "closed"]
        fees = sum((Decimal(r["fees"]) for r in rows), Decimal(0))
        net = sum((Decimal(r["net_pnl"]) for r in closed), Decimal(0))
        reviewed = sum(1 for row in table if row[10] or row[11])
        totals = ("total", None, f"{len(closed)}/{len(rows)} closed", None, None, None, fees,
                  net, None, None, f"{reviewed} reviewed", None)
        print(render_table(table, columns,
                           numeric=("id", "qty", "entry_avg", "exit_avg", "fees", "net_pnl"),
                           totals=totals))
        print(f"times in {zone}; net P&L after fees, of the closed ones; s/e: the review's "
              "setup/execution grades (1-5), `skimd journal review ID` shows it whole")
    else:
        print("no round trips")
    return 0


TAGS_WIDTH = 24  # the tags cell is cut here (with "…"); --json has them all


def _grades(row: dict[str, Any]) -> str | None:
    """``4/3`` (setup/execution, ``-`` for one not graded); None when neither is."""
    setup, execution = row.get("setup_quality"), row.get("execution_quality")
    if setup is None and execution is None:
        return None
    return f"{'-' if setup is None else setup}/{'-' if execution is None else execution}"


def _tags(tags: list[str] | None) -> str | None:
    text = ",".join(tags or ())
    if not text:
        return None
    return text if len(text) <= TAGS_WIDTH else text[: TAGS_WIDTH - 1] + "…"


# -- stats ---------------------------------------------------------------------------------------


STATS_COLUMNS = ("group", "trips", "win%", "net", "fees", "avg win", "avg loss", "exp $",
                 "exp R", "win R", "loss R", "PF", "max DD", "hold", "MFE cap", "MAE cap")


def cmd_stats(args: argparse.Namespace) -> int:
    by = None if args.by is None else GroupBy(args.by)
    with _app(args) as app:
        stats = app.journal_stats()
        report = stats.report(args.date_from, args.date_to, by)
        chart_path: Path | None = None
        png = None if args.no_chart else stats.chart(report)  # None without a round trip
        if png is not None:
            chart_path = args.chart or (
                app.data_dir / "reports" / "stats" / stats.default_chart_name(report)
            )
            try:
                chart_path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise InvalidInputError(
                    f"{chart_path.parent}: cannot make the folder ({exc.strerror})"
                ) from exc
            _write_atomic(chart_path, png)
    if args.json:
        data = report.as_json()
        data["chart"] = None if chart_path is None else str(chart_path)
        _print_json(data)
        return 0
    span = f"{args.date_from or 'the start'} to {args.date_to or 'now'}"
    if not report.total.round_trips:
        print(f"no round trips closed from {span}")
        return 0
    print(f"round trips closed from {span} (net P&L after fees, {report.zone.key} dates)")
    if report.by is None:
        print(render_table([_stats_row(report.total)], STATS_COLUMNS, numeric=STATS_COLUMNS[1:]))
    else:
        print(render_table([_stats_row(g) for g in report.groups], STATS_COLUMNS,
                           numeric=STATS_COLUMNS[1:], totals=_stats_row(report.total)))
    for note in report.notes:
        print(f"note: {note}")
    print("R = net P&L / ((entry - initial stop) x qty); definitions: "
          "`skimd journal stats --help`")
    if chart_path is not None:
        print(f"equity curve: {chart_path}")
    return 0


def _stats_row(s: TripStats) -> tuple[Any, ...]:
    def money(v: Decimal | None) -> str | None:
        return None if v is None else f"{v:,.2f}"

    def ratio(v: Decimal | None) -> str | None:
        return None if v is None else f"{v:.2f}"

    def pct(v: Decimal | None) -> str | None:
        return None if v is None else f"{v * 100:.0f}%"

    return (
        s.label, s.round_trips, pct(s.win_rate), money(s.net_pnl), money(s.fees),
        money(s.avg_win), money(s.avg_loss), money(s.expectancy), ratio(s.expectancy_r),
        ratio(s.avg_win_r), ratio(s.avg_loss_r), ratio(s.profit_factor),
        money(s.max_drawdown), _duration(s.avg_holding), pct(s.mfe_capture),
        pct(s.mae_capture),
    )


def _duration(held: timedelta | None) -> str | None:
    if held is None:
        return None
    minutes = int(held.total_seconds()) // 60
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    return f"{days}d{hours:02d}h" if days else f"{hours}h{minutes:02d}m"


# -- report --------------------------------------------------------------------------------------


def cmd_report(args: argparse.Namespace) -> int:
    with _app(args) as app:
        reports = app.trade_reports()
        day: date | None = args.date or reports.last_report_day()
        if day is None:
            if args.json:
                _print_json({"day": None, "files": [], "new_reports": 0})
            else:
                print("no closed round trips in the journal: nothing to report")
            return 0
        made = asyncio.run(reports.write_reports(day, replace=False))
        folder = args.out if args.out is not None else app.data_dir / "reports"
        try:
            paths = reports.export_report(day, folder)
        except OSError as exc:
            raise InvalidInputError(f"{folder}: cannot write the report ({exc.strerror})") from exc
    if args.json:
        _print_json(
            {"day": day.isoformat(), "files": [str(p) for p in paths], "new_reports": made}
        )
        return 0
    if not paths:
        print(f"no round trips closed on {day.isoformat()}: nothing written")
        return 0
    charts = len(paths) - 1
    note = f" ({made} new report(s) charted from executions)" if made else ""
    print(f"wrote {paths[0]} and {charts} chart(s) in {paths[0].parent}{note}")
    return 0


# -- bank import ---------------------------------------------------------------------------------


def cmd_import_bank(args: argparse.Namespace) -> int:
    if args.undo is not None:
        if args.file is not None or args.bank is not None or args.account is not None:
            raise InvalidInputError("--undo BATCH takes no FILE, --bank or --account")
        with _app(args) as app:
            removed = app.journal.undo_bank_import(args.undo)
        if args.json:
            _print_json({"batch": args.undo, "removed": removed})
        else:
            print(f"import {args.undo}: removed {removed} bank line(s)")
        return 0
    if args.file is None or args.bank is None:
        raise InvalidInputError("import-bank needs FILE and --bank ID (or --undo BATCH)")
    path: Path = args.file
    account = args.account or args.bank
    with _app(args) as app:
        added, skipped, batch = app.journal.import_bank(path, args.bank, account)
    if args.json:
        _print_json(
            {"file": str(path), "account": account, "imported": added, "skipped": skipped,
             "batch": batch}
        )
        return 0
    print(f"{path}: imported {added}, skipped {skipped} duplicates (account {account});"
          f" batch {batch} (undo: `skimd journal import-bank --undo {batch}`)")
    return 0


def cmd_bank_config_add(args: argparse.Namespace) -> int:
    delimiter = "\t" if args.delimiter.lower() in ("tab", "\\t") else args.delimiter
    thousands = args.thousands_separator
    if not thousands:
        # A stored "" reads back as "unset" (the default ","); the other separator means the
        # same here, since a file with no thousands separator never contains it in a number.
        thousands = "." if args.decimal_separator == "," else ","
    with _app(args) as app:
        replaced = app.journal.add_bank_config(
            replace=args.replace,
            name=args.name,
            date_column=args.date_column,
            description_column=args.description_column,
            amount_column=args.amount_column,
            debit_column=args.debit_column,
            credit_column=args.credit_column,
            reference_column=args.reference_column,
            balance_column=args.balance_column,
            date_format=args.date_format,
            delimiter=delimiter,
            skip_rows=args.skip_rows,
            has_header=args.has_header,
            amount_sign=args.amount_sign,
            decimal_separator=args.decimal_separator,
            thousands_separator=thousands,
            encoding=args.encoding,
            currency=args.currency.upper() if args.currency else None,
        )
    print(f"bank import config {args.name!r} {'replaced' if replaced else 'added'}")
    return 0


def cmd_bank_config_list(args: argparse.Namespace) -> int:
    with _app(args) as app:
        rows = app.journal.bank_configs()
    if args.json:
        _print_json(rows)
    elif rows:
        for c in rows:
            amount = (
                c["amount_column"] or f"debit {c['debit_column']} / credit {c['credit_column']}"
            )
            print(
                f"{c['name']}: date {c['date_column']!r} ({c['date_format']}), "
                f"amount {amount!r}, description {c['description_column']!r}, "
                f"delimiter {c['delimiter']!r}, skip {c['skip_rows']}"
            )
    else:
        print("no bank import configs")
    return 0


# -- export --------------------------------------------------------------------------------------


def cmd_export(args: argparse.Namespace) -> int:
    with _app(args) as app:
        rows, columns = app.journal.export(args.what)
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    if args.out is None:
        sys.stdout.write(buffer.getvalue())
        return 0
    _write_atomic(args.out, buffer.getvalue().encode("utf-8"))
    print(f"wrote {len(rows)} {args.what} to {args.out}")
    return 0


def _write_atomic(path: Path, data: bytes) -> None:
    try:
        write_atomic(path, data)
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot write ({exc.strerror})") from exc
