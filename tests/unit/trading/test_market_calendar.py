"""The market-day calendar: day bounds across both daylight-saving changes, sessions on
ordinary and early-close days, and the zone coming from whoever builds it."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from skimd.domain.calendar import MarketCalendar, day_bounds
from skimd.infrastructure.calendar import AsxCalendar

SYDNEY = "Australia/Sydney"


@pytest.fixture
def calendar() -> MarketCalendar:
    return AsxCalendar(SYDNEY, early_close_time=time(14, 10))


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def _hours(bounds: tuple[datetime, datetime]) -> timedelta:
    """Elapsed time (aware datetimes of one zone subtract by wall clock, not elapsed)."""
    start, end = bounds
    return end.astimezone(UTC) - start.astimezone(UTC)


def test_an_ordinary_day_is_24_hours_from_local_midnight(calendar: MarketCalendar) -> None:
    start, end = calendar.day_bounds(date(2026, 11, 24))
    assert start == _utc(2026, 11, 23, 13, 0)  # midnight AEDT (UTC+11)
    assert end == _utc(2026, 11, 24, 13, 0)
    assert start.tzinfo == ZoneInfo(SYDNEY) and start.time() == time(0)


def test_the_day_daylight_saving_starts_is_23_hours(calendar: MarketCalendar) -> None:
    start, end = calendar.day_bounds(date(2026, 10, 4))  # first Sunday of October
    assert start == _utc(2026, 10, 3, 14, 0)  # midnight AEST (UTC+10)
    assert end == _utc(2026, 10, 4, 13, 0)  # next midnight AEDT (UTC+11)
    assert _hours((start, end)) == timedelta(hours=23)


def test_the_day_daylight_saving_ends_is_25_hours(calendar: MarketCalendar) -> None:
    start, end = calendar.day_bounds(date(2026, 4, 5))  # first Sunday of April
    assert start == _utc(2026, 4, 4, 13, 0)  # midnight AEDT
    assert end == _utc(2026, 4, 5, 14, 0)  # next midnight AEST
    assert _hours((start, end)) == timedelta(hours=25)


def test_consecutive_days_meet_without_a_gap(calendar: MarketCalendar) -> None:
    day = date(2026, 4, 3)
    for _ in range(4):  # across the April change
        assert calendar.day_bounds(day)[1] == calendar.day_bounds(day + timedelta(days=1))[0]
        day += timedelta(days=1)


def test_an_instant_belongs_to_the_market_date_that_holds_it(calendar: MarketCalendar) -> None:
    start, end = calendar.day_bounds(date(2026, 10, 4))
    assert calendar.market_date(start) == date(2026, 10, 4)
    assert calendar.market_date(end - timedelta(microseconds=1)) == date(2026, 10, 4)
    assert calendar.market_date(end) == date(2026, 10, 5)
    assert calendar.market_date(_utc(2026, 11, 23, 23, 0)) == date(2026, 11, 24)  # 10:00 AEDT


def test_an_ordinary_session(calendar: MarketCalendar) -> None:
    session = calendar.session(date(2026, 11, 24))
    assert session is not None and not session.early_close
    assert session.open_at == _utc(2026, 11, 23, 23, 0)  # 10:00 AEDT
    assert session.close_at == _utc(2026, 11, 24, 5, 0)  # 16:00 AEDT


def test_christmas_eve_closes_early_in_a_whole_day(calendar: MarketCalendar) -> None:
    day = date(2026, 12, 24)
    session = calendar.session(day)
    assert session is not None and session.early_close
    assert session.close_at.astimezone(calendar.zone).time() == time(14, 10)
    assert not session.is_open(session.close_at)
    start, end = calendar.day_bounds(day)  # the market day itself is still midnight to midnight
    assert (start.time(), _hours((start, end))) == (time(0), timedelta(hours=24))
    assert start < session.open_at < session.close_at < end


def test_trading_days_skip_weekends_and_holidays(calendar: MarketCalendar) -> None:
    days = calendar.trading_days(date(2026, 12, 24), date(2026, 12, 31))
    assert days == [date(2026, 12, 24), date(2026, 12, 29), date(2026, 12, 30), date(2026, 12, 31)]
    assert calendar.trading_days(date(2026, 12, 26), date(2026, 12, 28)) == []  # Boxing Day..


def test_the_zone_is_whatever_the_settings_say() -> None:
    perth = AsxCalendar("Australia/Perth")
    start, end = perth.day_bounds(date(2026, 11, 24))
    assert start == _utc(2026, 11, 23, 16, 0) and _hours((start, end)) == timedelta(hours=24)
    assert perth.session(date(2026, 11, 24)).open_at == _utc(2026, 11, 24, 2, 0)  # type: ignore[union-attr]


def test_there_is_no_default_zone() -> None:
    with pytest.raises(TypeError):
        AsxCalendar()  # type: ignore[call-arg]


def test_the_zone_only_helper_agrees_with_the_calendar(calendar: MarketCalendar) -> None:
    day = date(2026, 10, 4)
    assert day_bounds(day, ZoneInfo(SYDNEY)) == calendar.day_bounds(day)
