"""The demo broker's fill engine, money, idempotency, session faults, restore and book file."""

from __future__ import annotations

import json
import stat
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from skimd.clock import SimulatedClock
from skimd.domain.account import AccountSummary, Position
from skimd.domain.market import asx_tick_size
from skimd.domain.orders import (
    Fill,
    OrderRequest,
    OrderState,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from skimd.errors import (
    BrokerSessionError,
    ConfigurationError,
    FatalError,
    InvalidInputError,
    OrderRejectedError,
)
from skimd.infrastructure.brokers.demo.broker import DemoBroker
from skimd.infrastructure.brokers.demo.market import DemoMarket
from skimd.infrastructure.brokers.events import RecordingBrokerEvents
from skimd.infrastructure.brokers.identifier_cache import InMemoryIdentifierCache
from skimd.infrastructure.calendar import AsxCalendar

SYD = ZoneInfo("Australia/Sydney")
DAY = date(2025, 3, 4)
D = Decimal
MARKET = DemoMarket(seed=3, universe_size=40, calendar=AsxCalendar("Australia/Sydney"))


def syd(hh: int, mm: int, day: date = DAY) -> datetime:
    return datetime.combine(day, time(hh, mm), SYD)


async def make(start: datetime, cash: str = "100000") -> tuple[DemoBroker, SimulatedClock]:
    clock = SimulatedClock(start)
    broker = DemoBroker(
        MARKET,
        clock,
        events=RecordingBrokerEvents(),
        identifier_cache=InMemoryIdentifierCache(),
        starting_cash=D(cash),
        commission_per_order=D("6"),
        snapshot_preflight=False,
    )
    await broker.connect()
    return broker, clock


def req(coid: str, side: Side, qty: int, kind: OrderType = OrderType.MKT, *,
        limit: Decimal | None = None, stop: Decimal | None = None,
        tif: TimeInForce = TimeInForce.DAY, symbol: str = "BHP") -> OrderRequest:  # fmt: skip
    ticker = MARKET.ticker(symbol)
    assert ticker is not None
    return OrderRequest(coid, symbol, ticker.conid, side, qty, kind, limit, stop, tif)


def future_low(start: datetime, minutes: int) -> tuple[datetime, Decimal]:
    knots = [(t, p) for t, p in MARKET.minute_prices("BHP", DAY)
             if start < t <= start + timedelta(minutes=minutes)]  # fmt: skip
    return min(knots, key=lambda k: k[1])


async def test_market_buy_fills_at_the_ask_and_pays_commission() -> None:
    broker, clock = await make(syd(11, 0))
    last = MARKET.price_at("BHP", clock.now())
    assert last is not None
    state = await broker.place_order(req("m1", Side.BUY, 100))
    ask = last + asx_tick_size(last)
    assert state.status is OrderStatus.FILLED and state.avg_fill_price == ask
    summary = await broker.account_summary()
    assert summary.cash == D("100000") - ask * 100 - D("6")
    [fill] = await broker.executions(syd(10, 0))
    assert (fill.price, fill.commission, fill.executed_at) == (ask, D("6"), clock.now())
    [pos] = await broker.positions()
    assert pos.qty == 100 and pos.avg_cost == ((ask * 100 + 6) / 100).quantize(D("0.0001"))


async def test_resting_limit_buy_fills_at_the_limit_when_price_comes_down() -> None:
    broker, clock = await make(syd(11, 0))
    when, low = future_low(clock.now(), 120)
    state = await broker.place_order(req("l1", Side.BUY, 100, OrderType.LMT, limit=low))
    assert state.status is OrderStatus.SUBMITTED
    clock.advance_to(when - timedelta(seconds=61))
    assert (await broker.order_status(state.broker_order_id)).status is OrderStatus.SUBMITTED
    clock.advance_to(syd(14, 0))
    filled = await broker.order_status(state.broker_order_id)
    assert filled.status is OrderStatus.FILLED and filled.avg_fill_price == low
    [fill] = await broker.executions(syd(10, 0))
    assert when - timedelta(seconds=60) < fill.executed_at <= when


async def test_stop_sell_triggers_one_tick_through_the_stop() -> None:
    broker, clock = await make(syd(11, 0))
    await broker.place_order(req("b1", Side.BUY, 200))
    when, low = future_low(clock.now(), 120)
    stop = low  # the path touches it at `when` and nowhere before
    placed = await broker.place_order(req("s1", Side.SELL, 200, OrderType.STP, stop=stop))
    assert placed.status is OrderStatus.SUBMITTED
    clock.advance_to(syd(14, 0))
    state = await broker.order_status(placed.broker_order_id)
    assert state.status is OrderStatus.FILLED
    assert state.avg_fill_price == stop - asx_tick_size(stop)
    sell = [f for f in await broker.executions(syd(10, 0)) if f.side is Side.SELL]
    assert when - timedelta(seconds=60) < sell[0].executed_at <= when
    assert await broker.positions() == []


async def test_fills_do_not_depend_on_how_often_the_broker_is_polled() -> None:
    async def run(poll_every_s: int) -> list[Fill]:
        broker, clock = await make(syd(10, 30))
        await broker.place_order(req("b", Side.BUY, 100))
        _, low = future_low(clock.now(), 200)
        await broker.place_order(req("s", Side.SELL, 100, OrderType.STP, stop=low))
        while clock.now() < syd(15, 0):
            clock.advance(poll_every_s)
            broker.sync()
        return await broker.executions(syd(10, 0))

    frequent, rare = await run(60), await run(3 * 3600)
    assert len(frequent) == 2 and frequent == rare


async def test_market_order_before_the_open_fills_at_the_opening_price() -> None:
    broker, clock = await make(syd(9, 50))
    state = await broker.place_order(req("pre", Side.BUY, 100))
    assert state.status is OrderStatus.SUBMITTED
    plan = MARKET.plan("BHP", DAY)
    clock.advance_to(plan.open_at + timedelta(minutes=1))
    [fill] = await broker.executions(syd(9, 0))
    assert fill.price == plan.open and fill.executed_at == plan.open_at


async def test_day_order_expires_at_the_close_but_gtc_keeps_working() -> None:
    broker, clock = await make(syd(15, 0))
    floor = D("0.001")
    day = await broker.place_order(req("d", Side.BUY, 10, OrderType.LMT, limit=floor))
    gtc = await broker.place_order(
        req("g", Side.BUY, 10, OrderType.LMT, limit=floor, tif=TimeInForce.GTC)
    )
    clock.advance_to(syd(16, 30))
    expired = await broker.order_status(day.broker_order_id)
    assert expired.status is OrderStatus.CANCELLED and "expired" in (expired.message or "")
    assert [o.client_order_id for o in await broker.open_orders()] == [gtc.client_order_id]


async def test_same_client_order_id_never_places_a_second_order() -> None:
    broker, _ = await make(syd(11, 0))
    first = await broker.place_order(req("dup", Side.BUY, 100))
    second = await broker.place_order(req("dup", Side.BUY, 100))
    assert first == second
    assert len(await broker.executions(syd(10, 0))) == 1
    assert (await broker.positions())[0].qty == 100


@pytest.mark.parametrize(
    ("start", "order", "message"),
    [
        (syd(11, 0), req("x", Side.SELL, 10), "exceeds position 0"),
        (syd(11, 0), req("x", Side.BUY, 10, OrderType.LMT, limit=D("1.237")), "tick grid"),
        (syd(16, 30), req("x", Side.BUY, 10), "closed"),
        (syd(11, 0, date(2025, 3, 8)), req("x", Side.BUY, 10), "closed"),
        (syd(11, 0), req("x", Side.BUY, 10**7), "cash"),
    ],
)
async def test_orders_the_broker_refuses(
    start: datetime, order: OrderRequest, message: str
) -> None:
    broker, _ = await make(start)
    with pytest.raises(OrderRejectedError, match=message):
        await broker.place_order(order)
    assert await broker.find_order("x") is None


async def test_second_exit_becomes_inactive_when_the_first_sold_the_shares() -> None:
    broker, clock = await make(syd(11, 0))
    await broker.place_order(req("b", Side.BUY, 100))
    _, low = future_low(clock.now(), 120)
    stop = await broker.place_order(req("stop", Side.SELL, 100, OrderType.STP, stop=low))
    await broker.place_order(req("mkt", Side.SELL, 100))
    clock.advance_to(syd(15, 0))
    state = await broker.order_status(stop.broker_order_id)
    assert state.status is OrderStatus.INACTIVE
    assert len(await broker.executions(syd(10, 0))) == 2


async def test_lost_session_refuses_calls_and_reports_the_event() -> None:
    broker, _ = await make(syd(11, 0))
    events = broker._events
    assert isinstance(events, RecordingBrokerEvents)
    broker.lose_session("nightly reset")
    assert not (await broker.health()).authenticated
    with pytest.raises(BrokerSessionError, match="nightly reset"):
        await broker.positions()
    broker.compete()
    assert (await broker.health()).competing
    assert events.kinds() == ["session_lost", "session_competing"]
    assert (await broker.connect()).ok


async def test_first_snapshot_is_a_preflight_when_enabled() -> None:
    clock = SimulatedClock(syd(11, 0))
    broker = DemoBroker(MARKET, clock, events=RecordingBrokerEvents(),
                        identifier_cache=InMemoryIdentifierCache())  # fmt: skip
    await broker.connect()
    conid = (await broker.resolve(["BHP"]))["BHP"].conid
    assert not (await broker.snapshots([conid]))[0].has_data
    assert (await broker.snapshots([conid]))[0].last is not None
    with pytest.raises(InvalidInputError, match="42"):
        await broker.snapshots([42])


async def test_gap_scan_filters_and_sorts() -> None:
    broker, clock = await make(syd(10, 5))
    found = await broker.scan_gaps(D("4"), D("0.10"), 1)
    assert found == sorted(found, key=lambda g: -g.gap_pct)
    assert all(g.gap_pct >= 4 and g.last is not None and g.last >= D("0.10") for g in found)
    expected = {p.symbol for p in MARKET.plans(DAY) if p.gap_pct >= 4}
    assert {g.symbol for g in found} <= expected
    clock.advance_to(syd(9, 0, date(2025, 3, 5)))
    assert await broker.scan_gaps(D("4"), D("0"), 0) == []  # before the next open


async def test_restore_rebuilds_cash_positions_and_executions() -> None:
    broker, _ = await make(syd(11, 0))
    await broker.place_order(req("b", Side.BUY, 100))
    fills = await broker.executions(syd(10, 0))
    cash = (await broker.account_summary()).cash
    fresh, _ = await make(syd(11, 0))
    fresh.restore(fills)
    fresh.restore(fills)  # already known exec ids are skipped
    assert await fresh.executions(syd(10, 0)) == fills
    assert (await fresh.account_summary()).cash == cash
    assert [p.qty for p in await fresh.positions()] == [100]


# -- the book file: the demo broker outlives the daemon, like a remote broker ---------------


async def reopen(path: Path, now: datetime) -> tuple[DemoBroker, SimulatedClock]:
    """A broker as a restarted daemon builds it: new process, new clock, same book file."""
    clock = SimulatedClock(now)
    broker = DemoBroker(MARKET, clock, events=RecordingBrokerEvents(),
                        identifier_cache=InMemoryIdentifierCache(), commission_per_order=D("6"),
                        snapshot_preflight=False, book_path=path)  # fmt: skip
    await broker.connect()
    return broker, clock


def extreme(symbol: str, start: datetime, minutes: int, *, low: bool) -> Decimal:
    """The lowest (highest) minute price of ``symbol`` in the window: a level the path
    touches there and nowhere before within it."""
    prices = [p for t, p in MARKET.minute_prices(symbol, DAY)
              if start < t <= start + timedelta(minutes=minutes)]  # fmt: skip
    return min(prices) if low else max(prices)


def day_script() -> list[tuple[datetime, OrderRequest]]:
    """A day with pre-open MKT, stop, resting GTC limit, an immediate MKT, a limit sell and
    a DAY limit that can never fill (it expires at the close)."""
    return [
        (syd(9, 50), req("pre-mkt", Side.BUY, 100)),
        (syd(10, 30), req("bhp-stop", Side.SELL, 100, OrderType.STP,
                          stop=extreme("BHP", syd(10, 30), 180, low=True))),
        (syd(10, 30), req("cba-lmt", Side.BUY, 50, OrderType.LMT, symbol="CBA",
                          limit=extreme("CBA", syd(10, 30), 120, low=True),
                          tif=TimeInForce.GTC)),
        (syd(11, 0), req("csl-never", Side.BUY, 10, OrderType.LMT, symbol="CSL",
                         limit=D("0.001"))),
        (syd(12, 0), req("cba-mkt", Side.BUY, 20, symbol="CBA")),
        (syd(12, 5), req("cba-tp", Side.SELL, 20, OrderType.LMT, symbol="CBA",
                         limit=extreme("CBA", syd(12, 5), 150, low=False))),
    ]  # fmt: skip


@dataclass(frozen=True)
class DayResult:
    fills: list[Fill]
    orders: list[OrderState | None]
    open: list[OrderState]
    positions: list[Position]
    account: AccountSummary


async def run_day(book: Path | None, restarts: set[datetime]) -> tuple[DayResult, int]:
    """Poll every 45 simulated seconds from 09:45 to 16:30, placing the script's orders on
    time; with a book, start a new broker from the file at each ``restarts`` instant.
    Returns the day's outcome and how many working orders had a saved ``eval_from`` behind
    the clock when a restart read the file."""
    clock = SimulatedClock(syd(9, 45))
    broker = DemoBroker(MARKET, clock, events=RecordingBrokerEvents(),
                        identifier_cache=InMemoryIdentifierCache(), commission_per_order=D("6"),
                        snapshot_preflight=False, book_path=book)  # fmt: skip
    await broker.connect()
    script = day_script()
    lagging = 0
    while clock.now() < syd(16, 30):
        clock.advance(45)
        now = clock.now()
        if book is not None and now in restarts:
            saved = json.loads(book.read_text(encoding="utf-8"))["orders"]
            lagging += sum(1 for o in saved if o["status"] == "submitted"
                           and datetime.fromisoformat(o["eval_from"]) < now)  # fmt: skip
            broker, clock = await reopen(book, now)
        while script and script[0][0] <= now:
            await broker.place_order(script.pop(0)[1])
        broker.sync()
    coids = [r.client_order_id for _, r in day_script()]
    result = DayResult(
        fills=await broker.executions(syd(0, 0)),
        orders=[await broker.find_order(c) for c in coids],
        open=await broker.open_orders(),
        positions=await broker.positions(),
        account=await broker.account_summary(),
    )
    return result, lagging


async def test_a_broker_restarted_from_its_book_trades_the_day_exactly_like_one_that_never_stopped(
    tmp_path: Path,
) -> None:
    continuous, _ = await run_day(None, set())
    restarted, lagging = await run_day(tmp_path / "demo-broker.json", {syd(11, 15), syd(13, 45)})
    # the restarts came while orders were working, with their saved eval_from behind the clock
    assert lagging >= 2
    assert restarted == continuous
    assert len(continuous.fills) == 5 and continuous.open == []
    states = {o.client_order_id: o.status for o in continuous.orders if o is not None}
    assert len(states) == 6 and states["csl-never"] is OrderStatus.CANCELLED
    assert all(s is OrderStatus.FILLED for c, s in states.items() if c != "csl-never")


async def test_working_orders_and_client_order_ids_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "demo-broker.json"
    broker, _ = await reopen(path, syd(11, 0))
    bought = await broker.place_order(req("buy", Side.BUY, 100))
    resting = await broker.place_order(req("rest", Side.BUY, 10, OrderType.LMT, limit=D("0.001")))
    cash = (await broker.account_summary()).cash

    again, _ = await reopen(path, syd(11, 5))
    assert await again.open_orders() == [resting]
    assert await again.place_order(req("buy", Side.BUY, 100)) == bought  # no second order
    assert await again.find_order("rest") == resting
    assert len(await again.executions(syd(10, 0))) == 1
    assert (await again.account_summary()).cash == cash
    assert [p.qty for p in await again.positions()] == [100]
    more = await again.place_order(req("more", Side.BUY, 10, OrderType.LMT, limit=D("0.001")))
    assert more.broker_order_id not in {bought.broker_order_id, resting.broker_order_id}
    await again.cancel_order(resting.broker_order_id)

    third, _ = await reopen(path, syd(11, 10))
    assert [o.client_order_id for o in await third.open_orders()] == ["more"]
    cancelled = await third.find_order("rest")
    assert cancelled is not None and cancelled.status is OrderStatus.CANCELLED


async def test_the_book_is_written_only_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "demo-broker.json"

    def saved_as_of() -> datetime:  # every save stamps the clock time into the file
        return datetime.fromisoformat(json.loads(path.read_text(encoding="utf-8"))["as_of"])

    broker, clock = await reopen(path, syd(11, 0))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # created at once
    when, low = future_low(clock.now(), 120)
    clock.advance(1)
    await broker.place_order(req("b", Side.BUY, 100, OrderType.LMT, limit=low))
    placed_at = clock.now()
    while clock.now() < when - timedelta(seconds=90):  # polls and queries, no fill yet
        clock.advance(5)
        broker.sync()
        await broker.open_orders()
        await broker.positions()
    broker.restore(await broker.executions(syd(10, 0)))  # nothing new: no write either
    assert saved_as_of() == placed_at == broker.book_as_of
    clock.advance_to(when + timedelta(seconds=5))
    broker.sync()
    assert saved_as_of() == clock.now()  # the fill was saved at once
    assert json.loads(path.read_text(encoding="utf-8"))["orders"][0]["status"] == "filled"


async def test_restore_still_works_without_a_book_and_is_a_no_op_with_one(
    tmp_path: Path,
) -> None:
    path = tmp_path / "demo-broker.json"
    broker, _ = await reopen(path, syd(11, 0))
    await broker.place_order(req("b", Side.BUY, 100))
    fills = await broker.executions(syd(10, 0))
    again, _ = await reopen(path, syd(11, 1))
    again.restore(fills)
    assert await again.executions(syd(10, 0)) == fills
    assert [p.qty for p in await again.positions()] == [100]


async def test_a_book_from_another_market_or_a_damaged_one_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "demo-broker.json"
    await reopen(path, syd(11, 0))
    clock = SimulatedClock(syd(11, 0))
    with pytest.raises(ConfigurationError, match="written for market"):
        DemoBroker(DemoMarket(seed=4, universe_size=40, calendar=MARKET.calendar), clock,
                   events=RecordingBrokerEvents(), identifier_cache=InMemoryIdentifierCache(),
                   book_path=path)  # fmt: skip
    path.write_text(path.read_text(encoding="utf-8")[:-7], encoding="utf-8")  # torn by hand
    with pytest.raises(ConfigurationError, match=f"{path}: not valid JSON"):
        await reopen(path, syd(11, 0))


async def test_an_unwritable_book_location_fails_at_construction(tmp_path: Path) -> None:
    with pytest.raises(FatalError, match="cannot be written"):
        await reopen(tmp_path / "no-such-dir" / "demo-broker.json", syd(11, 0))


async def test_scan_gaps_screens_the_opened_tickers_largest_gap_first() -> None:
    broker, clock = await make(syd(10, 5))
    opened = MARKET.opened(clock.now())
    quotes = {p.symbol: MARKET.quote(p.symbol, clock.now()) for p in opened}
    gapper = opened[0]  # the largest gap
    price = quotes[gapper.symbol].last
    volume = quotes[gapper.symbol].volume
    assert price is not None and volume is not None and gapper.gap_pct > 0
    # every threshold exactly at the gapper's figures: inclusive, so it is found
    found = await broker.scan_gaps(gapper.gap_pct, price, volume)
    assert found[0].symbol == gapper.symbol and found[0].last == price
    assert found[0].scan_date == DAY and found[0].volume == volume
    assert [c.gap_pct for c in found] == sorted((c.gap_pct for c in found), reverse=True)
    for over in ((gapper.gap_pct + D("0.0001"), price, volume),
                 (gapper.gap_pct, price + D("0.001"), volume),
                 (gapper.gap_pct, price, volume + 1)):  # fmt: skip
        assert gapper.symbol not in {c.symbol for c in await broker.scan_gaps(*over)}
    everyone = await broker.scan_gaps(D("-100"), D("0"), 0)
    assert [c.symbol for c in everyone] == [p.symbol for p in opened]


async def test_scan_gaps_finds_nothing_before_the_open_or_on_a_day_without_a_session() -> None:
    before, _ = await make(syd(9, 59))
    assert await before.scan_gaps(D("-100"), D("0"), 0) == []
    saturday, _ = await make(syd(11, 0, date(2025, 3, 8)))
    assert await saturday.scan_gaps(D("-100"), D("0"), 0) == []
