"""The operator's trading actions on the daemon's own wiring (``App.operator`` over a real
database and the demo market): flatten through the exactly-once exit path with the
position protected until the exit fills, pause and resume, and the journal and alert of
every action."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from skimd import bootstrap
from skimd.domain.market import Bar
from skimd.domain.orders import OrderRequest, OrderState, OrderStatus, OrderType, Side
from skimd.domain.trading import (
    IntentPurpose,
    IntentRecord,
    IntentStatus,
    PositionRecord,
    PositionStatus,
    client_order_id,
)
from skimd.errors import OperatorRequestError
from skimd.infrastructure.brokers.demo.broker import DemoBroker
from skimd.infrastructure.brokers.events import RecordingBrokerEvents
from skimd.infrastructure.brokers.identifier_cache import InMemoryIdentifierCache
from skimd.infrastructure.database.tables import ControlAction
from skimd.services.trading.operator import Operator
from tests.fakes.lagging_broker import LaggingBroker
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

DAY2 = date(2026, 11, 25)
DAY3 = date(2026, 11, 26)
TRADER = Operator(1001, "trader")
ROOT = Operator(0, "root")


class WatchedBroker(RefusingBroker):
    """The refusing demo broker that notes, at every sell it is asked to place, what the
    daemon's database held then: the intent's status and the position's open stops."""

    desk: Desk | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sells: list[tuple[str, IntentStatus | None, list[IntentStatus]]] = []

    async def place_order(self, request: OrderRequest) -> OrderState:
        if request.side is Side.SELL and self.desk is not None:
            with self.desk.ctx.store.read() as tx:
                intent = tx.intent(request.client_order_id)
                stops = []
                if intent is not None and intent.position_id is not None:
                    stops = [
                        i.status
                        for i in tx.intents_for_position(intent.position_id)
                        if i.purpose is IntentPurpose.STOP
                    ]
            self.sells.append(
                (request.client_order_id, None if intent is None else intent.status, stops)
            )
        return await super().place_order(request)

    def flattens(self) -> list[str]:
        return [coid for coid, _, _ in self.sells if "-M" in coid]


def _desk(data_dir: Path, broker_class: type[DemoBroker] = WatchedBroker, **kw: Any) -> Desk:
    clock = desk_clock()
    broker = broker_class(
        MARKET,
        clock,
        events=RecordingBrokerEvents(),
        identifier_cache=InMemoryIdentifierCache(),
        **kw,
    )
    desk = make_desk(data_dir, clock=clock, broker=broker)
    if isinstance(broker, WatchedBroker):
        broker.desk = desk
    return desk


async def _enter(desk: Desk, count: int = 1) -> list[PositionRecord]:
    """Enter the first ``count`` liquid tickers at 11:00 on DAY (stop at half the price)
    and let the watch put their resting stops out."""
    tickers = liquid_tickers(DAY, count)
    desk.at(DAY, 11, 0)
    await desk.broker.connect()
    for ticker in tickers:
        orh, _ = breakout_range(ticker, desk.clock.now())
        record = desk.tradeable(ticker, orh, (orh / 2).quantize(Decimal("0.01")))
        await desk.broker.snapshots([record.conid or 0])
    assert sorted((await desk.day.watch.poll()).entered) == sorted(tickers)
    desk.clock.advance(5)
    await desk.day.watch.poll()
    return [_position(desk, t) for t in tickers]


def _position(desk: Desk, ticker: str) -> PositionRecord:
    with desk.ctx.store.read() as tx:
        found = tx.open_position_for(ticker)
    assert found is not None, f"no open position in {ticker}"
    return found


def _closed(desk: Desk, position: PositionRecord) -> bool:
    assert position.id is not None
    with desk.ctx.store.read() as tx:
        now = tx.position(position.id)
    return now is not None and now.status is PositionStatus.CLOSED


def _intents(desk: Desk, position: PositionRecord, purpose: IntentPurpose) -> list[IntentRecord]:
    assert position.id is not None
    with desk.ctx.store.read() as tx:
        return [i for i in tx.intents_for_position(position.id) if i.purpose is purpose]


async def _covered_at_the_broker(desk: Desk, ticker: str, *, stops_only: bool = False) -> int:
    """Shares of ``ticker`` working sell orders at the broker cover (stops, and exits)."""
    broker = desk.broker
    listed = (
        await broker.book_orders()
        if isinstance(broker, RefusingBroker)
        else await broker.open_orders()
    )
    return sum(
        o.remaining
        for o in listed
        if o.symbol == ticker
        and o.side is Side.SELL
        and o.status in (OrderStatus.SUBMITTED, OrderStatus.PARTIALLY_FILLED)
        and (not stops_only or o.order_type is OrderType.STP)
    )


