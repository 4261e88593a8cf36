"""Entry rules and the one plan an opening range makes of them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from skimd.domain.entries import (
    EntryOrder,
    EntryPlan,
    EntryTerms,
    SizingLimits,
    breakout_trigger,
    entry_limit,
    initial_stop,
    position_size,
    within_price_band,
)
from skimd.domain.trading import CandidateRecord, CandidateState

D = Decimal
LIMITS = SizingLimits(risk_per_trade=D("500"), max_position_value=D("20000"))
TERMS = EntryTerms(buffer_ticks=1, slippage_ticks=2, sizing=LIMITS)


# -- position_size ----------------------------------------------------------------------------


def test_size_is_limited_by_risk() -> None:
    # $0.10 a share at risk, $500 to lose: 5000 shares ($12,500 < $20,000)
    assert position_size(D("2.50"), D("2.40"), LIMITS) == 5000


def test_size_is_limited_by_value() -> None:
    # risk would allow 50,000 shares; $20,000 buys 8000 at $2.50
    assert position_size(D("2.50"), D("2.49"), LIMITS) == 8000


def test_size_rounds_down() -> None:
    assert position_size(D("10.00"), D("9.70"), LIMITS) == 1666  # 500 / 0.30 = 1666.67


@pytest.mark.parametrize(("entry", "stop"), [("2.40", "2.40"), ("2.40", "2.50"), ("0", "-1")])
def test_no_size_when_the_stop_is_not_below_the_entry(entry: str, stop: str) -> None:
    assert position_size(D(entry), D(stop), LIMITS) == 0


def test_no_size_when_not_one_share_fits() -> None:
    assert position_size(D("30000"), D("29000"), LIMITS) == 0


# -- trigger, limit, stop, band ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("orh", "ticks", "trigger"),
    [("2.50", 1, "2.51"), ("1.50", 1, "1.505"), ("0.05", 2, "0.052"), ("2.50", 0, "2.50")],
)
def test_breakout_trigger_is_orh_plus_buffer_ticks(orh: str, ticks: int, trigger: str) -> None:
    assert breakout_trigger(D(orh), ticks) == D(trigger)


@pytest.mark.parametrize(
    ("last", "ticks", "limit"),
    [("2.50", 2, "2.52"), ("1.50", 2, "1.51"), ("1.995", 2, "2.01"), ("0.655", 1, "0.66")],
)
def test_entry_limit_is_marketable_and_on_the_tick_grid(last: str, ticks: int, limit: str) -> None:
    assert entry_limit(D(last), ticks) == D(limit)


def test_initial_stop_is_the_range_low_or_a_higher_low_of_day() -> None:
    assert initial_stop(D("2.40"), None) == D("2.40")
    assert initial_stop(D("2.40"), D("2.45")) == D("2.45")
    assert initial_stop(D("2.40"), D("2.30")) == D("2.40")
    assert initial_stop(D("1.503"), None) == D("1.50")  # rounded down onto the grid


def test_price_band() -> None:
    assert within_price_band(D("10.30"), D("10.00"), D("3"))
    assert not within_price_band(D("10.31"), D("10.00"), D("3"))
    assert not within_price_band(D("1"), D("0"), D("3"))


# -- the plan ---------------------------------------------------------------------------------


def test_a_plan_from_a_range() -> None:
    plan = EntryPlan.from_range(D("2.50"), D("2.40"), TERMS)
    assert (plan.trigger, plan.stop) == (D("2.51"), D("2.40"))
    assert EntryPlan.from_range(D("2.50"), D("2.40"), TERMS, low_of_day=D("2.42")).stop == D("2.42")


def test_the_plan_breaks_out_strictly_above_the_trigger() -> None:
    plan = EntryPlan.from_range(D("2.50"), D("2.40"), TERMS)
    assert not plan.breaks_out(None)
    assert not plan.breaks_out(D("2.51"))
    assert plan.breaks_out(D("2.52"))


def test_the_order_at_a_breakout() -> None:
    plan = EntryPlan.from_range(D("2.50"), D("2.40"), TERMS)
    # limit 2.55 + 2 ticks = 2.57; risk 0.17 a share: 500 / 0.17 = 2941
    assert plan.order_at(D("2.55")) == EntryOrder(limit=D("2.57"), stop=D("2.40"), qty=2941)


def test_an_order_too_small_has_no_shares() -> None:
    tight = EntryTerms(1, 2, SizingLimits(D("0.01"), D("20000")))
    assert EntryPlan.from_range(D("2.50"), D("2.40"), tight).order_at(D("2.55")).qty == 0


def test_a_candidate_has_a_plan_once_its_range_exists() -> None:
    c = CandidateRecord(
        scan_date=date(2026, 11, 24),
        ticker="ABC",
        status=CandidateState.TRADEABLE,
        id=9,
        orh=D("2.50"),
        orl=D("2.40"),
        news_headline="Quarterly report",
    )
    assert EntryPlan.of(c.with_(orl=None), TERMS) is None
    plan = EntryPlan.of(c, TERMS)
    assert plan == EntryPlan.from_range(D("2.50"), D("2.40"), TERMS)
    record = plan.trade_plan(c, "executed", qty=100, entry_exec_id="E1")
    assert (record.ticker, record.entry, record.stop, record.status) == (
        "ABC",
        D("2.51"),
        D("2.40"),
        "executed",
    )
    assert (record.candidate_id, record.qty, record.entry_exec_id, record.notes) == (
        9,
        100,
        "E1",
        "Quarterly report",
    )
