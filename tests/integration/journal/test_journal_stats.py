"""``skimd journal stats`` on a real encrypted database: the seeded journal
(``journal_rows``) plus an initial stop reached through the entry order's candidate and
recorded excursions; every figure worked out by hand in the comments."""

from __future__ import annotations

import argparse
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import col

from skimd.cli import dispatch
from skimd.commands import journal
from skimd.infrastructure.database import TradingDatabase
from skimd.infrastructure.database.tables import (
    Candidate,
    ExcursionMetric,
    OrderIntent,
    Trade,
    TradePlan,
)
from tests.integration.journal.journal_rows import NOW, seed_journal

pytestmark = pytest.mark.usefixtures("clean_env")
D = Decimal


def run(config: Path, *args: str) -> int:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default=argparse.SUPPRESS)
    parser = argparse.ArgumentParser(prog="skimd")
    journal.register(parser.add_subparsers(dest="command"), [common])
    ns = parser.parse_args(["journal", "stats", *args, "--config", str(config)])
    return dispatch(ns.handler, ns)


def stats_json(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    assert run(config, *args, "--json") == 0
    return json.loads(capsys.readouterr().out)


def seed(db: TradingDatabase) -> None:
    """BHP: plan linked to its entry trade, stop 44.50 (risk 0.60 x 1000 = 600). XYZ: no
    linked plan, but its entry order was placed for a candidate whose plan has stop 1.90
    (risk 0.10 x 1000 = 100). CBA: no stop anywhere. Excursions on BHP-1 and XYZ-1."""
    seed_journal(db)
    with db.unit_of_work() as uow:
        s = uow.session
        trade_id = {t.exec_id: t.id or 0 for t in s.scalars(select(Trade))}
        xyz_entry = s.scalars(select(Trade).where(col(Trade.exec_id) == "XYZ-1")).one()
        xyz_entry.client_order_id = "SK20240703-XYZ-E1"
        s.add(xyz_entry)
        cand = uow.candidates.add(
            Candidate(scan_date=date(2024, 7, 3), ticker="XYZ", orh=D("1.99"), orl=D("1.90"),
                      status="entered", created_at=NOW, updated_at=NOW)
        )
        uow.plans.add(TradePlan(ticker="XYZ", entry=D("2.00"), stop=D("1.90"),
                                status="executed", candidate_id=cand.id, created_at=NOW,
                                updated_at=NOW))
        s.add(OrderIntent(client_order_id="SK20240703-XYZ-E1", ticker="XYZ", side="BUY",
                          qty=1000, order_type="LMT", limit_price=D("2.00"), status="filled",
                          candidate_id=cand.id, created_at=NOW, updated_at=NOW))
        for exec_id, mfe, mae in (("BHP-1", "1500", "-200"), ("XYZ-1", "50", "-150")):
            uow.excursions.upsert(ExcursionMetric(trade_id=trade_id[exec_id], mfe=D(mfe),
                                                  mae=D(mae), computed_at=NOW))


def test_totals_of_the_seeded_journal(
    config: Path, db: TradingDatabase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(db)
    chart = tmp_path / "out" / "equity.png"
    data = stats_json(config, capsys, "--by", "day", "--chart", str(chart))
    total = data["total"]
    # closed: BHP +632 (04:30 UTC), XYZ -112 (05:00), CBA -2 (14:30); WES is open
    assert (total["round_trips"], total["wins"], total["losses"]) == (3, 1, 2)
    assert (total["net_pnl"], total["gross_pnl"], total["fees"]) == ("518", "560", "42")
    assert total["win_rate"] == "0.3333" and total["expectancy"] == "172.67"
    assert (total["avg_win"], total["avg_loss"]) == ("632.00", "-57.00")
    assert total["profit_factor"] == "5.5439"  # 632 / 114
    assert total["max_drawdown"] == "114"  # 632 -> 518
    assert (total["r_known"], total["r_unknown"]) == (2, 1)
    assert (total["avg_win_r"], total["avg_loss_r"]) == ("1.0533", "-1.1200")  # 632/600, -112/100
    assert total["expectancy_r"] == "-0.0333"
    assert total["avg_holding_s"] == 85300  # (2d 4h10m + 4h30m + 14h25m) / 3
    assert total["mfe_capture"] == "0.3548"  # (650 - 100) / (1500 + 50)
    assert total["mae_capture"] == "0.6667"  # XYZ: -100 / -150 (CBA has no excursion)
    assert [(g["label"], g["round_trips"], g["net_pnl"]) for g in data["groups"]] == [
        ("2024-07-03", 2, "520"),
        ("2024-07-04", 1, "-2"),  # 14:30 UTC is 00:30 the next day in Sydney
    ]
    assert [p["cumulative_net_pnl"] for p in data["equity_curve"]] == ["632", "520", "518"]
    assert any("1 of 3 round trip(s) have no recorded initial stop" in n for n in data["notes"])
    assert data["chart"] == str(chart) and chart.read_bytes().startswith(b"\x89PNG")


def test_ranges_grouping_notes_and_the_table(
    config: Path, db: TradingDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(db)
    only = stats_json(config, capsys, "--from", "2024-07-04", "--to", "2024-07-04",
                      "--no-chart")
    assert only["total"]["round_trips"] == 1 and only["total"]["net_pnl"] == "-2"
    assert only["chart"] is None and only["from"] == "2024-07-04"

    empty = stats_json(config, capsys, "--from", "2024-07-05", "--by", "week")
    assert empty["total"]["round_trips"] == 0 and empty["groups"] == []
    assert empty["total"]["expectancy"] is None and empty["chart"] is None

    by_setup = stats_json(config, capsys, "--by", "setup", "--no-chart")
    assert [g["label"] for g in by_setup["groups"]] == ["—"]
    assert any("3 of 3 round trip(s) have no setup grade" in n for n in by_setup["notes"])

    assert run(config, "--by", "ticker") == 0
    out = capsys.readouterr().out.splitlines()
    header = out[1].split()
    assert header[:3] == ["group", "trips", "win%"]
    rows = {line.split()[0]: line.split() for line in out[2:5]}
    assert set(rows) == {"BHP", "CBA", "XYZ"} and rows["BHP"][3] == "632.00"
    total = next(line.split() for line in out if line.startswith("total"))
    assert total[1:4] == ["3", "33%", "518.00"]
    assert any(line.startswith("equity curve: ") and line.endswith(".png") for line in out)
    png = Path(out[-1].removeprefix("equity curve: "))
    assert png.parent.name == "stats" and png.name == "equity_2024-07-03_2024-07-04.png"

    assert run(config, "--from", "2024-07-09", "--to", "2024-07-01") != 0
    assert "is after" in capsys.readouterr().err