def _controls(desk: Desk) -> list[tuple[Any, ...]]:
    with desk.db.unit_of_work(read_only=True) as uow:
        rows = uow.session.scalars(select(ControlAction).order_by(ControlAction.id)).all()  # type: ignore[arg-type]
        return [(r.uid, r.name, r.action, r.detail, r.at) for r in rows]


def _first_flatten_id(position: PositionRecord, day: date = DAY) -> str:
    return client_order_id(
        day, position.ticker, IntentPurpose.MANUAL, position_id=position.id, seq=1
    )


# -- flatten ---------------------------------------------------------------------------------


async def test_flatten_commits_the_intent_then_sells_with_the_stop_cancelled_first(
    data_dir: Path,
) -> None:
    desk = _desk(data_dir)
    broker = desk.broker
    assert isinstance(broker, WatchedBroker)
    (position,) = await _enter(desk)
    ticker = position.ticker
    asked_at = desk.at(DAY, 11, 30)

    lines = await desk.app.operator.flatten(TRADER, [ticker.lower()], "news out")

    coid = _first_flatten_id(position)
    assert lines == [f"{ticker}: flatten sent: sell {position.qty} at market ({coid})"]
    # intent first: the broker was asked for an order the database held, pending, and the
    # resting stop was confirmed cancelled before it
    assert broker.flattens() == [coid]
    ((_, at_placing, stops_then),) = [s for s in broker.sells if s[0] == coid]
    assert at_placing is IntentStatus.PENDING
    assert stops_then == [IntentStatus.CANCELLED]
    (flatten,) = _intents(desk, position, IntentPurpose.MANUAL)
    assert (flatten.status, flatten.qty, flatten.created_at) == (
        IntentStatus.FILLED,
        position.qty,
        asked_at,
    )
    assert _closed(desk, position)
    (exited,) = desk.alerts("position_exited")
    assert (exited["symbol"], exited["reason"]) == (ticker, "manual")
    # a second flatten has nothing to sell: an error naming the ticker, and no order
    with pytest.raises(OperatorRequestError, match=f"no open position in {ticker}"):
        await desk.app.operator.flatten(TRADER, [ticker], "again")
    desk.clock.advance(5)
    await desk.day.watch.poll()
    assert broker.flattens() == [coid]
    desk.close()


async def test_a_repeated_flatten_while_the_exit_works_sends_nothing(data_dir: Path) -> None:
    desk = _desk(data_dir)
    broker = desk.broker
    assert isinstance(broker, WatchedBroker)
    (position,) = await _enter(desk)
    ticker = position.ticker
    broker.time_out(IntentPurpose.MANUAL)  # placed, but its answer is lost: still open
    desk.at(DAY, 11, 30)

    first = await desk.app.operator.flatten(TRADER, [ticker], "")
    coid = _first_flatten_id(position)
    assert first == [
        f"{ticker}: flatten sent: sell {position.qty} at market; the broker's answer was "
        f"lost, the order is settled by its id ({coid})"
    ]
    desk.clock.advance(1)
    second = await desk.app.operator.flatten(TRADER, [ticker], "")
    assert second == [
        f"{ticker}: already exiting: operator's flatten working for {position.qty} ({coid})"
    ]
    everything = await desk.app.operator.flatten(ROOT, None, "")
    assert everything == second
    assert broker.flattens() == [coid], "one exit at the broker"

    for _ in range(6):  # the desk settles it by its client order id; nothing else is sent
        desk.clock.advance(5)
        await desk.day.watch.poll()
    assert _closed(desk, position)
    assert [i.client_order_id for i in _intents(desk, position, IntentPurpose.MANUAL)] == [coid]
    assert broker.flattens() == [coid]
    desk.close()


