"""How prices, money, percentages and durations read in everything the trader sees: alert text,
charts and journal reports share these so a number reads the same everywhere."""

from __future__ import annotations

from decimal import Decimal

MISSING = "—"
"""What a value that is not known (None) reads as."""


def fmt_price(value: Decimal | None) -> str:
    """At least two decimals, more when the price has them (ASX sub-$2 ticks are 0.5c)."""
    if value is None:
        return MISSING
    exponent = value.as_tuple().exponent
    places = max(2, -exponent) if isinstance(exponent, int) else 2
    return f"{value:,.{places}f}"


def fmt_money(value: Decimal | None) -> str:
    """Signed dollars and cents (``+$1,234.50``, ``-$7.00``, ``$0.00``)."""
    if value is None:
        return MISSING
    sign = "-" if value < 0 else ("+" if value > 0 else "")
    return f"{sign}${abs(value):,.2f}"


def fmt_pct(value: Decimal | None) -> str:
    """Signed percent with two decimals (``+5.32%``)."""
    return MISSING if value is None else f"{value:+.2f}%"


def fmt_duration(seconds: float) -> str:
    """Whole seconds under two minutes, then minutes and seconds, then hours and minutes
    (``45 s``, ``4 min 12 s``, ``3 h 5 min``)."""
    whole = max(int(seconds), 0)
    if whole < 120:
        return f"{whole} s"
    if whole < 7200:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"
