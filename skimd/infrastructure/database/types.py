"""Column types that keep money exact and time unambiguous in SQLite.

SQLite has no decimal type: a ``NUMERIC`` column silently turns ``12345678.123456`` into a
binary float. :class:`DecimalText` stores the exact ``str(Decimal)`` in a TEXT column (TEXT
affinity, so SQLite never coerces it) and gives a ``Decimal`` back. Floats are refused: a
float is already inexact by the time it arrives. Because the text is not fixed-width, do not
compare or sort money in SQL; do it in Python.

:class:`UTCDateTime` accepts only timezone-aware datetimes, converts them to UTC and stores
fixed-width ISO text (``2024-05-01T00:00:00.000000+00:00``), so SQL comparisons and
``ORDER BY`` follow time order. It returns aware UTC datetimes. A naive datetime is a bug at
the caller (which zone did it mean?) and is rejected.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

_UTC_FORMAT = "%Y-%m-%dT%H:%M:%S.%f+00:00"


class DecimalText(TypeDecorator[Decimal]):
    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if isinstance(value, bool | float):
            raise TypeError(f"exact decimal expected, got {type(value).__name__} {value!r}")
        if isinstance(value, int):
            value = Decimal(value)
        if isinstance(value, str):
            try:
                value = Decimal(value)
            except InvalidOperation as exc:
                raise ValueError(f"not a decimal number: {value!r}") from exc
        if not isinstance(value, Decimal):
            raise TypeError(f"exact decimal expected, got {type(value).__name__}")
        if not value.is_finite():
            raise ValueError(f"decimal must be finite, got {value}")
        return str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(value))


class UTCDateTime(TypeDecorator[datetime]):
    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"datetime expected, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} refused; pass an aware one")
        return value.astimezone(UTC).strftime(_UTC_FORMAT)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        parsed = datetime.fromisoformat(str(value))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
