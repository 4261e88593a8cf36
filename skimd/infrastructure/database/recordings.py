"""Recorded market rows (:mod:`.tables.recorded`) to and from domain values: written by the
trading store in the daemon's units of work and by ``skimd data import``, read by the
recorded market (:class:`~skimd.infrastructure.brokers.demo.recorded.RecordedMarket`).

Writes never update: a row already kept (same unique key) stays as it was, so recording a
day twice, or importing a file twice, adds nothing (``INSERT OR IGNORE``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.orm import Session
from sqlmodel import col

from skimd.domain.market import Announcement, Bar, Quote

from .tables import HistoricalPrice, RecordedAnnouncement, RecordedBar, RecordedQuote


def _insert_new(session: Session, table: Any, rows: list[dict[str, Any]]) -> int:
    """Insert ``rows``, skipping any whose unique key is kept already (the column types
    encode money and times as the tables store them); returns how many were given."""
    if rows:
        session.execute(insert(table).on_conflict_do_nothing(), rows)
    return len(rows)


def record_quotes(session: Session, day: dt.date, quotes: Sequence[Quote], kind: str) -> int:
    rows = [
        {
            "day": day,
            "symbol": q.symbol,
            "conid": q.conid,
            "at": q.at,
            "kind": kind,
            "last": q.last,
            "bid": q.bid,
            "ask": q.ask,
            "open": q.open,
            "high": q.high,
            "low": q.low,
            "prev_close": q.prev_close,
            "volume": q.volume,
        }
        for q in quotes
        if q.has_data
    ]
    return _insert_new(session, RecordedQuote, rows)


def record_bars(session: Session, bars: Sequence[Bar], conid: int | None, source: str) -> int:
    rows = [
        {
            "day": b.day,
            "symbol": b.symbol,
            "conid": conid,
            "minutes": 1,
            "at": b.at,
            "open": b.open,
            "high": b.high,
            "low": b.low,
            "close": b.close,
            "volume": b.volume,
            "source": source,
        }
        for b in bars
        if b.at is not None
    ]
    return _insert_new(session, RecordedBar, rows)


def record_daily_bars(session: Session, bars: Sequence[Bar]) -> int:
    rows = [
        {
            "ticker": b.symbol,
            "date": b.day,
            "open": b.open,
            "high": b.high,
            "low": b.low,
            "close": b.close,
            "volume": b.volume,
        }
        for b in bars
    ]
    return _insert_new(session, HistoricalPrice, rows)


def record_announcements(session: Session, day: dt.date, items: Sequence[Announcement]) -> int:
    rows = [
        {
            "day": day,
            "symbol": a.symbol,
            "headline": a.headline,
            "released_at": a.released_at,
            "price_sensitive": a.price_sensitive,
            "document_id": a.document_id,
            "pages": a.pages,
        }
        for a in items
    ]
    return _insert_new(session, RecordedAnnouncement, rows)


def recorded_days(session: Session) -> list[dt.date]:
    """Days with a tape or one-minute bars, oldest first."""
    days = set(session.scalars(select(col(RecordedQuote.day)).distinct()))
    days |= set(session.scalars(select(col(RecordedBar.day)).distinct()))
    return sorted(days)


def load_quotes(session: Session, day: dt.date) -> list[tuple[str, Quote]]:
    """The tape of ``day`` as ``(kind, quote)``, in time order (polls before scans at the
    same instant)."""
    stmt = (
        select(RecordedQuote)
        .where(col(RecordedQuote.day) == day)
        .order_by(col(RecordedQuote.at), col(RecordedQuote.kind), col(RecordedQuote.symbol))
    )
    return [
        (
            r.kind,
            Quote(
                conid=r.conid,
                symbol=r.symbol,
                at=r.at,
                last=r.last,
                bid=r.bid,
                ask=r.ask,
                open=r.open,
                high=r.high,
                low=r.low,
                prev_close=r.prev_close,
                volume=r.volume,
            ),
        )
        for r in session.scalars(stmt)
    ]


def load_bars(session: Session, day: dt.date) -> list[tuple[int | None, Bar]]:
    """One-minute bars of ``day`` as ``(conid, bar)``, by symbol then time."""
    stmt = (
        select(RecordedBar)
        .where(col(RecordedBar.day) == day, col(RecordedBar.minutes) == 1)
        .order_by(col(RecordedBar.symbol), col(RecordedBar.at))
    )
    return [
        (
            r.conid,
            Bar(
                symbol=r.symbol,
                day=r.day,
                open=r.open,
                high=r.high,
                low=r.low,
                close=r.close,
                volume=r.volume,
                at=r.at,
            ),
        )
        for r in session.scalars(stmt)
    ]


def load_daily_bars(session: Session, symbol: str, before: dt.date, days: int) -> list[Bar]:
    """Up to ``days`` daily bars of ``symbol`` up to and including ``before``, oldest
    first."""
    stmt = (
        select(HistoricalPrice)
        .where(col(HistoricalPrice.ticker) == symbol, col(HistoricalPrice.date) <= before)
        .order_by(col(HistoricalPrice.date).desc())
        .limit(days)
    )
    rows = list(session.scalars(stmt))
    return [
        Bar(symbol=r.ticker, day=r.date, open=r.open, high=r.high, low=r.low, close=r.close,
            volume=r.volume)
        for r in reversed(rows)
    ]


def load_announcements(session: Session, day: dt.date) -> list[Announcement]:
    stmt = (
        select(RecordedAnnouncement)
        .where(col(RecordedAnnouncement.day) == day)
        .order_by(col(RecordedAnnouncement.released_at), col(RecordedAnnouncement.id))
    )
    return [
        Announcement(
            symbol=r.symbol,
            headline=r.headline,
            released_at=r.released_at,
            price_sensitive=r.price_sensitive,
            document_id=r.document_id,
            pages=r.pages,
        )
        for r in session.scalars(stmt)
    ]


def listings(session: Session) -> list[tuple[str, int | None]]:
    """Every recorded symbol with its conid (the tape's, else an imported bar's, if any):
    the tape's, the bars', and the announcements' (a ticker in the news that was never
    polled is still a listed ticker the daemon resolves)."""
    found: dict[str, int | None] = {}
    for (symbol,) in session.execute(select(col(RecordedAnnouncement.symbol)).distinct()):
        found[symbol] = None
    for symbol, conid in session.execute(
        select(col(RecordedBar.symbol), col(RecordedBar.conid)).distinct()
    ):
        found[symbol] = found.get(symbol) or conid
    for symbol, conid in session.execute(
        select(col(RecordedQuote.symbol), col(RecordedQuote.conid)).distinct()
    ):
        found[symbol] = conid
    return sorted(found.items())


class SqlRecordings:
    """:class:`~skimd.infrastructure.brokers.demo.recorded.Recordings` over a trading
    database: each question is one read-only unit of work."""

    def __init__(
        self,
        unit_of_work: Callable[..., AbstractContextManager[Any]],
        close: Callable[[], None] = lambda: None,
    ) -> None:
        self._uow = unit_of_work
        self._close = close

    def close(self) -> None:
        self._close()

    def _read(self) -> AbstractContextManager[Any]:
        return self._uow(read_only=True)

    def listings(self) -> list[tuple[str, int | None]]:
        with self._read() as uow:
            return listings(uow.session)

    def quotes(self, day: dt.date) -> list[tuple[str, Quote]]:
        with self._read() as uow:
            return load_quotes(uow.session, day)

    def bars(self, day: dt.date) -> list[Bar]:
        with self._read() as uow:
            return [bar for _, bar in load_bars(uow.session, day)]

    def announcements(self, day: dt.date) -> list[Announcement]:
        with self._read() as uow:
            return load_announcements(uow.session, day)

    def daily_bars(self, symbol: str, until: dt.date, days: int) -> list[Bar]:
        with self._read() as uow:
            return load_daily_bars(uow.session, symbol, until, days)
