"""Order safety when the broker races us: a stop that filled while we cancelled it, a
placing call that timed out, a restart under the kill switch, a position closed by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from skimd.domain.orders import OrderRequest, OrderState, OrderStatus, OrderType, Side
from skimd.domain.trading import IntentPurpose, IntentStatus, client_order_id
from skimd.errors import RateLimitedError
from skimd.infrastructure.brokers.demo.broker import DemoBroker
from skimd.infrastructure.brokers.events import RecordingBrokerEvents
from skimd.infrastructure.brokers.identifier_cache import InMemoryIdentifierCache
from tests.fakes.refusing_broker import RefusingBroker
from tests.integration.trading.desk import (
    DAY,
    MARKET,
    Desk,
    breakout_range,
    desk_clock,
    liquid_tickers,
    make_desk,
)

DAY3 = DAY + timedelta(days=2)


class RacingBroker(DemoBroker):
    """The demo broker, with two faults a real one can show: a cancel that loses the race
    against the order's own fill, and one placing call that times out."""

    cancel_reports_fill = False
    fail_next_sell = False

    async def cancel_order(self, broker_order_id: str) -> OrderState:
        state = await super().cancel_order(broker_order_id)
        if self.cancel_reports_fill and state.order_type is not None:
            return replace(
                state,
                status=OrderStatus.FILLED,
                filled_qty=state.qty,
                avg_fill_price=state.stop_price or state.limit_price or Decimal("1"),
                remaining=0,
            )
        return state

    async def place_order(self, request: OrderRequest) -> OrderState:
        if (
            self.fail_next_sell
            and request.side is Side.SELL
            and request.order_type is OrderType.MKT
        ):
            self.fail_next_sell = False
            raise RateLimitedError("demo: 429 on orders", retry_after=1.0)
        return await super().place_order(request)


def _racing_desk(data_dir: Path) -> Desk:
    clock = desk_clock()
    broker = RacingBroker(
        MARKET,
        clock,
        events=RecordingBrokerEvents(),
        identifier_cache=InMemoryIdentifierCache(),
    )
    return make_desk(data_dir, clock=clock, broker=broker)


async def _enter(desk: Desk) -> str:
    ticker = liquid_tickers(DAY, 1)[0]
    desk.at(DAY, 11, 0)
    orh, _ = breakout_range(ticker, desk.clock.now())
    record = desk.tradeable(ticker, orh, (orh / 2).quantize(Decimal("0.01")))
    await desk.broker.connect()
    await desk.broker.snapshots([record.conid or 0])
    assert (await desk.day.watch.poll()).entered == [ticker]
    desk.clock.advance(5)
    await desk.day.watch.poll()  # the resting stop goes out
    return ticker


def _intents(desk: Desk, ticker: str) -> list:  # type: ignore[type-arg]
    with desk.ctx.store.read() as tx:
        position = tx.open_position_for(ticker)
        if position is None:
            found = [p for p in _all_positions(desk) if p.ticker == ticker]
            position = found[0]
        assert position.id is not None
        return tx.intents_for_position(position.id)


def _all_positions(desk: Desk) -> list:  # type: ignore[type-arg]
    from skimd.infrastructure.database.tables import Position

    with desk.db.unit_of_work(read_only=True) as uow:
        ids = [p.id for p in uow.positions.list_all() if isinstance(p, Position)]
    with desk.ctx.store.read() as tx:
        return [tx.position(i) for i in ids if i is not None]


async def test_an_exit_is_not_sent_when_the_stop_filled_during_its_cancel(data_dir: Path) -> None:
    desk = _racing_desk(data_dir)
    ticker = await _enter(desk)
    assert isinstance(desk.broker, RacingBroker)
    desk.broker.cancel_reports_fill = True
    desk.at(DAY3, 10, 5)  # day 3: the half exit is due, so the stop is cancelled first
    out = await desk.day.watch.poll()
    assert out.exits == []
    purposes = [i.purpose for i in _intents(desk, ticker)]
    assert IntentPurpose.PARTIAL not in purposes, "nothing sold after the stop's fill"
    with desk.ctx.store.read() as tx:
        assert tx.open_position_for(ticker) is None, "the stop's fill closed the position"
    desk.close()


