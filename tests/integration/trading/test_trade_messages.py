"""The figures the trader reads agree with the journal: an entry's fees, each exit's gross,
fees, net P&L and R (a day-3 half exit its own part), and the daily summary's round trips,
all recomputed here from the journal's rows (trades with their commissions, round trips)
after the end-of-day sync."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from skimd.domain.alerts import PositionExited
from skimd.domain.market import Bar
from skimd.infrastructure.alert_codec import alert_from_payload
from skimd.infrastructure.database.tables import RoundTrip, Trade
from tests.integration.trading.desk import DAY, Desk, breakout_range, liquid_tickers

DAY3 = date(2026, 11, 26)
DAY4 = date(2026, 11, 27)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class _Trade:
    ticker: str
    side: str
    qty: int
    price: Decimal
    commission: Decimal
    executed_at: datetime


@dataclass(frozen=True)
class _Trip:
    status: str
    qty: int
    entry_avg: Decimal
    gross_pnl: Decimal | None
    fees: Decimal
    net_pnl: Decimal | None


def _journal(desk: Desk) -> tuple[list[_Trade], list[_Trip]]:
    """The journal's trades and round trips, as their rows hold them."""
    with desk.db.unit_of_work(read_only=True) as uow:
        trades = [
            _Trade(t.ticker, t.side, int(t.qty), t.price, t.commission, t.executed_at)
            for t in uow.trades.list_all()
            if isinstance(t, Trade)
        ]
        trips = [
            _Trip(r.status, int(r.qty), r.entry_avg, r.gross_pnl, r.fees, r.net_pnl)
            for r in uow.round_trips.list_all()
            if isinstance(r, RoundTrip)
        ]
    return trades, trips


def _d(alert: dict[str, Any], name: str) -> Decimal:
    return Decimal(alert[name])


def _exited(row: dict[str, Any]) -> PositionExited:
    """The exit alert the outbox row holds, as the trader's channels read it."""
    data = {k: v for k, v in row.items() if k != "kind"}
    alert = alert_from_payload({"kind": row["kind"], "data": data})
    assert isinstance(alert, PositionExited)
    return alert


def _recomputed_exit(
    exit_: dict[str, Any], trades: list[_Trade], ticker: str, nth: int = 0
) -> Decimal:
    """An exit's fees from the journal: the buys' commissions pro rata for the shares it
    sold, plus the commission of the ``nth`` sell of ``ticker`` (the one that sold them)."""
    buys = [t for t in trades if t.ticker == ticker and t.side == "BUY"]
    bought = sum(t.qty for t in buys)
    entry_share = (sum(t.commission for t in buys) * exit_["quantity"] / bought).quantize(CENT)
    sells = sorted(
        (t for t in trades if t.ticker == ticker and t.side == "SELL"),
        key=lambda t: t.executed_at,
    )
    assert sells[nth].qty == exit_["quantity"]
    return entry_share + sells[nth].commission


