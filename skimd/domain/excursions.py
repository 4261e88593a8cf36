"""Maximum favourable / adverse excursion and best sell opportunity of one trade (pure).

Sign conventions (all amounts in the trade's currency, per share or x qty):

- Excursions are unrealised P&L along the path, so they read like P&L.
  ``mfe`` is the best unrealised P&L between entry and exit, never below 0;
  ``mae`` is the worst, never above 0 (a trade that only went its way has ``mae == 0``).
  For a long (``Side.BUY`` entry) the favourable direction is up; for a short it is down.
- ``bso`` (best sell opportunity) is the money left on the table: the best price after
  entry until the end of the exit's trading day (highest high for a long, lowest low for a
  short) against the actual exit price, never below 0. It needs an exit; None without one.

The path is either intraday :class:`~skimd.domain.market.Bar` objects (``at`` = start of the
bar, each lasting ``bar_period``) or :class:`PricePoint` ticks. A bar counts when its
period ``[at, at + bar_period)`` overlaps the holding time (a bar starting exactly at the
exit is wholly after it). Bar data cannot tell whether the extremes of the entry and exit
bars came before or after the fills, so those bars count whole: the usual convention, with
an error bounded by the bar size.
The entry and exit prices themselves are on the path too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from skimd.errors import InvalidInputError

from .market import Bar, PricePoint
from .orders import Side


@dataclass(frozen=True, slots=True)
class Excursion:
    """The result; ``mfe``/``mae``/``bso`` map onto ``excursion_metrics`` (money x qty).

    ``mfe_price``/``mae_price`` are the path prices where the extremes happened (the entry
    price when there was no favourable/adverse move); ``bso_price`` the best exit price.
    """

    mfe_per_share: Decimal
    mae_per_share: Decimal
    mfe: Decimal
    mae: Decimal
    mfe_price: Decimal
    mae_price: Decimal
    bso_per_share: Decimal | None
    bso: Decimal | None
    bso_price: Decimal | None


def excursions(
    entry_price: Decimal,
    qty: int,
    side: Side,
    path: Sequence[Bar | PricePoint],
    entry_at: datetime,
    exit_at: datetime | None = None,
    exit_price: Decimal | None = None,
    *,
    bar_period: timedelta = timedelta(minutes=1),
) -> Excursion:
    """MFE/MAE over ``[entry_at, exit_at]`` and BSO from entry to the end of the exit's day.

    ``side`` is the entry's side (BUY = long). Without ``exit_at``/``exit_price`` (an open
    position) the excursions run to the end of the path and BSO is None. The path may be
    in any order and may extend before the entry and past the exit; for bars, BSO stops at
    the last bar whose ``day`` is the exit bar's session day (PricePoints: the path's end).
    Raises InvalidInputError for inconsistent arguments (naming the argument).
    """
    _validate(entry_price, qty, entry_at, exit_at, exit_price, bar_period)
    sign = side.sign
    held: list[tuple[Decimal, Decimal]] = []  # (favourable, adverse) price per element held
    after_entry: list[_Span] = []
    for span in _spans(path, bar_period, sign):
        if not span.reaches(entry_at):
            continue
        after_entry.append(span)
        if exit_at is None or span.starts_before(exit_at):
            held.append((span.best, span.worst))

    best_price = entry_price
    worst_price = entry_price
    for best, worst in held + ([(exit_price, exit_price)] if exit_price is not None else []):
        if _gain(sign, best_price, best) > 0:
            best_price = best
        if _gain(sign, worst_price, worst) < 0:
            worst_price = worst
    mfe_ps = _gain(sign, entry_price, best_price)
    mae_ps = _gain(sign, entry_price, worst_price)

    bso_price: Decimal | None = None
    bso_ps: Decimal | None = None
    if exit_price is not None and exit_at is not None:
        bso_price = exit_price
        last_day = _exit_day(after_entry, exit_at)
        for span in after_entry:
            if last_day is not None and span.day is not None and span.day > last_day:
                continue
            if _gain(sign, bso_price, span.best) > 0:
                bso_price = span.best
        bso_ps = _gain(sign, exit_price, bso_price)

    return Excursion(
        mfe_per_share=mfe_ps,
        mae_per_share=mae_ps,
        mfe=mfe_ps * qty,
        mae=mae_ps * qty,
        mfe_price=best_price,
        mae_price=worst_price,
        bso_per_share=bso_ps,
        bso=None if bso_ps is None else bso_ps * qty,
        bso_price=bso_price,
    )


def _gain(sign: int, from_price: Decimal, to_price: Decimal) -> Decimal:
    """Per-share P&L of moving from one price to another on a position of this sign
    (written as a subtraction, never a product, so a zero is never ``-0``)."""
    return to_price - from_price if sign > 0 else from_price - to_price


@dataclass(frozen=True, slots=True)
class _Span:
    """One path element: a bar spans ``[start, end)``, a point is the instant ``start``."""

    start: datetime
    end: datetime
    best: Decimal  # the favourable extreme (high for a long)
    worst: Decimal  # the adverse extreme (low for a long)
    day: date | None  # session day (bars only)
    is_point: bool

    def reaches(self, moment: datetime) -> bool:
        """Some of it is at or after ``moment``."""
        return self.start >= moment if self.is_point else self.end > moment

    def starts_before(self, moment: datetime) -> bool:
        """Some of it is at or before ``moment``; a bar starting exactly then is all after."""
        return self.start <= moment if self.is_point else self.start < moment


def _spans(path: Sequence[Bar | PricePoint], bar_period: timedelta, sign: int) -> Iterable[_Span]:
    for i, item in enumerate(path):
        if isinstance(item, Bar):
            if item.at is None:
                raise InvalidInputError(
                    f"excursions: path[{i}] ({item.symbol} {item.day}) is a daily bar; "
                    "intraday bars with 'at' are needed"
                )
            best, worst = (item.high, item.low) if sign > 0 else (item.low, item.high)
            yield _Span(item.at, item.at + bar_period, best, worst, item.day, False)
        elif isinstance(item, PricePoint):
            yield _Span(item.at, item.at, item.price, item.price, None, True)
        else:
            raise InvalidInputError(
                f"excursions: path[{i}] is a {type(item).__name__}, not a Bar or PricePoint"
            )


def _exit_day(after_entry: Sequence[_Span], exit_at: datetime) -> date | None:
    """Session day of the last bar starting at or before the exit (None for points)."""
    days = [s.day for s in after_entry if s.day is not None and s.start <= exit_at]
    return max(days) if days else None


def _validate(
    entry_price: Decimal,
    qty: int,
    entry_at: datetime,
    exit_at: datetime | None,
    exit_price: Decimal | None,
    bar_period: timedelta,
) -> None:
    if entry_price <= 0:
        raise InvalidInputError(f"excursions: entry_price must be positive, got {entry_price}")
    if qty <= 0:
        raise InvalidInputError(f"excursions: qty must be positive, got {qty}")
    if bar_period <= timedelta(0):
        raise InvalidInputError(f"excursions: bar_period must be positive, got {bar_period}")
    if (exit_at is None) != (exit_price is None):
        raise InvalidInputError("excursions: exit_at and exit_price go together")
    for name, value in (("entry_at", entry_at), ("exit_at", exit_at)):
        if value is not None and value.utcoffset() is None:
            raise InvalidInputError(f"excursions: {name} must be timezone-aware")
    if exit_at is not None and exit_at < entry_at:
        raise InvalidInputError(f"excursions: exit_at {exit_at} is before entry_at {entry_at}")
    if exit_price is not None and exit_price <= 0:
        raise InvalidInputError(f"excursions: exit_price must be positive, got {exit_price}")


PERCENT = Decimal("0.0001")


def percent_of_entry(per_share: Decimal | None, entry_price: Decimal) -> Decimal | None:
    """``per_share`` as a percentage of ``entry_price`` (4 decimal places); None for None
    or a non-positive entry price."""
    if per_share is None or entry_price <= 0:
        return None
    return (per_share * 100 / entry_price).quantize(PERCENT)
