"""Reacting on pushed quotes (skimd.services.trading.streaming): the entry on the tick that
crosses the trigger, the software stop on the tick that reaches it, conflation, the
subscriptions following the candidates, and the poll taking over while the stream is down.

The tests play the scheduler's part: a poll (``TradingDay.poll``) on every poll-interval
instant of the clock, the stream's ticks and the watch's passes in between
(``SimulatedClock.run_until`` settles on the watch being idle)."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from skimd.clock import SimulatedClock
from skimd.commands.status import quotes_line
from skimd.domain.alerts import Alert
from skimd.domain.entries import breakout_trigger
from skimd.domain.market import Quote, asx_tick_size
from skimd.domain.trading import IntentPurpose, IntentRecord, PositionRecord
from skimd.infrastructure.brokers.demo.quote_stream import DemoQuoteStream
from skimd.services.trading.streaming import QuoteWatch
from tests.integration.trading.desk import DAY, MARKET, Desk, liquid_tickers, with_params

SYD = ZoneInfo("Australia/Sydney")
WINDOW = timedelta(minutes=40)


@pytest.fixture
async def watch(desk: Desk) -> AsyncIterator[QuoteWatch]:
    made = desk.app.quote_watch
    assert made is not None
    made.start()
    yield made
    await made.stop()


async def drive(desk: Desk, watch: QuoteWatch, until: datetime) -> None:
    """Polls on the poll-interval grid and the stream's passes between them, to ``until``."""
    interval = desk.ctx.params.poll_interval_s
    clock = desk.clock
    while clock.now() < until:
        grid = (math.floor(clock.now().timestamp() / interval) + 1) * interval
        step = min(datetime.fromtimestamp(grid, UTC), until)
        await clock.run_until(step, settle=watch.idle)
        if clock.now().timestamp() % interval == 0:
            await desk.day.poll()


def _on_grid(when: datetime, interval: int) -> bool:
    return abs(when.timestamp() / interval - round(when.timestamp() / interval)) < 1e-6


def _entries(desk: Desk) -> list[IntentRecord]:
    start, end = desk.calendar.day_bounds(DAY)
    with desk.ctx.store.read() as tx:
        return [i for i in tx.intents_between(start, end) if i.purpose is IntentPurpose.ENTRY]


def _breakout_later(desk: Desk, tickers: list[str]) -> list[tuple[str, Decimal, datetime]]:
    """(ticker, ORH, first instant the quoted last is above the trigger) for the tickers
    whose price crosses an ORH just above the price now within :data:`WINDOW`, off the
    poll grid (so only a tick can catch it at that instant)."""
    now = desk.clock.now()
    buffer = desk.ctx.params.breakout_buffer_ticks
    found = []
    for ticker in tickers:
        last = MARKET.price_at(ticker, now)
        assert last is not None
        orh = last + 3 * asx_tick_size(last)
        trigger = breakout_trigger(orh, buffer)
        hit = MARKET.first_cross(
            ticker, now, now + WINDOW, trigger + asx_tick_size(trigger), below=False
        )
        if hit is not None and not _on_grid(hit[0], desk.ctx.params.poll_interval_s):
            found.append((ticker, orh, hit[0]))
    return found


async def _start_day(desk: Desk, watch: QuoteWatch, tickers: list[tuple[str, Decimal]]) -> None:
    """At 11:00: the tickers tradeable with their ORH (stop 3 % under), pre-flighted, and
    the first poll (connect, reconcile, subscribe)."""
    for ticker, orh in tickers:
        record = desk.tradeable(ticker, orh, orh * Decimal("0.97"))
        await desk.broker.snapshots([record.conid or 0])
    await desk.day.poll()


async def test_a_breakout_is_entered_on_the_tick_that_crosses(
    desk: Desk, watch: QuoteWatch
) -> None:
    desk.at(DAY, 11, 0)
    (ticker, orh, crossed), *_ = _breakout_later(desk, liquid_tickers(DAY, 12))
    await _start_day(desk, watch, [(ticker, orh)])
    assert watch.stream.state.up
    await drive(desk, watch, crossed + timedelta(milliseconds=50))
    (entry,) = _entries(desk)
    assert entry.ticker == ticker
    assert abs((entry.created_at - crossed).total_seconds()) < 0.05  # the tick itself
    last = desk.ctx.tape.path(DAY, ticker)[-1]  # the alerts' charts show that tick
    assert abs((last.at - crossed).total_seconds()) < 0.05 and last.price > orh
    await drive(desk, watch, crossed + timedelta(seconds=30))
    assert len(_entries(desk)) == 1
    assert not _on_grid(entry.created_at, desk.ctx.params.poll_interval_s)


