"""The text of the trade reports: titles, the markdown body of a round trip's report, the
day's ``report.md`` that links its charts, and the chart files' names.

Pure functions of the report records (:mod:`skimd.services.ports.reports`) and the
market zone; times are shown in that zone. Free text from outside (notes, headlines,
categories) is folded onto one line, and escaped inside table cells, so it cannot break the
markdown around it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal

from skimd.domain.formatting import fmt_price
from skimd.domain.reviews import RATING_MAX, Review
from skimd.services.ports.reports import (
    MistakeNote,
    ReportTrip,
    StoredChart,
    StoredReport,
    TripSetup,
)


def report_title(trip: ReportTrip) -> str:
    """One line: ticker, size, average prices and net P&L."""
    exit_avg = fmt_price(trip.exit_avg)
    return (
        f"{trip.ticker}: {_qty(trip.qty)} @ {fmt_price(trip.entry_avg)} → {exit_avg}, "
        f"net {_money(trip.net_pnl)}"
    )


def chart_title(trip: ReportTrip, day: date) -> str:
    """The chart's caption: ticker, round trip, the chart's day and net P&L (0 while unknown)."""
    net = trip.net_pnl if trip.net_pnl is not None else Decimal(0)
    return f"{trip.ticker} round trip #{trip.id} · {day.isoformat()} · net {_money(net)}"


def report_body(
    trip: ReportTrip, setup: TripSetup | None, mistakes: Sequence[MistakeNote], zone: tzinfo
) -> str:
    """The markdown of one round trip's report (times in ``zone``, the market zone)."""
    out = [f"## {trip.ticker} — round trip #{trip.id}", ""]
    rows = [
        ("Account", trip.account or "—"),
        ("Quantity", _qty(trip.qty)),
        ("Opened", _when(trip.opened_at, zone)),
        ("Closed", _when(trip.closed_at, zone)),
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
            f"| {_when(f.executed_at, zone)} | {f.side} | {_qty(f.qty)} | "
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


def day_report(day: date, reports: Sequence[StoredReport]) -> tuple[str, list[tuple[str, bytes]]]:
    """``day``'s ``report.md`` (an index of titles, then each report with its charts linked
    by file name) and the chart files it links, as ``(file name, bytes)`` in link order."""
    files: list[tuple[str, bytes]] = []
    parts = [f"# Trade report {day.isoformat()}", ""]
    parts += [f"- {_line(r.title)}" for r in reports]
    for report in reports:
        parts += ["", "---", "", report.body.rstrip()]
        parts += review_lines(report.review)
        for n, chart in enumerate(report.charts, start=1):
            name = chart_file_name(report, chart, n)
            files.append((name, chart.data))
            alt = (_line(chart.caption).replace("[", "(").replace("]", ")") if chart.caption
                   else f"{report.ticker or 'chart'} chart")
            parts += ["", f"![{alt}]({name})"]
    return "\n".join(parts) + "\n", files


def review_lines(review: Review) -> list[str]:
    """The trader's review as a markdown section (nothing when not reviewed)."""
    if review.is_empty:
        return []
    out = ["", "### Trader's review", ""]
    if review.setup_quality is not None:
        out.append(f"- setup: {review.setup_quality}/{RATING_MAX}")
    if review.execution_quality is not None:
        out.append(f"- execution: {review.execution_quality}/{RATING_MAX}")
    if review.followed_plan is not None:
        out.append(f"- followed the plan: {'yes' if review.followed_plan else 'no'}")
    if review.emotional_state:
        out.append(f"- emotional state: {_line(review.emotional_state)}")
    if review.tags:
        out.append(f"- tags: {', '.join(_line(t) for t in review.tags)}")
    if review.lessons_learned:
        out.append(f"- lessons: {_line(review.lessons_learned)}")
    return out


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


def _when(at: datetime, zone: tzinfo) -> str:
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")


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
    "chart_file_name",
    "chart_title",
    "day_report",
    "holding_time",
    "report_body",
    "report_title",
]
