"""The ASX holiday rules against the `holidays` library's XASX calendar, year by year."""

from __future__ import annotations

from datetime import date

import holidays
import pytest

from skimd.domain.asx_holidays import asx_holidays, easter_sunday


@pytest.mark.parametrize("year", range(2000, 2061))
def test_same_days_as_the_holidays_library(year: int) -> None:
    theirs = set(holidays.financial_holidays("XASX", years=year))
    assert set(asx_holidays(year)) == theirs


def test_known_dates() -> None:
    assert easter_sunday(2026) == date(2026, 4, 5)
    days = asx_holidays(2026)
    assert days[date(2026, 4, 3)] == "Good Friday"
    assert date(2026, 4, 25) not in days, "Anzac Day on a Saturday is not replaced"
    assert asx_holidays(2027)[date(2027, 12, 27)] == "Christmas Day"  # 25th is a Saturday
    assert asx_holidays(2027)[date(2027, 12, 28)] == "Boxing Day"
