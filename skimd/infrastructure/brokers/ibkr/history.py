"""``/iserver/marketdata/history``: its request parameters and its rows → Bars.

What IBKR documents, and where (checked against IBKR's documentation for issue 14):

- Parameters (IBKR's OpenAPI spec "IB REST API" v2.29.0,
  https://api.ibkr.com/gw/api/v3/api-docs, path ``/iserver/marketdata/history``): ``conid``,
  ``period`` (units ``min``/``h``/``d``/``w``/``m``/``y``), ``bar`` (``S``/``min``/``h``/``d``/
  ``w``/``m``), ``exchange``, ``outsideRth``, ``startTime`` ("A fixed UTC date-time reference
  point ... Format is YYYYMMDD-hh:mm:ss"), ``direction``.
  IBind (github.com/Voyz/ibind, ``marketdata_mixin.py``) lists the bar sizes 1min, 2min, 3min,
  5min, 10min, 15min, 30min, 1h, 2h, 3h, 4h, 8h, 1d, 1w, 1m and periods up to 1000d; IBKR's
  older Client Portal swagger caps a request at 1000 data points.
- Which way ``period`` runs from ``startTime``: the spec contradicts itself (``period`` "away from
  startTime into the future", yet ``direction`` defaults to -1, "ending at ... startTime"). A
  third party's live measurement found the default window ENDS at ``startTime``, and that an
  explicit "now" can miss the newest bar, so today's request sends no ``startTime`` at all.
  The callers filter rows to the wanted day, so either reading yields the right bars.
- Rows are ``{o, h, l, c, v, t}``; ``t`` is "Unix timestamp of the start (chronologically
  earlier) of the bar", in milliseconds (spec ``singleHistoricalBarLast`` and its examples).
- Volume: ``v`` is in units of the body's ``volumeFactor``. The spec's own AAPL example answers
  daily bars with ``"volumeFactor": 100`` and ``"v": 266616.18`` (26.7 M shares once scaled;
  266 616 would be implausibly thin for AAPL), and the older Client Portal swagger, describing
  the volume inside HistoryData's ``high``/``low`` strings, says "volume factor will always be
  100 (reported volume = actual volume/100)". Shares = ``v * volumeFactor`` (scaled before
  rounding: ``v`` may be fractional); a body without a factor is taken as shares. Whether ASX
  bars use 100 too is not documented; applying the body's own factor is right for any value.
- At most 5 requests in flight (IBKR Web API documentation, "Additional Usage Limits",
  https://www.interactivebrokers.com/campus/ibkr-api-page/webapi-doc/); the caller holds a slot.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from typing import Any

from skimd.domain.market import Bar
from skimd.infrastructure.brokers.ibkr.mapping import parse_price, volume_decimal


def bar_size(minutes: int) -> str:
    """IBKR's ``bar`` parameter for a bar of ``minutes``: ``"5min"``, ``"1h"``, ..."""
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}min"


def start_time(when: datetime) -> str:
    """IBKR's ``startTime`` format: UTC ``YYYYMMDD-hh:mm:ss``."""
    return when.astimezone(UTC).strftime("%Y%m%d-%H:%M:%S")


def volume_factor(body: Any) -> Decimal:
    """The body's ``volumeFactor`` (shares per unit of ``v``); 1 when absent or not positive."""
    factor = parse_price(body.get("volumeFactor")) if isinstance(body, dict) else None
    return factor if factor is not None and factor > 0 else Decimal(1)


def bar_volume(row: dict[str, Any], factor: Decimal) -> int:
    """Shares traded in one row: ``v * volumeFactor``, rounded down after scaling."""
    units = volume_decimal(row.get("v"))
    return int(units * factor) if units is not None and units > 0 else 0


def daily_bars(body: Any, symbol: str, zone: tzinfo) -> list[Bar]:
    """Daily bars (``t`` ms epoch → its date in the market's ``zone``), oldest first, one per
    day (the later row wins); rows missing a price are skipped."""
    if not isinstance(body, dict):
        return []
    factor = volume_factor(body)
    by_day: dict[date, Bar] = {}
    for row in body.get("data") or []:
        try:
            day = datetime.fromtimestamp(int(row["t"]) / 1000, UTC).astimezone(zone).date()
            values = [parse_price(row.get(k)) for k in ("o", "h", "l", "c")]
            if any(v is None for v in values):
                continue
            o, h, low, c = (v for v in values if v is not None)
            by_day[day] = Bar(symbol=symbol, day=day, open=o, high=h, low=low, close=c,
                              volume=bar_volume(row, factor))
        except (KeyError, TypeError, ValueError, OverflowError, OSError):
            continue
    return [by_day[d] for d in sorted(by_day)]


def intraday_bars(body: Any, symbol: str, day: date, zone: tzinfo) -> list[Bar]:
    """Intraday bars of date ``day`` (in the market's ``zone``).

    Rows of other dates (the request window may reach into the previous session) and rows
    missing a price are skipped. Oldest first, one bar per start (the later row wins). High
    and low are widened to cover open and close if IBKR's row does not, so every bar keeps
    ``low <= open, close <= high``.
    """
    if not isinstance(body, dict):
        return []
    factor = volume_factor(body)
    by_start: dict[datetime, Bar] = {}
    for row in body.get("data") or []:
        try:
            at = datetime.fromtimestamp(int(row["t"]) / 1000, UTC)
            values = [parse_price(row.get(k)) for k in ("o", "h", "l", "c")]
            if at.astimezone(zone).date() != day or any(v is None for v in values):
                continue
            o, h, low, c = (v for v in values if v is not None)
            by_start[at] = Bar(
                symbol=symbol,
                day=day,
                open=o,
                high=max(h, low, o, c),
                low=min(h, low, o, c),
                close=c,
                volume=bar_volume(row, factor),
                at=at,
            )
        except (KeyError, TypeError, ValueError, OverflowError, OSError):
            continue
    return [by_start[t] for t in sorted(by_start)]