async def test_the_software_stop_sells_on_the_tick_that_reaches_it(
    desk: Desk, watch: QuoteWatch
) -> None:
    with_params(desk, resting_stop=False)
    desk.at(DAY, 11, 0)
    position: PositionRecord | None = None
    for ticker in liquid_tickers(DAY, 12):
        now = desk.clock.now()
        last = MARKET.price_at(ticker, now)
        assert last is not None
        stop = last - 4 * asx_tick_size(last)
        hit = MARKET.first_cross(ticker, now, now + WINDOW, stop, below=True)
        if hit is None or _on_grid(hit[0], desk.ctx.params.poll_interval_s):
            continue
        orh = last - 2 * asx_tick_size(last)  # below the price: the first poll enters
        record = desk.tradeable(ticker, orh, stop)
        await desk.broker.snapshots([record.conid or 0])
        await desk.day.poll()
        with desk.ctx.store.read() as tx:
            position = tx.open_position_for(ticker)
        break
    assert position is not None and position.stop == stop and position.id is not None
    await drive(desk, watch, hit[0] + timedelta(seconds=30))
    with desk.ctx.store.read() as tx:
        sold = [
            i for i in tx.intents_for_position(position.id) if i.purpose is IntentPurpose.STOP_EXIT
        ]
    assert len(sold) == 1
    assert abs((sold[0].created_at - hit[0]).total_seconds()) < 0.05  # the tick
    assert [e["reason"] for e in desk.alerts("position_exited")] == ["stop"]


async def test_polling_takes_over_while_the_stream_is_down_and_alerts_once_each_way(
    desk: Desk, watch: QuoteWatch
) -> None:
    desk.at(DAY, 11, 0)
    breakouts = sorted(_breakout_later(desk, liquid_tickers(DAY, 30)), key=lambda b: b[2])
    assert len(breakouts) >= 2
    (first, orh1, crossed1), (second, orh2, crossed2) = breakouts[0], breakouts[-1]
    assert crossed2 - crossed1 > timedelta(seconds=30)
    await _start_day(desk, watch, [(first, orh1), (second, orh2)])
    interval = desk.ctx.params.poll_interval_s
    await drive(desk, watch, crossed1 - timedelta(seconds=20))
    desk.broker.drop_streams("test: websocket closed")
    await drive(desk, watch, crossed1 - timedelta(seconds=10))
    desk.broker.drop_streams("test: still closed")  # no second alert for the same outage
    await drive(desk, watch, crossed1 + timedelta(seconds=interval + 1))
    shown = watch.describe(SYD)  # what `skimd status` says meanwhile
    assert (shown["mode"], shown["reason"]) == ("polling", "test: websocket closed")
    assert quotes_line(shown).startswith(f"polled every {interval} s: the stream is down since")
    (polled,) = _entries(desk)
    assert polled.ticker == first
    waited = (polled.created_at - crossed1).total_seconds()
    assert _on_grid(polled.created_at, interval) and 0 < waited <= interval  # within one poll
    desk.broker.restore_streams()
    await drive(desk, watch, crossed2 + timedelta(seconds=30))
    entries = _entries(desk)
    assert sorted(i.ticker for i in entries) == sorted([first, second])  # none doubled
    (ticked,) = [i for i in entries if i.ticker == second]
    assert abs((ticked.created_at - crossed2).total_seconds()) < 0.05  # on the tick again
    shown = watch.describe(SYD)
    # subscribed: the first position and the second entry
    assert (shown["mode"], shown["reason"], shown["subscribed"]) == ("streaming", None, 2)
    assert shown["tick_passes"] == watch.passes > 0 and shown["since"].endswith("+11:00")
    assert quotes_line(shown).startswith(f"streaming since {shown['since']} (2 subscribed")
    (down,) = desk.alerts("quote_stream_down")
    (back,) = desk.alerts("quote_stream_back")
    assert down["reason"] == "test: websocket closed" and down["poll_interval_s"] == interval
    assert back["down_since"] < back["occurred_at"]


async def test_subscriptions_follow_the_candidates(desk: Desk, watch: QuoteWatch) -> None:
    desk.at(DAY, 11, 0)
    kept, dropped = liquid_tickers(DAY, 2)
    far = Decimal("1000")  # never crossed: both stay tradeable
    await _start_day(desk, watch, [(kept, far), (dropped, far)])
    stream = watch.stream
    assert isinstance(stream, DemoQuoteStream)
    conid = {t: (MARKET.ticker(t) or pytest.fail(t)).conid for t in (kept, dropped)}
    assert stream.subscribed == {conid[kept], conid[dropped]}
    with desk.ctx.store.transaction() as tx:
        record = tx.candidate(DAY, dropped)
        assert record is not None
        tx.save_candidate(record.expired(), desk.clock.now())
    await drive(desk, watch, desk.clock.now() + timedelta(seconds=5))
    assert stream.subscribed == {conid[kept]}


class RecordingDay:
    """A trading day that only records the batches it is handed."""

    def __init__(self) -> None:
        self.batches: list[list[Quote]] = []

    async def react(self, quotes: list[Quote]) -> str | None:
        self.batches.append(quotes)
        return None


