"""The round-trip reads behind ``skimd web``'s journal pages: one page of a filtered list
and one round trip by id, filtered, counted and limited in SQL (a year of trades is
thousands of rows; a page shows a few hundred). Rows are
:class:`~skimd.infrastructure.database.report_store.RoundTripRow` dicts, as ``skimd
journal round-trips --json`` prints them. Read-only units of work: safe beside the daemon.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from .report_store import RoundTripRow
from .session import UnitOfWork
from .tables import RoundTrip, Trade

UnitOfWorkFactory = Callable[..., AbstractContextManager[UnitOfWork]]


class SqlTripReads:
    def __init__(self, unit_of_work: UnitOfWorkFactory) -> None:
        self._uow = unit_of_work

    def find(
        self,
        start: dt.datetime | None,
        end: dt.datetime | None,
        ticker: str | None,
        limit: int,
        offset: int = 0,
    ) -> tuple[list[dict[str, Any]], int]:
        """Round trips opened or closed in ``[start, end)`` (either bound optional) on
        ``ticker`` (any when None), the latest opened first: ``limit`` of them from
        ``offset``, and how many match in all."""
        where = _filters(start, end, ticker)
        with self._uow(read_only=True) as uow:
            counted = select(func.count(col(RoundTrip.id))).where(*where)
            total = int(uow.session.scalar(counted) or 0)
            stmt = (
                select(RoundTrip)
                .where(*where)
                .order_by(col(RoundTrip.opened_at).desc(), col(RoundTrip.id).desc())
                .limit(limit)
                .offset(offset)
            )
            trips = list(uow.session.scalars(stmt))
            counts = _trade_counts(uow, [t.id for t in trips if t.id is not None])
            return [_row(t, counts.get(t.id or 0, 0)) for t in trips], total

    def get(self, trip_id: int) -> dict[str, Any] | None:
        with self._uow(read_only=True) as uow:
            trip = uow.session.get(RoundTrip, trip_id)
            if trip is None:
                return None
            return _row(trip, _trade_counts(uow, [trip_id]).get(trip_id, 0))


def _filters(
    start: dt.datetime | None, end: dt.datetime | None, ticker: str | None
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if ticker:
        where.append(col(RoundTrip.ticker) == ticker)
    if start is not None or end is not None:
        def within(column: Any) -> ColumnElement[bool]:
            bounds = []
            if start is not None:
                bounds.append(column >= start)
            if end is not None:
                bounds.append(column < end)
            return and_(*bounds)

        where.append(or_(within(col(RoundTrip.opened_at)), within(col(RoundTrip.closed_at))))
    return where


def _trade_counts(uow: UnitOfWork, ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    stmt = (
        select(col(Trade.round_trip_id), func.count())
        .where(col(Trade.round_trip_id).in_(ids))
        .group_by(col(Trade.round_trip_id))
    )
    return {int(i): int(n) for i, n in uow.session.execute(stmt)}


def _row(rt: RoundTrip, trades: int) -> dict[str, Any]:
    return RoundTripRow.of(rt, trades).as_dict()
