"""``skimd journal ...`` end to end on a real encrypted database file: listings as JSON,
the report folder, bank statement import (CSV by config, OFX) and CSV export."""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path

import pytest
from PIL import Image as PILImage
from sqlalchemy import func, select

from skimd.cli import dispatch
from skimd.commands import journal
from skimd.infrastructure.bank_import import CsvImportConfig, parse_statement
from skimd.infrastructure.database import TradingDatabase
from skimd.infrastructure.database.journal_admin import TRADE_COLUMNS
from skimd.infrastructure.database.tables import BankTransaction, Image, TradeReport
from tests.integration.journal.journal_rows import seed_journal

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "bank"
CBA = ["--date-column", "Date", "--description-column", "Description",
       "--amount-column", "Amount", "--balance-column", "Balance",
       "--reference-column", "Reference", "--skip-rows", "2"]

pytestmark = pytest.mark.usefixtures("clean_env")


def run(config: Path, *args: str) -> int:
    """Parse as ``skimd journal ...`` and dispatch like skimd.cli.main does."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default=argparse.SUPPRESS)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS)
    parser = argparse.ArgumentParser(prog="skimd")
    journal.register(parser.add_subparsers(dest="command"), [common])
    ns = parser.parse_args(["journal", *args, "--config", str(config)])
    return dispatch(ns.handler, ns)


def out_json(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    data = json.loads(capsys.readouterr().out)
    assert isinstance(data, list)
    return data


def bank_rows(db: TradingDatabase) -> list[tuple[str, str, str | None, str | None]]:
    with db.unit_of_work(read_only=True) as uow:
        rows = uow.session.execute(
            select(BankTransaction.hash, BankTransaction.description,  # type: ignore[call-overload]
                   BankTransaction.reference, BankTransaction.balance)
        ).all()
    return [(h, d, r, None if b is None else str(b)) for h, d, r, b in rows]


# -- listings --------------------------------------------------------------------------------


def test_trades_json_filtered_by_sydney_dates(
    config: Path, db: TradingDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    seeded = seed_journal(db)
    assert run(config, "trades", "--json") == 0
    trades = out_json(capsys)
    assert len(trades) == seeded.trades
    first = trades[0]
    assert first["exec_id"] == "BHP-1" and first["side"] == "BUY"
    assert (first["qty"], first["price"], first["commission"]) == ("1000", "45.10", "6")
    assert first["executed_at"] == "2024-07-01T00:20:00+00:00"
    assert first["round_trip_id"] == seeded.bhp

    assert run(config, "trades", "--from", "2024-07-01", "--to", "2024-07-01", "--json") == 0
    assert [t["exec_id"] for t in out_json(capsys)] == ["BHP-1"]
    # CBA-2 executed 14:30 UTC on 07-03, i.e. 00:30 on 07-04 in Sydney
    assert run(config, "trades", "--from", "2024-07-04", "--json") == 0
    assert [t["exec_id"] for t in out_json(capsys)] == ["CBA-2"]

    assert run(config, "trades") == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["executed", "ticker", "side"]
    assert table[1].split()[:3] == ["2024-07-01", "10:20:00", "BHP"]  # Sydney, no micros
    assert table[1 + seeded.trades].startswith("----")
    totals = table[2 + seeded.trades].split()
    assert totals[:2] == ["8", "trade(s)"] and totals[-1] == "48"  # commissions add up
    assert table[-1] == "times in Australia/Sydney"


def test_round_trips_table_in_market_time_with_totals(
    config: Path, db: TradingDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_journal(db)
    assert run(config, "round-trips") == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["id", "ticker", "status", "qty", "entry_avg", "exit_avg",
                                "fees", "net_pnl", "opened", "closed", "s/e", "tags"]
    bhp = table[1].split()
    assert bhp[1] == "BHP" and bhp[-4:] == ["2024-07-01", "10:20:00", "2024-07-03", "14:30:00"]
    cba = table[2].split()
    assert cba[-2:] == ["2024-07-04", "00:30:00"]  # 14:30 UTC is after midnight in Sydney
    wes = table[4].split()
    assert wes[1:3] == ["WES", "open"] and len(wes) == 8  # no exit, net or close yet
    totals = table[6].split()
    # fees of all, net of the closed; none reviewed (the grade and tags cells stay blank)
    assert totals == ["total", "3/4", "closed", "48", "518", "0", "reviewed"]


def test_round_trips_json_open_and_closed(
    config: Path, db: TradingDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    seeded = seed_journal(db)
    assert run(config, "round-trips", "--json") == 0
    everything = out_json(capsys)
    assert [r["ticker"] for r in everything] == ["BHP", "CBA", "XYZ", "WES"]  # by opening
    bhp = everything[0]
    assert bhp["id"] == seeded.bhp and bhp["status"] == "closed" and bhp["trades"] == 3
    assert (bhp["net_pnl"], bhp["fees"], bhp["exit_avg"]) == ("632", "18", "45.75")
    assert bhp["holding_seconds"] == 2 * 86400 + 4 * 3600 + 600

    assert run(config, "round-trips", "--open", "--json") == 0
    open_ = out_json(capsys)
    assert [(r["ticker"], r["closed_at"], r["net_pnl"]) for r in open_] == [("WES", None, None)]
    assert run(config, "round-trips", "--closed", "--json") == 0
    assert [r["id"] for r in out_json(capsys)] == [seeded.bhp, seeded.cba, seeded.xyz]


def test_listing_an_unmigrated_database_fails_clearly(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "data" / "skimd.db").unlink()
    assert run(config, "trades") != 0
    err = capsys.readouterr().err
    assert err.startswith("skimd: ") and len(err.strip().splitlines()) == 1


# -- report ----------------------------------------------------------------------------------


def test_report_writes_the_folder(
    config: Path, db: TradingDatabase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seeded = seed_journal(db)
    out = tmp_path / "reports"
    assert run(config, "report", "2024-07-03", "--out", str(out)) == 0
    printed = capsys.readouterr().out
    folder = out / "2024-07-03"
    assert str(folder / "report.md") in printed and "2 chart(s)" in printed
    md = (folder / "report.md").read_text(encoding="utf-8")
    assert "BHP" in md and "XYZ" in md and "CBA" not in md
    for name in (f"BHP-rt{seeded.bhp}.png", f"XYZ-rt{seeded.xyz}.png"):
        with PILImage.open(folder / name) as png:
            png.load()
            assert png.format == "PNG" and png.size == (800, 420)
    with db.unit_of_work(read_only=True) as uow:
        reports = uow.session.scalar(select(func.count()).select_from(TradeReport))
        thumbs = uow.session.scalars(select(Image.thumbnail)).all()  # type: ignore[call-overload]
    assert reports == 2 and len(thumbs) == 2 and all(thumbs)

    assert run(config, "report", "2024-07-03", "--out", str(out)) == 0  # again: nothing new
    assert "new report" not in capsys.readouterr().out
    with db.unit_of_work(read_only=True) as uow:
        assert uow.session.scalar(select(func.count()).select_from(Image)) == 2


def test_report_defaults_to_the_last_close_and_data_dir(
    config: Path, db: TradingDatabase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seeded = seed_journal(db)
    assert run(config, "report") == 0
    folder = tmp_path / "data" / "reports" / "2024-07-04"  # CBA closed 00:30 Sydney time
    assert str(folder) in capsys.readouterr().out
    assert (folder / f"CBA-rt{seeded.cba}.png").is_file()
    assert run(config, "report", "2024-07-02") == 0
    assert "nothing written" in capsys.readouterr().out


# -- bank import -----------------------------------------------------------------------------


def test_import_csv_skips_duplicates_and_reimports_nothing(
    config: Path, db: TradingDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    statement = FIXTURES / "statement.csv"
    assert run(config, "bank-config", "add", "cba", *CBA) == 0
    assert "added" in capsys.readouterr().out
    assert run(config, "import-bank", str(statement), "--bank", "cba",
               "--account", "everyday") == 0
    assert "imported 4, skipped 1 duplicates" in capsys.readouterr().out  # a line repeated
    assert run(config, "import-bank", str(statement), "--bank", "cba",
               "--account", "everyday") == 0
    assert "imported 0, skipped 5 duplicates" in capsys.readouterr().out

    config_ = CsvImportConfig(name="cba", date_column="Date", description_column="Description",
                              amount_column="Amount", balance_column="Balance",
                              reference_column="Reference", skip_rows=2)
    parsed = {r.hash for r in parse_statement(statement, "everyday", config_)}
    rows = bank_rows(db)
    assert {h for h, *_ in rows} == parsed  # stored under the parser's own hash
    assert ("TRANSFER TO IBKR", "TX1005", "6230.12") in {(d, r, b) for _, d, r, b in rows}


def test_import_ofx_needs_no_config_and_knows_both_versions(
    config: Path, db: TradingDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(config, "import-bank", str(FIXTURES / "statement_v1.ofx"), "--bank", "westpac") == 0
    assert "imported 3, skipped 1 duplicates (account westpac)" in capsys.readouterr().out
    assert run(config, "import-bank", str(FIXTURES / "statement_v1.ofx"), "--bank", "westpac") == 0
    assert "imported 0, skipped 4 duplicates" in capsys.readouterr().out
    # the same lines exported as OFX 2 (XML, "-4.8" for "-4.80") are the same lines
    assert run(config, "import-bank", str(FIXTURES / "statement_v2.ofx"), "--bank", "westpac") == 0
    assert "imported 0, skipped 4 duplicates" in capsys.readouterr().out
    assert len(bank_rows(db)) == 3


def test_bad_line_names_the_line_and_writes_nothing(
    config: Path, db: TradingDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = FIXTURES / "statement_bad_line.csv"
    assert run(config, "bank-config", "add", "plain", "--date-column", "Date",
               "--description-column", "Description", "--amount-column", "Amount") == 0
    assert run(config, "import-bank", str(FIXTURES / "statement_v1.ofx"), "--bank", "plain") == 0
    capsys.readouterr()
    before = bank_rows(db)

    assert run(config, "import-bank", str(bad), "--bank", "plain") == 65
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err == f"skimd: {bad}: line 6: column 'Amount': '12.3x' is not an amount"
    assert bank_rows(db) == before  # lines 2-5 were fine, and still nothing was written


def test_csv_without_a_config_is_refused(
    config: Path, db: TradingDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(config, "import-bank", str(FIXTURES / "statement.csv"), "--bank", "nab") == 65
    err = capsys.readouterr().err
    assert "no config" not in err and "'nab'" in err and "bank-config add nab" in err
    assert bank_rows(db) == []


def test_bank_config_validation_and_list(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(config, "bank-config", "add", "x", "--date-column", "D",
               "--description-column", "T") == 65  # no amount column of any kind
    assert "amount_column or debit_column/credit_column" in capsys.readouterr().err
    assert run(config, "bank-config", "add", "ing", "--date-column", "Datum",
               "--description-column", "Omschrijving", "--debit-column", "Af",
               "--credit-column", "Bij", "--delimiter", ";", "--date-format", "%Y-%m-%d",
               "--decimal-separator", ",", "--thousands-separator", ".") == 0
    assert run(config, "bank-config", "add", "ing", *CBA) == 65
    assert "--replace" in capsys.readouterr().err
    assert run(config, "bank-config", "list", "--json") == 0
    (ing,) = out_json(capsys)
    assert (ing["name"], ing["amount_column"], ing["debit_column"], ing["delimiter"]) == (
        "ing", None, "Af", ";"
    )
    assert run(config, "import-bank", str(FIXTURES / "statement_debit_credit.csv"),
               "--bank", "ing") == 0
    assert "imported 2, skipped 1 duplicates" in capsys.readouterr().out


# -- export ----------------------------------------------------------------------------------


def test_export_csv(
    config: Path, db: TradingDatabase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seeded = seed_journal(db)
    target = tmp_path / "trades.csv"
    assert run(config, "export", "--what", "trades", "--out", str(target)) == 0
    assert f"wrote {seeded.trades} trades to {target}" in capsys.readouterr().out
    rows = list(csv.DictReader(target.open(encoding="utf-8", newline="")))
    assert len(rows) == seeded.trades
    assert list(rows[0]) == list(TRADE_COLUMNS)
    assert (rows[0]["exec_id"], rows[0]["price"], rows[0]["conid"]) == ("BHP-1", "45.10", "7")

    assert run(config, "export", "--what", "round-trips") == 0  # to stdout
    trips = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["ticker"] for r in trips] == ["BHP", "CBA", "XYZ", "WES"]
    assert trips[2]["net_pnl"] == "-112" and trips[3]["closed_at"] == ""


def test_an_amount_no_statement_holds_fails_the_import_naming_its_start(
    config: Path, db: TradingDatabase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    statement = tmp_path / "huge.csv"
    statement.write_text(
        "Date,Description,Amount\n01/07/2024,fine,1.00\n02/07/2024,huge," + "9" * 5000 + "\n"
    )
    assert run(config, "bank-config", "add", "plain", "--date-column", "Date",
               "--description-column", "Description", "--amount-column", "Amount") == 0
    capsys.readouterr()
    assert run(config, "import-bank", str(statement), "--bank", "plain") == 65
    (err,) = capsys.readouterr().err.strip().splitlines()
    assert err.startswith(f"skimd: {statement}: line 3: column 'Amount': '{'9' * 20}'")
    assert "more than 12 digits before the decimal point" in err and len(err) < 300
    assert bank_rows(db) == []
