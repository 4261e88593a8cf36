"""Candidates, positions and order intents."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal

from sqlalchemy import delete, select
from sqlmodel import col

from skimd.errors import IntegrityError

from ..tables import Candidate, OrderIntent, OrderStatus, Position, TradePlan
from ._base import Repository

_CANDIDATE_KEY_FIELDS = {"id", "scan_date", "ticker", "strategy", "created_at"}
_TERMINAL_ORDER_STATES = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED}
)


class CandidateRepository(Repository[Candidate]):
    model = Candidate

    def get_by_key(self, scan_date: dt.date, ticker: str, strategy: str) -> Candidate | None:
        stmt = select(Candidate).where(
            col(Candidate.scan_date) == scan_date,
            col(Candidate.ticker) == ticker,
            col(Candidate.strategy) == strategy,
        )
        return self._session.scalars(stmt).first()

    def upsert(self, candidate: Candidate, now: dt.datetime) -> Candidate:
        """Insert, or update the existing row with the same (scan_date, ticker, strategy).

        Every field except the key and ``created_at`` is taken from ``candidate``.
        """
        existing = self.get_by_key(candidate.scan_date, candidate.ticker, candidate.strategy)
        if existing is None:
            candidate.created_at = now
            candidate.updated_at = now
            return self.add(candidate)
        for name in Candidate.model_fields:
            if name not in _CANDIDATE_KEY_FIELDS:
                setattr(existing, name, getattr(candidate, name))
        existing.updated_at = now
        return self.add(existing)

    def list_for_date(
        self, scan_date: dt.date, statuses: Iterable[str] | None = None
    ) -> Sequence[Candidate]:
        stmt = select(Candidate).where(col(Candidate.scan_date) == scan_date)
        if statuses is not None:
            stmt = stmt.where(col(Candidate.status).in_(list(statuses)))
        return list(self._session.scalars(stmt.order_by(col(Candidate.id))).all())

    def list_by_status(self, statuses: Iterable[str]) -> Sequence[Candidate]:
        stmt = select(Candidate).where(col(Candidate.status).in_(list(statuses)))
        return list(self._session.scalars(stmt.order_by(col(Candidate.id))).all())

    def set_status(self, candidate_id: int, status: str, now: dt.datetime) -> Candidate:
        candidate = self._session.get(Candidate, candidate_id)
        if candidate is None:
            raise IntegrityError(f"candidate {candidate_id} does not exist")
        candidate.status = status
        candidate.updated_at = now
        return self.add(candidate)

    def purge_older_than(self, today: dt.date, days: int) -> int:
        """Delete candidates scanned more than ``days`` before ``today``; returns the count.

        A candidate linked to an open position or a draft/active plan is kept, whatever
        its age: the daemon still manages it.
        """
        cutoff = today - dt.timedelta(days=days)
        open_positions = select(col(Position.candidate_id)).where(
            col(Position.status) == "open", col(Position.candidate_id).is_not(None)
        )
        live_plans = select(col(TradePlan.candidate_id)).where(
            col(TradePlan.status).in_(["draft", "active"]),
            col(TradePlan.candidate_id).is_not(None),
        )
        stmt = delete(Candidate).where(
            col(Candidate.scan_date) < cutoff,
            col(Candidate.id).not_in(open_positions),
            col(Candidate.id).not_in(live_plans),
        )
        result = self._session.execute(stmt)
        return int(getattr(result, "rowcount", 0) or 0)


class PositionRepository(Repository[Position]):
    model = Position

    def list_open(self) -> Sequence[Position]:
        stmt = select(Position).where(col(Position.status) == "open").order_by(col(Position.id))
        return list(self._session.scalars(stmt).all())

    def get_open_by_ticker(self, ticker: str) -> Position | None:
        stmt = select(Position).where(
            col(Position.ticker) == ticker, col(Position.status) == "open"
        )
        return self._session.scalars(stmt).first()

    def close(self, position_id: int, now: dt.datetime) -> Position:
        position = self._session.get(Position, position_id)
        if position is None:
            raise IntegrityError(f"position {position_id} does not exist")
        position.status = "closed"
        position.closed_at = now
        return self.add(position)


class OrderIntentRepository(Repository[OrderIntent]):
    model = OrderIntent

    def get_by_client_order_id(self, client_order_id: str) -> OrderIntent | None:
        stmt = select(OrderIntent).where(col(OrderIntent.client_order_id) == client_order_id)
        return self._session.scalars(stmt).first()

    def list_by_status(self, statuses: Iterable[str]) -> Sequence[OrderIntent]:
        stmt = (
            select(OrderIntent)
            .where(col(OrderIntent.status).in_(list(statuses)))
            .order_by(col(OrderIntent.created_at), col(OrderIntent.id))
        )
        return list(self._session.scalars(stmt).all())

    def list_open(self) -> Sequence[OrderIntent]:
        """Intents the broker may still act on: reconcile these on startup."""
        return self.list_by_status(OrderStatus.OPEN)

    def list_created_between(self, start: dt.datetime, end: dt.datetime) -> Sequence[OrderIntent]:
        """Intents with ``start <= created_at < end`` (e.g. one Sydney trading day)."""
        stmt = (
            select(OrderIntent)
            .where(col(OrderIntent.created_at) >= start, col(OrderIntent.created_at) < end)
            .order_by(col(OrderIntent.created_at), col(OrderIntent.id))
        )
        return list(self._session.scalars(stmt).all())

    def update_status(
        self,
        client_order_id: str,
        status: str,
        now: dt.datetime,
        *,
        broker_order_id: str | None = None,
        reason: str | None = None,
        filled_qty: int | None = None,
        avg_fill_price: Decimal | None = None,
    ) -> OrderIntent:
        """Move an intent to ``status``. A filled, cancelled or rejected intent is final:
        changing it to another status raises IntegrityError (repeating it is a no-op)."""
        intent = self.get_by_client_order_id(client_order_id)
        if intent is None:
            raise IntegrityError(f"order intent {client_order_id} does not exist")
        if intent.status in _TERMINAL_ORDER_STATES and status != intent.status:
            raise IntegrityError(
                f"order intent {client_order_id} is {intent.status}; cannot become {status}"
            )
        intent.status = status
        intent.updated_at = now
        if status == OrderStatus.SUBMITTED and intent.submitted_at is None:
            intent.submitted_at = now
        if broker_order_id is not None:
            intent.broker_order_id = broker_order_id
        if reason is not None:
            intent.reason = reason
        if filled_qty is not None:
            intent.filled_qty = filled_qty
        if avg_fill_price is not None:
            intent.avg_fill_price = avg_fill_price
        return self.add(intent)
