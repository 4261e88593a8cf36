"""The trading day against a broker whose lists lag behind a placement (IBKR's order and
trade lists can miss an order for seconds after it was placed), whose placing calls time
out after the order reached it, and which refuses a client order id it already has: every
order exists once at the broker, a stop is never doubled, nothing is dropped or rejected
while the broker has it, and a restart in the middle changes none of that."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from skimd.domain.orders import OrderRequest, OrderState, OrderType, Side
from skimd.domain.trading import IntentPurpose, IntentRecord, IntentStatus, client_order_id
from skimd.infrastructure.brokers.events import RecordingBrokerEvents
from skimd.infrastructure.brokers.identifier_cache import InMemoryIdentifierCache
from skimd.services.trading.order_lookup import ABSENT_AFTER_S, MAX_ASK_S
from tests.fakes.lagging_broker import LaggingBroker
from tests.integration.trading.desk import (
    DAY,
    MARKET,
    Desk,
    breakout_range,
    desk_clock,
    liquid_tickers,
    make_desk,
)

LAG_S = 60.0  # longer than the absence window: only what the broker shows may decide
POLLS_THROUGH_LAG = int((LAG_S + MAX_ASK_S) / 5) + 2  # 5-s polls until a backed-off ask sees it


class Crash(BaseException):
    """The process dies here (BaseException: nothing in skimd may swallow it)."""


class CrashingLaggingBroker(LaggingBroker):
    """The lagging broker; the daemon dies right after the broker accepted one order."""

    crash_after_placing = False

    async def place_order(self, request: OrderRequest) -> OrderState:
        state = await super().place_order(request)
        if self.crash_after_placing:
            self.crash_after_placing = False
            raise Crash
        return state


def _lagging(
    clock: object, broker_type: type[LaggingBroker] = LaggingBroker, lag_s: float = LAG_S
) -> LaggingBroker:
    return broker_type(
        MARKET,
        clock,
        events=RecordingBrokerEvents(),
        identifier_cache=InMemoryIdentifierCache(),
        list_lag_s=lag_s,
        trades_lag_s=lag_s,
    )


def _intents(desk: Desk, ticker: str) -> list[IntentRecord]:
    start = datetime.combine(DAY, time(0, 0), desk.calendar.zone)
    with desk.ctx.store.read() as tx:
        return [
            i for i in tx.intents_between(start, start + timedelta(days=7)) if i.ticker == ticker
        ]


async def _working_stops(broker: LaggingBroker, ticker: str) -> list[OrderState]:
    return [
        o
        for o in await broker.working_truth()
        if o.symbol == ticker and o.side is Side.SELL and o.order_type is OrderType.STP
    ]


async def test_a_stop_whose_placing_timed_out_is_never_doubled_when_it_moves(
    data_dir: Path,
) -> None:
    clock = desk_clock()
    broker = _lagging(clock)
    broker.time_out_placings = 1
    broker.time_out_when = lambda request: request.order_type is OrderType.STP
    desk = make_desk(data_dir, clock=clock, broker=broker)
    await broker.connect()
    ticker = liquid_tickers(DAY, 1)[0]
    desk.at(DAY, 11, 0)
    orh, _ = breakout_range(ticker, clock.now())
    record = desk.tradeable(ticker, orh, (orh / 2).quantize(Decimal("0.01")))
    await broker.snapshots([record.conid or 0])
    assert (await desk.day.watch.poll()).entered == [ticker]
    while not [i for i in _intents(desk, ticker) if i.purpose is IntentPurpose.STOP]:
        clock.advance(5)
        await desk.day.watch.poll()
    (first,) = [i for i in _intents(desk, ticker) if i.purpose is IntentPurpose.STOP]
    assert first.status is IntentStatus.UNKNOWN, "its placing timed out after it got there"
    assert len(await _working_stops(broker, ticker)) == 1
    # the stop moves up (as the ratchet moves it) while the broker does not list the old one
    with desk.ctx.store.transaction() as tx:
        held = tx.open_position_for(ticker)
        assert held is not None and held.stop is not None
        moved = tx.save_position(replace(held, stop=held.stop + Decimal("0.01")))
    for _ in range(36):  # three minutes of polls
        clock.advance(5)
        await desk.day.watch.poll()
        assert len(await _working_stops(broker, ticker)) <= 1, f"two stops live at {clock.now()}"
    (live,) = await _working_stops(broker, ticker)
    assert live.stop_price == moved.stop and live.qty == moved.qty
    stops = [i for i in _intents(desk, ticker) if i.purpose is IntentPurpose.STOP]
    assert [(i.client_order_id, i.status) for i in stops] == [
        (first.client_order_id, IntentStatus.CANCELLED),
        (live.client_order_id, IntentStatus.SUBMITTED),
    ]
    assert not desk.alerts("order_rejected")
    desk.close()


@pytest.mark.parametrize("entries", ["open", "closed by the kill switch"])
async def test_a_restart_while_the_broker_lags_keeps_exactly_one_order(
    data_dir: Path, entries: str
) -> None:
    # entries closed: only the absence window keeps the intent, so the lag stays inside it
    clock = desk_clock()
    broker = _lagging(clock, CrashingLaggingBroker, lag_s=ABSENT_AFTER_S - 10)
    assert isinstance(broker, CrashingLaggingBroker)
    first = make_desk(data_dir, clock=clock, broker=broker)
    await broker.connect()
    ticker = liquid_tickers(DAY, 1)[0]
    start = first.at(DAY, 11, 0)
    orh, orl = breakout_range(ticker, start)
    first.tradeable(ticker, orh, orl)
    await broker.snapshots([MARKET.ticker(ticker).conid])  # type: ignore[union-attr]
    await first.day.ensure_ready()
    broker.crash_after_placing = True
    with pytest.raises(Crash):
        await first.day.watch.poll()
    coid = client_order_id(DAY, ticker, IntentPurpose.ENTRY)
    assert await broker.truth(coid) is not None, "the broker has it; the database says pending"
    if entries != "open":
        with first.ctx.store.transaction() as tx:
            tx.lock_guard("operator: stop entries", clock.now())
    first.close()

    second = make_desk(data_dir, clock=clock, broker=broker)
    for _ in range(POLLS_THROUGH_LAG):  # restarted at once, polled through the lag
        clock.advance(5)
        await second.day.poll()
        with second.ctx.store.read() as tx:
            now_ = tx.intent(coid)
        assert now_ is not None
        assert now_.status not in (IntentStatus.CANCELLED, IntentStatus.REJECTED), now_.reason
    with second.ctx.store.read() as tx:
        settled = tx.intent(coid)
        position = tx.open_position_for(ticker)
    assert settled is not None and settled.status is IntentStatus.FILLED
    fills = [f for f in await broker.all_executions(start) if f.client_order_id == coid]
    assert len(fills) == 1, "exactly one order reached the market"
    assert not [o for o in await broker.working_truth() if o.side is Side.BUY]
    assert position is not None and position.qty == settled.qty == fills[0].qty
    held = {p.symbol: p.qty for p in await broker.positions()}
    assert held[ticker] == position.qty
    # one message for the entry, however many times it was sent and looked for
    assert [a["client_order_id"] for a in second.alerts("entry_settled")] == [coid]
    assert not second.alerts("order_rejected")
    # sent again under its own id at the restart (and answered "already exists") only
    # while entries are open; with entries closed it was only looked for
    assert broker.placings.count(coid) == (2 if entries == "open" else 1)
    second.close()


async def test_a_timed_out_exit_sent_again_as_a_duplicate_sells_once(data_dir: Path) -> None:
    clock = desk_clock()
    broker = _lagging(clock)
    desk = make_desk(data_dir, clock=clock, broker=broker)
    await broker.connect()
    ticker = liquid_tickers(DAY, 1)[0]
    desk.at(DAY, 11, 0)
    orh, _ = breakout_range(ticker, clock.now())
    record = desk.tradeable(ticker, orh, (orh / 2).quantize(Decimal("0.01")))
    await broker.snapshots([record.conid or 0])
    assert (await desk.day.watch.poll()).entered == [ticker]
    for _ in range(3):
        clock.advance(5)
        await desk.day.watch.poll()
    broker.time_out_placings = 1
    broker.time_out_when = lambda request: request.order_type is OrderType.MKT
    desk.at(DAY + timedelta(days=2), 10, 5)  # day 3: the half exit is due
    for _ in range(POLLS_THROUGH_LAG):
        await desk.day.watch.poll()
        clock.advance(5)
        partials = [i for i in _intents(desk, ticker) if i.purpose is IntentPurpose.PARTIAL]
        assert all(i.status is not IntentStatus.REJECTED for i in partials), partials
    (partial,) = [i for i in _intents(desk, ticker) if i.purpose is IntentPurpose.PARTIAL]
    assert partial.status is IntentStatus.FILLED
    start = datetime.combine(DAY, time(0, 0), desk.calendar.zone)
    sells = [
        f for f in await broker.all_executions(start) if f.symbol == ticker and f.side is Side.SELL
    ]
    assert [(f.client_order_id, f.qty) for f in sells] == [
        (partial.client_order_id, partial.qty)
    ], "sold once"
    assert broker.placings.count(partial.client_order_id) >= 2, "it was sent again"
    assert not desk.alerts("order_rejected")
    desk.close()
