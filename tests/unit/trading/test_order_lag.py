"""The order desk against a broker whose lists lag behind a placement (IBKR's order and
trade lists can miss an order for seconds): "not found" is "not known yet", an absence
counts only after the window of :mod:`skimd.services.trading.order_lookup`, executions are
booked whatever the lists say, and a duplicate client order id means the order is there."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal

from skimd.clock import SimulatedClock
from skimd.domain.market import TickDirection, round_to_tick
from skimd.domain.orders import OrderRequest, OrderState, OrderType, Side, TimeInForce
from skimd.domain.trading import (
    CandidateRecord,
    CandidateState,
    IntentPurpose,
    IntentRecord,
    IntentStatus,
    client_order_id,
)
from skimd.errors import BrokerUnavailableError, OrderRejectedError
from skimd.infrastructure.brokers.events import RecordingBrokerEvents
from skimd.infrastructure.brokers.identifier_cache import InMemoryIdentifierCache
from skimd.infrastructure.calendar import AsxCalendar
from skimd.services.trading.context import TradingContext
from skimd.services.trading.intraday import IntradayWatch
from skimd.services.trading.order_lookup import ABSENT_AFTER_S
from skimd.services.trading.orders import OrderDesk
from skimd.services.trading.params import StrategyParams
from tests.fakes.lagging_broker import LaggingBroker
from tests.fakes.trading_store import FakeTradingStore
from tests.unit.trading.rig import DAY, MARKET, Rig, liquid_tickers, range_under

LAG_S = 60.0  # longer than any single wait below: the lists show nothing new meanwhile


async def _rig(
    *, list_lag_s: float = LAG_S, trades_lag_s: float = LAG_S, broker_type: type = LaggingBroker
) -> Rig:
    calendar = AsxCalendar("Australia/Sydney")
    clock = SimulatedClock(datetime.combine(DAY, time(9, 0), calendar.zone))
    broker = broker_type(
        MARKET,
        clock,
        events=RecordingBrokerEvents(),
        identifier_cache=InMemoryIdentifierCache(),
        snapshot_preflight=False,
        list_lag_s=list_lag_s,
        trades_lag_s=trades_lag_s,
    )
    await broker.connect()
    store = FakeTradingStore()
    ctx = TradingContext(
        broker=broker, store=store, clock=clock, calendar=calendar, params=StrategyParams()
    )
    desk = OrderDesk(ctx)
    return Rig(clock, calendar, broker, store, ctx, desk, IntradayWatch(ctx, desk))


def _broker(rig: Rig) -> LaggingBroker:
    assert isinstance(rig.broker, LaggingBroker)
    return rig.broker


def _write_entry(rig: Rig, ticker: str, *, limit: Decimal | None = None) -> IntentRecord:
    """What the watch commits before placing an entry (nothing is sent)."""
    now = rig.clock.now()
    contract = MARKET.ticker(ticker)
    last = MARKET.price_at(ticker, now)
    assert contract is not None and last is not None
    with rig.store.transaction() as tx:
        candidate = tx.save_candidate(
            CandidateRecord(
                scan_date=DAY,
                ticker=ticker,
                status=CandidateState.TRADEABLE,
                conid=contract.conid,
                price_sensitive=True,
                **range_under(ticker, now, "0.05", "0.25"),
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


def _write_stop(rig: Rig, ticker: str, stop: Decimal, *, seq: int = 1) -> IntentRecord:
    """A resting GTC stop for the open position in ``ticker`` (nothing is sent)."""
    with rig.store.transaction() as tx:
        held = tx.open_position_for(ticker)
        assert held is not None and held.id is not None and held.conid is not None
        return tx.add_intent(
            IntentRecord(
                client_order_id=client_order_id(
                    DAY, ticker, IntentPurpose.STOP, position_id=held.id, seq=seq
                ),
                ticker=ticker,
                conid=held.conid,
                side=Side.SELL.value,
                qty=held.qty,
                order_type=OrderType.STP.value,
                stop_price=stop,
                tif=TimeInForce.GTC.value,
                purpose=IntentPurpose.STOP,
                created_at=rig.clock.now(),
                candidate_id=held.candidate_id,
                position_id=held.id,
            )
        )


def _intent(rig: Rig, coid: str) -> IntentRecord:
    with rig.store.read() as tx:
        found = tx.intent(coid)
    assert found is not None
    return found


async def _fills_of(rig: Rig, coid: str) -> int:
    start = datetime.combine(DAY, time(0, 0), rig.calendar.zone)
    return sum(1 for f in await _broker(rig).all_executions(start) if f.client_order_id == coid)


async def _held_with_unknown_stop(rig: Rig) -> tuple[str, IntentRecord]:
    """A filled entry, then its resting stop whose placing timed out after it reached the
    broker (the lists do not show it yet)."""
    ticker = liquid_tickers(1)[0]
    rig.at(11, 0)
    entry = await rig.desk.place(_write_entry(rig, ticker))
    assert entry.status is IntentStatus.FILLED and entry.avg_fill_price is not None
    broker = _broker(rig)
    broker.time_out_placings = 1
    stop = _write_stop(rig, ticker, round_to_tick(entry.avg_fill_price * Decimal("0.9")))
    unknown = await rig.desk.place(stop)
    assert unknown.status is IntentStatus.UNKNOWN
    assert await broker.truth(stop.client_order_id) is not None, "it did reach the broker"
    return ticker, unknown


# -- finding: a cancel that found nothing marked the order cancelled -----------------------


async def test_a_cancel_of_an_order_the_broker_does_not_show_yet_is_not_confirmed() -> None:
    rig = await _rig()
    _, stop = await _held_with_unknown_stop(rig)
    rig.clock.advance(5)
    after = await rig.desk.cancel(stop, "stop moved")
    assert after.status is IntentStatus.UNKNOWN, "not cancelled: it may be working"
    live = await _broker(rig).truth(stop.client_order_id)
    assert live is not None and live.status.is_working
    # once the broker shows it, the cancel goes to the order it found
    rig.clock.advance(LAG_S)
    cancelled = await rig.desk.cancel(_intent(rig, stop.client_order_id), "stop moved")
    assert cancelled.status is IntentStatus.CANCELLED
    assert cancelled.broker_order_id == live.broker_order_id
    assert not [o for o in await _broker(rig).working_truth() if o.side is Side.SELL]


async def test_a_cancel_finds_a_fill_in_the_executions_and_books_it() -> None:
    rig = await _rig(list_lag_s=LAG_S, trades_lag_s=0)
    ticker = liquid_tickers(1)[0]
    rig.at(11, 0)
    assert (await rig.desk.place(_write_entry(rig, ticker))).status is IntentStatus.FILLED
    with rig.store.transaction() as tx:
        held = tx.open_position_for(ticker)
        assert held is not None and held.id is not None and held.conid is not None
        trail = tx.add_intent(
            IntentRecord(
                client_order_id=client_order_id(
                    DAY, ticker, IntentPurpose.TRAIL, position_id=held.id
                ),
                ticker=ticker,
                conid=held.conid,
                side=Side.SELL.value,
                qty=held.qty,
                order_type=OrderType.MKT.value,
                purpose=IntentPurpose.TRAIL,
                created_at=rig.clock.now(),
                candidate_id=held.candidate_id,
                position_id=held.id,
            )
        )
    _broker(rig).time_out_placings = 1  # the sell reaches the market and fills; the answer is lost
    assert (await rig.desk.place(trail)).status is IntentStatus.UNKNOWN
    rig.clock.advance(5)
    after = await rig.desk.cancel(_intent(rig, trail.client_order_id), "not needed")
    assert after.status is IntentStatus.FILLED, "filled at the broker: booked, not cancelled"
    position = rig.position(ticker)
    assert position is not None and not position.is_open


# -- finding: start-up dropped a DAY order the broker no longer listed, fill and all -------


def _resting_entry_limit(ticker: str, start: datetime) -> tuple[Decimal, datetime]:
    """A buy limit under the price at ``start`` that the price reaches within an hour, and
    a time by which it has."""
    last = MARKET.price_at(ticker, start)
    assert last is not None
    for minute in range(1, 61):
        when = start + timedelta(minutes=minute)
        price = MARKET.price_at(ticker, when)
        assert price is not None
        if price <= last - Decimal("0.02"):
            return round_to_tick(price + Decimal("0.01"), TickDirection.DOWN), when
    raise AssertionError(f"{ticker} does not dip in the hour after {start}")


async def test_start_up_books_a_fill_of_an_order_the_broker_no_longer_lists() -> None:
    rig = await _rig(list_lag_s=0, trades_lag_s=0)
    ticker = liquid_tickers(1)[0]
    start = rig.at(11, 0)
    limit, filled_by = _resting_entry_limit(ticker, start)
    placed = await rig.desk.place(_write_entry(rig, ticker, limit=limit))
    assert placed.status is IntentStatus.SUBMITTED and placed.broker_order_id is not None
    # the daemon stops; the order fills meanwhile; the broker's gateway restarted and its
    # lists no longer show the order, only its execution
    rig.clock.advance_to(filled_by + timedelta(seconds=1))
    _broker(rig).forget(placed.client_order_id)
    assert await _fills_of(rig, placed.client_order_id) == 1
    restarted = OrderDesk(rig.ctx)
    await restarted.reconcile(allow_entries=True)
    after = _intent(rig, placed.client_order_id)
    assert after.status is IntentStatus.FILLED, after.reason
    assert after.filled_qty == 100 and after.broker_order_id == placed.broker_order_id
    position = rig.position(ticker)
    assert position is not None and position.is_open and position.qty == 100
    assert rig.candidate(ticker).status is CandidateState.ENTERED
    # booked once, told nothing yet: the entry's one message waits for its stop
    assert rig.store.alert_kinds() == []


async def test_start_up_keeps_a_days_order_the_broker_does_not_list_until_absence_counts() -> None:
    rig = await _rig(list_lag_s=0, trades_lag_s=0)
    ticker = liquid_tickers(1)[0]
    start = rig.at(11, 0)
    far_below = round_to_tick(
        (MARKET.price_at(ticker, start) or Decimal(1)) * Decimal("0.8"), TickDirection.DOWN
    )
    placed = await rig.desk.place(_write_entry(rig, ticker, limit=far_below))
    assert placed.status is IntentStatus.SUBMITTED
    _broker(rig).forget(placed.client_order_id)
    restarted = OrderDesk(rig.ctx)
    await restarted.reconcile(allow_entries=True)
    seen = await _statuses_while_polling(rig, restarted, placed.client_order_id, polls=12)
    assert {s for t, s in seen if t < ABSENT_AFTER_S} == {IntentStatus.SUBMITTED}
    dropped = _intent(rig, placed.client_order_id)
    assert dropped.status is IntentStatus.CANCELLED and "no longer" in (dropped.reason or "")


async def _statuses_while_polling(
    rig: Rig, desk: OrderDesk, coid: str, *, polls: int, allow_entries: bool = False
) -> list[tuple[float, IntentStatus]]:
    """Refresh every 5 s; (seconds since the first poll's start, status after it)."""
    start = rig.clock.now()
    seen = []
    for _ in range(polls):
        rig.clock.advance(5)
        await desk.refresh(allow_entries=allow_entries)
        seen.append(((rig.clock.now() - start).total_seconds(), _intent(rig, coid).status))
    return seen


# -- finding: a re-sent order refused as a duplicate was marked rejected --------------------


async def test_a_timed_out_entry_sent_again_and_refused_as_a_duplicate_is_adopted() -> None:
    rig = await _rig()
    ticker = liquid_tickers(1)[0]
    rig.at(11, 0)
    broker = _broker(rig)
    broker.time_out_placings = 1
    entry = await rig.desk.place(_write_entry(rig, ticker))
    assert entry.status is IntentStatus.UNKNOWN
    for _ in range(3):  # polls: not listed yet → sent again → "already exists"
        rig.clock.advance(5)
        await rig.desk.refresh(allow_entries=True)
        held = _intent(rig, entry.client_order_id)
        assert held.status.is_open, f"{held.status}: {held.reason}"
    assert broker.placings.count(entry.client_order_id) >= 2, "it was sent again"
    assert "order_rejected" not in rig.store.alert_kinds()
    assert rig.candidate(ticker).status is CandidateState.ENTERED
    rig.clock.advance(LAG_S)
    await rig.desk.refresh(allow_entries=True)
    filled = _intent(rig, entry.client_order_id)
    assert filled.status is IntentStatus.FILLED and filled.broker_order_id is not None
    assert await _fills_of(rig, entry.client_order_id) == 1, "one order reached the market"
    position = rig.position(ticker)
    assert position is not None and position.qty == 100
    assert rig.store.alert_kinds() == []  # the entry's one message waits for its stop


async def test_executions_settle_a_timed_out_order_without_sending_it_again() -> None:
    rig = await _rig(list_lag_s=LAG_S, trades_lag_s=0)
    ticker = liquid_tickers(1)[0]
    rig.at(11, 0)
    broker = _broker(rig)
    broker.time_out_placings = 1
    entry = await rig.desk.place(_write_entry(rig, ticker))
    assert entry.status is IntentStatus.UNKNOWN
    rig.clock.advance(10)
    assert await rig.desk.refresh(allow_entries=True)
    filled = _intent(rig, entry.client_order_id)
    assert filled.status is IntentStatus.FILLED and filled.filled_qty == 100
    assert broker.placings == [entry.client_order_id], "never sent again"
    position = rig.position(ticker)
    assert position is not None and position.qty == 100
    assert filled.avg_fill_price == position.avg_price


# -- the waiting rule ------------------------------------------------------------------------


async def test_an_unplaced_entry_is_dropped_only_once_its_absence_counts() -> None:
    rig = await _rig()
    ticker = liquid_tickers(1)[0]
    rig.at(11, 0)
    intent = _write_entry(rig, ticker)  # ... the daemon stopped here, or just after placing
    await rig.desk.reconcile(allow_entries=False)
    assert _intent(rig, intent.client_order_id).status is IntentStatus.PENDING
    seen = await _statuses_while_polling(rig, rig.desk, intent.client_order_id, polls=12)
    early = {s for t, s in seen if t < ABSENT_AFTER_S}
    assert early == {IntentStatus.PENDING}, "still blocks a second entry meanwhile"
    dropped = _intent(rig, intent.client_order_id)
    assert dropped.status is IntentStatus.CANCELLED and "entries are closed" in (
        dropped.reason or ""
    )
    assert await _broker(rig).truth(intent.client_order_id) is None
    assert _broker(rig).placings == []
    assert rig.candidate(ticker).status is CandidateState.EXPIRED


async def test_asks_back_off_while_the_broker_does_not_show_an_order() -> None:
    rig = await _rig(list_lag_s=0, trades_lag_s=0)
    ticker = liquid_tickers(1)[0]
    rig.at(11, 0)
    entry = await rig.desk.place(_write_entry(rig, ticker))
    assert entry.avg_fill_price is not None
    stop = await rig.desk.place(
        _write_stop(rig, ticker, round_to_tick(entry.avg_fill_price * Decimal("0.9")))
    )
    assert stop.status is IntentStatus.SUBMITTED and stop.broker_order_id is not None
    broker = _broker(rig)
    broker.forget(stop.client_order_id)  # a resting stop the broker stops listing
    start = rig.clock.now()
    for _ in range(30):  # two and a half minutes of polls
        rig.clock.advance(5)
        await rig.desk.refresh()
    asked = [
        (at - start).total_seconds() for coid, at in broker.lookups if coid == stop.client_order_id
    ]
    assert asked == [5.0, 10.0, 20.0, 40.0, 80.0, 140.0], "5, 10, 20, 40, then every 60 s"
    kept = _intent(rig, stop.client_order_id)
    assert kept.status is IntentStatus.SUBMITTED, "a resting stop is never concluded gone"


class _RefusesAgain(LaggingBroker):
    """Times out the first placing (before it reaches the broker) and refuses the second
    for a reason of its own."""

    async def place_order(self, request: OrderRequest) -> OrderState:
        self.placings.append(request.client_order_id)
        if len(self.placings) == 1:
            raise BrokerUnavailableError("timed out; outcome unknown")
        raise OrderRejectedError(f"order {request.client_order_id!r}: margin would be exceeded")


async def test_a_resend_refused_for_another_reason_is_rejected_once_absence_counts() -> None:
    rig = await _rig(broker_type=_RefusesAgain)
    ticker = liquid_tickers(1)[0]
    rig.at(11, 0)
    entry = await rig.desk.place(_write_entry(rig, ticker))
    assert entry.status is IntentStatus.UNKNOWN
    rig.clock.advance(10)
    await rig.desk.refresh(allow_entries=True)
    held = _intent(rig, entry.client_order_id)
    assert held.status is IntentStatus.UNKNOWN, "the first may still show up"
    assert "order_rejected" not in rig.store.alert_kinds()
    rig.clock.advance(ABSENT_AFTER_S)
    for _ in range(4):
        rig.clock.advance(20)
        await rig.desk.refresh(allow_entries=True)
    rejected = _intent(rig, entry.client_order_id)
    assert rejected.status is IntentStatus.REJECTED and "margin" in (rejected.reason or "")
    assert rig.store.alert_kinds().count("order_rejected") == 1
    assert _broker(rig).placings == [entry.client_order_id] * 2, "sent again only once"