def _watch_over(desk: Desk, day: RecordingDay, alerts: list[Alert], lines: int) -> QuoteWatch:
    clock = desk.clock
    return QuoteWatch(
        day,
        lambda on_state: DemoQuoteStream(
            MARKET, clock, session_ok=lambda: True, on_state=on_state, line_limit=lines
        ),
        clock=clock,
        alert=alerts.append,
        broker="demo",
        poll_interval_s=5,
    )


async def test_a_burst_of_ticks_is_one_pass_with_the_latest_quote_each(desk: Desk) -> None:
    desk.at(DAY, 11, 0)
    day, alerts = RecordingDay(), []  # type: ignore[var-annotated]
    watch = _watch_over(desk, day, alerts, 100)
    clock: SimulatedClock = desk.clock
    tickers = liquid_tickers(DAY, 4)
    conids = [(MARKET.ticker(t) or pytest.fail(t)).conid for t in tickers]
    watch.start()
    await watch.follow(conids)
    await clock.run_until(clock.now(), settle=watch.idle)
    assert len(day.batches) == 1  # the subscription's first quotes
    stream = watch.stream
    assert isinstance(stream, DemoQuoteStream)
    ticks = stream.ticks
    clock.advance(600)  # ten minutes of ticks while the watch is busy elsewhere
    assert stream.ticks - ticks > 4 * len(conids)
    await clock.run_until(clock.now(), settle=watch.idle)
    assert len(day.batches) == 2  # the whole burst: one pass
    burst = day.batches[1]
    seen = [q.conid for q in burst]
    assert seen and len(seen) == len(set(seen)) and set(seen) <= set(conids)  # one each
    for q in burst:
        assert q.last == MARKET.price_at(q.symbol, clock.now())
    await watch.stop()
    assert alerts == []


async def test_more_candidates_than_lines_keep_the_first_ones(desk: Desk) -> None:
    desk.at(DAY, 11, 0)
    watch = _watch_over(desk, RecordingDay(), [], 2)
    conids = [(MARKET.ticker(t) or pytest.fail(t)).conid for t in liquid_tickers(DAY, 3)]
    await watch.follow(conids)
    stream = watch.stream
    assert isinstance(stream, DemoQuoteStream)
    assert stream.subscribed == set(conids[:2])
    await watch.stop()


class FailingOnce(DemoQuoteStream):
    """A demo stream whose first wait for quotes raises (a broken connection's surprise)."""

    failed = False

    async def next_quotes(self, timeout_s: float) -> list[Quote]:
        if not self.failed:
            self.failed = True
            raise ConnectionResetError("surprise")
        return await super().next_quotes(timeout_s)


async def test_a_stream_that_raises_is_waited_for_and_the_watch_goes_on(desk: Desk) -> None:
    desk.at(DAY, 11, 0)
    day = RecordingDay()
    clock = desk.clock
    watch = QuoteWatch(
        day,
        lambda on_state: FailingOnce(MARKET, clock, session_ok=lambda: True, on_state=on_state),
        clock=clock,
        alert=[].append,
        broker="demo",
        poll_interval_s=5,
    )
    conid = (MARKET.ticker(liquid_tickers(DAY, 1)[0]) or pytest.fail()).conid
    watch.start()
    await watch.follow([conid])
    await clock.run_until(clock.now(), settle=watch.idle)
    assert day.batches == []  # it failed, and waits (on the clock) before trying again
    await clock.run_until(clock.now() + timedelta(minutes=2), settle=watch.idle)
    assert day.batches and day.batches[0][0].conid == conid
    await watch.stop()


async def test_a_lost_session_is_the_session_alerts_not_the_streams(
    desk: Desk, watch: QuoteWatch
) -> None:
    desk.at(DAY, 11, 0)
    await _start_day(desk, watch, [(liquid_tickers(DAY, 1)[0], Decimal("1000"))])
    desk.app.broker_session.lost("test: nightly reset")  # as the daemon's broker events do
    desk.broker.lose_session("test: nightly reset")
    clock = desk.clock
    await clock.run_until(clock.now() + timedelta(seconds=30), settle=watch.idle)  # polls held
    assert not watch.stream.state.up
    await desk.broker.connect()
    desk.app.broker_session.restored()
    await drive(desk, watch, clock.now() + timedelta(seconds=30))
    assert watch.stream.state.up
    assert desk.alerts("broker_session_lost")
    assert desk.alerts("quote_stream_down") == desk.alerts("quote_stream_back") == []


class RefusingFollow(DemoQuoteStream):
    async def follow(self, conids: object) -> None:
        raise ConnectionResetError("surprise")


async def test_a_stream_that_cannot_follow_never_fails_the_caller(desk: Desk) -> None:
    clock = desk.clock
    watch = QuoteWatch(
        RecordingDay(),
        lambda on_state: RefusingFollow(MARKET, clock, session_ok=lambda: True),
        clock=clock,
        alert=[].append,
        broker="demo",
        poll_interval_s=5,
    )
    await watch.follow([1, 2])  # logged only: the poll that asked goes on
    assert isinstance(watch.stream, RefusingFollow) and watch.stream.subscribed == frozenset()
    await watch.stop()