async def test_an_exit_whose_placing_timed_out_is_settled_by_client_order_id(
    data_dir: Path,
) -> None:
    desk = _racing_desk(data_dir)
    ticker = await _enter(desk)
    assert isinstance(desk.broker, RacingBroker)
    desk.broker.fail_next_sell = True
    desk.at(DAY3, 10, 5)
    await desk.day.watch.poll()
    (partial,) = [i for i in _intents(desk, ticker) if i.purpose is IntentPurpose.PARTIAL]
    assert partial.status is IntentStatus.UNKNOWN
    for _ in range(4):  # the next polls settle it: not at the broker → placed, same id
        desk.clock.advance(5)
        await desk.day.watch.poll()
    partials = [i for i in _intents(desk, ticker) if i.purpose is IntentPurpose.PARTIAL]
    assert [(i.client_order_id, i.status) for i in partials] == [
        (partial.client_order_id, IntentStatus.FILLED)
    ]
    fills = [
        f
        for f in await desk.broker.executions(datetime.combine(DAY, datetime.min.time(), UTC))
        if f.client_order_id == partial.client_order_id
    ]
    assert len(fills) == 1
    desk.close()


async def test_a_restart_under_the_kill_switch_drops_an_unplaced_entry(data_dir: Path) -> None:
    desk = make_desk(data_dir)
    await desk.broker.connect()
    ticker = liquid_tickers(DAY, 1)[0]
    now = desk.at(DAY, 11, 0)
    contract = MARKET.ticker(ticker)
    assert contract is not None
    from skimd.domain.trading import IntentRecord

    coid = client_order_id(DAY, ticker, IntentPurpose.ENTRY)
    with desk.ctx.store.transaction() as tx:
        tx.add_intent(
            IntentRecord(coid, ticker, contract.conid, "BUY", 10, "MKT", IntentPurpose.ENTRY, now)
        )
        tx.lock_guard("stop everything", now)
    desk.clock.advance(60)  # the restart, a minute after the process that wrote it died
    await desk.day.ensure_ready()
    with desk.ctx.store.read() as tx:
        dropped = tx.intent(coid)
    assert dropped is not None and dropped.status is IntentStatus.CANCELLED
    assert await desk.broker.find_order(coid) is None
    desk.close()


async def test_a_position_sold_by_hand_has_its_resting_stop_cancelled(desk: Desk) -> None:
    ticker = await _enter(desk)
    (stop,) = [i for i in _intents(desk, ticker) if i.purpose is IntentPurpose.STOP]
    assert stop.status is IntentStatus.SUBMITTED
    with desk.ctx.store.read() as tx:
        held = tx.open_position_for(ticker)
    assert held is not None and held.conid is not None
    # the trader sells everything by hand at the broker, leaving skimd's stop in place
    await desk.broker.place_order(
        OrderRequest("HAND-1", ticker, held.conid, Side.SELL, held.qty, OrderType.MKT)
    )
    desk.clock.advance(60)
    outcome = await desk.journal.sync.run()
    assert outcome.closed == [ticker]
    (after,) = [i for i in _intents(desk, ticker) if i.purpose is IntentPurpose.STOP]
    assert after.status is IntentStatus.CANCELLED
    assert not [o for o in await desk.broker.open_orders() if o.symbol == ticker]


async def test_a_refused_stop_alerts_once_for_its_whole_run_of_retries(
    data_dir: Path,
) -> None:
    clock = desk_clock()
    broker = RefusingBroker(
        MARKET,
        clock,
        events=RecordingBrokerEvents(),
        identifier_cache=InMemoryIdentifierCache(),
    )
    broker.refuse(IntentPurpose.STOP)  # e.g. an unanswerable confirmation
    desk = make_desk(data_dir, clock=clock, broker=broker)
    ticker = await _enter(desk)
    for _ in range(24):  # two minutes of polls
        desk.clock.advance(5)
        await desk.day.watch.poll()
    desk.clock.advance(300)
    await desk.day.watch.poll()
    assert len(broker.refused) >= 4, "retried, backing off"
    rejected = [a for a in desk.alerts("order_rejected") if a["symbol"] == ticker]
    fallback = [a for a in desk.alerts("protection_fallback") if a["symbol"] == ticker]
    assert len(rejected) == 1 and len(fallback) == 1
    assert fallback[0]["cover"] == "software_stop" and fallback[0]["refused"] == "stop"
    desk.close()
