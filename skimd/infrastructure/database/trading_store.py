"""The trading services' store (:mod:`skimd.services.ports.trading`) on the encrypted DB.

Each :meth:`SqlTradingStore.transaction` is one unit of work; rows are mapped to and from
the domain records here so no SQLModel object ever leaves this module. ``after_commit`` (the
outbox sender's ``wake``) runs only once a write transaction has committed, so an alert is
never announced for a change that rolled back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlmodel import col

from skimd.domain.alerts import Alert
from skimd.domain.broker_session import SessionRecord
from skimd.domain.control import ControlRecord, FlattenRequest, TickerPause
from skimd.domain.market import Announcement, Bar, Quote
from skimd.domain.trading import (
    CANDIDATE_MOVES,
    CandidateMove,
    CandidateRecord,
    CandidateState,
    GuardState,
    IntentPurpose,
    IntentRecord,
    IntentStatus,
    PlanRecord,
    PositionRecord,
    PositionStatus,
)
from skimd.errors import IntegrityError

from . import recordings
from .session import UnitOfWork
from .session_record import session_from_json, session_to_json
from .tables import Candidate, HistoricalPrice, OrderIntent, Position, TradePlan
from .tables import ControlAction as ControlRow
from .tables import FlattenRequest as FlattenRow
from .tables import TickerPause as PauseRow

_SESSION_KEY = "daemon.broker_session"
UnitOfWorkFactory = Callable[..., AbstractContextManager[UnitOfWork]]


class SqlTradingStore:
    """:class:`~skimd.services.ports.trading.TradingStore` over ``unit_of_work``."""

    def __init__(
        self, unit_of_work: UnitOfWorkFactory, after_commit: Callable[[], None] | None = None
    ) -> None:
        self._uow = unit_of_work
        self._after_commit = after_commit
        self._generation = 0

    @property
    def generation(self) -> int:
        return self._generation

    def _tx(self, uow: UnitOfWork) -> SqlTradingTx:
        return SqlTradingTx(uow)

    @contextmanager
    def transaction(self) -> Iterator[SqlTradingTx]:
        with self._uow() as uow:
            yield self._tx(uow)
        self._generation += 1
        if self._after_commit is not None:
            self._after_commit()

    @contextmanager
    def read(self) -> Iterator[SqlTradingTx]:
        with self._uow(read_only=True) as uow:
            yield self._tx(uow)


class SqlTradingTx:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._session = uow.session

    # -- candidates ------------------------------------------------------------------------

    def candidate(self, day: dt.date, ticker: str) -> CandidateRecord | None:
        row = self._uow.candidates.get_by_key(day, ticker, "orh_breakout")
        return None if row is None else _candidate(row)

    def candidate_by_id(self, candidate_id: int) -> CandidateRecord | None:
        row = self._session.get(Candidate, candidate_id)
        return None if row is None else _candidate(row)

    def candidates(
        self, day: dt.date, states: Iterable[CandidateState] | None = None
    ) -> list[CandidateRecord]:
        wanted = None if states is None else [s.value for s in states]
        return [_candidate(r) for r in self._uow.candidates.list_for_date(day, wanted)]

    def save_candidate(self, candidate: CandidateRecord, now: dt.datetime) -> CandidateRecord:
        row = Candidate(
            scan_date=candidate.scan_date,
            ticker=candidate.ticker,
            gap_pct=candidate.gap_pct,
            prev_close=candidate.prev_close,
            open_price=candidate.open_price,
            volume=candidate.volume,
            conid=candidate.conid,
            news_headline=candidate.news_headline,
            news_time=candidate.news_time,
            price_sensitive=candidate.price_sensitive,
            orh=candidate.orh,
            orl=candidate.orl,
            range_start_at=candidate.range_start_at,
            status=candidate.status.value,
            created_at=now,
            updated_at=now,
        )
        return _candidate(self._uow.candidates.upsert(row, now))

    def expire_candidates(self, before: dt.date, now: dt.datetime) -> int:
        """The candidates' ``day_ended`` move (:data:`CANDIDATE_MOVES`) as one statement."""
        move = CANDIDATE_MOVES[CandidateMove.DAY_ENDED]
        stmt = (
            update(Candidate)
            .where(
                col(Candidate.scan_date) < before,
                col(Candidate.status).in_(sorted(s.value for s in move.sources)),
            )
            .values(status=move.target.value, updated_at=now)
        )
        result = self._session.execute(stmt)
        return int(getattr(result, "rowcount", 0) or 0)

    def purge_candidates(self, today: dt.date, max_age_days: int) -> int:
        return self._uow.candidates.purge_older_than(today, max_age_days)

    # -- positions -------------------------------------------------------------------------

    def open_positions(self) -> list[PositionRecord]:
        return [_position(r) for r in self._uow.positions.list_open()]

    def position(self, position_id: int) -> PositionRecord | None:
        row = self._session.get(Position, position_id)
        return None if row is None else _position(row)

    def open_position_for(self, ticker: str) -> PositionRecord | None:
        row = self._uow.positions.get_open_by_ticker(ticker)
        return None if row is None else _position(row)

    def save_position(self, position: PositionRecord) -> PositionRecord:
        row = (
            Position(
                ticker=position.ticker,
                qty=position.qty,
                avg_price=position.avg_price,
                entry_date=position.entry_date,
                opened_at=position.opened_at,
            )
            if position.id is None
            else self._session.get(Position, position.id)
        )
        if row is None:
            raise IntegrityError(f"position {position.id} does not exist")
        row.ticker = position.ticker
        row.conid = position.conid
        row.qty = position.qty
        row.avg_price = position.avg_price
        row.stop = position.stop
        row.opened_at = position.opened_at
        row.closed_at = position.closed_at
        row.status = position.status.value
        row.entry_date = position.entry_date
        row.partial_exit_done = position.partial_exit_done
        row.paused = position.paused
        row.candidate_id = position.candidate_id
        return _position(self._uow.positions.add(row))

    # -- intents ---------------------------------------------------------------------------

    def intent(self, client_order_id: str) -> IntentRecord | None:
        row = self._uow.orders.get_by_client_order_id(client_order_id)
        return None if row is None else _intent(row)

    def add_intent(self, intent: IntentRecord) -> IntentRecord:
        if self._uow.orders.get_by_client_order_id(intent.client_order_id) is not None:
            raise IntegrityError(f"order intent {intent.client_order_id} already exists")
        row = OrderIntent(
            client_order_id=intent.client_order_id,
            ticker=intent.ticker,
            conid=intent.conid,
            side=intent.side,
            qty=intent.qty,
            order_type=intent.order_type,
            limit_price=intent.limit_price,
            stop_price=intent.stop_price,
            tif=intent.tif,
            status=intent.status.value,
            broker_order_id=intent.broker_order_id,
            filled_qty=intent.filled_qty,
            avg_fill_price=intent.avg_fill_price,
            reason=intent.reason,
            purpose=intent.purpose.value,
            created_at=intent.created_at,
            updated_at=intent.created_at,
            candidate_id=intent.candidate_id,
            position_id=intent.position_id,
        )
        return _intent(self._uow.orders.add(row))

    def save_intent(self, intent: IntentRecord, now: dt.datetime) -> IntentRecord:
        row = self._uow.orders.update_status(
            intent.client_order_id,
            intent.status.value,
            now,
            broker_order_id=intent.broker_order_id,
            reason=intent.reason,
            filled_qty=intent.filled_qty,
            avg_fill_price=intent.avg_fill_price,
        )
        row.position_id = intent.position_id
        return _intent(self._uow.orders.add(row))

    def open_intents(self) -> list[IntentRecord]:
        return [_intent(r) for r in self._uow.orders.list_open()]

    def intents_between(self, start: dt.datetime, end: dt.datetime) -> list[IntentRecord]:
        return [_intent(r) for r in self._uow.orders.list_created_between(start, end)]

    def intents_updated_between(self, start: dt.datetime, end: dt.datetime) -> list[IntentRecord]:
        return self._intents(
            (col(OrderIntent.updated_at) >= start, col(OrderIntent.updated_at) < end),
            col(OrderIntent.updated_at),
        )

    def intents_for_position(self, position_id: int) -> list[IntentRecord]:
        return self._intents((col(OrderIntent.position_id) == position_id,))

    def intents_for_candidate(self, candidate_id: int) -> list[IntentRecord]:
        return self._intents((col(OrderIntent.candidate_id) == candidate_id,))

    def _intents(self, where: tuple[Any, ...], order: Any = None) -> list[IntentRecord]:
        """Intents matching ``where``, in ``order`` (default: creation) then id order."""
        first = col(OrderIntent.created_at) if order is None else order
        stmt = select(OrderIntent).where(*where).order_by(first, col(OrderIntent.id))
        return [_intent(r) for r in self._session.scalars(stmt).all()]

    def save_plan(self, plan: PlanRecord, at: dt.datetime) -> None:
        row = None
        if plan.candidate_id is not None:
            row = self._session.scalars(
                select(TradePlan).where(col(TradePlan.candidate_id) == plan.candidate_id)
            ).first()
        if row is None:
            row = TradePlan(
                ticker=plan.ticker, entry=plan.entry, stop=plan.stop, created_at=at, updated_at=at
            )
        trade_id = None
        if plan.entry_exec_id is not None:
            trade = self._uow.trades.get_by_exec_id(plan.entry_exec_id)
            trade_id = None if trade is None else trade.id
        row.ticker = plan.ticker
        row.entry = plan.entry
        row.stop = plan.stop
        row.target = plan.target
        row.qty = plan.qty
        row.status = plan.status
        row.notes = plan.notes
        row.candidate_id = plan.candidate_id
        row.trade_id = trade_id
        row.updated_at = at
        self._uow.plans.add(row)

    # -- guard -----------------------------------------------------------------------------

    def guard(self) -> GuardState:
        row = self._uow.guard.current()
        return GuardState(locked=row.locked, reason=row.reason, changed_at=row.changed_at)

    def lock_guard(self, reason: str, now: dt.datetime) -> GuardState:
        self._uow.guard.lock(reason, now)
        return self.guard()

    def unlock_guard(self, now: dt.datetime) -> GuardState:
        self._uow.guard.unlock(now)
        return self.guard()

    # -- broker session --------------------------------------------------------------------

    def record_session(self, record: SessionRecord) -> None:
        self._uow.settings.set_user(_SESSION_KEY, session_to_json(record), record.at)

    def last_session(self) -> SessionRecord | None:
        return session_from_json(self._uow.settings.resolve(_SESSION_KEY))

    # -- operator control ------------------------------------------------------------------

    def record_control(self, record: ControlRecord) -> ControlRecord:
        row = ControlRow(
            at=record.at,
            uid=record.uid,
            name=record.name,
            action=record.action,
            detail=record.detail,
        )
        self._session.add(row)
        self._session.flush()
        return _control(row)

    def control_actions(self, limit: int = 100) -> list[ControlRecord]:
        stmt = select(ControlRow).order_by(col(ControlRow.id).desc()).limit(limit)
        return [_control(r) for r in reversed(self._session.scalars(stmt).all())]

    def paused_tickers(self) -> list[TickerPause]:
        stmt = select(PauseRow).order_by(col(PauseRow.ticker))
        return [_pause(r) for r in self._session.scalars(stmt).all()]

    def pause_ticker(self, pause: TickerPause) -> TickerPause:
        row = self._session.get(PauseRow, pause.ticker)
        if row is None:
            row = PauseRow(
                ticker=pause.ticker,
                at=pause.at,
                uid=pause.uid,
                name=pause.name,
                reason=pause.reason,
            )
            self._session.add(row)
            self._session.flush()
        return _pause(row)

    def resume_ticker(self, ticker: str) -> TickerPause | None:
        row = self._session.get(PauseRow, ticker)
        if row is None:
            return None
        lifted = _pause(row)
        self._session.delete(row)
        self._session.flush()
        return lifted

    def flatten_requests(self) -> list[FlattenRequest]:
        stmt = select(FlattenRow).order_by(col(FlattenRow.position_id))
        return [_flatten(r) for r in self._session.scalars(stmt).all()]

    def request_flatten(self, request: FlattenRequest) -> FlattenRequest:
        row = self._session.get(FlattenRow, request.position_id)
        if row is None:
            row = FlattenRow(
                position_id=request.position_id,
                ticker=request.ticker,
                at=request.at,
                uid=request.uid,
                name=request.name,
                reason=request.reason,
            )
            self._session.add(row)
            self._session.flush()
        return _flatten(row)

    # -- alerts and prices -----------------------------------------------------------------

    def alert(self, alert: Alert, dedup_key: str | None = None) -> bool:
        return self._uow.outbox.queue(alert, dedup_key=dedup_key) is not None

    def closes(self, ticker: str, start: dt.date, end: dt.date) -> list[tuple[dt.date, Decimal]]:
        return self._uow.prices.closes(ticker, start, end)

    def daily_bars(self, ticker: str, start: dt.date, end: dt.date) -> list[Bar]:
        return [
            Bar(
                symbol=r.ticker,
                day=r.date,
                open=r.open,
                high=r.high,
                low=r.low,
                close=r.close,
                volume=r.volume,
            )
            for r in self._uow.prices.bars(ticker, start, end)
        ]

    def record_quotes(self, day: dt.date, quotes: Sequence[Quote], kind: str = "poll") -> int:
        return recordings.record_quotes(self._session, day, quotes, kind)

    def record_bars(self, bars: Sequence[Bar], conid: int | None, source: str = "daemon") -> int:
        return recordings.record_bars(self._session, bars, conid, source)

    def record_announcements(self, day: dt.date, items: Sequence[Announcement]) -> int:
        return recordings.record_announcements(self._session, day, items)

    def save_bars(self, bars: Sequence[Bar]) -> int:
        return self._uow.prices.upsert_bars(
            HistoricalPrice(
                ticker=b.symbol,
                date=b.day,
                open=b.open,
                high=b.high,
                low=b.low,
                close=b.close,
                volume=b.volume,
            )
            for b in bars
        )


