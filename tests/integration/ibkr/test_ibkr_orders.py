"""Order placement against the fake IBKR: exactly-once, questions, the paper guard."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from skimd.clock import SimulatedClock
from skimd.domain.orders import OrderRequest, OrderStatus, OrderType, Side
from skimd.errors import (
    BrokerSessionError,
    BrokerUnavailableError,
    ConfigurationError,
    OrderRejectedError,
)
from tests.fakes.ibkr_server import FakeAccount, FakeIbkr, FakeInstrument, autojump, make_broker

BHP = FakeInstrument("BHP", 4036812, "BHP GROUP LTD", Decimal("44.50"), Decimal("44.90"),
                     Decimal("45.10"), Decimal("45.09"), Decimal("45.11"), volume=1_000_000)


def _limit(coid: str, price: str = "40.00") -> OrderRequest:
    return OrderRequest(coid, "BHP", BHP.conid, Side.BUY, 10, OrderType.LMT, Decimal(price))


@pytest.fixture
async def broker(fake: FakeIbkr, clock: SimulatedClock, tmp_path: Path) -> AsyncIterator[Any]:
    fake.add_instrument(BHP)
    broker, client = make_broker(fake, tmp_path)
    async with autojump(clock):
        await broker.connect()
        yield broker
        await broker.close()
    await client.aclose()


async def test_order_json_carries_coid_and_day_tif(broker: Any, fake: FakeIbkr) -> None:
    state = await broker.place_order(_limit("coid-1"))
    assert state.status is OrderStatus.SUBMITTED and state.client_order_id == "coid-1"
    body = fake.calls_to("/iserver/account/DU1234567/orders")[0].body
    assert body == {"orders": [{
        "acctId": "DU1234567", "conid": BHP.conid, "orderType": "LMT", "side": "BUY",
        "quantity": 10, "tif": "DAY", "cOID": "coid-1", "outsideRTH": False, "price": 40.0,
    }]}


async def test_timed_out_order_post_found_by_coid_is_not_sent_again(
    broker: Any, fake: FakeIbkr
) -> None:
    fake.timeout_after_accept = True
    state = await broker.place_order(_limit("coid-timeout"))
    assert state.client_order_id == "coid-timeout"
    assert state.broker_order_id in fake.orders
    assert fake.order_posts == 1 and len(fake.orders) == 1
    assert len(fake.calls_to("/iserver/account/orders")) == 1  # the lookup


async def test_timed_out_order_post_not_found_is_unknown_and_not_resent(
    broker: Any, fake: FakeIbkr
) -> None:
    fake.timeout_before_accept = True
    with pytest.raises(BrokerUnavailableError, match="outcome unknown"):
        await broker.place_order(_limit("coid-lost"))
    assert fake.order_posts == 1 and not fake.orders
    # The caller retries later with the same client order id; exactly one order results.
    state = await broker.place_order(_limit("coid-lost"))
    again = await broker.place_order(_limit("coid-lost"))
    assert again.broker_order_id == state.broker_order_id and len(fake.orders) == 1


async def test_allow_listed_question_is_confirmed(broker: Any, fake: FakeIbkr) -> None:
    fake.questions = [("o163", "The following order exceeds the price percentage limit")]
    state = await broker.place_order(_limit("coid-q1", "30.00"))
    assert state.status is OrderStatus.SUBMITTED
    assert [confirmed for _, confirmed in fake.replies] == [True]


async def test_unknown_question_rejects_the_order_unconfirmed(
    broker: Any, fake: FakeIbkr
) -> None:
    fake.questions = [("o163", "Price is 30% below the market"),
                      ("o10331", "You are about to buy a stock with a halted status")]
    with pytest.raises(OrderRejectedError, match="halted status") as err:
        await broker.place_order(_limit("coid-q2", "30.00"))
    assert "o10331" in str(err.value)
    assert [confirmed for _, confirmed in fake.replies] == [True, False]
    assert not fake.orders


async def test_broker_refusal_is_a_rejection(broker: Any, fake: FakeIbkr) -> None:
    fake.fail("/iserver/account/DU1234567/orders", 400)
    with pytest.raises(OrderRejectedError, match="refused"):
        await broker.place_order(_limit("coid-400"))
    assert not fake.orders


async def test_live_account_is_refused_without_the_switch(
    ibkr_keys: Any, clock: SimulatedClock, tmp_path: Path
) -> None:
    fake = FakeIbkr(ibkr_keys, clock=clock, accounts=[FakeAccount("U7654321", paper=False)])
    ledger = tmp_path / "pacing.json"  # two brokers of one account share IBKR's limits
    broker, client = make_broker(fake, tmp_path, account_id="U7654321", pacing_file=ledger)
    async with autojump(clock):
        with pytest.raises(ConfigurationError, match="live_trading"):
            await broker.connect()
        with pytest.raises(BrokerSessionError, match="not connected"):
            await broker.place_order(_limit("coid-live"))
        await broker.close()
        allowed, client2 = make_broker(
            fake, tmp_path, account_id="U7654321", live_trading=True, pacing_file=ledger
        )
        await allowed.connect()
        assert not (await allowed.account_summary()).is_paper
        await allowed.close()
    await client.aclose()
    await client2.aclose()
    assert fake.order_posts == 0
