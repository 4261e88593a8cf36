"""What the pages read and do, over the parts :mod:`skimd.bootstrap` hands in.

- Today: the running daemon's own status report over the control socket (what ``skimd
  status`` prints), else the same report read from the database; a candidate's
  opening-range chart drawn from the daemon's own price tape (control command ``tape``:
  none without a daemon, nor before the daemon has seen two prices of it today).
- Actions: kill switch lock/unlock, flatten and pause/resume go to the daemon's control
  channel, which journals and alerts them with the caller's uid. Without a daemon the kill
  switch is thrown in the database, as ``skimd guard`` does (the daemon re-reads it before
  every entry); the others need a daemon and say so.
- Journal: round trips (filtered by market-zone date and ticker), one round trip with the
  charts of its trade report, its review (read and written through
  :class:`~skimd.services.journal.reviews.JournalReviews`, as ``skimd journal review``
  does), and :class:`~skimd.services.journal.stats.JournalStats`.
- The trader's records: plans (with their screenshots) and mistakes through
  :class:`~skimd.services.journal.records.JournalRecords`, as ``skimd journal plan|mistake``
  reads them; bank statement lines and their import batches, read-only.

Calls are serialised by one lock: Starlette runs them in worker threads, and the database
parts are built for one caller at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from skimd.domain.market import PricePoint, VolumePoint
from skimd.domain.preferences import (
    STATS_GROUP_BY,
    WEB_PAGE_SIZE,
    WEB_RECENT_ALERTS,
    Preference,
    T,
)
from skimd.domain.reviews import Review, TripReview
from skimd.domain.stats import GroupBy
from skimd.errors import DaemonReplyError, DaemonUnavailableError, InvalidInputError
from skimd.services.guard import KillSwitch
from skimd.services.journal.records import JournalRecords
from skimd.services.journal.reviews import JournalReviews
from skimd.services.journal.stats import JournalStats, StatsReport
from skimd.services.ports.records import MistakeRow, PlanDetail, StoredImage
from skimd.services.ports.reports import ReportStore, StoredChart

ACTIONS = ("lock", "unlock", "flatten", "pause", "resume")
WEB_REASON = "from skimd web"
MAX_REASON_CHARS = 200


class ControlChannel(Protocol):
    """The client side of the daemon's control socket."""

    def call(
        self, cmd: str, args: dict[str, Any] | None = None, *, timeout_s: float | None = None
    ) -> Any: ...


class TripReads(Protocol):
    """Round trips as the journal lists them (``RoundTripRow`` dicts: exact decimals as
    text, times ISO 8601 UTC)."""

    def find(
        self,
        start: datetime | None,
        end: datetime | None,
        ticker: str | None,
        limit: int,
        offset: int = 0,
    ) -> tuple[list[dict[str, Any]], int]:
        """Those opened or closed in ``[start, end)`` on ``ticker``, latest opened first:
        one page and the number matching in all."""
        ...

    def get(self, trip_id: int) -> dict[str, Any] | None: ...


