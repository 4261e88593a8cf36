"""The fake IBKR over days: fills and stop triggers on the demo market's prices, and the
fault schedule (a sticky competing login, slow answers, a lost order answer) as the real
IBKR client meets them."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

from skimd.clock import SimulatedClock
from skimd.domain.orders import OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from skimd.infrastructure.brokers.demo.market import DemoMarket
from skimd.infrastructure.calendar import AsxCalendar
from tests.fakes.ibkr_faults import Fault, FaultKind, FaultSchedule, FaultyTransport
from tests.fakes.ibkr_market import FakeIbkrMarket
from tests.fakes.ibkr_server import FakeIbkr, FakeIbkrKeys, FakeOrder, autojump, make_broker

SYDNEY = ZoneInfo("Australia/Sydney")
AT_1105 = datetime(2026, 11, 24, 11, 5, tzinfo=SYDNEY)  # VPL (seed 7) trades 2.56 here;
# the session's low after it is 2.51, its close 2.62


def _market(fake: FakeIbkr) -> FakeIbkrMarket:
    demo = DemoMarket(seed=7, universe_size=300, calendar=AsxCalendar("Australia/Sydney"))
    return FakeIbkrMarket(fake, demo)


def _order(fake: FakeIbkr, order_id: str, side: str, kind: str, price: str | None,
           tif: str = "GTC", qty: int = 1000) -> FakeOrder:
    vpl = next(i for i in fake.instruments.values() if i.symbol == "VPL")
    order = FakeOrder(order_id, f"SK-{order_id}", "DU1234567", vpl.conid, "VPL", side, qty,
                      kind, None if price is None else Decimal(price), tif)
    fake.orders[order_id] = order
    return order


def test_stops_trigger_limits_wait_and_day_orders_expire_on_the_market_path(
    ibkr_keys: FakeIbkrKeys,
) -> None:
    clock = SimulatedClock(AT_1105)
    fake = FakeIbkr(ibkr_keys, clock=clock)
    market = _market(fake)
    buy = _order(fake, "1", "BUY", "MKT", None, tif="DAY")
    market.settle(clock.now())
    assert buy.status == "Filled" and buy.avg_price is not None
    assert buy.avg_price > Decimal("2.54")  # at the ask, around the 2.56 last
    stop = _order(fake, "2", "SELL", "STP", "2.53")
    deep = _order(fake, "3", "SELL", "STP", "2.45", qty=1)  # under the day's low
    target = _order(fake, "4", "SELL", "LMT", "3.00", tif="DAY", qty=1)
    market.settle(clock.now())
    assert stop.status == deep.status == target.status == "Submitted"

    clock.advance_to(datetime(2026, 11, 24, 16, 30, tzinfo=SYDNEY))
    market.settle(clock.now())

    assert stop.status == "Filled"
    assert stop.avg_price == Decimal("2.52")  # one tick through the 2.53 trigger
    execution = fake.executions[-1]
    assert execution.order is stop
    assert AT_1105 < execution.at < datetime(2026, 11, 24, 16, 0, tzinfo=SYDNEY)
    assert deep.status == "Submitted"  # GTC, never reached: still working
    assert target.status == "Cancelled"  # DAY, never reached: expired at the close
    assert [f.order_id for f in market.fills] == ["1", "2"]


def test_a_competing_login_holds_the_session_until_its_time_is_up(
    ibkr_keys: FakeIbkrKeys,
) -> None:
    clock = SimulatedClock(AT_1105)
    fake = FakeIbkr(ibkr_keys, clock=clock)
    fake.authenticated = True
    schedule = FaultSchedule([Fault(AT_1105, FaultKind.COMPETING, seconds=300)])
    schedule.apply_due(fake, clock.now())
    assert fake.competing and not fake.authenticated and fake.other_login_holds
    schedule.apply_due(fake, AT_1105 + timedelta(seconds=299))
    assert fake.other_login_holds
    schedule.apply_due(fake, AT_1105 + timedelta(seconds=300))
    assert not fake.other_login_holds
    assert [f.kind for _, f in schedule.injected] == [FaultKind.COMPETING]


async def test_slow_answers_take_simulated_time_and_a_lost_order_answer_is_found_by_cOID(
    ibkr_keys: FakeIbkrKeys, tmp_path: Path
) -> None:
    clock = SimulatedClock(AT_1105)
    fake = FakeIbkr(ibkr_keys, clock=clock)
    market = _market(fake)
    schedule = FaultSchedule([])
    transport = FaultyTransport(fake, market, schedule, clock)
    broker, client = make_broker(fake, tmp_path, client=httpx.AsyncClient(transport=transport))
    async with autojump(clock):
        await broker.connect()
        schedule.faults = [Fault(clock.now(), FaultKind.SLOW, seconds=8.0, count=1)]
        before = clock.monotonic()
        await broker.health()
        assert clock.monotonic() - before >= 8.0

        schedule.faults = [Fault(clock.now(), FaultKind.DROPPED_ORDER)]
        vpl = await broker.resolve(["VPL"])
        request = OrderRequest("SK20261124-VPL-E", "VPL", vpl["VPL"].conid, Side.BUY, 100,
                               OrderType.LMT, Decimal("3.00"), tif=TimeInForce.DAY)
        state = await broker.place_order(request)
        await broker.close()
    await client.aclose()

    assert [s.status for s in transport.seen if s.path.endswith("/orders")
            and s.method == "POST"] == [0]  # the answer was lost
    assert state.client_order_id == "SK20261124-VPL-E"
    assert state.status is OrderStatus.FILLED  # marketable: 3.00 is over the ask
    assert [o.coid for o in fake.orders.values()] == ["SK20261124-VPL-E"]
