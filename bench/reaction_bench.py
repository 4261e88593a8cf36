"""Breakout reaction time: the demo price path crosses ORH + buffer -> the entry order is placed,
by the 5-second poll alone and by the quote stream (the poll beside it), side by side.

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

Each day runs twice on its own copy of the database: once polled only (``[broker]
stream_quotes = false``, as before the stream existed) and once streamed: the demo market's
quote stream pushes each tick at its simulated instant (:mod:`skimd.infrastructure.brokers.
demo.quote_stream`) and the daemon's :class:`~skimd.services.trading.streaming.QuoteWatch`
hands it to the trading day at once, while the poll keeps running on its grid (the clock is
driven with ``SimulatedClock.run_until`` settling on the watch, as the demo day is).

Per breakout, polling:

- detection delay = simulated instant of the poll that wrote and placed the entry
  - simulated instant of the crossing (in [0, poll interval) by construction);
- processing = wall time of that whole poll (``time.perf_counter`` around it), so two
  breakouts caught by one poll both get its full time (conservative);
- reaction = detection delay + processing: the real daemon's delay plus its work.

Per breakout, streaming (tick -> order POST):

- detection delay = simulated instant of the pass that wrote and placed the entry - the
  simulated instant of the crossing (the tick itself, give or take the few milliseconds the
  demo stream needs to see a price past a rounding boundary);
- processing = wall time from the start of that tick pass (the watch's ``react`` on the
  trading day, started as soon as the tick is pushed) to the order's POST (the trading
  context's broker is wrapped to note when ``place_order`` is called);
- reaction = detection delay + processing.

The IBKR fake over loopback (``ibkr-fake``, :mod:`reaction_ibkr`): the same App with the real
IBKR facade as its broker (OAuth, brokerage session, REST snapshots and orders, the
``websockets`` quote stream) against :class:`~tests.fakes.ibkr_server.FakeIbkr` served on
127.0.0.1, its prices and fills read off the same seeded demo market
(:class:`~tests.fakes.ibkr_market.FakeIbkrMarket`), the same setups. The fake pushes a tick
(the changed fields, one ``smd`` frame per conid) at each crossing instant; the clock stands
still meanwhile, so detection is 0 by construction and processing is the wall time from the
fake's push to the order's POST: the frame over the socket, its parsing and merge, the tick
pass, the guards and the order request. IBKR's own delay in sending a tick is not ours to
measure.

The strategy's guards on positions, orders per day and the daily loss cap are raised (and
the paper account given more cash) in the settings, so that every breakout becomes an entry;
the poll interval and every other parameter are the defaults. The demo broker answers in-process:
a real broker's request latency is not part of these figures (see ``pacing_bench.py``).

Targets: polling reaction within one poll interval + 250 ms; streaming p99 <= 500 ms and
median <= 100 ms.

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
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pydantic import SecretStr

from skimd import bootstrap
from skimd.clock import SimulatedClock
from skimd.config import (
    BrokerSettings,
    DatabaseSettings,
    DemoSettings,
    LoggingSettings,
    PathSettings,
    Settings,
    StrategySettings,
)
from skimd.domain.entries import breakout_trigger
from skimd.domain.market import Quote, asx_tick_size
from skimd.domain.orders import OrderRequest, OrderState
from skimd.domain.trading import (
    CandidateRecord,
    CandidateState,
    IntentPurpose,
    IntentStatus,
)
from skimd.infrastructure.brokers.demo.broker import DemoBroker
from skimd.infrastructure.brokers.demo.market import DemoMarket
from skimd.infrastructure.calendar import AsxCalendar
from skimd.services.ports.broker import Broker
from skimd.services.ports.quotes import QuoteStream, StreamingBroker, StreamStateListener
from skimd.services.trading.day import TradingDay
from skimd.services.trading.params import StrategyParams
from skimd.services.trading.streaming import QuoteWatch

SEED = 7
FIRST_DAY = date(2026, 11, 2)
POLL_FROM = clock_time(10, 29)  # the first poll pre-flights market data (as IBKR needs)
ORH_UNTIL_S = 20 * 60  # ORH: the high from POLL_FROM to a random moment up to 20 min later
POLL_UNTIL = clock_time(11, 30)
SMALL_KDF = {"kdf_time_cost": 1, "kdf_memory_kib": 8192, "kdf_parallelism": 1}
TARGET_MARGIN_S = 0.250
STREAM_P99_S = 0.500
STREAM_MEDIAN_S = 0.100
STREAM_DETECTION_MAX_S = 0.2  # the demo stream's looks past a rounding boundary, with room
STREAM_BROKERS: tuple[str, ...] = ("demo", "ibkr-fake")


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


def settings_for(data_dir: Path, watch: int, *, stream: bool = False) -> Settings:
    """The demo config with small KDF parameters, and room for every breakout among ``watch``
    tickers to enter (the guards are not measured here); quotes streamed or not."""
    return Settings(
        paths=PathSettings(data_dir=data_dir),
        database=DatabaseSettings(
            encryption="sqlcipher",
            passphrase=SecretStr("reaction bench"),
            **SMALL_KDF,  # type: ignore[arg-type]
        ),
        logging=LoggingSettings(level="INFO", format="json"),
        broker=BrokerSettings(stream_quotes=stream),
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


def open_app(data_dir: Path, clock: SimulatedClock, watch: int, stream: bool) -> bootstrap.App:
    """The demo daemon for one day, built by bootstrap with the bench's clock; console alerts
    go into memory. The outbox sender is built first, so every commit wakes it as in the
    daemon."""
    app = bootstrap.build(
        settings_for(data_dir, watch, stream=stream),
        access=bootstrap.Access.EXCLUSIVE,
        clock=clock,
        stdout=io.StringIO(),
        environ={},
    )
    app.outbox  # noqa: B018 - built for its side effect: commits wake it from now on
    return app


class TimedDay:
    """The trading day as the quote watch sees it, timing each tick pass: its wall seconds,
    and when it began (``perf_counter``), by the simulated instant it ran at."""

    def __init__(self, day: TradingDay, clock: SimulatedClock) -> None:
        self.day = day
        self.clock = clock
        self.walls: dict[datetime, float] = {}
        self.began: dict[datetime, float] = {}

    async def react(self, quotes: list[Quote]) -> str | None:
        began = time.perf_counter()
        at = self.clock.now()
        self.began.setdefault(at, began)
        result = await self.day.react(quotes)
        self.walls[at] = max(time.perf_counter() - began, self.walls.get(at, 0.0))
        return result


class PostTimes:
    """The trading day's broker, noting when (``perf_counter``) each order went out, by
    client order id; everything else is the broker's own."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self.sent: dict[str, float] = {}

    async def place_order(self, request: OrderRequest) -> OrderState:
        self.sent.setdefault(request.client_order_id, time.perf_counter())
        return await self._broker.place_order(request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._broker, name)


