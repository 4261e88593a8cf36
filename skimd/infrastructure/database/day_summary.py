"""One trading day's figures, read from the database (for ``skimd demo``'s closing lines
and its end-to-end tests): what was found, entered, exited and earned, and what the
journal and the alert outbox hold."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlmodel import SQLModel, col

from skimd.domain.calendar import day_bounds

from .factory import TradingDatabase
from .tables import (
    AlertOutbox,
    Candidate,
    ExcursionMetric,
    Image,
    LedgerEntry,
    MistakeEntry,
    OrderIntent,
    Position,
    RoundTrip,
    Trade,
    TradePlan,
    TradeReport,
)


@dataclass
class DaySummary:
    day: date
    candidates: int = 0
    tradeable: int = 0
    entries: int = 0
    exits: int = 0
    realised_pnl: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)
    open_positions: int = 0
    alerts: int = 0
    alerts_delivered: int = 0
    alerts_pending: int = 0
    duplicate_client_order_ids: int = 0
    journal_rows: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["day"] = self.day.isoformat()
        data["realised_pnl"] = str(self.realised_pnl)
        data["fees"] = str(self.fees)
        return data


def summarise_day(db: TradingDatabase, day: date, zone: ZoneInfo) -> DaySummary:
    start, end = day_bounds(day, zone)
    out = DaySummary(day=day)
    with db.unit_of_work(read_only=True) as uow:
        s = uow.session
        statuses = Counter(
            s.scalars(select(col(Candidate.status)).where(col(Candidate.scan_date) == day))
        )
        out.candidates = sum(statuses.values())
        out.tradeable = sum(
            n for status, n in statuses.items() if status not in ("ranging", "skipped")
        )
        intents = list(
            s.scalars(
                select(OrderIntent).where(
                    col(OrderIntent.created_at) >= start, col(OrderIntent.created_at) < end
                )
            )
        )
        out.entries = sum(1 for i in intents if i.purpose == "entry" and i.filled_qty > 0)
        out.exits = sum(1 for i in intents if i.purpose != "entry" and i.filled_qty > 0)
        coids = Counter(s.scalars(select(col(OrderIntent.client_order_id))))
        out.duplicate_client_order_ids = sum(n - 1 for n in coids.values() if n > 1)
        closed = list(
            s.scalars(
                select(RoundTrip).where(
                    col(RoundTrip.closed_at) >= start, col(RoundTrip.closed_at) < end
                )
            )
        )
        out.realised_pnl = sum((r.net_pnl or Decimal(0) for r in closed), Decimal(0))
        trades = list(
            s.scalars(
                select(Trade).where(col(Trade.executed_at) >= start, col(Trade.executed_at) < end)
            )
        )
        out.fees = sum((t.commission for t in trades), Decimal(0))
        out.open_positions = _count(s, Position, col(Position.status) == "open")
        outbox = Counter(s.scalars(select(col(AlertOutbox.status))))
        out.alerts = sum(outbox.values())
        out.alerts_delivered = outbox.get("delivered", 0)
        out.alerts_pending = outbox.get("pending", 0)
        for name, model in (
            ("trades", Trade),
            ("round_trips", RoundTrip),
            ("ledger", LedgerEntry),
            ("excursions", ExcursionMetric),
            ("plans", TradePlan),
            ("mistakes", MistakeEntry),
            ("reports", TradeReport),
            ("images", Image),
        ):
            out.journal_rows[name] = _count(s, model)
    return out


def _count(session: Any, model: type[SQLModel], *where: Any) -> int:
    stmt = select(func.count()).select_from(model)
    if where:
        stmt = stmt.where(*where)
    return int(session.scalar(stmt) or 0)
