"""Rules for managing a holding: the stop ratchet, the half exit, the moving-average trail,
the day count, and client order ids."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from skimd.domain.trading import (
    IntentPurpose,
    client_order_id,
    half_quantity,
    moving_average,
    ratchet_stop,
    trading_day_number,
    trail_exit_due,
)

D = Decimal


def _closes(*values: str) -> list[Decimal]:
    return [D(v) for v in values]


# -- ratchet_stop -----------------------------------------------------------------------------


def test_a_stop_only_moves_up() -> None:
    assert ratchet_stop(D("2.40"), D("2.45")) == D("2.45")
    assert ratchet_stop(D("2.40"), D("2.35")) == D("2.40")


def test_no_proposal_keeps_the_stop() -> None:
    assert ratchet_stop(D("2.40"), None) == D("2.40")
    assert ratchet_stop(None, None) is None


def test_a_first_stop_is_rounded_down_onto_the_grid() -> None:
    assert ratchet_stop(None, D("2.457")) == D("2.45")
    assert ratchet_stop(D("1.500"), D("1.509")) == D("1.505")  # half-cent ticks under $2


# -- half_quantity ----------------------------------------------------------------------------


@pytest.mark.parametrize(("qty", "half"), [(100, 50), (101, 50), (3, 1), (2, 1), (1, 0), (0, 0)])
def test_half_quantity_rounds_down(qty: int, half: int) -> None:
    assert half_quantity(qty) == half


# -- moving_average and trail_exit_due --------------------------------------------------------


def test_moving_average_of_the_last_days() -> None:
    assert moving_average(_closes("1", "2", "3", "4"), 2) == D("3.5")
    assert moving_average(_closes("1", "2", "3"), 3) == D("2")


@pytest.mark.parametrize("days", [0, -1, 5])
def test_no_average_without_enough_closes(days: int) -> None:
    assert moving_average(_closes("1", "2", "3", "4"), days) is None


def test_trail_exits_when_the_last_close_is_below_its_average() -> None:
    assert trail_exit_due(_closes("3", "3", "3", "2.9"), 4)  # 2.9 < 2.975
    assert not trail_exit_due(_closes("3", "3", "3", "3"), 4)  # equal is not below
    assert not trail_exit_due(_closes("3", "3", "3", "3.1"), 4)


def test_no_trail_without_enough_closes() -> None:
    assert not trail_exit_due(_closes("3", "1"), 3)
    assert not trail_exit_due([], 3)


# -- trading_day_number -----------------------------------------------------------------------


def test_the_entry_day_is_day_one_and_only_sessions_count() -> None:
    thu, fri, mon = date(2026, 11, 19), date(2026, 11, 20), date(2026, 11, 23)
    sessions = [thu, fri, mon]
    assert trading_day_number(thu, thu, sessions) == 1
    assert trading_day_number(thu, fri, sessions) == 2
    assert trading_day_number(thu, mon, sessions) == 3  # the weekend does not count
    assert trading_day_number(fri, mon, sessions) == 2


# -- client_order_id --------------------------------------------------------------------------


def test_an_entry_id_is_one_per_day_and_ticker() -> None:
    day = date(2026, 11, 24)
    assert client_order_id(day, " abc ", IntentPurpose.ENTRY) == "SK20261124-ABC-E"


def test_an_exit_id_names_its_position_and_sequence() -> None:
    day = date(2026, 11, 24)
    assert client_order_id(day, "ABC", IntentPurpose.STOP, position_id=7, seq=2) == (
        "SK20261124-ABC-S7.2"
    )
    with pytest.raises(ValueError, match="position id"):
        client_order_id(day, "ABC", IntentPurpose.TRAIL)
