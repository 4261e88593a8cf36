"""The exact-money and aware-UTC column types, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy.dialects import sqlite

from skimd.infrastructure.database.types import DecimalText, UTCDateTime

DIALECT = sqlite.dialect()


@pytest.mark.parametrize(
    "value", ["12345678.123456", "0.10", "-0.000001", "1E+3", "99999999999999999999.99999999"]
)
def test_decimal_round_trips_unchanged(value: str) -> None:
    column = DecimalText()
    stored = column.process_bind_param(Decimal(value), DIALECT)
    assert stored == value
    assert column.process_result_value(stored, DIALECT) == Decimal(value)
    assert str(column.process_result_value(stored, DIALECT)) == value


def test_decimal_accepts_int_and_text_refuses_float_and_nan() -> None:
    column = DecimalText()
    assert column.process_bind_param(7, DIALECT) == "7"
    assert column.process_bind_param("1.50", DIALECT) == "1.50"
    assert column.process_bind_param(None, DIALECT) is None
    with pytest.raises(TypeError, match="exact decimal"):
        column.process_bind_param(0.1, DIALECT)
    with pytest.raises(TypeError):
        column.process_bind_param(True, DIALECT)
    with pytest.raises(ValueError, match="finite"):
        column.process_bind_param(Decimal("NaN"), DIALECT)
    with pytest.raises(ValueError, match="not a decimal"):
        column.process_bind_param("abc", DIALECT)


def test_datetime_stored_as_fixed_width_utc_text() -> None:
    column = UTCDateTime()
    sydney = timezone(timedelta(hours=10))
    stored = column.process_bind_param(datetime(2025, 6, 2, 10, 0, tzinfo=sydney), DIALECT)
    assert stored == "2025-06-02T00:00:00.000000+00:00"
    back = column.process_result_value(stored, DIALECT)
    assert back == datetime(2025, 6, 2, 0, 0, tzinfo=UTC) and back.tzinfo == UTC
    earlier = column.process_bind_param(
        datetime(2025, 6, 1, 23, 59, 59, 999999, tzinfo=UTC), DIALECT
    )
    assert earlier is not None and earlier < stored  # text order is time order


def test_naive_datetime_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        UTCDateTime().process_bind_param(datetime(2025, 6, 2, 10, 0), DIALECT)
