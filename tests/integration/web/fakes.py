"""The desk's parts as fakes implementing the same protocols: a control channel that
records what it is asked (or has no daemon), a kill switch over the fake trading store,
round-trip rows, a report store with one chart, statistics over fixed trips, a review
store over the same rows."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from skimd.clock import SimulatedClock
from skimd.domain.preferences import Preference, T
from skimd.domain.reviews import Review
from skimd.domain.stats import ClosedTrip
from skimd.errors import DaemonUnavailableError
from skimd.services.guard import KillSwitch
from skimd.services.journal.records import JournalRecords
from skimd.services.journal.reviews import JournalReviews
from skimd.services.journal.stats import JournalStats
from skimd.services.ports.reports import StoredChart, StoredReport
from skimd.services.ports.reviews import ReviewTarget
from skimd.services.ports.stats import EquityCurve
from skimd.web.app import WebOptions, create_app
from skimd.web.desk import BankReads, Desk, DeskParts
from tests.fakes.trading_store import FakeTradingStore

ZONE = ZoneInfo("Australia/Sydney")
PASSWORD = "correct horse battery"
SESSION_SECRET = "s3ssion-secret-value-never-shown"
CHART = b"\x89PNG\r\n\x1a\nchart-of-trip-1"
EQUITY = b"\x89PNG\r\n\x1a\nequity"
START = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
ALERTS = [{"id": 7, "kind": "alert", "alert": "order_filled", "at": "2026-11-24T10:17:40+11:00",
           "severity": "info", "text": "BUY 5555 VPL filled @ 2.85 <b>"}]


RANGE_PNG = b"\x89PNG\r\n\x1a\nopening-range"
TAPE = {"VPL": [["2026-11-23T23:20:00+00:00", "1.15"], ["2026-11-23T23:21:00+00:00", "1.21"]],
        "ONE": [["2026-11-23T23:20:00+00:00", "3.00"]]}  # one point: nothing to draw


@dataclass
class FakeRangeChart:
    """:class:`~skimd.web.desk.RangeChart` recording what it was asked to draw."""

    drawn: list[tuple[str, int, int, Any, Any, Any]] = field(default_factory=list)

    def __call__(self, symbol: str, path: Any, volumes: Any, *, prev_close: Any, orh: Any,
                 orl: Any) -> bytes:
        self.drawn.append((symbol, len(path), len(volumes), prev_close, orh, orl))
        return RANGE_PNG


def status_report(via_locked: bool = False) -> dict[str, Any]:
    return {
        "daemon": "running (pid 4242)",
        "market": "open",
        "broker": {"kind": "demo", "session": "authenticated"},
        "guard": {"locked": via_locked, "reason": None, "changed_at": None},
        "paused_tickers": [],
        "candidates": [{"ticker": "VPL", "gap_pct": "7.1", "price_sensitive": True,
                        "news_headline": "Quarterly report", "orh": "1.20", "orl": "1.10",
                        "prev_close": "1.05", "state": "watching"},
                       {"ticker": "ONE", "gap_pct": "5.0", "price_sensitive": False,
                        "news_headline": None, "orh": "3.10", "orl": "2.90",
                        "prev_close": None, "state": "watching"}],
        "positions": [{"ticker": "QMT", "qty": 100, "avg_price": "2.84", "stop": "2.77",
                       "last_price": "2.88", "unrealised_pnl": "4.00", "paused": False,
                       "protection": {"protected": True, "why": "resting stop"}}],
        "orders": [],
        "jobs": [],
    }


@dataclass
class FakeControl:
    """The daemon's control channel: answers and records each call; ``running=False`` is
    a socket nobody listens on."""

    running: bool = True
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    locked: bool = False

    def call(
        self, cmd: str, args: dict[str, Any] | None = None, *, timeout_s: float | None = None
    ) -> Any:
        if not self.running:
            raise DaemonUnavailableError("no skimd daemon answers on /run/skim/skimd.sock")
        self.calls.append((cmd, dict(args or {})))
        if cmd == "status":
            return status_report(self.locked)
        if cmd in ("guard.lock", "guard.unlock"):
            self.locked = cmd == "guard.lock"
            return {"locked": self.locked, "reason": (args or {}).get("reason"),
                    "changed_at": None, "changed": True}
        if cmd == "tape":
            ticker = (args or {})["ticker"]
            return {"ticker": ticker, "path": TAPE.get(ticker, []),
                    "volumes": [["2026-11-23T23:21:00+00:00", 600]] if ticker in TAPE else []}
        return {"lines": [f"{cmd} {args}"]}


def trip_row(trip_id: int, ticker: str, opened: str, closed: str | None) -> dict[str, Any]:
    return {"id": trip_id, "account": "DU1", "ticker": ticker, "conid": None,
            "status": "closed" if closed else "open", "qty": "100", "entry_avg": "1.00",
            "exit_avg": "1.10" if closed else None, "gross_pnl": "10", "fees": "12",
            "net_pnl": "-2", "opened_at": opened, "closed_at": closed,
            "holding_seconds": None, "trades": 2}


ROWS = [
    trip_row(1, "VPL", "2026-11-23T23:20:00+00:00", "2026-11-24T04:00:00+00:00"),
    trip_row(2, "QMT", "2026-11-30T23:20:00+00:00", None),
]


class FakeTripReads:
    """:class:`~skimd.web.desk.TripReads` over :data:`ROWS`, as SqlTripReads filters."""

    def find(
        self, start: datetime | None, end: datetime | None, ticker: str | None,
        limit: int, offset: int = 0,
    ) -> tuple[list[dict[str, Any]], int]:
        def within(iso: str | None) -> bool:
            if iso is None:
                return False
            at = datetime.fromisoformat(iso)
            return (start is None or at >= start) and (end is None or at < end)

        found = [
            dict(r) for r in reversed(ROWS)
            if (ticker is None or r["ticker"] == ticker)
            and ((start is None and end is None) or within(r["opened_at"])
                 or within(r["closed_at"]))
        ]
        return found[offset:offset + limit], len(found)

    def get(self, trip_id: int) -> dict[str, Any] | None:
        return next((dict(r) for r in ROWS if r["id"] == trip_id), None)


@dataclass
class FakeReviewStore:
    """:class:`~skimd.services.ports.reviews.ReviewStore` over :data:`ROWS`: the reviews
    stored, and how many write transactions were opened."""

    reviews: dict[int, Review] = field(default_factory=dict)
    writes: int = 0

    @contextmanager
    def transaction(self) -> Iterator[FakeReviewStore]:
        self.writes += 1
        yield self

    @contextmanager
    def read(self) -> Iterator[FakeReviewStore]:
        yield self

    def review_target(self, round_trip_id: int) -> ReviewTarget | None:
        row = next((r for r in ROWS if r["id"] == round_trip_id), None)
        if row is None:
            return None
        closed = row["closed_at"]
        return ReviewTarget(
            round_trip_id, row["ticker"], row["status"],
            datetime.fromisoformat(row["opened_at"]),
            None if closed is None else datetime.fromisoformat(closed),
            self.reviews.get(round_trip_id, Review()),
        )

    def save_review(self, round_trip_id: int, review: Review, *, report_date: date,
                    title: str, at: datetime) -> None:
        self.reviews[round_trip_id] = review


class FakeReports:
    @contextmanager
    def read(self) -> Iterator[FakeReports]:
        yield self

    def reports_on(self, day: date) -> list[StoredReport]:
        if day != date(2026, 11, 24):
            return []
        return [StoredReport(7, 1, "VPL", day, "VPL", "body",
                             (StoredChart(3, "image/png", CHART),))]


class FakeTrips:
    def closed_trips(self, start: datetime | None, end: datetime | None) -> list[ClosedTrip]:
        trip = ClosedTrip(1, "VPL", datetime(2026, 11, 23, 23, 20, tzinfo=UTC),
                          datetime(2026, 11, 24, 4, tzinfo=UTC), Decimal(100), Decimal(1),
                          Decimal(10), Decimal(12), Decimal(-2))
        return [t for t in [trip] if (start is None or t.closed_at >= start)
                and (end is None or t.closed_at < end)]


def render_equity(curve: EquityCurve) -> bytes:
    return EQUITY


@dataclass
class FakeOutbox:
    """The alert outbox as the web reads it: newest-first and after-an-id reads over
    :attr:`alerts`; ``on_read`` runs before each after-an-id read (a daemon storing an
    alert between two polls, a session expiring)."""

    alerts: list[dict[str, Any]] = field(default_factory=lambda: [dict(a) for a in ALERTS])
    on_read: list[Callable[[], None]] = field(default_factory=list)
    reads: int = 0

    def recent(self, limit: int) -> list[dict[str, Any]]:
        return sorted(self.alerts, key=lambda a: -a["id"])[:limit]

    def after(self, after: int) -> list[dict[str, Any]]:
        self.reads += 1
        if self.on_read:
            self.on_read.pop(0)()
        return sorted((a for a in self.alerts if a["id"] > after), key=lambda a: a["id"])


@dataclass
class WebRig:
    control: FakeControl
    store: FakeTradingStore
    clock: SimulatedClock
    app: Any
    reviews: FakeReviewStore
    charts: FakeRangeChart
    outbox: FakeOutbox


class NoBank:
    """:class:`~skimd.web.desk.BankReads` of a journal without a statement imported."""

    def batches(self) -> list[dict[str, Any]]:
        return []

    def lines(
        self, batch: str | None, limit: int, offset: int = 0
    ) -> tuple[list[dict[str, Any]], int]:
        return [], 0


def make_rig(
    *, read_only: bool = False, secure: bool = False, running: bool = True,
    page_size: int | None = None, preferences: dict[str, Any] | None = None,
    records: JournalRecords | None = None, bank: BankReads | None = None,
    stream_polls: int = 3,
) -> WebRig:
    """``preferences``: the trader's settings by key (as the settings table holds them);
    ``records`` and ``bank`` (the plans, mistakes and bank pages' reads): none by default,
    the record-page tests pass ones over a real database."""
    chosen = dict(preferences or {})

    def preference(wanted: Preference[T]) -> T:
        return wanted.pick(chosen.get(wanted.key))

    clock = SimulatedClock(START)
    control = FakeControl(running=running)
    store = FakeTradingStore()
    switch = KillSwitch(store, clock)
    reviews = FakeReviewStore()
    charts = FakeRangeChart()
    outbox = FakeOutbox()
    journal_reviews = JournalReviews(reviews, clock, ZONE)
    parts = DeskParts(
        control=control,
        status=lambda: status_report(switch.state().locked),
        kill_switch=lambda: switch,
        trips=lambda: FakeTripReads(),
        reports=lambda: FakeReports(),  # type: ignore[arg-type,return-value]
        stats=lambda: JournalStats(FakeTrips(), ZONE, render_equity),
        reviews=lambda: journal_reviews,
        records=lambda: _required(records),
        bank=lambda: bank or NoBank(),
        zone=ZONE,
        recent_alerts=outbox.recent,
        alerts_after=outbox.after,
        preference=preference,
        range_chart=charts,
    )
    # the alert stream reads the outbox without waiting between reads, and ends after
    # ``stream_polls`` of them: a finite response the test client can read whole
    options = WebOptions(session_secret=SESSION_SECRET, read_only=read_only,
                         secure_cookie=secure, alert_poll=timedelta(0),
                         alert_polls=stream_polls)
    app = create_app(Desk(parts, page_size=page_size), lambda p: p == PASSWORD, options, clock)
    return WebRig(control, store, clock, app, reviews, charts, outbox)


def _required(records: JournalRecords | None) -> JournalRecords:
    if records is None:
        raise AssertionError("this rig was made without records (make_rig(records=...))")
    return records


class Browser:
    """A blocking httpx client of the ASGI app (httpx.ASGITransport), keeping cookies
    like a browser; redirects are not followed, so tests see them."""

    def __init__(
        self, app: Any, base_url: str = "http://testserver", cookies: Any = None
    ) -> None:
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=base_url, cookies=cookies
        )

    @property
    def cookies(self) -> httpx.Cookies:
        return self._client.cookies

    def get(self, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return asyncio.run(self._client.get(path, headers=headers))

    def post(self, path: str, data: dict[str, str]) -> httpx.Response:
        return asyncio.run(self._client.post(path, data=data))
