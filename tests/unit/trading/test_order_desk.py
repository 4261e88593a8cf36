"""OrderDesk on the in-memory store and the demo broker: settling intents left by a crash,
entries that lapse, and fills booked into positions."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from skimd.domain.alerts import EntryLapsed, ExitReason, PositionExited
from skimd.domain.market import TickDirection, round_to_tick
from skimd.domain.orders import OrderType, Side
from skimd.domain.trading import (
    CandidateRecord,
    CandidateState,
    IntentPurpose,
    IntentRecord,
    IntentStatus,
    PositionRecord,
    PositionStatus,
    client_order_id,
)
from tests.unit.trading.rig import DAY, MARKET, Rig, liquid_tickers, make_rig, range_under


def _write_entry(rig: Rig, ticker: str, *, limit: Decimal | None = None) -> IntentRecord:
    """What the watch commits before placing an entry: the intent, and its candidate
    entered, in one unit of work (nothing is sent)."""
    now = rig.clock.now()
    contract = MARKET.ticker(ticker)
    last = MARKET.price_at(ticker, now)
    assert contract is not None and last is not None
    fields = range_under(ticker, now, "0.05", "0.25")
    with rig.store.transaction() as tx:
        candidate = tx.save_candidate(
            CandidateRecord(
                scan_date=DAY,
                ticker=ticker,
                status=CandidateState.TRADEABLE,
                conid=contract.conid,
                price_sensitive=True,
                **fields,
            ),
            now,
        )
        intent = tx.add_intent(
            IntentRecord(
                client_order_id=client_order_id(DAY, ticker, IntentPurpose.ENTRY),
                ticker=ticker,
                conid=contract.conid,
                side=Side.BUY.value,
                qty=100,
                order_type=OrderType.LMT.value,
                limit_price=limit if limit is not None else last + Decimal("0.02"),
                purpose=IntentPurpose.ENTRY,
                created_at=now,
                candidate_id=candidate.id,
            )
        )
        tx.save_candidate(candidate.entered(), now)
    return intent


async def test_reconcile_places_an_entry_left_unplaced_exactly_once() -> None:
    rig = await make_rig()
    ticker = liquid_tickers(1)[0]
    rig.at(11, 0)
    intent = _write_entry(rig, ticker)  # ... and the daemon stopped here
    assert await rig.desk.reconcile(allow_entries=True) == 1
    assert await rig.desk.reconcile(allow_entries=True) == 0
    with rig.store.read() as tx:
        placed = tx.intent(intent.client_order_id)
    assert placed is not None and placed.status is IntentStatus.FILLED
    fills = await rig.broker.executions(rig.clock.now() - timedelta(hours=1))
    assert [f.client_order_id for f in fills] == [intent.client_order_id]
    position = rig.position(ticker)
    assert position is not None and position.qty == 100 and position.is_open
    assert rig.candidate(ticker).status is CandidateState.ENTERED
    # placed and filled are journal facts; the entry's one message waits for its stop
    assert rig.store.alert_kinds() == []


async def test_an_unplaced_entry_is_dropped_when_entries_are_closed() -> None:
    rig = await make_rig()
    ticker = liquid_tickers(1)[0]
    rig.at(11, 0)
    intent = _write_entry(rig, ticker)
    rig.clock.advance(60)  # the restart, a minute after the process that wrote it died
    await rig.desk.reconcile(allow_entries=False)
    with rig.store.read() as tx:
        dropped = tx.intent(intent.client_order_id)
    assert dropped is not None and dropped.status is IntentStatus.CANCELLED
    assert "entries are closed" in (dropped.reason or "")
    assert await rig.broker.find_order(intent.client_order_id) is None
    assert rig.candidate(ticker).status is CandidateState.EXPIRED  # its entry lapsed
    assert rig.store.alert_kinds() == ["entry_lapsed"]


async def test_an_entry_not_filled_in_time_is_cancelled_and_its_candidate_expires() -> None:
    rig = await make_rig()
    ticker = liquid_tickers(1)[0]
    now = rig.at(11, 0)
    last = MARKET.price_at(ticker, now)
    assert last is not None
    far_below = round_to_tick(last * Decimal("0.8"), TickDirection.DOWN)
    placed = await rig.desk.place(_write_entry(rig, ticker, limit=far_below))
    assert placed.status is IntentStatus.SUBMITTED
    assert not await rig.desk.refresh()  # still working, not yet late
    rig.clock.advance(rig.ctx.params.entry_timeout_s)
    assert await rig.desk.refresh()
    with rig.store.read() as tx:
        ended = tx.intent(placed.client_order_id)
    assert ended is not None and ended.status is IntentStatus.CANCELLED and ended.filled_qty == 0
    assert rig.candidate(ticker).status is CandidateState.EXPIRED
    assert rig.position(ticker) is None
    assert not await rig.desk.refresh()
    (lapsed,) = rig.store.alerts  # one short message, and only one
    assert isinstance(lapsed, EntryLapsed)
    assert (lapsed.symbol, lapsed.ordered, lapsed.limit_price) == (ticker, 100, far_below)
    assert lapsed.reason == "entry not filled in time"


async def test_a_buy_into_an_open_position_averages_its_price() -> None:
    rig = await make_rig()
    ticker = liquid_tickers(1)[0]
    rig.at(11, 0)
    with rig.store.transaction() as tx:
        held = tx.save_position(
            PositionRecord(
                ticker=ticker,
                qty=300,
                avg_price=Decimal("1.00"),
                entry_date=DAY,
                opened_at=rig.clock.now(),
            )
        )
    filled = await rig.desk.place(_write_entry(rig, ticker))
    assert filled.status is IntentStatus.FILLED and filled.avg_fill_price is not None
    with rig.store.read() as tx:
        after = tx.open_position_for(ticker)
    assert after is not None and after.id == held.id
    assert after == held.add_fill(100, filled.avg_fill_price)
    assert after.qty == 400


async def test_a_half_exit_reduces_the_position_and_is_remembered() -> None:
    rig = await make_rig()
    ticker = liquid_tickers(1)[0]
    rig.at(11, 0)
    await rig.desk.place(_write_entry(rig, ticker))
    held = rig.position(ticker)
    assert held is not None and held.id is not None and held.conid is not None
    rig.clock.advance(60)
    with rig.store.transaction() as tx:
        half = tx.add_intent(
            IntentRecord(
                client_order_id=client_order_id(
                    DAY, ticker, IntentPurpose.PARTIAL, position_id=held.id
                ),
                ticker=ticker,
                conid=held.conid,
                side=Side.SELL.value,
                qty=50,
                order_type=OrderType.MKT.value,
                purpose=IntentPurpose.PARTIAL,
                created_at=rig.clock.now(),
                candidate_id=held.candidate_id,
                position_id=held.id,
            )
        )
    sold = await rig.desk.place(half)
    assert sold.status is IntentStatus.FILLED and sold.avg_fill_price is not None
    after = rig.position(ticker)
    assert after is not None and after.status is PositionStatus.OPEN
    assert (after.qty, after.avg_price, after.partial_exit_done) == (50, held.avg_price, True)
    assert rig.candidate(ticker).status is CandidateState.ENTERED  # still held
    (exited,) = [a for a in rig.store.alerts if isinstance(a, PositionExited)]
    assert exited.reason is ExitReason.PARTIAL and exited.quantity == 50
    assert exited.pnl == (sold.avg_fill_price - held.avg_price) * 50
    # its fees: half the entry's commission (50 of 100 shares) and the sale's own
    fills = await rig.broker.executions(rig.clock.now() - timedelta(hours=1))
    paid = {f.client_order_id: f.commission for f in fills}
    entry_coid = client_order_id(DAY, ticker, IntentPurpose.ENTRY)
    assert exited.fees == (paid[entry_coid] / 2).quantize(Decimal("0.01")) + paid[
        sold.client_order_id
    ]
    assert exited.net_pnl == exited.pnl - exited.fees
    assert exited.initial_stop == rig.candidate(ticker).orl  # the plan's stop: 1R
