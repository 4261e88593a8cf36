"""PriceTape: one point per ticker and minute, stop steps only where the stop moved, one
market day at a time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from skimd.services.trading.price_tape import PriceTape

DAY = date(2026, 11, 24)
T0 = datetime(2026, 11, 23, 23, 10, tzinfo=UTC)  # 10:10 in Sydney on DAY


def _at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_keeps_the_first_point_then_the_latest_of_each_minute() -> None:
    tape = PriceTape()
    for s, price in ((0, "1.00"), (5, "1.01"), (30, "1.02"), (55, "1.03"), (60, "1.04"),
                     (65, "1.05"), (125, "1.06")):
        tape.record(DAY, "VPL", _at(s), Decimal(price))
    assert [(p.at, str(p.price)) for p in tape.path(DAY, "VPL")] == [
        (_at(0), "1.00"),
        (_at(55), "1.03"),
        (_at(65), "1.05"),
        (_at(125), "1.06"),
    ]
    assert tape.path(DAY, "JZP") == ()


def test_a_repeated_or_older_snapshot_changes_nothing() -> None:
    tape = PriceTape()
    tape.record(DAY, "VPL", _at(0), Decimal("1"))
    tape.record(DAY, "VPL", _at(70), Decimal("2"))
    tape.record(DAY, "VPL", _at(70), Decimal("3"))
    tape.record(DAY, "VPL", _at(10), Decimal("4"))
    assert [str(p.price) for p in tape.path(DAY, "VPL")] == ["1", "2"]


def test_the_stop_path_keeps_each_step_and_the_latest_moment() -> None:
    tape = PriceTape()
    for s, stop in ((0, "2.77"), (5, "2.77"), (10, "2.77"), (15, "2.80"), (20, "2.80"),
                    (25, "2.80")):
        tape.record_stop(DAY, "VPL", _at(s), Decimal(stop))
    assert [(p.at, str(p.price)) for p in tape.stop_path(DAY, "VPL")] == [
        (_at(0), "2.77"),
        (_at(10), "2.77"),
        (_at(15), "2.80"),
        (_at(25), "2.80"),
    ]


def test_a_new_day_forgets_the_previous_one() -> None:
    tape = PriceTape()
    tape.record(DAY, "VPL", _at(0), Decimal("1"))
    tape.record_stop(DAY, "VPL", _at(0), Decimal("0.9"))
    later = DAY + timedelta(days=1)
    tape.record(later, "JZP", _at(86_400), Decimal("5"))
    assert tape.path(DAY, "VPL") == () and tape.stop_path(DAY, "VPL") == ()
    assert tape.path(later, "VPL") == () and tape.stop_path(later, "VPL") == ()
    assert [str(p.price) for p in tape.path(later, "JZP")] == ["5"]


def test_volumes_are_the_shares_traded_between_kept_points() -> None:
    tape = PriceTape()
    # (seconds, cumulative day volume): the 55 s point replaces the 30 s one in its minute
    for s, volume in ((0, 1_000), (30, 1_400), (55, 1_700), (65, 2_000), (125, 2_000)):
        tape.record(DAY, "VPL", _at(s), Decimal("1"), volume)
    assert [(v.at, v.volume) for v in tape.volumes(DAY, "VPL")] == [
        (_at(55), 700),
        (_at(65), 300),
        (_at(125), 0),
    ]
    tape.record(DAY, "JZP", _at(0), Decimal("5"))  # a broker that gives no volume
    tape.record(DAY, "JZP", _at(60), Decimal("5"))
    assert tape.volumes(DAY, "JZP") == ()
    assert tape.volumes(DAY + timedelta(days=1), "VPL") == ()
