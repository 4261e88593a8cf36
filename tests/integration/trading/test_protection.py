"""A refused exit never leaves a position naked: the end-of-day flatten, the day-3 partial
exit and the moving-average trail cancel the resting stop before they sell; when the broker
refuses the sale, the stop goes back at once, and the exit is retried with a back-off."""

from __future__ import annotations

import io
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import pairwise
from pathlib import Path

from skimd import bootstrap
from skimd.commands.status import render
from skimd.domain.market import Bar
from skimd.domain.orders import OrderStatus, OrderType, Side
from skimd.domain.protection import RETRY_BASE_S
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


async def _poll_for(desk: Desk, *, seconds: int) -> None:
    for _ in range(seconds // 5):
        desk.clock.advance(5)
        await desk.day.watch.poll()


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


async def test_status_says_what_protects_each_position_and_what_the_broker_refused(
    data_dir: Path,
) -> None:
    desk, broker = _refusing_desk(data_dir)
    broker.refuse(IntentPurpose.STOP)
    position = await _enter(desk)
    ticker = position.ticker
    with_params(desk, flatten_at_close=True)
    broker.refuse(IntentPurpose.FLATTEN)
    desk.at(DAY, 15, 45, 5)
    await desk.day.watch.poll()

    (shown,) = desk.app.status_report()["positions"]  # the daemon (this App) runs
    found = shown["protection"]
    assert (found["cover"], found["protected"], found["shares"]) == (
        "software_stop",
        True,
        position.qty,
    )
    assert Decimal(found["stop"]) == position.stop and "refused the resting stop" in found["why"]
    refused = {r["order"]: r for r in found["refusals"]}
    assert set(refused) == {"stop", "flatten"}
    assert refused["flatten"]["refused"] == 1 and "fault injection" in refused["flatten"]["reason"]
    (flatten_refused_at,) = [r.at for r in broker.refused if r.kind is IntentPurpose.FLATTEN]
    assert datetime.fromisoformat(refused["flatten"]["next_try"]) == flatten_refused_at + (
        timedelta(seconds=RETRY_BASE_S)
    )
    text = io.StringIO()
    render(desk.app.status_report(), text)
    lines = text.getvalue().splitlines()
    assert any(
        "protected by software stop (while skimd runs)" in line and f"at {position.stop}" in line
        for line in lines
    )
    assert any("broker refused the end-of-day flatten once" in line for line in lines)
    settings = desk.app.settings
    desk.close()

    # no daemon: nothing polls the price, so the software stop protects nothing
    with bootstrap.build(settings, clock=desk.clock) as app:
        (shown,) = app.status_report()["positions"]
        text = io.StringIO()
        render(app.status_report(), text)
    assert (shown["protection"]["cover"], shown["protection"]["protected"]) == (
        "software_stop",
        False,
    )
    assert "NOT PROTECTED: the software stop acts only while skimd runs" in text.getvalue()
    assert ticker in text.getvalue()


async def test_a_resting_stop_taken_again_after_refusals_says_so_once(data_dir: Path) -> None:
    desk, broker = _refusing_desk(data_dir)
    broker.refuse(IntentPurpose.STOP)
    position = await _enter(desk)
    ticker = position.ticker
    await _poll_for(desk, seconds=120)
    assert len(broker.refused) >= 3
    broker.accept(IntentPurpose.STOP)
    await _poll_for(desk, seconds=300)
    assert await _covered_at_the_broker(desk, ticker) == position.qty
    (restored,) = [a for a in desk.alerts("protection_restored") if a["symbol"] == ticker]
    assert restored["refusals"] == len(broker.refused) and restored["quantity"] == position.qty
    (fallback,) = [a for a in desk.alerts("protection_fallback") if a["symbol"] == ticker]
    assert fallback["cover"] == "software_stop"
    (shown,) = desk.app.status_report()["positions"]
    assert shown["protection"]["cover"] == "broker_stop" and shown["protection"]["refusals"] == []
    desk.close()


async def test_a_raised_stop_the_broker_refuses_falls_back_to_the_software_stop(
    data_dir: Path,
) -> None:
    desk, broker = _refusing_desk(data_dir)
    position = await _enter(desk)
    assert position.stop is not None
    higher = position.stop + Decimal("0.10")
    with desk.ctx.store.transaction() as tx:  # yesterday's low is above the stop
        tx.save_bars([Bar(position.ticker, DAY, higher + 1, higher + 2, higher, higher + 1, 1)])
    broker.refuse(IntentPurpose.STOP)
    desk.at(DAY3 - timedelta(days=1), 10, 30)
    await desk.day.watch.poll()  # day 2: the stop ratchets; the old stop goes, the new is refused
    stops = _intents(desk, position, IntentPurpose.STOP)
    assert [s.status for s in stops] == [IntentStatus.CANCELLED, IntentStatus.REJECTED]
    (shown,) = desk.app.status_report()["positions"]
    assert shown["protection"]["cover"] == "software_stop"
    assert Decimal(shown["protection"]["stop"]) == higher
    assert [a["refused"] for a in desk.alerts("protection_fallback")] == ["stop"]
    desk.close()


async def test_a_refused_software_stop_exit_is_retried_after_its_back_off(data_dir: Path) -> None:
    desk, broker = _refusing_desk(data_dir)
    with_params(desk, resting_stop=False)
    ticker = liquid_tickers(DAY, 1)[0]
    desk.at(DAY, 11, 0)
    orh, _ = breakout_range(ticker, desk.clock.now())
    record = desk.tradeable(ticker, orh, orh + Decimal("0.03"))  # the stop is above the price
    await desk.broker.connect()
    await desk.broker.snapshots([record.conid or 0])
    broker.refuse(IntentPurpose.STOP_EXIT, every=1)
    assert (await desk.day.watch.poll()).entered == [ticker]
    position = _position(desk, ticker)
    for _ in range(5000):
        desk.clock.advance(5)
        await desk.day.watch.poll()
        if broker.refused:
            break
    first = broker.refused[0].at
    broker.accept(IntentPurpose.STOP_EXIT)
    closed_at = None
    for _ in range(60):
        desk.clock.advance(5)
        out = await desk.day.watch.poll()
        if out.exits:
            closed_at = desk.clock.now()
            break
    assert closed_at is not None and closed_at - first >= timedelta(seconds=30)
    with desk.ctx.store.read() as tx:
        assert tx.open_position_for(ticker) is None
    sells = _intents(desk, position, IntentPurpose.STOP_EXIT)
    assert [s.status for s in sells] == [IntentStatus.REJECTED, IntentStatus.FILLED]
    (fallback,) = desk.alerts("protection_fallback")
    assert (fallback["refused"], fallback["cover"]) == ("stop_exit", "software_stop")
    desk.close()


async def test_a_resting_stop_whose_answer_was_lost_is_guarded_meanwhile_and_never_doubled(
    data_dir: Path,
) -> None:
    desk, broker = _refusing_desk(data_dir)
    broker.time_out(IntentPurpose.STOP, every=1)
    ticker = liquid_tickers(DAY, 1)[0]
    desk.at(DAY, 11, 0)
    orh, _ = breakout_range(ticker, desk.clock.now())
    record = desk.tradeable(ticker, orh, (orh / 2).quantize(Decimal("0.01")))
    await desk.broker.connect()
    await desk.broker.snapshots([record.conid or 0])
    assert (await desk.day.watch.poll()).entered == [ticker]
    position = _position(desk, ticker)
    (lost,) = _intents(desk, position, IntentPurpose.STOP)
    assert lost.status is IntentStatus.UNKNOWN and len(broker.timed_out) == 1
    (shown,) = desk.app.status_report()["positions"]
    assert shown["protection"]["cover"] == "software_stop"  # not confirmed: the watch guards
    assert "not confirmed" in shown["protection"]["why"]
    await _poll_for(desk, seconds=60)  # the desk settles it by client order id
    (settled,) = _intents(desk, position, IntentPurpose.STOP)
    assert settled.status is IntentStatus.SUBMITTED, "adopted, never placed a second time"
    assert await _covered_at_the_broker(desk, ticker) == position.qty
    (shown,) = desk.app.status_report()["positions"]
    assert shown["protection"]["cover"] == "broker_stop"
    assert desk.alerts("protection_fallback") == []
    desk.close()
