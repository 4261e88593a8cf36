"""Position arithmetic: buys average in, sells reduce, zero closes; an order's increments."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from skimd.domain.trading import (
    IntentPurpose,
    IntentRecord,
    PositionRecord,
    PositionStatus,
)

AT = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)


def _position(qty: int = 100, avg: str = "2.50", **extra: object) -> PositionRecord:
    return PositionRecord(
        ticker="ABC",
        qty=qty,
        avg_price=Decimal(avg),
        entry_date=date(2026, 11, 24),
        opened_at=AT,
        id=1,
        **extra,  # type: ignore[arg-type]
    )


def test_a_new_position_is_open_with_shares() -> None:
    p = _position()
    assert p.status is PositionStatus.OPEN and p.is_open and p.has_shares


def test_adding_a_fill_weights_the_average_price() -> None:
    p = _position(100, "2.50").add_fill(300, Decimal("2.70"))
    assert p.qty == 400
    assert p.avg_price == Decimal("2.6500")  # (250 + 810) / 400


def test_the_average_is_kept_to_four_places() -> None:
    p = _position(3, "1.00").add_fill(4, Decimal("1.01"))  # 7.04 / 7 = 1.005714...
    assert p.avg_price == Decimal("1.0057")


@pytest.mark.parametrize("qty", [0, -5])
def test_a_fill_must_move_shares(qty: int) -> None:
    with pytest.raises(ValueError, match="ABC"):
        _position().add_fill(qty, Decimal(1))
    with pytest.raises(ValueError, match="ABC"):
        _position().reduce(qty, AT)


def test_a_partial_sell_reduces_and_stays_open() -> None:
    p = _position(100).reduce(40, AT)
    assert p.qty == 60 and p.is_open and p.closed_at is None
    assert p.avg_price == Decimal("2.50") and not p.partial_exit_done


def test_the_half_exit_is_remembered() -> None:
    p = _position(100).reduce(50, AT, partial_exit=True)
    assert p.partial_exit_done
    assert p.reduce(10, AT).partial_exit_done  # later sells keep it


def test_selling_the_rest_closes_at_that_moment() -> None:
    p = _position(100).reduce(100, AT)
    assert p.qty == 0 and p.status is PositionStatus.CLOSED and p.closed_at == AT
    assert not p.is_open and not p.has_shares


def test_a_sell_beyond_the_holding_stops_at_zero() -> None:
    later = AT + timedelta(minutes=1)
    closed = _position(100).reduce(100, AT)
    again = closed.reduce(100, later)  # a second exit that raced the first
    assert again.qty == 0 and again.status is PositionStatus.CLOSED and again.closed_at == later
    assert _position(10).reduce(25, AT).qty == 0


def test_close_empties_the_position() -> None:
    p = _position(100, stop=Decimal("2.3")).close(AT)
    assert (p.qty, p.status, p.closed_at, p.stop) == (0, PositionStatus.CLOSED, AT, Decimal("2.3"))


def _intent(filled: int = 0, avg: str | None = None) -> IntentRecord:
    return IntentRecord(
        client_order_id="SK20261124-ABC-E",
        ticker="ABC",
        conid=1,
        side="BUY",
        qty=1000,
        order_type="LMT",
        purpose=IntentPurpose.ENTRY,
        created_at=AT,
        filled_qty=filled,
        avg_fill_price=None if avg is None else Decimal(avg),
    )


def test_the_first_fill_of_an_order_is_at_the_reported_average() -> None:
    assert _intent().price_of_increment(300, Decimal("2.51")) == Decimal("2.51")


def test_a_later_fill_is_priced_from_the_cumulative_averages() -> None:
    # 300 @ 2.50 booked; the broker now says 1000 @ 2.535 -> the new 700 cost 2.55 each
    assert _intent(300, "2.50").price_of_increment(1000, Decimal("2.535")) == Decimal("2.5500")


def test_no_increment_no_price() -> None:
    with pytest.raises(ValueError, match="no new fill"):
        _intent(300, "2.50").price_of_increment(300, Decimal("2.50"))