def timed_watch(app: bootstrap.App, clock: SimulatedClock) -> tuple[QuoteWatch, TimedDay]:
    """The daemon's quote watch (as ``App.quote_watch`` builds it) around a timed day."""
    broker = app.broker
    assert isinstance(broker, StreamingBroker)
    timed = TimedDay(app.trading, clock)

    def open_stream(on_state: StreamStateListener) -> QuoteStream:
        return broker.quote_stream(on_state)

    watch = QuoteWatch(
        timed,
        open_stream,
        clock=clock,
        alert=app.store_alert,
        broker=broker.kind,
        poll_interval_s=app.params.poll_interval_s,
    )
    app.trading.attach_quotes(watch)
    return watch, timed


async def run_day(
    template: Path,
    work: Path,
    day: date,
    watch: int,
    calendar: AsxCalendar,
    *,
    stream: str | None,
) -> tuple[list[Breakout], list[float], list[str]]:
    """One trading day on a fresh copy of the database, polled only (``stream`` None) or
    streamed by the named broker: (breakouts, every poll's or tick pass's wall seconds,
    problems found)."""
    if stream == "ibkr-fake":
        from reaction_ibkr import run_ibkr_day

        return await run_ibkr_day(template, work, day, watch, calendar)
    mode = stream or "poll"
    data_dir = work / f"{day.isoformat()}-{mode}"
    shutil.copytree(template, data_dir)
    zone = calendar.zone
    clock = SimulatedClock(local(day, POLL_FROM, zone) - timedelta(seconds=5))
    app = open_app(data_dir, clock, watch, stream is not None)
    quotes: QuoteWatch | None = None
    timed: TimedDay | None = None
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
        posts = PostTimes(broker)
        ctx.broker = cast(Broker, posts)
        if stream is not None:
            quotes, timed = timed_watch(app, clock)
            quotes.start()
        wall: dict[datetime, float] = {}
        end = local(day, POLL_UNTIL, zone)
        while clock.now() < end:
            if quotes is None:
                clock.advance(ctx.params.poll_interval_s)
            else:  # the stream's ticks and passes up to the next poll
                step = clock.now() + timedelta(seconds=ctx.params.poll_interval_s)
                await clock.run_until(step, settle=quotes.idle)
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
        if quotes is not None:
            await quotes.stop()
        await app.aclose()
    problems: list[str] = []
    placed = {IntentStatus.SUBMITTED, IntentStatus.PARTIALLY_FILLED, IntentStatus.FILLED}
    by_ticker = {i.ticker: i for i in entries}
    if len(by_ticker) != len(entries):
        problems.append(f"{day} {mode}: more than one entry for a ticker")
    breakouts: list[Breakout] = []
    for s in setups:
        intent = by_ticker.get(s.ticker)
        if s.crossed_at is None:
            if intent is not None:
                problems.append(f"{day} {mode} {s.ticker}: entered without crossing")
            continue
        if intent is None or intent.status not in placed:
            state = "no entry" if intent is None else f"entry {intent.status.value}"
            crossed = s.crossed_at.astimezone(zone)
            problems.append(f"{day} {mode} {s.ticker}: crossed at {crossed:%H:%M:%S}, {state}")
            continue
        delay = (intent.created_at - s.crossed_at).total_seconds()
        if timed is not None:  # tick -> the POST of the order
            began = timed.began.get(intent.created_at)
            sent = posts.sent.get(intent.client_order_id)
            processing = None if began is None or sent is None else sent - began
            limit = STREAM_DETECTION_MAX_S
        else:
            processing = wall.get(intent.created_at)
            limit = ctx.params.poll_interval_s
        if timed is None and processing is not None and delay >= limit:
            # the price was back under the trigger at every poll instant after the first
            # crossing: only a later crossing was seen (what polling costs; not a fault)
            problems.append(f"{day} {mode} {s.ticker}: missed by the polls, entered "
                            f"{delay:+.3f} s after the first crossing (not counted)")
            continue
        if processing is None or not 0 <= delay < limit:
            problems.append(f"{day} {mode} {s.ticker}: entry {delay:+.3f} s from the crossing")
            continue
        breakouts.append(Breakout(s.ticker, day, delay, processing))
    walls = list(timed.walls.values()) if timed is not None else list(wall.values())
    return breakouts, walls, problems