async def test_a_flatten_during_a_partial_exit_sells_the_rest_once_it_ends(
    data_dir: Path,
) -> None:
    desk = _desk(data_dir)
    broker = desk.broker
    assert isinstance(broker, WatchedBroker)
    (position,) = await _enter(desk)
    await desk.day.ensure_ready()  # as the daemon's first job of the day does
    ticker = position.ticker
    broker.time_out(IntentPurpose.PARTIAL)  # the half exit goes out, its answer is lost
    desk.at(DAY3, 10, 5)
    assert (await desk.day.watch.poll()).exits == [f"{ticker}:partial"]
    (partial,) = _intents(desk, position, IntentPurpose.PARTIAL)
    half = partial.qty

    (line,) = await desk.app.operator.flatten(TRADER, [ticker], "")

    assert line == (
        f"{ticker}: already exiting: partial exit working for {half} "
        f"({partial.client_order_id}); the rest is flattened when it ends"
    )
    assert broker.flattens() == []
    for _ in range(12):
        desk.clock.advance(5)
        await desk.day.watch.poll()
    assert _closed(desk, position)
    (flatten,) = _intents(desk, position, IntentPurpose.MANUAL)
    assert flatten.qty == position.qty - half and flatten.status is IntentStatus.FILLED
    assert broker.flattens() == [_first_flatten_id(position, DAY3)]
    desk.close()


async def test_flatten_all_exits_every_open_position(data_dir: Path) -> None:
    desk = _desk(data_dir)
    positions = await _enter(desk, 2)
    desk.at(DAY, 12, 0)

    lines = await desk.app.operator.flatten(TRADER, None, "done for the day")

    assert lines == [
        f"{p.ticker}: flatten sent: sell {p.qty} at market ({_first_flatten_id(p)})"
        for p in sorted(positions, key=lambda p: p.ticker)
    ]
    assert all(_closed(desk, p) for p in positions)
    names = ", ".join(sorted(p.ticker for p in positions))
    assert [c[2:4] for c in _controls(desk)] == [
        ("flatten", f"all open positions: {names} (done for the day)")
    ]
    assert await desk.app.operator.flatten(TRADER, None, "") == []  # nothing open now
    desk.close()


async def test_an_unknown_ticker_is_refused_and_nothing_is_done(data_dir: Path) -> None:
    desk = _desk(data_dir)
    broker = desk.broker
    assert isinstance(broker, WatchedBroker)
    (position,) = await _enter(desk)
    desk.at(DAY, 11, 30)

    with pytest.raises(OperatorRequestError, match=r"no open position in ZZZ$") as caught:
        await desk.app.operator.flatten(TRADER, [position.ticker, "zzz"], "")
    assert caught.value.exit_code == 65
    with pytest.raises(OperatorRequestError, match="'B@D' is not a ticker"):
        await desk.app.operator.flatten(TRADER, ["B@D"], "")

    assert broker.flattens() == [] and _intents(desk, position, IntentPurpose.MANUAL) == []
    assert not _closed(desk, position)
    assert _controls(desk) == [] and desk.alerts("control_action") == []
    with desk.ctx.store.read() as tx:
        assert tx.flatten_requests() == []
    desk.close()


async def test_a_refused_flatten_keeps_the_resting_stop_and_the_watch_retries_it(
    data_dir: Path,
) -> None:
    desk = _desk(data_dir)
    broker = desk.broker
    assert isinstance(broker, WatchedBroker)
    (position,) = await _enter(desk)
    ticker = position.ticker
    broker.refuse(IntentPurpose.MANUAL)
    desk.at(DAY, 11, 30)

    (line,) = await desk.app.operator.flatten(TRADER, [ticker], "risk off")

    coid = _first_flatten_id(position)
    assert line.startswith(f"{ticker}: the broker REFUSED the flatten (") and coid in line
    assert "; protected by resting stop at the broker; the watch tries again" in line
    assert await _covered_at_the_broker(desk, ticker, stops_only=True) == position.qty
    (again,) = await desk.app.operator.flatten(TRADER, [ticker], "risk off")
    assert again.startswith(f"{ticker}: flatten waits: the broker refused the flatten (")
    assert " at 11:30:30 " in again, "the back-off of the first refusal: 30 s"
    assert broker.flattens() == [coid], "the back-off is honoured"

    end = desk.clock.now() + timedelta(minutes=3)
    while desk.clock.now() < end:  # the watch retries; every share stays covered
        desk.clock.advance(5)
        await desk.day.watch.poll()
        assert await _covered_at_the_broker(desk, ticker) >= position.qty
    tries = broker.flattens()
    assert len(tries) >= 3 and len(set(tries)) == len(tries)

    broker.accept(IntentPurpose.MANUAL)
    for _ in range(12 * 6):
        desk.clock.advance(5)
        await desk.day.watch.poll()
        if _closed(desk, position):
            break
    assert _closed(desk, position), "sold once the broker takes it"
    assert [r for r in desk.alerts("protection_fallback") if r["symbol"] == ticker]
    desk.close()


