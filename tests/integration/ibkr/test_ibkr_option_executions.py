"""Option executions from IBKR's /iserver/account/trades: the contract read from the row's
descriptions, shares left as they were, unreadable or unbookable rows never breaking a sync."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from skimd.clock import SimulatedClock
from skimd.domain.orders import OptionLeg, OrderRequest, OrderType, Side
from skimd.infrastructure.brokers.ibkr import mapping
from tests.fakes.ibkr_server import FakeIbkr, FakeInstrument, autojump, make_broker

BHP = FakeInstrument(
    "BHP",
    4036812,
    "BHP GROUP LTD",
    Decimal("44.50"),
    Decimal("44.90"),
    Decimal("45.10"),
    Decimal("45.09"),
    Decimal("45.11"),
    volume=1_000_000,
)
DEC_2026 = date(2026, 12, 24)  # ASX monthly expiry: the Thursday before the last Friday


@pytest.fixture
async def broker(fake: FakeIbkr, clock: SimulatedClock, tmp_path: Path) -> AsyncIterator[Any]:
    fake.add_instrument(BHP)
    broker, client = make_broker(fake, tmp_path)
    async with autojump(clock):
        await broker.connect()
        yield broker
        await broker.close()
    await client.aclose()


async def test_option_executions_carry_their_contract_and_shares_stay_shares(
    broker: Any, fake: FakeIbkr, clock: SimulatedClock
) -> None:
    since = clock.now() - timedelta(seconds=1)
    await broker.place_order(OrderRequest("eq-1", "BHP", BHP.conid, Side.BUY, 100, OrderType.MKT))
    clock.advance(1)
    fake.add_option_execution(
        underlying="BHP",
        description="BHP DEC2026 45 C [BHP 261224C00045000 100]",
        side="B",
        size=2,
        price=Decimal("1.20"),
        conid=700001,
        order_id=5001,
        execution_id="opt-1",
    )
    fake.add_option_execution(
        underlying="BHP",
        description="(BHP) DEC26 48 Call",
        side="S",
        size=2,
        price=Decimal("0.40"),
        conid=700002,
        order_id=5001,
        execution_id="opt-2",
    )
    fills = {f.exec_id: f for f in await broker.executions(since)}

    (share,) = [f for f in fills.values() if f.client_order_id == "eq-1"]
    assert (share.sec_type, share.option, share.symbol, share.qty) == ("STK", None, "BHP", 100)

    long_call, short_call = fills["opt-1"], fills["opt-2"]
    assert long_call.sec_type == "OPT" and long_call.symbol == "BHP"
    assert long_call.option == OptionLeg("BHP", "C", Decimal(45), DEC_2026, 100)
    assert (long_call.side, long_call.qty, long_call.price) == (Side.BUY, 2, Decimal("1.20"))
    assert long_call.broker_order_id == "5001" and long_call.conid == 700001
    assert long_call.gross == Decimal("240")  # 2 contracts x 100 x 1.20
    # the readable form: class prefix, month only, "Call"; multiplier from net_amount
    assert short_call.option == OptionLeg("BHP", "C", Decimal(48), DEC_2026, 100)
    assert short_call.side is Side.SELL


async def test_an_unreadable_option_is_kept_as_an_option_without_its_contract(
    broker: Any, fake: FakeIbkr, clock: SimulatedClock
) -> None:
    since = clock.now() - timedelta(seconds=1)
    fake.add_option_execution(
        underlying="BHP",
        description="SOMETHING NEW",
        side="B",
        size=1,
        price=Decimal("0.55"),
        conid=700003,
        order_id=5002,
        execution_id="opt-odd",
    )
    # an expiry (side "X", as IBKR reports one) is not an execution to book: skipped
    fake.add_option_execution(
        underlying="BHP",
        description="BHP DEC2026 45 C [BHP 261224C00045000 100]",
        side="X",
        size=2,
        price=Decimal("0"),
        conid=700001,
        order_id=5003,
        execution_id="opt-expired",
        order_description="EXPIRED 2 on ASX",
    )
    fills = await broker.executions(since)
    assert [f.exec_id for f in fills] == ["opt-odd"]
    (odd,) = fills
    assert (odd.sec_type, odd.option, odd.symbol) == ("OPT", None, "BHP")


# -- the row readers, on rows shaped like IBKR's ------------------------------------------------

# a futures-option row as IBKR returned it (captured example, account redacted)
FOP_ROW = {
    "execution_id": "00019123.65240d41.01.01",
    "symbol": "MES",
    "side": "S",
    "order_description": "Sold 1 @ 10.75 on CME",
    "trade_time_r": 1696882334000,
    "size": 1.0,
    "price": "10.75",
    "exchange": "CME",
    "net_amount": 53.75,
    "account": "U1234567",
    "contract_description_1": "MES",
    "contract_description_2": "(EX2) OCT23 4300 Put Fut. Option",
    "sec_type": "FOP",
    "conid": 652847924,
    "conidEx": "652847924@CME",
    "commission": "0.47",
}


def test_a_futures_option_is_neither_shares_nor_an_asx_option() -> None:
    fill = mapping.fill_from_trade(FOP_ROW, "")
    assert (fill.sec_type, fill.option, fill.symbol) == ("FOP", None, "MES")
    # its description is still readable: the multiplier comes from net_amount (5 for MES)
    leg = mapping.option_leg_from_trade(FOP_ROW)
    assert leg == OptionLeg("MES", "P", Decimal(4300), date(2023, 10, 26), 5)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"contract_description_2": "BHP DEC2026 45 C [BHP 261224C00045000 100]"},
            ("C", "45", DEC_2026, 100),
        ),
        (
            {"contract_description_2": "[BHP 270318P00042500 50]"},
            ("P", "42.5", date(2027, 3, 18), 50),
        ),
        ({"contract_description_2": "DEC 24 '26 150.5 Call"}, ("C", "150.5", DEC_2026, 100)),
        ({"contract_description_2": "24DEC26 45 P"}, ("P", "45", DEC_2026, 100)),
        ({"contract_description_2": "20270318 45 PUT"}, ("P", "45", date(2027, 3, 18), 100)),
        ({"contract_description_2": "(BHP) MAR27 45 Put"}, ("P", "45", date(2027, 3, 25), 100)),
        (
            {"contract_description_2": "", "contract_description_1": "BHP DEC2026 45 C"},
            ("C", "45", DEC_2026, 100),
        ),
        (
            {"strike": "45", "putOrCall": "C", "expiry": "20261224", "multiplier": "10"},
            ("C", "45", DEC_2026, 10),
        ),
        (
            {
                "contract_description_2": "DEC2026 45 C",
                "size": 3,
                "price": "0.50",
                "net_amount": 150.0,
            },
            ("C", "45", DEC_2026, 100),
        ),
        (
            {
                "contract_description_2": "DEC2026 45 C",
                "size": 3,
                "price": "0.50",
                "net_amount": 1500.0,
            },
            ("C", "45", DEC_2026, 1000),
        ),
    ],
)
def test_option_contracts_are_read_from_the_forms_ibkr_uses(
    fields: dict[str, Any], expected: tuple[str, str, date, int]
) -> None:
    right, strike, expiry, multiplier = expected
    row = {"symbol": "BHP", "contract_description_1": "BHP", "sec_type": "OPT", **fields}
    assert mapping.option_leg_from_trade(row) == OptionLeg(
        "BHP", right, Decimal(strike), expiry, multiplier
    )


@pytest.mark.parametrize(
    "description",
    ["", "BHP", "DEC2026 45", "DEC2026 C", "45 C", "[BHP 261324C00045000 100]"],
)
def test_descriptions_missing_a_part_give_no_contract(description: str) -> None:
    row = {
        "symbol": "BHP",
        "contract_description_1": "BHP",
        "sec_type": "OPT",
        "contract_description_2": description,
    }
    assert mapping.option_leg_from_trade(row) is None


async def test_option_positions_are_not_reported_as_shares(
    broker: Any, fake: FakeIbkr, clock: SimulatedClock
) -> None:
    await broker.place_order(OrderRequest("eq-p", "BHP", BHP.conid, Side.BUY, 100, OrderType.MKT))
    fake.extra_position_rows.append(
        {
            "acctId": "DU1234567",
            "conid": 700001,
            "contractDesc": "BHP DEC2026 45 C [BHP 261224C00045000 100]",
            "ticker": "BHP",
            "position": 2.0,
            "avgCost": 120.0,
            "mktPrice": 1.3,
            "currency": "AUD",
            "assetClass": "OPT",
        }
    )
    async with autojump(clock):
        held = await broker.positions()
    assert [(p.symbol, p.qty, p.conid) for p in held] == [("BHP", 100, BHP.conid)]
