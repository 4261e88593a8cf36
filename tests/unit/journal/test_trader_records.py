"""Checking what the trader types for plans, mistakes and screenshots (pure)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from skimd.domain.trader_records import (
    AttachTarget,
    Direction,
    FieldError,
    MistakeDraft,
    OwnerKind,
    parse_attach_target,
    parse_mistake,
    parse_plan,
)


def test_a_plan_is_normalised() -> None:
    plan = parse_plan(ticker=" bhp ", entry="45.10", stop="44.50", target="1,047", qty="100",
                      direction="Long", conviction=" HIGH ", strategy_name=" ORB ",
                      notes="   ")
    assert (plan.ticker, plan.entry, plan.stop, plan.target, plan.qty) == (
        "BHP", Decimal("45.10"), Decimal("44.50"), Decimal("1047"), 100)
    assert (plan.direction, plan.conviction, plan.strategy_name, plan.notes) == (
        Direction.LONG, "high", "ORB", None)
    short = parse_plan(ticker="CBA", entry="120", stop="121", target="110", direction="short")
    assert short.direction is Direction.SHORT and short.stop == Decimal(121)


@pytest.mark.parametrize(
    ("given", "field", "problem"),
    [
        ({"ticker": "B H P"}, "ticker", "must be a ticker like BHP, got 'B H P'"),
        ({"entry": "abc"}, "entry", "must be a number like 45.10, got 'abc'"),
        ({"entry": "0"}, "entry", "must be above 0, got '0'"),
        ({"stop": "46"}, "stop", "a long plan's stop must be below the entry 45.10, got 46"),
        ({"target": "45"}, "target",
         "a long plan's target must be above the entry 45.10, got 45"),
        ({"qty": "1.5"}, "qty", "must be a whole number of shares, got '1.5'"),
        ({"direction": "up"}, "direction", "must be long or short, got 'up'"),
        ({"conviction": "huge"}, "conviction", "must be one of low, medium, high, got 'huge'"),
        ({"direction": "short"}, "stop",
         "a short plan's stop must be above the entry 45.10, got 44.50"),
    ],
)
def test_a_bad_plan_names_its_field(given: dict[str, str], field: str, problem: str) -> None:
    base = {"ticker": "BHP", "entry": "45.10", "stop": "44.50"}
    with pytest.raises(FieldError) as caught:
        parse_plan(**{**base, **given})  # type: ignore[arg-type]
    assert (caught.value.field, caught.value.problem) == (field, problem)


def test_mistakes_and_their_categories() -> None:
    assert parse_mistake(" Late  Exit ", " held ", "12.50") == MistakeDraft(
        "late_exit", "held", Decimal("12.50"))
    assert parse_mistake("x", cost="0").cost == Decimal(0)
    with pytest.raises(FieldError, match="chased_entry is found automatically"):
        parse_mistake("Chased entry")
    with pytest.raises(FieldError, match="cost: must be 0 or more, got '-1'"):
        parse_mistake("late_exit", cost="-1")
    with pytest.raises(FieldError, match="category: must be a word"):
        parse_mistake("  ")


def test_attach_targets() -> None:
    assert parse_attach_target("12") == AttachTarget(OwnerKind.ROUND_TRIP, 12)
    assert parse_attach_target("RT:3") == AttachTarget(OwnerKind.ROUND_TRIP, 3)
    assert parse_attach_target("plan:7") == AttachTarget(OwnerKind.PLAN, 7)
    for bad in ("0", "plan:", "trade:3", "-1"):
        with pytest.raises(FieldError, match="target: must be a round trip id"):
            parse_attach_target(bad)
