"""Managing positions: stops that only ratchet up, the resting stop at the broker, the
day-3 half exit, the moving-average trail, the end-of-day flatten, the software stop."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from skimd.domain.market import Bar
from skimd.domain.trading import IntentPurpose, IntentStatus, PositionRecord
from tests.integration.trading.desk import (
    DAY,
    MARKET,
    Desk,
    breakout_range,
    liquid_tickers,
    with_params,
)

DAY2 = date(2026, 11, 25)
DAY3 = date(2026, 11, 26)
DAY4 = date(2026, 11, 27)


async def _enter(desk: Desk, ticker: str, *, orl: Decimal | None = None) -> PositionRecord:
    """Enter ``ticker`` at 11:00 on DAY; the stop (ORL) defaults to half the price."""
    desk.at(DAY, 11, 0)
    orh, _ = breakout_range(ticker, desk.clock.now())
    if orl is None:
        orl = (orh / 2).quantize(Decimal("0.01"))
    record = desk.tradeable(ticker, orh, orl)
    await desk.broker.snapshots([record.conid or 0])
    assert (await desk.day.watch.poll()).entered == [ticker]
    return _position(desk, ticker)


def _position(desk: Desk, ticker: str) -> PositionRecord:
    with desk.ctx.store.read() as tx:
        found = tx.open_position_for(ticker)
        if found is None:
            found = next(p for p in _all_positions(desk) if p.ticker == ticker)
    return found


def _all_positions(desk: Desk) -> list[PositionRecord]:
    from skimd.infrastructure.database.tables import Position

    with desk.db.unit_of_work(read_only=True) as uow:
        ids = [p.id for p in uow.positions.list_all() if isinstance(p, Position)]
    with desk.ctx.store.read() as tx:
        return [p for i in ids if i is not None and (p := tx.position(i)) is not None]


def _intents(desk: Desk, position: PositionRecord) -> list:  # type: ignore[type-arg]
    assert position.id is not None
    with desk.ctx.store.read() as tx:
        return tx.intents_for_position(position.id)


async def test_resting_stop_follows_the_position(desk: Desk) -> None:
    ticker = liquid_tickers(DAY, 1)[0]
    position = await _enter(desk, ticker)
    desk.clock.advance(5)
    await desk.day.watch.poll()
    stops = [i for i in _intents(desk, position) if i.purpose is IntentPurpose.STOP]
    assert len(stops) == 1
    (stop,) = stops
    assert stop.status is IntentStatus.SUBMITTED and stop.qty == position.qty
    assert stop.stop_price == position.stop and stop.tif == "GTC"
    desk.clock.advance(5)
    await desk.day.watch.poll()
    assert len([i for i in _intents(desk, position) if i.purpose is IntentPurpose.STOP]) == 1


async def test_stop_ratchets_up_only_from_the_previous_days_low(desk: Desk) -> None:
    ticker = liquid_tickers(DAY, 1)[0]
    position = await _enter(desk, ticker)
    assert position.stop is not None
    higher = position.stop + Decimal("0.10")
    lower = position.stop - Decimal("0.10")
    conid = position.conid or 0
    await desk.broker.snapshots([conid])

    def bar(day: date, low: Decimal) -> Bar:
        return Bar(ticker, day, low + 1, low + 2, low, low + 1, 1000)

    with desk.ctx.store.transaction() as tx:
        tx.save_bars([bar(DAY, lower)])
    desk.at(DAY2, 10, 30)
    await desk.day.watch.poll()
    assert _position(desk, ticker).stop == position.stop, "a lower low never lowers the stop"

    with desk.ctx.store.transaction() as tx:
        tx.save_bars([bar(DAY2, higher)])
    desk.at(DAY3, 10, 30)
    with_params(desk, partial_exit_day=99)
    await desk.day.watch.poll()
    assert _position(desk, ticker).stop == higher
    desk.clock.advance(5)
    await desk.day.watch.poll()
    stops = [i for i in _intents(desk, position) if i.purpose is IntentPurpose.STOP]
    assert [s.status for s in stops] == [IntentStatus.CANCELLED, IntentStatus.SUBMITTED]
    assert stops[-1].stop_price == higher and stops[-1].client_order_id.endswith(".2")


async def test_day_three_sells_half_then_the_trail_sells_the_rest(desk: Desk) -> None:
    ticker = liquid_tickers(DAY, 1)[0]
    position = await _enter(desk, ticker)
    desk.at(DAY2, 10, 30)
    await desk.day.watch.poll()
    assert _position(desk, ticker).partial_exit_done is False, "day 2: nothing to sell yet"

    desk.at(DAY3, 10, 5)
    out = await desk.day.watch.poll()
    assert out.exits == [f"{ticker}:partial"]
    desk.clock.advance(5)
    await desk.day.watch.poll()
    after = _position(desk, ticker)
    assert after.partial_exit_done and after.qty == position.qty - position.qty // 2
    partial = [i for i in _intents(desk, position) if i.purpose is IntentPurpose.PARTIAL]
    assert len(partial) == 1 and partial[0].qty == position.qty // 2
    assert partial[0].status is IntentStatus.FILLED
    live_stops = [
        i for i in _intents(desk, position) if i.purpose is IntentPurpose.STOP and i.status.is_open
    ]
    assert [s.qty for s in live_stops] == [after.qty], "the resting stop now covers the rest"
    exits = desk.alerts("position_exited")
    assert [e["reason"] for e in exits] == ["partial"]

    # closes falling through their 10-day average: the trail exits the rest next morning
    closes = [Decimal("2.60") - Decimal("0.05") * i for i in range(12)]
    day = DAY3
    bars = []
    for close in reversed(closes):
        bars.append(Bar(ticker, day, close, close, close / 4, close, 1000))
        day -= timedelta(days=1)
    with desk.ctx.store.transaction() as tx:
        tx.save_bars(bars)
    desk.at(DAY4, 10, 5)
    out = await desk.day.watch.poll()
    assert out.exits == [f"{ticker}:trail"]
    desk.clock.advance(5)
    await desk.day.watch.poll()
    closed = _position(desk, ticker)
    assert closed.status == "closed" and closed.qty == 0
    assert [e["reason"] for e in desk.alerts("position_exited")] == ["partial", "trail"]
    assert not [i for i in _intents(desk, position) if i.status.is_open]


async def test_no_trail_exit_while_closes_hold_above_the_average(desk: Desk) -> None:
    ticker = liquid_tickers(DAY, 1)[0]
    await _enter(desk, ticker)
    with_params(desk, partial_exit_day=2)
    desk.at(DAY2, 10, 5)
    await desk.day.watch.poll()
    desk.clock.advance(5)
    await desk.day.watch.poll()
    rising = [Decimal("1.50") + Decimal("0.05") * i for i in range(12)]
    with desk.ctx.store.transaction() as tx:
        tx.save_bars(  # lows far under the stop, so only the trail rule is in play
            [
                Bar(ticker, DAY2 - timedelta(days=12 - i), c, c, c / 4, c, 1000)
                for i, c in enumerate(rising)
            ]
        )
    desk.at(DAY3, 10, 5)
    out = await desk.day.watch.poll()
    assert out.exits == [], desk.alerts("position_exited")
    assert _position(desk, ticker).status == "open"


async def test_flatten_at_close_sells_everything(desk: Desk) -> None:
    ticker = liquid_tickers(DAY, 1)[0]
    position = await _enter(desk, ticker)
    with_params(desk, flatten_at_close=True)
    desk.at(DAY, 15, 44)
    assert (await desk.day.watch.poll()).exits == []
    desk.at(DAY, 15, 45, 5)
    assert (await desk.day.watch.poll()).exits == [f"{ticker}:flatten"]
    desk.clock.advance(5)
    await desk.day.watch.poll()
    assert _position(desk, ticker).status == "closed"
    purposes = {i.purpose: i.status for i in _intents(desk, position)}
    assert purposes[IntentPurpose.STOP] is IntentStatus.CANCELLED
    assert purposes[IntentPurpose.FLATTEN] is IntentStatus.FILLED


async def test_software_stop_exits_at_market(desk: Desk) -> None:
    ticker = liquid_tickers(DAY, 1)[0]
    with_params(desk, resting_stop=False)
    orh, _ = breakout_range(ticker, desk.at(DAY, 11, 0))
    position = await _enter(desk, ticker, orl=orh + Decimal("0.03"))
    last = MARKET.price_at(ticker, desk.clock.now())
    assert last is not None and position.stop is not None
    for _ in range(5000):
        desk.clock.advance(5)
        out = await desk.day.watch.poll()
        if out.exits:
            break
    assert out.exits == [f"{ticker}:stop"]
    desk.clock.advance(5)
    await desk.day.watch.poll()
    assert _position(desk, ticker).status == "closed"
    assert [e["reason"] for e in desk.alerts("position_exited")] == ["stop"]
