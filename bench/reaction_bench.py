"""Breakout reaction time: the demo price path crosses ORH + buffer -> the entry order is placed.

Real pieces, built by the daemon's composition root (an EXCLUSIVE ``bootstrap.build`` App
per day, as ``skimd run`` builds it for the demo broker): an SQLCipher database file in a
temp dir, the SQL store waking the alert outbox sender (console notifier into memory), the
DB-backed conid cache, alerting broker events, the demo broker with its book file in the
data dir, the ASX calendar, the trading day with its journal attached, structlog at INFO
(into memory). Only the clock is overridden (simulated), so a trading hour runs in seconds.

Small Argon2 parameters (t=1, 8 MiB) are used: they only change how long opening the
database takes (the key is derived once per open), not the cost of any query.

For each of ``--days`` trading days, ``--watch`` liquid tickers (one-cent ticks) are put on
the day's list as tradeable, each with an ORH equal to its highest price between 10:29 and a
random moment from 10:30 to 10:49, so the path can only cross ORH + buffer later. The watch job is
then driven exactly as the scheduler would: every ``poll_interval_s`` of simulated time on the
wall-clock grid (:00, :05, ...), ``clock.advance(5)`` then ``await day.poll()`` (the job
handler), from 10:29 to 11:30. ``DemoMarket.first_cross`` gives the exact instant each path
first reaches the lowest quoted price above the trigger; tickers that do not cross by 11:30
stay on the list as load but are not breakouts.

Per breakout:

- detection delay = simulated instant of the poll that wrote and placed the entry
  - simulated instant of the crossing (in [0, poll interval) by construction);
- processing = wall time of that whole poll (``time.perf_counter`` around it), so two
  breakouts caught by one poll both get its full time (conservative);
- reaction = detection delay + processing: the real daemon's delay plus its work.

The strategy's guards on positions, orders per day and the daily loss cap are raised (and
the paper account given more cash) in the settings, so that every breakout becomes an entry;
the poll interval and every other parameter are the defaults. The demo broker answers in-process:
a real broker's request latency is not part of these figures (see ``pacing_bench.py``).

Run: ``python bench/reaction_bench.py [--days N] [--watch N]`` from the repository root.
Prints figures only, never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from datetime import time as clock_time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pydantic import SecretStr

from skimd import bootstrap
from skimd.clock import SimulatedClock
from skimd.config import (
    DatabaseSettings,
    DemoSettings,
    LoggingSettings,
    PathSettings,
    Settings,
    StrategySettings,
)
from skimd.domain.entries import breakout_trigger
from skimd.domain.market import asx_tick_size
from skimd.domain.trading import (
    CandidateRecord,
    CandidateState,
    IntentPurpose,
    IntentStatus,
)
from skimd.infrastructure.brokers.demo.broker import DemoBroker
from skimd.infrastructure.brokers.demo.market import DemoMarket
from skimd.infrastructure.calendar import AsxCalendar
from skimd.services.trading.params import StrategyParams

SEED = 7
FIRST_DAY = date(2026, 11, 2)
POLL_FROM = clock_time(10, 29)  # the first poll pre-flights market data (as IBKR needs)
ORH_UNTIL_S = 20 * 60  # ORH: the high from POLL_FROM to a random moment up to 20 min later
POLL_UNTIL = clock_time(11, 30)
SMALL_KDF = {"kdf_time_cost": 1, "kdf_memory_kib": 8192, "kdf_parallelism": 1}
TARGET_MARGIN_S = 0.250


@dataclass(frozen=True)
class Setup:
    """One watched ticker: its range and, when it breaks out in the window, the crossing."""

    ticker: str
    conid: int
    orh: Decimal
    orl: Decimal
    crossed_at: datetime | None


@dataclass(frozen=True)
class Breakout:
    ticker: str
    day: date
    detection_s: float
    processing_s: float

    @property
    def reaction_s(self) -> float:
        return self.detection_s + self.processing_s


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def settings_for(data_dir: Path, watch: int) -> Settings:
    """The demo config with small KDF parameters, and room for every breakout among ``watch``
    tickers to enter (the guards are not measured here)."""
    return Settings(
        paths=PathSettings(data_dir=data_dir),
        database=DatabaseSettings(
            encryption="sqlcipher",
            passphrase=SecretStr("reaction bench"),
            **SMALL_KDF,  # type: ignore[arg-type]
        ),
        logging=LoggingSettings(level="INFO", format="json"),
        demo=DemoSettings(seed=SEED, starting_cash=100_000.0 * watch),
        strategy=StrategySettings(
            max_open_positions=watch,
            max_orders_per_day=10 * watch,
            daily_loss_cap=Decimal("1000000"),
        ),
    )


def local(day: date, at: clock_time, zone: tzinfo) -> datetime:
    return datetime.combine(day, at, zone)


def high_between(market: DemoMarket, ticker: str, start: datetime, end: datetime) -> Decimal:
    """The highest quoted price in [start, end]: the path is linear between minute knots, so
    the maximum is at a knot or an end."""
    inside = [p for t, p in market.minute_prices(ticker, start.date()) if start < t < end]
    ends = [market.price_at(ticker, start), market.price_at(ticker, end)]
    return max([p for p in ends if p is not None] + inside)


def plan_day(
    market: DemoMarket, params: StrategyParams, day: date, watch: int, zone: tzinfo
) -> list[Setup]:
    """``watch`` liquid tickers with an ORH each path can only cross after the ORH moment."""
    rng = random.Random(f"reaction-bench|{SEED}|{day.isoformat()}")
    liquid = sorted(
        p.symbol for p in market.plans(day) if Decimal("2.5") < p.prev_close < Decimal(50)
    )
    start = local(day, POLL_FROM, zone)
    until = local(day, POLL_UNTIL, zone)
    setups: list[Setup] = []
    for ticker in rng.sample(liquid, watch):
        plan = market.plan(ticker, day)
        if plan.open_at >= start:
            continue
        upto = start + timedelta(seconds=rng.uniform(60, ORH_UNTIL_S))
        orh = high_between(market, ticker, start, upto)
        orl = orh - (orh * Decimal("0.03")).quantize(asx_tick_size(orh))
        trigger = breakout_trigger(orh, params.breakout_buffer_ticks)
        level = trigger + asx_tick_size(trigger)  # the lowest quote that is a breakout
        found = market.first_cross(ticker, start, until, level, below=False)
        setups.append(Setup(ticker, plan.conid, orh, orl, None if found is None else found[0]))
    return setups


def open_app(data_dir: Path, clock: SimulatedClock, watch: int) -> bootstrap.App:
    """The demo daemon for one day, built by bootstrap with the bench's clock; console alerts
    go into memory. The outbox sender is built first, so every commit wakes it as in the
    daemon."""
    app = bootstrap.build(
        settings_for(data_dir, watch),
        access=bootstrap.Access.EXCLUSIVE,
        clock=clock,
        stdout=io.StringIO(),
        environ={},
    )
    app.outbox  # noqa: B018 - built for its side effect: commits wake it from now on
    return app


async def run_day(
    template: Path, work: Path, day: date, watch: int, calendar: AsxCalendar
) -> tuple[list[Breakout], list[float], list[str]]:
    """One trading day on a fresh copy of the database: (breakouts, every poll's wall
    seconds, problems found)."""
    data_dir = work / day.isoformat()
    shutil.copytree(template, data_dir)
    zone = calendar.zone
    clock = SimulatedClock(local(day, POLL_FROM, zone) - timedelta(seconds=5))
    app = open_app(data_dir, clock, watch)
    try:
        day_jobs = app.trading
        ctx = day_jobs.ctx
        broker = app.broker
        assert isinstance(broker, DemoBroker)
        setups = plan_day(broker.market, ctx.params, day, watch, zone)
        with ctx.store.transaction() as tx:
            for s in setups:
                tx.save_candidate(
                    CandidateRecord(
                        scan_date=day,
                        ticker=s.ticker,
                        status=CandidateState.TRADEABLE,
                        conid=s.conid,
                        orh=s.orh,
                        orl=s.orl,
                        price_sensitive=True,
                    ),
                    clock.now(),
                )
        wall: dict[datetime, float] = {}
        end = local(day, POLL_UNTIL, zone)
        while clock.now() < end:
            clock.advance(ctx.params.poll_interval_s)
            began = time.perf_counter()
            await day_jobs.poll()
            wall[clock.now()] = time.perf_counter() - began
            await app.outbox.wait_idle()  # the real sender has 5 s before the next poll
        start, stop = ctx.calendar.day_bounds(day)
        with ctx.store.read() as tx:
            entries = [
                i for i in tx.intents_between(start, stop) if i.purpose is IntentPurpose.ENTRY
            ]
    finally:
        await app.aclose()
    problems: list[str] = []
    placed = {IntentStatus.SUBMITTED, IntentStatus.PARTIALLY_FILLED, IntentStatus.FILLED}
    by_ticker = {i.ticker: i for i in entries}
    if len(by_ticker) != len(entries):
        problems.append(f"{day}: more than one entry for a ticker")
    breakouts: list[Breakout] = []
    for s in setups:
        intent = by_ticker.get(s.ticker)
        if s.crossed_at is None:
            if intent is not None:
                problems.append(f"{day} {s.ticker}: entered without crossing")
            continue
        if intent is None or intent.status not in placed:
            state = "no entry" if intent is None else f"entry {intent.status.value}"
            crossed = s.crossed_at.astimezone(zone)
            problems.append(f"{day} {s.ticker}: crossed at {crossed:%H:%M:%S}, {state}")
            continue
        delay = (intent.created_at - s.crossed_at).total_seconds()
        processing = wall.get(intent.created_at)
        if processing is None or not 0 <= delay < ctx.params.poll_interval_s:
            problems.append(f"{day} {s.ticker}: entry {delay:+.3f} s from the crossing")
            continue
        breakouts.append(Breakout(s.ticker, day, delay, processing))
    return breakouts, list(wall.values()), problems


def trading_days(calendar: AsxCalendar, count: int) -> list[date]:
    days: list[date] = []
    day = FIRST_DAY if calendar.is_trading_day(FIRST_DAY) else calendar.next_trading_day(FIRST_DAY)
    while len(days) < count:
        days.append(day)
        day = calendar.next_trading_day(day)
    return days


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=7, help="trading days to replay")
    parser.add_argument("--watch", type=int, default=10, help="tradeable tickers per day")
    args = parser.parse_args()

    began = time.perf_counter()
    breakouts: list[Breakout] = []
    polls: list[float] = []
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="skimd-reaction-") as tmp:
        template = Path(tmp) / "template"
        settings = settings_for(template, args.watch)
        bootstrap.setup_logging(settings, io.StringIO())
        calendar = bootstrap.build_calendar(settings)
        interval = bootstrap.strategy_params(settings).poll_interval_s
        with bootstrap.build(settings, create_database=True) as app:
            app.database  # noqa: B018 - created and migrated: each day starts from a copy
        for day in trading_days(calendar, args.days):
            found, walls, wrong = await run_day(template, Path(tmp), day, args.watch, calendar)
            breakouts += found
            polls += walls
            problems += wrong
    elapsed = time.perf_counter() - began

    print(
        f"demo market seed {SEED}, {args.days} trading days from {FIRST_DAY}, "
        f"{args.watch} tradeable tickers watched per day; SQLCipher DB (small KDF params)"
    )
    print(
        f"polls driven: {len(polls)} (every poll: median {statistics.median(polls) * 1000:.2f}"
        f" ms, max {max(polls) * 1000:.2f} ms); bench wall time {elapsed:.1f} s"
    )
    if problems:
        print("problems:")
        for line in problems:
            print(f"  {line}")
    if not breakouts:
        print("no breakouts measured")
        return
    detection = [b.detection_s for b in breakouts]
    processing = [b.processing_s * 1000 for b in breakouts]
    reaction = [b.reaction_s for b in breakouts]
    target = interval + TARGET_MARGIN_S
    print(f"breakouts: {len(breakouts)}")
    print(f"poll interval: {interval} s")
    print(
        f"detection delay (simulated): median {statistics.median(detection):.3f} s, "
        f"max {max(detection):.3f} s"
    )
    print(
        f"processing (wall, the placing poll): median {statistics.median(processing):.2f} ms, "
        f"p95 {pct(processing, 95):.2f} ms, max {max(processing):.2f} ms"
    )
    print(
        f"reaction time: median {statistics.median(reaction):.3f} s, "
        f"p95 {pct(reaction, 95):.3f} s, max {max(reaction):.3f} s"
    )
    print(f"target <= {target:.3f} s: {'met' if max(reaction) <= target else 'not met'}")


if __name__ == "__main__":
    asyncio.run(main())
