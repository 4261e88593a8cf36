"""The opening-gap screen (skimd.domain.gaps): thresholds, missing data and order."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from skimd.domain.gaps import GapFilter, largest_gap_first
from skimd.domain.market import GapCandidate, Quote

AT = datetime(2026, 11, 23, 23, 5, tzinfo=UTC)
DAY = date(2026, 11, 24)
SCREEN = GapFilter(min_gap_pct=Decimal("4"), min_price=Decimal("0.20"), min_volume=20_000)


def quote(
    *,
    prev_close: str | None = "1.00",
    open_: str | None = "1.05",
    last: str | None = "1.10",
    volume: int | None = 50_000,
    symbol: str = "XYZ",
    conid: int = 7,
) -> Quote:
    def dec(value: str | None) -> Decimal | None:
        return None if value is None else Decimal(value)

    return Quote(conid=conid, symbol=symbol, at=AT, last=dec(last), open=dec(open_),
                 prev_close=dec(prev_close), volume=volume)


def test_a_passing_quote_becomes_a_candidate_of_the_scan_date() -> None:
    found = SCREEN.candidate(quote(), DAY)
    assert found == GapCandidate(symbol="XYZ", conid=7, prev_close=Decimal("1.00"),
                                 open=Decimal("1.05"), gap_pct=Decimal("5.0000"), volume=50_000,
                                 scan_date=DAY, last=Decimal("1.10"))


def test_every_threshold_is_inclusive() -> None:
    exactly = quote(prev_close="1.00", open_="1.04", last="0.20", volume=20_000)
    assert SCREEN.passing_gap(exactly) == Decimal("4.0000")


@pytest.mark.parametrize(
    "below",
    [
        quote(open_="1.039"),  # gap 3.9 %
        quote(last="0.195"),  # price under 20c
        quote(volume=19_999),
    ],
    ids=["gap", "price", "volume"],
)
def test_one_step_under_any_threshold_fails(below: Quote) -> None:
    assert SCREEN.passing_gap(below) is None
    assert SCREEN.candidate(below, DAY) is None


@pytest.mark.parametrize(
    "missing",
    [quote(open_=None, last=None), quote(prev_close=None), quote(prev_close="0")],
    ids=["no-open", "no-prev-close", "zero-prev-close"],
)
def test_no_gap_without_an_open_and_a_positive_previous_close(missing: Quote) -> None:
    assert SCREEN.passing_gap(missing) is None
    assert SCREEN.select([missing], DAY) == []


def test_the_open_stands_in_for_a_missing_last_trade() -> None:
    assert SCREEN.passing_gap(quote(open_="1.05", last=None)) == Decimal("5.0000")
    cheap = GapFilter(Decimal("4"), min_price=Decimal("1.06"), min_volume=0)
    assert cheap.passing_gap(quote(open_="1.05", last=None)) is None
    assert cheap.passing_gap(quote(open_="1.05", last="1.06")) == Decimal("5.0000")


def test_an_unknown_volume_counts_as_nothing_traded() -> None:
    assert SCREEN.passing_gap(quote(volume=None)) is None
    found = GapFilter(Decimal("4"), Decimal("0.20"), min_volume=0).candidate(
        quote(volume=None), DAY
    )
    assert found is not None and found.volume == 0


def test_select_orders_largest_gap_first_and_keeps_ties_in_given_order() -> None:
    quotes = [
        quote(symbol="B", open_="1.05"),
        quote(symbol="A", open_="1.10"),
        quote(symbol="Z", open_="1.05"),
        quote(symbol="C", open_="1.01"),  # 1 %: screened out
        quote(symbol="D", open_="1.05"),
    ]
    assert [c.symbol for c in SCREEN.select(quotes, DAY)] == ["A", "B", "Z", "D"]


def test_largest_gap_first_ranks_candidates_from_any_source() -> None:
    def cand(symbol: str, gap: str) -> GapCandidate:
        return GapCandidate(symbol, 1, Decimal(1), Decimal(1), Decimal(gap), 0, DAY)

    ranked = largest_gap_first([cand("a", "4"), cand("b", "-5"), cand("c", "9"), cand("d", "4")])
    assert [c.symbol for c in ranked] == ["c", "a", "d", "b"]
