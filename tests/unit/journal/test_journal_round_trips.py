"""Round trips, P&L and ledger lines built from executions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from skimd.domain.journal import (
    LedgerKind,
    RoundTripStatus,
    UnmatchedSellError,
    build_round_trips,
    ledger_entries,
)
from skimd.domain.orders import Fill, Side
from skimd.errors import InvalidInputError

DAY1 = datetime(2024, 7, 1, 0, 15, tzinfo=UTC)  # 10:15 Sydney


def fill(
    exec_id: str,
    side: Side,
    qty: int,
    price: str,
    at: datetime,
    *,
    symbol: str = "BHP",
    commission: str = "6.00",
    account: str = "DU1",
) -> Fill:
    return Fill(
        exec_id=exec_id,
        broker_order_id=f"o-{exec_id}",
        client_order_id=None,
        symbol=symbol,
        conid=42 if symbol == "BHP" else 77,
        side=side,
        qty=qty,
        price=D(price),
        commission=D(commission),
        executed_at=at,
        account=account,
    )


BUY, SELL = Side.BUY, Side.SELL


def test_half_sold_on_day_3_then_the_rest_realises_fifo_pnl() -> None:
    entry = fill("e1", BUY, 1000, "1.00", DAY1)
    half = fill("x1", SELL, 500, "1.30", DAY1 + timedelta(days=2))

    (open_trip,) = build_round_trips([entry, half])
    assert open_trip.status is RoundTripStatus.OPEN
    assert (open_trip.qty_bought, open_trip.qty_sold, open_trip.open_qty) == (1000, 500, 500)
    assert open_trip.realised_gross == D("150.00")
    # exit commission 6 + half of the entry commission 3
    assert open_trip.realised_net == D("141.00")
    assert open_trip.closed_at is None and open_trip.holding_time is None
    assert open_trip.holding_time_at(DAY1 + timedelta(days=3)) == timedelta(days=3)

    rest = fill("x2", SELL, 500, "1.10", DAY1 + timedelta(days=4))
    (trip,) = build_round_trips([rest, half, entry])  # input order does not matter
    assert trip.status is RoundTripStatus.CLOSED and trip.is_closed
    assert trip.realised_gross == D("200.00")
    assert trip.realised_net == D("182.00")
    assert trip.commission == D("18.00")
    assert trip.avg_entry_price == D("1.00")
    assert trip.avg_exit_price == D("1.2")
    assert trip.opened_at == DAY1
    assert trip.closed_at == DAY1 + timedelta(days=4)
    assert trip.holding_time == timedelta(days=4)
    assert trip.exec_ids == ("e1", "x1", "x2")
    assert trip.key == "e1" and trip.qty == 1000


def test_partial_exit_matches_the_oldest_lot_first() -> None:
    fills = [
        fill("e1", BUY, 1000, "1.00", DAY1),
        fill("e2", BUY, 1000, "1.20", DAY1 + timedelta(minutes=5)),
        fill("x1", SELL, 1000, "1.50", DAY1 + timedelta(days=2)),
    ]
    (trip,) = build_round_trips(fills)
    assert trip.realised_gross == D("500.00")  # FIFO; average cost would say 400
    assert trip.realised_net == D("488.00")
    assert trip.avg_entry_price == D("1.1")
    assert trip.open_qty == 1000

    (closed,) = build_round_trips([*fills, fill("x2", SELL, 1000, "1.10", DAY1 + timedelta(3))])
    # closed: sum(sells) - sum(buys) = 2600 - 2200, whatever the matching
    assert closed.realised_gross == D("400.00")
    assert closed.realised_net == D("376.00")


def test_uneven_commission_shares_add_up_exactly_when_closed() -> None:
    fills = [fill("e1", BUY, 3, "10.00", DAY1, commission="1.00")]
    fills += [
        fill(f"x{i}", SELL, 1, "11.00", DAY1 + timedelta(hours=i), commission="0")
        for i in (1, 2, 3)
    ]
    (after_one,) = build_round_trips(fills[:2])
    assert after_one.realised_net == D("1.00") - D("0.333333")
    (trip,) = build_round_trips(fills)
    assert trip.realised_gross == D("3.00")
    assert trip.realised_net == D("2.00")  # the last share takes the rounding remainder


def test_open_round_trip_has_no_exit_figures() -> None:
    (trip,) = build_round_trips(
        [
            fill("e1", BUY, 400, "2.505", DAY1),
            fill("e2", BUY, 600, "2.51", DAY1 + timedelta(minutes=1), commission="0"),
        ]
    )
    assert trip.status is RoundTripStatus.OPEN
    assert trip.exits == () and trip.avg_exit_price is None
    assert trip.realised_gross == 0 and trip.realised_net == 0
    assert trip.avg_entry_price == D("2.508")
    assert trip.commission == D("6.00")
    assert trip.open_qty == 1000


def test_multiple_round_trips_on_one_ticker_and_other_tickers_apart() -> None:
    t = DAY1
    fills = [
        fill("a1", BUY, 100, "5.00", t),
        fill("c1", BUY, 50, "9.00", t + timedelta(minutes=1), symbol="CBA"),
        fill("a2", SELL, 100, "5.50", t + timedelta(minutes=30)),
        fill("a3", BUY, 200, "5.40", t + timedelta(hours=1)),
        fill("a4", SELL, 200, "5.20", t + timedelta(hours=2)),
        fill("a5", BUY, 10, "5.10", t + timedelta(days=1)),
    ]
    trips = build_round_trips(list(reversed(fills)))
    assert [(rt.ticker, rt.exec_ids, rt.status) for rt in trips] == [
        ("BHP", ("a1", "a2"), RoundTripStatus.CLOSED),
        ("CBA", ("c1",), RoundTripStatus.OPEN),
        ("BHP", ("a3", "a4"), RoundTripStatus.CLOSED),
        ("BHP", ("a5",), RoundTripStatus.OPEN),
    ]
    assert trips[0].realised_gross == D("50.00") and trips[0].realised_net == D("38.00")
    assert trips[2].realised_gross == D("-40.00") and trips[2].realised_net == D("-52.00")
    assert trips[1].conid == 77


def test_same_timestamp_is_ordered_by_exec_id() -> None:
    fills = [fill("b", SELL, 10, "2.00", DAY1), fill("a", BUY, 10, "1.00", DAY1)]
    (trip,) = build_round_trips(fills)
    assert trip.exec_ids == ("a", "b") and trip.is_closed


def test_accounts_are_kept_apart() -> None:
    trips = build_round_trips(
        [
            fill("e1", BUY, 10, "1.00", DAY1, account="DU1"),
            fill("e2", BUY, 10, "1.00", DAY1, account="DU2"),
            fill("x2", SELL, 10, "1.10", DAY1 + timedelta(minutes=1), account="DU2"),
        ]
    )
    assert [(rt.account, rt.status) for rt in trips] == [
        ("DU1", RoundTripStatus.OPEN),
        ("DU2", RoundTripStatus.CLOSED),
    ]


def test_sell_before_any_buy_names_the_execution() -> None:
    with pytest.raises(UnmatchedSellError, match=r"'x9'.*no open position") as err:
        build_round_trips(
            [fill("x9", SELL, 10, "1.00", DAY1), fill("e1", BUY, 10, "1.00", DAY1 + timedelta(1))]
        )
    assert err.value.exec_id == "x9"
    assert isinstance(err.value, InvalidInputError)


def test_selling_more_than_held_names_the_execution() -> None:
    with pytest.raises(UnmatchedSellError, match=r"'x1' sells 20 BHP.*only 10 open"):
        build_round_trips(
            [fill("e1", BUY, 10, "1.00", DAY1), fill("x1", SELL, 20, "1.00", DAY1 + timedelta(1))]
        )


def test_duplicate_exec_id_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="'e1' appears twice"):
        build_round_trips([fill("e1", BUY, 10, "1.00", DAY1)] * 2)


def test_commission_becomes_a_negative_ledger_line() -> None:
    (line,) = ledger_entries(fill("e1", BUY, 100, "2.50", DAY1, commission="6.60"))
    assert line.kind is LedgerKind.COMMISSION
    assert line.amount == D("-6.60")
    assert (line.exec_id, line.account, line.occurred_at) == ("e1", "DU1", DAY1)
    assert "BUY 100 BHP @ 2.50" in line.description
    assert ledger_entries(fill("e2", BUY, 100, "2.50", DAY1, commission="0")) == []


def test_average_prices_are_plain_decimals_without_exponent() -> None:
    (trip,) = build_round_trips(
        [
            fill("e1", BUY, 1, "100.00", DAY1),
            fill("e2", BUY, 2, "1.00", DAY1 + timedelta(minutes=1)),
        ]
    )
    assert str(trip.avg_entry_price) == "34"  # 102 / 3
    (other,) = build_round_trips(
        [fill("e1", BUY, 1, "100.00", DAY1), fill("e2", BUY, 1, "200.00", DAY1)]
    )
    assert str(other.avg_entry_price) == "150"
    (third,) = build_round_trips(
        [fill("e1", BUY, 3, "1.00", DAY1), fill("e2", BUY, 3, "1.005", DAY1)]
    )
    assert str(third.avg_entry_price) == "1.0025"