async def test_a_stopped_out_day_reads_as_the_journal_books_it(desk: Desk) -> None:
    ticker = liquid_tickers(DAY, 1)[0]
    desk.at(DAY, 11, 0)
    orh, _ = breakout_range(ticker, desk.clock.now())
    record = desk.tradeable(ticker, orh, orh + Decimal("0.03"))  # a stop the day hits
    await desk.broker.snapshots([record.conid or 0])
    assert (await desk.day.watch.poll()).entered == [ticker]
    for _ in range(2000):  # until the resting stop fills
        desk.clock.advance(5)
        await desk.day.watch.poll()
        with desk.ctx.store.read() as tx:
            if tx.open_position_for(ticker) is None:
                break
    desk.at(DAY, 16, 15)
    await desk.journal.run(DAY)
    trades, trips = _journal(desk)
    (trip,) = trips
    assert trip.status == "closed" and trip.net_pnl is not None

    kinds = [a["kind"] for a in desk.alerts()]
    assert "order_placed" not in kinds and "order_filled" not in kinds
    (entry,) = desk.alerts("entry_settled")
    (buy,) = [t for t in trades if t.side == "BUY"]
    assert (entry["quantity"], _d(entry, "price")) == (buy.qty, buy.price)
    assert _d(entry, "fees") == buy.commission > 0
    assert _d(entry, "stop") == record.orl

    (exit_,) = desk.alerts("position_exited")
    assert _d(exit_, "pnl") == trip.gross_pnl
    assert _d(exit_, "fees") == trip.fees == _recomputed_exit(exit_, trades, ticker)
    net = _d(exit_, "pnl") - _d(exit_, "fees")
    assert net == trip.net_pnl
    risk = (trip.entry_avg - _d(exit_, "initial_stop")) * trip.qty
    assert _d(exit_, "initial_stop") == record.orl and risk > 0
    told = _exited(exit_)
    assert (told.net_pnl, told.risk) == (trip.net_pnl, risk)
    assert told.r_multiple == (trip.net_pnl / risk).quantize(CENT)

    (summary,) = desk.alerts("daily_summary")
    assert (summary["wins"], summary["losses"], summary["open_positions"]) == (
        int(trip.net_pnl > 0),
        int(trip.net_pnl <= 0),
        0,
    )
    assert _d(summary, "realised_pnl") == trip.net_pnl
    assert _d(summary, "total_r") == (trip.net_pnl / risk).quantize(CENT)
    assert summary["trades"] == len(trades) and _d(summary, "fees") == sum(
        t.commission for t in trades
    )


async def test_a_half_exit_and_the_trail_each_state_their_own_part(desk: Desk) -> None:
    ticker = liquid_tickers(DAY, 1)[0]
    desk.at(DAY, 11, 0)
    orh, _ = breakout_range(ticker, desk.clock.now())
    record = desk.tradeable(ticker, orh, (orh / 2).quantize(CENT))
    await desk.broker.snapshots([record.conid or 0])
    assert (await desk.day.watch.poll()).entered == [ticker]
    desk.at(DAY3, 10, 5)
    assert (await desk.day.watch.poll()).exits == [f"{ticker}:partial"]
    desk.clock.advance(5)
    await desk.day.watch.poll()
    closes = [Decimal("2.60") - Decimal("0.05") * i for i in range(12)]
    bars, day = [], DAY3
    for close in reversed(closes):
        bars.append(Bar(ticker, day, close, close, close / 4, close, 1000))
        day -= timedelta(days=1)
    with desk.ctx.store.transaction() as tx:
        tx.save_bars(bars)
    desk.at(DAY4, 10, 5)
    assert (await desk.day.watch.poll()).exits == [f"{ticker}:trail"]
    desk.clock.advance(5)
    await desk.day.watch.poll()
    await desk.journal.sync.run(desk.calendar.day_bounds(DAY)[0])
    trades, trips = _journal(desk)
    (trip,) = trips
    assert trip.status == "closed" and trip.net_pnl is not None

    half, rest = desk.alerts("position_exited")
    assert (half["reason"], rest["reason"]) == ("partial", "trail")
    assert half["quantity"] + rest["quantity"] == trip.qty
    for nth, part in enumerate((half, rest)):
        assert _d(part, "fees") == _recomputed_exit(part, trades, ticker, nth)
        risk = (trip.entry_avg - record.orl) * part["quantity"]  # the part's own 1R
        assert _d(part, "initial_stop") == record.orl and risk > 0
        told = _exited(part)
        net = _d(part, "pnl") - _recomputed_exit(part, trades, ticker, nth)
        assert (told.net_pnl, told.risk) == (net, risk)
        assert told.r_multiple == (net / risk).quantize(CENT)
    nets = [_d(p, "pnl") - _d(p, "fees") for p in (half, rest)]
    assert sum(nets) == trip.net_pnl  # the parts add up to the round trip
    assert len(desk.alerts("entry_settled")) == 1  # day 3's new stop told nothing new
