"""Options strategies from executions: the contract on a fill, tickets, names, premium and
closing (skimd.domain.options)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest

from skimd.domain.options import StrategyLeg, StrategyStatus, group_strategies, strategy_name
from skimd.domain.orders import Fill, OptionLeg, Side
from skimd.errors import InvalidInputError

T0 = datetime(2026, 11, 24, 0, 30, tzinfo=UTC)
DEC = date(2026, 12, 24)
_seq = iter(range(1, 10_000))


def opt(
    right: str,
    strike: str,
    side: Side,
    qty: int,
    price: str,
    *,
    at: float = 0.0,
    order: str | None = None,
    underlying: str = "BHP",
    expiry: date = DEC,
    account: str = "DU1",
    multiplier: int = 100,
) -> Fill:
    n = next(_seq)
    return Fill(
        exec_id=f"x{n}",
        broker_order_id=order or f"o{n}",
        client_order_id=None,
        symbol=underlying,
        conid=9000 + n,
        side=side,
        qty=qty,
        price=D(price),
        commission=D("3.50"),
        executed_at=T0 + timedelta(seconds=at),
        account=account,
        sec_type="OPT",
        option=OptionLeg(underlying, right, D(strike), expiry, multiplier),
    )


B, S = Side.BUY, Side.SELL


# -- the contract on a fill -----------------------------------------------------------------


def test_option_leg_code_reads_back_and_share_tickers_are_not_codes() -> None:
    leg = OptionLeg("BHP", "C", D("45.50"), DEC, 100)
    assert leg.code == "BHP 2026-12-24 45.5 C x100"
    assert OptionLeg.from_code(leg.code) == leg
    assert OptionLeg("XJO", "P", D("8000"), DEC, 10).code == "XJO 2026-12-24 8000 P x10"
    assert OptionLeg.from_code("BHP") is None
    assert OptionLeg.from_code("BHP OPT#123") is None


@pytest.mark.parametrize(
    ("kwargs", "fault"),
    [
        ({"right": "X"}, "right"),
        ({"strike": D(0)}, "strike"),
        ({"multiplier": 0}, "multiplier"),
        ({"underlying": "B HP"}, "underlying"),
    ],
)
def test_option_leg_refuses_a_malformed_contract(kwargs: dict[str, object], fault: str) -> None:
    base: dict[str, object] = {
        "underlying": "BHP", "right": "C", "strike": D(45), "expiry": DEC, "multiplier": 100
    }
    with pytest.raises(InvalidInputError, match=fault):
        OptionLeg(**{**base, **kwargs})  # type: ignore[arg-type]


def test_fill_defaults_to_shares_and_an_option_fill_counts_the_multiplier() -> None:
    shares = Fill("e1", "o1", None, "BHP", 1, B, 100, D("45"), D("6"), T0, "DU1")
    assert shares.sec_type == "STK" and shares.option is None and not shares.is_option
    assert shares.gross == D("4500")
    call = opt("C", "45", B, 2, "1.25")
    assert call.is_option and call.gross == D("250")  # 2 contracts x 100 x 1.25
    assert call.cash_delta == D("-253.50")
    with pytest.raises(ValueError, match="sec_type"):
        Fill("e2", "o2", None, "BHP", 1, B, 1, D("1"), D(0), T0, "DU1",
             option=OptionLeg("BHP", "C", D(45), DEC))


# -- names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("right", "side", "name"),
    [("C", B, "long call"), ("C", S, "short call"), ("P", B, "long put"), ("P", S, "short put")],
)
def test_single_legs_are_named_by_side_and_right(right: str, side: Side, name: str) -> None:
    (view,) = group_strategies([opt(right, "45", side, 1, "1.00")])
    assert view.name == name and view.status is StrategyStatus.OPEN


def test_a_vertical_call_spread_sent_as_one_combo_order() -> None:
    fills = [
        opt("C", "45", B, 2, "1.20", order="combo"),
        opt("C", "48", S, 2, "0.40", order="combo", at=0.2),
    ]
    (view,) = group_strategies(fills)
    assert view.name == "vertical call spread"
    assert view.underlying == "BHP" and view.opened_at == T0
    assert view.legs == (
        StrategyLeg("C", D("45"), DEC, B, 2, D("1.2")),
        StrategyLeg("C", D("48"), DEC, S, 2, D("0.4")),
    )
    assert view.net_premium == D("-160")  # debit: -(1.20 - 0.40) x 2 x 100
    assert view.status is StrategyStatus.OPEN and view.closed_at is None


def test_a_vertical_put_spread_legged_as_separate_orders_within_the_window() -> None:
    fills = [opt("P", "44", S, 1, "1.10"), opt("P", "42", B, 1, "0.50", at=1.5)]
    (view,) = group_strategies(fills)
    assert view.name == "vertical put spread"
    assert view.net_premium == D("60")  # credit


def test_legs_further_apart_than_the_window_are_separate_strategies() -> None:
    fills = [opt("P", "44", S, 1, "1.10"), opt("P", "42", B, 1, "0.50", at=2.5)]
    assert [v.name for v in group_strategies(fills)] == ["short put", "long put"]
    closer = [opt("P", "44", S, 1, "1.10"), opt("P", "42", B, 1, "0.50", at=2.5)]
    assert [v.name for v in group_strategies(closer, window=timedelta(seconds=3))] == [
        "vertical put spread"
    ]


def test_a_late_partial_fill_of_the_same_order_joins_its_ticket() -> None:
    fills = [
        opt("C", "45", B, 1, "1.20", order="combo"),
        opt("C", "48", S, 1, "0.40", order="combo"),
        opt("C", "45", B, 1, "1.30", order="combo", at=90),
        opt("C", "48", S, 1, "0.50", order="combo", at=90),
    ]
    (view,) = group_strategies(fills)
    assert view.name == "vertical call spread"
    assert [(g.qty, g.price) for g in view.legs] == [(2, D("1.25")), (2, D("0.45"))]
    assert view.opened_at == T0


def test_straddle_and_strangle() -> None:
    (straddle,) = group_strategies([opt("C", "45", B, 1, "1.5"), opt("P", "45", B, 1, "1.4")])
    assert straddle.name == "straddle" and straddle.net_premium == D("-290")
    (strangle,) = group_strategies(
        [opt("C", "48", S, 3, "0.5", account="DU2"), opt("P", "42", S, 3, "0.6", account="DU2")]
    )
    assert strangle.name == "strangle" and strangle.net_premium == D("330")
    assert strangle.account == "DU2"


def test_an_iron_condor() -> None:
    fills = [
        opt("P", "40", B, 1, "0.20", order="ic"),
        opt("P", "42", S, 1, "0.50", order="ic"),
        opt("C", "48", S, 1, "0.45", order="ic"),
        opt("C", "50", B, 1, "0.15", order="ic"),
    ]
    (view,) = group_strategies(fills)
    assert view.name == "iron condor"
    assert [(g.right, g.strike, g.side) for g in view.legs] == [
        ("C", D(48), S), ("C", D(50), B), ("P", D(40), B), ("P", D(42), S)
    ]
    assert view.net_premium == D("60")


@pytest.mark.parametrize(
    ("legs", "name"),
    [
        # a calendar: two expiries
        ([("C", "45", B, DEC), ("C", "45", S, date(2027, 1, 28))], "2-leg combo"),
        # ratio spread: unequal quantities
        ([("C", "45", B, DEC), ("C", "48", S, DEC), ("C", "48", S, DEC)], "2-leg combo"),
        # an iron butterfly is not a condor (inner strikes meet)
        (
            [("P", "40", B, DEC), ("P", "45", S, DEC), ("C", "45", S, DEC), ("C", "50", B, DEC)],
            "4-leg combo",
        ),
        ([("C", "45", B, DEC), ("C", "48", S, DEC), ("P", "40", B, DEC)], "3-leg combo"),
    ],
)
def test_other_shapes_are_n_leg_combos(
    legs: list[tuple[str, str, Side, date]], name: str
) -> None:
    fills = [opt(r, k, s, 1, "1.00", expiry=e, order="one") for r, k, s, e in legs]
    (view,) = group_strategies(fills)
    assert view.name == name


def test_strategy_name_of_legs_directly() -> None:
    legs = [StrategyLeg("C", D(45), DEC, B, 1, D(1)), StrategyLeg("C", D(45), DEC, S, 1, D(1))]
    assert strategy_name(legs) == "2-leg combo"  # same strike both sides: no spread


# -- closing --------------------------------------------------------------------------------


def test_a_vertical_closed_as_a_combo_later() -> None:
    fills = [
        opt("C", "45", B, 2, "1.20", order="open"),
        opt("C", "48", S, 2, "0.40", order="open"),
        opt("C", "45", S, 2, "2.00", order="close", at=3600),
        opt("C", "48", B, 2, "0.70", order="close", at=3600.1),
    ]
    (view,) = group_strategies(fills)
    assert view.status is StrategyStatus.CLOSED
    assert view.closed_at == T0 + timedelta(seconds=3600.1)
    assert view.name == "vertical call spread" and view.net_premium == D("-160")
    assert view.exec_ids == tuple(f.exec_id for f in fills)


def test_closing_one_leg_at_a_time_closes_only_when_both_are_flat() -> None:
    opening = [opt("C", "45", B, 2, "1.20", order="o"), opt("C", "48", S, 2, "0.40", order="o")]
    first_close = opt("C", "45", S, 2, "2.00", at=600)
    (half,) = group_strategies([*opening, first_close])
    assert half.status is StrategyStatus.OPEN
    partial = opt("C", "48", B, 1, "0.70", at=1200)
    (still,) = group_strategies([*opening, first_close, partial])
    assert still.status is StrategyStatus.OPEN
    last = opt("C", "48", B, 1, "0.75", at=1800)
    (done,) = group_strategies([*opening, first_close, partial, last])
    assert done.status is StrategyStatus.CLOSED and done.closed_at == last.executed_at


def test_a_roll_closes_the_old_strategy_and_opens_a_new_one() -> None:
    first = opt("P", "44", S, 1, "1.10")
    roll_close = opt("P", "44", B, 1, "0.30", order="roll", at=86400)
    roll_open = opt("P", "42", S, 1, "0.90", order="roll", at=86400.3,
                    expiry=date(2027, 1, 28))
    old, new = group_strategies([first, roll_close, roll_open])
    assert (old.name, old.status) == ("short put", StrategyStatus.CLOSED)
    assert old.closed_at == roll_close.executed_at
    assert (new.name, new.status, new.opened_at) == (
        "short put", StrategyStatus.OPEN, roll_open.executed_at
    )
    assert new.legs == (StrategyLeg("P", D(42), date(2027, 1, 28), S, 1, D("0.9")),)


def test_selling_more_than_held_closes_and_opens_the_remainder_short() -> None:
    buy = opt("C", "45", B, 1, "1.00")
    sell = opt("C", "45", S, 3, "1.50", at=60)
    old, new = group_strategies([buy, sell])
    assert old.status is StrategyStatus.CLOSED
    assert (new.name, new.legs[0].qty, new.status) == ("short call", 2, StrategyStatus.OPEN)


def test_underlyings_and_accounts_are_kept_apart_and_shares_are_ignored() -> None:
    shares = Fill("s1", "o9", None, "BHP", 1, B, 100, D("45"), D("6"), T0, "DU1")
    unknown = Fill("u1", "o8", None, "BHP", 2, B, 1, D("1"), D(0), T0, "DU1", sec_type="OPT")
    fills = [
        shares,
        unknown,
        opt("C", "45", B, 1, "1.00"),
        opt("C", "45", S, 1, "1.00", underlying="CBA"),
        opt("C", "45", S, 1, "1.00", account="DU2"),
    ]
    views = group_strategies(fills + fills)  # a repeated exec id counts once
    assert sorted((v.underlying, v.account, v.name) for v in views) == [
        ("BHP", "DU1", "long call"),
        ("BHP", "DU2", "short call"),
        ("CBA", "DU1", "short call"),
    ]
    assert all(v.status is StrategyStatus.OPEN for v in views)
