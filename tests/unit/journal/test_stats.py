"""Trading statistics on hand-made round trips: every figure checked against numbers worked
out by hand, grouping in the market zone, and the empty range."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from skimd.domain.stats import (
    UNREVIEWED,
    ClosedTrip,
    GroupBy,
    equity_curve,
    group_keys,
    grouped,
    max_drawdown,
    summarise,
)
from skimd.errors import InvalidInputError

SYDNEY = ZoneInfo("Australia/Sydney")
D = Decimal


def trip(
    n: int,
    net: str,
    *,
    closed: datetime | None = None,
    held_min: int = 60,
    stop: str | None = "9",
    entry: str = "10",
    qty: int = 100,
    fees: str = "10",
    mfe: str | None = None,
    mae: str | None = None,
    ticker: str = "AAA",
    tags: tuple[str, ...] = (),
    setup: str | None = None,
) -> ClosedTrip:
    closed = closed or datetime(2026, 11, 24, 0, 0, tzinfo=UTC) + timedelta(hours=n)
    return ClosedTrip(
        id=n,
        ticker=ticker,
        opened_at=closed - timedelta(minutes=held_min),
        closed_at=closed,
        qty=D(qty),
        entry_avg=D(entry),
        gross_pnl=D(net) + D(fees),
        fees=D(fees),
        net_pnl=D(net),
        initial_stop=None if stop is None else D(stop),
        mfe=None if mfe is None else D(mfe),
        mae=None if mae is None else D(mae),
        tags=tags,
        setup=setup,
    )


def test_known_figures_of_four_round_trips() -> None:
    # risk (10 - 9) x 100 = 100 each; nets +200, -100, +50, -50 in this close order
    trips = [trip(1, "200"), trip(2, "-100"), trip(3, "50"), trip(4, "-50", held_min=180)]
    s = summarise(list(reversed(trips)))  # order of the input does not matter
    assert (s.round_trips, s.wins, s.losses) == (4, 2, 2)
    assert s.win_rate == D("0.5")
    assert s.net_pnl == D("100") and s.fees == D("40") and s.gross_pnl == D("140")
    assert (s.avg_win, s.avg_loss) == (D("125.00"), D("-75.00"))
    assert s.expectancy == D("25.00")  # 100 / 4
    assert (s.avg_win_r, s.avg_loss_r, s.expectancy_r) == (D("1.25"), D("-0.75"), D("0.25"))
    assert s.r_known == 4 and s.r_unknown == 0
    assert s.profit_factor == D("1.6667")  # 250 / 150
    assert s.max_drawdown == D("100")  # 200 -> 100
    assert s.avg_holding == timedelta(minutes=90)  # (60 + 60 + 60 + 180) / 4


def test_round_trips_without_a_stop_are_left_out_of_r() -> None:
    trips = [trip(1, "300"), trip(2, "-100", stop=None), trip(3, "-50", stop="10.5")]
    s = summarise(trips)
    assert s.r_known == 1 and s.r_unknown == 2  # no stop; stop above the entry
    assert s.expectancy_r == D("3") and s.avg_win_r == D("3") and s.avg_loss_r is None
    assert s.expectancy == D("50.00")  # $ figures keep every round trip


def test_drawdown_counts_a_first_loss_and_the_deepest_fall() -> None:
    assert max_drawdown([D(-30), D(100), D(-60), D(-50), D(200), D(-100)]) == D(110)
    assert max_drawdown([D(10), D(20)]) == 0
    assert max_drawdown([]) == 0
    curve = equity_curve([trip(2, "-60"), trip(1, "100")])
    assert [(p.round_trip_id, p.cumulative) for p in curve] == [(1, D(100)), (2, D(40))]


def test_profit_factor_without_losses_is_undefined_and_zero_without_wins() -> None:
    assert summarise([trip(1, "10"), trip(2, "0")]).profit_factor is None
    only_losses = summarise([trip(1, "-10")])
    assert only_losses.profit_factor == 0 and only_losses.win_rate == 0


def test_capture_of_mfe_and_mae() -> None:
    trips = [
        # gross 110 of an MFE of 220; gross -90 of an MAE of -100 (a loser)
        trip(1, "100", mfe="220", mae="-30"),
        trip(2, "-100", mfe="0", mae="-100"),
        trip(3, "40", mfe=None, mae=None),  # no excursion recorded: left out
    ]
    s = summarise(trips)
    assert s.mfe_capture == D("0.5")  # 110 / 220 (trip 2 never went green)
    assert s.mae_capture == D("0.9")  # -90 / -100 (only the losing trip)
    none = summarise([trip(1, "5")])
    assert none.mfe_capture is None and none.mae_capture is None


def test_empty_range_gives_zeros_and_nones() -> None:
    s = summarise([])
    assert (s.round_trips, s.wins, s.losses, s.r_known) == (0, 0, 0, 0)
    assert s.net_pnl == 0 and s.fees == 0 and s.max_drawdown == 0
    assert s.win_rate is None and s.expectancy is None and s.expectancy_r is None
    assert s.profit_factor is None and s.avg_holding is None
    assert grouped([], GroupBy.WEEK, SYDNEY) == []
    assert equity_curve([]) == []


def test_weeks_and_months_are_the_market_zone_dates() -> None:
    # Sunday 2026-11-29 23:30 UTC is Monday 2026-11-30 10:30 in Sydney (UTC+11): week 49,
    # still November; 2026-11-30 14:00 UTC is 01:00 on 2026-12-01 in Sydney: December.
    sunday_utc = trip(1, "10", closed=datetime(2026, 11, 29, 23, 30, tzinfo=UTC))
    assert group_keys(sunday_utc, GroupBy.DAY, SYDNEY) == ("2026-11-30",)
    assert group_keys(sunday_utc, GroupBy.WEEK, SYDNEY) == ("2026-W49",)
    assert group_keys(sunday_utc, GroupBy.WEEK, UTC) == ("2026-W48",)
    late = trip(2, "-4", closed=datetime(2026, 11, 30, 14, 0, tzinfo=UTC))
    assert group_keys(late, GroupBy.MONTH, SYDNEY) == ("2026-12",)
    assert group_keys(late, GroupBy.MONTH, UTC) == ("2026-11",)

    earlier = trip(3, "5", closed=datetime(2026, 11, 27, 3, 0, tzinfo=UTC))
    weeks = grouped([sunday_utc, late, earlier], GroupBy.WEEK, SYDNEY)
    assert [(g.label, g.round_trips, g.net_pnl) for g in weeks] == [
        ("2026-W48", 1, D(5)),
        ("2026-W49", 2, D(6)),
    ]
    months = grouped([sunday_utc, late, earlier], GroupBy.MONTH, SYDNEY)
    assert [(g.label, g.round_trips) for g in months] == [("2026-11", 2), ("2026-12", 1)]


def test_ticker_setup_and_tag_groups() -> None:
    trips = [
        trip(1, "10", ticker="BBB", tags=("gap", "news")),
        trip(2, "-5", ticker="AAA", setup="orh"),
        trip(3, "7", ticker="BBB"),
    ]
    by_ticker = grouped(trips, GroupBy.TICKER, SYDNEY)
    assert [(g.label, g.round_trips, g.net_pnl) for g in by_ticker] == [
        ("AAA", 1, D(-5)),
        ("BBB", 2, D(17)),
    ]
    by_setup = grouped(trips, GroupBy.SETUP, SYDNEY)
    assert [(g.label, g.round_trips) for g in by_setup] == [("orh", 1), (UNREVIEWED, 2)]
    by_tag = grouped(trips, GroupBy.TAG, SYDNEY)
    assert [(g.label, g.round_trips) for g in by_tag] == [
        ("gap", 1),
        ("news", 1),
        (UNREVIEWED, 2),
    ]


def test_naive_times_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="timezone-aware"):
        ClosedTrip(
            id=1, ticker="X", opened_at=datetime(2026, 1, 1), closed_at=datetime(2026, 1, 2),
            qty=D(1), entry_avg=D(1), gross_pnl=D(0), fees=D(0), net_pnl=D(0),
        )
