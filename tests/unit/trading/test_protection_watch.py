"""The watch keeps every position protected: a fill gets its resting stop in the poll that
sees it, and a resting stop the broker refuses hands the position to the software stop (one
critical alert, retries backing off to a cap) until the broker takes a stop again."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal
from itertools import pairwise

from skimd.domain.orders import OrderStatus, OrderType, Side
from skimd.domain.trading import CandidateState, IntentPurpose, IntentStatus, PositionStatus
from tests.fakes.refusing_broker import RefusingBroker
from tests.unit.trading.rig import DAY, MARKET, Rig, liquid_tickers, make_rig, range_under


def _sydney(rig: Rig, at: time) -> datetime:
    return datetime.combine(DAY, at, rig.calendar.zone)


def _falls_to_its_stop(rig: Rig) -> tuple[str, dict[str, Decimal], datetime]:
    """A ticker that breaks out at 11:00 and whose price later falls to the range low, with
    the first 5-second poll at or below it (more than 20 minutes after the entry)."""
    start = _sydney(rig, time(11, 0))
    close = _sydney(rig, time(15, 45))
    for ticker in liquid_tickers(40):
        fields = range_under(ticker, start, "0.03", "0.10")
        crossed = MARKET.first_cross(ticker, start, close, fields["orl"], below=True)
        if crossed is None or crossed[0] < start + timedelta(minutes=25):
            continue
        at = start + timedelta(seconds=5) * ((crossed[0] - start) // timedelta(seconds=5))
        while (last := MARKET.quote(ticker, at).last) is None or last > fields["orl"]:
            at += timedelta(seconds=5)
        return ticker, fields, at
    raise AssertionError("no ticker falls to its stop in the demo market")


async def _working_stops(rig: Rig, ticker: str) -> list[int]:
    """Quantities of the sell stops working at the broker for ``ticker``."""
    return [
        o.remaining
        for o in await rig.broker.open_orders()
        if o.symbol == ticker
        and o.side is Side.SELL
        and o.order_type is OrderType.STP
        and o.status in (OrderStatus.SUBMITTED, OrderStatus.PARTIALLY_FILLED)
    ]


async def test_a_fill_gets_its_resting_stop_in_the_poll_that_sees_it() -> None:
    rig = await make_rig()
    ticker = liquid_tickers(1)[0]
    now = rig.at(11, 0)
    fields = range_under(ticker, now, "0.05", "0.25")
    rig.add(ticker, status=CandidateState.TRADEABLE, price_sensitive=True, **fields)

    assert (await rig.watch.poll()).entered == [ticker]

    held = rig.position(ticker)
    assert held is not None and held.qty > 0
    (stop,) = [i for i in rig.intents() if i.purpose is IntentPurpose.STOP]
    assert stop.status is IntentStatus.SUBMITTED and stop.created_at == now
    assert (stop.qty, stop.stop_price) == (held.qty, fields["orl"])
    assert await _working_stops(rig, ticker) == [held.qty]


async def test_a_refused_resting_stop_hands_the_position_to_the_software_stop() -> None:
    rig = await make_rig(broker_class=RefusingBroker)
    broker = rig.broker
    assert isinstance(broker, RefusingBroker)
    broker.refuse(IntentPurpose.STOP)
    ticker, fields, due = _falls_to_its_stop(rig)
    rig.at(11, 0)
    rig.add(ticker, status=CandidateState.TRADEABLE, price_sensitive=True, **fields)
    assert (await rig.watch.poll()).entered == [ticker]
    held = rig.position(ticker)
    assert held is not None and held.stop == fields["orl"]

    for _ in range(20 * 12):  # twenty minutes of polls, every resting stop refused
        rig.clock.advance(5)
        assert (await rig.watch.poll()).exits == []
    polled_until = rig.clock.now()
    rig.clock.advance_to(due - timedelta(seconds=5))
    assert (await rig.watch.poll()).exits == []  # not at the stop yet
    rig.clock.advance_to(due)
    assert (await rig.watch.poll()).exits == [f"{ticker}:stop"]  # the software stop sells

    (sold,) = [i for i in rig.intents() if i.purpose is IntentPurpose.STOP_EXIT]
    assert sold.status is IntentStatus.FILLED and sold.qty == held.qty
    closed = rig.position(ticker)
    assert closed is not None and closed.status is PositionStatus.CLOSED
    # the resting stop was tried again and again, backing off to a cap
    every = sorted(i.created_at for i in rig.intents() if i.purpose is IntentPurpose.STOP)
    assert len(broker.refused) == len(every)
    tries = [t for t in every if t <= polled_until]  # while polled every 5 s
    assert len(tries) >= 6
    gaps = [(b - a).total_seconds() for a, b in pairwise(tries)]
    early = gaps[:4]
    assert early == sorted(early) and early[0] < early[-1], f"backs off: {gaps}"
    assert gaps[-1] == gaps[-2], f"then stays at its cap: {gaps}"
    # ONE critical alert for the episode, and one refusal alert, not one per retry
    kinds = rig.store.alert_kinds()
    assert kinds.count("protection_fallback") == 1
    assert kinds.count("order_rejected") == 1
