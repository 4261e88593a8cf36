"""Trade reports: one markdown report with a price chart per round trip closed on a day.

:meth:`TradeReports.write_reports` runs after the close (and from ``skimd journal report``):
for every round trip closed on that market-zone date it writes a :class:`ReportDraft` -- a
title, a markdown body (executions, averages, P&L, fees, holding time, the plan's levels,
the mistakes recorded) and a PNG chart of the day's price path with the executions marked.
The store keeps one report per round trip: running again for the same day replaces that
report's text and chart (or, with ``replace=False``, leaves an existing one alone), so it
never duplicates anything.

The price path comes from a :class:`PricePath` (the broker's intraday bars in the daemon).
When it fails or has fewer than two points, the chart is drawn from the round trip's own
executions instead: a report without the broker is better than none, and a later run with
the broker replaces it.

:meth:`TradeReports.export_report` writes a day's stored reports to
``<folder>/<date>/report.md`` plus one PNG per chart, from the stored bytes.

Storage is behind :class:`ReportStore` (the database adapter); drawing is behind
:class:`ChartRenderer`; both are injected, so this module does no SQL and no imaging.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Protocol

import structlog

from skimd.clock import Clock
from skimd.domain.alerts import PricePoint, fmt_price
from skimd.domain.calendar import day_bounds
from skimd.errors import SkimdError
from skimd.files import write_atomic

log = structlog.get_logger(__name__)


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
    image_id: int
    mime: str
    data: bytes


@dataclass(frozen=True, slots=True)
class StoredReport:
    id: int
    round_trip_id: int | None
    ticker: str | None
    report_date: date
    title: str
    body: str
    charts: tuple[StoredChart, ...]


# -- ports -----------------------------------------------------------------------------------


class PricePath(Protocol):
    async def intraday(self, ticker: str, conid: int | None, day: date) -> list[PricePoint]:
        """``ticker``'s intraday prices on market-zone ``day``, oldest first (may be empty).
        Raises a SkimdError when the source cannot answer."""
        ...


class NoPricePath:
    """A price source with nothing to say: charts are drawn from the executions alone."""

    async def intraday(self, ticker: str, conid: int | None, day: date) -> list[PricePoint]:
        return []


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
        """The reports dated ``day`` with their charts, in the order they were created."""
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


# -- the use case ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Work:
    trip: ReportTrip
    setup: TripSetup | None
    mistakes: tuple[MistakeNote, ...]


class TradeReports:
    """Writes and exports the per-round-trip trade reports (see the module docstring)."""

    def __init__(
        self,
        store: ReportStore,
        prices: PricePath,
        render: ChartRenderer,
        clock: Clock,
        zone: tzinfo,
    ) -> None:
        self._store = store
        self._prices = prices
        self._render = render
        self._clock = clock
        self._zone = zone

    def day_bounds(self, day: date) -> tuple[datetime, datetime]:
        """``day`` in the market zone as an aware ``[start, end)`` (23 or 25 hours on a DST
        change)."""
        return day_bounds(day, self._zone)

    def local_date(self, at: datetime) -> date:
        return at.astimezone(self._zone).date()

    async def write_reports(self, day: date, *, replace: bool = True) -> int:
        """Report every round trip closed on market-zone ``day``; returns how many reports
        were written (inserted or replaced). Reading, fetching prices and drawing happen
        outside any transaction; all of the day's reports are saved in one."""
        start, end = self.day_bounds(day)
        with self._store.read() as tx:
            work = [
                _Work(
                    trip,
                    tx.setup_for(trip, self.local_date(trip.opened_at)),
                    tuple(tx.mistakes_for(trip)),
                )
                for trip in tx.closed_trips(start, end)
                if replace or not tx.has_report(trip.id)
            ]
        drafts: list[ReportDraft] = []
        for item in work:
            path = await self._path(item.trip, day)
            spec = self._chart_spec(item, day, path)
            chart = await asyncio.to_thread(self._render, spec)
            drafts.append(
                ReportDraft(
                    round_trip_id=item.trip.id,
                    report_date=day,
                    account=item.trip.account,
                    title=report_title(item.trip),
                    body=self.report_body(item.trip, item.setup, item.mistakes),
                    chart=chart,
                )
            )
        if not drafts:
            return 0
        now = self._clock.now()
        with self._store.transaction() as tx:
            written = sum(tx.save_report(d, now, replace=replace) for d in drafts)
        log.info("trade_reports_written", day=day.isoformat(), reports=written)
        return written

    async def _path(self, trip: ReportTrip, day: date) -> tuple[PricePoint, ...]:
        try:
            points = await self._prices.intraday(trip.ticker, trip.conid, day)
        except SkimdError as exc:
            log.warning(
                "report_price_path_failed",
                ticker=trip.ticker,
                day=day.isoformat(),
                error=str(exc),
                fallback="executions",
            )
            points = []
        path = tuple(sorted(points, key=lambda p: p.at))
        if len(path) >= 2:
            return path
        fills = tuple(PricePoint(at=f.executed_at, price=f.price) for f in trip.fills)
        if len(fills) >= 2:
            return fills
        # executions not linked (yet): the round trip's own averages still make a chart
        exit_price = trip.exit_avg if trip.exit_avg is not None else trip.entry_avg
        return (
            PricePoint(at=trip.opened_at, price=trip.entry_avg),
            PricePoint(at=trip.closed_at, price=exit_price),
        )

    def _chart_spec(self, item: _Work, day: date, path: Sequence[PricePoint]) -> ChartSpec:
        """Levels from the setup; a marker per execution on the chart's day or inside the
        path's time span. An entry made on an earlier day (a trade held overnight) shows as
        an average-entry line instead, so the time axis stays on the chart's day."""
        trip, setup = item.trip, item.setup
        first, last = path[0].at, path[-1].at
        marks = tuple(
            ChartMark(
                "Buy" if f.side == "BUY" else "Sell",
                f.executed_at,
                f.price,
                f.side,
            )
            for f in trip.fills
            if first <= f.executed_at <= last or self.local_date(f.executed_at) == day
        )
        levels: list[ChartLevel] = []
        if setup is not None:
            for label, price, kind in (
                ("ORH", setup.orh, "orh"),
                ("ORL", setup.orl, "orl"),
                ("Stop", setup.stop, "stop"),
                ("Target", setup.target, "target"),
            ):
                if price is None:
                    continue
                same = next((i for i, lv in enumerate(levels) if lv.price == price), None)
                if same is None:
                    levels.append(ChartLevel(label, price, kind))
                else:  # one line, one label: "ORL/Stop 44.50" rather than two on top
                    merged = levels[same]
                    levels[same] = ChartLevel(f"{merged.label}/{label}", price, merged.kind)
        if not any(m.side == "BUY" for m in marks):
            levels.append(ChartLevel("Avg entry", trip.entry_avg, "avg_entry"))
        net = trip.net_pnl if trip.net_pnl is not None else Decimal(0)
        title = f"{trip.ticker} round trip #{trip.id} · {day.isoformat()} · net {_money(net)}"
        return ChartSpec(title, tuple(path), tuple(levels), marks, profitable=net >= 0)

    def report_body(
        self, trip: ReportTrip, setup: TripSetup | None, mistakes: Sequence[MistakeNote]
    ) -> str:
        """The markdown of one round trip's report (times in the market zone)."""
        out = [f"## {trip.ticker} — round trip #{trip.id}", ""]
        rows = [
            ("Account", trip.account or "—"),
            ("Quantity", _qty(trip.qty)),
            ("Opened", self._when(trip.opened_at)),
            ("Closed", self._when(trip.closed_at)),
            ("Holding time", holding_time(trip.closed_at - trip.opened_at)),
            ("Average entry", fmt_price(trip.entry_avg)),
            ("Average exit", fmt_price(trip.exit_avg)),
            ("Gross P&L", _money(trip.gross_pnl)),
            ("Fees", _money(trip.fees, signed=False)),
            ("Net P&L", _money(trip.net_pnl)),
        ]
        out += ["| | |", "|---|---|"] + [f"| {k} | {_cell(v)} |" for k, v in rows]
        out += ["", "### Plan", ""]
        if setup is None:
            out.append("No trade plan or candidate was recorded for this trade.")
        else:
            plan = [
                ("Source", setup.source),
                ("Gap", None if setup.gap_pct is None else f"{setup.gap_pct:+.2f}%"),
                ("News", setup.news),
                ("ORH", _opt_price(setup.orh)),
                ("ORL", _opt_price(setup.orl)),
                ("Planned entry", _opt_price(setup.entry)),
                ("Stop", _opt_price(setup.stop)),
                ("Target", _opt_price(setup.target)),
            ]
            out += ["| | |", "|---|---|"]
            out += [f"| {k} | {_cell(v)} |" for k, v in plan if v is not None]
        out += ["", "### Executions", "", "| Time | Side | Qty | Price | Commission |"]
        out.append("|---|---|---:|---:|---:|")
        for f in trip.fills:
            out.append(
                f"| {self._when(f.executed_at)} | {f.side} | {_qty(f.qty)} | "
                f"{fmt_price(f.price)} | {_money(f.commission, signed=False)} |"
            )
        out += ["", "### Mistakes", ""]
        if not mistakes:
            out.append("None recorded.")
        for m in mistakes:
            cost = "" if m.cost is None else f" (cost {_money(m.cost, signed=False)})"
            note = f": {_line(m.note)}" if m.note else ""
            out.append(f"- **{_line(m.category)}**{note}{cost}")
        return "\n".join(out) + "\n"

    def _when(self, at: datetime) -> str:
        return at.astimezone(self._zone).strftime("%Y-%m-%d %H:%M:%S %Z")

    def last_report_day(self) -> date | None:
        """The market-zone date of the latest round-trip close, or None (nothing closed)."""
        with self._store.read() as tx:
            last = tx.last_closed_at()
        return None if last is None else self.local_date(last)

    def export_report(self, day: date, folder: Path) -> list[Path]:
        """Write ``day``'s stored reports to ``<folder>/<day>/report.md`` and one PNG per
        chart; returns the paths written (report.md first), or [] when ``day`` has no
        reports. Files are replaced atomically, so a re-export never leaves half a file."""
        with self._store.read() as tx:
            reports = tx.reports_on(day)
        if not reports:
            return []
        target = folder / day.isoformat()
        target.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        parts = [f"# Trade report {day.isoformat()}", ""]
        parts += [f"- {_line(r.title)}" for r in reports]
        for report in reports:
            parts += ["", "---", "", report.body.rstrip()]
            for n, chart in enumerate(report.charts, start=1):
                name = chart_file_name(report, chart, n)
                path = target / name
                write_atomic(path, chart.data)
                written.append(path)
                parts += ["", f"![{report.ticker or 'chart'} chart]({name})"]
        md = target / "report.md"
        write_atomic(md, ("\n".join(parts) + "\n").encode("utf-8"))
        return [md, *written]


