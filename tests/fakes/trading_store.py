"""An in-memory trading store: :class:`~skimd.services.ports.trading.TradingStore` and its
``TradingTx`` without a database, for unit tests of the trading services.

Units of work are real: a transaction works on a copy of the committed state, which
replaces the committed state only when the block exits cleanly; an exception discards every
write made inside it (alerts included) and propagates. :meth:`FakeTradingStore.read` works
on a copy that is always discarded. The records are frozen dataclasses, so copying the
containers is enough.

``tests/contract/test_trading_store_contract.py`` runs the same tests against this fake and
the real ``SqlTradingStore``, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal

from skimd.domain.alerts import Alert
from skimd.domain.broker_session import SessionRecord
from skimd.domain.control import ControlRecord, FlattenRequest, TickerPause
from skimd.domain.market import Announcement, Bar, Quote
from skimd.domain.trading import (
    CandidateMove,
    CandidateRecord,
    CandidateState,
    GuardState,
    IntentRecord,
    IntentStatus,
    PlanRecord,
    PositionRecord,
)
from skimd.errors import IntegrityError

_FINAL_INTENT = frozenset({IntentStatus.FILLED, IntentStatus.CANCELLED, IntentStatus.REJECTED})
_LIVE_PLAN = frozenset({"draft", "active"})


@dataclass
class _State:
    """Everything the store holds; ``next_id`` numbers rows like SQLite rowids do."""

    candidates: dict[int, CandidateRecord] = field(default_factory=dict)
    positions: dict[int, PositionRecord] = field(default_factory=dict)
    intents: dict[str, tuple[int, IntentRecord]] = field(default_factory=dict)  # coid -> row
    plans: dict[int, PlanRecord] = field(default_factory=dict)
    guard: GuardState = field(default_factory=lambda: GuardState(locked=False))
    session: SessionRecord | None = None
    alerts: list[tuple[Alert, str | None]] = field(default_factory=list)
    bars: dict[tuple[str, date], Bar] = field(default_factory=dict)
    tape: dict[tuple[str, datetime, str], Quote] = field(default_factory=dict)
    recorded_bars: dict[tuple[str, datetime | None], Bar] = field(default_factory=dict)
    announcements: list[Announcement] = field(default_factory=list)
    next_id: dict[str, int] = field(default_factory=dict)
    controls: list[ControlRecord] = field(default_factory=list)
    pauses: dict[str, TickerPause] = field(default_factory=dict)
    flattens: dict[int, FlattenRequest] = field(default_factory=dict)

    def copy(self) -> _State:
        return _State(
            candidates=dict(self.candidates),
            positions=dict(self.positions),
            intents=dict(self.intents),
            plans=dict(self.plans),
            guard=self.guard,
            session=self.session,
            alerts=list(self.alerts),
            bars=dict(self.bars),
            tape=dict(self.tape),
            recorded_bars=dict(self.recorded_bars),
            announcements=list(self.announcements),
            next_id=dict(self.next_id),
            controls=list(self.controls),
            pauses=dict(self.pauses),
            flattens=dict(self.flattens),
        )

    def new_id(self, table: str) -> int:
        self.next_id[table] = self.next_id.get(table, 0) + 1
        return self.next_id[table]


class FakeTradingStore:
    """The store; ``after_commit`` runs after each committed transaction (the outbox wake)."""

    def __init__(self, after_commit: Callable[[], None] | None = None) -> None:
        self._state = _State()
        self._after_commit = after_commit
        self._generation = 0

    @property
    def generation(self) -> int:
        return self._generation

    @contextmanager
    def transaction(self) -> Iterator[FakeTradingTx]:
        work = self._state.copy()
        yield FakeTradingTx(work)
        self._state = work  # reached only when the block did not raise
        self._generation += 1
        if self._after_commit is not None:
            self._after_commit()

    @contextmanager
    def read(self) -> Iterator[FakeTradingTx]:
        yield FakeTradingTx(self._state.copy())

    # -- for assertions --------------------------------------------------------------------

    @property
    def alerts(self) -> list[Alert]:
        """Committed alerts, in the order they were queued."""
        return [a for a, _ in self._state.alerts]

    def alert_kinds(self) -> list[str]:
        return [a.kind for a in self.alerts]

    @property
    def plans(self) -> list[PlanRecord]:
        """Committed trade plans, in the order they were first saved."""
        return [self._state.plans[k] for k in sorted(self._state.plans)]


class FakeTradingTx:
    def __init__(self, state: _State) -> None:
        self._s = state

    # -- candidates ------------------------------------------------------------------------

    def candidate(self, day: date, ticker: str) -> CandidateRecord | None:
        for c in self._s.candidates.values():
            if c.scan_date == day and c.ticker == ticker:
                return c
        return None

    def candidate_by_id(self, candidate_id: int) -> CandidateRecord | None:
        return self._s.candidates.get(candidate_id)

    def candidates(
        self, day: date, states: Iterable[CandidateState] | None = None
    ) -> list[CandidateRecord]:
        wanted = None if states is None else set(states)
        return [
            self._s.candidates[i]
            for i in sorted(self._s.candidates)
            if self._s.candidates[i].scan_date == day
            and (wanted is None or self._s.candidates[i].status in wanted)
        ]

    def save_candidate(self, candidate: CandidateRecord, now: datetime) -> CandidateRecord:
        existing = self.candidate(candidate.scan_date, candidate.ticker)
        cid = self._s.new_id("candidates") if existing is None else existing.id
        assert cid is not None
        saved = replace(candidate, id=cid)
        self._s.candidates[cid] = saved
        return saved

    def expire_candidates(self, before: date, now: datetime) -> int:
        expiring = [
            c
            for c in self._s.candidates.values()
            if c.scan_date < before and c.can(CandidateMove.DAY_ENDED)
        ]
        for c in expiring:
            assert c.id is not None
            self._s.candidates[c.id] = c.expired()
        return len(expiring)

    def purge_candidates(self, today: date, max_age_days: int) -> int:
        cutoff = today - timedelta(days=max_age_days)
        kept = {p.candidate_id for p in self._s.positions.values() if p.is_open}
        kept |= {p.candidate_id for p in self._s.plans.values() if p.status in _LIVE_PLAN}
        gone = {
            cid for cid, c in self._s.candidates.items() if c.scan_date < cutoff and cid not in kept
        }
        for cid in gone:  # the foreign keys say ON DELETE SET NULL
            del self._s.candidates[cid]
        for pid, p in self._s.positions.items():
            if p.candidate_id in gone:
                self._s.positions[pid] = replace(p, candidate_id=None)
        for coid, (row, i) in self._s.intents.items():
            if i.candidate_id in gone:
                self._s.intents[coid] = (row, replace(i, candidate_id=None))
        for key, plan in self._s.plans.items():
            if plan.candidate_id in gone:
                self._s.plans[key] = replace(plan, candidate_id=None)
        return len(gone)

    # -- positions -------------------------------------------------------------------------

    def open_positions(self) -> list[PositionRecord]:
        return [
            self._s.positions[i] for i in sorted(self._s.positions) if self._s.positions[i].is_open
        ]

    def position(self, position_id: int) -> PositionRecord | None:
        return self._s.positions.get(position_id)

    def open_position_for(self, ticker: str) -> PositionRecord | None:
        return next((p for p in self.open_positions() if p.ticker == ticker), None)

    def save_position(self, position: PositionRecord) -> PositionRecord:
        if position.id is None:
            saved = replace(position, id=self._s.new_id("positions"))
        elif position.id in self._s.positions:
            saved = position
        else:
            raise IntegrityError(f"position {position.id} does not exist")
        assert saved.id is not None
        self._s.positions[saved.id] = saved
        return saved

    # -- intents ---------------------------------------------------------------------------

    def intent(self, client_order_id: str) -> IntentRecord | None:
        found = self._s.intents.get(client_order_id)
        return None if found is None else found[1]

    def add_intent(self, intent: IntentRecord) -> IntentRecord:
        if intent.client_order_id in self._s.intents:
            raise IntegrityError(f"order intent {intent.client_order_id} already exists")
        saved = replace(intent, updated_at=intent.created_at)
        self._s.intents[intent.client_order_id] = (self._s.new_id("intents"), saved)
        return saved

    def save_intent(self, intent: IntentRecord, now: datetime) -> IntentRecord:
        """Like the table's ``update_status``: status, fills, broker id, reason and position
        change; a final status (filled, cancelled, rejected) never changes again."""
        found = self._s.intents.get(intent.client_order_id)
        if found is None:
            raise IntegrityError(f"order intent {intent.client_order_id} does not exist")
        row, stored = found
        if stored.status in _FINAL_INTENT and intent.status is not stored.status:
            raise IntegrityError(
                f"order intent {intent.client_order_id} is {stored.status}; "
                f"cannot become {intent.status}"
            )
        saved = replace(
            stored,
            status=intent.status,
            updated_at=now,
            broker_order_id=(
                intent.broker_order_id
                if intent.broker_order_id is not None
                else stored.broker_order_id
            ),
            reason=intent.reason if intent.reason is not None else stored.reason,
            filled_qty=intent.filled_qty,
            avg_fill_price=(
                intent.avg_fill_price
                if intent.avg_fill_price is not None
                else stored.avg_fill_price
            ),
            position_id=intent.position_id,
        )
        self._s.intents[intent.client_order_id] = (row, saved)
        return saved

    def _intents(
        self, keep: Callable[[IntentRecord], bool], *, by_update: bool = False
    ) -> list[IntentRecord]:
        rows = [(row, i) for row, i in self._s.intents.values() if keep(i)]

        def order(item: tuple[int, IntentRecord]) -> tuple[datetime, int]:
            row, i = item
            at = i.updated_at if by_update and i.updated_at is not None else i.created_at
            return at, row

        return [i for _, i in sorted(rows, key=order)]

    def open_intents(self) -> list[IntentRecord]:
        return self._intents(lambda i: i.status.is_open)

    def intents_between(self, start: datetime, end: datetime) -> list[IntentRecord]:
        return self._intents(lambda i: start <= i.created_at < end)

    def intents_updated_between(self, start: datetime, end: datetime) -> list[IntentRecord]:
        return self._intents(
            lambda i: i.updated_at is not None and start <= i.updated_at < end, by_update=True
        )

    def intents_for_position(self, position_id: int) -> list[IntentRecord]:
        return self._intents(lambda i: i.position_id == position_id)

    def intents_for_candidate(self, candidate_id: int) -> list[IntentRecord]:
        return self._intents(lambda i: i.candidate_id == candidate_id)

    # -- plans -----------------------------------------------------------------------------

    def save_plan(self, plan: PlanRecord, at: datetime) -> None:
        key = next(
            (
                k
                for k in sorted(self._s.plans)
                if plan.candidate_id is not None
                and self._s.plans[k].candidate_id == plan.candidate_id
            ),
            None,
        )
        self._s.plans[self._s.new_id("plans") if key is None else key] = plan

    # -- guard -----------------------------------------------------------------------------

    def guard(self) -> GuardState:
        return self._s.guard

    def lock_guard(self, reason: str, now: datetime) -> GuardState:
        self._s.guard = GuardState(locked=True, reason=reason, changed_at=now)
        return self._s.guard

    def unlock_guard(self, now: datetime) -> GuardState:
        self._s.guard = GuardState(locked=False, reason=None, changed_at=now)
        return self._s.guard

    # -- broker session --------------------------------------------------------------------

    def record_session(self, record: SessionRecord) -> None:
        self._s.session = record

    def last_session(self) -> SessionRecord | None:
        return self._s.session

    # -- operator control ------------------------------------------------------------------

    def record_control(self, record: ControlRecord) -> ControlRecord:
        saved = replace(record, id=self._s.new_id("control_actions"))
        self._s.controls.append(saved)
        return saved

    def control_actions(self, limit: int = 100) -> list[ControlRecord]:
        return list(self._s.controls[-limit:]) if limit > 0 else []

    def paused_tickers(self) -> list[TickerPause]:
        return [self._s.pauses[t] for t in sorted(self._s.pauses)]

    def pause_ticker(self, pause: TickerPause) -> TickerPause:
        return self._s.pauses.setdefault(pause.ticker, pause)

    def resume_ticker(self, ticker: str) -> TickerPause | None:
        return self._s.pauses.pop(ticker, None)

    def flatten_requests(self) -> list[FlattenRequest]:
        return [self._s.flattens[k] for k in sorted(self._s.flattens)]

    def request_flatten(self, request: FlattenRequest) -> FlattenRequest:
        return self._s.flattens.setdefault(request.position_id, request)

    # -- alerts and prices -----------------------------------------------------------------

    def alert(self, alert: Alert, dedup_key: str | None = None) -> bool:
        if dedup_key is not None and any(k == dedup_key for _, k in self._s.alerts):
            return False
        self._s.alerts.append((alert, dedup_key))
        return True

    def closes(self, ticker: str, start: date, end: date) -> list[tuple[date, Decimal]]:
        return [(b.day, b.close) for b in self.daily_bars(ticker, start, end)]

    def daily_bars(self, ticker: str, start: date, end: date) -> list[Bar]:
        return [
            self._s.bars[k] for k in sorted(self._s.bars) if k[0] == ticker and start <= k[1] <= end
        ]

    def save_bars(self, bars: Sequence[Bar]) -> int:
        for bar in bars:
            self._s.bars[(bar.symbol, bar.day)] = replace(bar, at=None)
        return len(bars)

    def record_quotes(self, day: date, quotes: Sequence[Quote], kind: str = "poll") -> int:
        new = {(q.symbol, q.at, kind) for q in quotes} - self._s.tape.keys()
        self._s.tape.update({(q.symbol, q.at, kind): q for q in quotes})
        return len(new)

    def record_bars(self, bars: Sequence[Bar], conid: int | None, source: str = "daemon") -> int:
        new = {(b.symbol, b.at) for b in bars} - self._s.recorded_bars.keys()
        self._s.recorded_bars.update({(b.symbol, b.at): b for b in bars})
        return len(new)

    def record_announcements(self, day: date, items: Sequence[Announcement]) -> int:
        new = [a for a in items if a not in self._s.announcements]
        self._s.announcements.extend(new)
        return len(new)
