"""Price bars from a CSV file into the recorded market (``skimd data import``).

The format (one header row; column names case-insensitive, in any order; other columns,
such as IBKR's ``WAP`` or ``barCount``, are ignored):

    symbol,date,open,high,low,close,volume
    BHP,2026-03-02,45.10,45.80,44.90,45.55,1234567
    BHP,2026-03-02 10:01,45.10,45.20,45.05,45.15,12000

- ``symbol``: the ASX code; may be left out when the whole file is one ticker's and its
  code is given (``--symbol``), as in an IBKR history export of one contract;
- ``date``: a date (``2026-03-02`` or IBKR's ``20260302``) makes a daily bar, kept with the
  daily bars the daemon stores; a date and time (``2026-03-02 10:01``, ``...10:01:00``, or
  IBKR's ``20260302  10:01:00``) makes a one-minute bar starting then, in the market's own
  zone (Australia/Sydney for the ASX), kept with the recorded one-minute bars;
- ``open``/``high``/``low``/``close``: prices in dollars (``low`` <= ``open``, ``close``
  <= ``high``); ``volume``: whole shares (blank is 0).

A file is imported whole or not at all: the first bad value stops it with one line naming
the file, the line and the column, and nothing is written. A bar kept before (same ticker
and date, or same ticker and minute) is left as it was.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from pathlib import Path

from skimd.domain.market import Bar
from skimd.errors import InvalidInputError

from . import recordings
from .session import UnitOfWork

REQUIRED = ("date", "open", "high", "low", "close")
_DATE_FORMATS = ("%Y-%m-%d", "%Y%m%d")
_TIME_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y%m%d %H:%M:%S", "%Y%m%d %H:%M")


@dataclass(frozen=True)
class BarImport:
    """What an import kept: daily and one-minute bars, the tickers and the days."""

    daily: int
    minute: int
    symbols: tuple[str, ...]
    first_day: date | None
    last_day: date | None


def read_bars(path: Path, zone: tzinfo, symbol: str | None = None) -> list[Bar]:
    """The bars of the CSV file at ``path`` (see the module doc); InvalidInputError naming
    the file, line and column for the first bad value."""
    where = str(path)
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{where}: cannot read: {exc}") from None
    if not rows:
        raise InvalidInputError(f"{where}: line 1: the file is empty (expected a header row)")
    header = [h.strip().lower() for h in rows[0]]
    missing = [c for c in REQUIRED if c not in header]
    if symbol is None and "symbol" not in header:
        missing.insert(0, "symbol")
    if missing:
        raise InvalidInputError(
            f"{where}: line 1: missing column(s) {', '.join(missing)} "
            "(expected symbol,date,open,high,low,close,volume; symbol may come from --symbol)"
        )
    col = {name: header.index(name) for name in header}
    bars: list[Bar] = []
    for n, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue

        def cell(name: str, row: list[str] = row) -> str:
            i = col.get(name)
            return row[i].strip() if i is not None and i < len(row) else ""

        def fail(name: str, problem: str, line: int = n) -> InvalidInputError:
            return InvalidInputError(f"{where}: line {line}: column {name}: {problem}")

        code = (cell("symbol") if "symbol" in col else "") or (symbol or "")
        code = code.strip().upper()
        if not code.isalnum() or not 1 <= len(code) <= 6:
            raise fail("symbol", f"{code!r} is not an ASX code")
        day, at = _when(cell("date"), zone, lambda p: fail("date", p))
        prices = {}
        for name in ("open", "high", "low", "close"):
            try:
                value = Decimal(cell(name))
            except InvalidOperation:
                raise fail(name, f"{cell(name)!r} is not a price") from None
            if not value.is_finite() or value <= 0:
                raise fail(name, f"{cell(name)!r} is not a positive price")
            prices[name] = value
        raw_volume = cell("volume") or "0"
        try:
            volume = int(Decimal(raw_volume))
        except (InvalidOperation, ValueError):
            raise fail("volume", f"{raw_volume!r} is not a number of shares") from None
        if volume < 0:
            raise fail("volume", f"{raw_volume!r} is negative")
        if not prices["low"] <= min(prices["open"], prices["close"]):
            raise fail("low", f"{prices['low']} is above the open or the close")
        if not prices["high"] >= max(prices["open"], prices["close"]):
            raise fail("high", f"{prices['high']} is below the open or the close")
        bars.append(Bar(symbol=code, day=day, volume=volume, at=at, **prices))
    return bars


def _when(text: str, zone: tzinfo, fail: object) -> tuple[date, datetime | None]:
    cleaned = " ".join(text.split())
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(cleaned, fmt).date(), None  # noqa: DTZ007 (a date)
        except ValueError:
            pass
    for fmt in _TIME_FORMATS:
        try:
            local = datetime.strptime(cleaned, fmt).replace(tzinfo=zone)
        except ValueError:
            continue
        return local.date(), local
    assert callable(fail)
    raise fail(f"{text!r} is not a date (YYYY-MM-DD) or a date and time (YYYY-MM-DD HH:MM)")


def import_bars(uow: UnitOfWork, bars: list[Bar]) -> BarImport:
    """Keep ``bars`` in ``uow`` (the caller's unit of work: all or nothing)."""
    daily = [b for b in bars if b.at is None]
    minute = [b for b in bars if b.at is not None]
    recordings.record_daily_bars(uow.session, daily)
    recordings.record_bars(uow.session, minute, None, "import")
    days = sorted({b.day for b in bars})
    return BarImport(
        daily=len(daily),
        minute=len(minute),
        symbols=tuple(sorted({b.symbol for b in bars})),
        first_day=days[0] if days else None,
        last_day=days[-1] if days else None,
    )
