"""Each mistake rule firing with its cost, and staying silent."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from skimd.domain.journal import build_round_trips
from skimd.domain.mistakes import (
    ExitFact,
    MistakeCode,
    MistakeThresholds,
    RoundTripFacts,
    detect_mistakes,
    round_trip_facts,
)
from skimd.domain.orders import Fill, Side
from skimd.errors import InvalidInputError

OR_DONE = datetime(2024, 7, 1, 0, 15, tzinfo=UTC)  # opening range final at 10:15 Sydney
TH = MistakeThresholds(stop_tolerance=D("0.005"), risk_tolerance=D("5"), chase_pct=D("2"))

# A clean trade: news, entered after the range at the ORH, sized to the budget, exited
# above the stop at a profit.
CLEAN = RoundTripFacts(
    ticker="BHP",
    qty=1000,
    entry_price=D("2.00"),
    entered_at=OR_DONE + timedelta(minutes=3),
    exits=(ExitFact(D("2.20"), 500), ExitFact(D("2.10"), 500)),
    net_pnl=D("138.00"),
    planned_stop=D("1.90"),
    risk_budget=D("100"),
    had_price_sensitive_news=True,
    opening_range_high=D("2.00"),
    opening_range_complete_at=OR_DONE,
)


def codes(facts: RoundTripFacts) -> dict[MistakeCode, D]:
    return {f.code: f.cost for f in detect_mistakes(facts, TH)}


def test_a_clean_trade_has_no_mistakes() -> None:
    assert detect_mistakes(CLEAN, TH) == []


def test_unknown_facts_keep_every_rule_silent() -> None:
    bare = RoundTripFacts(
        ticker="BHP",
        qty=1000,
        entry_price=D("9.00"),
        entered_at=OR_DONE,
        exits=(ExitFact(D("1.00"), 1000),),
        net_pnl=D("-8000"),
    )
    assert detect_mistakes(bare, TH) == []


def test_exit_below_stop_costs_what_the_stop_would_have_saved() -> None:
    facts = dataclasses.replace(
        CLEAN,
        exits=(ExitFact(D("2.10"), 500), ExitFact(D("1.80"), 300), ExitFact(D("1.85"), 200)),
        net_pnl=D("-20"),
    )
    (finding,) = detect_mistakes(facts, TH)
    assert finding.code is MistakeCode.EXIT_BELOW_STOP
    assert finding.cost == D("40.00")  # 0.10 x 300 + 0.05 x 200
    assert "BHP" in finding.description and "1.90" in finding.description


def test_slippage_within_the_stop_tolerance_is_no_mistake() -> None:
    facts = dataclasses.replace(CLEAN, exits=(ExitFact(D("1.895"), 1000),), net_pnl=D("-117"))
    assert MistakeCode.EXIT_BELOW_STOP not in codes(facts)


def test_entry_without_news_costs_the_loss_or_nothing() -> None:
    losing = dataclasses.replace(CLEAN, had_price_sensitive_news=False, net_pnl=D("-57.255"))
    assert codes(losing) == {MistakeCode.ENTRY_WITHOUT_NEWS: D("57.26")}
    winning = dataclasses.replace(CLEAN, had_price_sensitive_news=False)
    assert codes(winning) == {MistakeCode.ENTRY_WITHOUT_NEWS: D("0.00")}


def test_size_over_the_risk_budget_costs_the_excess() -> None:
    facts = dataclasses.replace(CLEAN, qty=1500)  # 0.10 x 1500 = 150 at risk, budget 100
    (finding,) = detect_mistakes(facts, TH)
    assert finding.code is MistakeCode.SIZE_OVER_RISK_BUDGET
    assert finding.cost == D("50.00")
    assert "150.00" in finding.description


def test_risk_within_the_tolerance_is_no_mistake() -> None:
    facts = dataclasses.replace(CLEAN, entry_price=D("2.005"), opening_range_high=D("2.005"))
    assert codes(facts) == {}  # 105 at risk: 5 over, tolerance 5


def test_entry_before_the_opening_range_completed() -> None:
    early = dataclasses.replace(CLEAN, entered_at=OR_DONE - timedelta(minutes=2), net_pnl=D("-30"))
    (finding,) = detect_mistakes(early, TH)
    assert finding.code is MistakeCode.ENTRY_BEFORE_OPENING_RANGE
    assert finding.cost == D("30.00")
    assert "120 s" in finding.description
    on_time = dataclasses.replace(CLEAN, entered_at=OR_DONE)
    assert detect_mistakes(on_time, TH) == []


def test_chasing_costs_what_was_paid_over_the_limit() -> None:
    # limit = 2.00 x 1.02 = 2.04; entry 2.06 -> 0.02 x 1000 over it. A wider stop keeps
    # the risk rule out of it.
    facts = dataclasses.replace(CLEAN, entry_price=D("2.06"), risk_budget=D("200"))
    (finding,) = detect_mistakes(facts, TH)
    assert finding.code is MistakeCode.CHASED_ENTRY
    assert finding.cost == D("20.00")
    assert "3.00% above the ORH 2.00" in finding.description
    at_limit = dataclasses.replace(facts, entry_price=D("2.04"))
    assert detect_mistakes(at_limit, TH) == []


def test_several_rules_fire_in_a_fixed_order() -> None:
    facts = dataclasses.replace(
        CLEAN,
        entered_at=OR_DONE - timedelta(seconds=30),
        had_price_sensitive_news=False,
        exits=(ExitFact(D("1.70"), 1000),),
        net_pnl=D("-312"),
        qty=1000,
        entry_price=D("2.10"),
    )
    assert list(codes(facts)) == [
        MistakeCode.EXIT_BELOW_STOP,
        MistakeCode.ENTRY_WITHOUT_NEWS,
        MistakeCode.SIZE_OVER_RISK_BUDGET,
        MistakeCode.ENTRY_BEFORE_OPENING_RANGE,
        MistakeCode.CHASED_ENTRY,
    ]
    assert codes(facts)[MistakeCode.EXIT_BELOW_STOP] == D("200.00")
    assert codes(facts)[MistakeCode.SIZE_OVER_RISK_BUDGET] == D("100.00")


def test_facts_from_a_round_trip() -> None:
    def f(eid: str, side: Side, qty: int, price: str, minutes: int) -> Fill:
        return Fill(
            eid, "o", None, "BHP", 42, side, qty, D(price), D("5"),
            OR_DONE + timedelta(minutes=minutes), "DU1",
        )  # fmt: skip

    (rt,) = build_round_trips(
        [f("e1", Side.BUY, 1000, "2.00", 1), f("x1", Side.SELL, 1000, "1.80", 30)]
    )
    facts = round_trip_facts(
        rt, planned_stop=D("1.90"), risk_budget=D("100"), had_price_sensitive_news=True
    )
    assert facts.exits == (ExitFact(D("1.80"), 1000),)
    assert facts.net_pnl == D("-210.00")
    (finding,) = detect_mistakes(facts, TH)
    assert (finding.code, finding.cost) == (MistakeCode.EXIT_BELOW_STOP, D("100.00"))


def test_thresholds_must_not_be_negative() -> None:
    with pytest.raises(InvalidInputError, match="chase_pct"):
        MistakeThresholds(stop_tolerance=D(0), risk_tolerance=D(0), chase_pct=D(-1))
