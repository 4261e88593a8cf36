"""Recorded days replayed: three demo days run through the normal daemon path record what
the daemon saw (the tape, the scans, the announcements, the bars); then the demo broker
over a :class:`RecordedMarket` of that database, driven by the same daemon (the same
``bootstrap.build`` the demo uses, with the broker as an override) on a fresh account,
trades the same: the same executions (ticker, side, quantity, price) and exits."""

from __future__ import annotations

import asyncio
import io
from datetime import date, time
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from skimd import bootstrap
from skimd.clock import SimulatedClock, SystemClock
from skimd.config import load_settings
from skimd.domain.calendar import combine
from skimd.infrastructure.brokers.demo.book_store import book_file
from skimd.infrastructure.brokers.demo.broker import DemoBroker
from skimd.infrastructure.brokers.demo.recorded import RecordedMarket
from skimd.infrastructure.brokers.events import NullBrokerEvents
from skimd.infrastructure.brokers.factory import build_recorded_market
from skimd.infrastructure.brokers.identifier_cache import InMemoryIdentifierCache
from skimd.infrastructure.database.tables import OrderIntent, RecordedQuote, Trade
from skimd.secret_groups import with_secrets
from tests.e2e.demo_runs import demo_config, open_demo_db, run_demo

DAYS = (date(2026, 11, 24), date(2026, 11, 25), date(2026, 11, 26))


def _trades(folder: Path) -> tuple[list[tuple[str, str, Decimal, Decimal]], list[str]]:
    with open_demo_db(folder) as db, db.unit_of_work(read_only=True) as uow:
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
    assert tape > 0
    return trades, exits


async def _replay(config: Path, market: RecordedMarket, day: date) -> None:
    settings = with_secrets(load_settings(config, {}), "database")
    zone = bootstrap.build_calendar(settings).zone
    clock = SimulatedClock(combine(day, time(9, 30), zone))
    settings.paths.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    broker = DemoBroker(
        market,
        clock,
        events=NullBrokerEvents(),
        identifier_cache=InMemoryIdentifierCache(),
        starting_cash=Decimal("100000.00"),
        commission_per_order=Decimal("6.00"),
        book_path=book_file(settings.paths.data_dir, market.seed),
    )
    app = bootstrap.build(
        settings,
        access=bootstrap.Access.EXCLUSIVE,
        clock=clock,
        wall_clock=SystemClock(),
        environ={},
        stdout=io.StringIO(),
        broker=broker,
        create_database=True,
    )
    async with app:
        code = await app.run(
            simulate_until=combine(day, time(17, 0), zone), install_signals=False
        )
    assert code == 0


@pytest.mark.slow
def test_three_recorded_demo_days_replay_to_the_same_trades(tmp_path: Path) -> None:
    recorded = demo_config(tmp_path / "recorded")
    for n, day in enumerate(DAYS):
        extra = ["--date", day.isoformat()] + ([] if n == 0 else ["--continue"])
        done = run_demo(recorded, *extra)
        assert done.returncode == 0, done.stderr[-2000:]
    trades, exits = _trades(tmp_path / "recorded")
    assert trades and exits, "the recorded days traded"

    settings = with_secrets(load_settings(recorded, {}), "database")
    market = build_recorded_market(settings, bootstrap.build_calendar(settings))
    replay = demo_config(tmp_path / "replay")
    try:
        for day in DAYS:
            asyncio.run(_replay(replay, market, day))
    finally:
        market.close()
    assert _trades(tmp_path / "replay") == (trades, exits)
