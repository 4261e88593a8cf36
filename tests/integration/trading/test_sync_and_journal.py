"""Position sync and the journal on the demo broker: manual trades adopted, mismatches
paused, re-syncs idempotent, round trips with partial exits."""

from __future__ import annotations

from decimal import Decimal

from skimd.domain.orders import OrderRequest, OrderType, Side
from skimd.infrastructure.database.tables import LedgerEntry, RoundTrip, Trade
from tests.integration.trading.desk import DAY, MARKET, Desk, breakout_range, liquid_tickers


async def _manual_buy(desk: Desk, ticker: str, qty: int, coid: str) -> None:
    """A trade the trader makes at the broker, outside skimd."""
    contract = MARKET.ticker(ticker)
    assert contract is not None
    await desk.broker.place_order(
        OrderRequest(coid, ticker, contract.conid, Side.BUY, qty, OrderType.MKT)
    )


def _counts(desk: Desk) -> tuple[int, int, int, int]:
    with desk.db.unit_of_work(read_only=True) as uow:
        return (
            len(uow.trades.list_all()),
            len(uow.round_trips.list_all()),
            len(uow.ledger.list_all()),
            len(uow.outbox.list_all()),
        )


async def test_a_manual_trade_is_adopted_and_alerted(desk: Desk) -> None:
    ticker = liquid_tickers(DAY, 1)[0]
    desk.at(DAY, 11, 0)
    await _manual_buy(desk, ticker, 100, "MANUAL-1")
    outcome = await desk.journal.sync.run()
    assert outcome.adopted == [ticker] and outcome.new_fills == 1
    with desk.ctx.store.read() as tx:
        adopted = tx.open_position_for(ticker)
    assert adopted is not None and adopted.qty == 100 and not adopted.paused
    (alert,) = desk.alerts("position_mismatch")
    assert alert["symbol"] == ticker and alert["ours"] == 0 and alert["broker"] == 100
    assert "adopted" in alert["detail"]
    assert outcome.clean, "db, broker and executions agree after adopting"


async def test_a_quantity_mismatch_pauses_the_ticker(desk: Desk) -> None:
    ticker = liquid_tickers(DAY, 1)[0]
    desk.at(DAY, 11, 0)
    orh, orl = breakout_range(ticker, desk.clock.now())
    record = desk.tradeable(ticker, orh, orl)
    await desk.broker.snapshots([record.conid or 0])
    await desk.day.watch.poll()
    with desk.ctx.store.read() as tx:
        ours = tx.open_position_for(ticker)
    assert ours is not None
    await _manual_buy(desk, ticker, 50, "MANUAL-2")
    desk.clock.advance(5)
    outcome = await desk.journal.sync.run()
    assert outcome.paused == [ticker] and not outcome.clean
    (alert,) = desk.alerts("position_mismatch")
    assert (alert["ours"], alert["broker"]) == (ours.qty, ours.qty + 50)
    with desk.ctx.store.read() as tx:
        paused = tx.open_position_for(ticker)
    assert paused is not None and paused.paused
    # a paused ticker is left alone: no stop replaced, no exit, no new entry
    before = _counts(desk)
    desk.clock.advance(5)
    out = await desk.day.watch.poll()
    assert out.exits == [] and out.entered == []
    assert _counts(desk)[:3] == before[:3]


async def test_syncing_twice_changes_nothing(desk: Desk) -> None:
    ticker = liquid_tickers(DAY, 1)[0]
    desk.at(DAY, 11, 0)
    await _manual_buy(desk, ticker, 100, "MANUAL-3")
    await desk.journal.sync.run()
    first = _counts(desk)
    with desk.ctx.store.read() as tx:
        positions = tx.open_positions()
    desk.clock.advance(60)
    again = await desk.journal.sync.run()
    assert again.new_fills == 0 and again.adopted == [] and again.paused == []
    assert _counts(desk) == first
    with desk.ctx.store.read() as tx:
        assert tx.open_positions() == positions


async def test_round_trip_with_a_partial_exit(desk: Desk) -> None:
    ticker = liquid_tickers(DAY, 1)[0]
    desk.at(DAY, 11, 0)
    await _manual_buy(desk, ticker, 1000, "MANUAL-B")
    contract = MARKET.ticker(ticker)
    assert contract is not None
    desk.at(DAY, 12, 0)
    await desk.broker.place_order(
        OrderRequest("MANUAL-S1", ticker, contract.conid, Side.SELL, 500, OrderType.MKT)
    )
    await desk.journal.sync.run()
    with desk.db.unit_of_work(read_only=True) as uow:
        (trip,) = uow.round_trips.list_all()
        assert isinstance(trip, RoundTrip)
        assert trip.status == "open" and trip.qty == 1000
    desk.at(DAY, 14, 0)
    await desk.broker.place_order(
        OrderRequest("MANUAL-S2", ticker, contract.conid, Side.SELL, 500, OrderType.MKT)
    )
    outcome = await desk.journal.sync.run()
    assert outcome.closed == [ticker]
    with desk.db.unit_of_work(read_only=True) as uow:
        (trip,) = uow.round_trips.list_all()
        trades = [t for t in uow.trades.list_all() if isinstance(t, Trade)]
        ledger = [entry for entry in uow.ledger.list_all() if isinstance(entry, LedgerEntry)]
        assert isinstance(trip, RoundTrip) and trip.status == "closed"
        buy = next(t for t in trades if t.side == "BUY")
        sells = [t for t in trades if t.side == "SELL"]
        gross = sum(((s.price - buy.price) * s.qty for s in sells), Decimal(0))
        fees = sum((t.commission for t in trades), Decimal(0))
        assert trip.gross_pnl == gross
        assert trip.net_pnl == gross - fees and trip.fees == fees
        assert all(t.round_trip_id == trip.id for t in trades)
        assert len(ledger) == 3 and sum((e.amount for e in ledger), Decimal(0)) == -fees
