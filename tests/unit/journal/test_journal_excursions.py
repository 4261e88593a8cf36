"""MFE / MAE / BSO on known price paths."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest

from skimd.domain.excursions import excursions
from skimd.domain.market import Bar, PricePoint
from skimd.domain.orders import Side
from skimd.errors import InvalidInputError

T0 = datetime(2024, 7, 1, 0, 10, tzinfo=UTC)  # 10:10 Sydney
DAY = date(2024, 7, 1)


def bar(minute: int, high: str, low: str, day: date = DAY, at: datetime | None = None) -> Bar:
    h, lo = D(high), D(low)
    return Bar("BHP", day, lo, h, lo, h, 1000, at or T0 + timedelta(minutes=minute))


# One-minute bars. Entry 1.03 in the middle of minute 1, exit 1.04 in the middle of minute 4.
PATH = [
    bar(0, "1.02", "0.90"),  # before entry: its low must not count
    bar(1, "1.05", "1.00"),  # entry bar: counts whole
    bar(2, "1.10", "1.01"),  # best high while held
    bar(3, "1.08", "0.97"),  # worst low while held
    bar(4, "1.06", "1.02"),  # exit bar
    bar(5, "1.20", "0.80"),  # after the exit, same day: only BSO sees it
    bar(0, "1.50", "0.50", day=DAY + timedelta(days=1), at=T0 + timedelta(days=1)),  # next day
]
ENTRY_AT = T0 + timedelta(minutes=1, seconds=30)
EXIT_AT = T0 + timedelta(minutes=4, seconds=20)


def test_long_trade_on_a_known_path() -> None:
    x = excursions(D("1.03"), 1000, Side.BUY, PATH, ENTRY_AT, EXIT_AT, D("1.04"))
    assert (x.mfe_per_share, x.mfe, x.mfe_price) == (D("0.07"), D("70.00"), D("1.10"))
    assert (x.mae_per_share, x.mae, x.mae_price) == (D("-0.06"), D("-60.00"), D("0.97"))
    assert (x.bso_per_share, x.bso, x.bso_price) == (D("0.16"), D("160.00"), D("1.20"))


def test_short_trade_mirrors_the_signs() -> None:
    x = excursions(D("1.03"), 1000, Side.SELL, PATH, ENTRY_AT, EXIT_AT, D("1.04"))
    assert (x.mfe_per_share, x.mfe_price) == (D("0.06"), D("0.97"))
    assert (x.mae_per_share, x.mae_price) == (D("-0.07"), D("1.10"))
    assert (x.bso_per_share, x.bso_price) == (D("0.24"), D("0.80"))


def test_bar_starting_at_the_exit_is_after_it() -> None:
    exit_at = T0 + timedelta(minutes=5)
    x = excursions(D("1.03"), 100, Side.BUY, PATH, ENTRY_AT, exit_at, D("1.06"))
    assert x.mfe_price == D("1.10")  # not minute 5's 1.20
    assert x.mae_price == D("0.97")  # not minute 5's 0.80
    assert x.bso_price == D("1.20")


def test_open_position_runs_to_the_end_of_the_path_without_bso() -> None:
    x = excursions(D("1.03"), 10, Side.BUY, PATH, ENTRY_AT)
    assert x.mfe_price == D("1.50") and x.mae_price == D("0.50")
    assert x.bso is None and x.bso_per_share is None and x.bso_price is None


def test_a_trade_that_only_went_its_way_has_zero_mae() -> None:
    path = [bar(1, "1.10", "1.05"), bar(2, "1.12", "1.06")]
    x = excursions(D("1.05"), 100, Side.BUY, path, T0 + timedelta(minutes=1))
    assert x.mae == 0 and not x.mae.is_signed()
    assert x.mfe == D("7.00")


def test_exit_above_every_bar_counts_itself_and_leaves_nothing_on_the_table() -> None:
    path = [bar(1, "1.05", "1.00"), bar(2, "1.06", "1.01")]
    x = excursions(
        D("1.02"),
        100,
        Side.BUY,
        path,
        T0 + timedelta(minutes=1),
        T0 + timedelta(minutes=2),
        D("1.08"),
    )
    assert x.mfe_price == D("1.08")
    assert x.bso_per_share == 0 and not x.bso_per_share.is_signed()


def test_price_points_are_exact_instants() -> None:
    pts = [
        PricePoint(T0, D("0.50")),  # before entry
        PricePoint(T0 + timedelta(minutes=1), D("1.00")),
        PricePoint(T0 + timedelta(minutes=2), D("1.30")),
        PricePoint(T0 + timedelta(minutes=3), D("0.90")),
        PricePoint(T0 + timedelta(minutes=4), D("1.10")),  # the exit
        PricePoint(T0 + timedelta(minutes=5), D("1.40")),  # after
    ]
    x = excursions(
        D("1.00"),
        200,
        Side.BUY,
        pts,
        T0 + timedelta(minutes=1),
        T0 + timedelta(minutes=4),
        D("1.10"),
    )
    assert (x.mfe, x.mae, x.bso) == (D("60.00"), D("-20.00"), D("60.00"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"qty": 0}, "qty must be positive"),
        ({"exit_at": T0}, "exit_at and exit_price go together"),
        ({"exit_at": T0, "exit_price": D("1")}, "before entry_at"),
        ({"path": [Bar("BHP", DAY, D(1), D(1), D(1), D(1), 1)]}, r"path\[0\].*daily bar"),
    ],
)
def test_inconsistent_arguments_are_named(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "entry_price": D("1.03"),
        "qty": 10,
        "side": Side.BUY,
        "path": PATH,
        "entry_at": ENTRY_AT,
    }
    args.update(kwargs)
    with pytest.raises(InvalidInputError, match=message):
        excursions(**args)  # type: ignore[arg-type]
