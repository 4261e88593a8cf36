"""Recorded days replayed: three demo days run through the normal daemon path record what
the daemon saw (the tape of polled and pushed quotes, the scans, the announcements, the
bars); then ``skimd backtest --data recorded`` over those days (the demo broker over a
:class:`~skimd.infrastructure.brokers.demo.recorded.RecordedMarket` of that database, the
same daemon code, a fresh account, the tape's own resolution) trades the same: the same
executions (ticker, side, quantity, price) and exits, in the run's own encrypted journal."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from skimd.infrastructure.database.tables import OrderIntent, RecordedQuote, Trade
from tests.e2e.demo_runs import ROOT, demo_config, env, open_demo_db, run_demo

DAYS = (date(2026, 11, 24), date(2026, 11, 25), date(2026, 11, 26))


def _trades(
    folder: Path, filename: str = "skimd.db"
) -> tuple[list[tuple[str, str, Decimal, Decimal]], list[str], int]:
    with open_demo_db(folder, filename) as db, db.unit_of_work(read_only=True) as uow:
        trades = sorted(
            (t.ticker, t.side.upper(), t.qty, t.price)
            for t in uow.session.scalars(select(Trade))
        )
        exits = sorted(
            f"{i.ticker}:{i.purpose}"
            for i in uow.session.scalars(select(OrderIntent))
            if i.side.upper() == "SELL" and i.filled_qty > 0
        )
        tape = len(list(uow.session.scalars(select(RecordedQuote))))
    return trades, exits, tape


@pytest.mark.slow
def test_a_backtest_of_three_recorded_demo_days_makes_the_same_trades(tmp_path: Path) -> None:
    config = demo_config(tmp_path / "days")
    for n, day in enumerate(DAYS):
        extra = ["--date", day.isoformat()] + ([] if n == 0 else ["--continue"])
        done = run_demo(config, *extra)
        assert done.returncode == 0, done.stderr[-2000:]
    trades, exits, tape = _trades(tmp_path / "days")
    assert trades and exits and tape > 0, "the recorded days traded and kept their tape"

    done = subprocess.run(
        [sys.executable, "-m", "skimd", "--config", str(config), "backtest", "--data",
         "recorded", "--from", DAYS[0].isoformat(), "--to", DAYS[-1].isoformat(), "--json"],
        capture_output=True, text=True, env=env(), cwd=ROOT, timeout=900,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert (result["data"], result["trading_days"]) == ("recorded", len(DAYS))
    journal = Path(result["journal"]).relative_to(tmp_path / "days" / "data")
    replayed, replayed_exits, _ = _trades(tmp_path / "days", str(journal))
    assert (replayed, replayed_exits) == (trades, exits)
