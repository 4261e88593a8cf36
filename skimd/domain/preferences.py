"""The trader's display and journal preferences: their keys, types and shipped defaults.

A preference resolves as: the trader's own setting (table ``settings``), else the app
default seeded into the database (table ``app_defaults``, written by ``skimd db init`` and
by migration 0006), else :attr:`Preference.default` here. A stored value of the wrong type
(a hand-edited row) is ignored for the next one down, so a reader always gets a ``T``.

Only preferences something reads are listed (each names its reader); trading parameters are
config (``skimd.toml``), never preferences: the daemon does not read these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T", int, str)


@dataclass(frozen=True, slots=True)
class Preference(Generic[T]):
    key: str
    default: T
    minimum: int | None = None  # int preferences: the smallest value taken
    choices: tuple[str, ...] = ()  # str preferences: the values taken (any when empty)

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` (a decoded stored value) is one this preference takes."""
        if isinstance(self.default, bool) or isinstance(value, bool):
            return False  # no bool preference yet; True is not an int page size
        if isinstance(self.default, int):
            return isinstance(value, int) and (self.minimum is None or value >= self.minimum)
        return isinstance(value, str) and (not self.choices or value in self.choices)

    def pick(self, *candidates: Any) -> T:
        """The first candidate this preference accepts, else its default."""
        for value in candidates:
            if value is not None and self.accepts(value):
                return value
        return self.default


WEB_PAGE_SIZE: Preference[int] = Preference("web.page_size", 100, minimum=1)
"""Rows a page of the web view's paged lists (round trips, mistakes, bank lines)."""

WEB_RECENT_ALERTS: Preference[int] = Preference("web.recent_alerts", 20, minimum=1)
"""Alerts the web view's Today page lists."""

STATS_GROUP_BY: Preference[str] = Preference(
    "stats.group_by", "none", choices=("none", "day", "week", "month", "setup", "tag", "ticker")
)
"""How the web view's Stats page groups when the address names no grouping (``none``:
the totals only)."""

BANK_CURRENCY: Preference[str] = Preference("bank.currency", "AUD")
"""The currency of imported bank lines whose statement or import config names none."""

APP_DEFAULTS: tuple[Preference[Any], ...] = (
    WEB_PAGE_SIZE,
    WEB_RECENT_ALERTS,
    STATS_GROUP_BY,
    BANK_CURRENCY,
)
"""What ``skimd db init`` seeds into ``app_defaults`` (the defaults above, typed)."""
