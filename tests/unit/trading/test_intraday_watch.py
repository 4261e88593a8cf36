"""IntradayWatch on the in-memory store and the demo broker: ranges, entries, stop exits."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal

from skimd.domain.alerts import EntrySettled, ExitReason, PositionExited, TradeableCandidate
from skimd.domain.entries import breakout_trigger
from skimd.domain.protection import Cover
from skimd.domain.trading import (
    CandidateState,
    IntentPurpose,
    IntentStatus,
    PositionStatus,
    client_order_id,
)
from skimd.services.trading.params import StrategyParams
from tests.unit.trading.rig import DAY, MARKET, Rig, liquid_tickers, make_rig, range_under

FIRST_SEEN = time(10, 5)
RANGE_DONE = time(10, 20, 5)  # 15 minutes and one poll later


def _sydney(rig: Rig, at: time) -> datetime:
    return datetime.combine(DAY, at, rig.calendar.zone)


def _quiet_ticker(rig: Rig) -> str:
    """A ticker with a real range by FIRST_SEEN that is not breaking out of it when the
    range completes, so that poll shows the range step alone."""
    for ticker in liquid_tickers(60):
        seen = MARKET.quote(ticker, _sydney(rig, FIRST_SEEN))
        last = MARKET.price_at(ticker, _sydney(rig, RANGE_DONE))
        if seen.high is None or seen.low is None or last is None or seen.high <= seen.low:
            continue  # not open yet, or a flat range so far
        if last <= breakout_trigger(seen.high, 1):
            return ticker
    raise AssertionError("no quiet ticker in the demo market")


async def test_a_range_grows_then_completes_tradeable_with_its_plan() -> None:
    rig = await make_rig()
    ticker = _quiet_ticker(rig)
    seen = rig.at(10, 5)
    rig.add(ticker, range_start_at=seen, price_sensitive=True)

    first = await rig.watch.poll()
    quote = MARKET.quote(ticker, seen)
    ranging = rig.candidate(ticker)
    assert first.ranged == [] and ranging.status is CandidateState.RANGING
    assert (ranging.orh, ranging.orl) == (quote.high, quote.low)
    assert [p.status for p in rig.store.plans] == ["draft"]

    rig.at(10, 20, 5)
    done = await rig.watch.poll()
    c = rig.candidate(ticker)
    assert done.ranged == [ticker] and done.entered == []
    assert c.status is CandidateState.TRADEABLE and (c.orh, c.orl) == (quote.high, quote.low)
    (alert,) = [a for a in rig.store.alerts if isinstance(a, TradeableCandidate)]
    assert c.orh is not None and c.orl is not None
    assert (alert.orh, alert.entry, alert.stop) == (c.orh, breakout_trigger(c.orh, 1), c.orl)
    (plan,) = rig.store.plans
    assert (plan.status, plan.entry, plan.stop) == ("active", alert.entry, alert.stop)
    # its chart: the prices the two polls saw, oldest first
    done_at = _sydney(rig, RANGE_DONE)
    assert [(p.at, p.price) for p in alert.path] == [
        (seen, quote.last),
        (done_at, MARKET.quote(ticker, done_at).last),
    ]
    done_quote = MARKET.quote(ticker, done_at)
    assert quote.volume is not None and done_quote.volume is not None
    assert [(v.at, v.volume) for v in alert.volumes] == [
        (done_at, done_quote.volume - quote.volume)
    ]


async def test_a_range_without_the_required_news_is_skipped_and_never_enters() -> None:
    rig = await make_rig()
    ticker = _quiet_ticker(rig)
    rig.add(ticker, range_start_at=rig.at(10, 5))
    await rig.watch.poll()
    rig.at(10, 20, 5)
    assert (await rig.watch.poll()).ranged == [ticker]
    assert rig.candidate(ticker).status is CandidateState.SKIPPED
    assert [p.status for p in rig.store.plans] == ["cancelled"]
    assert "tradeable_candidate" not in rig.store.alert_kinds()
    for minutes in range(30, 300, 30):  # whatever the price does later
        rig.clock.advance(minutes * 60)
        await rig.watch.poll()
    assert rig.intents() == []


async def test_a_breakout_enters_exactly_once() -> None:
    rig = await make_rig()
    ticker = liquid_tickers(1)[0]
    now = rig.at(11, 0)
    added = rig.add(
        ticker,
        status=CandidateState.TRADEABLE,
        price_sensitive=True,
        **range_under(ticker, now, "0.05", "0.25"),
    )
    assert (await rig.watch.poll()).entered == [ticker]
    for _ in range(3):
        rig.clock.advance(5)
        assert (await rig.watch.poll()).entered == []

    entries = [i for i in rig.intents() if i.purpose is IntentPurpose.ENTRY]
    assert [i.client_order_id for i in entries] == [
        client_order_id(DAY, ticker, IntentPurpose.ENTRY)
    ]
    (entry,) = entries
    assert entry.status is IntentStatus.FILLED and entry.candidate_id == added.id
    assert await rig.broker.find_order(entry.client_order_id) is not None
    assert rig.candidate(ticker).status is CandidateState.ENTERED
    position = rig.position(ticker)
    assert position is not None and position.status is PositionStatus.OPEN
    assert (position.qty, position.avg_price, position.stop) == (
        entry.qty,
        entry.avg_fill_price,
        added.orl,
    )
    stops = [i for i in rig.intents() if i.purpose is IntentPurpose.STOP]
    assert len(stops) == 1 and stops[0].stop_price == added.orl  # one resting stop follows
    # one message for the whole entry (placed, filled, stop resting): the settled entry
    assert rig.store.alert_kinds() == ["entry_settled"]
    (settled,) = rig.store.alerts
    assert isinstance(settled, EntrySettled)
    commission = sum(
        f.commission
        for f in await rig.broker.executions(entry.created_at)
        if f.client_order_id == entry.client_order_id
    )
    assert (settled.quantity, settled.ordered, settled.price, settled.stop) == (
        entry.qty,
        entry.qty,
        entry.avg_fill_price,
        added.orl,
    )
    assert settled.cover is Cover.BROKER_STOP and settled.fees == commission > 0
    assert settled.risk == (position.avg_price - added.orl) * position.qty
    assert settled.path and settled.path[-1].at <= settled.occurred_at  # the day so far


def _ticker_stopped_out(rig: Rig, orh_below: str, orl_below: str) -> tuple[str, dict[str, Decimal]]:
    """A ticker whose price, after a breakout at 11:00, later falls to the range low."""
    start = _sydney(rig, time(11, 0))
    close = _sydney(rig, time(15, 45))
    for ticker in liquid_tickers(40):
        fields = range_under(ticker, start, orh_below, orl_below)
        if MARKET.first_cross(ticker, start, close, fields["orl"], below=True) is not None:
            return ticker, fields
    raise AssertionError("no ticker falls to its stop in the demo market")


def _first_poll_at_or_below(ticker: str, start: datetime, stop: Decimal) -> datetime:
    """The first 5-second poll after ``start`` whose quote is at or below ``stop``."""
    crossed = MARKET.first_cross(ticker, start, start + timedelta(hours=5), stop, below=True)
    assert crossed is not None
    at = start + timedelta(seconds=5) * ((crossed[0] - start) // timedelta(seconds=5))
    while (last := MARKET.quote(ticker, at).last) is None or last > stop:
        at += timedelta(seconds=5)
    return at


async def test_the_watch_exits_at_market_when_the_price_reaches_the_stop() -> None:
    rig = await make_rig(StrategyParams(resting_stop=False))
    ticker, fields = _ticker_stopped_out(rig, "0.03", "0.10")
    now = rig.at(11, 0)
    rig.add(ticker, status=CandidateState.TRADEABLE, price_sensitive=True, **fields)
    assert (await rig.watch.poll()).entered == [ticker]
    held = rig.position(ticker)
    assert held is not None and held.stop == fields["orl"]

    due = _first_poll_at_or_below(ticker, now, held.stop)
    rig.clock.advance_to(due - timedelta(seconds=5))
    assert (await rig.watch.poll()).exits == []  # not yet
    rig.clock.advance_to(due)
    assert (await rig.watch.poll()).exits == [f"{ticker}:stop"]

    (exit_,) = [i for i in rig.intents() if i.purpose is IntentPurpose.STOP_EXIT]
    assert exit_.status is IntentStatus.FILLED and exit_.qty == held.qty
    closed = rig.position(ticker)
    assert closed is not None and closed.status is PositionStatus.CLOSED and closed.qty == 0
    assert rig.candidate(ticker).status is CandidateState.CLOSED
    (exited,) = [a for a in rig.store.alerts if isinstance(a, PositionExited)]
    assert exited.reason is ExitReason.STOP and exited.quantity == held.qty
    # its chart: the path from the entry's poll to the exit's, and the stop while held
    assert exited.path[0].at == now and exited.path[-1].at == due
    assert [p.at for p in exited.path] == sorted({p.at for p in exited.path})
    assert exited.path[-1].price == MARKET.quote(ticker, due).last
    assert len(exited.stop_path) >= 2 and {p.price for p in exited.stop_path} == {held.stop}
    assert exited.stop_path[-1].at == due
    rig.clock.advance(5)
    assert (await rig.watch.poll()).exits == []  # nothing left to sell


async def test_a_resting_stop_filled_at_the_broker_closes_the_position() -> None:
    rig = await make_rig()
    ticker, fields = _ticker_stopped_out(rig, "0.03", "0.10")
    now = rig.at(11, 0)
    rig.add(ticker, status=CandidateState.TRADEABLE, price_sensitive=True, **fields)
    await rig.watch.poll()
    rig.clock.advance(5)
    await rig.watch.poll()  # places the resting stop
    (stop,) = [i for i in rig.intents() if i.purpose is IntentPurpose.STOP]
    assert stop.status is IntentStatus.SUBMITTED

    crossed = MARKET.first_cross(ticker, now, now + timedelta(hours=5), fields["orl"], below=True)
    assert crossed is not None
    rig.clock.advance_to(crossed[0] + timedelta(seconds=5))
    await rig.watch.poll()  # its refresh books the broker's fill

    assert rig.desk is rig.watch.desk
    (stop,) = [i for i in rig.intents() if i.purpose is IntentPurpose.STOP]
    assert stop.status is IntentStatus.FILLED
    closed = rig.position(ticker)
    assert closed is not None and closed.status is PositionStatus.CLOSED
    assert rig.candidate(ticker).status is CandidateState.CLOSED
    (exited,) = [a for a in rig.store.alerts if isinstance(a, PositionExited)]
    assert exited.reason is ExitReason.STOP


async def test_an_entry_the_broker_refuses_skips_the_candidate() -> None:
    rig = await make_rig(starting_cash=Decimal("100"))  # not enough for any entry
    ticker = liquid_tickers(1)[0]
    now = rig.at(11, 0)
    rig.add(
        ticker,
        status=CandidateState.TRADEABLE,
        price_sensitive=True,
        **range_under(ticker, now, "0.05", "0.25"),
    )
    await rig.watch.poll()
    (entry,) = rig.intents()
    assert entry.status is IntentStatus.REJECTED and "cash" in (entry.reason or "")
    assert rig.candidate(ticker).status is CandidateState.SKIPPED
    assert rig.store.alert_kinds() == ["order_rejected"]
    for _ in range(3):  # a refused candidate is not tried again
        rig.clock.advance(5)
        await rig.watch.poll()
    assert len(rig.intents()) == 1 and rig.store.alert_kinds() == ["order_rejected"]
    assert rig.position(ticker) is None
