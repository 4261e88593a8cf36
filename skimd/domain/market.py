"""Market data as the rest of skimd sees it, whatever broker produced it.

Contract: money and prices are :class:`~decimal.Decimal` (never float), datetimes are
timezone-aware UTC, quantities and volumes are ``int``. A field that the source has not
delivered yet (a pre-flight snapshot, a quote before the open) is ``None`` rather than 0, so
"no data" can never be mistaken for a price of zero.

Pure helpers here (:func:`gap_pct`, :func:`asx_tick_size`, :func:`round_to_tick`) hold the
ASX rules the services and every broker adapter share.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from enum import StrEnum

_PCT_PLACES = Decimal("0.0001")


def _require_aware(value: datetime | None, name: str) -> None:
    if value is not None and value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")


@dataclass(frozen=True, slots=True)
class Contract:
    """An instrument the broker can trade; ``conid`` is the broker's stable identifier."""

    symbol: str
    conid: int
    exchange: str = "ASX"
    currency: str = "AUD"
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Quote:
    """A point-in-time snapshot of one instrument.

    Before the ASX open ``last``/``open``/``high``/``low``/``bid``/``ask`` are None and only
    ``prev_close`` is known. A broker's first snapshot for a conid may carry no fields at all
    (IBKR's pre-flight); ask again.
    """

    conid: int
    symbol: str
    at: datetime
    last: Decimal | None = None
    bid: Decimal | None = None
    ask: Decimal | None = None
    open: Decimal | None = None
    high: Decimal | None = None
    low: Decimal | None = None
    prev_close: Decimal | None = None
    volume: int | None = None

    def __post_init__(self) -> None:
        _require_aware(self.at, "Quote.at")

    @property
    def has_data(self) -> bool:
        """True once any price field arrived (pre-flight snapshots have none)."""
        return any(
            v is not None
            for v in (self.last, self.bid, self.ask, self.open, self.prev_close)
        )

    @property
    def is_open(self) -> bool:
        """True once the instrument has traded today (an opening price exists)."""
        return self.open is not None and self.last is not None

    @property
    def gap_pct(self) -> Decimal | None:
        """Opening gap over the previous close, in percent; None until both are known."""
        if self.open is None or self.prev_close is None or self.prev_close <= 0:
            return None
        return gap_pct(self.prev_close, self.open)


@dataclass(frozen=True, slots=True)
class Bar:
    """OHLCV over one period. Daily bars have ``day`` (the ASX session date) and ``at`` None;
    intraday bars also carry ``at``, the aware UTC start of the period."""

    symbol: str
    day: date
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int
    at: datetime | None = None

    def __post_init__(self) -> None:
        _require_aware(self.at, "Bar.at")
        if self.low > self.high:
            raise ValueError(f"Bar {self.symbol} {self.day}: low {self.low} > high {self.high}")


@dataclass(frozen=True, slots=True)
class GapCandidate:
    """A ticker that opened ``gap_pct`` percent over its previous close on ``scan_date``."""

    symbol: str
    conid: int
    prev_close: Decimal
    open: Decimal
    gap_pct: Decimal
    volume: int
    scan_date: date
    last: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Announcement:
    """One company announcement as published by the ASX (``released_at`` aware UTC)."""

    symbol: str
    headline: str
    released_at: datetime
    price_sensitive: bool
    document_id: str | None = None
    pages: int | None = None

    def __post_init__(self) -> None:
        _require_aware(self.released_at, "Announcement.released_at")


@dataclass(frozen=True, slots=True)
class NewsCandidate:
    """A ticker worth watching today because of a price-sensitive announcement."""

    symbol: str
    headline: str
    released_at: datetime
    price_sensitive: bool
    scan_date: date
    conid: int | None = None

    def __post_init__(self) -> None:
        _require_aware(self.released_at, "NewsCandidate.released_at")

    @classmethod
    def from_announcement(
        cls, ann: Announcement, scan_date: date, conid: int | None = None
    ) -> NewsCandidate:
        return cls(
            symbol=ann.symbol,
            headline=ann.headline,
            released_at=ann.released_at,
            price_sensitive=ann.price_sensitive,
            scan_date=scan_date,
            conid=conid,
        )


class TickDirection(StrEnum):
    """How :func:`round_to_tick` resolves a price between two ticks."""

    DOWN = "down"
    UP = "up"
    NEAREST = "nearest"


def gap_pct(prev_close: Decimal, open_: Decimal) -> Decimal:
    """Percent change from ``prev_close`` to ``open_`` (4 decimal places, banker's rounding).

    ``gap_pct(Decimal("1.00"), Decimal("1.05")) == Decimal("5.0000")``. A non-positive
    previous close has no meaningful gap and raises ValueError.
    """
    if prev_close <= 0:
        raise ValueError(f"previous close must be positive, got {prev_close}")
    return ((open_ - prev_close) / prev_close * 100).quantize(_PCT_PLACES, ROUND_HALF_EVEN)


def asx_tick_size(price: Decimal) -> Decimal:
    """The ASX minimum price step for equities at ``price``.

    Up to 10c: 0.1c; from 10c up to $2: 0.5c; from $2: 1c.
    """
    if price < Decimal("0.10"):
        return Decimal("0.001")
    if price < Decimal("2.00"):
        return Decimal("0.005")
    return Decimal("0.01")


def round_to_tick(price: Decimal, direction: TickDirection = TickDirection.NEAREST) -> Decimal:
    """``price`` moved onto the ASX tick grid (never below one tick)."""
    tick = asx_tick_size(price)
    rounding = {
        TickDirection.DOWN: ROUND_FLOOR,
        TickDirection.UP: ROUND_CEILING,
        TickDirection.NEAREST: ROUND_HALF_EVEN,
    }[direction]
    steps = (price / tick).quantize(Decimal(1), rounding)
    result = max(steps * tick, tick)
    # Rounding across a band boundary can land off the other band's grid (e.g. 1.9999 up).
    if asx_tick_size(result) != tick:
        new_tick = asx_tick_size(result)
        result = (result / new_tick).quantize(Decimal(1), rounding) * new_tick
    return result.quantize(asx_tick_size(result))


def is_on_tick(price: Decimal) -> bool:
    """True when ``price`` is a valid ASX price (positive and on the tick grid)."""
    return price > 0 and price % asx_tick_size(price) == 0


@dataclass(frozen=True, slots=True)
class PricePoint:
    """One observed price at an aware moment: a point of an intraday path (alert charts)."""

    at: datetime
    price: Decimal

    def __post_init__(self) -> None:
        if isinstance(self.at, datetime) and self.at.utcoffset() is None:
            raise ValueError("PricePoint.at must be a timezone-aware datetime")


@dataclass(frozen=True, slots=True)
class VolumePoint:
    """Shares traded in the period that ENDS at the aware moment ``at`` (since the previous
    point of its series): a bar under an intraday path (alert charts)."""

    at: datetime
    volume: int

    def __post_init__(self) -> None:
        if isinstance(self.at, datetime) and self.at.utcoffset() is None:
            raise ValueError("VolumePoint.at must be a timezone-aware datetime")