def trading_days(calendar: AsxCalendar, count: int) -> list[date]:
    days: list[date] = []
    day = FIRST_DAY if calendar.is_trading_day(FIRST_DAY) else calendar.next_trading_day(FIRST_DAY)
    while len(days) < count:
        days.append(day)
        day = calendar.next_trading_day(day)
    return days


@dataclass
class PathRun:
    """One reaction path over every day: its breakouts, the wall time of each poll (or tick
    pass), the problems found."""

    name: str
    breakouts: list[Breakout]
    runs: list[float]
    problems: list[str]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=7, help="trading days to replay")
    parser.add_argument("--watch", type=int, default=10, help="tradeable tickers per day")
    args = parser.parse_args()

    began = time.perf_counter()
    paths: dict[str | None, PathRun] = {None: PathRun("polling (5 s poll only)", [], [], [])}
    for name in STREAM_BROKERS:
        paths[name] = PathRun(f"streaming ({name} ticks; the poll beside)", [], [], [])
    with tempfile.TemporaryDirectory(prefix="skimd-reaction-") as tmp:
        template = Path(tmp) / "template"
        settings = settings_for(template, args.watch)
        bootstrap.setup_logging(settings, io.StringIO())
        calendar = bootstrap.build_calendar(settings)
        interval = bootstrap.strategy_params(settings).poll_interval_s
        with bootstrap.build(settings, create_database=True) as app:
            app.database  # noqa: B018 - created and migrated: each day starts from a copy
        for day in trading_days(calendar, args.days):
            for stream, path in paths.items():
                found, walls, wrong = await run_day(
                    template, Path(tmp), day, args.watch, calendar, stream=stream
                )
                path.breakouts += found
                path.runs += walls
                path.problems += wrong
    elapsed = time.perf_counter() - began

    print(
        f"demo market seed {SEED}, {args.days} trading days from {FIRST_DAY}, "
        f"{args.watch} tradeable tickers watched per day; SQLCipher DB (small KDF params); "
        f"poll interval {interval} s; bench wall time {elapsed:.1f} s"
    )
    polled = paths[None]
    streams = [paths[name] for name in STREAM_BROKERS]
    for path in paths.values():
        what = "polls" if path is polled else "tick passes"
        if path.runs:
            print(
                f"{path.name}: {what} driven {len(path.runs)} (each: median "
                f"{statistics.median(path.runs) * 1000:.2f} ms, max {max(path.runs) * 1000:.2f} ms)"
            )
        if path.problems:
            print(f"{path.name}: problems:")
            for line in path.problems:
                print(f"  {line}")
    if not all(p.breakouts for p in paths.values()):
        print("no breakouts measured")
        return
    print()
    print(
        f"{'cross -> order POST':<28}{'polling':>14}" + "".join(f"{n:>14}" for n in STREAM_BROKERS)
    )
    rows = (
        ("breakouts", lambda b: float(len(b)), "{:.0f}"),
        ("detection median (s)", lambda b: statistics.median(x.detection_s for x in b), "{:.3f}"),
        ("detection max (s)", lambda b: max(x.detection_s for x in b), "{:.3f}"),
        ("processing p50 (ms)", lambda b: pct([x.processing_s * 1000 for x in b], 50), "{:.2f}"),
        ("processing p99 (ms)", lambda b: pct([x.processing_s * 1000 for x in b], 99), "{:.2f}"),
        ("processing max (ms)", lambda b: max(x.processing_s * 1000 for x in b), "{:.2f}"),
        ("reaction p50 (s)", lambda b: pct([x.reaction_s for x in b], 50), "{:.3f}"),
        ("reaction p99 (s)", lambda b: pct([x.reaction_s for x in b], 99), "{:.3f}"),
        ("reaction max (s)", lambda b: max(x.reaction_s for x in b), "{:.3f}"),
    )
    for label, stat, fmt in rows:
        cells = [fmt.format(stat(p.breakouts)) for p in (polled, *streams)]
        print(f"{label:<28}" + "".join(f"{c:>14}" for c in cells))
    print(
        "processing: polling, the whole poll that placed the entry; streaming, from the start "
        "of the tick pass to the order's POST"
    )
    print()
    poll_max = max(b.reaction_s for b in polled.breakouts)
    target = interval + TARGET_MARGIN_S
    print(f"polling: max <= {target:.3f} s: {'met' if poll_max <= target else 'not met'}")
    for name, streamed in zip(STREAM_BROKERS, streams, strict=True):
        reaction = [b.reaction_s for b in streamed.breakouts]
        p99, p50 = pct(reaction, 99), pct(reaction, 50)
        met = p99 <= STREAM_P99_S and p50 <= STREAM_MEDIAN_S
        print(
            f"streaming ({name}): p99 <= {STREAM_P99_S:.3f} s and median <= "
            f"{STREAM_MEDIAN_S:.3f} s: {'met' if met else 'not met'}"
        )


if __name__ == "__main__":
    asyncio.run(main())