class BankReads(Protocol):
    """Bank statement lines and their import batches (plain dicts, read-only)."""

    def batches(self) -> list[dict[str, Any]]:
        """One row per import batch, the latest imported first."""
        ...

    def lines(
        self, batch: str | None, limit: int, offset: int = 0
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of the lines (of ``batch``, or all), the latest dated first, and how
        many match in all."""
        ...


class RangeChart(Protocol):
    """Draws a candidate's day so far with its prior close and opening range: PNG bytes."""

    def __call__(
        self,
        symbol: str,
        path: Sequence[PricePoint],
        volumes: Sequence[VolumePoint],
        *,
        prev_close: Decimal | None,
        orh: Decimal | None,
        orl: Decimal | None,
    ) -> bytes: ...


class PreferenceReads(Protocol):
    """A preference's value as :mod:`skimd.domain.preferences` resolves it (the trader's
    setting, the app default, the code's default)."""

    def __call__(self, wanted: Preference[T]) -> T: ...


def shipped(wanted: Preference[T]) -> T:
    """:class:`PreferenceReads` without a database: the code's defaults."""
    return wanted.default


@dataclass(frozen=True)
class DeskParts:
    """What bootstrap builds for the desk. ``status``, ``trips`` and ``recent_alerts`` (the
    last N stored, newest first) read the database."""

    control: ControlChannel
    status: Callable[[], dict[str, Any]]
    kill_switch: Callable[[], KillSwitch]
    trips: Callable[[], TripReads]
    reports: Callable[[], ReportStore]
    stats: Callable[[], JournalStats]
    reviews: Callable[[], JournalReviews]
    records: Callable[[], JournalRecords]
    bank: Callable[[], BankReads]
    zone: ZoneInfo
    recent_alerts: Callable[[int], list[dict[str, Any]]] = lambda limit: []
    # the alerts stored after an outbox id, oldest first (a bounded batch)
    alerts_after: Callable[[int], list[dict[str, Any]]] = lambda after: []
    preference: PreferenceReads = shipped
    range_chart: RangeChart | None = None  # None: Today shows no candidate chart


@dataclass(frozen=True)
class TripFilter:
    """Round trips opened or closed within ``date_from``..``date_to`` (market-zone dates,
    inclusive) whose ticker is ``ticker`` (any when None)."""

    date_from: date | None = None
    date_to: date | None = None
    ticker: str | None = None
    page: int = 1  # the page size (preference web.page_size) a page, latest opened first


@dataclass(frozen=True)
class TripPage:
    rows: list[dict[str, Any]]
    total: int
    page: int
    pages: int


@dataclass(frozen=True)
class MistakeFilter:
    """Mistakes of round trip ``round_trip_id`` (any when None) recorded within
    ``date_from``..``date_to`` (market-zone dates, inclusive)."""

    round_trip_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    page: int = 1


@dataclass(frozen=True)
class MistakePage:
    rows: list[MistakeRow]
    total: int
    page: int
    pages: int


@dataclass(frozen=True)
class BankPage:
    """One page of statement lines (of ``batch`` when given) and every import batch."""

    batches: list[dict[str, Any]]
    rows: list[dict[str, Any]]
    batch: str | None
    total: int
    page: int
    pages: int


class Desk:
    """``page_size``, when given, overrides the ``web.page_size`` preference."""

    def __init__(self, parts: DeskParts, *, page_size: int | None = None) -> None:
        self._parts = parts
        self._fixed_page_size = page_size
        self._lock = threading.Lock()

    @property
    def zone(self) -> ZoneInfo:
        return self._parts.zone

    # -- today ------------------------------------------------------------------------------

    def today(self) -> dict[str, Any]:
        """The status report, with ``via`` "daemon" or "database"."""
        try:
            report = dict(self._parts.control.call("status"))
            report["via"] = "daemon"
            return report
        except DaemonUnavailableError:
            pass
        with self._lock:
            report = self._parts.status()
        report["via"] = "database"
        return report

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts stored last (preference ``web.recent_alerts`` of them), newest first
        (read from the database)."""
        with self._lock:
            return self._parts.recent_alerts(self._parts.preference(WEB_RECENT_ALERTS))

    def alerts_after(self, after: int | None) -> tuple[list[dict[str, Any]], int]:
        """The alerts stored after outbox id ``after`` (None: after the newest stored now,
        so none), oldest first, and the id to ask after next time."""
        with self._lock:
            if after is None:
                newest = self._parts.recent_alerts(1)
                return [], int(newest[0]["id"]) if newest else 0
            found = self._parts.alerts_after(after)
        return found, int(found[-1]["id"]) if found else after

    def candidate_chart(self, ticker: str) -> bytes | None:
        """The opening-range chart of today's candidate ``ticker`` from the running
        daemon's price tape; None when no daemon answers, ``ticker`` is not a candidate
        today, or the tape holds fewer than two of its prices."""
        draw = self._parts.range_chart
        if draw is None:
            return None
        symbol = ticker.strip().upper()
        try:
            report = self._parts.control.call("status")
            candidate = next(
                (c for c in report.get("candidates", []) if c.get("ticker") == symbol), None
            )
            if candidate is None:
                return None
            tape = self._parts.control.call("tape", {"ticker": symbol})
        except (DaemonUnavailableError, DaemonReplyError):
            return None
        path = [PricePoint(at=datetime.fromisoformat(at), price=Decimal(price))
                for at, price in tape.get("path", [])]
        if len(path) < 2:
            return None
        volumes = [VolumePoint(at=datetime.fromisoformat(at), volume=int(n))
                   for at, n in tape.get("volumes", [])]
        return draw(symbol, path, volumes, prev_close=_decimal(candidate.get("prev_close")),
                    orh=_decimal(candidate.get("orh")), orl=_decimal(candidate.get("orl")))

    def act(self, action: str, ticker: str | None, reason: str | None) -> list[str]:
        """Carry out one desk action; the lines to show the trader."""
        if action not in ACTIONS:
            raise InvalidInputError(f"unknown action {action!r}")
        reason_text = _reason(reason)
        if action in ("pause", "resume") and not ticker:
            raise InvalidInputError(f"{action} needs a ticker")
        if action == "lock":
            return self._guard("guard.lock", {"reason": reason_text})
        if action == "unlock":
            return self._guard("guard.unlock", {})
        params: dict[str, Any]
        if action == "flatten":
            params = {"tickers": [ticker] if ticker else None, "reason": reason_text}
        elif action == "pause":
            params = {"ticker": ticker, "reason": reason_text}
        else:
            params = {"ticker": ticker}
        result = self._parts.control.call(action, params)
        lines = result.get("lines", []) if isinstance(result, dict) else []
        return [str(line) for line in lines] or [f"{action}: done"]

    def _guard(self, cmd: str, params: dict[str, Any]) -> list[str]:
        try:
            result = self._parts.control.call(cmd, params)
            locked, via = bool(result["locked"]), "the daemon"
        except DaemonUnavailableError:
            with self._lock:
                switch = self._parts.kill_switch()
                if cmd == "guard.lock":
                    state, _ = switch.lock(params["reason"], by="skimd web")
                else:
                    state, _ = switch.unlock()
            locked, via = state.locked, "the database (no daemon answers)"
        return [f"kill switch {'LOCKED' if locked else 'unlocked'} by {via}"]

    # -- journal ----------------------------------------------------------------------------

    def trips(self, wanted: TripFilter) -> TripPage:
        """One page of the round trips matching ``wanted``, the latest opened first."""
        if wanted.date_from and wanted.date_to and wanted.date_from > wanted.date_to:
            raise InvalidInputError(f"from {wanted.date_from} is after to {wanted.date_to}")
        if wanted.page < 1:
            raise InvalidInputError("page numbers start at 1")
        start = None if wanted.date_from is None else self._local_start(wanted.date_from)
        end = (
            None
            if wanted.date_to is None
            else self._local_start(wanted.date_to + timedelta(days=1))
        )
        ticker = wanted.ticker.strip().upper() if wanted.ticker else None
        with self._lock:
            size = self._page_size()
            offset = (wanted.page - 1) * size
            rows, total = self._parts.trips().find(start, end, ticker, size, offset)
        pages = max(1, -(-total // size))
        return TripPage([self._local(r) for r in rows], total, wanted.page, pages)

    def trip(self, trip_id: int) -> tuple[dict[str, Any], list[StoredChart]] | None:
        """One round trip and the charts of its report (none before its report is
        written); None when there is no such round trip."""
        with self._lock:
            row = self._parts.trips().get(trip_id)
            if row is None:
                return None
            charts: list[StoredChart] = []
            if row["closed_at"]:
                day = self._day(row["closed_at"])
                with self._parts.reports().read() as tx:
                    for report in tx.reports_on(day):
                        if report.round_trip_id == trip_id:
                            charts.extend(report.charts)
        return self._local(row), charts

    def review_of(self, trip_id: int) -> Review:
        """The review stored for round trip ``trip_id`` (``Review()`` when none is)."""
        with self._lock:
            return self._parts.reviews().get(trip_id).review

    def review(self, trip_id: int, review: Review) -> TripReview:
        """Store ``review`` over the stored one (one write transaction); raises
        :class:`~skimd.errors.InvalidInputError` (no such round trip, nothing given)."""
        with self._lock:
            return self._parts.reviews().review(trip_id, review)

    def default_grouping(self) -> GroupBy | None:
        """The Stats page's grouping when the address names none (``stats.group_by``)."""
        with self._lock:
            name = self._parts.preference(STATS_GROUP_BY)
        return None if name == "none" else GroupBy(name)

    def stats(
        self, date_from: date | None, date_to: date | None, by: GroupBy | None = None
    ) -> StatsReport:
        with self._lock:
            return self._parts.stats().report(date_from, date_to, by)

    def equity_png(self, date_from: date | None, date_to: date | None) -> bytes | None:
        with self._lock:
            stats = self._parts.stats()
            return stats.chart(stats.report(date_from, date_to))

    # -- the trader's records ---------------------------------------------------------------

    def plans(self) -> list[dict[str, Any]]:
        """Every trade plan, newest first, with ``created_local``."""
        with self._lock:
            found = self._parts.records().plans()
        return [
            {**{k: getattr(p, k) for k in p.__slots__}, "created_local": self.local(p.created_at)}
            for p in found
        ]

    def plan(self, plan_id: int) -> tuple[PlanDetail, list[StoredImage]]:
        """One plan and its screenshots; raises
        :class:`~skimd.services.journal.records.UnknownPlanError`."""
        with self._lock:
            return self._parts.records().plan(plan_id)

    def plan_image(self, plan_id: int, image_id: int) -> tuple[StoredImage, bytes] | None:
        with self._lock:
            return self._parts.records().plan_image(plan_id, image_id)

    def mistakes(self, wanted: MistakeFilter) -> MistakePage:
        """One page of the mistakes matching ``wanted``, the latest recorded first."""
        if wanted.page < 1:
            raise InvalidInputError("page numbers start at 1")
        with self._lock:
            size = self._page_size()
            rows, total = self._parts.records().mistakes(
                wanted.round_trip_id, wanted.date_from, wanted.date_to, size,
                (wanted.page - 1) * size,
            )
        return MistakePage(rows, total, wanted.page, max(1, -(-total // size)))

    def bank(self, batch: str | None, page: int = 1) -> BankPage:
        """One page of the bank lines (of import ``batch``, or all), the latest dated
        first, and every import batch."""
        if page < 1:
            raise InvalidInputError("page numbers start at 1")
        with self._lock:
            size = self._page_size()
            reads = self._parts.bank()
            batches = reads.batches()
            rows, total = reads.lines(batch, size, (page - 1) * size)
        for b in batches:
            b["imported_local"] = self.local(datetime.fromisoformat(b["imported_at"]))
        return BankPage(batches, rows, batch, total, page, max(1, -(-total // size)))

    def local(self, at: datetime) -> str:
        """``at`` in the market's zone, to the second, for reading."""
        return f"{at.astimezone(self._parts.zone):%Y-%m-%d %H:%M:%S}"

    # -- helpers ----------------------------------------------------------------------------

    def _page_size(self) -> int:
        """Rows a page (called holding the lock: the preference is read from the
        database)."""
        if self._fixed_page_size is not None:
            return self._fixed_page_size
        return self._parts.preference(WEB_PAGE_SIZE)

    def _day(self, iso: str) -> date:
        return datetime.fromisoformat(iso).astimezone(self._parts.zone).date()

    def _local_start(self, day: date) -> datetime:
        return datetime.combine(day, time(0), self._parts.zone)

    def _local(self, row: dict[str, Any]) -> dict[str, Any]:
        """The row with its times in the market's zone, to the second, for reading."""
        out = dict(row)
        for key in ("opened_at", "closed_at"):
            if out.get(key):
                local = datetime.fromisoformat(out[key]).astimezone(self._parts.zone)
                out[f"{key}_local"] = f"{local:%Y-%m-%d %H:%M:%S}"
        return out


def _reason(text: str | None) -> str:
    reason = " ".join((text or "").split())
    if len(reason) > MAX_REASON_CHARS:
        raise InvalidInputError(f"the reason is longer than {MAX_REASON_CHARS} characters")
    return reason or WEB_REASON


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)
