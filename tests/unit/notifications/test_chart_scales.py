"""Chart axes: nice, tick-aligned prices; round market-zone times; labels that never overlap."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

from skimd.infrastructure.notifications.chart_scales import (
    covered,
    place_label,
    price_ticks,
    spread_labels,
    time_ticks,
)

SYD = ZoneInfo("Australia/Sydney")


def _d(*values: str) -> list[Decimal]:
    return [Decimal(v) for v in values]


def test_price_ticks_are_nice_steps_on_the_asx_tick_grid() -> None:
    # the example: 3.22, 3.28, 3.33 becomes a 5c step
    assert price_ticks(Decimal("3.19"), Decimal("3.36")) == _d("3.20", "3.25", "3.30", "3.35")
    assert price_ticks(Decimal("2.66"), Decimal("2.95")) == _d("2.7", "2.8", "2.9")
    # under $2 the tick is half a cent: 0.005 would give 8 ticks, so 1c
    assert price_ticks(Decimal("0.621"), Decimal("0.659")) == _d("0.63", "0.64", "0.65")
    # under 10c the tick is 0.1c, and 0.25c is no multiple of it
    assert price_ticks(Decimal("0.0411"), Decimal("0.0533")) == _d("0.045", "0.050")
    for lo, hi in (("0.0411", "0.0533"), ("0.31", "0.36"), ("16.1", "16.8"), ("35.9", "37.3")):
        ticks = price_ticks(Decimal(lo), Decimal(hi))
        assert 2 <= len(ticks) <= 6, (lo, hi, ticks)
        assert all(Decimal(lo) <= t <= Decimal(hi) for t in ticks)
        step = ticks[1] - ticks[0]
        assert all(b - a == step for a, b in pairwise(ticks))
        tick = Decimal("0.001") if Decimal(hi) < Decimal("0.1") else Decimal("0.005")
        assert step % tick == 0 and step.normalize().as_tuple().digits[0] in (1, 2, 5)


def test_a_flat_price_still_gets_its_tick() -> None:
    assert price_ticks(Decimal("2.85"), Decimal("2.85")) == _d("2.85")


def test_time_ticks_fall_on_round_minutes_of_the_market_zone() -> None:
    t0 = datetime(2026, 11, 23, 23, 1, 30, tzinfo=UTC)  # 10:01:30 Sydney
    t1 = datetime(2026, 11, 24, 3, 29, 10, tzinfo=UTC)  # 14:29:10 Sydney
    labels = [t.strftime("%H:%M") for t in time_ticks(t0, t1, SYD)]
    assert labels == ["11:00", "12:00", "13:00", "14:00"]
    day = time_ticks(t0, datetime(2026, 11, 24, 4, 59, tzinfo=UTC), SYD)  # to 15:59
    assert [t.strftime("%H:%M") for t in day] == ["11:00", "12:00", "13:00", "14:00", "15:00"]
    short = time_ticks(t0, datetime(2026, 11, 23, 23, 17, tzinfo=UTC), SYD)
    assert [t.strftime("%H:%M") for t in short] == ["10:05", "10:10", "10:15"]
    assert all(t.tzinfo is SYD for t in short)


def test_spread_labels_never_overlap_and_stay_near_their_lines() -> None:
    # Exit 3.24, Stop 3.25, ORL 3.25: three labels wanted within 3 px of each other
    placed = spread_labels([200.0, 198.0, 198.0], height=14, low=30, high=390)
    assert sorted(placed)[1] - sorted(placed)[0] >= 14
    assert sorted(placed)[2] - sorted(placed)[1] >= 14
    assert max(abs(p - w) for p, w in zip(placed, [200, 198, 198], strict=True)) <= 28
    # apart already: untouched; crowded at the bottom edge: pushed up, inside
    assert spread_labels([50.0, 150.0], height=14, low=30, high=390) == [50.0, 150.0]
    edge = spread_labels([389.0, 390.0, 388.0], height=14, low=30, high=390)
    assert max(edge) <= 390 and min(edge) >= 30
    assert sorted(edge) == [362.0, 376.0, 390.0]


def _overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


PLOT = (64.0, 36.0, 690.0, 384.0)


def test_a_marker_label_goes_below_an_up_marker_when_that_is_clear() -> None:
    box = place_label(200, 200, 60, [], [(64, 100), (690, 100)], PLOT, up=True)
    assert box[1] > 200 and box[0] > 200  # below and to the right
    assert covered(box, [(64, 100), (690, 100)]) == 0


def test_a_marker_label_avoids_other_labels_the_path_and_the_plot_edge() -> None:
    # an exit at the right edge, the stop's label just where it would go, the path right
    # under it: the label goes inside the plot, clear of both
    stop_label = (694.0, 204.0, 800.0, 222.0)
    path = [(600.0, 226.0), (690.0, 226.0)]
    box = place_label(690, 215, 60, [stop_label], path, PLOT, up=False)
    assert not _overlaps(box, stop_label)
    assert PLOT[0] <= box[0] and box[2] <= PLOT[2] and PLOT[1] <= box[1] and box[3] <= PLOT[3]
    assert covered(box, path) == 0
    # every spot near the marker taken: still none overlapping
    crowd = [(600.0, 150.0, 690.0, 280.0)]
    box = place_label(650, 215, 40, crowd, [], PLOT, up=True)
    assert not _overlaps(box, crowd[0])


def test_covered_counts_path_points_inside_a_box() -> None:
    assert covered((0, 0, 10, 10), [(0, 5), (100, 5)]) > 0
    assert covered((0, 20, 10, 30), [(0, 5), (100, 5)]) == 0
