"""The reaction bench's ``ibkr-fake`` path: tick → order POST with the real IBKR facade and its
websocket quote stream against the fake IBKR over loopback (see ``reaction_bench.py``).

One trading day: the fake (REST and ``/ws`` on one 127.0.0.1 port) driven by the seeded demo
market, the IBKR facade connected to it (OAuth with the fake's keys, brokerage session), the
daemon's App built by bootstrap around that facade (EXCLUSIVE, SQLCipher copy of the
template), the bench's setups on the list, and the quote watch as the daemon builds it. The
clock moves event by event: every poll of the 5 s grid (``day.poll()``: REST snapshots,
ranges, entries, orders) and every setup's crossing instant, where the fake pushes the
changed quotes (:meth:`~tests.fakes.ibkr_market.FakeIbkrMarket.push`). The push's wall time
(``perf_counter``) to the entry's ``place_order`` call is the processing; the clock does not
move meanwhile (the bench waits for the order, or the watch going idle, with a generous
patience that is never a measure).
"""

from __future__ import annotations

import asyncio
import io
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import cast

import httpx
from reaction_bench import (
    POLL_FROM,
    POLL_UNTIL,
    SEED,
    Breakout,
    PostTimes,
    Setup,
    local,
    plan_day,
    settings_for,
    timed_watch,
)

from skimd import bootstrap
from skimd.clock import SimulatedClock
from skimd.domain.trading import CandidateRecord, CandidateState, IntentPurpose, IntentStatus
from skimd.infrastructure.brokers.demo.market import DemoMarket
from skimd.infrastructure.brokers.events import RecordingBrokerEvents
from skimd.infrastructure.calendar import AsxCalendar
from skimd.services.ports.broker import Broker
from tests.fakes.ibkr_market import FakeIbkrMarket
from tests.fakes.ibkr_server import FakeAccount, FakeIbkr, FakeIbkrKeys, make_broker, serve_loopback

PATIENCE_S = 30.0  # a hang guard, never a measure
# the clock's hair-steps while the order goes out (µs), or a poll's paced requests before
# the push (the crossing fell inside that poll): more is a tick that was not acted on
DETECTION_MAX_S = 0.2


@cache
def _keys() -> FakeIbkrKeys:
    return FakeIbkrKeys.generate()


async def _drive(clock: SimulatedClock, done: Callable[[], bool],
                 patience_s: float = PATIENCE_S) -> bool:
    """Let the loop run (real socket I/O) until ``done()``, moving the clock by a hair each
    turn so the broker's paced requests (each waits at least 1 µs on the clock) go out;
    a tenth of a second at a time if it stays undone (a real pacing wait). False when the
    patience guard runs out."""
    deadline = time.perf_counter() + patience_s
    turns = 0
    while not done():
        if time.perf_counter() > deadline:
            return False
        await asyncio.sleep(0.0002)  # the bench's own pacing: the sockets are read
        turns += 1
        clock.advance(0.1 if turns % 500 == 0 else 1e-5)
    return True


