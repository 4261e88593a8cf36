"""Expiry payoff of options strategies: extremes at the strikes, unlimited sides, and
breakevens where the P&L crosses 0."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from skimd.domain.option_payoff import PayoffProfile, expiry_payoff, pnl_at
from skimd.domain.options import StrategyLeg
from skimd.domain.orders import Side

EXP = date(2026, 12, 17)
D = Decimal


def leg(right: str, strike: str, side: Side, price: str, qty: int = 1) -> StrategyLeg:
    return StrategyLeg(right, D(strike), EXP, side, qty, D(price))


def premium(*legs: StrategyLeg) -> Decimal:
    return sum((-g.side.sign * g.price * g.qty * g.multiplier for g in legs), D(0))


def test_a_long_call_loses_the_premium_and_profits_without_limit() -> None:
    legs = (leg("C", "50", Side.BUY, "2.00"),)
    assert expiry_payoff(legs, premium(*legs)) == PayoffProfile(None, D(200), (D("52.0000"),))


def test_a_short_call_can_lose_without_limit() -> None:
    legs = (leg("C", "50", Side.SELL, "2.00"),)
    assert expiry_payoff(legs, premium(*legs)) == PayoffProfile(D(200), None, (D("52.0000"),))


def test_a_debit_call_spread_is_bounded_both_ways() -> None:
    legs = (leg("C", "50", Side.BUY, "3.00"), leg("C", "55", Side.SELL, "1.00"))
    net = premium(*legs)
    assert net == D(-200)
    assert expiry_payoff(legs, net) == PayoffProfile(D(300), D(200), (D("52.0000"),))
    assert pnl_at(legs, net, D(60)) == D(300)


def test_a_short_put_and_an_iron_condor() -> None:
    put = (leg("P", "40", Side.SELL, "1.50", qty=2),)
    assert expiry_payoff(put, premium(*put)) == PayoffProfile(D(300), D(7700), (D("38.5000"),))
    condor = (leg("P", "90", Side.BUY, "0.50"), leg("P", "95", Side.SELL, "1.50"),
              leg("C", "105", Side.SELL, "1.50"), leg("C", "110", Side.BUY, "0.50"))
    assert expiry_payoff(condor, premium(*condor)) == PayoffProfile(
        D(200), D(300), (D("93.0000"), D("107.0000")))


def test_a_long_straddle_has_two_breakevens_and_no_profit_limit() -> None:
    legs = (leg("C", "100", Side.BUY, "4"), leg("P", "100", Side.BUY, "3"))
    assert expiry_payoff(legs, premium(*legs)) == PayoffProfile(
        None, D(700), (D("93.0000"), D("107.0000")))


def test_several_expiries_or_no_legs_have_no_single_payoff() -> None:
    calendar = (leg("C", "50", Side.SELL, "1"),
                StrategyLeg("C", D(50), date(2027, 1, 21), Side.BUY, 1, D(2)))
    assert expiry_payoff(calendar, D(-100)) is None
    assert expiry_payoff((), D(0)) is None
