"""History volume units: IBKR reports ``v`` in units of the body's ``volumeFactor``.

IBKR's OpenAPI spec (https://api.ibkr.com/gw/api/v3/api-docs, v2.29.0) answers AAPL daily bars
with ``"volumeFactor": 100`` and ``"v": 266616.18``; its older Client Portal swagger says
"reported volume = actual volume/100". Shares are therefore ``v * volumeFactor``, for daily and
intraday bars alike, and a fractional ``v`` must be scaled before it is rounded.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from skimd.infrastructure.brokers.ibkr import history

SYDNEY = ZoneInfo("Australia/Sydney")
DAY = date(2025, 3, 3)


def _row(at: datetime, v: float) -> dict[str, object]:
    return {"o": 10.0, "h": 10.5, "l": 9.9, "c": 10.2, "v": v, "t": int(at.timestamp() * 1000)}


def test_daily_bars_scale_volume_by_the_volume_factor() -> None:
    body = {"volumeFactor": 100, "data": [_row(datetime(2025, 3, 3, 10, tzinfo=SYDNEY), 1234)]}
    (bar,) = history.daily_bars(body, "BHP", SYDNEY)
    assert (bar.day, bar.volume) == (DAY, 123_400)


def test_fractional_volume_is_scaled_before_rounding() -> None:
    at = datetime(2025, 3, 3, 10, 5, tzinfo=SYDNEY)
    body = {"volumeFactor": 100, "data": [_row(at, 266616.18)]}
    (daily,) = history.daily_bars(body, "AAPL", SYDNEY)
    (minute,) = history.intraday_bars(body, "AAPL", DAY, SYDNEY)
    assert daily.volume == minute.volume == 26_661_618
    assert minute.at == at.astimezone(UTC)


def test_without_a_volume_factor_volume_is_taken_as_shares() -> None:
    body = {"data": [_row(datetime(2025, 3, 3, 10, tzinfo=SYDNEY), 1234)]}
    (daily,) = history.daily_bars(body, "BHP", SYDNEY)
    (minute,) = history.intraday_bars(body, "BHP", DAY, SYDNEY)
    assert daily.volume == minute.volume == 1234