async def run_ibkr_day(
    template: Path, work: Path, day: date, watch: int, calendar: AsxCalendar
) -> tuple[list[Breakout], list[float], list[str]]:
    """(breakouts, every tick pass's wall seconds, problems) of one day on the IBKR fake."""
    data_dir = work / f"{day.isoformat()}-ibkr"
    shutil.copytree(template, data_dir)
    zone = calendar.zone
    clock = SimulatedClock(local(day, POLL_FROM, zone) - timedelta(seconds=30))
    fake = FakeIbkr(_keys(), clock=clock, accounts=[FakeAccount("DU1234567",
                                                                cash=Decimal(10**8))])
    demo = DemoMarket(seed=SEED, calendar=calendar)
    market = FakeIbkrMarket(fake, demo)
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as keys_dir:
        async with serve_loopback(fake, before=market.before) as base_url, \
                httpx.AsyncClient(timeout=10) as client:
            broker, _ = make_broker(fake, Path(keys_dir), client=client, base_url=base_url,
                                    events=RecordingBrokerEvents())
            await broker.connect()
            app = bootstrap.build(
                settings_for(data_dir, watch, stream=True),
                access=bootstrap.Access.EXCLUSIVE, clock=clock, stdout=io.StringIO(),
                environ={}, broker=broker,
            )
            app.outbox  # noqa: B018 - commits wake it from now on, as in the daemon
            quotes = None
            try:
                ctx = app.trading.ctx
                setups = plan_day(demo, ctx.params, day, watch, zone)
                with ctx.store.transaction() as tx:
                    for s in setups:
                        tx.save_candidate(CandidateRecord(
                            scan_date=day, ticker=s.ticker, status=CandidateState.TRADEABLE,
                            conid=s.conid, orh=s.orh, orl=s.orl, price_sensitive=True,
                        ), clock.now())
                posts = PostTimes(broker)
                ctx.broker = cast(Broker, posts)
                quotes, timed = timed_watch(app, clock)
                quotes.start()
                stream = quotes.stream
                # its login waits for a /tickle turn (paced on the clock), its socket for
                # real I/O
                if not await _drive(clock, lambda: stream.state.up):
                    problems.append(f"{day} ibkr-fake: the stream never came up")
                pushed: dict[str, float] = {}
                for at, setup in _events(day, zone, setups, ctx.params.poll_interval_s):
                    if at > clock.now():
                        await clock.run_until(at, settle=quotes.idle)
                    if setup is None:
                        poll = asyncio.ensure_future(app.trading.poll())
                        await _drive(clock, poll.done)
                        poll.result()
                        await app.outbox.wait_idle()
                        continue
                    before = len(posts.sent)
                    pushed[setup.ticker] = time.perf_counter()
                    market.push(clock.now())

                    def posted(count: int = before) -> bool:
                        return len(posts.sent) > count

                    if not await _drive(clock, posted):
                        problems.append(f"{day} ibkr-fake {setup.ticker}: no order after "
                                        f"the crossing tick within {PATIENCE_S:g} s")
                    await _drive(clock, quotes.idle)
                start, stop = ctx.calendar.day_bounds(day)
                with ctx.store.read() as tx:
                    entries = [i for i in tx.intents_between(start, stop)
                               if i.purpose is IntentPurpose.ENTRY]
            finally:
                if quotes is not None:
                    await quotes.stop()
                await app.aclose()
                await broker.close()
    placed = {IntentStatus.SUBMITTED, IntentStatus.PARTIALLY_FILLED, IntentStatus.FILLED}
    by_ticker = {i.ticker: i for i in entries}
    if len(by_ticker) != len(entries):
        problems.append(f"{day} ibkr-fake: more than one entry for a ticker")
    breakouts: list[Breakout] = []
    for s in setups:
        intent = by_ticker.get(s.ticker)
        if s.crossed_at is None:
            continue
        if intent is None or intent.status not in placed:
            problems.append(f"{day} ibkr-fake {s.ticker}: crossed, "
                            f"{'no entry' if intent is None else intent.status.value}")
            continue
        delay = (intent.created_at - s.crossed_at).total_seconds()
        sent = posts.sent.get(intent.client_order_id)
        if sent is None or s.ticker not in pushed or not 0 <= delay < DETECTION_MAX_S:
            problems.append(f"{day} ibkr-fake {s.ticker}: entry {delay:+.3f} s from the tick")
            continue
        breakouts.append(Breakout(s.ticker, day, delay, sent - pushed[s.ticker]))
    return breakouts, list(timed.walls.values()), problems


def _events(day: date, zone: tzinfo, setups: list[Setup],
            interval_s: int) -> list[tuple[datetime, Setup | None]]:
    """Every poll of the grid and every crossing, in time order (a tick before a poll of the
    same instant)."""
    at = local(day, POLL_FROM, zone)
    end = local(day, POLL_UNTIL, zone)
    polls: list[tuple[datetime, Setup | None]] = []
    while at < end:
        polls.append((at, None))
        at += timedelta(seconds=interval_s)
    crossings = [(s.crossed_at, s) for s in setups if s.crossed_at is not None]
    return sorted([*crossings, *polls], key=lambda e: (e[0], e[1] is None))
