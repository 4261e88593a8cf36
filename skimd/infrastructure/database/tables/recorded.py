"""Tables of recorded market days (revision 0007): what the daemon saw, kept so a backtest
can replay real days (:class:`~skimd.infrastructure.brokers.demo.recorded.RecordedMarket`).

- ``recorded_quotes``: the tape, every quote the daemon polled for a candidate or a held
  ticker, and each gap the scanner reported (``kind`` "poll" or "scan"), at the instant it
  was taken;
- ``recorded_bars``: one-minute bars (those the end of day fetches for excursions, or
  imported from a CSV file by ``skimd data import``; ``source`` says which); daily bars
  stay in ``historical_prices``, where warm-up and end of day already keep them;
- ``recorded_announcements``: the announcements the news scan fetched.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from ._fields import money, utc


class RecordedQuote(SQLModel, table=True):
    """One quote of the tape, as the broker gave it."""

    __tablename__ = "recorded_quotes"
    __table_args__ = (UniqueConstraint("symbol", "at", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    day: dt.date = Field(index=True)
    symbol: str
    conid: int
    at: dt.datetime = utc()
    kind: str = "poll"  # poll | scan
    last: Decimal | None = money(default=None)
    bid: Decimal | None = money(default=None)
    ask: Decimal | None = money(default=None)
    open: Decimal | None = money(default=None)
    high: Decimal | None = money(default=None)
    low: Decimal | None = money(default=None)
    prev_close: Decimal | None = money(default=None)
    volume: int | None = None


class RecordedBar(SQLModel, table=True):
    """One intraday bar (``minutes`` long, starting ``at``) of ``symbol`` on ``day``."""

    __tablename__ = "recorded_bars"
    __table_args__ = (UniqueConstraint("symbol", "minutes", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    day: dt.date = Field(index=True)
    symbol: str
    conid: int | None = None
    minutes: int = 1
    at: dt.datetime = utc()
    open: Decimal = money()
    high: Decimal = money()
    low: Decimal = money()
    close: Decimal = money()
    volume: int = 0
    source: str = "daemon"  # daemon | import


class RecordedAnnouncement(SQLModel, table=True):
    """One company announcement as the news feed gave it."""

    __tablename__ = "recorded_announcements"
    __table_args__ = (UniqueConstraint("symbol", "document_id", "released_at"),)

    id: int | None = Field(default=None, primary_key=True)
    day: dt.date = Field(index=True)
    symbol: str
    headline: str
    released_at: dt.datetime = utc()
    price_sensitive: bool = False
    document_id: str | None = None
    pages: int | None = None
