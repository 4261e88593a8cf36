"""``skimd journal stats``: the statistics of the round trips closed between two market
dates, grouped or not, with the equity curve (the figures are :mod:`skimd.domain.stats`'s).

Dates are market-zone dates, both ends inclusive; a round trip belongs to the day it
closed. Reading never takes the write lock, so this is safe while the daemon runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from skimd.domain.stats import (
    UNREVIEWED,
    ClosedTrip,
    EquityPoint,
    GroupBy,
    TripStats,
    equity_curve,
    grouped,
    summarise,
)
from skimd.errors import InvalidInputError
from skimd.services.ports.stats import ClosedTripSource, EquityChartRenderer, EquityCurve


@dataclass(frozen=True, slots=True)
class StatsReport:
    """The statistics of one range: ``total`` over every round trip, ``groups`` when
    grouped (else empty), the equity curve and notes on what the figures leave out."""

    date_from: date | None
    date_to: date | None
    by: GroupBy | None
    zone: ZoneInfo
    trips: tuple[ClosedTrip, ...]
    total: TripStats
    groups: tuple[TripStats, ...]
    curve: tuple[EquityPoint, ...]
    notes: tuple[str, ...] = field(default=())

    def as_json(self) -> dict[str, Any]:
        """JSON-ready: Decimals as exact text, times as ISO 8601 UTC, holding in seconds."""
        return {
            "from": None if self.date_from is None else self.date_from.isoformat(),
            "to": None if self.date_to is None else self.date_to.isoformat(),
            "by": None if self.by is None else str(self.by),
            "zone": self.zone.key,
            "total": stats_json(self.total),
            "groups": [stats_json(g) for g in self.groups],
            "equity_curve": [
                {
                    "closed_at": p.at.astimezone(UTC).isoformat(),
                    "round_trip_id": p.round_trip_id,
                    "cumulative_net_pnl": str(p.cumulative),
                }
                for p in self.curve
            ],
            "notes": list(self.notes),
        }


def stats_json(stats: TripStats) -> dict[str, Any]:
    def text(value: Decimal | None) -> str | None:
        return None if value is None else str(value)

    return {
        "label": stats.label,
        "round_trips": stats.round_trips,
        "wins": stats.wins,
        "losses": stats.losses,
        "win_rate": text(stats.win_rate),
        "net_pnl": str(stats.net_pnl),
        "gross_pnl": str(stats.gross_pnl),
        "fees": str(stats.fees),
        "avg_win": text(stats.avg_win),
        "avg_loss": text(stats.avg_loss),
        "expectancy": text(stats.expectancy),
        "r_known": stats.r_known,
        "r_unknown": stats.r_unknown,
        "avg_win_r": text(stats.avg_win_r),
        "avg_loss_r": text(stats.avg_loss_r),
        "expectancy_r": text(stats.expectancy_r),
        "profit_factor": text(stats.profit_factor),
        "max_drawdown": str(stats.max_drawdown),
        "avg_holding_s": (
            None if stats.avg_holding is None else int(stats.avg_holding.total_seconds())
        ),
        "mfe_capture": text(stats.mfe_capture),
        "mae_capture": text(stats.mae_capture),
    }


class JournalStats:
    def __init__(
        self,
        source: ClosedTripSource,
        zone: ZoneInfo,
        render: EquityChartRenderer,
        render_drawdown: EquityChartRenderer | None = None,
    ) -> None:
        self._source = source
        self._zone = zone
        self._render = render
        self._render_drawdown = render_drawdown

    def report(
        self, date_from: date | None, date_to: date | None, by: GroupBy | None = None
    ) -> StatsReport:
        """The statistics of the round trips closed from ``date_from`` to ``date_to``
        (market dates, inclusive, either optional)."""
        if date_from is not None and date_to is not None and date_from > date_to:
            raise InvalidInputError(f"--from {date_from} is after --to {date_to}")
        start = None if date_from is None else self._local_start(date_from)
        end = None if date_to is None else self._local_start(date_to + timedelta(days=1))
        trips = tuple(self._source.closed_trips(start, end))
        total = summarise(trips)
        notes: list[str] = []
        if total.r_unknown:
            notes.append(
                f"R: {total.r_unknown} of {total.round_trips} round trip(s) have no recorded "
                "initial stop below the entry; R figures leave them out"
            )
        if by is GroupBy.SETUP or by is GroupBy.TAG:
            missing = sum(1 for t in trips if not (t.setup if by is GroupBy.SETUP else t.tags))
            if missing:
                what = "setup grade" if by is GroupBy.SETUP else "tags"
                notes.append(
                    f"{by}: {missing} of {total.round_trips} round trip(s) have no {what} "
                    f"and group as {UNREVIEWED!r}; review them with `skimd journal review`"
                )
        return StatsReport(
            date_from=date_from,
            date_to=date_to,
            by=by,
            zone=self._zone,
            trips=trips,
            total=total,
            groups=tuple(grouped(trips, by, self._zone)) if by is not None else (),
            curve=tuple(equity_curve(trips)),
            notes=tuple(notes),
        )

    def chart(self, report: StatsReport) -> bytes | None:
        """The equity curve as PNG; None without a round trip."""
        if not report.curve:
            return None
        days = [p.at.astimezone(self._zone).date() for p in report.curve]
        span = days[0].isoformat() if days[0] == days[-1] else f"{days[0]} to {days[-1]}"
        title = (
            f"Equity (net P&L after fees), {span}: {report.total.round_trips} round trip(s), "
            f"{report.total.net_pnl:+,.2f}"
        )
        return self._render(EquityCurve(title=title, points=report.curve))

    def drawdown_chart(self, report: StatsReport) -> bytes | None:
        """The drawdown from the running peak of the equity curve as PNG (``skimd
        backtest``); None without a round trip or without a drawdown renderer."""
        if not report.curve or self._render_drawdown is None:
            return None
        title = (
            f"Drawdown (net P&L after fees, from its running peak): max "
            f"{report.total.max_drawdown:,.2f}"
        )
        return self._render_drawdown(EquityCurve(title=title, points=report.curve))

    def default_chart_name(self, report: StatsReport) -> str:
        """``equity_<first close day>_<last close day>.png`` (or ``equity_empty.png``)."""
        if not report.curve:
            return "equity_empty.png"
        first = report.curve[0].at.astimezone(self._zone).date()
        last = report.curve[-1].at.astimezone(self._zone).date()
        return f"equity_{first.isoformat()}_{last.isoformat()}.png"

    def _local_start(self, day: date) -> datetime:
        return datetime.combine(day, time(0), self._zone)