def _candidate(row: Candidate) -> CandidateRecord:
    return CandidateRecord(
        id=row.id,
        scan_date=row.scan_date,
        ticker=row.ticker,
        status=CandidateState(row.status) if row.status != "new" else CandidateState.RANGING,
        conid=row.conid,
        gap_pct=row.gap_pct,
        prev_close=row.prev_close,
        open_price=row.open_price,
        volume=row.volume,
        news_headline=row.news_headline,
        news_time=row.news_time,
        price_sensitive=row.price_sensitive,
        orh=row.orh,
        orl=row.orl,
        range_start_at=row.range_start_at,
    )


def _position(row: Position) -> PositionRecord:
    assert row.id is not None
    return PositionRecord(
        id=row.id,
        ticker=row.ticker,
        conid=row.conid,
        qty=row.qty,
        avg_price=row.avg_price,
        stop=row.stop,
        opened_at=row.opened_at,
        closed_at=row.closed_at,
        status=PositionStatus(row.status),
        entry_date=row.entry_date,
        partial_exit_done=row.partial_exit_done,
        paused=row.paused,
        candidate_id=row.candidate_id,
    )


def _intent(row: OrderIntent) -> IntentRecord:
    return IntentRecord(
        client_order_id=row.client_order_id,
        ticker=row.ticker,
        conid=row.conid or 0,
        side=row.side,
        qty=row.qty,
        order_type=row.order_type,
        purpose=IntentPurpose(row.purpose),
        created_at=row.created_at,
        status=IntentStatus(row.status),
        limit_price=row.limit_price,
        stop_price=row.stop_price,
        tif=row.tif,
        broker_order_id=row.broker_order_id,
        filled_qty=row.filled_qty,
        avg_fill_price=row.avg_fill_price,
        reason=row.reason,
        candidate_id=row.candidate_id,
        position_id=row.position_id,
        updated_at=row.updated_at,
    )


def _control(row: ControlRow) -> ControlRecord:
    return ControlRecord(
        id=row.id, at=row.at, uid=row.uid, name=row.name, action=row.action, detail=row.detail
    )


def _pause(row: PauseRow) -> TickerPause:
    return TickerPause(
        ticker=row.ticker, at=row.at, uid=row.uid, name=row.name, reason=row.reason
    )


def _flatten(row: FlattenRow) -> FlattenRequest:
    return FlattenRequest(
        position_id=row.position_id,
        ticker=row.ticker,
        at=row.at,
        uid=row.uid,
        name=row.name,
        reason=row.reason,
    )
