"""Several demo days in a row (``skimd demo --continue``) through the real daemon: the
synthetic market must exercise every way out of a position, and both outcomes.

Over four seeded sessions the journal holds a stop exit, a day-N partial exit, a
moving-average trail exit and an end-of-day flatten, and both winning and losing round
trips; no particular P&L is expected. The strategy settings shorten the waits (partial on
day 2, a 3-day average) so four days are enough, and the last day flattens at the close
(``flatten_at_close``); the market is the demo's own, untouched."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from skimd.infrastructure.database.tables import OrderIntent, RoundTrip
from tests.e2e.demo_runs import demo_config, open_demo_db, run_demo

DAYS = ("2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27")
SHORT_WAITS = "\n[strategy]\npartial_exit_day = 2\ntrail_ma_days = 3\n"


@pytest.mark.slow
def test_four_demo_days_exercise_every_exit_kind_and_both_outcomes(tmp_path: Path) -> None:
    config = demo_config(tmp_path / "demo")
    base = config.read_text(encoding="utf-8") + SHORT_WAITS
    for n, day in enumerate(DAYS):
        last = n == len(DAYS) - 1
        config.write_text(base + ("flatten_at_close = true\n" if last else ""), encoding="utf-8")
        extra = ["--date", day, "--json"] + ([] if n == 0 else ["--continue"])
        done = run_demo(config, *extra)
        assert done.returncode == 0, done.stderr[-2000:]
        assert json.loads(done.stdout)["day"] == day

    with open_demo_db(tmp_path / "demo") as db, db.unit_of_work(read_only=True) as uow:
        sold = {
            i.purpose
            for i in uow.session.scalars(select(OrderIntent))
            if i.side.upper() == "SELL" and i.filled_qty > 0
        }
        nets = [
            r.net_pnl or Decimal(0)
            for r in uow.session.scalars(select(RoundTrip))
            if r.status == "closed"
        ]
    assert sold & {"stop", "stop_exit"}, sold
    assert {"partial", "trail", "flatten"} <= sold, sold
    assert any(n > 0 for n in nets) and any(n < 0 for n in nets), nets
