"""``skimd journal stats --json`` after a real demo day agrees with the journal's own rows,
recomputed here straight from the tables (round trips, their trades, entry orders and
trade plans)."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from skimd.infrastructure.database.tables import OrderIntent, RoundTrip, Trade, TradePlan
from tests.e2e.demo_runs import DEMO_DAY, ROOT, demo_config, env, open_demo_db, run_demo


@pytest.mark.slow
def test_stats_of_a_demo_day_match_the_journal_rows(tmp_path: Path) -> None:
    config = demo_config(tmp_path / "demo")
    done = run_demo(config, "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["day"] == DEMO_DAY  # stdout is the JSON alone

    stats = subprocess.run(
        [sys.executable, "-m", "skimd", "--config", str(config), "journal", "stats",
         "--from", DEMO_DAY, "--to", DEMO_DAY, "--by", "day", "--json"],
        env=env(), cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert stats.returncode == 0, stats.stderr[-2000:]
    data = json.loads(stats.stdout)
    total = data["total"]

    with open_demo_db(tmp_path / "demo") as db, db.unit_of_work(read_only=True) as uow:
        s = uow.session
        closed = [r for r in s.scalars(select(RoundTrip)) if r.status == "closed"]
        trades = list(s.scalars(select(Trade)))
        plans = list(s.scalars(select(TradePlan).order_by(TradePlan.id)))  # type: ignore[arg-type]
        intents = {i.client_order_id: i for i in s.scalars(select(OrderIntent))}
        assert closed, "the demo day closes round trips"
        nets = [r.net_pnl or Decimal(0) for r in closed]
        assert total["round_trips"] == len(closed)
        assert Decimal(total["net_pnl"]) == sum(nets)
        assert Decimal(total["fees"]) == sum(r.fees for r in closed)
        assert total["wins"] == sum(1 for n in nets if n > 0)
        assert total["losses"] == sum(1 for n in nets if n < 0)

        rs: list[Decimal] = []
        for trip in closed:  # the plan linked to its trade, else its entry order's candidate's
            own = sorted((t for t in trades if t.round_trip_id == trip.id),
                         key=lambda t: (t.executed_at, t.id or 0))
            ids = {t.id for t in own}
            stop = next((p.stop for p in reversed(plans) if p.trade_id in ids), None)
            entry = next(t for t in own if t.side.upper() == "BUY")
            intent = intents.get(entry.client_order_id or "")
            if stop is None and intent is not None and intent.candidate_id is not None:
                stop = next((p.stop for p in reversed(plans)
                             if p.candidate_id == intent.candidate_id), None)
            if stop is not None and stop < trip.entry_avg:
                rs.append((trip.net_pnl or Decimal(0)) / ((trip.entry_avg - stop) * trip.qty))
    assert total["r_known"] == len(rs) and rs, "the demo's entries have planned stops"
    mean_r = (sum(rs, Decimal(0)) / len(rs)).quantize(Decimal("0.0001"))
    assert Decimal(total["expectancy_r"]) == mean_r
    assert [g["label"] for g in data["groups"]] == [DEMO_DAY]
    assert data["groups"][0]["net_pnl"] == total["net_pnl"]
    assert Path(data["chart"]).read_bytes().startswith(b"\x89PNG")