async def test_a_stop_cancel_the_broker_has_not_confirmed_holds_the_flatten_back(
    data_dir: Path,
) -> None:
    desk = _desk(data_dir, LaggingBroker, list_lag_s=20.0)
    (position,) = await _enter(desk)
    ticker = position.ticker
    desk.clock.advance(1)  # the resting stop is still missing from the broker's lists

    (line,) = await desk.app.operator.flatten(TRADER, [ticker], "")

    assert line == (
        f"{ticker}: flatten waits: the resting stop is not confirmed cancelled yet; "
        "the watch sends it"
    )
    assert _intents(desk, position, IntentPurpose.MANUAL) == []
    for _ in range(12):
        desk.clock.advance(5)
        await desk.day.watch.poll()
    (flatten,) = _intents(desk, position, IntentPurpose.MANUAL)
    assert flatten.client_order_id == _first_flatten_id(position)
    assert _closed(desk, position)
    desk.close()


async def test_a_flatten_while_the_market_is_closed_goes_out_at_the_open(data_dir: Path) -> None:
    desk = _desk(data_dir)
    broker = desk.broker
    assert isinstance(broker, WatchedBroker)
    (position,) = await _enter(desk)
    ticker = position.ticker
    desk.at(DAY2, 8, 30)

    lines = await desk.app.operator.flatten(TRADER, [ticker], "overnight news")

    assert lines == [
        f"{ticker}: flatten requested; the market is closed, the watch sells "
        f"{position.qty} at market at the next session's first poll"
    ]
    assert broker.flattens() == []
    assert await _covered_at_the_broker(desk, ticker, stops_only=True) == position.qty
    report = desk.app.status_report()
    (row,) = report["positions"]
    assert row["flatten_requested"]["by"] == "trader"
    assert row["flatten_requested"]["reason"] == "overnight news"

    desk.at(DAY2, 10, 5)
    assert (await desk.day.watch.poll()).exits == [f"{ticker}:manual"]
    assert broker.flattens() == [_first_flatten_id(position, DAY2)]
    assert _closed(desk, position)
    desk.close()


async def test_a_position_paused_after_a_mismatch_is_not_flattened(data_dir: Path) -> None:
    from dataclasses import replace

    desk = _desk(data_dir)
    broker = desk.broker
    assert isinstance(broker, WatchedBroker)
    (position,) = await _enter(desk)
    with desk.ctx.store.transaction() as tx:
        tx.save_position(replace(position, paused=True))
    desk.at(DAY, 11, 30)

    (line,) = await desk.app.operator.flatten(TRADER, None, "")

    assert line.startswith(f"{position.ticker}: NOT flattened: paused after a quantity mismatch")
    assert broker.flattens() == []
    with desk.ctx.store.read() as tx:
        assert tx.flatten_requests() == []
    desk.close()


# -- pause and resume ---------------------------------------------------------------------


async def test_a_paused_ticker_does_not_enter_until_resumed(data_dir: Path) -> None:
    desk = _desk(data_dir)
    ticker = liquid_tickers(DAY, 1)[0]
    desk.at(DAY, 11, 0)
    await desk.broker.connect()
    desk.app.operator.pause(TRADER, ticker, "results at noon")
    orh, _ = breakout_range(ticker, desk.clock.now())
    record = desk.tradeable(ticker, orh, (orh / 2).quantize(Decimal("0.01")))
    await desk.broker.snapshots([record.conid or 0])

    assert (await desk.day.watch.poll()).entered == []
    desk.clock.advance(5)
    assert (await desk.day.watch.poll()).entered == []

    desk.app.operator.resume(TRADER, ticker)
    desk.clock.advance(5)
    assert (await desk.day.watch.poll()).entered == [ticker]
    desk.close()


