"""How prices, money and percentages read in everything the trader sees: alert text,
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
