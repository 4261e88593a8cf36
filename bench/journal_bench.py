"""Position sync and journal writes of a busy day: 500 executions (issue #7).

Real pieces, built by the daemon's composition root (an EXCLUSIVE ``bootstrap.build``
App, as ``skimd run`` builds it): an SQLCipher database file in a temp dir, the SQL journal
store, the ASX calendar, structlog at INFO (into memory), the trading day with the journal
attached (position sync, end of day, the daemon's trade reports writer over the broker's
intraday path, charts drawn with Pillow into the images table). Overrides: the clock
(simulated) and the broker (the demo broker, seed 7, 300 tickers, in-memory book, counting
its ``intraday_bars`` calls).

Small Argon2 parameters (t=1, 8 MiB) are used: they only change how long opening the
database takes (the key is derived once per open), not the cost of any query.

The day (2026-11-24): the ``--tickers`` most liquid tickers priced $2-$50 are traded by
hand at the broker (client order ids the database does not know, as a trader's manual
trades: no order intents), ``--per-ticker`` MKT orders each, alternating buy/sell, spread
over the session from 10:05 to 15:55 (the simulated clock moves to each order). Most
tickers end flat; every tenth keeps one extra buy open (adopted by the sync), and every
tenth has a position in the database the broker does not hold (closed by the sync). Each
traded ticker is also on the day's candidate list (tradeable, with a range), so the end of
day writes plans and checks mistakes against them.

Timed with ``time.perf_counter`` (wall time, 2-core machine shared with others):

1. the first ``PositionSync.run()`` at 15:58 (a start-up sync that finds the whole day);
2. a second run at 15:59 (nothing new);
3. ``JournalDay.run(day)`` at 16:15 (its own sync, excursions, plans, watchlist,
   mistakes, the daily summary, trade reports with charts, the reconciliation digest),
   with the sync and the reports writer timed on their own inside it. The App offers no
   timing hook, so the built journal's ``sync.run`` and ``reports`` callables are wrapped
   in place by timing shims (:func:`time_calls`) that call the originals unchanged.

The first sync is compared with the sync job's interval (``sync_interval_s``) and with the
watch job's poll interval (``poll_interval_s``): both jobs take one lock in TradingDay, so a
sync longer than a poll interval delays the next poll by the overrun.

Run: ``python bench/journal_bench.py [--tickers N] [--per-ticker N] [--profile]`` from the
repository root. Prints figures only, never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from datetime import time as clock_time
from decimal import Decimal
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pydantic import SecretStr
from sqlalchemy import text

from skimd import bootstrap
from skimd.clock import SimulatedClock
from skimd.config import DatabaseSettings, LoggingSettings, PathSettings, Settings
from skimd.domain.market import Bar, asx_tick_size
from skimd.domain.orders import OrderRequest, OrderStatus, OrderType, Side
from skimd.domain.trading import CandidateRecord, CandidateState, PositionRecord
from skimd.infrastructure.brokers.demo.broker import DemoBroker
from skimd.infrastructure.brokers.demo.market import DemoMarket
from skimd.infrastructure.brokers.events import RecordingBrokerEvents
from skimd.infrastructure.brokers.identifier_cache import InMemoryIdentifierCache
from skimd.infrastructure.database import TradingDatabase
from skimd.infrastructure.database.journal_store import SqlJournalStore
from skimd.services.journal.end_of_day import JournalDay
from skimd.services.trading.day import TradingDay

P = ParamSpec("P")
T = TypeVar("T")

SEED = 7
DAY = date(2026, 11, 24)
SMALL_KDF = {"kdf_time_cost": 1, "kdf_memory_kib": 8192, "kdf_parallelism": 1}
LOT_VALUE = Decimal("1500")  # about this much per order
TRADE_FROM, TRADE_UNTIL = clock_time(10, 5), clock_time(15, 55)
FIRST_SYNC_AT, SECOND_SYNC_AT = clock_time(15, 58), clock_time(15, 59)
COUNTED = (
    "trades",
    "transaction_ledger",
    "round_trips",
    "positions",
    "balance_snapshots",
    "excursion_metrics",
    "trade_plans",
    "watchlist_items",
    "mistake_entries",
    "trade_reports",
    "images",
    "alert_outbox",
)


class CountingBroker(DemoBroker):
    """DemoBroker that counts and times ``intraday_bars`` (excursions and report charts both
    fetch them; the demo computes a whole day's bars from its price path on each call)."""

    bar_calls: int = 0
    bar_s: float = 0.0

    async def intraday_bars(self, conid: int, day: date, minutes: int = 1) -> list[Bar]:
        began = time.perf_counter()
        try:
            return await super().intraday_bars(conid, day, minutes)
        finally:
            self.bar_calls += 1
            self.bar_s += time.perf_counter() - began


@dataclass
class Rig:
    """The App and what the bench drives of it; ``sync_times`` gets the wall time of every
    ``PositionSync.run`` (the end of day's own too), ``report_times`` the reports writer's
    wall time and then the part of it spent fetching bars."""

    app: bootstrap.App
    clock: SimulatedClock
    zone: tzinfo
    broker: CountingBroker
    day: TradingDay
    journal: JournalDay
    sync_times: list[float]
    report_times: list[float]

    @property
    def db(self) -> TradingDatabase:
        return self.app.database

    @property
    def store(self) -> SqlJournalStore:
        return self.app.store

    async def close(self) -> None:
        await self.app.aclose()
        await self.broker.close()  # an override: the caller's to close


def settings_for(data_dir: Path) -> Settings:
    return Settings(
        paths=PathSettings(data_dir=data_dir),
        database=DatabaseSettings(
            encryption="sqlcipher",
            passphrase=SecretStr("journal bench"),
            **SMALL_KDF,  # type: ignore[arg-type]
        ),
        logging=LoggingSettings(level="INFO", format="json"),
    )


def time_calls(
    call: Callable[P, Awaitable[T]],
    into: list[float],
    broker: CountingBroker | None = None,
) -> Callable[P, Coroutine[Any, Any, T]]:
    """``call`` that appends its wall time to ``into`` and, given ``broker``, then the part
    of it spent in ``broker.intraday_bars``."""

    async def run(*args: P.args, **kwargs: P.kwargs) -> T:
        began, bars_before = time.perf_counter(), broker.bar_s if broker else 0.0
        try:
            return await call(*args, **kwargs)
        finally:
            into.append(time.perf_counter() - began)
            if broker is not None:
                into.append(broker.bar_s - bars_before)

    return run


def open_rig(settings: Settings) -> Rig:
    """The demo daemon's trading day and journal, built by bootstrap with the bench's clock
    and counting demo broker."""
    calendar = bootstrap.build_calendar(settings)
    clock = SimulatedClock(datetime.combine(DAY, clock_time(9, 0), calendar.zone))
    broker = CountingBroker(
        DemoMarket(seed=SEED, universe_size=settings.demo.universe_size, calendar=calendar),
        clock,
        events=RecordingBrokerEvents(),
        identifier_cache=InMemoryIdentifierCache(),
        starting_cash=Decimal("1000000"),
    )
    app = bootstrap.build(
        settings,
        access=bootstrap.Access.EXCLUSIVE,
        clock=clock,
        broker=broker,
        stdout=io.StringIO(),
        environ={},
        create_database=True,
    )
    day = app.trading
    journal = day.journal
    assert isinstance(journal, JournalDay) and journal.reports is not None
    sync_times: list[float] = []
    report_times: list[float] = []
    journal.sync.run = time_calls(journal.sync.run, sync_times)  # type: ignore[method-assign]
    journal.reports = time_calls(journal.reports, report_times, broker)
    return Rig(app, clock, calendar.zone, broker, day, journal, sync_times, report_times)


def at(rig: Rig, when: clock_time) -> datetime:
    moment = datetime.combine(DAY, when, rig.zone)
    rig.clock.advance_to(moment)
    return moment


def liquid(market: DemoMarket, count: int) -> list[str]:
    """The ``count`` highest-turnover tickers priced $2-$50 on DAY (one-cent ticks)."""
    plans = [p for p in market.plans(DAY) if Decimal(2) < p.prev_close < Decimal(50)]
    plans.sort(key=lambda p: (-(p.prev_close * p.volume), p.symbol))
    return [p.symbol for p in plans[:count]]


def seed_database(rig: Rig, tickers: list[str]) -> None:
    """Today's candidate list, and the positions the broker no longer holds."""
    market = rig.broker.market
    now = rig.clock.now()
    with rig.store.transaction() as tx:
        for n, ticker in enumerate(tickers):
            plan = market.plan(ticker, DAY)
            orh = plan.open + 5 * asx_tick_size(plan.open)
            orl = plan.open - 10 * asx_tick_size(plan.open)
            tx.save_candidate(
                CandidateRecord(
                    scan_date=DAY,
                    ticker=ticker,
                    status=CandidateState.TRADEABLE,
                    conid=plan.conid,
                    gap_pct=plan.gap_pct,
                    prev_close=plan.prev_close,
                    open_price=plan.open,
                    volume=plan.volume,
                    price_sensitive=n % 3 != 0,
                    orh=orh,
                    orl=orl,
                    range_start_at=plan.open_at,
                ),
                now,
            )
            if n % 10 == 5:  # held in the database, sold outside skimd before today
                tx.save_position(
                    PositionRecord(
                        ticker=ticker,
                        qty=100,
                        avg_price=plan.prev_close,
                        entry_date=DAY - timedelta(days=1),
                        opened_at=now - timedelta(days=1),
                        conid=plan.conid,
                    )
                )


async def trade_the_day(rig: Rig, tickers: list[str], per_ticker: int) -> tuple[int, int]:
    """Round-robin manual MKT orders over the session; returns (buys, sells) filled."""
    market = rig.broker.market
    orders: list[tuple[str, Side]] = []
    for k in range(per_ticker):
        for n, ticker in enumerate(tickers):
            side = Side.BUY if k % 2 == 0 else Side.SELL
            if k == per_ticker - 1 and n % 10 == 0:
                side = Side.BUY  # stays open: the sync adopts it
            orders.append((ticker, side))
    start = datetime.combine(DAY, TRADE_FROM, rig.zone)
    end = datetime.combine(DAY, TRADE_UNTIL, rig.zone)
    step = (end - start) / max(1, len(orders) - 1)
    lots: dict[str, int] = {}
    filled = {Side.BUY: 0, Side.SELL: 0}
    for i, (ticker, side) in enumerate(orders):
        rig.clock.advance_to(start + step * i)
        plan = market.plan(ticker, DAY)
        if ticker not in lots:
            price = market.last_price(ticker, rig.clock.now())
            lots[ticker] = max(1, int(LOT_VALUE / price))
        state = await rig.broker.place_order(
            OrderRequest(
                client_order_id=f"manual-{ticker}-{i:04d}",
                symbol=ticker,
                conid=plan.conid,
                side=side,
                qty=lots[ticker],
                order_type=OrderType.MKT,
            )
        )
        if state.status is OrderStatus.FILLED:
            filled[side] += 1
    return filled[Side.BUY], filled[Side.SELL]


def counts(db: TradingDatabase) -> dict[str, int]:
    with db.unit_of_work(read_only=True) as uow:
        return {
            name: int(uow.session.execute(text(f"SELECT count(*) FROM {name}")).scalar_one())
            for name in COUNTED
        }


def delta(before: dict[str, int], after: dict[str, int]) -> str:
    changed = [f"{k} +{after[k] - before[k]}" for k in COUNTED if after[k] != before[k]]
    return ", ".join(changed) or "nothing"


def profile_report(profiler: cProfile.Profile, limit: int = 25) -> str:
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(limit)
    return out.getvalue()


async def drive(rig: Rig, args: argparse.Namespace, opened_s: float) -> None:
    params = rig.day.ctx.params
    await rig.broker.connect()
    print(
        f"database: SQLCipher file, small Argon2 params (t=1, 8 MiB; opened+created in "
        f"{opened_s:.2f} s); demo broker seed {SEED}; day {DAY}; "
        f"python {sys.version.split()[0]}"
    )
    tickers = liquid(rig.broker.market, args.tickers)
    seed_database(rig, tickers)
    began = time.perf_counter()
    buys, sells = await trade_the_day(rig, tickers, args.per_ticker)
    print(
        f"day: {buys} buys + {sells} sells = {buys + sells} executions over "
        f"{len(tickers)} tickers, MKT orders {TRADE_FROM:%H:%M}-{TRADE_UNTIL:%H:%M}, "
        f"manual (client order ids unknown to the database, no intents); "
        f"placed in {time.perf_counter() - began:.1f} s (broker simulation, not timed below)"
    )
    before = counts(rig.db)

    at(rig, FIRST_SYNC_AT)
    profiler = cProfile.Profile() if args.profile else None
    if profiler is not None and args.profile == "sync":
        profiler.enable()
    began = time.perf_counter()
    first = await rig.journal.sync.run()
    first_s = time.perf_counter() - began
    if profiler is not None:
        profiler.disable()
    after_first = counts(rig.db)
    print(
        f"1. first sync  {first_s * 1000:8.0f} ms  {first.summary()}; "
        f"rows: {delta(before, after_first)}"
    )

    at(rig, SECOND_SYNC_AT)
    began = time.perf_counter()
    second = await rig.journal.sync.run()
    second_s = time.perf_counter() - began
    after_second = counts(rig.db)
    print(
        f"2. second sync {second_s * 1000:8.0f} ms  {second.summary()}; "
        f"rows: {delta(after_first, after_second)}"
    )

    at(rig, params.end_of_day_at)
    if profiler is not None and args.profile == "eod":
        profiler.enable()
    rig.broker.bar_calls, rig.broker.bar_s = 0, 0.0
    began = time.perf_counter()
    eod = await rig.journal.run(DAY)
    eod_s = time.perf_counter() - began
    if profiler is not None:
        profiler.disable()
    after_eod = counts(rig.db)
    eod_sync_s = rig.sync_times[-1]
    reports_s, report_bars_s = rig.report_times
    print(
        f"3. end of day  {eod_s * 1000:8.0f} ms  (its sync {eod_sync_s * 1000:.0f} ms, "
        f"reports+charts {reports_s * 1000:.0f} ms, excursions/plans/mistakes/summary/"
        f"digest {(eod_s - eod_sync_s - reports_s) * 1000:.0f} ms); {eod.summary()}; "
        f"rows: {delta(after_second, after_eod)}"
    )
    charts_s = reports_s - report_bars_s
    print(
        f"   inside the end of day: {rig.broker.bar_calls} intraday_bars fetches for "
        f"{len(tickers)} tickers took {rig.broker.bar_s * 1000:.0f} ms (one per round trip "
        f"for excursions, again per closed round trip for its chart); the reports' "
        f"charts, thumbnails and saves took {charts_s * 1000:.0f} ms "
        f"({charts_s / max(1, eod.reports) * 1000:.0f} ms a report)"
    )
    print("totals: " + ", ".join(f"{k} {after_eod[k]}" for k in COUNTED))

    interval, poll = params.sync_interval_s, params.poll_interval_s
    print(
        f"job bound: sync every {interval} s -> first sync {first_s:.2f} s is "
        f"{first_s / interval * 100:.2f} % of it: "
        f"{'fits in one sync interval' if first_s < interval else 'DOES NOT FIT'}"
    )
    if first_s <= poll:
        blocking = (
            f"shorter than the {poll} s watch poll: while it holds TradingDay's lock the "
            f"next poll waits at most {first_s:.2f} s and no poll is skipped"
        )
    else:
        blocking = (
            f"LONGER than the {poll} s watch poll: TradingDay's lock makes polls wait "
            f"{first_s - poll:.1f} s past their slot (about {int(first_s // poll)} poll "
            f"slot(s) missed)"
        )
    print(f"watch poll: {blocking}")
    print(
        f"end of day ({params.end_of_day_at:%H:%M}, after the session; the watch job is "
        f"not running): {eod_s:.2f} s"
    )
    if profiler is not None:
        print(f"\n{args.profile} profile (cumulative):")
        print(profile_report(profiler))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickers", type=int, default=50)
    parser.add_argument("--per-ticker", type=int, default=10)
    parser.add_argument(
        "--profile",
        choices=("sync", "eod"),
        help="cProfile the first sync or the end of day and print the top functions",
    )
    args = parser.parse_args()
    wall = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        settings = settings_for(Path(tmp) / "data")
        bootstrap.setup_logging(settings, io.StringIO())
        began = time.perf_counter()
        rig = open_rig(settings)
        opened_s = time.perf_counter() - began
        try:
            await drive(rig, args, opened_s)
        finally:
            await rig.close()
    print(f"bench wall time: {time.perf_counter() - wall:.1f} s")


if __name__ == "__main__":
    asyncio.run(main())