async def test_a_paused_ticker_keeps_its_stop_where_it_is_and_still_protected(
    data_dir: Path,
) -> None:
    desk = _desk(data_dir)
    with_params(desk, partial_exit_day=99)
    (position,) = await _enter(desk)
    ticker = position.ticker
    assert position.stop is not None
    higher = position.stop + Decimal("0.10")
    with desk.ctx.store.transaction() as tx:
        tx.save_bars([Bar(ticker, DAY2, higher + 1, higher + 2, higher, higher + 1, 1000)])
    desk.app.operator.pause(TRADER, ticker, "let it run")

    desk.at(DAY3, 10, 30)
    await desk.day.watch.poll()
    desk.clock.advance(5)
    await desk.day.watch.poll()
    assert _position(desk, ticker).stop == position.stop, "no ratchet while paused"
    assert await _covered_at_the_broker(desk, ticker, stops_only=True) == position.qty
    (stop,) = [i for i in _intents(desk, position, IntentPurpose.STOP) if i.status.is_open]
    assert stop.stop_price == position.stop

    desk.app.operator.resume(TRADER, ticker)
    desk.clock.advance(5)
    await desk.day.watch.poll()
    desk.clock.advance(5)
    await desk.day.watch.poll()
    assert _position(desk, ticker).stop == higher, "the ratchet moves it once resumed"
    (stop,) = [i for i in _intents(desk, position, IntentPurpose.STOP) if i.status.is_open]
    assert stop.stop_price == higher
    desk.close()


async def test_pause_twice_is_one_pause_and_resume_of_a_ticker_not_paused_is_an_error(
    data_dir: Path,
) -> None:
    desk = _desk(data_dir)
    operator = desk.app.operator
    first_at = desk.at(DAY, 9, 50)
    first = operator.pause(TRADER, " bhp ", "results")
    assert first.startswith("BHP paused: no new entries and no stop moves")
    desk.clock.advance(60)
    again = operator.pause(ROOT, "BHP", "me too")
    assert again == "BHP already paused by trader at 09:50:00 (results)"
    with desk.ctx.store.read() as tx:
        (pause,) = tx.paused_tickers()
    assert (pause.ticker, pause.uid, pause.name, pause.reason, pause.at) == (
        "BHP",
        1001,
        "trader",
        "results",
        first_at,
    )

    with pytest.raises(OperatorRequestError, match=r"^CBA is not paused$"):
        operator.resume(TRADER, "CBA")
    desk.clock.advance(60)
    resumed_at = desk.clock.now()
    assert operator.resume(ROOT, "bhp") == (
        "BHP resumed: entries and stop moves allowed again "
        "(was paused by trader at 09:50:00 (results))"
    )
    with pytest.raises(OperatorRequestError, match=r"^BHP is not paused$"):
        operator.resume(ROOT, "BHP")

    assert _controls(desk) == [
        (1001, "trader", "pause", "BHP (results)", first_at),
        (0, "root", "pause", "BHP (me too); already paused", first_at + timedelta(minutes=1)),
        (0, "root", "resume", "BHP (was paused by trader at 09:50:00 (results))", resumed_at),
    ]
    alerts = desk.alerts("control_action")
    assert [(a["uid"], a["name"], a["action"]) for a in alerts] == [
        (1001, "trader", "pause"),
        (0, "root", "pause"),
        (0, "root", "resume"),
    ]
    assert [datetime.fromisoformat(a["occurred_at"]) for a in alerts] == [
        c[4] for c in _controls(desk)
    ]
    desk.close()


async def test_status_lists_paused_tickers_with_who_when_and_why(data_dir: Path) -> None:
    import io

    from skimd.commands.status import render

    desk = _desk(data_dir)
    desk.at(DAY, 9, 50)
    desk.app.operator.pause(TRADER, "BHP", "results")
    report = desk.app.status_report()
    assert report["paused_tickers"] == [
        {
            "ticker": "BHP",
            "by": "trader",
            "uid": 1001,
            "at": datetime.combine(DAY, time(9, 50), desk.calendar.zone).isoformat(),
            "reason": "results",
        }
    ]
    json.dumps(report)  # JSON-safe
    out = io.StringIO()
    render(report, out)
    assert "paused: BHP by trader at 2026-11-24T09:50:00+11:00 (results)" in out.getvalue()
    desk.close()


async def test_record_journals_and_alerts_any_control_action(data_dir: Path) -> None:
    desk = _desk(data_dir)
    at = desk.at(DAY, 10, 0)
    desk.app.operator.record(ROOT, "guard lock", "halt: testing")
    assert _controls(desk) == [(0, "root", "guard lock", "halt: testing", at)]
    (alert,) = desk.alerts("control_action")
    assert (alert["action"], alert["detail"], alert["name"]) == (
        "guard lock",
        "halt: testing",
        "root",
    )
    desk.close()


def test_only_an_exclusive_app_has_the_operator(data_dir: Path) -> None:
    from tests.integration.trading.desk import _settings

    app = bootstrap.build(_settings(data_dir, "off"), access=bootstrap.Access.SHARED, environ={})
    with pytest.raises(RuntimeError, match="EXCLUSIVE"):
        app.operator  # noqa: B018
    app.close()
