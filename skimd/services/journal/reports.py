"""Trade reports: one markdown report with a price chart per round trip closed on a day.

:meth:`TradeReports.write_reports` runs after the close (and from ``skimd journal report``):
for every round trip closed on that market-zone date it writes a
:class:`~skimd.services.ports.reports.ReportDraft` -- a title, a markdown body
(executions, averages, P&L, fees, holding time, the plan's levels, the mistakes recorded)
and a PNG chart of the day's price path with the executions marked.
The store keeps one report per round trip: running again for the same day replaces that
report's text and chart (or, with ``replace=False``, leaves an existing one alone), so it
never duplicates anything.

The price path comes from a :class:`PricePath` (the broker's intraday bars in the daemon).
When it fails or has fewer than two points, the chart is drawn from the round trip's own
executions instead: a report without the broker is better than none, and a later run with
the broker replaces it.

:meth:`TradeReports.export_report` writes a day's stored reports to
``<folder>/<date>/report.md`` plus one PNG per chart, from the stored bytes.

Storage is behind :class:`~skimd.services.ports.reports.ReportStore` (the database
adapter), with the records it speaks; drawing is behind :class:`ChartRenderer`; both are
injected, so this module does no SQL and no imaging. The reports' text (titles, the markdown
body, the day's ``report.md``) is :mod:`skimd.services.journal.report_markdown`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal
from pathlib import Path

import structlog

from skimd.clock import Clock
from skimd.domain.calendar import day_bounds
from skimd.domain.market import PricePoint
from skimd.errors import SkimdError
from skimd.files import private_dir, write_atomic
from skimd.services.journal.report_markdown import (
    chart_title,
    day_report,
    report_body,
    report_title,
)
from skimd.services.ports.reports import (
    ChartLevel,
    ChartMark,
    ChartRenderer,
    ChartSpec,
    MistakeNote,
    PricePath,
    ReportDraft,
    ReportStore,
    ReportTrip,
    TripSetup,
)

log = structlog.get_logger(__name__)


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
                    body=report_body(item.trip, item.setup, item.mistakes, self._zone),
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
        title = chart_title(trip, day)
        return ChartSpec(title, tuple(path), tuple(levels), marks, profitable=net >= 0)

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
        text, charts = day_report(day, reports)
        target = folder / day.isoformat()
        private_dir(target)  # 0700 whatever the umask: the trader's own trades
        written: list[Path] = []
        for name, data in charts:
            path = target / name
            write_atomic(path, data)
            written.append(path)
        md = target / "report.md"
        write_atomic(md, text.encode("utf-8"))
        return [md, *written]


__all__ = ["TradeReports"]
