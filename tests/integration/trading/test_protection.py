"""A refused exit never leaves a position naked: the end-of-day flatten, the day-3 partial
exit and the moving-average trail cancel the resting stop before they sell; when the broker
refuses the sale, the stop goes back at once, and the exit is retried with a back-off."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import pairwise
from pathlib import Path

from skimd.domain.market import Bar
from skimd.domain.orders import OrderStatus, OrderType, Side
from skimd.domain.trading import IntentPurpose, IntentRecord, IntentStatus, PositionRecord
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
    with_params,
)

DAY3 = date(2026, 11, 26)
DAY4 = date(2026, 11, 27)


def _refusing_desk(data_dir: Path) -> tuple[Desk, RefusingBroker]:
    clock = desk_clock()
    broker = RefusingBroker(
        MARKET, clock, events=RecordingBrokerEvents(), identifier_cache=InMemoryIdentifierCache()
    )
    return make_desk(data_dir, clock=clock, broker=broker), broker


async def _enter(desk: Desk) -> PositionRecord:
    """Enter the first liquid ticker at 11:00 on DAY (stop at half the price), and let the
    watch put its resting stop out."""
    ticker = liquid_tickers(DAY, 1)[0]
    desk.at(DAY, 11, 0)
    orh, _ = breakout_range(ticker, desk.clock.now())
    record = desk.tradeable(ticker, orh, (orh / 2).quantize(Decimal("0.01")))
    await desk.broker.connect()
    await desk.broker.snapshots([record.conid or 0])
    assert (await desk.day.watch.poll()).entered == [ticker]
    desk.clock.advance(5)
    await desk.day.watch.poll()
    return _position(desk, ticker)


def _position(desk: Desk, ticker: str) -> PositionRecord:
    with desk.ctx.store.read() as tx:
        found = tx.open_position_for(ticker)
    assert found is not None
    return found


def _intents(desk: Desk, position: PositionRecord, purpose: IntentPurpose) -> list[IntentRecord]:
    assert position.id is not None
    with desk.ctx.store.read() as tx:
        return [i for i in tx.intents_for_position(position.id) if i.purpose is purpose]


async def _covered_at_the_broker(desk: Desk, ticker: str) -> int:
    """Shares of ``ticker`` a working sell order at the broker covers (stops and exits)."""
    return sum(
        o.remaining
        for o in await desk.broker.open_orders()
        if o.symbol == ticker
        and o.side is Side.SELL
        and o.status in (OrderStatus.SUBMITTED, OrderStatus.PARTIALLY_FILLED)
    )


async def _poll_until(desk: Desk, ticker: str, end: datetime) -> None:
    """Poll every 5 s until ``end``; after every poll the broker holds a working sell order
    for every share still held."""
    while desk.clock.now() < end:
        desk.clock.advance(5)
        await desk.day.watch.poll()
        held = _position(desk, ticker).qty
        covered = await _covered_at_the_broker(desk, ticker)
        assert covered >= held, f"{desk.clock.now():%H:%M:%S}: {covered} of {held} covered"


def _when(desk: Desk, day: date, hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm, ss), desk.calendar.zone)


def _backs_off(intents: list[IntentRecord]) -> list[float]:
    tries = sorted(i.created_at for i in intents)
    gaps = [(b - a).total_seconds() for a, b in pairwise(tries)]
    assert gaps and gaps == sorted(gaps) and gaps[0] < gaps[-1], f"no back-off: {gaps}"
    return gaps


def _refusal_alerts(desk: Desk, ticker: str) -> tuple[int, int]:
    """(order_rejected alerts, protection_fallback alerts) of ``ticker``."""
    rejected = [a for a in desk.alerts("order_rejected") if a["symbol"] == ticker]
    fallback = [a for a in desk.alerts("protection_fallback") if a["symbol"] == ticker]
    return len(rejected), len(fallback)


async def test_a_refused_flatten_puts_the_resting_stop_back_until_the_close(
    data_dir: Path,
) -> None:
    desk, broker = _refusing_desk(data_dir)
    position = await _enter(desk)
    ticker = position.ticker
    broker.refuse(IntentPurpose.FLATTEN)
    with_params(desk, flatten_at_close=True)
    desk.at(DAY, 15, 45, 5)
    await desk.day.watch.poll()  # the flatten is due: stop cancelled, flatten refused
    assert [r.kind for r in broker.refused] == [IntentPurpose.FLATTEN]
    assert await _covered_at_the_broker(desk, ticker) == position.qty, "stop put back at once"

    await _poll_until(desk, ticker, _when(desk, DAY, 15, 59, 55))
    after_close = desk.at(DAY, 16, 5)
    assert _position(desk, ticker).qty == position.qty
    working = [o for o in await desk.broker.open_orders() if o.symbol == ticker]
    assert (
        [(o.order_type, o.remaining, o.tif) for o in working]
        == [(OrderType.STP, position.qty, working[0].tif)]
        and working[0].tif is not None
        and working[0].tif.value == "GTC"
    ), after_close
    _backs_off(_intents(desk, position, IntentPurpose.FLATTEN))
    assert len(broker.refused) == len(_intents(desk, position, IntentPurpose.FLATTEN)) >= 3
    assert _refusal_alerts(desk, ticker) == (1, 1)
    desk.close()


async def test_a_refused_partial_exit_keeps_the_stop_and_sells_when_accepted(
    data_dir: Path,
) -> None:
    desk, broker = _refusing_desk(data_dir)
    position = await _enter(desk)
    ticker = position.ticker
    broker.refuse(IntentPurpose.PARTIAL)
    desk.at(DAY3, 10, 5)
    await desk.day.watch.poll()  # day 3: the half exit is due and refused
    assert await _covered_at_the_broker(desk, ticker) == position.qty, "stop put back at once"

    await _poll_until(desk, ticker, _when(desk, DAY3, 10, 15))
    assert _position(desk, ticker).qty == position.qty
    _backs_off(_intents(desk, position, IntentPurpose.PARTIAL))
    assert _refusal_alerts(desk, ticker) == (1, 1)

    broker.accept(IntentPurpose.PARTIAL)
    await _poll_until(desk, ticker, _when(desk, DAY3, 10, 25))
    after = _position(desk, ticker)
    assert after.partial_exit_done and after.qty == position.qty - position.qty // 2
    partials = _intents(desk, position, IntentPurpose.PARTIAL)
    assert [i.status for i in partials][-1] is IntentStatus.FILLED
    assert await _covered_at_the_broker(desk, ticker) == after.qty
    desk.close()


async def test_a_refused_trail_exit_keeps_the_stop_on_the_rest(data_dir: Path) -> None:
    desk, broker = _refusing_desk(data_dir)
    position = await _enter(desk)
    ticker = position.ticker
    desk.at(DAY3, 10, 5)
    await desk.day.watch.poll()  # the half exit, accepted
    desk.clock.advance(5)
    await desk.day.watch.poll()
    rest = _position(desk, ticker)
    assert rest.partial_exit_done and rest.qty < position.qty
    closes = [Decimal("2.60") - Decimal("0.05") * i for i in range(12)]
    day, bars = DAY3, []
    for close in reversed(closes):  # closes falling through their 10-day average
        bars.append(Bar(ticker, day, close, close, close / 4, close, 1000))
        day -= timedelta(days=1)
    with desk.ctx.store.transaction() as tx:
        tx.save_bars(bars)

    broker.refuse(IntentPurpose.TRAIL)
    desk.at(DAY4, 10, 5)
    await desk.day.watch.poll()  # the trail exit is due and refused
    assert [r.kind for r in broker.refused] == [IntentPurpose.TRAIL]
    assert await _covered_at_the_broker(desk, ticker) == rest.qty, "stop put back at once"
    await _poll_until(desk, ticker, _when(desk, DAY4, 10, 20))
    _backs_off(_intents(desk, position, IntentPurpose.TRAIL))
    assert _refusal_alerts(desk, ticker) == (1, 1)
    desk.close()
