"""Tables the trading daemon works on: candidates, positions, order intents, the alert
outbox, job runs and daily price history."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from ._fields import money, utc


class CandidateStatus:
    NEW = "new"
    RANGING = "ranging"
    TRADEABLE = "tradeable"
    ENTERED = "entered"
    CLOSED = "closed"
    EXPIRED = "expired"
    SKIPPED = "skipped"


class Candidate(SQLModel, table=True):
    """A gap (and/or news) candidate found by a scan; one per (scan_date, ticker, strategy)."""

    __tablename__ = "candidates"
    __table_args__ = (UniqueConstraint("scan_date", "ticker", "strategy"),)

    id: int | None = Field(default=None, primary_key=True)
    scan_date: dt.date = Field(index=True)
    ticker: str
    strategy: str = "orh_breakout"
    gap_pct: Decimal | None = money(default=None)
    prev_close: Decimal | None = money(default=None)
    open_price: Decimal | None = money(default=None)
    volume: int | None = None
    conid: int | None = None
    news_headline: str | None = None
    news_time: dt.datetime | None = utc(default=None)
    price_sensitive: bool = False
    orh: Decimal | None = money(default=None)
    orl: Decimal | None = money(default=None)
    range_start_at: dt.datetime | None = utc(default=None)  # first seen open (revision 0002)
    status: str = Field(default=CandidateStatus.NEW, index=True)
    created_at: dt.datetime = utc()
    updated_at: dt.datetime = utc()


class Position(SQLModel, table=True):
    __tablename__ = "positions"

    id: int | None = Field(default=None, primary_key=True)
    ticker: str = Field(index=True)
    conid: int | None = None
    qty: int
    avg_price: Decimal = money()
    stop: Decimal | None = money(default=None)
    opened_at: dt.datetime = utc()
    closed_at: dt.datetime | None = utc(default=None)
    status: str = Field(default="open", index=True)  # open | closed
    entry_date: dt.date
    partial_exit_done: bool = False
    paused: bool = False
    candidate_id: int | None = Field(default=None, foreign_key="candidates.id", ondelete="SET NULL")


class OrderStatus:
    PENDING = "pending"
    SUBMITTED = "submitted"
    FILLED = "filled"
    PARTIALLY_FILLED = "partially_filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    UNKNOWN = "unknown"

    OPEN = (PENDING, SUBMITTED, PARTIALLY_FILLED, UNKNOWN)


class OrderIntent(SQLModel, table=True):
    """What we meant to send, written before the broker POST; ``client_order_id`` (the
    broker's cOID) makes placement exactly-once across restarts."""

    __tablename__ = "order_intents"

    id: int | None = Field(default=None, primary_key=True)
    client_order_id: str = Field(unique=True)
    ticker: str = Field(index=True)
    conid: int | None = None
    side: str  # BUY | SELL
    qty: int
    order_type: str  # MKT | LMT | STP | STP_LMT
    limit_price: Decimal | None = money(default=None)
    stop_price: Decimal | None = money(default=None)
    tif: str = "DAY"
    status: str = Field(default=OrderStatus.PENDING, index=True)
    broker_order_id: str | None = Field(default=None, index=True)
    filled_qty: int = 0
    avg_fill_price: Decimal | None = money(default=None)
    reason: str | None = None
    purpose: str = "entry"  # entry | stop | stop_exit | partial | trail | flatten (0002)
    created_at: dt.datetime = utc(index=True)
    updated_at: dt.datetime = utc()
    submitted_at: dt.datetime | None = utc(default=None)
    candidate_id: int | None = Field(default=None, foreign_key="candidates.id", ondelete="SET NULL")
    position_id: int | None = Field(default=None, foreign_key="positions.id", ondelete="SET NULL")


class AlertOutbox(SQLModel, table=True):
    """Alerts are written in the same transaction as the change they report, then
    delivered by a worker; ``dedup_key`` stops the same alert being queued twice."""

    __tablename__ = "alert_outbox"
    __table_args__ = {"sqlite_autoincrement": True}  # ids never reused: delivery order

    id: int | None = Field(default=None, primary_key=True)
    created_at: dt.datetime = utc()
    kind: str
    severity: str = "info"  # info | warning | critical
    payload: str  # JSON text
    status: str = Field(default="pending", index=True)  # pending | delivered | failed
    attempts: int = 0
    next_attempt_at: dt.datetime | None = utc(default=None, index=True)
    delivered_at: dt.datetime | None = utc(default=None)
    last_error: str | None = None
    dedup_key: str | None = Field(default=None, unique=True)


class JobRun(SQLModel, table=True):
    __tablename__ = "job_runs"

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(index=True)
    started_at: dt.datetime = utc(index=True)
    finished_at: dt.datetime | None = utc(default=None)
    outcome: str | None = None  # ok | error | skipped | missed
    message: str | None = None


class HistoricalPrice(SQLModel, table=True):
    """One daily OHLCV bar."""

    __tablename__ = "historical_prices"
    __table_args__ = (UniqueConstraint("ticker", "date"),)

    id: int | None = Field(default=None, primary_key=True)
    ticker: str
    date: dt.date
    open: Decimal = money()
    high: Decimal = money()
    low: Decimal = money()
    close: Decimal = money()
    volume: int = 0