# -- formatting ------------------------------------------------------------------------------


def report_title(trip: ReportTrip) -> str:
    """One line: ticker, size, average prices and net P&L."""
    exit_avg = fmt_price(trip.exit_avg)
    return (
        f"{trip.ticker}: {_qty(trip.qty)} @ {fmt_price(trip.entry_avg)} → {exit_avg}, "
        f"net {_money(trip.net_pnl)}"
    )


def holding_time(span: timedelta) -> str:
    """``2d 3h 05m``, ``47m 10s``: days and hours for long holds, seconds for short ones."""
    seconds = max(0, int(span.total_seconds()))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h {minutes:02d}m"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s"


_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}
_UNSAFE = re.compile(r"[^A-Za-z0-9]+")


def chart_file_name(report: StoredReport, chart: StoredChart, n: int) -> str:
    """``BHP-rt12.png`` (a second chart: ``BHP-rt12-2.png``); ASCII only."""
    ticker = _UNSAFE.sub("", report.ticker or "") or "report"
    ident = f"rt{report.round_trip_id}" if report.round_trip_id is not None else f"r{report.id}"
    suffix = "" if n == 1 else f"-{n}"
    return f"{ticker}-{ident}{suffix}.{_EXTENSIONS.get(chart.mime, 'bin')}"


def _money(value: Decimal | None, *, signed: bool = True) -> str:
    if value is None:
        return "—"
    sign = ("-" if value < 0 else "+" if value > 0 else "") if signed else ""
    return f"{sign}${abs(value):,.2f}"


def _opt_price(value: Decimal | None) -> str | None:
    return None if value is None else fmt_price(value)


def _qty(value: Decimal) -> str:
    return f"{value:,f}" if value != value.to_integral_value() else f"{int(value):,}"


def _line(text: str) -> str:
    """Free text on one line (notes and headlines come from outside)."""
    return " ".join(text.split())


def _cell(text: str) -> str:
    """Free text safe inside a markdown table cell."""
    return _line(text).replace("|", "\\|")


__all__ = [
    "ChartLevel",
    "ChartMark",
    "ChartRenderer",
    "ChartSpec",
    "MistakeNote",
    "NoPricePath",
    "PricePath",
    "ReportDraft",
    "ReportFill",
    "ReportStore",
    "ReportTrip",
    "ReportTx",
    "StoredChart",
    "StoredReport",
    "TradeReports",
    "TripSetup",
    "chart_file_name",
    "holding_time",
    "report_title",
]
