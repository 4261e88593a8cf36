"""What the trading services need from storage, as a protocol the database implements.

One :meth:`TradingStore.transaction` is one unit of work: everything written inside it
(candidates, intents, positions, alerts) commits together or not at all, and the alert
outbox is woken only after the commit. Records are the domain's dataclasses, never rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from skimd.domain.alerts import Alert
from skimd.domain.broker_session import SessionRecord
from skimd.domain.control import ControlRecord, FlattenRequest, TickerPause
from skimd.domain.market import Announcement, Bar, Quote
from skimd.domain.trading import (
    CandidateRecord,
    CandidateState,
    GuardState,
    IntentRecord,
    PlanRecord,
    PositionRecord,
)


class TradingTx(Protocol):
    """The repositories of one transaction, in domain terms."""

    # candidates ---------------------------------------------------------------------------
    def candidate(self, day: date, ticker: str) -> CandidateRecord | None: ...

    def candidate_by_id(self, candidate_id: int) -> CandidateRecord | None: ...

    def candidates(
        self, day: date, states: Iterable[CandidateState] | None = None
    ) -> list[CandidateRecord]:
        """``day``'s candidates in the order they were first found."""
        ...

    def save_candidate(self, candidate: CandidateRecord, now: datetime) -> CandidateRecord:
        """Insert, or update the one with the same (scan_date, ticker); returns it with id."""
        ...

    def expire_candidates(self, before: date, now: datetime) -> int:
        """Candidates of earlier days still ranging/tradeable become ``expired``."""
        ...

    def purge_candidates(self, today: date, max_age_days: int) -> int:
        """Delete old candidates, keeping any tied to an open position or a live plan."""
        ...

    # positions ----------------------------------------------------------------------------
    def open_positions(self) -> list[PositionRecord]: ...

    def position(self, position_id: int) -> PositionRecord | None: ...

    def open_position_for(self, ticker: str) -> PositionRecord | None: ...

    def save_position(self, position: PositionRecord) -> PositionRecord:
        """Insert (no id) or update (id) a position; returns it with its id."""
        ...

    # order intents ------------------------------------------------------------------------
    def intent(self, client_order_id: str) -> IntentRecord | None: ...

    def add_intent(self, intent: IntentRecord) -> IntentRecord:
        """Insert a new intent; an existing client order id raises IntegrityError."""
        ...

    def save_intent(self, intent: IntentRecord, now: datetime) -> IntentRecord:
        """Update an existing intent's status, broker id, fills and reason."""
        ...

    def open_intents(self) -> list[IntentRecord]:
        """Intents the broker may still act on, oldest first."""
        ...

    def intents_between(self, start: datetime, end: datetime) -> list[IntentRecord]:
        """Intents created in ``[start, end)``, oldest first."""
        ...

    def intents_updated_between(self, start: datetime, end: datetime) -> list[IntentRecord]:
        """Intents last changed in ``[start, end)`` (a fill changes its intent)."""
        ...

    def intents_for_position(self, position_id: int) -> list[IntentRecord]: ...

    def intents_for_candidate(self, candidate_id: int) -> list[IntentRecord]: ...

    # plans -----------------------------------------------------------------------------
    def save_plan(self, plan: PlanRecord, at: datetime) -> None:
        """Insert or update the trade plan of ``plan.candidate_id``."""
        ...

    # guard --------------------------------------------------------------------------------
    def guard(self) -> GuardState: ...

    def lock_guard(self, reason: str, now: datetime) -> GuardState: ...

    def unlock_guard(self, now: datetime) -> GuardState: ...

    # broker session -----------------------------------------------------------------------
    def record_session(self, record: SessionRecord) -> None:
        """Remember the broker session's last known state, replacing the one before
        (``skimd status`` shows it)."""
        ...

    def last_session(self) -> SessionRecord | None: ...

    # operator control ---------------------------------------------------------------------
    def record_control(self, record: ControlRecord) -> ControlRecord:
        """Journal one control action; returns it with its id."""
        ...

    def control_actions(self, limit: int = 100) -> list[ControlRecord]:
        """The last ``limit`` control actions, oldest first."""
        ...

    def paused_tickers(self) -> list[TickerPause]:
        """Tickers an operator paused, by ticker."""
        ...

    def pause_ticker(self, pause: TickerPause) -> TickerPause:
        """Pause ``pause.ticker``; a ticker paused already keeps its pause (returned)."""
        ...

    def resume_ticker(self, ticker: str) -> TickerPause | None:
        """Lift the pause of ``ticker``; the pause lifted, or None when it was not paused."""
        ...

    def flatten_requests(self) -> list[FlattenRequest]:
        """Positions an operator asked to flatten (closed ones included), by position id."""
        ...

    def request_flatten(self, request: FlattenRequest) -> FlattenRequest:
        """Ask for ``request.position_id`` to be flattened; a position asked for already
        keeps its first request (returned)."""
        ...

    # alerts and prices --------------------------------------------------------------------
    def alert(self, alert: Alert, dedup_key: str | None = None) -> bool:
        """Queue ``alert`` in this transaction; False when ``dedup_key`` was queued before."""
        ...

    def closes(self, ticker: str, start: date, end: date) -> list[tuple[date, Decimal]]:
        """Stored daily closes in ``[start, end]``, oldest first."""
        ...

    def daily_bars(self, ticker: str, start: date, end: date) -> list[Bar]:
        """Stored daily bars in ``[start, end]``, oldest first."""
        ...

    def save_bars(self, bars: Sequence[Bar]) -> int: ...

    # what the daemon saw, kept to replay the day (skimd.infrastructure.brokers.demo.recorded)
    def record_quotes(self, day: date, quotes: Sequence[Quote], kind: str = "poll") -> int:
        """Keep ``quotes`` of trading day ``day`` in the tape (``kind`` "poll": a watch
        pass's snapshots; "scan": the gaps a scan reported); a quote kept before is kept
        once. Returns how many were given."""
        ...

    def record_bars(self, bars: Sequence[Bar], conid: int | None, source: str = "daemon") -> int:
        """Keep intraday ``bars`` (each with its ``at``); a bar kept before is kept once."""
        ...

    def record_announcements(self, day: date, items: Sequence[Announcement]) -> int:
        """Keep the announcements the news scan fetched on ``day``; each kept once."""
        ...


class TradingStore(Protocol):
    @property
    def generation(self) -> int:
        """Changes whenever this process commits a write: readers may reuse what they read
        while it is unchanged (another process's writes are not counted; nothing may rely
        on this for a safety check)."""
        ...

    def transaction(self) -> AbstractContextManager[TradingTx]:
        """A write unit of work: commits on success, rolls back on any exception."""
        ...

    def read(self) -> AbstractContextManager[TradingTx]:
        """A read-only view (never takes the write lock, never commits)."""
        ...
