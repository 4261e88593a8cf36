"""What a trade report is made from and kept as, and the store port that speaks those records.

:class:`~skimd.services.journal.reports.TradeReports` reads closed round trips
(:class:`ReportTrip` with its :class:`ReportFill` executions), the plan behind each
(:class:`TripSetup`) and the mistakes recorded against it (:class:`MistakeNote`); it saves a
:class:`ReportDraft` per round trip and exports :class:`StoredReport` rows with their
:class:`StoredChart` images. :class:`ReportStore` is the port it needs for all of that; the
database adapter (``infrastructure/database/report_store.py``) implements it and maps its rows
to these records, so no ORM object reaches the service.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from skimd.domain.market import PricePoint
from skimd.domain.reviews import Review

# -- records ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReportFill:
    """One execution of a round trip. ``side`` is ``BUY`` or ``SELL``."""

    exec_id: str
    side: str
    qty: Decimal
    price: Decimal
    commission: Decimal
    executed_at: datetime


@dataclass(frozen=True, slots=True)
class ReportTrip:
    """A stored closed round trip and its executions (in execution order)."""

    id: int
    account: str | None
    ticker: str
    conid: int | None
    qty: Decimal
    entry_avg: Decimal
    exit_avg: Decimal | None
    gross_pnl: Decimal | None
    fees: Decimal
    net_pnl: Decimal | None
    opened_at: datetime
    closed_at: datetime
    fills: tuple[ReportFill, ...]


@dataclass(frozen=True, slots=True)
class TripSetup:
    """What was planned for the trade: the candidate's opening range and the trade plan.

    Every level is optional: a manual trade has neither, a candidate without a plan has
    only the range. ``source`` says where the levels came from, for the report.
    """

    source: str
    orh: Decimal | None = None
    orl: Decimal | None = None
    entry: Decimal | None = None
    stop: Decimal | None = None
    target: Decimal | None = None
    gap_pct: Decimal | None = None
    news: str | None = None


@dataclass(frozen=True, slots=True)
class MistakeNote:
    category: str
    note: str | None
    cost: Decimal | None


@dataclass(frozen=True, slots=True)
class ReportDraft:
    """What the store keeps for one round trip: the report row and its chart PNG."""

    round_trip_id: int
    report_date: date
    account: str | None
    title: str
    body: str
    chart: bytes


@dataclass(frozen=True, slots=True)
class StoredChart:
    """A report's image: its chart, or a screenshot the trader attached (``caption``)."""

    image_id: int
    mime: str
    data: bytes
    caption: str | None = None


@dataclass(frozen=True, slots=True)
class StoredReport:
    id: int
    round_trip_id: int | None
    ticker: str | None
    report_date: date
    title: str
    body: str
    charts: tuple[StoredChart, ...]
    review: Review = field(default_factory=Review)  # the trader's (``journal review``)


# -- the store port --------------------------------------------------------------------------


class ReportTx(Protocol):
    """One unit of work on the journal, in the report's terms."""

    def closed_trips(self, start: datetime, end: datetime) -> list[ReportTrip]:
        """Round trips closed in ``[start, end)``, in closing order."""
        ...

    def setup_for(self, trip: ReportTrip, entry_day: date) -> TripSetup | None:
        """The plan and/or candidate behind ``trip`` (entered on market-zone ``entry_day``),
        or None when there is neither."""
        ...

    def mistakes_for(self, trip: ReportTrip) -> list[MistakeNote]:
        """Mistakes recorded against the round trip or any of its executions."""
        ...

    def has_report(self, round_trip_id: int) -> bool: ...

    def save_report(self, draft: ReportDraft, now: datetime, *, replace: bool) -> bool:
        """Insert the round trip's report with its chart (image and thumbnail), or update
        the one it has (text replaced, old charts deleted). With ``replace=False`` an
        existing report is left alone. Returns whether anything was written."""
        ...

    def reports_on(self, day: date) -> list[StoredReport]:
        """The reports dated ``day`` (with a body) with their review and images (the chart
        first, then the trader's screenshots), in the order they were created."""
        ...

    def last_closed_at(self) -> datetime | None:
        """When the most recently closed round trip closed."""
        ...


class ReportStore(Protocol):
    def read(self) -> AbstractContextManager[ReportTx]:
        """A read-only unit of work (no write lock, never commits)."""
        ...

    def transaction(self) -> AbstractContextManager[ReportTx]:
        """A write unit of work: commits on success, rolls back on any exception."""
        ...


__all__ = [
    "MistakeNote",
    "ReportDraft",
    "ReportFill",
    "ReportStore",
    "ReportTrip",
    "ReportTx",
    "StoredChart",
    "StoredReport",
    "TripSetup",
]


# -- prices and charts --------------------------------------------


class PricePath(Protocol):
    async def intraday(self, ticker: str, conid: int | None, day: date) -> list[PricePoint]:
        """``ticker``'s intraday prices on market-zone ``day``, oldest first (may be empty).
        Raises a SkimdError when the source cannot answer."""
        ...


class NoPricePath:
    """A price source with nothing to say: charts are drawn from the executions alone."""

    async def intraday(self, ticker: str, conid: int | None, day: date) -> list[PricePoint]:
        return []


@dataclass(frozen=True, slots=True)
class ChartLevel:
    """A horizontal line. ``kind``: orh | orl | entry | stop | target | avg_entry."""

    label: str
    price: Decimal
    kind: str


@dataclass(frozen=True, slots=True)
class ChartMark:
    """An execution on the chart; ``side`` BUY (an entry) or SELL (an exit)."""

    label: str
    at: datetime
    price: Decimal
    side: str


@dataclass(frozen=True, slots=True)
class ChartSpec:
    title: str
    path: tuple[PricePoint, ...]
    levels: tuple[ChartLevel, ...] = ()
    marks: tuple[ChartMark, ...] = ()
    profitable: bool = True


ChartRenderer = Callable[[ChartSpec], bytes]
"""PNG bytes for a :class:`ChartSpec` (whose path has at least two points); CPU-bound, so
it runs in a worker thread."""
