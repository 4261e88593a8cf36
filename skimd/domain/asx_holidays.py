"""The ASX's full-day market holidays, computed from their rules (no data files).

The rules, as the ASX publishes them and as ``holidays.financial_holidays("XASX")`` encodes
them (a test compares the two over many years; the library itself stays a test dependency
because loading it costs the daemon ~20 MB of memory):

- New Year's Day and Australia Day (26 January): a weekend date moves to the next Monday;
- Good Friday and Easter Monday;
- Anzac Day (25 April): no replacement day when it falls on a weekend;
- the King's (before 2023 the Queen's) Birthday: the second Monday of June;
- Christmas Day and Boxing Day: a Saturday moves to Monday, a Sunday to Tuesday;
- one-off closures: 26 April 2010, 26 April 2011, 22 September 2022.

Early closes (Christmas Eve, New Year's Eve at 14:10) are the calendar's concern.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

_ONE_OFF = {
    date(2010, 4, 26): "ANZAC Day",
    date(2011, 4, 26): "Easter Tuesday / Public Holiday",
    date(2022, 9, 22): "National Day of Mourning for Queen Elizabeth II",
}


def easter_sunday(year: int) -> date:
    """Western Easter Sunday (the anonymous Gregorian algorithm)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _next_monday(day: date) -> date:
    return day + timedelta(days=(7 - day.weekday()) % 7) if day.weekday() >= 5 else day


def _christmas_rule(day: date) -> date:
    """Saturday → Monday, Sunday → Tuesday (the two days never land on the same date)."""
    return day + timedelta(days=2) if day.weekday() >= 5 else day


@lru_cache(maxsize=64)
def asx_holidays(year: int) -> dict[date, str]:
    """Every weekday the ASX is closed in ``year``, with its name."""
    found: dict[date, str] = {
        _next_monday(date(year, 1, 1)): "New Year's Day",
        _next_monday(date(year, 1, 26)): "Australia Day",
    }
    easter = easter_sunday(year)
    found[easter - timedelta(days=2)] = "Good Friday"
    found[easter + timedelta(days=1)] = "Easter Monday"
    anzac = date(year, 4, 25)
    if anzac.weekday() < 5:
        found[anzac] = "ANZAC Day"
    june_first = date(year, 6, 1)
    second_monday = june_first + timedelta(days=(7 - june_first.weekday()) % 7 + 7)
    found[second_monday] = "King's Birthday" if year >= 2023 else "Queen's Birthday"
    found[_christmas_rule(date(year, 12, 25))] = "Christmas Day"
    found[_christmas_rule(date(year, 12, 26))] = "Boxing Day"
    found.update({d: name for d, name in _ONE_OFF.items() if d.year == year})
    return dict(sorted(found.items()))


def holiday_name(day: date) -> str | None:
    """The holiday on ``day`` (weekends are not holidays here: callers check those)."""
    return asx_holidays(day.year).get(day)
