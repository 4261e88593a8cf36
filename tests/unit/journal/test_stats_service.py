"""The statistics use case over a fake trip source: the market-zone bounds it asks for,
notes on what the figures leave out, and the equity chart it hands to the renderer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from skimd.domain.stats import ClosedTrip, GroupBy
from skimd.errors import InvalidInputError
from skimd.services.journal.stats import JournalStats
from skimd.services.ports.stats import EquityCurve

SYDNEY = ZoneInfo("Australia/Sydney")


@dataclass
class FakeTrips:
    """A ClosedTripSource: filters its trips by the bounds and records them."""

    trips: list[ClosedTrip]
    asked: list[tuple[datetime | None, datetime | None]] = field(default_factory=list)

    def closed_trips(self, start: datetime | None, end: datetime | None) -> list[ClosedTrip]:
        self.asked.append((start, end))
        return [
            t for t in self.trips
            if (start is None or t.closed_at >= start) and (end is None or t.closed_at < end)
        ]


@dataclass
class FakeRenderer:
    curves: list[EquityCurve] = field(default_factory=list)

    def __call__(self, curve: EquityCurve) -> bytes:
        self.curves.append(curve)
        return b"\x89PNG fake"


def trip(n: int, net: str, closed: datetime, stop: str | None) -> ClosedTrip:
    return ClosedTrip(
        id=n, ticker="AAA", opened_at=closed - timedelta(hours=1), closed_at=closed,
        qty=Decimal(100), entry_avg=Decimal(10), gross_pnl=Decimal(net) + 12,
        fees=Decimal(12), net_pnl=Decimal(net),
        initial_stop=None if stop is None else Decimal(stop),
    )


TRIPS = [
    trip(1, "50", datetime(2026, 11, 23, 23, 30, tzinfo=UTC), "9"),  # 24th 10:30 Sydney
    trip(2, "-20", datetime(2026, 11, 24, 4, 0, tzinfo=UTC), None),  # 24th 15:00
    trip(3, "30", datetime(2026, 11, 24, 13, 30, tzinfo=UTC), "9.5"),  # 25th 00:30
]


def test_bounds_are_market_midnights_and_both_ends_inclusive() -> None:
    source, render = FakeTrips(TRIPS), FakeRenderer()
    stats = JournalStats(source, SYDNEY, render)
    report = stats.report(date(2026, 11, 24), date(2026, 11, 24), GroupBy.DAY)
    assert source.asked == [
        (datetime(2026, 11, 23, 13, 0, tzinfo=UTC), datetime(2026, 11, 24, 13, 0, tzinfo=UTC))
    ]
    assert [t.id for t in report.trips] == [1, 2]
    assert [(g.label, g.round_trips) for g in report.groups] == [("2026-11-24", 2)]
    assert report.notes == (
        "R: 1 of 2 round trip(s) have no recorded initial stop below the entry; R figures "
        "leave them out",
    )
    assert stats.chart(report) == b"\x89PNG fake"
    assert render.curves[0].title.endswith("2026-11-24: 2 round trip(s), +30.00")
    assert stats.default_chart_name(report) == "equity_2026-11-24_2026-11-24.png"


def test_unbounded_range_grouped_by_tag_says_nothing_is_reviewed() -> None:
    source = FakeTrips(TRIPS)
    stats = JournalStats(source, SYDNEY, FakeRenderer())
    report = stats.report(None, None, GroupBy.TAG)
    assert source.asked == [(None, None)]
    assert report.total.round_trips == 3 and report.total.net_pnl == Decimal(60)
    assert report.notes[-1] == (
        "tag: 3 of 3 round trip(s) have no tags and group as '—'; review them with "
        "`skimd journal review`"
    )
    data = report.as_json()
    assert data["by"] == "tag" and data["zone"] == "Australia/Sydney"
    assert [p["cumulative_net_pnl"] for p in data["equity_curve"]] == ["50", "30", "60"]
    assert data["total"]["avg_holding_s"] == 3600 and data["total"]["r_unknown"] == 1


def test_empty_range_draws_no_chart_and_reversed_dates_are_refused() -> None:
    render = FakeRenderer()
    stats = JournalStats(FakeTrips(TRIPS), SYDNEY, render)
    empty = stats.report(date(2026, 12, 1), None)
    assert empty.total.round_trips == 0 and empty.groups == () and empty.notes == ()
    assert stats.chart(empty) is None and render.curves == []
    with pytest.raises(InvalidInputError, match="is after"):
        stats.report(date(2026, 11, 25), date(2026, 11, 24))
